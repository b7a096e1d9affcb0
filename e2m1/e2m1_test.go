package e2m1

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

var (
	encThreshold = Encoder{}
	encRNE       = Encoder{Mode: RNE}
	encRNESigned = Encoder{Mode: RNE, NaN: NaNSignedZero}
	encRNEZero   = Encoder{Mode: RNE, NaN: NaNZero}
	allEncoders  = []Encoder{encThreshold, encRNE, encRNESigned, encRNEZero}
)

func long() bool { return os.Getenv("FP4INDEXER_LONG") == "1" }

func f32(b uint32) float32 { return math.Float32frombits(b) }

func bitsOf(v float32) uint32 { return math.Float32bits(v) }

func nextUp(v float32) float32   { return math.Nextafter32(v, float32(math.Inf(1))) }
func nextDown(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(-1))) }

// TestNamedCases checks every case SPEC §2 names, by hand: the seven ties of
// both signs, the exact magnitudes, their float32 neighbours, saturation,
// signed zero, tiny negatives, subnormals, infinities and NaNs with payloads.
func TestNamedCases(t *testing.T) {
	type want struct {
		threshold, rne, rneSigned, rneZero Code
	}
	same := func(thr, rne Code) want { return want{thr, rne, rne, rne} }
	cases := []struct {
		name string
		bits uint32
		want want
	}{
		{"+0", 0x00000000, same(0x0, 0x0)},
		{"-0", 0x80000000, same(0x0, 0x8)},
		{"smallest subnormal", 0x00000001, same(0x0, 0x0)},
		{"-smallest subnormal", 0x80000001, same(0x0, 0x8)},
		{"-largest subnormal", 0x807FFFFF, same(0x0, 0x8)},
		{"-smallest normal", 0x80800000, same(0x0, 0x8)},
		{"-0.1", bitsOf(-0.1), same(0x0, 0x8)},
		// The seven ties: threshold goes down, RNE to the even code.
		{"0.25", bitsOf(0.25), same(0x0, 0x0)},
		{"-0.25", bitsOf(-0.25), same(0x0, 0x8)},
		{"0.75", bitsOf(0.75), same(0x1, 0x2)},
		{"-0.75", bitsOf(-0.75), same(0x9, 0xA)},
		{"1.25", bitsOf(1.25), same(0x2, 0x2)},
		{"-1.25", bitsOf(-1.25), same(0xA, 0xA)},
		{"1.75", bitsOf(1.75), same(0x3, 0x4)},
		{"-1.75", bitsOf(-1.75), same(0xB, 0xC)},
		{"2.5", bitsOf(2.5), same(0x4, 0x4)},
		{"-2.5", bitsOf(-2.5), same(0xC, 0xC)},
		{"3.5", bitsOf(3.5), same(0x5, 0x6)},
		{"-3.5", bitsOf(-3.5), same(0xD, 0xE)},
		{"5", bitsOf(5), same(0x6, 0x6)},
		{"-5", bitsOf(-5), same(0xE, 0xE)},
		// One ulp either side of each tie.
		{"0.25-", bitsOf(nextDown(0.25)), same(0x0, 0x0)},
		{"0.25+", bitsOf(nextUp(0.25)), same(0x1, 0x1)},
		{"-0.25-", bitsOf(-nextDown(0.25)), same(0x0, 0x8)},
		{"-0.25+", bitsOf(-nextUp(0.25)), same(0x9, 0x9)},
		{"0.75-", bitsOf(nextDown(0.75)), same(0x1, 0x1)},
		{"0.75+", bitsOf(nextUp(0.75)), same(0x2, 0x2)},
		{"1.25-", bitsOf(nextDown(1.25)), same(0x2, 0x2)},
		{"1.25+", bitsOf(nextUp(1.25)), same(0x3, 0x3)},
		{"1.75-", bitsOf(nextDown(1.75)), same(0x3, 0x3)},
		{"1.75+", bitsOf(nextUp(1.75)), same(0x4, 0x4)},
		{"2.5-", bitsOf(nextDown(2.5)), same(0x4, 0x4)},
		{"2.5+", bitsOf(nextUp(2.5)), same(0x5, 0x5)},
		{"3.5-", bitsOf(nextDown(3.5)), same(0x5, 0x5)},
		{"3.5+", bitsOf(nextUp(3.5)), same(0x6, 0x6)},
		{"-3.5+", bitsOf(-nextUp(3.5)), same(0xE, 0xE)},
		{"5-", bitsOf(nextDown(5)), same(0x6, 0x6)},
		{"5+", bitsOf(nextUp(5)), same(0x7, 0x7)},
		// The magnitudes themselves.
		{"0.5", bitsOf(0.5), same(0x1, 0x1)},
		{"1", bitsOf(1), same(0x2, 0x2)},
		{"1.5", bitsOf(1.5), same(0x3, 0x3)},
		{"2", bitsOf(2), same(0x4, 0x4)},
		{"3", bitsOf(3), same(0x5, 0x5)},
		{"4", bitsOf(4), same(0x6, 0x6)},
		{"-4", bitsOf(-4), same(0xE, 0xE)},
		// Saturation.
		{"6", bitsOf(6), same(0x7, 0x7)},
		{"-6", bitsOf(-6), same(0xF, 0xF)},
		{"7", bitsOf(7), same(0x7, 0x7)},
		{"-7", bitsOf(-7), same(0xF, 0xF)},
		{"1e30", bitsOf(1e30), same(0x7, 0x7)},
		{"-1e30", bitsOf(-1e30), same(0xF, 0xF)},
		{"MaxFloat32", 0x7F7FFFFF, same(0x7, 0x7)},
		{"-MaxFloat32", 0xFF7FFFFF, same(0xF, 0xF)},
		{"+Inf", 0x7F800000, same(0x7, 0x7)},
		{"-Inf", 0xFF800000, same(0xF, 0xF)},
		// NaN: threshold always 0x7; RNE by policy.
		{"+qNaN", 0x7FC00000, want{0x7, 0x7, 0x8, 0x0}},
		{"-qNaN", 0xFFC00000, want{0x7, 0x7, 0x0, 0x0}},
		{"+sNaN payload 1", 0x7F800001, want{0x7, 0x7, 0x8, 0x0}},
		{"-sNaN payload 1", 0xFF800001, want{0x7, 0x7, 0x0, 0x0}},
		{"+NaN all ones", 0x7FFFFFFF, want{0x7, 0x7, 0x8, 0x0}},
		{"-NaN all ones", 0xFFFFFFFF, want{0x7, 0x7, 0x0, 0x0}},
		{"GPU canonical NaN", 0x7FFFFFFF, want{0x7, 0x7, 0x8, 0x0}},
		{"+NaN payload 0x123456", 0x7FD23456, want{0x7, 0x7, 0x8, 0x0}},
	}
	for _, c := range cases {
		v := f32(c.bits)
		wants := []Code{c.want.threshold, c.want.rne, c.want.rneSigned, c.want.rneZero}
		for i, e := range allEncoders {
			if got := e.Encode(v); got != wants[i] {
				t.Errorf("%s (0x%08X) %v: Encode = %v, want %v", c.name, c.bits, e, got, wants[i])
			}
			if got := OracleEncode(v, e); got != wants[i] {
				t.Errorf("%s (0x%08X) %v: OracleEncode = %v, want %v", c.name, c.bits, e, got, wants[i])
			}
		}
		if got := Fromfloat32(v); got != c.want.threshold {
			t.Errorf("%s: Fromfloat32 = %v, want %v", c.name, got, c.want.threshold)
		}
	}
}

