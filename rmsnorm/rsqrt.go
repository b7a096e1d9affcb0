package rmsnorm

import (
	"math"
	"math/bits"
)

// Rsqrt is a float32 reciprocal square root: CorrectlyRounded, a measured
// device *Table, or any caller-supplied model.
type Rsqrt interface {
	Rsqrt(x float32) float32
}

// CorrectlyRounded is the correctly rounded reciprocal square root: the float32
// nearest to 1/√x (round to nearest; ties cannot occur). Specials follow IEEE
// 754 rSqrt: ±0 → ±Inf, +Inf → +0, x < 0 and NaN → NaN.
type CorrectlyRounded struct{}

// Rsqrt returns the float32 nearest to 1/√x.
//
// Method: r = fl32(1/√x) evaluated in float64 is within a float32 ulp of the
// answer (the float64 sqrt and divide add about 2^-52 relative error, then one
// rounding to float32); fixUp then moves r until the exact criterion
// m−²·x < 1 < m+²·x holds, where m− and m+ are the midpoints between r and its
// float32 neighbours. The criterion is evaluated in exact integer arithmetic.
// No tie is possible: a midpoint has an odd 25-bit significand M, and
// M²·X = 2^k with X the odd significand of x forces M = 1.
func (CorrectlyRounded) Rsqrt(x float32) float32 {
	switch {
	case x != x:
		return x
	case x == 0:
		return float32(math.Copysign(math.Inf(1), float64(x)))
	case x < 0:
		return float32(math.NaN())
	case x > math.MaxFloat32:
		return 0
	}
	return fixUp(x, float32(1/math.Sqrt(float64(x))))
}

// fixUp returns the correctly rounded 1/√x starting from a guess r within a
// few ulps: r is the answer iff m−²·x < 1 < m+²·x. Each step moves r one ulp
// toward the answer, so the loop ends.
func fixUp(x, r float32) float32 {
	for {
		switch {
		case belowOne(x, r, +1): // m+²·x < 1: 1/√x lies above m+
			r = math.Float32frombits(math.Float32bits(r) + 1)
		case !belowOne(x, r, -1): // m−²·x ≥ 1: 1/√x lies at or below m−
			r = math.Float32frombits(math.Float32bits(r) - 1)
		default:
			return r
		}
	}
}

// belowOne reports whether m²·x < 1 exactly, where m is the midpoint between the
// positive normal float32 r and its upper (side > 0) or lower (side < 0)
// neighbour, and x > 0 is a finite float32.
//
// With r = R·2^e (R the 24-bit significand), in units of 2^(e−2):
// m+ = 4R + 2, and m− = 4R − 2, except m− = 4R − 1 when R = 2^23 (below a power
// of two the spacing halves). With x = X·2^f, m²·x = M²·X·2^(2(e−2)+f), and
// M²·X < 2^54·2^24 fits in 128 bits.
func belowOne(x, r float32, side int) bool {
	rb := math.Float32bits(r)
	R := uint64(rb&0x7FFFFF | 0x800000)
	e := int(rb>>23) - 127 - 23
	M := 4*R + 2
	if side < 0 {
		M = 4*R - 2
		if R == 0x800000 {
			M = 4*R - 1
		}
	}
	xb := math.Float32bits(x)
	X := uint64(xb & 0x7FFFFF)
	f := -149 // subnormal: x = X·2^-149
	if exp := int(xb >> 23); exp != 0 {
		X |= 0x800000
		f = exp - 127 - 23
	}
	hi, lo := bits.Mul64(M*M, X) // M² < 2^54, so M*M does not overflow
	// Compare hi:lo · 2^k with 1, k = 2(e−2)+f: i.e. hi:lo with 2^(−k).
	k := 2*(e-2) + f
	if k >= 0 {
		return false // hi:lo ≥ 1 and 2^k ≥ 1: m²·x ≥ 1
	}
	p := uint(-k)
	switch {
	case p >= 128:
		return true // 2^p > 2^128 > hi:lo
	case p >= 64:
		return hi < 1<<(p-64)
	default:
		return hi == 0 && lo < 1<<p
	}
}
