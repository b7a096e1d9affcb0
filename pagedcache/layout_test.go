package pagedcache

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// must is for layouts the test knows to be valid.
func must(l Layout, err error) Layout {
	if err != nil {
		panic(err)
	}
	return l
}

// The byte counts of SPEC §1 and §5, written out by hand.
func TestGeometry(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		l                         Layout
		bpt, pageBytes            int
		payloadRegion, scaleRegon [2]int
	}{
		{"fp4 P=64", must(FP4(64)), 68, 4352, [2]int{0, 4096}, [2]int{4096, 4352}},
		{"fp8 P=64", must(FP8(64)), 132, 8448, [2]int{0, 8192}, [2]int{8192, 8448}},
		{"fp4 P=32", must(FP4(32)), 68, 2176, [2]int{0, 2048}, [2]int{2048, 2176}},
		{"fp8 P=32", must(FP8(32)), 132, 4224, [2]int{0, 4096}, [2]int{4096, 4224}},
		{"fp4 P=1", must(FP4(1)), 68, 68, [2]int{0, 64}, [2]int{64, 68}},
		{"fp4 P=128", must(FP4(128)), 68, 8704, [2]int{0, 8192}, [2]int{8192, 8704}},
		{"scales first", must(Custom(64, 64, 4, ScalesThenPayloads)), 68, 4352, [2]int{256, 4352}, [2]int{0, 256}},
	} {
		if got := tc.l.BytesPerToken(); got != tc.bpt {
			t.Errorf("%s: BytesPerToken = %d, want %d", tc.name, got, tc.bpt)
		}
		if got := tc.l.PageBytes(); got != tc.pageBytes {
			t.Errorf("%s: PageBytes = %d, want %d", tc.name, got, tc.pageBytes)
		}
		p, s, err := tc.l.Regions()
		if err != nil || p != tc.payloadRegion || s != tc.scaleRegon {
			t.Errorf("%s: Regions = %v %v %v, want %v %v", tc.name, p, s, err, tc.payloadRegion, tc.scaleRegon)
		}
	}
	if FP4PayloadBytes+FP4ScaleBytes != 68 || FP8PayloadBytes+FP8ScaleBytes != 132 || DefaultPageSize != 64 {
		t.Error("geometry constants differ from SPEC §1/§5")
	}
	// The zero-value flags are SGLang's layout.
	l := Layout{PageSize: 64, PayloadBytes: 64, ScaleBytes: 4}
	if l != must(FP4(64)) || l.Order() != PayloadsThenScales {
		t.Error("Layout{64, 64, 4} is not FP4(64)")
	}
}

