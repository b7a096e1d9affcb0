package mqa

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The oracle epilogues restate SPEC §6 and DeepGEMM's source with math/big
// arithmetic (bigFMA, bigAdd, bigMul), for finite inputs.

func oracleSM100(scaled bool, a, w []float32, sk float32) float32 {
	var l [4]float32
	for h := range a {
		t := float32(0)
		if a[h] > 0 {
			t = bigAdd(a[h], a[h]) // a + |a|
		}
		l[h%4] = bigFMA(t, w[h], l[h%4])
	}
	r := bigAdd(bigAdd(l[0], l[2]), bigAdd(l[1], l[3]))
	out := bigMul(r, 0.5)
	if scaled {
		out = bigMul(out, sk)
	}
	return out
}

func oracleSequential(scaled bool, a, w []float32, sk float32) float32 {
	var l float32
	for h := range a {
		t := float32(0)
		if a[h] > 0 {
			t = a[h]
		}
		l = bigFMA(t, w[h], l)
	}
	if scaled {
		l = bigMul(l, sk)
	}
	return l
}

func oracleSM90(a, w []float32, sk float32) float32 {
	relu := func(x float32) float32 {
		if x > 0 {
			return x
		}
		return 0
	}
	var p [4]float32
	for c := 0; c < 4; c++ {
		var chain [2]float32
		for n := 0; n < 2; n++ {
			h := 2*c + n
			chain[n] = bigMul(relu(a[h]), w[h])
			for m := 1; m < len(a)/8; m++ {
				chain[n] = bigFMA(relu(a[8*m+h]), w[8*m+h], chain[n])
			}
		}
		p[c] = bigMul(bigAdd(chain[0], chain[1]), sk)
	}
	return bigAdd(bigAdd(p[0], p[1]), bigAdd(p[2], p[3]))
}

func TestEpilogueOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, h := range []int{8, 16, 32, 64} {
		a, w := make([]float32, h), make([]float32, h)
		for i := 0; i < 3000; i++ {
			for j := range a {
				a[j] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(40)-20))
				w[j] = float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(20)-10))
				if rng.IntN(8) == 0 {
					a[j] = 0
				}
				if rng.IntN(16) == 0 {
					a[j] = float32(math.Copysign(0, -1))
				}
				if i%7 == 0 { // cancellation-prone: equal magnitudes
					a[j] = 1
					w[j] = float32(rng.IntN(5) - 2)
				}
			}
			sk := float32(rng.Float64() + 0.001)
			check := func(e Epilogue, f Format, want float32) {
				got, err := e.Reduce(f, a, w, sk)
				if err != nil {
					t.Fatal(err)
				}
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("%v %v H=%d: got %#08x, oracle %#08x (a=%v w=%v sk=%v)", e, f, h, math.Float32bits(got), math.Float32bits(want), a, w, sk)
				}
			}
			check(SM100, FP4, oracleSM100(false, a, w, sk))
			check(SM100, FP8, oracleSM100(true, a, w, sk))
			check(Sequential, FP4, oracleSequential(false, a, w, sk))
			check(Sequential, FP8, oracleSequential(true, a, w, sk))
			if h >= 32 {
				check(SM90, FP8, oracleSM90(a, w, sk))
			}
		}
	}
}

func f32bits(x float32) uint32 { return math.Float32bits(x) }

