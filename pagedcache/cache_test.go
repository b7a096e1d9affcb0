package pagedcache

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func mustCache(t testing.TB, l Layout, size int) *Cache {
	t.Helper()
	c, err := NewCache(l, size)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCacheZeroFilled(t *testing.T) {
	c := mustCache(t, must(FP4(64)), 4096)
	if c.Pages != 65 || len(c.Data) != 65*4352 || c.Tokens() != 65*64 {
		t.Fatalf("NewCache(fp4, 4096): %d pages, %d bytes, %d tokens; want 65, %d, %d", c.Pages, len(c.Data), c.Tokens(), 65*4352, 65*64)
	}
	if !bytes.Equal(c.Data, make([]byte, len(c.Data))) {
		t.Error("new cache is not zero-filled")
	}
	c8 := mustCache(t, must(FP8(64)), 0)
	if c8.Pages != 1 || len(c8.Data) != 8448 {
		t.Errorf("NewCache(fp8, 0): %d pages, %d bytes", c8.Pages, len(c8.Data))
	}
	for _, n := range []int{1, 3} {
		c, err := NewCachePages(must(FP8(32)), n)
		if err != nil || c.Pages != n || len(c.Data) != n*4224 || !bytes.Equal(c.Data, make([]byte, n*4224)) {
			t.Errorf("NewCachePages(fp8 P=32, %d): %v", n, err)
		}
	}
	for _, n := range []int{0, -1} {
		if _, err := NewCachePages(must(FP4(64)), n); !errors.Is(err, ErrBufferSize) {
			t.Errorf("NewCachePages(%d): %v", n, err)
		}
	}
	if _, err := NewCache(must(FP4(64)), -1); !errors.Is(err, ErrLength) {
		t.Errorf("NewCache(-1): %v", err)
	}
	if _, err := NewCache(Layout{PageSize: 48, PayloadBytes: 64, ScaleBytes: 4}, 10); !errors.Is(err, ErrLayout) {
		t.Errorf("NewCache with P=48: %v", err)
	}
}

// specOffsets is SPEC §5 written directly, without Layout: the independent oracle
// for where Store puts a token of an FP4 or FP8 cache.
func specOffsets(payloadBytes, pageSize int, loc int64) (payload, scale int) {
	page, slot := int(loc)/pageSize, int(loc)%pageSize
	base := page * pageSize * (payloadBytes + 4)
	return base + payloadBytes*slot, base + payloadBytes*pageSize + 4*slot
}

// Store → Load is the identity at every loc of a pool, for random rows written in
// random order, and the whole buffer equals one built from SPEC §5 directly.
func TestRoundTripEveryLoc(t *testing.T) {
	for _, mk := range []func(int) (Layout, error){FP4, FP8} {
		for _, ps := range []int{64, 32, 1} {
			l := must(mk(ps))
			c := mustCache(t, l, 3000)
			rng := rand.New(rand.NewPCG(uint64(ps), uint64(l.PayloadBytes)))
			n := int(c.Tokens())
			rows := make([][]byte, n)
			want := make([]byte, len(c.Data))
			for _, i := range rng.Perm(n) {
				row := make([]byte, l.BytesPerToken())
				for k := range row {
					row[k] = byte(rng.Uint32())
				}
				rows[i] = row
				if err := c.Store(int64(i), row[:l.PayloadBytes], row[l.PayloadBytes:]); err != nil {
					t.Fatal(err)
				}
				po, so := specOffsets(l.PayloadBytes, ps, int64(i))
				copy(want[po:po+l.PayloadBytes], row[:l.PayloadBytes])
				copy(want[so:so+4], row[l.PayloadBytes:])
			}
			if !bytes.Equal(c.Data, want) {
				t.Errorf("%v: buffer differs from the SPEC §5 oracle", l)
			}
			for i := range n {
				p, s, err := c.Load(int64(i))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p, rows[i][:l.PayloadBytes]) || !bytes.Equal(s, rows[i][l.PayloadBytes:]) {
					t.Fatalf("%v loc %d: Load differs from Store", l, i)
				}
				r, err := c.LoadRow(int64(i))
				if err != nil || !bytes.Equal(r, rows[i]) {
					t.Fatalf("%v loc %d: LoadRow differs: %v", l, i, err)
				}
			}
		}
	}
}

