package rope

import (
	"fmt"
	"math"
)

// MaxTableFloats bounds the size of a generated table (Positions·Dim float32
// values, 1 GiB).
const MaxTableFloats = 1 << 28

// YaRNRule says when the YaRN frequency blend applies.
type YaRNRule uint8

const (
	// RuleV4 blends whenever OriginalSeqLen > 0: DeepSeek V4's inference code
	// (inference/model.py, read in the public copy
	// Nicooo-Wang/DeepSeek-V4-Pro-code), which passes original_seq_len = 0 for
	// its sliding-window layers; the PR's unit test likewise builds its plain
	// table with original_seq_len = 0.
	RuleV4 YaRNRule = iota
	// RuleV3 blends only when Positions > OriginalSeqLen: DeepSeek V3 / V3.2
	// inference code (deepseek-ai/DeepSeek-V3 inference/model.py), whose
	// table length is max_seq_len.
	RuleV3
)

// YaRNParams are the arguments of DeepSeek's precompute_freqs_cis.
type YaRNParams struct {
	Dim            int     // rotated dims (qk_rope_head_dim, 64)
	Positions      int     // table rows (seqlen / max_seq_len)
	Base           float64 // rope_theta (10000; 160000 for V4's compressed layers)
	Factor         float64 // rope_factor (16 for V4, 40 for V3)
	BetaFast       float64 // beta_fast (32)
	BetaSlow       float64 // beta_slow (1)
	OriginalSeqLen int     // original_seq_len (65536 for V4, 4096 for V3); 0 disables YaRN under RuleV4
	Rule           YaRNRule
}

// YaRN generates DeepSeek's RoPE table following precompute_freqs_cis in the
// public DeepSeek inference code (deepseek-ai/DeepSeek-V3 inference/model.py;
// the V4 version computes the same and differs only in its rule, see
// YaRNRule):
//
//	θ_k    = 1 / Base^(2k/Dim), k = 0 … Dim/2−1
//	d(r)   = Dim·ln(OriginalSeqLen / (2π·r)) / (2·ln Base)
//	low    = max(⌊d(BetaFast)⌋, 0), high = min(⌈d(BetaSlow)⌉, Dim−1) (+0.001 if equal)
//	ramp_k = clamp((k − low)/(high − low), 0, 1), smooth_k = 1 − ramp_k
//	θ_k    ← θ_k/Factor·(1 − smooth_k) + θ_k·smooth_k   (only if the rule applies)
//	row p  = (cos(p·θ_k), sin(p·θ_k)) for every k
//
// Everything is computed in float64 and rounded to float32 once at the end.
// The reference computes θ in float32 torch arithmetic, the angle as a float32
// product and cos/sin with torch.polar in float32, so this table is NOT claimed
// bit-identical to the one the GPU reads (the float32 angle fl(p·θ) alone is off
// by up to half an ulp of p·θ, a large error for large p); it is the
// float64-accurate table. Feed the model the exact table of a golden case when
// bits matter. With Factor == 1 the blend is the identity and is skipped, so
// the table equals the plain one bit for bit.
func YaRN(p YaRNParams) (Table, error) {
	if p.Dim <= 0 || p.Dim%2 != 0 {
		return Table{}, fmt.Errorf("rope: YaRNParams.Dim = %d, want an even number > 0", p.Dim)
	}
	if p.Positions < 1 || p.Positions > MaxTableFloats/p.Dim {
		return Table{}, fmt.Errorf("rope: YaRNParams.Positions = %d, want 1 <= Positions <= %d for Dim %d", p.Positions, MaxTableFloats/p.Dim, p.Dim)
	}
	if !(p.Base > 1) || math.IsInf(p.Base, 0) {
		return Table{}, fmt.Errorf("rope: YaRNParams.Base = %g, want a finite base > 1", p.Base)
	}
	if p.OriginalSeqLen < 0 {
		return Table{}, fmt.Errorf("rope: YaRNParams.OriginalSeqLen = %d, want >= 0", p.OriginalSeqLen)
	}
	if p.Rule > RuleV3 {
		return Table{}, fmt.Errorf("rope: YaRNParams.Rule = %d, want RuleV4 (0) or RuleV3 (1)", p.Rule)
	}
	half := p.Dim / 2
	theta := make([]float64, half)
	for k := range theta {
		theta[k] = 1 / math.Pow(p.Base, float64(2*k)/float64(p.Dim))
	}
	apply := p.OriginalSeqLen > 0
	if p.Rule == RuleV3 {
		apply = p.Positions > p.OriginalSeqLen
	}
	if apply && p.Factor != 1 {
		if !(p.Factor > 0) || math.IsInf(p.Factor, 0) {
			return Table{}, fmt.Errorf("rope: YaRNParams.Factor = %g, want a finite factor > 0", p.Factor)
		}
		if !(p.BetaFast > 0) || !(p.BetaSlow > 0) || math.IsInf(p.BetaFast, 0) || math.IsInf(p.BetaSlow, 0) {
			return Table{}, fmt.Errorf("rope: YaRNParams.BetaFast, BetaSlow = %g, %g, want finite values > 0", p.BetaFast, p.BetaSlow)
		}
		if p.OriginalSeqLen == 0 {
			return Table{}, fmt.Errorf("rope: YaRNParams.OriginalSeqLen = 0, want > 0 when the YaRN blend applies")
		}
		low, high := correctionRange(p)
		for k := range theta {
			ramp := min(max((float64(k)-low)/(high-low), 0), 1)
			smooth := 1 - ramp
			// The conversions stop Go from fusing the sum into an FMA on arm64,
			// keeping the table the same on every platform.
			theta[k] = float64(theta[k]/p.Factor*(1-smooth)) + float64(theta[k]*smooth)
		}
	}
	data := make([]float32, p.Positions*p.Dim)
	for pos := 0; pos < p.Positions; pos++ {
		row := data[pos*p.Dim : (pos+1)*p.Dim]
		for k, th := range theta {
			s, c := math.Sincos(float64(pos) * th)
			row[2*k] = float32(c)
			row[2*k+1] = float32(s)
		}
	}
	return Table{Dim: p.Dim, Data: data}, nil
}

// correctionRange is DeepSeek's find_correction_range: the dims whose
// wavelength makes BetaFast and BetaSlow turns over the original context,
// floored / ceiled and clamped to [0, Dim−1], high nudged by 0.001 when equal.
func correctionRange(p YaRNParams) (low, high float64) {
	dim := func(rotations float64) float64 {
		return float64(p.Dim) * math.Log(float64(p.OriginalSeqLen)/(rotations*2*math.Pi)) / (2 * math.Log(p.Base))
	}
	low = max(math.Floor(dim(p.BetaFast)), 0)
	high = min(math.Ceil(dim(p.BetaSlow)), float64(p.Dim-1))
	if low == high {
		high += 0.001
	}
	return low, high
}

// Plain returns the table without YaRN: (cos(p·θ_k), sin(p·θ_k)) with
// θ_k = Base^(−2k/Dim), float64 math rounded to float32.
func Plain(dim, positions int, base float64) (Table, error) {
	return YaRN(YaRNParams{Dim: dim, Positions: positions, Base: base})
}