// TestEpilogueHand pins cases worked out by hand that separate the orders and
// the relu variants.
func TestEpilogueHand(t *testing.T) {
	const two24 = 1 << 24
	ones := func(h int) []float32 {
		w := make([]float32, h)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	cases := []struct {
		name string
		e    Epilogue
		f    Format
		a, w []float32
		sk   float32
		want uint32
	}{
		// a = [2^24, 1, 1, 1, 1, 1, 1, 1], w = 1. Sequential: every 2^24 + 1 is a
		// tie and rounds to the even 2^24, so the ones vanish.
		{"seq order", Sequential, FP4, []float32{two24, 1, 1, 1, 1, 1, 1, 1}, ones(8), 1, f32bits(two24)},
		// sm100 doubles: chain 0 = fl(2^25 + 2) = 2^25 (tie to even), chains 1–3
		// hold 2 + 2 = 4 each; R = fl(fl(2^25 + 4) + fl(4 + 4)) = 2^25 + 12;
		// R/2 = 2^24 + 6.
		{"sm100 order", SM100, FP4, []float32{two24, 1, 1, 1, 1, 1, 1, 1}, ones(8), 1, f32bits(two24 + 6)},
		// H = 32, a[0] = 2^24 (chain A_0), a[2] = a[4] = a[6] = 1 (A_1, A_2, A_3):
		// sm90 P = (2^24, 1, 1, 1), out = fl(fl(2^24 + 1) + 2) = fl(2^24 + 2)...
		// fl(2^24 + 1) = 2^24 (tie, even), then 2^24 + 2.
		{"sm90 order", SM90, FP8, sparse(32, map[int]float32{0: two24, 2: 1, 4: 1, 6: 1}), ones(32), 1, f32bits(two24 + 2)},
		// Sequential on the same: 2^24 + 1 + 1 + 1, each a lost tie: 2^24.
		{"seq same", Sequential, FP8, sparse(32, map[int]float32{0: two24, 2: 1, 4: 1, 6: 1}), ones(32), 1, f32bits(two24)},
		// sm100: heads 0, 4 in chain 0 (2^25, then 2^25 + 2 → 2^25), heads 2, 6
		// in chain 2 (2 + 2 = 4): R = 2^25 + 4, R/2 = 2^24 + 2.
		{"sm100 same", SM100, FP8, sparse(32, map[int]float32{0: two24, 2: 1, 4: 1, 6: 1}), ones(32), 1, f32bits(two24 + 2)},
		// sm90 applies s_k before the cross-lane sum: P_c = fl(a·3) each.
		{"sm90 scale first", SM90, FP8, sparse(32, map[int]float32{0: 1, 2: 1.0 / 3}), ones(32), 3, f32bits(float32(float32(3) + float32(float32(1.0/3)*3)))},
		// relu of NaN: sm100 and sequential propagate, sm90 gives 0.
		{"sm100 NaN", SM100, FP4, sparse(8, map[int]float32{0: nan, 1: 2}), ones(8), 1, canonicalNaN},
		{"seq NaN", Sequential, FP4, sparse(8, map[int]float32{0: nan, 1: 2}), ones(8), 1, canonicalNaN},
		{"sm90 NaN", SM90, FP8, sparse(32, map[int]float32{0: nan, 1: 2}), ones(32), 1, f32bits(2)},
		// relu of −Inf: a + |a| is NaN in sm100; sequential and sm90 give 0.
		{"sm100 -Inf", SM100, FP4, sparse(8, map[int]float32{0: -inf, 1: 2}), ones(8), 1, canonicalNaN},
		{"seq -Inf", Sequential, FP4, sparse(8, map[int]float32{0: -inf, 1: 2}), ones(8), 1, f32bits(2)},
		{"sm90 -Inf", SM90, FP8, sparse(32, map[int]float32{0: -inf, 1: 2}), ones(32), 1, f32bits(2)},
		// A NaN weight is NaN everywhere, even on a zero relu.
		{"sm90 NaN weight", SM90, FP8, make([]float32, 32), sparse(32, map[int]float32{5: nan}), 1, canonicalNaN},
		{"sm100 NaN weight", SM100, FP4, make([]float32, 8), sparse(8, map[int]float32{5: nan}), 1, canonicalNaN},
		// Zeros: −0 dot products with negative weights. sm100/sequential start
		// their chains from +0 with fma, so the sum is +0; sm90's chains start
		// with the plain product fl(+0·−1) = −0, and −0 + −0 stays −0.
		{"sm100 zeros", SM100, FP8, fill(32, negZero), fill(32, -1), 1, 0},
		{"seq zeros", Sequential, FP8, fill(32, negZero), fill(32, -1), 1, 0},
		{"sm90 zeros", SM90, FP8, fill(32, negZero), fill(32, -1), 1, 0x80000000},
		// Overflow of the doubled value: a = 2^127, w = 1/4. sm100 computes
		// a + |a| = Inf, so the logit is +Inf; SPEC's fma(relu(a), w, L) form
		// would give 2^125. Sequential gives 2^125.
		{"sm100 doubled overflow", SM100, FP4, sparse(8, map[int]float32{0: 0x1p127}), fill(8, 0.25), 1, f32bits(inf)},
		{"seq no overflow", Sequential, FP4, sparse(8, map[int]float32{0: 0x1p127}), fill(8, 0.25), 1, f32bits(0x1p125)},
		// FP8 NaN scale.
		{"seq NaN scale", Sequential, FP8, fill(8, 1), fill(8, 1), nan, canonicalNaN},
	}
	for _, c := range cases {
		got, err := c.e.Reduce(c.f, c.a, c.w, c.sk)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if f32bits(got) != c.want {
			t.Errorf("%s: got %#08x (%g), want %#08x (%g)", c.name, f32bits(got), got, c.want, math.Float32frombits(c.want))
		}
	}
}

func sparse(h int, v map[int]float32) []float32 {
	a := make([]float32, h)
	for i, x := range v {
		a[i] = x
	}
	return a
}

func fill(h int, x float32) []float32 {
	a := make([]float32, h)
	for i := range a {
		a[i] = x
	}
	return a
}

func TestReduceErrors(t *testing.T) {
	if _, err := SM100.Reduce(FP4, make([]float32, 12), make([]float32, 12), 1); err == nil {
		t.Error("Reduce accepted H = 12")
	}
	if _, err := SM100.Reduce(FP4, make([]float32, 8), make([]float32, 16), 1); err == nil {
		t.Error("Reduce accepted mismatched weights")
	}
	if _, err := SM90.Reduce(FP4, make([]float32, 32), make([]float32, 32), 1); err == nil {
		t.Error("Reduce accepted sm90 with FP4")
	}
	if _, err := SM90.Reduce(FP8, make([]float32, 16), make([]float32, 16), 1); err == nil {
		t.Error("Reduce accepted sm90 with H = 16")
	}
	if _, err := Epilogue(7).Reduce(FP8, make([]float32, 16), make([]float32, 16), 1); err == nil {
		t.Error("Reduce accepted Epilogue(7)")
	}
}

func TestOptionNames(t *testing.T) {
	for _, d := range []Dot{Exact, FP32FMA} {
		got, err := ParseDot(d.String())
		if err != nil || got != d {
			t.Errorf("ParseDot(%q) = %v, %v", d.String(), got, err)
		}
	}
	for _, e := range []Epilogue{SM100, Sequential, SM90} {
		got, err := ParseEpilogue(e.String())
		if err != nil || got != e {
			t.Errorf("ParseEpilogue(%q) = %v, %v", e.String(), got, err)
		}
	}
	if Exact.String() != "exact" || FP32FMA.String() != "fp32-fma" || SM100.String() != "sm100" ||
		Sequential.String() != "sequential" || SM90.String() != "sm90" {
		t.Error("CLI names changed")
	}
	if _, err := ParseDot("fp16"); err == nil {
		t.Error("ParseDot accepted fp16")
	}
	if _, err := ParseEpilogue("sm80"); err == nil {
		t.Error("ParseEpilogue accepted sm80")
	}
	var o Options
	if o.Dot != Exact || o.Epilogue != SM100 {
		t.Error("zero Options is not exact/sm100")
	}
}