// The same for the custom orders; the oracle is Load after a store in random order
// into a buffer whose ranges partition each page (TestRangesPartitionPage).
func TestRoundTripCustom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, o := range []Order{PayloadsThenScales, ScalesThenPayloads, InterleavedPayloadScale, InterleavedScalePayload} {
		l := must(Custom(16, 32, 2, o))
		c := mustCache(t, l, 500)
		n := int(c.Tokens())
		rows := make([][]byte, n)
		locs := make([]int64, n)
		var payloads, scales []byte
		for k, i := range rng.Perm(n) {
			rows[i] = make([]byte, l.BytesPerToken())
			for j := range rows[i] {
				rows[i][j] = byte(rng.Uint32())
			}
			locs[k] = int64(i)
			payloads = append(payloads, rows[i][:32]...)
			scales = append(scales, rows[i][32:]...)
		}
		if err := c.StoreBatch(locs, payloads, scales); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			r, err := c.LoadRow(int64(i))
			if err != nil || !bytes.Equal(r, rows[i]) {
				t.Fatalf("%v loc %d: round trip failed: %v", l, i, err)
			}
		}
	}
}

func TestStoreRowAndBatchAgree(t *testing.T) {
	l := must(FP4(64))
	a, b := mustCache(t, l, 200), mustCache(t, l, 200)
	locs := []int64{5, 64, 65, 200, 0, 7}
	var payloads, scales []byte
	for i, loc := range locs {
		row := bytes.Repeat([]byte{byte(i + 1)}, 68)
		row[64] = 0x7f
		if err := a.StoreRow(loc, row); err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, row[:64]...)
		scales = append(scales, row[64:]...)
	}
	if err := b.StoreBatch(locs, payloads, scales); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Data, b.Data) {
		t.Error("StoreRow and StoreBatch wrote different buffers")
	}
}

// Repeated locs in a batch: the last one wins (index order).
func TestStoreBatchRepeatedLoc(t *testing.T) {
	c := mustCache(t, must(FP4(64)), 64)
	p := append(bytes.Repeat([]byte{1}, 64), bytes.Repeat([]byte{2}, 64)...)
	s := []byte{1, 1, 1, 1, 2, 2, 2, 2}
	if err := c.StoreBatch([]int64{0, 0}, p, s); err != nil {
		t.Fatal(err)
	}
	gp, gs, _ := c.Load(0)
	if !bytes.Equal(gp, p[64:]) || !bytes.Equal(gs, s[4:]) {
		t.Errorf("repeated loc: got %x %x", gp[:4], gs)
	}
}

func TestStoreErrorsWriteNothing(t *testing.T) {
	l := must(FP4(64))
	c := mustCache(t, l, 100) // (100+65)/64 = 2 pages, locs [0, 128)
	if c.Pages != 2 {
		t.Fatalf("pages = %d", c.Pages)
	}
	fill := func() {
		for i := range c.Data {
			c.Data[i] = byte(i * 7)
		}
	}
	fill()
	before := bytes.Clone(c.Data)
	good := bytes.Repeat([]byte{0xAB}, 64)
	sc := []byte{1, 2, 3, 4}
	check := func(name string, err, target error, mustSay ...string) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: error %v, want %v", name, err, target)
			return
		}
		for _, s := range mustSay {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: message %q does not contain %q", name, err, s)
			}
		}
		if !bytes.Equal(c.Data, before) {
			t.Errorf("%s: the buffer changed", name)
			fill()
		}
	}
	check("loc -1", c.Store(-1, good, sc), ErrLoc, "-1", "[0, 128)")
	check("loc 128", c.Store(128, good, sc), ErrLoc, "128", "[0, 128)", "2 pages")
	check("payload 63", c.Store(5, good[:63], sc), ErrLength, "63", "64")
	check("payload 65", c.Store(5, append(good, 0), sc), ErrLength, "65")
	check("scale 3", c.Store(5, good, sc[:3]), ErrLength, "3", "4")
	check("row 67", c.StoreRow(5, make([]byte, 67)), ErrLength, "67", "68")
	locs := []int64{0, 1, 2, 128}
	check("batch bad last loc", c.StoreBatch(locs, bytes.Repeat(good, 4), bytes.Repeat(sc, 4)), ErrLoc, "locs[3]", "loc 128", "[0, 128)", "nothing was written")
	check("batch negative loc", c.StoreBatch([]int64{-5, 1}, bytes.Repeat(good, 2), bytes.Repeat(sc, 2)), ErrLoc, "-5")
	check("batch short payloads", c.StoreBatch(locs[:3], bytes.Repeat(good, 2), bytes.Repeat(sc, 3)), ErrLength, "128", "192")
	check("batch long scales", c.StoreBatch(locs[:3], bytes.Repeat(good, 3), bytes.Repeat(sc, 4)), ErrLength, "16", "12")
	if _, _, err := c.Load(128); !errors.Is(err, ErrLoc) {
		t.Errorf("Load(128): %v", err)
	}
	if _, _, err := c.View(-1); !errors.Is(err, ErrLoc) {
		t.Errorf("View(-1): %v", err)
	}
	if err := c.StoreBatch(nil, nil, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
}