// SPEC §5 offsets, by hand: FP4 payload of slot s at [64s, 64s+64), scales at
// [64P + 4s, +4); FP8 values at [128s, +128), scale at [128P + 4s, +4).
func TestLocateSPEC(t *testing.T) {
	fp4 := must(FP4(64))
	fp8 := must(FP8(64))
	fp4p32 := must(FP4(32))
	fp4p1 := must(FP4(1))
	for _, tc := range []struct {
		name           string
		l              Layout
		loc            int64
		page, slot     int
		payload, scale [2]int
		absP, absS     [2]int64
	}{
		{"fp4", fp4, 0, 0, 0, [2]int{0, 64}, [2]int{4096, 4100}, [2]int64{0, 64}, [2]int64{4096, 4100}},
		{"fp4", fp4, 1, 0, 1, [2]int{64, 128}, [2]int{4100, 4104}, [2]int64{64, 128}, [2]int64{4100, 4104}},
		{"fp4", fp4, 63, 0, 63, [2]int{4032, 4096}, [2]int{4348, 4352}, [2]int64{4032, 4096}, [2]int64{4348, 4352}},
		{"fp4", fp4, 64, 1, 0, [2]int{0, 64}, [2]int{4096, 4100}, [2]int64{4352, 4416}, [2]int64{8448, 8452}},
		{"fp4", fp4, 65, 1, 1, [2]int{64, 128}, [2]int{4100, 4104}, [2]int64{4416, 4480}, [2]int64{8452, 8456}},
		// 1000 = 15·64 + 40; page base 15·4352 = 65280.
		{"fp4", fp4, 1000, 15, 40, [2]int{2560, 2624}, [2]int{4256, 4260}, [2]int64{67840, 67904}, [2]int64{69536, 69540}},
		{"fp8", fp8, 0, 0, 0, [2]int{0, 128}, [2]int{8192, 8196}, [2]int64{0, 128}, [2]int64{8192, 8196}},
		{"fp8", fp8, 63, 0, 63, [2]int{8064, 8192}, [2]int{8444, 8448}, [2]int64{8064, 8192}, [2]int64{8444, 8448}},
		{"fp8", fp8, 65, 1, 1, [2]int{128, 256}, [2]int{8196, 8200}, [2]int64{8576, 8704}, [2]int64{16644, 16648}},
		// 65 = 2·32 + 1 at P = 32; page base 2·2176 = 4352.
		{"fp4 P=32", fp4p32, 65, 2, 1, [2]int{64, 128}, [2]int{2052, 2056}, [2]int64{4416, 4480}, [2]int64{6404, 6408}},
		{"fp4 P=1", fp4p1, 5, 5, 0, [2]int{0, 64}, [2]int{64, 68}, [2]int64{340, 404}, [2]int64{404, 408}},
	} {
		page, slot, p, s, err := tc.l.Locate(tc.loc)
		if err != nil {
			t.Errorf("%s loc %d: %v", tc.name, tc.loc, err)
			continue
		}
		if page != tc.page || slot != tc.slot || p != tc.payload || s != tc.scale {
			t.Errorf("%s loc %d: page %d slot %d payload %v scale %v, want %d %d %v %v",
				tc.name, tc.loc, page, slot, p, s, tc.page, tc.slot, tc.payload, tc.scale)
		}
		ap, as, err := tc.l.AbsoluteRanges(tc.loc)
		if err != nil || ap != tc.absP || as != tc.absS {
			t.Errorf("%s loc %d: absolute %v %v %v, want %v %v", tc.name, tc.loc, ap, as, err, tc.absP, tc.absS)
		}
	}
}

// The orders of other stacks, by hand, for slot 1 of a 64-token FP4-sized page
// and for a D = 64 FP4 row with two scale bytes.
func TestLocateCustom(t *testing.T) {
	for _, tc := range []struct {
		l              Layout
		loc            int64
		page, slot     int
		payload, scale [2]int
	}{
		{must(Custom(64, 64, 4, ScalesThenPayloads)), 1, 0, 1, [2]int{320, 384}, [2]int{4, 8}},
		{must(Custom(64, 64, 4, InterleavedPayloadScale)), 1, 0, 1, [2]int{68, 132}, [2]int{132, 136}},
		{must(Custom(64, 64, 4, InterleavedScalePayload)), 1, 0, 1, [2]int{72, 136}, [2]int{68, 72}},
		{must(Custom(16, 32, 2, PayloadsThenScales)), 17, 1, 1, [2]int{32, 64}, [2]int{514, 516}},
		{must(Custom(8, 16, 0, PayloadsThenScales)), 9, 1, 1, [2]int{16, 32}, [2]int{128, 128}},
	} {
		page, slot, p, s, err := tc.l.Locate(tc.loc)
		if err != nil || page != tc.page || slot != tc.slot || p != tc.payload || s != tc.scale {
			t.Errorf("%v loc %d: %d %d %v %v %v, want %d %d %v %v", tc.l, tc.loc, page, slot, p, s, err,
				tc.page, tc.slot, tc.payload, tc.scale)
		}
	}
	if _, _, err := must(Custom(64, 64, 4, InterleavedPayloadScale)).Regions(); !errors.Is(err, ErrLayout) {
		t.Errorf("interleaved Regions: %v, want ErrLayout", err)
	}
}

