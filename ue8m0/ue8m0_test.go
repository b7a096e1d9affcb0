package ue8m0

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func long() bool { return os.Getenv("FP4INDEXER_LONG") == "1" }

func f32(b uint32) float32       { return math.Float32frombits(b) }
func bitsOf(v float32) uint32    { return math.Float32bits(v) }
func nextUp(v float32) float32   { return math.Nextafter32(v, float32(math.Inf(1))) }
func nextDown(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(-1))) }

var (
	inf    = float32(math.Inf(1))
	negInf = float32(math.Inf(-1))
	qNaN   = f32(0x7FC00000)
)

// TestDecodeAllScales decodes every byte against math.Ldexp.
func TestDecodeAllScales(t *testing.T) {
	for b := range 256 {
		s := Frombits(uint8(b))
		if s.Bits() != uint8(b) {
			t.Fatalf("Bits(Frombits(%d)) = %d", b, s.Bits())
		}
		if s.IsNaN() != (b == 255) {
			t.Errorf("byte %d: IsNaN = %v", b, s.IsNaN())
		}
		got := bitsOf(s.Float32())
		if b == 255 {
			if got != 0x7FC00000 {
				t.Errorf("byte 255 decodes to 0x%08X, want the quiet NaN 0x7FC00000", got)
			}
			continue
		}
		want := bitsOf(float32(math.Ldexp(1, b-127)))
		if got != want {
			t.Errorf("byte %d decodes to 0x%08X, want 0x%08X", b, got, want)
		}
		if s.Exponent() != b-127 {
			t.Errorf("byte %d: Exponent %d", b, s.Exponent())
		}
	}
	if got := bitsOf(Scale(0).Float32()); got != 0x00400000 {
		t.Errorf("scale 0 decodes to 0x%08X, want 2^-127 = 0x00400000 (not zero)", got)
	}
	if got := bitsOf(Scale(127).Float32()); got != 0x3F800000 {
		t.Errorf("scale 127 decodes to 0x%08X, want 1.0", got)
	}
	if Scale(128).String() != "0x80(2^1)" || NaN.String() != "0xFF(NaN)" {
		t.Errorf("String: %v %v", Scale(128), NaN)
	}
}

func TestConstants(t *testing.T) {
	if bitsOf(amaxFloor) != 0x38D1B717 {
		t.Errorf("1e-4f = 0x%08X, want 0x38D1B717", bitsOf(amaxFloor))
	}
	if got := bitsOf(amaxFloor / 6); got != 0x378BCF65 {
		t.Errorf("1e-4f/6 = 0x%08X, want 0x378BCF65 (SPEC §3 reference note)", got)
	}
}

func TestCeilExp(t *testing.T) {
	cases := []struct {
		bits uint32
		want uint32
	}{
		{0x00000000, 0}, {0x80000000, 0}, // ±0
		{0x00000001, 1}, {0x00400000, 1}, {0x007FFFFF, 1}, // subnormals
		{0x00800000, 1}, {0x00800001, 2}, // smallest normals
		{0x3F800000, 127}, {0x3F800001, 128}, {0x3FC00000, 128}, {0x40000000, 128},
		{0xBFC00000, 128}, // sign ignored
		{0x378BCF65, 112}, // 1e-4f / 6
		{0x38D1B717, 114}, // 1e-4f
		{0x7F7FFFFF, 255}, {0x7F000000, 254},
		{0x7F800000, 255}, {0xFF800000, 255}, // Inf
		{0x7FC00000, 256}, {0x7F800001, 256}, // NaN
	}
	for _, c := range cases {
		if got := CeilExp(f32(c.bits)); got != c.want {
			t.Errorf("CeilExp(0x%08X) = %d, want %d", c.bits, got, c.want)
		}
	}
	// Every positive normal float: 127 + ceil(log2 f), from math.Frexp.
	r := rand.New(rand.NewPCG(3, 4))
	for range 1 << 20 {
		u := 0x00800000 + r.Uint32N(0x7F800000-0x00800000)
		if got, want := CeilExp(f32(u)), uint32(127+oracleCeilLog2(float64(f32(u)))); got != want {
			t.Fatalf("CeilExp(0x%08X) = %d, want %d", u, got, want)
		}
	}
}

