package fma

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// exactPrec holds a*b+c exactly for any finite float32 triple: the sum spans at
// most from 2^128 (c) down to 2^-298 (the lowest bit of a subnormal product).
const exactPrec = 1024

// oracle computes a*b+c with math/big: the exact value, then big.Float.Float32,
// which rounds to nearest even with float32's exponent range, subnormals
// included (it rounds a value at exactly half of the smallest subnormal to even,
// i.e. zero). Specials are decided by the IEEE 754 rules spelled out here, not by
// float64 arithmetic.
func oracle(a, b, c float32) float32 {
	fa, fb, fc := float64(a), float64(b), float64(c)
	if math.IsNaN(fa) || math.IsNaN(fb) || math.IsNaN(fc) {
		return float32(math.NaN())
	}
	prodInf := math.IsInf(fa, 0) || math.IsInf(fb, 0)
	if prodInf && (a == 0 || b == 0) {
		return float32(math.NaN())
	}
	prodNeg := math.Signbit(fa) != math.Signbit(fb)
	if prodInf {
		if math.IsInf(fc, 0) && math.Signbit(fc) != prodNeg {
			return float32(math.NaN())
		}
		if prodNeg {
			return float32(math.Inf(-1))
		}
		return float32(math.Inf(1))
	}
	if math.IsInf(fc, 0) {
		return c
	}
	x := new(big.Float).SetPrec(exactPrec).SetFloat64(fa)
	y := new(big.Float).SetPrec(exactPrec).SetFloat64(fb)
	z := new(big.Float).SetPrec(exactPrec).SetFloat64(fc)
	p := new(big.Float).SetPrec(exactPrec).Mul(x, y)
	s := new(big.Float).SetPrec(exactPrec).Add(p, z)
	if p.Acc() != big.Exact || s.Acc() != big.Exact {
		panic(fmt.Sprintf("oracle lost precision for %v*%v+%v", a, b, c))
	}
	if s.Sign() == 0 {
		// Exact zero: IEEE round to nearest gives -0 only for (-0) + (-0).
		if p.Signbit() && z.Signbit() {
			return float32(math.Copysign(0, -1))
		}
		return 0
	}
	r, _ := s.Float32()
	return r
}

// sameBits compares FMA32's result got with want: bit for bit, except that any
// NaN want (the oracle's NaNs carry no payload contract) asks for CanonicalNaN.
func sameBits(got, want float32) bool {
	if want != want {
		return math.Float32bits(got) == CanonicalNaN
	}
	return math.Float32bits(got) == math.Float32bits(want)
}

func check(t *testing.T, a, b, c float32) {
	t.Helper()
	got, want := FMA32(a, b, c), oracle(a, b, c)
	if !sameBits(got, want) {
		t.Errorf("FMA32(%#08x, %#08x, %#08x) = %#08x (%g), want %#08x (%g)",
			math.Float32bits(a), math.Float32bits(b), math.Float32bits(c),
			math.Float32bits(got), got, math.Float32bits(want), want)
	}
}

func pow2(e int) float32 { return float32(math.Ldexp(1, e)) }

var (
	negZero = float32(math.Copysign(0, -1))
	inf     = float32(math.Inf(1))
	nan     = float32(math.NaN())
	maxF    = float32(math.MaxFloat32)
	minSub  = float32(math.SmallestNonzeroFloat32)
	minNorm = pow2(-126)
)

