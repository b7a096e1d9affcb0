package rope

import (
	"math"
	"testing"
)

// ulp32 is the spacing of float32 values at |v| (the subnormal spacing below 2^-126).
func ulp32(v float64) float64 {
	f := float32(math.Abs(v))
	if f == 0 || f < 0x1p-126 {
		return 0x1p-149
	}
	return float64(math.Nextafter32(f, float32(math.Inf(1))) - f)
}

// thetaOracle computes θ_k = Base^(−2k/Dim) differently from the generator
// (exp and log instead of Pow and a reciprocal).
func thetaOracle(base float64, dim, k int) float64 {
	return math.Exp(-float64(2*k) / float64(dim) * math.Log(base))
}

// checkPlain compares a table row by row with float64 cos/sin of the oracle
// angles. Claim: within one float32 ulp. The generator and the oracle are both
// float64; their angles p·θ_k differ by a few float64 ulps (Pow vs Exp/Log, one
// product): < 6·2^-53·p·θ ≤ 3e-12 for p ≤ 4096, θ ≤ 1, and Go's Cos/Sin add about
// one float64 ulp. So |table − oracle| ≤ ½ ulp32 (the final rounding) + 2^-37,
// which the test checks as ≤ 1 ulp32 + 2^-37 (the 2^-37 matters only for values
// below about 2^-13, where an ulp32 is smaller than the angle discrepancy).
func checkPlain(t *testing.T, tab Table, base float64, scale func(k int) float64) {
	t.Helper()
	exact := 0
	for p := 0; p < tab.Positions(); p++ {
		for k := 0; k < tab.Dim/2; k++ {
			ang := float64(p) * thetaOracle(base, tab.Dim, k) * scale(k)
			for i, want := range []float64{math.Cos(ang), math.Sin(ang)} {
				got := float64(tab.Data[p*tab.Dim+2*k+i])
				if d := math.Abs(got - want); d > ulp32(want)+0x1p-37 {
					t.Fatalf("pos %d pair %d part %d: table %g, float64 oracle %g, |diff| %g > 1 ulp", p, k, i, got, want, d)
				}
				if float32(want) == float32(got) {
					exact++
				}
			}
		}
	}
	t.Logf("%d of %d entries equal the rounded oracle", exact, len(tab.Data))
}

func TestPlainTable(t *testing.T) {
	for _, base := range []float64{10000, 160000} {
		tab, err := Plain(64, 4096, base)
		if err != nil {
			t.Fatal(err)
		}
		if tab.Dim != 64 || tab.Positions() != 4096 {
			t.Fatalf("shape [%d][%d]", tab.Positions(), tab.Dim)
		}
		for k := 0; k < 32; k++ { // position 0 is the identity rotation, exactly
			if math.Float32bits(tab.Data[2*k]) != 0x3F800000 || math.Float32bits(tab.Data[2*k+1]) != 0 {
				t.Fatalf("row 0 pair %d = (%g, %g), want (1, +0)", k, tab.Data[2*k], tab.Data[2*k+1])
			}
		}
		checkPlain(t, tab, base, func(int) float64 { return 1 })
	}
}

func sameTable(a, b Table) bool {
	if a.Dim != b.Dim || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

// DeepSeek V4 compressed-layer parameters (reference notes: rope theta 160000,
// factor 16, original_seq_len 65536, beta 32 / 1, rope dim 64).
var v4 = YaRNParams{Dim: 64, Positions: 512, Base: 160000, Factor: 16, BetaFast: 32, BetaSlow: 1, OriginalSeqLen: 65536}

func TestYaRNReducesToPlain(t *testing.T) {
	plain, err := Plain(v4.Dim, v4.Positions, v4.Base)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]YaRNParams{
		"factor 1":             func() YaRNParams { q := v4; q.Factor = 1; return q }(),
		"original_seq_len 0":   func() YaRNParams { q := v4; q.OriginalSeqLen = 0; return q }(),
		"V3 rule, short table": func() YaRNParams { q := v4; q.Rule = RuleV3; return q }(),
		"V3 rule, equal":       func() YaRNParams { q := v4; q.Rule = RuleV3; q.OriginalSeqLen = q.Positions; return q }(),
	} {
		tab, err := YaRN(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameTable(tab, plain) {
			t.Errorf("%s: table differs from the plain table", name)
		}
	}
	// The V3 rule blends once the table is longer than the original context.
	q := v4
	q.Rule, q.OriginalSeqLen = RuleV3, q.Positions-1
	v3, _ := YaRN(q)
	q.Rule = RuleV4
	v4t, _ := YaRN(q)
	if !sameTable(v3, v4t) || sameTable(v3, plain) {
		t.Error("V3 rule with Positions > OriginalSeqLen should equal the V4 rule's blended table")
	}
}

func TestYaRNBlend(t *testing.T) {
	// Hand computation: d(r) = 64·ln(65536/(2π·r)) / (2·ln 160000);
	// d(32) = 64·ln(325.95)/23.966 = 15.45 → low 15; d(1) = 64·ln(10430.4)/23.966 = 24.71 → high 25.
	low, high := correctionRange(v4)
	if low != 15 || high != 25 {
		t.Fatalf("correction range = [%g, %g], want [15, 25]", low, high)
	}
	tab, err := YaRN(v4)
	if err != nil {
		t.Fatal(err)
	}
	// Pairs k ≤ 15 keep θ_k, pairs k ≥ 25 use θ_k/16, in between the ramp
	// (k−15)/10 weights θ_k/16 against θ_k.
	checkPlain(t, tab, v4.Base, func(k int) float64 {
		ramp := min(max(float64(k-15)/10, 0), 1)
		return ramp/16 + (1 - ramp)
	})
}

func TestYaRNErrors(t *testing.T) {
	for name, p := range map[string]YaRNParams{
		"odd dim":        {Dim: 63, Positions: 4, Base: 10000},
		"zero positions": {Dim: 64, Base: 10000},
		"huge":           {Dim: 64, Positions: MaxTableFloats, Base: 10000},
		"base 1":         {Dim: 64, Positions: 4, Base: 1},
		"base NaN":       {Dim: 64, Positions: 4, Base: math.NaN()},
		"factor 0":       {Dim: 64, Positions: 4, Base: 10000, Factor: 0, BetaFast: 32, BetaSlow: 1, OriginalSeqLen: 10},
		"beta 0":         {Dim: 64, Positions: 4, Base: 10000, Factor: 4, BetaFast: 0, BetaSlow: 1, OriginalSeqLen: 10},
		"negative orig":  {Dim: 64, Positions: 4, Base: 10000, OriginalSeqLen: -1},
		"bad rule":       {Dim: 64, Positions: 4, Base: 10000, Rule: 9},
		"V3 orig 0":      {Dim: 64, Positions: 4, Base: 10000, Factor: 4, BetaFast: 32, BetaSlow: 1, Rule: RuleV3},
	} {
		if _, err := YaRN(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