func TestVariantNames(t *testing.T) {
	for _, v := range Variants() {
		p, err := ParseVariant(v.String())
		if err != nil || p != v {
			t.Errorf("ParseVariant(%q) = %v, %v", v.String(), p, err)
		}
		if v.Validate() != nil {
			t.Errorf("%v invalid", v)
		}
	}
	names := []string{"cuda", "triton", "ocp-floor", "rp", "rz"}
	for i, n := range names {
		if Variants()[i].String() != n {
			t.Errorf("variant %d is %q, want %q", i, Variants()[i], n)
		}
	}
	if _, err := ParseVariant("floor"); err == nil {
		t.Error("ParseVariant accepted floor")
	}
	if Variant(9).Validate() == nil || Variant(9).String() != "Variant(9)" {
		t.Error("unknown variant")
	}
	if Variant(0) != CUDA {
		t.Error("the zero Variant must be CUDA")
	}
}

// TestFromAmaxNamed checks SPEC §3's named amax values for every variant.
func TestFromAmaxNamed(t *testing.T) {
	//                      CUDA Triton OCP  RP   RZ
	type row [5]Scale
	cases := []struct {
		name string
		amax float32
		want row
	}{
		{"0", 0, row{112, 114, 0, 0, 0}},
		{"-0", f32(0x80000000), row{112, 114, 0, 0, 0}},
		{"NaN", qNaN, row{112, 114, 0xFF, 0xFF, 0xFF}},
		{"-NaN", f32(0xFFC00001), row{112, 114, 0xFF, 0xFF, 0xFF}},
		{"+Inf", inf, row{255, 254, 0xFF, 254, 254}},
		{"MaxFloat32", math.MaxFloat32, row{253, 253, 252, 253, 252}},
		{"1e-4f", amaxFloor, row{112, 114, 111, 112, 111}},
		{"6·2^-14", 6 * 0x1p-14, row{113, 114, 113, 113, 113}},
		{"next above 6·2^-14", nextUp(6 * 0x1p-14), row{114, 114, 113, 114, 113}},
		{"6e-4", 6e-4, row{114, 114, 114, 114, 113}},
		{"1", 1, row{125, 125, 125, 125, 124}},
		{"6", 6, row{127, 127, 127, 127, 127}},
		{"next above 6", nextUp(6), row{128, 128, 127, 128, 127}},
		{"8 (worked example)", 8, row{128, 128, 128, 128, 127}},
		{"12", 12, row{128, 128, 128, 128, 128}},
		{"smallest subnormal", f32(1), row{112, 114, 0, 0, 0}},
		{"2^-125 (ocp clamps)", 0x1p-125, row{112, 114, 0, 0, 0}},
		{"2^-123", 0x1p-123, row{112, 114, 2, 2, 1}},
		{"6·2^-127 (rp of 2^-127)", 6 * 0x1p-127, row{112, 114, 0, 0, 0}},
		{"next above 6·2^-127 (quotient still rounds to 2^-127)", nextUp(6 * 0x1p-127), row{112, 114, 0, 0, 0}},
		{"two above 6·2^-127", nextUp(nextUp(6 * 0x1p-127)), row{112, 114, 0, 1, 0}},
		{"1.5·2^127", 0x1p127 * 1.5, row{252, 252, 252, 252, 252}},
	}
	for _, c := range cases {
		for i, v := range Variants() {
			if got := v.FromAmax(c.amax); got != c.want[i] {
				t.Errorf("%s: %v.FromAmax(0x%08X) = %d, want %d", c.name, v, bitsOf(c.amax), got, c.want[i])
			}
			if got := OracleFromAmax(v, c.amax); got != c.want[i] {
				t.Errorf("%s: OracleFromAmax(%v, 0x%08X) = %d, want %d", c.name, v, bitsOf(c.amax), got, c.want[i])
			}
		}
	}
	// rz(amax/6) is not ocp-floor: amax = 8 gives rz 127, ocp-floor 128.
	if HardwareRZ.FromAmax(8) != 127 || OCPFloor.FromAmax(8) != 128 || HardwareRP.FromAmax(8) != 128 {
		t.Error("amax = 8: want rz 127, ocp-floor 128, rp 128")
	}
}