// TestNamed checks hand-derived results, so the oracle itself is checked too.
func TestNamed(t *testing.T) {
	one := float32(1)
	k12 := 1 + pow2(-12)
	tests := []struct {
		name    string
		a, b, c float32
		want    uint32
	}{
		// (1+2^-12)^2 = 1 + 2^-11 + 2^-24: a float32 midpoint; ties to even.
		{"midpoint, e=0", k12, k12, 0, math.Float32bits(1 + pow2(-11))},
		// + 2^-60: float64 drops it (s is the midpoint), the exact sum is above it.
		{"midpoint, e>0", k12, k12, pow2(-60), math.Float32bits(1 + pow2(-11) + pow2(-23))},
		{"midpoint, e<0", k12, -k12, -pow2(-60), math.Float32bits(-(1 + pow2(-11) + pow2(-23)))},
		// (1+2^-12)(1-2^-12) = 1 - 2^-24 is a float32: no rounding at all.
		{"exact 1-2^-24", k12, 1 - pow2(-12), 0, math.Float32bits(1 - pow2(-24))},
		{"cancellation", k12, k12, -(1 + pow2(-11)), math.Float32bits(pow2(-24))},
		{"cancellation to +0", 3, 5, -15, 0},
		{"(-0)+(-0)", negZero, 1, negZero, 0x80000000},
		{"(+0)+(-0)", 0, 1, negZero, 0},
		{"(-0)+(+0)", negZero, 1, 0, 0},
		{"0*-1 + -0", 0, -1, negZero, 0x80000000},
		{"-x*y + x*y exact", -3, 5, 15, 0},
		{"overflow", maxF, 2, 0, 0x7f800000},
		{"-overflow", maxF, -2, 0, 0xff800000},
		{"max exactly", maxF, 1, 0, math.Float32bits(maxF)},
		// MaxFloat32 + 2^103 is the midpoint below 2^128: ties to even, i.e. Inf.
		{"max + half ulp", maxF, 1, pow2(103), 0x7f800000},
		// Just below that midpoint: (max + 2^103) - 2^-20 stays at max.
		{"max + half ulp - tiny", pow2(103), 1 - pow2(-24), maxF, math.Float32bits(maxF)},
		// 2^103 (1-2^-46) + MaxFloat32: float64 rounds the sum up to the midpoint
		// below 2^128 (which would tie to Inf); the exact sum is below it.
		{"max + half ulp - 2^57", pow2(51) * (1 + pow2(-23)), pow2(52) * (1 - pow2(-23)), maxF, math.Float32bits(maxF)},
		{"Inf*0", inf, 0, 1, CanonicalNaN},
		{"Inf-Inf", inf, 1, -inf, CanonicalNaN},
		{"Inf+Inf", inf, 1, inf, 0x7f800000},
		{"x+Inf", 1, 1, -inf, 0xff800000},
		{"NaN c", 1, 1, nan, CanonicalNaN},
		{"NaN payload", math.Float32frombits(0xffa00001), 1, 0, CanonicalNaN},
		{"-NaN", 1, -nan, 1, CanonicalNaN},
		{"smallest subnormal", minSub, 1, 0, 1},
		// 2^-150 is the midpoint between 0 and 2^-149: ties to even (0).
		{"2^-150 tie", minSub, 0.5, 0, 0},
		{"-2^-150 tie", minSub, -0.5, 0, 0x80000000},
		{"3*2^-151 up", minSub, 0.75, 0, 1},
		// -2^-150 (1-2^-40) + (2^-130 + 3*2^-149): float64 sum is the subnormal
		// midpoint c - 2^-150; the exact sum lies above it, so it rounds to c.
		{"subnormal midpoint, e>0", -pow2(-75) * (1 + pow2(-20)), pow2(-75) * (1 - pow2(-20)),
			pow2(-130) + 3*minSub, (1<<19 + 3)},
		{"subnormal midpoint, e<0", pow2(-75) * (1 + pow2(-20)), pow2(-75) * (1 - pow2(-20)),
			pow2(-130) + 2*minSub, (1<<19 + 2)},
		{"subnormal from cancellation", minNorm, one + pow2(-23), -minNorm, 1},
	}
	for _, tc := range tests {
		got := FMA32(tc.a, tc.b, tc.c)
		want := math.Float32frombits(tc.want)
		if !sameBits(got, want) {
			t.Errorf("%s: FMA32(%g, %g, %g) = %#08x, want %#08x", tc.name, tc.a, tc.b, tc.c, math.Float32bits(got), tc.want)
		}
		if o := oracle(tc.a, tc.b, tc.c); math.Float32bits(o) != tc.want && !(o != o && want != want) {
			t.Errorf("%s: oracle = %#08x, want %#08x", tc.name, math.Float32bits(o), tc.want)
		}
	}
}

// TestDoubleRounding documents why this package exists: rounding the float64 FMA
// to float32 rounds twice and can land on the wrong side of a float32 midpoint.
func TestDoubleRounding(t *testing.T) {
	a := 1 + pow2(-12)
	c := pow2(-60)
	double := float32(math.FMA(float64(a), float64(a), float64(c)))
	single := FMA32(a, a, c)
	if math.Float32bits(double) == math.Float32bits(single) {
		t.Fatalf("expected float32(math.FMA) to differ from FMA32 on (1+2^-12)^2 + 2^-60; both %#08x", math.Float32bits(single))
	}
	if want := oracle(a, a, c); !sameBits(single, want) {
		t.Fatalf("FMA32 = %#08x, oracle %#08x", math.Float32bits(single), math.Float32bits(want))
	}
	t.Logf("float32(math.FMA) = %#08x, FMA32 = %#08x", math.Float32bits(double), math.Float32bits(single))
}

