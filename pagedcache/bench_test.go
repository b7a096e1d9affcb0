package pagedcache

import "testing"

func benchCache(b *testing.B) *Cache {
	c, err := NewCache(must(FP4(64)), 1<<16)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkStore(b *testing.B) {
	c := benchCache(b)
	p, s := make([]byte, 64), make([]byte, 4)
	n := c.Tokens()
	b.SetBytes(68)
	var loc int64
	for b.Loop() {
		if err := c.Store(loc, p, s); err != nil {
			b.Fatal(err)
		}
		loc = (loc + 97) % n
	}
}

func BenchmarkStoreBatch64(b *testing.B) {
	c := benchCache(b)
	locs := make([]int64, 64)
	for i := range locs {
		locs[i] = int64(i * 131)
	}
	p, s := make([]byte, 64*64), make([]byte, 64*4)
	b.SetBytes(64 * 68)
	for b.Loop() {
		if err := c.StoreBatch(locs, p, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	c := benchCache(b)
	n := c.Tokens()
	b.SetBytes(68)
	var loc int64
	for b.Loop() {
		if _, _, err := c.Load(loc); err != nil {
			b.Fatal(err)
		}
		loc = (loc + 97) % n
	}
}

// The scorer's access: every token of a page through Token views.
func BenchmarkTokenPage(b *testing.B) {
	c := benchCache(b)
	b.SetBytes(4352)
	var sink byte
	page := 0
	for b.Loop() {
		for s := range 64 {
			p, sc := c.Token(page, s)
			sink ^= p[0] ^ sc[0]
		}
		page = (page + 1) % c.Pages
	}
	_ = sink
}
