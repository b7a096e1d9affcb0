package pagedcache

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

// Each quotient q of GiB = 2^30 = 1073741824 by a divisor d is checked twice: as
// the hand-computed literal, and by q·d + r = 2^30 with 0 ≤ r < d (r written out).
func TestCapacityPerGiB(t *testing.T) {
	fp4, fp8 := must(FP4(64)), must(FP8(64))
	flash, pro := V4Flash(), V4Pro()
	for _, tc := range []struct {
		name       string
		got        int64
		divisor, r int64
		want       int64
	}{
		// One layer.
		{"fp4 tokens/GiB", fp4.TokensPerGiB(), 68, 64, 15790320},
		{"fp8 tokens/GiB", fp8.TokensPerGiB(), 132, 100, 8134407},
		{"fp4 pages/GiB", fp4.PagesPerGiB(), 4352, 3328, 246723},
		{"fp8 pages/GiB", fp8.PagesPerGiB(), 8448, 1024, 127100},
		// V4-Flash, 21 C4 layers: 21·68 = 1428, 21·132 = 2772, 21·4352 = 91392, 21·8448 = 177408.
		{"flash fp4 tokens/GiB", flash.TokensPerGiB(fp4), 1428, 64, 751920},
		{"flash fp8 tokens/GiB", flash.TokensPerGiB(fp8), 2772, 2080, 387352},
		{"flash fp4 pages/GiB", flash.PagesPerGiB(fp4), 91392, 68608, 11748},
		{"flash fp8 pages/GiB", flash.PagesPerGiB(fp8), 177408, 68608, 6052},
		// V4-Pro, 30 C4 layers: 30·68 = 2040, 30·132 = 3960, 30·4352 = 130560, 30·8448 = 253440.
		{"pro fp4 tokens/GiB", pro.TokensPerGiB(fp4), 2040, 64, 526344},
		{"pro fp8 tokens/GiB", pro.TokensPerGiB(fp8), 3960, 3664, 271146},
		{"pro fp4 pages/GiB", pro.PagesPerGiB(fp4), 130560, 16384, 8224},
		{"pro fp8 pages/GiB", pro.PagesPerGiB(fp8), 253440, 169984, 4236},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
		if tc.want*tc.divisor+tc.r != GiB || tc.r < 0 || tc.r >= tc.divisor {
			t.Errorf("%s: hand value %d·%d + %d is not 2^30 with 0 ≤ r < d", tc.name, tc.want, tc.divisor, tc.r)
		}
	}
	if flash.BytesPerToken(fp4) != 1428 || pro.BytesPerToken(fp8) != 3960 {
		t.Error("Model.BytesPerToken")
	}
	if (Model{}).TokensPerGiB(fp4) != 0 || (Model{}).PagesPerGiB(fp4) != 0 {
		t.Error("a model with no C4 layers must hold 0, not divide by zero")
	}
}

// The layer counts derived in capacity.go's comment, recounted from the
// compress_ratios lists spelled out.
func TestModelLayerCounts(t *testing.T) {
	count := func(ratios []int) (layers, c4 int) {
		layers = len(ratios) - 1 // the last entry is the MTP layer
		for _, r := range ratios[:layers] {
			if r == 4 {
				c4++
			}
		}
		return layers, c4
	}
	pro := []int{128, 128}
	for range 29 {
		pro = append(pro, 4, 128)
	}
	pro = append(pro, 4, 0)
	flash := []int{0, 0}
	for range 20 {
		flash = append(flash, 4, 128)
	}
	flash = append(flash, 4, 0)
	if l, c := count(pro); l != V4ProLayers || c != V4ProC4Layers || V4Pro().C4Layers != 30 || V4Pro().Layers != 61 {
		t.Errorf("V4-Pro: %d layers %d C4 from the list; constants %d %d", l, c, V4ProLayers, V4ProC4Layers)
	}
	if l, c := count(flash); l != V4FlashLayers || c != V4FlashC4Layers || V4Flash().C4Layers != 21 || V4Flash().Layers != 43 {
		t.Errorf("V4-Flash: %d layers %d C4 from the list; constants %d %d", l, c, V4FlashLayers, V4FlashC4Layers)
	}
	if V4Flash().IndexTopK != 512 || V4Pro().IndexTopK != 1024 || V4Pro().IndexHeads != 64 {
		t.Error("top-k or heads differ from SPEC §6 / reference §9")
	}
}