// TestModesDiffer checks SPEC §2's claim that the modes differ exactly on the
// ties ±0.75, ±1.75, ±3.5, on negatives that round to zero, and on NaN, over
// every bf16 bit pattern.
func TestModesDiffer(t *testing.T) {
	for b := range uint32(1 << 16) {
		u := b << 16
		v := f32(u)
		a := math.Abs(float64(v))
		expectDiff := a == 0.75 || a == 1.75 || a == 3.5 ||
			(math.Signbit(float64(v)) && a <= 0.25)
		differ := encThreshold.Encode(v) != encRNE.Encode(v)
		if v != v {
			// NaN: equal under NaNMax, different under the other two policies.
			thr := encThreshold.Encode(v)
			if differ || thr == encRNESigned.Encode(v) || thr == encRNEZero.Encode(v) {
				t.Errorf("NaN 0x%08X: modes agree or differ against the NaN policies", u)
			}
			continue
		}
		if differ != expectDiff {
			t.Errorf("0x%08X (%g): modes differ = %v, SPEC says %v", u, v, differ, expectDiff)
		}
	}
}

// TestExhaustiveBF16 compares Encode with the oracle on every bf16 value (a
// float32 whose low 16 bits are zero) under every encoder.
func TestExhaustiveBF16(t *testing.T) {
	for _, e := range allEncoders {
		for b := range uint32(1 << 16) {
			v := f32(b << 16)
			if got, want := e.Encode(v), OracleEncode(v, e); got != want {
				t.Fatalf("%v: bf16 0x%04X (%g): Encode %v, oracle %v", e, b, v, got, want)
			}
		}
	}
}

