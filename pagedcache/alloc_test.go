package pagedcache

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func mustAlloc(t *testing.T, pageSize, pages int, o AllocatorOptions) *Allocator {
	t.Helper()
	a, err := NewAllocator(pageSize, pages, o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mustV is for calls the test knows to succeed.
func mustV[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Lowest free page first, page 0 reserved, all-or-nothing on exhaustion.
func TestAllocatorDeterministic(t *testing.T) {
	a := mustAlloc(t, 64, 9, AllocatorOptions{}) // pages 1..8 allocatable
	if a.FreePages() != 8 {
		t.Fatalf("FreePages = %d, want 8 (page 0 reserved)", a.FreePages())
	}
	steps := []struct {
		name string
		do   func() ([]int32, error)
		want []int32
	}{
		{"alloc A 3", func() ([]int32, error) { return a.Alloc(10, 3) }, []int32{1, 2, 3}},
		{"alloc B 2", func() ([]int32, error) { return a.Alloc(20, 2) }, []int32{4, 5}},
		{"extend A 1", func() ([]int32, error) { return a.Extend(10, 1) }, []int32{6}},
		{"free B", func() ([]int32, error) { return nil, a.Free(20) }, nil},
		{"alloc C 3", func() ([]int32, error) { return a.Alloc(30, 3) }, []int32{4, 5, 7}},
		{"grow C to 200 tokens", func() ([]int32, error) { return a.Grow(30, 200) }, []int32{8}}, // ceil(200/64) = 4
		{"grow C to 256 tokens", func() ([]int32, error) { return a.Grow(30, 256) }, []int32{}},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != nil || !slices.Equal(got, s.want) {
			t.Fatalf("%s: %v %v, want %v", s.name, got, err, s.want)
		}
	}
	if got := mustV(a.Pages(10)); !slices.Equal(got, []int32{1, 2, 3, 6}) {
		t.Errorf("Pages(A) = %v", got)
	}
	if got := a.Requests(); !slices.Equal(got, []int{10, 30}) {
		t.Errorf("Requests = %v", got)
	}
	if a.FreePages() != 0 {
		t.Errorf("FreePages = %d, want 0", a.FreePages())
	}
	_, err := a.Alloc(40, 1)
	if !errors.Is(err, ErrOutOfPages) {
		t.Errorf("alloc past the end: %v", err)
	}
	if _, err := a.Pages(40); !errors.Is(err, ErrRequest) {
		t.Error("a failed Alloc registered the request")
	}
	// Free A returns 1, 2, 3, 6; a 5-page ask fails and takes nothing.
	if err := a.Free(10); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Extend(30, 5); !errors.Is(err, ErrOutOfPages) {
		t.Errorf("extend past the end: %v", err)
	}
	if a.FreePages() != 4 || !slices.Equal(mustV(a.Pages(30)), []int32{4, 5, 7, 8}) {
		t.Error("a failed Extend changed the state")
	}
	if got := mustV(a.Alloc(50, 4)); !slices.Equal(got, []int32{1, 2, 3, 6}) {
		t.Errorf("alloc after free: %v", got)
	}
}

func TestAllocatorErrors(t *testing.T) {
	a := mustAlloc(t, 64, 4, AllocatorOptions{})
	mustV(a.Alloc(1, 1))
	for name, err := range map[string]error{
		"alloc twice":     second(a.Alloc(1, 1)),
		"extend unknown":  second(a.Extend(2, 1)),
		"negative alloc":  second(a.Alloc(3, -1)),
		"negative extend": second(a.Extend(1, -2)),
		"negative grow":   second(a.Grow(1, -1)),
		"free unknown":    a.Free(9),
		"pages unknown":   second(a.Pages(9)),
		"loc unknown":     second(a.Loc(9, 0)),
	} {
		if !errors.Is(err, ErrRequest) && !errors.Is(err, ErrLoc) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range [][2]int{{48, 4}, {0, 4}, {64, 0}, {64, -1}} {
		if _, err := NewAllocator(bad[0], bad[1], AllocatorOptions{}); err == nil {
			t.Errorf("NewAllocator%v succeeded", bad)
		}
	}
	// Zero pages is a registered, empty request.
	if got := mustV(a.Alloc(5, 0)); len(got) != 0 {
		t.Errorf("Alloc(5, 0) = %v", got)
	}
	if _, err := a.Loc(5, 0); !errors.Is(err, ErrLoc) {
		t.Errorf("Loc of an empty request: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestUsePage0(t *testing.T) {
	a := mustAlloc(t, 64, 3, AllocatorOptions{UsePage0: true})
	if got := mustV(a.Alloc(1, 3)); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Errorf("UsePage0 alloc = %v", got)
	}
	c := mustCache(t, must(FP4(64)), 4096) // 65 pages
	ac, err := c.NewAllocator(AllocatorOptions{})
	if err != nil || ac.FreePages() != 64 || ac.PageSize() != 64 {
		t.Errorf("Cache.NewAllocator: %v, %d free", err, ac.FreePages())
	}
}

// Loc = page·P + j%P with page the request's (j/P)-th page.
func TestLocAndBlockTable(t *testing.T) {
	a := mustAlloc(t, 64, 10, AllocatorOptions{})
	mustV(a.Alloc(7, 1))  // page 1
	mustV(a.Alloc(8, 2))  // pages 2, 3
	mustV(a.Extend(7, 1)) // page 4
	for _, tc := range []struct {
		req, j int
		want   int64
	}{
		{7, 0, 64}, {7, 63, 127}, {7, 64, 256}, {7, 65, 257}, {7, 127, 319},
		{8, 0, 128}, {8, 64, 192}, {8, 100, 228},
	} {
		got, err := a.Loc(tc.req, tc.j)
		if err != nil || got != tc.want {
			t.Errorf("Loc(%d, %d) = %d %v, want %d", tc.req, tc.j, got, err, tc.want)
		}
	}
	for _, j := range []int{-1, 128} {
		if _, err := a.Loc(7, j); !errors.Is(err, ErrLoc) {
			t.Errorf("Loc(7, %d): %v", j, err)
		}
	}
	locs, err := a.Locs(7, 62, 4)
	if err != nil || !slices.Equal(locs, []int64{126, 127, 256, 257}) {
		t.Errorf("Locs(7, 62, 4) = %v %v", locs, err)
	}
	if _, err := a.Locs(7, 126, 3); !errors.Is(err, ErrLoc) {
		t.Errorf("Locs past the pages: %v", err)
	}

	bt, err := a.BlockTable([]int{8, 7, 8}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := BlockTable{Rows: 3, Width: 2, PageSize: 64, Data: []int32{2, 3, 1, 4, 2, 3}, Blocks: []int{2, 2, 2}}
	if !equalBT(bt, want) {
		t.Errorf("BlockTable = %+v, want %+v", bt, want)
	}
	bt, err = a.BlockTable([]int{7, 8}, 4)
	want = BlockTable{Rows: 2, Width: 4, PageSize: 64, Data: []int32{1, 4, PadPage, PadPage, 2, 3, PadPage, PadPage}, Blocks: []int{2, 2}}
	if err != nil || !equalBT(bt, want) {
		t.Errorf("padded BlockTable = %+v %v", bt, err)
	}
	if !slices.Equal(bt.Row(1), []int32{2, 3, 0, 0}) || bt.Row(2) != nil {
		t.Error("Row views wrong")
	}
	// The table and the allocator agree on every position.
	for r, req := range []int{7, 8} {
		for j := range 128 {
			x, err1 := bt.Loc(r, j)
			y, err2 := a.Loc(req, j)
			if err1 != nil || err2 != nil || x != y {
				t.Fatalf("row %d j %d: table %d %v, allocator %d %v", r, j, x, err1, y, err2)
			}
		}
		if _, err := bt.Loc(r, 128); !errors.Is(err, ErrLoc) {
			t.Errorf("table Loc past the real pages: %v", err)
		}
	}
	if _, err := a.BlockTable([]int{7}, 1); !errors.Is(err, ErrLength) {
		t.Errorf("width below need: %v", err)
	}
	if _, err := a.BlockTable([]int{99}, 0); !errors.Is(err, ErrRequest) {
		t.Errorf("unknown request: %v", err)
	}
	mustV(a.Alloc(9, 0))
	bt, err = a.BlockTable([]int{9}, 0)
	if err != nil || bt.Width != 1 || !slices.Equal(bt.Data, []int32{PadPage}) || bt.Blocks[0] != 0 {
		t.Errorf("empty request table = %+v %v", bt, err)
	}
}

func equalBT(a, b BlockTable) bool {
	return a.Rows == b.Rows && a.Width == b.Width && a.PageSize == b.PageSize &&
		slices.Equal(a.Data, b.Data) && slices.Equal(a.Blocks, b.Blocks)
}

// A writer's round trip through the allocator: positions of two requests are
// stored at their locs and read back through the block table.
func TestWriterThroughAllocator(t *testing.T) {
	c := mustCache(t, must(FP4(64)), 1000) // 16 pages
	a, err := c.NewAllocator(AllocatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lens := map[int]int{1: 150, 2: 64, 3: 1}
	for _, req := range []int{1, 2, 3} {
		if _, err := a.Grow(req, lens[req]); err != nil {
			t.Fatal(err)
		}
		locs, err := a.Locs(req, 0, lens[req])
		if err != nil {
			t.Fatal(err)
		}
		var p, s []byte
		for j := range lens[req] {
			p = append(p, bytes.Repeat([]byte{byte(req)}, 63)...)
			p = append(p, byte(j))
			s = append(s, byte(req), byte(j), 0, 0)
		}
		if err := c.StoreBatch(locs, p, s); err != nil {
			t.Fatal(err)
		}
	}
	bt, err := a.BlockTable([]int{1, 2, 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for r, req := range []int{1, 2, 3} {
		for j := range lens[req] {
			page := int(bt.Row(r)[j/64])
			p, s := c.Token(page, j%64)
			if p[0] != byte(req) || p[63] != byte(j) || s[0] != byte(req) || s[1] != byte(j) {
				t.Fatalf("request %d position %d: read %x %x", req, j, p[62:], s)
			}
		}
	}
	if p, s := c.Token(0, 0); !bytes.Equal(p, make([]byte, 64)) || !bytes.Equal(s, make([]byte, 4)) {
		t.Error("page 0 was written")
	}
}