func TestPoolBytes(t *testing.T) {
	fp4 := must(FP4(64))
	for _, tc := range []struct {
		size int
		want int64
	}{
		{0, 4352},               // 1 page
		{4096, 65 * 4352},       // (4096+65)/64 = 65 pages = 282880 B
		{1 << 20, 16385 * 4352}, // (1048576+65)/64 = 16385 pages
	} {
		got, err := fp4.PoolBytes(tc.size)
		if err != nil || got != tc.want {
			t.Errorf("PoolBytes(%d) = %d %v, want %d", tc.size, got, err, tc.want)
		}
	}
	got, err := V4Pro().PoolBytes(fp4, 4096)
	if err != nil || got != 30*282880 {
		t.Errorf("V4-Pro PoolBytes(4096) = %d %v, want %d", got, err, 30*282880)
	}
	if _, err := fp4.PoolBytes(-1); err == nil {
		t.Error("PoolBytes(-1) succeeded")
	}
}

func TestDecodeRead(t *testing.T) {
	fp4, fp8 := must(FP4(64)), must(FP8(64))
	for _, tc := range []struct {
		name string
		l    Layout
		keys int64
		want DecodeRead
	}{
		{"fp4 0", fp4, 0, DecodeRead{0, 0, 0, 0}},
		{"fp4 1", fp4, 1, DecodeRead{1, 1, 4352, 68}},
		{"fp4 64", fp4, 64, DecodeRead{64, 1, 4352, 4352}},
		{"fp4 65", fp4, 65, DecodeRead{65, 2, 8704, 4420}},
		// 1M raw tokens = 262144 keys = 4096 pages.
		{"fp4 262144", fp4, 262144, DecodeRead{262144, 4096, 17825792, 17825792}},
		{"fp8 65", fp8, 65, DecodeRead{65, 2, 16896, 8580}},
		{"fp8 262144", fp8, 262144, DecodeRead{262144, 4096, 34603008, 34603008}},
		{"fp4 P=32 65", must(FP4(32)), 65, DecodeRead{65, 3, 6528, 4420}},
	} {
		got, err := tc.l.DecodeRead(tc.keys)
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
	// Whole model: V4-Pro, 30 layers; V4-Flash, 21 layers.
	got, err := V4Pro().DecodeRead(fp4, 65)
	if want := (DecodeRead{65, 60, 261120, 132600}); err != nil || got != want {
		t.Errorf("V4-Pro fp4 65 keys: %+v %v, want %+v", got, err, want)
	}
	got, err = V4Flash().DecodeRead(fp8, 262144)
	if want := (DecodeRead{262144, 86016, 726663168, 726663168}); err != nil || got != want {
		t.Errorf("V4-Flash fp8 262144 keys: %+v %v, want %+v", got, err, want)
	}
	for _, k := range []int64{-1, MaxKeys + 1} {
		if _, err := fp4.DecodeRead(k); !errors.Is(err, ErrLength) {
			t.Errorf("DecodeRead(%d): %v", k, err)
		}
	}
	if _, err := (Layout{}).DecodeRead(1); !errors.Is(err, ErrLayout) {
		t.Errorf("zero layout: %v", err)
	}
}

// Times and ratios against exact rationals rounded once (math/big).
func TestDecodeTime(t *testing.T) {
	fp4, fp8 := must(FP4(64)), must(FP8(64))
	exact := func(num, den int64) float64 {
		f, _ := new(big.Rat).SetFrac64(num, den).Float64()
		return f
	}
	r4, _ := fp4.DecodeRead(262144)
	r8, _ := fp8.DecodeRead(262144)
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"fp4 H100", r4.Seconds(BandwidthH100), exact(17825792, 3350000000000)},
		{"fp8 H100", r8.Seconds(BandwidthH100), exact(34603008, 3350000000000)},
		{"fp4 B200", r4.Seconds(BandwidthB200), exact(17825792, 8000000000000)},
		{"fp8 B200", r8.Seconds(BandwidthB200), exact(34603008, 8000000000000)},
		{"fp4/fp8", ReadRatio(r4, r8), exact(17, 33)}, // 68/132
	} {
		if math.Float64bits(tc.got) != math.Float64bits(tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// 17825792 B at 8e12 B/s is 2.228224 µs exactly in decimal; the literal is the
	// same double as the exact quotient.
	if math.Float64bits(r4.Seconds(BandwidthB200)) != math.Float64bits(2.228224e-6) {
		t.Errorf("fp4 B200 = %v, want 2.228224e-6", r4.Seconds(BandwidthB200))
	}
	if float64(BandwidthH100) != 3350000000000 || float64(BandwidthB200) != 8000000000000 {
		t.Error("bandwidth constants")
	}
	if !math.IsNaN(ReadRatio(r4, DecodeRead{})) {
		t.Error("ratio over nothing read is not NaN")
	}
}
