package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tests that need neither a GPU nor NVRTC.

func TestLoaderErrors(t *testing.T) {
	_, _, err := loadLibrary([]string{"/nonexistent/libcuda.so.1", "libfp4indexer-no-such-library.so.1"})
	if err == nil || !strings.Contains(err.Error(), "libfp4indexer-no-such-library.so.1") {
		t.Errorf("loadLibrary error %v does not name what was tried", err)
	}
	if _, err := OpenCompiler("/nonexistent/libnvrtc.so.13"); err != nil && !errors.Is(err, ErrNoNVRTC) {
		t.Errorf("OpenCompiler error %v does not wrap ErrNoNVRTC", err)
	}
	d, err := Open()
	switch {
	case err == nil:
		d.Close()
	case errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoNVRTC):
		t.Logf("Open without a GPU says: %v", err)
	default:
		t.Logf("Open: %v (a GPU machine with a broken setup)", err)
	}
}

func TestParse(t *testing.T) {
	for i, n := range scaleNames {
		v, err := ParseScaleVariant(n)
		if err != nil || int(v) != i || v.String() != n {
			t.Errorf("ParseScaleVariant(%q) = %v, %v", n, v, err)
		}
	}
	if _, err := ParseScaleVariant("floor"); err == nil {
		t.Error("ParseScaleVariant accepted an unknown name")
	}
	for _, m := range []ElementMode{ElementThreshold, ElementRNE} {
		if v, err := ParseElementMode(m.String()); err != nil || v != m {
			t.Errorf("ParseElementMode(%q) = %v, %v", m.String(), v, err)
		}
	}
	if _, err := (Quant{Scale: 9}).flags(); err == nil {
		t.Error("an out-of-range scale variant was accepted")
	}
}

func TestRsqrtTablePacking(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	errs := make([]int8, 4096)
	for i := range errs {
		errs[i] = int8(rng.IntN(4)) - 2
	}
	packed, err := PackRsqrtTable(errs)
	if err != nil {
		t.Fatal(err)
	}
	// The rmsnorm format: 00 = 0, 01 = +1, 10 = -2, 11 = -1, first entry in the low bits.
	for i, e := range errs {
		code := packed[i/4] >> (2 * (i % 4)) & 3
		if want := map[int8]byte{0: 0, 1: 1, -2: 2, -1: 3}[e]; code != want {
			t.Fatalf("entry %d (error %d) packed as %02b, want %02b", i, e, code, want)
		}
	}
	back := UnpackRsqrtTable(packed)
	for i := range errs {
		if back[i] != errs[i] {
			t.Fatalf("entry %d: %d after a round trip, want %d", i, back[i], errs[i])
		}
	}
	if _, err := PackRsqrtTable([]int8{2, 0, 0, 0}); err == nil {
		t.Error("an error of +2 was packed")
	}
}

// TestRsqrtIndex: normal inputs index by (exponent parity, fraction); a subnormal
// indexes like the normal number 2^24 times larger (even exponent shift).
func TestRsqrtIndex(t *testing.T) {
	for _, c := range []struct{ bits, want uint32 }{
		{0x3f800000, 1 << 23},          // 1.0: field 127, odd
		{0x3f000000, 0},                // 0.5: field 126, even
		{0x40800000, 1 << 23},          // 4.0: field 129, odd
		{0x3fc00001, 1<<23 | 0x400001}, // 1.5 + 1 ulp
		{0x7f7fffff, 0x7fffff},         // largest finite: field 254, even
		{0x00000001, 0},                // 2^-149: normalised field -22, even
		{0x00400000, 0},                // 2^-127: normalised field 0, even
		{0x00000003, 1<<23 | 0x400000}, // 1.5 * 2^-148: normalised field -21, odd
	} {
		if got := RsqrtIndex(c.bits); got != c.want {
			t.Errorf("RsqrtIndex(%#08x) = %#x, want %#x", c.bits, got, c.want)
		}
	}
	for i := 0; i < 100000; i++ {
		b := uint32(1 + rand.Uint32N(0x007fffff)) // subnormal
		scaled := math.Float32bits(math.Float32frombits(b) * (1 << 24))
		if RsqrtIndex(b) != RsqrtIndex(scaled) {
			t.Fatalf("subnormal %#08x indexes %#x, its 2^24 multiple %#08x indexes %#x", b, RsqrtIndex(b), scaled, RsqrtIndex(scaled))
		}
	}
}
