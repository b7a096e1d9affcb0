package pagedcache

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzStoreBatch checks StoreBatch against a map model on a small pool of every
// order: a batch with any bad loc leaves the buffer untouched; a good one makes
// every loc read back its last row and leaves every other loc as it was.
func FuzzStoreBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, order uint8, locBytes, data []byte) {
		l, err := Custom(4, 3, 1, Order(order%4))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewCache(l, 5) // (5+4+1)/4 = 2 pages, locs [0, 8)
		if err != nil || c.Tokens() != 8 {
			t.Fatalf("cache: %v", err)
		}
		for i := range c.Data {
			c.Data[i] = byte(0xC0 + i)
		}
		before := bytes.Clone(c.Data)
		prior := make(map[int64][]byte)
		for loc := range int64(8) {
			prior[loc], _ = c.LoadRow(loc)
		}
		locs := make([]int64, len(locBytes))
		valid := true
		for i, b := range locBytes {
			locs[i] = int64(b%12) - 2 // [-2, 10): two bad values each side
			valid = valid && locs[i] >= 0 && locs[i] < 8
		}
		var payloads, scales []byte
		last := make(map[int64][]byte)
		for i, loc := range locs {
			row := make([]byte, 4)
			for k := range row {
				if len(data) > 0 {
					row[k] = data[(4*i+k)%len(data)] ^ byte(i)
				}
			}
			payloads = append(payloads, row[:3]...)
			scales = append(scales, row[3])
			last[loc] = row
		}
		err = c.StoreBatch(locs, payloads, scales)
		if !valid {
			if !errors.Is(err, ErrLoc) {
				t.Fatalf("bad locs %v: error %v", locs, err)
			}
			if !bytes.Equal(c.Data, before) {
				t.Fatalf("bad locs %v: the buffer changed", locs)
			}
			return
		}
		if err != nil {
			t.Fatalf("locs %v: %v", locs, err)
		}
		for loc := range int64(8) {
			want, ok := last[loc]
			if !ok {
				want = prior[loc]
			}
			got, err := c.LoadRow(loc)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%v loc %d: read %x, want %x (%v)", l, loc, got, want, err)
			}
		}
	})
}