// TestAllNaNs checks every NaN bit pattern (both signs, every payload) under
// every encoder against the oracle.
func TestAllNaNs(t *testing.T) {
	for _, e := range allEncoders {
		for _, sign := range []uint32{0, 1 << 31} {
			wantCode := OracleEncode(f32(sign|0x7FC00000), e)
			for m := uint32(1); m < 1<<23; m++ {
				u := sign | 0x7F800000 | m
				if got := e.Encode(f32(u)); got != wantCode {
					t.Fatalf("%v: NaN 0x%08X: Encode %v, want %v", e, u, got, wantCode)
				}
			}
		}
	}
}

// TestRNEPoliciesOnlyDifferOnNaN proves that the three RNE tables agree on
// every index a non-NaN float32 can produce, so the full float32 sweep of one
// RNE policy plus TestAllNaNs covers all three.
func TestRNEPoliciesOnlyDifferOnNaN(t *testing.T) {
	for sign := uint32(0); sign < 2; sign++ {
		// Finite and infinite values have abs ≤ 0x7F800000, so k ≤ 0x3FC.
		for k := uint32(0); k <= 0x3FC; k++ {
			for exact := uint32(0); exact < 2; exact++ {
				i := sign<<12 | k<<1 | exact
				if encodeTables[1][i] != encodeTables[2][i] || encodeTables[1][i] != encodeTables[3][i] {
					t.Errorf("index %#x: RNE tables differ on a non-NaN index", i)
				}
			}
		}
	}
}

// sampledPatterns visits a spread of float32 bit patterns: a stride through
// all 2^32 and a dense window around every threshold, magnitude, zero,
// the subnormal boundary, MaxFloat32 and Inf, both signs.
func sampledPatterns(visit func(u uint32)) {
	const stride = 257
	for u := uint64(0); u < 1<<32; u += stride {
		visit(uint32(u))
	}
	centres := []uint32{0, 0x00800000, 0x7F7FFFFF, 0x7F800000}
	for _, m := range oracleMagnitudes {
		centres = append(centres, bitsOf(float32(m)))
	}
	for _, th := range []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5} {
		centres = append(centres, bitsOf(th))
	}
	const window = 1 << 12
	for _, c := range centres {
		for d := -int64(window); d <= window; d++ {
			u := int64(c) + d
			if u < 0 || u > 0x7FFFFFFF {
				continue
			}
			visit(uint32(u))
			visit(uint32(u) | 1<<31)
		}
	}
}

func TestSampledFloat32(t *testing.T) {
	if long() {
		t.Skip("FP4INDEXER_LONG=1: TestAllFloat32 covers every pattern")
	}
	for _, e := range []Encoder{encThreshold, encRNE} {
		n, bad := 0, 0
		sampledPatterns(func(u uint32) {
			n++
			v := f32(u)
			if got, want := e.Encode(v), OracleEncode(v, e); got != want {
				if bad++; bad <= 10 {
					t.Errorf("%v: 0x%08X (%g): Encode %v, oracle %v", e, u, v, got, want)
				}
			}
		})
		t.Logf("%v: %d sampled float32 patterns, %d mismatches", e, n, bad)
	}
}