// randomTriple draws from a mix of generators that aim at the hard cases: raw bit
// patterns (specials included), short significands (many exact midpoints), near
// cancellation, subnormal results and results near MaxFloat32.
func randomTriple(r *rand.Rand) (a, b, c float32) {
	// withExp builds ±1.m·2^e from random significand bits, keeping only the top
	// `bits` of them so products and sums often fall exactly on midpoints.
	withExp := func(e, bits int) float32 {
		m := r.Uint32() & (1<<23 - 1)
		m &^= 1<<(24-bits) - 1 // keep bits-1 fraction bits
		f := float32(math.Ldexp(1+float64(m)/(1<<23), e))
		if r.IntN(2) == 0 {
			f = -f
		}
		return f
	}
	bits := func() int { return 1 + r.IntN(24) }
	switch r.IntN(7) {
	case 0: // raw patterns
		return math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32())
	case 1: // comparable magnitudes
		ea, eb := r.IntN(60)-30, r.IntN(60)-30
		return withExp(ea, bits()), withExp(eb, bits()), withExp(ea+eb+r.IntN(60)-30, bits())
	case 2: // near cancellation: c = -fl(a*b) moved a few ulps, or c much smaller
		ea, eb := r.IntN(200)-100, r.IntN(200)-100
		a, b = withExp(ea, 24), withExp(eb, 24)
		p := float32(a * b)
		if p == 0 || math.IsInf(float64(p), 0) {
			return a, b, withExp(ea+eb, 24)
		}
		c = math.Float32frombits(math.Float32bits(-p) + uint32(r.IntN(9)) - 4)
		return a, b, c
	case 3: // tiny addend below the float64 precision of the product: midpoint tie-breaks
		ea, eb := r.IntN(100)-50, r.IntN(100)-50
		a, b = withExp(ea, 12), withExp(eb, 13)
		return a, b, withExp(ea+eb-25-r.IntN(60), bits())
	case 4: // subnormal results
		ea := r.IntN(100) - 100
		eb := -150 - ea + r.IntN(30) - 5
		a, b = withExp(ea, bits()), withExp(eb, bits())
		if eb < -126 {
			b = math.Float32frombits(r.Uint32() & 0x807fffff)
		}
		c = math.Float32frombits(r.Uint32()&0x80ffffff | uint32(r.IntN(3))<<23)
		return a, b, c
	case 5: // c plus or minus half its ulp, minus a tiny x^2 that float64 drops
		c = math.Float32frombits(r.Uint32() & 0xfeffffff) // finite, any range
		if r.IntN(4) == 0 {
			c = math.Float32frombits(math.Float32bits(maxF) - uint32(r.IntN(4)))
		}
		e := max(int(math.Float32bits(c)>>23&0xff)-127, -126) - 24 // half ulp of c
		x := math.Ldexp(float64(1+r.IntN(255)), -23)
		ea := e / 2
		a = float32(math.Ldexp(1+x, ea))
		b = float32(math.Ldexp(1-x, e-ea))
		if r.IntN(2) == 0 {
			a, b = b, a
		}
		if r.IntN(2) == 0 {
			a = -a
		}
		return a, b, c
	default: // near MaxFloat32
		ea := r.IntN(128)
		a, b = withExp(ea, bits()), withExp(127-ea+r.IntN(2), bits())
		c = math.Float32frombits(math.Float32bits(maxF) - uint32(r.IntN(1<<20)))
		if r.IntN(2) == 0 {
			c = -c
		}
		return a, b, c
	}
}

// TestRandom compares FMA32 with the math/big oracle on random triples, for a
// bounded time (a few million triples on a typical core; -short runs fewer).
func TestRandom(t *testing.T) {
	budget := 3 * time.Second
	if testing.Short() {
		budget = 300 * time.Millisecond
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	n, fails := 0, 0
	for time.Since(start) < budget && fails < 20 {
		for range 1000 {
			a, b, c := randomTriple(r)
			if got, want := FMA32(a, b, c), oracle(a, b, c); !sameBits(got, want) {
				fails++
				check(t, a, b, c)
			}
			n++
		}
	}
	t.Logf("%d random triples", n)
}

// FuzzFMA32 compares FMA32 with the math/big oracle on arbitrary bit patterns.
func FuzzFMA32(f *testing.F) {
	f.Fuzz(func(t *testing.T, a, b, c uint32) {
		check(t, math.Float32frombits(a), math.Float32frombits(b), math.Float32frombits(c))
	})
}

// BenchmarkFMA32 runs on kernel-like data: normally distributed operands.
func BenchmarkFMA32(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 4096
	x, y, z, out := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		x[i], y[i], z[i] = float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	for b.Loop() {
		for i := range out {
			out[i] = FMA32(x[i], y[i], z[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/element")
}
