package rmsnorm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func finite32(v ...float32) bool {
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return false
		}
	}
	return true
}

func exactFloat(f float32) *big.Float {
	return new(big.Float).SetPrec(2000).SetFloat64(float64(f))
}

// fmaOracle is a·b + c rounded once to float32 by math/big (non-finite operands:
// float64 gives the non-finite result exactly).
func fmaOracle(a, b, c float32) float32 {
	if !finite32(a, b, c) {
		return float32(math.FMA(float64(a), float64(b), float64(c)))
	}
	p := new(big.Float).SetPrec(2000).Mul(exactFloat(a), exactFloat(b))
	f, _ := p.Add(p, exactFloat(c)).Float32()
	return f
}

func addOracle(a, b float32) float32 {
	if !finite32(a, b) {
		return float32(float64(a) + float64(b))
	}
	f, _ := new(big.Float).SetPrec(2000).Add(exactFloat(a), exactFloat(b)).Float32()
	return f
}

// sumSquaresOracle simulates the whole warp: 32 lane chains, then the five
// shuffle steps for every lane, each operation rounded once by math/big. It
// fails the test if the lanes end with different values.
func sumSquaresOracle(t *testing.T, x []float32) float32 {
	var s [32]float32
	for l := range s {
		for i := 4 * l; i < 4*l+4; i++ {
			s[l] = fmaOracle(x[i], x[i], s[l])
		}
	}
	for mask := 16; mask >= 1; mask >>= 1 {
		var next [32]float32
		for l := range s {
			next[l] = addOracle(s[l], s[l^mask]) // own value + shfl_xor(value, mask)
		}
		s = next
	}
	for l := range s {
		if math.Float32bits(s[l]) != math.Float32bits(s[0]) && !(s[l] != s[l] && s[0] != s[0]) {
			t.Fatalf("lane %d ends with %#08x, lane 0 with %#08x", l, math.Float32bits(s[l]), math.Float32bits(s[0]))
		}
	}
	return s[0]
}

func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func randomRow(r *rand.Rand, kind int) []float32 {
	x := make([]float32, Dim)
	for i := range x {
		switch kind {
		case 0:
			x[i] = float32(r.NormFloat64())
		case 1: // wide magnitudes: squares from subnormal to overflow
			x[i] = float32(math.Ldexp(1+r.Float64(), r.IntN(150)-80))
		case 2: // subnormal and tiny
			x[i] = math.Float32frombits(r.Uint32() & 0x81FFFFFF)
		case 3: // bf16-valued (the unit test's input dtype)
			x[i] = math.Float32frombits(math.Float32bits(float32(r.NormFloat64()*3)) &^ 0xFFFF)
		case 4: // arbitrary bits: NaN, Inf
			x[i] = math.Float32frombits(r.Uint32())
		case 5: // large, sums overflow to Inf
			x[i] = float32(math.Ldexp(r.Float64(), 60+r.IntN(5)))
		}
	}
	return x
}

func TestSumSquares(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for rep := 0; rep < 3000; rep++ {
		x := randomRow(r, rep%6)
		if rep%50 == 7 {
			x = make([]float32, Dim) // all zeros
			x[r.IntN(Dim)] = float32(math.Copysign(0, -1))
		}
		got := SumSquares(x)
		want := sumSquaresOracle(t, x)
		if !sameBits(got, want) {
			t.Fatalf("rep %d: SumSquares = %#08x, oracle %#08x", rep, math.Float32bits(got), math.Float32bits(want))
		}
	}
	if v := SumSquares(make([]float32, 127)); v == v {
		t.Fatalf("SumSquares(len 127) = %g, want NaN", v)
	}
}

// midpointCheck decides m²·x < 1 with float64 error-free transformations, an
// arithmetic independent of the integer code in rsqrt.go: m has at most 26
// significant bits, so mm = m·m is exact; p = fl(mm·x) and e = fma(mm, x, −p) are
// exact with p + e = m²·x (no underflow: m²·x is near 1); p − 1 is exact near 1
// (Sterbenz) and a nonzero sum of two floats never rounds to zero or flips sign,
// so the sign of fl((p−1) + e) is the sign of m²·x − 1.
func midpointBelowOne(m float64, x float32) bool {
	mm := m * m
	p := float64(mm * float64(x))
	e := math.FMA(mm, float64(x), -p)
	if p < 0.5 || p > 2 {
		return p < 1
	}
	return float64(p-1)+e < 0
}