// TestFromAmaxPowers walks amax = 3·2^k and 6·2^k ± 1 ulp over every k that
// gives a finite float32, against hand formulas (for the normal range) and the
// oracle (everywhere).
func TestFromAmaxPowers(t *testing.T) {
	for k := -152; k <= 126; k++ {
		six := float32(math.Ldexp(6, k))
		three := float32(math.Ldexp(3, k))
		for _, amax := range []float32{three, nextDown(three), nextUp(three), six, nextDown(six), nextUp(six)} {
			if amax == 0 || amax > math.MaxFloat32 {
				continue
			}
			for _, v := range Variants() {
				if got, want := v.FromAmax(amax), OracleFromAmax(v, amax); got != want {
					t.Errorf("k=%d %v.FromAmax(0x%08X) = %d, oracle %d", k, v, bitsOf(amax), got, want)
				}
			}
		}
		if k < -12 || k > 125 {
			continue // the floor or the subnormal range: covered by the oracle only
		}
		e := Scale(127 + k)
		hand := []struct {
			amax float32
			want [5]Scale // CUDA Triton OCP RP RZ
		}{
			{six, [5]Scale{e, e, e, e, e}},
			{nextUp(six), [5]Scale{e + 1, e + 1, e, e + 1, e}},
			{nextDown(six), [5]Scale{e, e, e, e, e - 1}},
			{three, [5]Scale{e - 1, e - 1, e - 1, e - 1, e - 1}},
		}
		for _, h := range hand {
			for i, v := range Variants() {
				if got := v.FromAmax(h.amax); got != h.want[i] {
					t.Errorf("k=%d %v.FromAmax(%g) = %d, want %d", k, v, h.amax, got, h.want[i])
				}
			}
		}
	}
}

// boundary is 6·2^-14: CUDA and Triton differ at or below it and agree above.
const boundary float32 = 6 * 0x1p-14

func checkBoundary(t *testing.T, u uint32) bool {
	amax := f32(u)
	c, tr := CUDA.FromAmax(amax), Triton.FromAmax(amax)
	switch {
	case amax != amax: // NaN: both drop it
		if c != 112 || tr != 114 {
			t.Errorf("NaN 0x%08X: CUDA %d, Triton %d", u, c, tr)
			return false
		}
	case amax == inf:
		if c != 255 || tr != 254 {
			t.Errorf("+Inf: CUDA %d, Triton %d", c, tr)
			return false
		}
	case amax > boundary:
		if c != tr {
			t.Errorf("amax 0x%08X (%g) > 6·2^-14: CUDA %d, Triton %d differ", u, amax, c, tr)
			return false
		}
	default:
		if tr != 114 || (c != 112 && c != 113) {
			t.Errorf("amax 0x%08X (%g) ≤ 6·2^-14: CUDA %d, Triton %d (want 112/113 and 114)", u, amax, c, tr)
			return false
		}
	}
	return true
}

// TestCUDATritonBoundary proves SPEC §3's claim on the non-negative float32
// amax values (the kernels' maxima are never negative): every pattern with
// FP4INDEXER_LONG=1; by default every 61st pattern up to 4·6·2^-14, every
// pattern within 2^16 ulps of 6·2^-14, and a stride through the rest.
func TestCUDATritonBoundary(t *testing.T) {
	if long() {
		bad := 0
		parallelRange(0, 1<<31, 0, func(a, b uint64) {
			for u := a; u < b; u++ {
				amax := f32(uint32(u))
				c, tr := CUDA.FromAmax(amax), Triton.FromAmax(amax)
				agree := c == tr
				finiteAbove := amax > boundary && amax != inf
				if agree != finiteAbove {
					bad++ // racy count is fine: any non-zero fails
					checkBoundary(t, uint32(u))
				}
			}
		})
		if bad != 0 {
			t.Fatalf("%d violations", bad)
		}
		return
	}
	top := bitsOf(4 * boundary)
	for u := uint32(0); u <= top; u += 61 {
		if !checkBoundary(t, u) {
			return
		}
	}
	b := bitsOf(boundary)
	for u := b - 1<<16; u <= b+1<<16; u++ {
		if !checkBoundary(t, u) {
			return
		}
	}
	for u := uint64(0); u < 1<<31; u += 4099 {
		if !checkBoundary(t, uint32(u)) {
			return
		}
	}
	checkBoundary(t, 0x7F800000)
	checkBoundary(t, 0x7FC00000)
}

