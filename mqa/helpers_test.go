package mqa

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// genSpec describes a random input for the tests and benchmarks.
type genSpec struct {
	f           Format
	b, nextN, h int
	d           int // head dim
	pageSize    int
	ctx         []int32 // [b·nextN]; nil: random in [0, maxCtx]
	maxCtx      int
	extraPages  int
	// scale bytes of the random codes (FP4), uniformly in [scaleLo, scaleHi]
	scaleLo, scaleHi int
}

// layoutFor is the cache layout of format f and head dim d.
func layoutFor(t testing.TB, f Format, d, pageSize int) pagedcache.Layout {
	t.Helper()
	payload := d
	if f == FP4 {
		payload = d / 2
	}
	l, err := pagedcache.Custom(pageSize, payload, 4, pagedcache.PayloadsThenScales)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// randomInput builds an Input with random codes, random scales, random weights
// and a block table over a random permutation of the pages (page 0 unused).
func randomInput(t testing.TB, rng *rand.Rand, s genSpec) *Input {
	t.Helper()
	rows := s.b * s.nextN
	ctx := s.ctx
	if ctx == nil {
		ctx = make([]int32, rows)
		for i := range ctx {
			ctx[i] = int32(rng.IntN(s.maxCtx + 1))
		}
	}
	p := s.pageSize
	maxBlocks := (s.maxCtx + p - 1) / p
	pages := 1 + s.b*maxBlocks + s.extraPages
	l := layoutFor(t, s.f, s.d, p)
	c, err := pagedcache.NewCache(l, pages*p-p-1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pages != pages {
		t.Fatalf("cache has %d pages, want %d", c.Pages, pages)
	}
	perm := rng.Perm(pages - 1)
	bt := make([]int32, s.b*maxBlocks)
	for i := range bt {
		bt[i] = int32(perm[i] + 1)
	}
	lo, hi := s.scaleLo, s.scaleHi
	if lo == 0 && hi == 0 {
		lo, hi = 120, 130
	}
	randScale := func() byte { return byte(lo + rng.IntN(hi-lo+1)) }
	// Fill every token of every page.
	for pg := 0; pg < pages; pg++ {
		for slot := 0; slot < p; slot++ {
			payload, scale := c.Token(pg, slot)
			for i := range payload {
				payload[i] = byte(rng.Uint32())
				if s.f == FP8 && payload[i]&0x7F == 0x7F {
					payload[i] &^= 1 // no NaN unless a test asks for it
				}
			}
			if s.f == FP4 {
				for g := range scale {
					scale[g] = randScale()
				}
			} else {
				binary.LittleEndian.PutUint32(scale, math.Float32bits(float32(rng.Float64()+0.01)))
			}
		}
	}
	in := &Input{B: s.b, NextN: s.nextN, H: s.h, Cache: c, ContextLens: ctx,
		BlockTable: bt, MaxBlocks: maxBlocks, MaxContextLen: s.maxCtx}
	heads := rows * s.h
	if s.f == FP4 {
		in.QFP4 = make([]byte, heads*s.d/2)
		for i := range in.QFP4 {
			in.QFP4[i] = byte(rng.Uint32())
		}
		in.QSF = make([]int32, heads)
		for i := range in.QSF {
			in.QSF[i] = int32(uint32(randScale()) | uint32(randScale())<<8 | uint32(randScale())<<16 | uint32(randScale())<<24)
		}
	} else {
		in.QFP8 = make([]fp8.E4M3, heads*s.d)
		for i := range in.QFP8 {
			in.QFP8[i] = fp8.E4M3(rng.Uint32())
			if in.QFP8[i]&0x7F == 0x7F {
				in.QFP8[i] &^= 1
			}
		}
	}
	in.Weights = make([]float32, heads)
	for i := range in.Weights {
		in.Weights[i] = float32(rng.NormFloat64())
	}
	return in
}