// Every byte of a page belongs to exactly one token's payload or scale, for every
// order: the ranges partition the page.
func TestRangesPartitionPage(t *testing.T) {
	for _, o := range []Order{PayloadsThenScales, ScalesThenPayloads, InterleavedPayloadScale, InterleavedScalePayload} {
		for _, g := range [][3]int{{1, 64, 4}, {4, 3, 1}, {64, 64, 4}, {64, 128, 4}, {32, 32, 0}, {128, 7, 5}} {
			l := must(Custom(g[0], g[1], g[2], o))
			if l.Order() != o {
				t.Errorf("%v: Order() = %v, want %v", l, l.Order(), o)
			}
			owner := make([]int, l.PageBytes())
			for s := 0; s < l.PageSize; s++ {
				_, slot, p, sc, err := l.Locate(int64(l.PageSize + s))
				if err != nil || slot != s {
					t.Fatalf("%v slot %d: %v", l, s, err)
				}
				for _, r := range [][2]int{p, sc} {
					for i := r[0]; i < r[1]; i++ {
						owner[i]++
					}
				}
				if p[1]-p[0] != l.PayloadBytes || sc[1]-sc[0] != l.ScaleBytes {
					t.Errorf("%v slot %d: range lengths %v %v", l, s, p, sc)
				}
			}
			for i, n := range owner {
				if n != 1 {
					t.Fatalf("%v: byte %d owned %d times", l, i, n)
				}
			}
		}
	}
}

func TestLayoutErrors(t *testing.T) {
	for _, ps := range []int{0, -64, 3, 48, 96, 1 << 17} {
		_, err := FP4(ps)
		if !errors.Is(err, ErrLayout) {
			t.Errorf("FP4(%d): %v, want ErrLayout", ps, err)
			continue
		}
		if !strings.Contains(err.Error(), "power of two") || !strings.Contains(err.Error(), strconv.Itoa(ps)) {
			t.Errorf("FP4(%d): message %q does not name the value and the rule", ps, err)
		}
	}
	for _, c := range [][3]int{{64, 0, 4}, {64, -1, 4}, {64, 64, -1}, {64, 1 << 17, 4}, {1 << 16, 1 << 16, 0}} {
		if _, err := Custom(c[0], c[1], c[2], PayloadsThenScales); !errors.Is(err, ErrLayout) {
			t.Errorf("Custom%v: %v, want ErrLayout", c, err)
		}
	}
	if _, err := Custom(64, 64, 4, Order(4)); !errors.Is(err, ErrLayout) {
		t.Errorf("Custom order 4: %v", err)
	}
	l := must(FP4(64))
	_, _, _, _, err := l.Locate(-1)
	if !errors.Is(err, ErrLoc) || !strings.Contains(err.Error(), "-1") {
		t.Errorf("Locate(-1): %v", err)
	}
	if _, _, _, _, err := (Layout{}).Locate(0); !errors.Is(err, ErrLayout) {
		t.Errorf("zero Layout Locate: %v", err)
	}
	if _, _, _, _, err := l.Locate(int64(1) << 40); !errors.Is(err, ErrLoc) {
		t.Errorf("Locate(2^40) at P=64 gives a page past int32: %v", err)
	}
}

func TestPagesFor(t *testing.T) {
	fp4 := must(FP4(64))
	p1 := must(FP4(1))
	for _, tc := range []struct {
		l          Layout
		size, want int
	}{
		{fp4, 0, 1},     // 65/64
		{fp4, 62, 1},    // 127/64
		{fp4, 63, 2},    // 128/64
		{fp4, 64, 2},    // 129/64
		{fp4, 4096, 65}, // 4161/64
		{fp4, 4095, 65}, // 4160/64
		{fp4, 4094, 64}, // 4159/64
		{p1, 0, 2},      // (0+1+1)/1
		{p1, 10, 12},
	} {
		got, err := tc.l.PagesFor(tc.size)
		if err != nil || got != tc.want {
			t.Errorf("P=%d PagesFor(%d) = %d %v, want %d", tc.l.PageSize, tc.size, got, err, tc.want)
		}
	}
	if _, err := fp4.PagesFor(-1); !errors.Is(err, ErrLength) {
		t.Errorf("PagesFor(-1): %v", err)
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct {
		l    Layout
		want string
	}{
		{must(FP4(64)), "fp4: P=64, 64+4 B/token, 4352 B/page, payloads then scales"},
		{must(FP8(64)), "fp8: P=64, 128+4 B/token, 8448 B/page, payloads then scales"},
		{must(Custom(64, 64, 4, InterleavedPayloadScale)), "custom: P=64, 64+4 B/token, 4352 B/page, interleaved [payload|scale]"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