// TestAllFloat32 is the exhaustive proof: all 2^32 float32 bit patterns in both
// modes against the oracle, on all cores. It runs only with FP4INDEXER_LONG=1.
func TestAllFloat32(t *testing.T) {
	if !long() {
		t.Skip("set FP4INDEXER_LONG=1 to compare all 2^32 float32 values with the oracle in both modes")
	}
	for _, e := range []Encoder{encThreshold, encRNE} {
		start := time.Now()
		r, err := Sweep(e, 0, 1<<32, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %d patterns, %d mismatches, %v", e, r.Checked, r.Mismatches, time.Since(start).Round(time.Millisecond))
		if r.Checked != 1<<32 || r.Mismatches != 0 {
			t.Errorf("%v: checked %d, mismatches %d: %v", e, r.Checked, r.Mismatches, r.First)
		}
	}
}

func TestSweepReportsMismatches(t *testing.T) {
	r, err := Sweep(encThreshold, 0x3F400000-2, 0x3F400000+3, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Checked != 5 || r.Mismatches != 0 {
		t.Errorf("Sweep around 0.75: %+v", r)
	}
	if _, err := Sweep(encThreshold, 5, 4, 1); err == nil {
		t.Error("Sweep accepted lo > hi")
	}
	if _, err := Sweep(encThreshold, 0, 1<<32+1, 1); err == nil {
		t.Error("Sweep accepted hi > 2^32")
	}
	if _, err := Sweep(Encoder{Mode: 7}, 0, 1, 1); err == nil {
		t.Error("Sweep accepted an invalid Encoder")
	}
}

func TestFloat32(t *testing.T) {
	want := [16]uint32{
		0x00000000, 0x3F000000, 0x3F800000, 0x3FC00000, 0x40000000, 0x40400000, 0x40800000, 0x40C00000,
		0x80000000, 0xBF000000, 0xBF800000, 0xBFC00000, 0xC0000000, 0xC0400000, 0xC0800000, 0xC0C00000,
	}
	for c := range Code(16) {
		if got := bitsOf(c.Float32()); got != want[c] {
			t.Errorf("Code %v: Float32 bits 0x%08X, want 0x%08X", c, got, want[c])
		}
		if got := bitsOf((c | 0xF0).Float32()); got != want[c] {
			t.Errorf("Code 0x%X: high bits not ignored", uint8(c|0xF0))
		}
		// Every code round-trips through its value, except −0 in threshold mode.
		wantThr := c
		if c == 0x8 {
			wantThr = 0x0
		}
		if got := Fromfloat32(c.Float32()); got != wantThr {
			t.Errorf("threshold: Encode(%v.Float32()) = %v, want %v", c, got, wantThr)
		}
		if got := encRNE.Encode(c.Float32()); got != c {
			t.Errorf("rne: Encode(%v.Float32()) = %v", c, got)
		}
		if c.Bits() != uint8(c) || c.Signbit() != (c >= 8) || c.Index() != int(c&7) {
			t.Errorf("Code %v: accessors disagree", c)
		}
		if Frombits(uint8(c)|0xA0) != c {
			t.Errorf("Frombits(0x%X) kept high bits", uint8(c)|0xA0)
		}
	}
}

func TestPackUnpack(t *testing.T) {
	// Asymmetric pairs: a swapped nibble order changes every byte.
	codes := []Code{0x1, 0xE, 0x0, 0x7, 0x8, 0x3, 0xF, 0x9}
	packed := make([]byte, 4)
	if err := Pack(packed, codes); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xE1, 0x70, 0x38, 0x9F}; string(packed) != string(want) {
		t.Errorf("Pack = % X, want % X", packed, want)
	}
	// Every byte value round-trips, and Unpack puts the low nibble first.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	un := make([]Code, 512)
	if err := Unpack(un, all); err != nil {
		t.Fatal(err)
	}
	for i := range 256 {
		if un[2*i] != Code(i&0xF) || un[2*i+1] != Code(i>>4) {
			t.Fatalf("Unpack byte 0x%02X = %v %v", i, un[2*i], un[2*i+1])
		}
	}
	re := make([]byte, 256)
	if err := Pack(re, un); err != nil {
		t.Fatal(err)
	}
	if string(re) != string(all) {
		t.Error("Pack(Unpack(b)) != b")
	}
	// Empty input is fine.
	if err := Pack(nil, nil); err != nil {
		t.Error(err)
	}
	if err := Unpack(nil, nil); err != nil {
		t.Error(err)
	}
}

func TestPackErrors(t *testing.T) {
	if err := Pack(make([]byte, 1), []Code{1, 2, 3}); err == nil {
		t.Error("Pack accepted an odd count")
	}
	if err := Pack(make([]byte, 2), []Code{1, 2}); err == nil {
		t.Error("Pack accepted a long dst")
	}
	if err := Pack(make([]byte, 1), []Code{1, 0x10}); err == nil {
		t.Error("Pack accepted a code above 0xF")
	}
	if err := Unpack(make([]Code, 3), []byte{1, 2}); err == nil {
		t.Error("Unpack accepted a short dst")
	}
	if err := encThreshold.PackScaled(make([]byte, 1), make([]float32, 3), 1); err == nil {
		t.Error("PackScaled accepted an odd count")
	}
	if err := encThreshold.PackScaled(make([]byte, 1), make([]float32, 4), 1); err == nil {
		t.Error("PackScaled accepted a short dst")
	}
	if err := (Encoder{NaN: 9}).PackScaled(make([]byte, 1), make([]float32, 2), 1); err == nil {
		t.Error("PackScaled accepted an invalid encoder")
	}
	if err := encThreshold.EncodeSlice(make([]Code, 1), make([]float32, 2)); err == nil {
		t.Error("EncodeSlice accepted mismatched lengths")
	}
	if err := (Encoder{Mode: 2}).EncodeSlice(nil, nil); err == nil {
		t.Error("EncodeSlice accepted an invalid encoder")
	}
}

// randomFloats mixes uniform bit patterns with values near the code range.
func randomFloats(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(3) {
		case 0:
			x[i] = f32(r.Uint32())
		case 1:
			x[i] = float32(r.NormFloat64() * 3)
		default:
			x[i] = float32(r.IntN(57)-28) * 0.25 // ties and magnitudes
		}
	}
	return x
}

