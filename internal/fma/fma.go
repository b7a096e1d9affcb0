// Package fma provides FMA32, an exact float32 fused multiply-add.
//
// GPU kernels compile a*b+c on float32 operands to FFMA, which rounds the exact
// value a*b+c once to float32 (round to nearest, ties to even). Go has no float32
// FMA: math.FMA works on float64, and float32(math.FMA(...)) rounds twice (first
// to 53 bits, then to 24), which differs from a single rounding whenever the first
// rounding lands on a float32 midpoint. The bit-exact models (SPEC §4: the RoPE
// step re = fma(xr, c, −fl(xi·s)), the RMSNorm sum of squares, the MQA logit
// chains of SPEC §6) therefore call FMA32 for every fused multiply-add.
//
// Method: a float32×float32 product has at most 48 significant bits, so
// p = float64(a)*float64(b) is exact. TwoSum(p, float64(c)) gives s + e = p + c
// exactly with s = fl64(p + c). Rounding s to float32 is correct except when s is
// exactly a float32 midpoint (halfway between two float32 neighbours, including
// the point just above MaxFloat32 and subnormal midpoints) and e ≠ 0; then the sign
// of e tells which neighbour the exact sum is nearer to. If s itself is not a
// midpoint, the exact sum lies strictly on the same side of every midpoint as s
// (s is the float64 nearest to it and midpoints are float64 values), so rounding s
// is rounding the exact value.
//
// NaN results are the GPU's canonical 0x7FFFFFFF, not a propagated payload.
//
// Verified against math/big (exact sum, then big.Float's own float32 rounding,
// subnormals included) on hand-built midpoint, cancellation, overflow, subnormal
// and signed-zero cases, millions of random triples, and a fuzz target. Checked
// once against the hardware as well: __fmaf_rn (SASS FFMA) on an H100 agreed bit
// for bit on 2^24 triples drawn like the random test's, NaN results included.
package fma

import "math"

// CanonicalNaN is the bit pattern of every NaN that FFMA, and so FMA32, returns.
const CanonicalNaN = 0x7FFFFFFF

// FMA32 returns a*b+c computed exactly and rounded once to float32, round to
// nearest even, with IEEE 754 special cases: Inf*0 and Inf-Inf are NaN, a NaN
// operand gives NaN, overflow rounds to ±Inf, and an exact zero result is +0
// unless both a*b and c are −0 (round to nearest). Every NaN result is
// CanonicalNaN, as on the GPU.
func FMA32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b)) // exact: 24+24 bits fit in 53, and the exponent range of float64 covers it
	cc := float64(c)
	s := p + cc
	if s != s {
		// Inf*0, Inf−Inf and NaN operands. FFMA does not propagate payloads: it
		// always returns 0x7FFFFFFF (seen on H100 for NaN operands of every sign
		// and payload), so neither does FMA32.
		return math.Float32frombits(CanonicalNaN)
	}
	if math.IsInf(s, 0) || s == 0 {
		// Infinities come out right from float64 arithmetic (p itself never
		// overflows float64), and a float64 sum that is zero is an exact zero (p and
		// c are multiples of 2^-298, far above float64's 2^-1074, so p+c cannot
		// underflow), with the sign IEEE prescribes for round to nearest.
		return float32(s)
	}
	// s is a float32 midpoint when exactly the half-ulp bit remains among the
	// significand bits that lie below the float32 ulp at s's magnitude. s is a normal
	// float64 (p and c are multiples of 2^-298), so its significand is 53 bits.
	bits := math.Float64bits(s)
	exp := int(bits>>52&0x7FF) - 1023
	// The float32 ulp is 2^(exp-23) for normal magnitudes and 2^-149 in the subnormal
	// range. Above MaxFloat32 the same formula gives the midpoint 2^128 - 2^103
	// between MaxFloat32 and the overflow threshold, which rounds to even (Inf).
	ulpExp := max(exp-23, -149)
	drop := 52 - exp + ulpExp // significand bits below the float32 ulp: 29 when normal, up to 53
	if drop > 53 {
		// |s| < 2^-150, below every midpoint: the exact sum rounds to ±0 like s.
		return float32(s)
	}
	mant := bits&(1<<52-1) | 1<<52
	half := uint64(1) << (drop - 1)
	if mant&(half<<1-1) != half {
		// Not a midpoint: the exact sum lies strictly on the same side of every
		// midpoint as s, so rounding s rounds the exact sum.
		return float32(s)
	}
	// TwoSum (Knuth): e is the exact rounding error of s = fl64(p + cc).
	bb := s - p
	e := (p - (s - bb)) + (cc - bb)
	if e == 0 {
		return float32(s) // an exact tie: float32 rounds it to even
	}
	// Nudge s by one float64 ulp toward e: the result is no longer a midpoint and
	// lies on the same side of it as the exact sum, so float32 rounds it correctly.
	return float32(math.Nextafter(s, math.Copysign(math.Inf(1), e)))
}