// isCorrectlyRounded checks m−²·x < 1 < m+²·x for r = CorrectlyRounded(x).
func isCorrectlyRounded(x, r float32) bool {
	up := float64(math.Nextafter32(r, float32(math.Inf(1))))
	down := float64(math.Nextafter32(r, 0))
	mPlus := (float64(r) + up) / 2 // exact: a 25-bit value in float64
	mMinus := (float64(r) + down) / 2
	return midpointBelowOne(mMinus, x) && !midpointBelowOne(mPlus, x)
}

// bigRsqrt is 1/√x from math/big: 200-bit square root and quotient, then the
// rounding to float32. The true value is never a float32 midpoint, and
// |m²·x − 1| ≥ 2^-130 for every midpoint m (m²·x is an integer times a power of
// two ≥ 2^-128), so a 200-bit approximation is on the same side of every
// midpoint and rounds the same way.
func bigRsqrt(x float32) float32 {
	z := new(big.Float).SetPrec(200).SetFloat64(float64(x))
	z.Sqrt(z)
	q := new(big.Float).SetPrec(200).Quo(new(big.Float).SetPrec(200).SetInt64(1), z)
	f, _ := q.Float32()
	return f
}

func TestCorrectlyRoundedSpecials(t *testing.T) {
	cr := CorrectlyRounded{}
	for _, c := range []struct{ in, want float32 }{
		{0, float32(math.Inf(1))},
		{float32(math.Copysign(0, -1)), float32(math.Inf(-1))},
		{float32(math.Inf(1)), 0},
		{1, 1},
		{4, 0.5},
		{0.25, 2},
		{math.Float32frombits(1), float32(math.Ldexp(1, 74)) * math.Float32frombits(0x3FB504F3)}, // 2^74.5
		{128, math.Float32frombits(0x3DB504F3)},
	} {
		if got := cr.Rsqrt(c.in); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("Rsqrt(%g) = %#08x, want %#08x", c.in, math.Float32bits(got), math.Float32bits(c.want))
		}
	}
	for _, in := range []float32{-1, float32(math.Inf(-1)), float32(math.NaN()), -math.SmallestNonzeroFloat32} {
		if got := cr.Rsqrt(in); got == got {
			t.Errorf("Rsqrt(%g) = %g, want NaN", in, got)
		}
	}
}

// TestCorrectlyRoundedSample checks every 1021st positive finite float32 (about
// 2.1M values, subnormals included) against the midpoint criterion, and every
// 64th of those against the math/big square root.
func TestCorrectlyRoundedSample(t *testing.T) {
	cr := CorrectlyRounded{}
	naive := 0
	n := 0
	for b := uint32(1); b < 0x7F800000; b += 1021 {
		x := math.Float32frombits(b)
		r := cr.Rsqrt(x)
		if !isCorrectlyRounded(x, r) {
			t.Fatalf("Rsqrt(%#08x) = %#08x fails the midpoint criterion", b, math.Float32bits(r))
		}
		if n%64 == 0 {
			if want := bigRsqrt(x); math.Float32bits(r) != math.Float32bits(want) {
				t.Fatalf("Rsqrt(%#08x) = %#08x, math/big %#08x", b, math.Float32bits(r), math.Float32bits(want))
			}
		}
		if math.Float32bits(r) != math.Float32bits(float32(1/math.Sqrt(float64(x)))) {
			naive++
		}
		n++
	}
	t.Logf("%d inputs; float32(1/math.Sqrt(float64(x))) differs on %d of them", n, naive)
}

