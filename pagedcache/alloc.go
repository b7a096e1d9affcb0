package pagedcache

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"slices"
)

// PadPage fills the unused entries of a block table. It is the page SGLang
// reserves for the dummy writes of padded tokens, and the page DeepGEMM's paged
// MQA kernel reads for page slots past a request's context; its logits there are
// garbage the consumer masks by context length.
const PadPage int32 = 0

// Allocator errors, for errors.Is.
var (
	ErrOutOfPages = errors.New("pagedcache: out of pages")
	ErrRequest    = errors.New("pagedcache: bad request")
)

// AllocatorOptions configures an Allocator. The zero value is SGLang's behaviour:
// page 0 is reserved.
type AllocatorOptions struct {
	// UsePage0 makes page 0 allocatable. SGLang's allocators never hand it out
	// (free pages start at 1: "the padded slot 0 is used for writing dummy outputs
	// from padded tokens"); a stack without padded writes may want it.
	UsePage0 bool
}

// Allocator hands whole pages to requests and takes them back, the paged
// token-to-KV pool of a serving engine reduced to its bookkeeping. It is
// deterministic: an allocation takes the lowest-numbered free pages, in
// ascending order, so the same sequence of calls gives the same pages. (SGLang's
// free list is in release order unless its need_sort option is on, so its page
// numbers after a free can differ; the layout of each page cannot.) An Allocator
// is not safe for concurrent use.
type Allocator struct {
	pageSize int
	pages    int
	first    int32
	free     pageHeap
	held     map[int][]int32
}

// NewAllocator manages pages pages of pageSize tokens (a power of two), as many as
// the cache has.
func NewAllocator(pageSize, pages int, o AllocatorOptions) (*Allocator, error) {
	if pageSize < 1 || pageSize > MaxPageSize || pageSize&(pageSize-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d is not a power of two in [1, %d]", ErrLayout, pageSize, MaxPageSize)
	}
	if pages < 1 || pages > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d pages not in [1, %d]", ErrBufferSize, pages, math.MaxInt32)
	}
	a := &Allocator{pageSize: pageSize, pages: pages, first: 1, held: map[int][]int32{}}
	if o.UsePage0 {
		a.first = 0
	}
	a.free = make(pageHeap, 0, pages-int(a.first))
	for p := a.first; p < int32(pages); p++ {
		a.free = append(a.free, p) // ascending: already a heap
	}
	return a, nil
}

// NewAllocator is an allocator for the cache's pages.
func (c *Cache) NewAllocator(o AllocatorOptions) (*Allocator, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return NewAllocator(c.Layout.PageSize, c.Pages, o)
}

// PageSize is the number of tokens per page.
func (a *Allocator) PageSize() int { return a.pageSize }

// FreePages is the number of pages not held by any request.
func (a *Allocator) FreePages() int { return len(a.free) }

// Requests lists the requests that hold pages (or were allocated zero pages), in
// ascending order.
func (a *Allocator) Requests() []int {
	r := make([]int, 0, len(a.held))
	for id := range a.held {
		r = append(r, id)
	}
	slices.Sort(r)
	return r
}

// Alloc registers a new request with n pages (n ≥ 0) and returns them. It fails,
// allocating nothing, when the request exists or fewer than n pages are free.
func (a *Allocator) Alloc(request, n int) ([]int32, error) {
	if _, ok := a.held[request]; ok {
		return nil, fmt.Errorf("%w: request %d already holds pages; use Extend", ErrRequest, request)
	}
	got, err := a.take(request, n)
	if err != nil {
		return nil, err
	}
	a.held[request] = got
	return slices.Clone(got), nil
}

// Extend adds n more pages (n ≥ 0) to a request and returns the new ones.
func (a *Allocator) Extend(request, n int) ([]int32, error) {
	have, ok := a.held[request]
	if !ok {
		return nil, fmt.Errorf("%w: request %d holds no pages; use Alloc", ErrRequest, request)
	}
	got, err := a.take(request, n)
	if err != nil {
		return nil, err
	}
	a.held[request] = append(have, got...)
	return slices.Clone(got), nil
}

// Grow makes the request hold enough pages for tokens positions,
// ceil(tokens / P), registering it if new, and returns the pages it added. It is
// the call a writer makes before storing position tokens-1.
func (a *Allocator) Grow(request, tokens int) ([]int32, error) {
	if tokens < 0 {
		return nil, fmt.Errorf("%w: request %d: %d tokens is negative", ErrRequest, request, tokens)
	}
	need := tokens/a.pageSize + btoi(tokens%a.pageSize != 0)
	have, ok := a.held[request]
	if !ok {
		return a.Alloc(request, need)
	}
	if need <= len(have) {
		return []int32{}, nil
	}
	return a.Extend(request, need-len(have))
}

func (a *Allocator) take(request, n int) ([]int32, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: request %d asks for %d pages", ErrRequest, request, n)
	}
	if n > len(a.free) {
		return nil, fmt.Errorf("%w: request %d asks for %d pages, %d of %d are free", ErrOutOfPages, request, n, len(a.free), a.pages-int(a.first))
	}
	got := make([]int32, n)
	for i := range got {
		got[i] = heap.Pop(&a.free).(int32)
	}
	return got, nil
}