// TestFromAmaxOracle compares FromAmax with the oracle: all 2^32 patterns per
// variant with FP4INDEXER_LONG=1, else dense windows and a stride.
func TestFromAmaxOracle(t *testing.T) {
	if long() {
		for _, v := range Variants() {
			start := time.Now()
			r, err := SweepAmax(v, 0, 1<<32, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v: %d amax patterns, %d mismatches, %v", v, r.Checked, r.Mismatches, time.Since(start).Round(time.Millisecond))
			if r.Checked != 1<<32 || r.Mismatches != 0 {
				t.Errorf("%v: %d mismatches: %v", v, r.Mismatches, r.First)
			}
		}
		return
	}
	windows := [][2]uint64{
		{0, 1 << 20}, // zero and the small subnormals
		{0x00400000 * 6 / 8, 0x00400000*6/8 + 1<<21}, // 6·2^-127 neighbourhood (rp/rz subnormal quotients)
		{0x00C00000 - 1<<19, 0x00C00000 + 1<<19},     // subnormal/normal amax boundary
		{uint64(bitsOf(boundary)) - 1<<19, uint64(bitsOf(boundary)) + 1<<19},
		{uint64(bitsOf(amaxFloor)) - 1<<19, uint64(bitsOf(amaxFloor)) + 1<<19},
		{0x7F7FFFFF - 1<<19, 0x7F800000 + 1<<19}, // overflow, Inf, NaN
		{0xFF800000 - 1<<16, 0xFF800000 + 1<<16}, // negative: −Inf and −NaN
	}
	for _, v := range Variants() {
		n := uint64(0)
		for _, w := range windows {
			r, err := SweepAmax(v, w[0], w[1], 0)
			if err != nil {
				t.Fatal(err)
			}
			n += r.Checked
			if r.Mismatches != 0 {
				t.Errorf("%v window [%#x,%#x): %d mismatches: %v", v, w[0], w[1], r.Mismatches, r.First)
			}
		}
		for u := uint64(0); u < 1<<32; u += 1021 {
			n++
			amax := f32(uint32(u))
			if got, want := v.FromAmax(amax), OracleFromAmax(v, amax); got != want {
				t.Fatalf("%v.FromAmax(0x%08X) = %d, oracle %d", v, u, got, want)
			}
		}
		t.Logf("%v: %d amax patterns checked", v, n)
	}
	if _, err := SweepAmax(Variant(7), 0, 1, 1); err == nil {
		t.Error("SweepAmax accepted an unknown variant")
	}
	if _, err := SweepAmax(CUDA, 2, 1, 1); err == nil {
		t.Error("SweepAmax accepted lo > hi")
	}
}

// refAmax is the group maximum from float64 math: NaN skipped (CUDA, Triton,
// starting from 0) or propagated (the others).
func refAmax(v Variant, x []float32) float32 {
	m := 0.0
	for _, e := range x {
		a := math.Abs(float64(e))
		if math.IsNaN(a) {
			if v == CUDA || v == Triton {
				continue
			}
			return float32(math.NaN())
		}
		m = math.Max(m, a)
	}
	return float32(m)
}

func TestAmax(t *testing.T) {
	nanNeg := f32(0xFFC00001)
	cases := [][]float32{
		nil,
		{0, f32(0x80000000)},
		{qNaN, nanNeg, qNaN},
		{1, -3, 2, qNaN},
		{-inf, 5},
		{inf, qNaN},
		{f32(1), -f32(3), f32(2)},
		{-7, 6.5, 7, -7.25, 1e-30},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		x := make([]float32, r.IntN(70))
		for i := range x {
			x[i] = f32(r.Uint32())
			if r.IntN(4) == 0 {
				x[i] = float32(r.NormFloat64())
			}
		}
		cases = append(cases, x)
	}
	for _, x := range cases {
		for _, v := range Variants() {
			got, want := v.Amax(x), refAmax(v, x)
			if (got != got) != (want != want) || (got == got && bitsOf(got) != bitsOf(want)) {
				t.Fatalf("%v.Amax(%v) = 0x%08X, want 0x%08X", v, x, bitsOf(got), bitsOf(want))
			}
		}
	}
	// All-NaN groups: the NaN-ignoring variants give 0, and then SPEC §3's scales.
	allNaN := make([]float32, GroupSize)
	for i := range allNaN {
		allNaN[i] = f32(0x7F800001 + uint32(i)*0x1234 | uint32(i%2)<<31)
	}
	if bitsOf(CUDA.Amax(allNaN)) != 0 || bitsOf(Triton.Amax(allNaN)) != 0 {
		t.Error("all-NaN amax is not +0 for CUDA/Triton")
	}
	if CUDA.FromAmax(CUDA.Amax(allNaN)) != 112 || Triton.FromAmax(Triton.Amax(allNaN)) != 114 {
		t.Error("all-NaN group: want CUDA 112, Triton 114")
	}
	for _, v := range []Variant{OCPFloor, HardwareRP, HardwareRZ} {
		if a := v.Amax(allNaN); a == a || v.FromAmax(a) != NaN {
			t.Errorf("%v: all-NaN group does not give a NaN scale", v)
		}
	}
}

func FuzzFromAmax(f *testing.F) {
	f.Fuzz(func(t *testing.T, amax float32) {
		for _, v := range Variants() {
			if got, want := v.FromAmax(amax), OracleFromAmax(v, amax); got != want {
				t.Fatalf("%v.FromAmax(0x%08X) = %d, oracle %d", v, bitsOf(amax), got, want)
			}
		}
	})
}
