package mqa_test

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// One request, one query token, eight heads, three keys in page 1 of an FP4
// cache: every element of every row is E2M1 1.0 (code 0x2) under scale 2^0
// (byte 127), so each head's dot product is 128 and only head 0 has a weight.
func Example() {
	layout, _ := pagedcache.FP4(64)
	cache, _ := pagedcache.NewCache(layout, 100)
	ones := make([]byte, 64)
	for i := range ones {
		ones[i] = 0x22 // two elements of value 1.0
	}
	for loc := int64(64); loc < 67; loc++ { // page 1, slots 0..2
		_ = cache.Store(loc, ones, []byte{127, 127, 127, 127})
	}
	const h = 8
	in := &mqa.Input{
		B: 1, NextN: 1, H: h,
		QFP4:          make([]byte, h*64),
		QSF:           make([]int32, h),
		Cache:         cache,
		Weights:       []float32{0.5, 0, 0, 0, 0, 0, 0, 0},
		ContextLens:   []int32{3},
		BlockTable:    []int32{1},
		MaxBlocks:     1,
		MaxContextLen: 4,
	}
	for i := range in.QFP4 {
		in.QFP4[i] = 0x22
	}
	for i := range in.QSF {
		in.QSF[i] = 0x7F7F7F7F
	}
	logits, err := mqa.Logits(in, mqa.Options{}) // exact dot, sm100 epilogue
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(logits)
	top, _ := mqa.TopK(logits, 3, 2)
	fmt.Println(top)
	// Output:
	// [64 64 64 -Inf]
	// [0 1]
}