// Free returns all of a request's pages to the free list and forgets the request.
// The pages keep their bytes, as on the GPU.
func (a *Allocator) Free(request int) error {
	have, ok := a.held[request]
	if !ok {
		return fmt.Errorf("%w: request %d holds no pages", ErrRequest, request)
	}
	for _, p := range have {
		heap.Push(&a.free, p)
	}
	delete(a.held, request)
	return nil
}

// Pages returns a copy of the request's pages in position order: page k holds
// token positions [kP, kP+P).
func (a *Allocator) Pages(request int) ([]int32, error) {
	have, ok := a.held[request]
	if !ok {
		return nil, fmt.Errorf("%w: request %d holds no pages", ErrRequest, request)
	}
	return slices.Clone(have), nil
}

// Loc maps token position j of a request to its cache loc, page·P + j%P with page
// = the request's (j/P)-th page: the out_loc a K writer stores to.
func (a *Allocator) Loc(request, j int) (int64, error) {
	have, ok := a.held[request]
	if !ok {
		return 0, fmt.Errorf("%w: request %d holds no pages", ErrRequest, request)
	}
	if j < 0 || j/a.pageSize >= len(have) {
		return 0, fmt.Errorf("%w: request %d position %d not in [0, %d) (%d pages × %d)", ErrLoc, request, j, len(have)*a.pageSize, len(have), a.pageSize)
	}
	return int64(have[j/a.pageSize])*int64(a.pageSize) + int64(j%a.pageSize), nil
}

// Locs maps positions [start, start+n) of a request to locs, for StoreBatch.
func (a *Allocator) Locs(request, start, n int) ([]int64, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: request %d: %d positions is negative", ErrRequest, request, n)
	}
	locs := make([]int64, n)
	for i := range locs {
		loc, err := a.Loc(request, start+i)
		if err != nil {
			return nil, err
		}
		locs[i] = loc
	}
	return locs, nil
}

// BlockTable is DeepGEMM's block_table: int32 [Rows, Width], row-major (stride(1)
// = 1, row stride Width). Key position j of row r lives in page Data[r·Width +
// j/P], slot j%P (SPEC §6). Entries past a row's pages hold PadPage.
type BlockTable struct {
	Rows, Width int
	PageSize    int
	Data        []int32
	Blocks      []int // pages held by each row: entries [0, Blocks[r]) are real
}

// BlockTable builds the table for requests (one row each, repeats allowed). Width
// 0 means the most pages any of them holds, at least 1 so a kernel always has a
// page to read; a larger width pads, a smaller one is an error.
func (a *Allocator) BlockTable(requests []int, width int) (BlockTable, error) {
	need := 1
	for _, r := range requests {
		have, ok := a.held[r]
		if !ok {
			return BlockTable{}, fmt.Errorf("%w: request %d holds no pages", ErrRequest, r)
		}
		need = max(need, len(have))
	}
	switch {
	case width < 0:
		return BlockTable{}, fmt.Errorf("%w: block table width %d is negative", ErrLength, width)
	case width == 0:
		width = need
	case width < need:
		return BlockTable{}, fmt.Errorf("%w: block table width %d < %d pages held by a request", ErrLength, width, need)
	}
	if int64(len(requests))*int64(width) > math.MaxInt32 {
		return BlockTable{}, fmt.Errorf("%w: block table of %d × %d entries is too large", ErrLength, len(requests), width)
	}
	t := BlockTable{Rows: len(requests), Width: width, PageSize: a.pageSize,
		Data: make([]int32, len(requests)*width), Blocks: make([]int, len(requests))}
	for i, r := range requests {
		row := t.Data[i*width : (i+1)*width]
		n := copy(row, a.held[r])
		for k := n; k < width; k++ {
			row[k] = PadPage
		}
		t.Blocks[i] = n
	}
	return t, nil
}

// Row is a view of row r (nil when r is out of range).
func (t BlockTable) Row(r int) []int32 {
	if r < 0 || r >= t.Rows || len(t.Data) != t.Rows*t.Width {
		return nil
	}
	return t.Data[r*t.Width : (r+1)*t.Width : (r+1)*t.Width]
}

// Loc is the loc of key position j of row r, block_table[r][j/P]·P + j%P, for a
// position inside the row's real pages.
func (t BlockTable) Loc(r, j int) (int64, error) {
	if r < 0 || r >= t.Rows || len(t.Blocks) != t.Rows || len(t.Data) != t.Rows*t.Width {
		return 0, fmt.Errorf("%w: row %d not in [0, %d)", ErrLoc, r, t.Rows)
	}
	if t.PageSize < 1 {
		return 0, fmt.Errorf("%w: block table page size %d", ErrLayout, t.PageSize)
	}
	if j < 0 || j/t.PageSize >= t.Blocks[r] {
		return 0, fmt.Errorf("%w: row %d position %d not in [0, %d)", ErrLoc, r, j, t.Blocks[r]*t.PageSize)
	}
	return int64(t.Data[r*t.Width+j/t.PageSize])*int64(t.PageSize) + int64(j%t.PageSize), nil
}

// pageHeap is a min-heap of free page ids: lowest page first.
type pageHeap []int32

func (h pageHeap) Len() int           { return len(h) }
func (h pageHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h pageHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pageHeap) Push(x any)        { *h = append(*h, x.(int32)) }
func (h *pageHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
