package pagedcache_test

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/pagedcache"
)

func ExampleLayout_Locate() {
	l, _ := pagedcache.FP4(pagedcache.DefaultPageSize)
	page, slot, payload, scale, _ := l.Locate(65)
	fmt.Println(l.BytesPerToken(), l.PageBytes())
	fmt.Println(page, slot, payload, scale)
	// Output:
	// 68 4352
	// 1 1 [64 128] [4100 4104]
}

func ExampleAllocator_BlockTable() {
	a, _ := pagedcache.NewAllocator(64, 16, pagedcache.AllocatorOptions{})
	a.Grow(1, 150) // 3 pages: 1, 2, 3
	a.Grow(2, 10)  // 1 page: 4
	bt, _ := a.BlockTable([]int{1, 2}, 0)
	fmt.Println(bt.Rows, bt.Width, bt.Data)
	loc, _ := bt.Loc(0, 130) // page 3, slot 2
	fmt.Println(loc)
	// Output:
	// 2 3 [1 2 3 4 0 0]
	// 194
}

func ExampleModel_DecodeRead() {
	fp4, _ := pagedcache.FP4(64)
	fp8, _ := pagedcache.FP8(64)
	m := pagedcache.V4Pro()
	r4, _ := m.DecodeRead(fp4, 262144) // 1M raw tokens
	r8, _ := m.DecodeRead(fp8, 262144)
	fmt.Printf("%s: %d MiB fp4, %d MiB fp8 per decode step\n", m.Name, r4.PageBytes>>20, r8.PageBytes>>20)
	fmt.Printf("H100 %.0f µs vs %.0f µs, ratio %.4f\n",
		r4.Seconds(pagedcache.BandwidthH100)*1e6, r8.Seconds(pagedcache.BandwidthH100)*1e6, pagedcache.ReadRatio(r4, r8))
	// Output:
	// DeepSeek-V4-Pro: 510 MiB fp4, 990 MiB fp8 per decode step
	// H100 160 µs vs 310 µs, ratio 0.5152
}
