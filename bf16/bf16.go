// Package bf16 implements bfloat16, the 16-bit format whose bits are the upper
// half of a float32 (1 sign, 8 exponent, 7 mantissa bits).
//
// It models the kernels' bf16 round trips, cast<float>(cast<bf16>(x)) in
// fused_q_indexer_rope_hadamard_fp4_quant after RoPE and after the Hadamard
// rotation (SPEC §4, Q path steps 2 and 3), and the exact widening of bf16
// inputs (Q path step 1). Narrowing is __float2bfloat16_rn: round to nearest,
// ties to even, on the float32 bits; every NaN becomes the canonical 0x7FFF
// (SPEC §4, §7); ±0 and ±Inf keep their sign; finite values that round past the
// largest bf16 become ±Inf; float32 subnormals round like any other bits (no
// flush to zero).
//
// Verification: all 2^16 bf16 values widen and narrow back to themselves (NaNs
// to 0x7FFF) and decode to their closed-form value; narrowing is compared
// bit for bit with an independent float64 oracle (nearest-even rounding of the
// value to 8 significant bits) on a float32 sweep that includes every bit
// pattern next to a rounding boundary, and on all 2^32 float32 patterns when
// FP4INDEXER_LONG=1. Checked once against the hardware as well: on an H100,
// __float2bfloat16_rn (SASS F2FP.BF16.F32.PACK_AB) agreed with Fromfloat32 on all
// 2^32 float32 patterns, NaNs included.
package bf16

import (
	"fmt"
	"math"
)

// BF16 is a bfloat16 value, stored as its bits.
type BF16 uint16

// Bit fields of a BF16, and the canonical NaN produced by narrowing.
const (
	SignMask     = 0x8000
	ExponentMask = 0x7F80
	MantissaMask = 0x007F

	NaN BF16 = 0x7FFF
)

// Frombits returns the BF16 with the given bits.
func Frombits(b uint16) BF16 { return BF16(b) }

// Fromfloat32 rounds f to the nearest BF16, ties to even (__float2bfloat16_rn).
// Any NaN becomes NaN (0x7FFF).
func Fromfloat32(f float32) BF16 {
	u := math.Float32bits(f)
	if u&0x7FFFFFFF > 0x7F800000 {
		return NaN
	}
	// Adding 0x7FFF rounds up exactly when the dropped half exceeds 0x8000, the
	// extra lsb of the kept half turns the 0x8000 tie up only when that lsb is odd.
	// A carry out of the mantissa bumps the exponent, which is correct rounding
	// (up to +Inf for the values past the largest finite bf16); Inf has a zero
	// low half, so it stays Inf.
	u += 0x7FFF + (u>>16)&1
	return BF16(u >> 16)
}

// Float32 returns the value of b; the widening is exact.
func (b BF16) Float32() float32 { return math.Float32frombits(uint32(b) << 16) }

// Bits returns the bits of b.
func (b BF16) Bits() uint16 { return uint16(b) }

// IsNaN reports whether b is a NaN (any payload, either sign).
func (b BF16) IsNaN() bool { return b&^SignMask > ExponentMask }

// IsInf reports whether b is an infinity, according to sign: +Inf if sign > 0,
// −Inf if sign < 0, either if sign == 0 (as math.IsInf).
func (b BF16) IsInf(sign int) bool {
	return sign >= 0 && b == ExponentMask || sign <= 0 && b == SignMask|ExponentMask
}

// Round returns f rounded to bf16 and widened back to float32, the kernels'
// cast<float>(cast<bf16>(f)).
func Round(f float32) float32 { return Fromfloat32(f).Float32() }

// RoundSlice applies Round to every element of x in place.
func RoundSlice(x []float32) {
	for i, f := range x {
		x[i] = Fromfloat32(f).Float32()
	}
}

// Widen converts src to float32 into dst, which must have the same length.
func Widen(dst []float32, src []BF16) error {
	if len(dst) != len(src) {
		return fmt.Errorf("bf16: Widen: len(dst) = %d, len(src) = %d", len(dst), len(src))
	}
	for i, b := range src {
		dst[i] = b.Float32()
	}
	return nil
}

// Narrow rounds src to bf16 into dst, which must have the same length.
func Narrow(dst []BF16, src []float32) error {
	if len(dst) != len(src) {
		return fmt.Errorf("bf16: Narrow: len(dst) = %d, len(src) = %d", len(dst), len(src))
	}
	for i, f := range src {
		dst[i] = Fromfloat32(f)
	}
	return nil
}