// TestCorrectlyRoundedExhaustive checks every positive finite float32 (2^31 −
// 2^23 inputs) against the midpoint criterion. FP4INDEXER_LONG=1 only.
func TestCorrectlyRoundedExhaustive(t *testing.T) {
	if os.Getenv("FP4INDEXER_LONG") != "1" {
		t.Skip("exhaustive rsqrt check over all positive float32: set FP4INDEXER_LONG=1 (about a minute per core)")
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	fail := make(chan uint32, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cr := CorrectlyRounded{}
			for b := uint32(1 + w); b < 0x7F800000; b += uint32(workers) {
				x := math.Float32frombits(b)
				if !isCorrectlyRounded(x, cr.Rsqrt(x)) {
					fail <- b
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(fail)
	for b := range fail {
		t.Errorf("Rsqrt(%#08x) is not correctly rounded", b)
	}
}

// TestNormAgainstFloat64 compares Norm with a float64 recomputation.
//
// Bound. Every term x_i² of the sum is nonnegative and passes through at most
// 4 (lane chain) + 5 (butterfly) roundings, so ŝ = s(1+θ9), |θ9| ≤ γ9. Division
// by 128 is exact (no underflow for these inputs), the fma adds one rounding:
// arg = (s/128 + eps)(1+θ10). The correctly rounded rsqrt gives
// nf = (s/128+eps)^(-1/2)·(1+θ10)^(-1/2)·(1+δ), relative error ≤ 5u + u + O(u²).
// Two more roundings for y: |ŷ − y| ≤ (8u + O(u²))|y| ≤ γ9·|y|. The float64
// reference is off by a few 2^-53, covered by using γ10.
func TestNormAgainstFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const u = 0x1p-24
	gamma := 10 * u / (1 - 10*u)
	dst := make([]float32, Dim)
	for rep := 0; rep < 20000; rep++ {
		x := make([]float32, Dim)
		scale := math.Ldexp(1, r.IntN(40)-20)
		for i := range x {
			x[i] = float32(r.NormFloat64() * scale)
		}
		w := make([]float32, Dim)
		for i := range w {
			w[i] = float32(0.5 + r.Float64())
		}
		eps := DefaultEps
		nf, err := Norm(dst, x, w, eps, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		nf64 := 1 / math.Sqrt(s/128+float64(eps))
		if d := math.Abs(float64(nf) - nf64); d > gamma*nf64 {
			t.Fatalf("nf = %g, float64 %g, relative error %g", nf, nf64, d/nf64)
		}
		for i := range x {
			y := float64(x[i]) * nf64 * float64(w[i])
			if d := math.Abs(float64(dst[i]) - y); d > gamma*math.Abs(y)+0x1p-148 {
				t.Fatalf("y[%d] = %g, float64 %g", i, dst[i], y)
			}
		}
	}
}

// TestNormComposition pins the model's composition with independent oracles:
// nf from the math/big sum and math/big rsqrt, y from float64 products rounded
// once each.
func TestNormComposition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for rep := 0; rep < 500; rep++ {
		x := randomRow(r, rep%4)
		w := randomRow(r, 0)
		eps := DefaultEps
		if rep%5 == 1 {
			eps = 0
		}
		s := sumSquaresOracle(t, x)
		arg := fmaOracle(s, 1.0/128, eps)
		var want float32
		switch {
		case arg == 0:
			want = float32(math.Inf(1))
		case math.IsInf(float64(arg), 1):
			want = 0
		default:
			want = bigRsqrt(arg)
		}
		dst := make([]float32, Dim)
		nf, err := Norm(dst, x, w, eps, CorrectlyRounded{})
		if err != nil {
			t.Fatal(err)
		}
		if !sameBits(nf, want) {
			t.Fatalf("rep %d: nf = %#08x, oracle %#08x", rep, math.Float32bits(nf), math.Float32bits(want))
		}
		for i := range x {
			y := float32(float64(float32(float64(x[i])*float64(nf))) * float64(w[i]))
			if !sameBits(dst[i], y) {
				t.Fatalf("rep %d: y[%d] = %#08x, oracle %#08x", rep, i, math.Float32bits(dst[i]), math.Float32bits(y))
			}
		}
		// NormWithFactor with the same nf, written in place over a copy of x.
		y2 := append([]float32(nil), x...)
		if err := NormWithFactor(y2, y2, w, nf); err != nil {
			t.Fatal(err)
		}
		for i := range y2 {
			if !sameBits(y2[i], dst[i]) {
				t.Fatalf("NormWithFactor[%d] = %#08x, Norm %#08x", i, math.Float32bits(y2[i]), math.Float32bits(dst[i]))
			}
		}
	}
}

func TestShapeErrors(t *testing.T) {
	ok := make([]float32, Dim)
	bad := make([]float32, 64)
	for _, c := range []struct {
		dst, x, w []float32
		want      string
	}{
		{ok, bad, ok, "len(x) = 64, want [128]"},
		{ok, ok, bad, "len(weight) = 64, want [128]"},
		{bad, ok, ok, "len(dst) = 64, want [128]"},
		{ok, nil, ok, "len(x) = 0"},
	} {
		if _, err := Norm(c.dst, c.x, c.w, DefaultEps, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Norm: error %v, want %q", err, c.want)
		}
		if err := NormWithFactor(c.dst, c.x, c.w, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NormWithFactor: error %v, want %q", err, c.want)
		}
	}
}

// TestMeanSquarePlusEps checks the fused form against the unfused
// fl(fl(s/128) + eps) where the doc comment proves them equal (eps = 0 or
// eps ≥ 2^-100), with emphasis on s whose s/128 is inexact (s < 2^-119), and pins
// the tiny-eps counterexample.
func TestMeanSquarePlusEps(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	unfused := func(s, eps float32) float32 { return float32(float32(s/128) + eps) }
	for rep := 0; rep < 1_000_000; rep++ {
		var s float32
		switch rep % 3 {
		case 0:
			s = math.Float32frombits(r.Uint32() & 0x7FFFFFFF) // any s ≥ 0, NaN and Inf included
		default:
			s = math.Float32frombits(r.Uint32N(0x04000000)) // s < 2^-119
		}
		eps := DefaultEps
		switch rep % 4 {
		case 1:
			eps = 0
		case 2:
			eps = math.Float32frombits(0x0D800000 + r.Uint32N(0x7F7FFFFF-0x0D800000)) // ≥ 2^-100
		case 3:
			eps = math.Float32frombits(0x0D800000) // exactly 2^-100
		}
		if got, want := MeanSquarePlusEps(s, eps), unfused(s, eps); !sameBits(got, want) {
			t.Fatalf("s=%#08x eps=%#08x: fused %#08x, unfused %#08x", math.Float32bits(s), math.Float32bits(eps), math.Float32bits(got), math.Float32bits(want))
		}
		if got, want := MeanSquarePlusEps(s, eps), fmaOracle(s, 1.0/128, eps); !sameBits(got, want) {
			t.Fatalf("s=%#08x eps=%#08x: fused %#08x, oracle %#08x", math.Float32bits(s), math.Float32bits(eps), math.Float32bits(got), math.Float32bits(want))
		}
	}
	s, eps := float32(math.Ldexp(1, -143)), float32(math.Ldexp(1, -149))
	if MeanSquarePlusEps(s, eps) != float32(math.Ldexp(1, -148)) || unfused(s, eps) != float32(math.Ldexp(1, -149)) {
		t.Fatalf("tiny eps example: fused %g, unfused %g", MeanSquarePlusEps(s, eps), unfused(s, eps))
	}
}

func TestTable(t *testing.T) {
	corr := make([]int8, TableEntries)
	for i := range corr {
		corr[i] = int8(i%4) - 2 // −2, −1, 0, +1 in turn
	}
	tab, err := NewTable(corr)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if n, err := tab.WriteTo(&buf); err != nil || n != TableBytes {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	if b := buf.Bytes(); b[0] != 0b01_00_11_10 { // entries 0..3 = −2, −1, 0, +1 from the low bits
		t.Fatalf("first byte %#08b, want 0b01001110", b[0])
	}
	loaded, err := LoadTable(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 10))
	cr := CorrectlyRounded{}
	for rep := 0; rep < 100000; rep++ {
		x := math.Float32frombits(r.Uint32N(0x7F800000))
		i, ok := TableIndex(x)
		want := cr.Rsqrt(x)
		if ok {
			if i != (math.Float32bits(x)>>23&1)<<23|math.Float32bits(x)&0x7FFFFF {
				t.Fatalf("TableIndex(%#08x) = %#x", math.Float32bits(x), i)
			}
			want = math.Float32frombits(uint32(int64(math.Float32bits(want)) + int64(corr[i])))
		} else if math.Float32bits(x)>>23 != 0 {
			t.Fatalf("TableIndex(%#08x) not ok for a normal input", math.Float32bits(x))
		}
		if got := loaded.Rsqrt(x); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("Table.Rsqrt(%#08x) = %#08x, want %#08x", math.Float32bits(x), math.Float32bits(got), math.Float32bits(want))
		}
	}
	// A correction crosses a binade: rsqrt(0.25) = 2 exactly, entry −1 gives the
	// float just below 2.
	quarter := float32(0.25)
	qi, _ := TableIndex(quarter)
	corr[qi] = -1
	tab2, _ := NewTable(corr)
	if got := tab2.Rsqrt(quarter); got != math.Nextafter32(2, 0) {
		t.Fatalf("Rsqrt(0.25) with −1 ulp = %g", got)
	}
	for _, x := range []float32{0, -1, float32(math.Inf(1)), float32(math.NaN()), math.Float32frombits(5)} {
		if got, want := tab.Rsqrt(x), cr.Rsqrt(x); !sameBits(got, want) || tab.Correction(x) != 0 {
			t.Errorf("outside the table: Rsqrt(%g) = %g, want %g", x, got, want)
		}
	}
	if _, err := NewTable(corr[:10]); err == nil {
		t.Error("NewTable accepted a short slice")
	}
	corr[3] = 2
	if _, err := NewTable(corr); err == nil || !strings.Contains(err.Error(), "corrections[3] = 2") {
		t.Errorf("NewTable with +2: %v", err)
	}
	if _, err := LoadTable(bytes.NewReader(buf.Bytes()[:100])); err == nil {
		t.Error("LoadTable accepted a short file")
	}
	if _, err := LoadTable(bytes.NewReader(append(buf.Bytes(), 0))); err == nil {
		t.Error("LoadTable accepted a long file")
	}
	// The table plugs into Norm as an Rsqrt.
	x := randomRow(r, 0)
	dst := make([]float32, Dim)
	nf, err := Norm(dst, x, x, DefaultEps, loaded)
	if err != nil || math.Float32bits(nf) != math.Float32bits(loaded.Rsqrt(MeanSquarePlusEps(SumSquares(x), DefaultEps))) {
		t.Fatalf("Norm with a table: nf %g, %v", nf, err)
	}
}

func BenchmarkSumSquares128(b *testing.B) {
	var x [Dim]float32
	copy(x[:], randomRow(rand.New(rand.NewPCG(1, 1)), 0))
	b.SetBytes(4 * Dim)
	for b.Loop() {
		_ = SumSquares128(&x)
	}
}

func BenchmarkNorm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w := randomRow(r, 0), randomRow(r, 0)
	dst := make([]float32, Dim)
	b.SetBytes(4 * Dim)
	for b.Loop() {
		if _, err := Norm(dst, x, w, DefaultEps, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormWithFactor(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, w := randomRow(r, 0), randomRow(r, 0)
	dst := make([]float32, Dim)
	b.SetBytes(4 * Dim)
	for b.Loop() {
		if err := NormWithFactor(dst, x, w, 0.75); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCorrectlyRounded(b *testing.B) {
	x := float32(1.2345)
	var sink float32
	for b.Loop() {
		sink += CorrectlyRounded{}.Rsqrt(x)
		x = math.Nextafter32(x, 2)
	}
	_ = sink
}

// TestFixUp starts the fix-up from guesses up to 3 ulps off on both sides: the
// float64 guess is almost always right already, so this is where the
// correction steps are exercised.
func TestFixUp(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for rep := 0; rep < 200000; rep++ {
		x := math.Float32frombits(1 + r.Uint32N(0x7F7FFFFF))
		want := CorrectlyRounded{}.Rsqrt(x)
		off := int32(r.IntN(7)) - 3
		guess := math.Float32frombits(uint32(int32(math.Float32bits(want)) + off))
		if got := fixUp(x, guess); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fixUp(%#08x, guess %+d ulps) = %#08x, want %#08x", math.Float32bits(x), off, math.Float32bits(got), math.Float32bits(want))
		}
	}
}

func TestDeviceTableDigest(t *testing.T) {
	sum := sha256.Sum256(rsqrtSM90)
	if got := hex.EncodeToString(sum[:]); got != "f7a5a5b00a25a34a08f72620d8015fea11d0a4eab569b4f3f574a12e27fe2f7f" {
		t.Fatalf("embedded rsqrt_sm90.bin has SHA-256 %s", got)
	}
}

// Values read off the H100 (cuda/README.md): the runtime rsqrtf(128), rsqrtf(1e-6)
// and the specials of the non-FTZ lowering.
func TestDeviceSM90Specials(t *testing.T) {
	d := DeviceSM90()
	sub := math.Float32frombits(0x00012345)
	cases := []struct {
		x    float32
		want uint32
	}{
		{128, 0x3DB504F2},
		{1e-6, 0x447A0000},
		{0, 0x7F800000},
		{float32(math.Copysign(0, -1)), 0xFF800000},
		{float32(math.Inf(1)), 0},
		{float32(math.Inf(-1)), 0x7FFFFFFF},
		{-1, 0x7FFFFFFF},
		{float32(math.NaN()), 0x7FFFFFFF},
		{sub, math.Float32bits(float32(d.Rsqrt(float32(sub*(1<<24))) * (1 << 12)))},
	}
	for _, c := range cases {
		if got := math.Float32bits(d.Rsqrt(c.x)); got != c.want {
			t.Errorf("DeviceSM90().Rsqrt(%g) = %#08x, want %#08x", c.x, got, c.want)
		}
	}
}