func TestPackScaled(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randomFloats(r, 4096)
	for _, e := range allEncoders {
		for _, f := range []float32{1, 0.5, 2, 0x1p-127, 0x1p127, 0x1p-149, 3, -1, 0, float32(math.Inf(-1))} {
			got := make([]byte, len(x)/2)
			if err := e.PackScaled(got, x, f); err != nil {
				t.Fatal(err)
			}
			codes := make([]Code, len(x))
			for i, v := range x {
				codes[i] = OracleEncode(float32(v*f), e)
			}
			want := make([]byte, len(x)/2)
			if err := Pack(want, codes); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%v f=%g: byte %d = 0x%02X, want 0x%02X (x = %g, %g)", e, f, i, got[i], want[i], x[2*i], x[2*i+1])
				}
			}
		}
	}
}

func TestEncodeSlice(t *testing.T) {
	x := []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8}
	got := make([]Code, len(x))
	if err := encThreshold.EncodeSlice(got, x); err != nil {
		t.Fatal(err)
	}
	want := []Code{0xF, 0xF, 0xD, 0xB, 0x0, 0x1, 0x4, 0x7}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("EncodeSlice = %v, want %v", got, want)
	}
}

func TestNamesAndValidate(t *testing.T) {
	for _, m := range []Mode{Threshold, RNE} {
		if p, err := ParseMode(m.String()); err != nil || p != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), p, err)
		}
	}
	for _, n := range []NaNPolicy{NaNMax, NaNSignedZero, NaNZero} {
		if p, err := ParseNaNPolicy(n.String()); err != nil || p != n {
			t.Errorf("ParseNaNPolicy(%q) = %v, %v", n.String(), p, err)
		}
	}
	if _, err := ParseMode("rtz"); err == nil {
		t.Error("ParseMode accepted rtz")
	}
	if _, err := ParseNaNPolicy("nan"); err == nil {
		t.Error("ParseNaNPolicy accepted nan")
	}
	for _, e := range allEncoders {
		if err := e.Validate(); err != nil {
			t.Error(err)
		}
	}
	if (Encoder{Mode: 2}).Validate() == nil || (Encoder{NaN: 3}).Validate() == nil {
		t.Error("Validate accepted out-of-range fields")
	}
	// Invalid fields encode like zero fields (documented; never a panic).
	if (Encoder{Mode: 9}).Encode(0.75) != 0x1 || (Encoder{Mode: RNE, NaN: 9}).Encode(float32(math.NaN())) != 0x7 {
		t.Error("invalid Encoder fields do not fall back to the zero value")
	}
	if got := (Encoder{Mode: RNE, NaN: NaNSignedZero}).String(); got != "rne/signed-zero" {
		t.Errorf("String = %q", got)
	}
	if Mode(5).String() != "Mode(5)" || NaNPolicy(5).String() != "NaNPolicy(5)" {
		t.Error("String of unknown values")
	}
}

func FuzzEncode(f *testing.F) {
	f.Fuzz(func(t *testing.T, v float32) {
		for _, e := range allEncoders {
			if got, want := e.Encode(v), OracleEncode(v, e); got != want {
				t.Fatalf("%v: 0x%08X (%g): Encode %v, oracle %v", e, bitsOf(v), v, got, want)
			}
		}
	})
}