func TestFromBytes(t *testing.T) {
	l := must(FP4(64))
	for _, n := range []int{0, 68, 4351, 4353, 8448 + 1} {
		_, err := FromBytes(l, make([]byte, n))
		if !errors.Is(err, ErrBufferSize) || !strings.Contains(err.Error(), strconv.Itoa(n)+" bytes") || !strings.Contains(err.Error(), "4352") {
			t.Errorf("FromBytes(%d bytes): %v", n, err)
		}
	}
	data := make([]byte, 3*4352)
	c, err := FromBytes(l, data)
	if err != nil || c.Pages != 3 {
		t.Fatalf("FromBytes(3 pages): %v %v", c, err)
	}
	if err := c.Store(65, bytes.Repeat([]byte{9}, 64), []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if data[4352+64] != 9 || data[4352+4100] != 1 || data[4352+4103] != 4 {
		t.Error("FromBytes does not alias the caller's buffer at the SPEC offsets")
	}
	if _, err := FromBytes(must(FP8(64)), make([]byte, 4352)); !errors.Is(err, ErrBufferSize) {
		t.Errorf("an FP4 page read as FP8: %v", err)
	}
}

func TestTokenViews(t *testing.T) {
	l := must(FP4(64))
	c := mustCache(t, l, 200)
	p, s := c.Token(1, 1)
	if len(p) != 64 || cap(p) != 64 || len(s) != 4 || cap(s) != 4 {
		t.Fatalf("Token views: len %d cap %d, len %d cap %d", len(p), cap(p), len(s), cap(s))
	}
	p[0], s[3] = 0x5A, 0x81
	if c.Data[4352+64] != 0x5A || c.Data[4352+4103] != 0x81 {
		t.Error("Token does not view the buffer at the SPEC offsets")
	}
	vp, vs, err := c.View(65)
	if err != nil || &vp[0] != &p[0] || &vs[0] != &s[0] {
		t.Errorf("View(65) is not Token(1, 1): %v", err)
	}
	for _, ps := range [][2]int{{-1, 0}, {0, -1}, {c.Pages, 0}, {0, 64}} {
		if p, s := c.Token(ps[0], ps[1]); p != nil || s != nil {
			t.Errorf("Token%v out of range gave views", ps)
		}
	}
	var nilCache *Cache
	if p, s := nilCache.Token(0, 0); p != nil || s != nil {
		t.Error("nil cache gave views")
	}
}

func TestPageAccess(t *testing.T) {
	l := must(FP8(64))
	c := mustCache(t, l, 100)
	pg, err := c.Page(1)
	if err != nil || len(pg) != 8448 || cap(pg) != 8448 || &pg[0] != &c.Data[8448] {
		t.Fatalf("Page(1): len %d, %v", len(pg), err)
	}
	pay, sc, err := c.PageRegions(1)
	if err != nil || len(pay) != 8192 || len(sc) != 256 || &pay[0] != &c.Data[8448] || &sc[0] != &c.Data[8448+8192] {
		t.Fatalf("PageRegions(1): %d %d %v", len(pay), len(sc), err)
	}
	for _, i := range []int{-1, 2} {
		if _, err := c.Page(i); !errors.Is(err, ErrLoc) || !strings.Contains(err.Error(), "[0, 2)") {
			t.Errorf("Page(%d): %v", i, err)
		}
	}
	ci := mustCache(t, must(Custom(64, 128, 4, InterleavedPayloadScale)), 10)
	if _, _, err := ci.PageRegions(0); !errors.Is(err, ErrLayout) {
		t.Errorf("interleaved PageRegions: %v", err)
	}
}

// A Cache assembled by hand with inconsistent fields gives errors, not panics.
func TestInconsistentCache(t *testing.T) {
	l := must(FP4(64))
	bad := []*Cache{
		nil,
		{Layout: l, Pages: 2, Data: make([]byte, 4352)},
		{Layout: l, Pages: 0, Data: nil},
		{Layout: Layout{PageSize: 3, PayloadBytes: 64, ScaleBytes: 4}, Pages: 1, Data: make([]byte, 204)},
	}
	for i, c := range bad {
		if err := c.Store(0, make([]byte, 64), make([]byte, 4)); err == nil {
			t.Errorf("cache %d: Store succeeded", i)
		}
		if _, _, err := c.Load(0); err == nil {
			t.Errorf("cache %d: Load succeeded", i)
		}
		if err := c.StoreBatch([]int64{0}, make([]byte, 64), make([]byte, 4)); err == nil {
			t.Errorf("cache %d: StoreBatch succeeded", i)
		}
		if p, _ := c.Token(0, 0); p != nil {
			t.Errorf("cache %d: Token gave a view", i)
		}
		if _, err := c.Page(0); err == nil {
			t.Errorf("cache %d: Page succeeded", i)
		}
	}
}
