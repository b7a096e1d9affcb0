// Package fp8 implements OCP FP8 E4M3 in its "fn" variant (torch.float8_e4m3fn):
// 1 sign, 4 exponent (bias 7) and 3 mantissa bits, subnormals m·2^-9, largest
// finite value 448 (0x7E), no infinities, and S.1111.111 (0x7F, 0xFF) as NaN.
//
// It models the FP8 counterparts of the FP4 indexer (SPEC §4, "FP8
// counterparts"): the kernels convert with cvt.rn.satfinite.e4m3x2.f32, round to
// nearest even with saturation to ±448 (SatFinite, the zero value of Overflow,
// used by Fromfloat32). The host side of PyTorch / ml_dtypes instead turns values
// beyond the format into NaN (NaNOnOverflow).
//
// Rounding: |x| is rounded to nearest, ties to even, on the E4M3 grid continued
// one step past 448 (to 480, the would-be code 0x7F). So 464, the midpoint of
// 448 = 1.110b·2^8 and 480 = 1.111b·2^8, ties to the even 448 in both modes, and
// every |x| > 464 overflows: SatFinite gives ±448, NaNOnOverflow gives NaN
// (ml_dtypes: 464 → 448, 464.00003 → NaN). Below the smallest subnormal 2^-9,
// 2^-10 ties to zero and anything above it becomes 2^-9; float32 subnormal inputs
// round to zero. The sign is always kept, so negative values that round to zero
// give −0 (0x80).
//
// NaN and infinities: SatFinite maps every NaN input to the positive canonical
// 0x7F (as __nv_cvt_float_to_fp8, which canonicalises NaN before converting, and
// the PTX instruction) and ±Inf to ±448. NaNOnOverflow keeps the input's sign, as
// ml_dtypes does: +NaN, +Inf and positive overflow give 0x7F; −NaN, −Inf and
// negative overflow give 0xFF.
//
// Verification: all 256 codes are decoded against a closed-form table; Encode is
// compared in both modes with an independent float64 oracle (a nearest-even
// search of the sorted list of the 127 finite magnitudes) on every bf16 value and
// on a float32 sweep that includes every pattern next to a rounding boundary, plus
// named cases (448, 464, 465, 480, ±Inf, NaN, −0, 2^-10, 3·2^-11); with
// FP4INDEXER_LONG=1, on all 2^32 float32 patterns. Checked once against the
// references as well, on all 2^32 float32 patterns: Fromfloat32 against
// __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3) on an H100 (SASS
// F2FP.SATFINITE.E4M3.F32), Encode(x, NaNOnOverflow) against ml_dtypes 0.6.0
// float8_e4m3fn and torch 2.11 float8_e4m3fn casts, and Float32 against the
// GPU's decode of all 256 codes: no differences.
package fp8

import "math"

// E4M3 is an OCP E4M3 "fn" value, stored as its bits.
type E4M3 uint8

// Bit fields of an E4M3, its largest finite magnitude and canonical NaN.
const (
	SignMask     = 0x80
	ExponentMask = 0x78
	MantissaMask = 0x07

	MaxFinite E4M3 = 0x7E // 448
	NaN       E4M3 = 0x7F
)

// Overflow selects what Encode does with NaN, ±Inf and values that round past 448.
type Overflow uint8

const (
	// SatFinite clamps to ±448 and maps NaN to 0x7F: cvt.rn.satfinite.e4m3x2.f32,
	// the conversion of the GPU kernels.
	SatFinite Overflow = iota
	// NaNOnOverflow gives a NaN that keeps the input's sign (0x7F or 0xFF):
	// ml_dtypes / torch float8_e4m3fn casts.
	NaNOnOverflow
)

// Frombits returns the E4M3 with the given bits.
func Frombits(b uint8) E4M3 { return E4M3(b) }

// Fromfloat32 rounds f to E4M3 as the kernels do: Encode(f, SatFinite).
func Fromfloat32(f float32) E4M3 { return Encode(f, SatFinite) }

// Encode rounds f to the nearest E4M3, ties to even, handling overflow, NaN and
// infinities as o says.
func Encode(f float32, o Overflow) E4M3 {
	u := math.Float32bits(f)
	sign := E4M3(u>>24) & SignMask
	abs := u &^ (1 << 31)
	if abs > 0x7F800000 { // NaN
		if o == SatFinite {
			return NaN
		}
		return sign | NaN
	}
	exp := int(abs>>23) - 127 // float32 subnormals give -127: they all round to 0 below
	var code uint32
	if exp < -6 {
		// Subnormal E4M3: count units of 2^-9 in the 24-bit significand
		// 1.m·2^exp, i.e. shift it right by 23 - (exp + 9) = 14 - exp bits.
		shift := uint(14 - exp) // >= 21
		if shift > 25 {
			// |f| < 2^-11 (or a float32 subnormal): under a quarter of 2^-9.
			return sign
		}
		sig := abs&0x7FFFFF | 0x800000
		code = sig >> shift
		rem := sig & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && code&1 == 1 {
			code++ // 8 is 0x08, the smallest normal 2^-6: the carry is the right code
		}
	} else {
		// Normal: biased exponent exp+7 and the top 3 mantissa bits; round on the
		// other 20. A carry out of the mantissa increments the exponent field,
		// which is the correctly rounded result.
		code = uint32(exp+7)<<3 | abs>>20&MantissaMask
		rem := abs & 0xFFFFF
		if rem > 0x80000 || rem == 0x80000 && code&1 == 1 {
			code++
		}
	}
	// Inf arrives here with exp = 128, far above MaxFinite, like finite overflow.
	if code > uint32(MaxFinite) {
		if o == SatFinite {
			return sign | MaxFinite
		}
		return sign | NaN
	}
	return sign | E4M3(code)
}

// Float32 returns the value of e; the conversion is exact. Both NaN codes give
// the float32 NaN 0x7FFFFFFF, as the GPU's decode does (cvt.rn.f16x2.e4m3x2 makes
// the canonical f16 NaN 0x7FFF, sign dropped, which widens to 0x7FFFFFFF).
func (e E4M3) Float32() float32 {
	sign := uint32(e&SignMask) << 24
	mag := uint32(e &^ SignMask)
	switch {
	case mag == uint32(NaN):
		return math.Float32frombits(0x7FFFFFFF)
	case mag < 1<<3:
		// Subnormal or zero: mag·2^-9, exact in float32.
		return math.Float32frombits(sign | math.Float32bits(float32(mag)*(1.0/512)))
	default:
		// Rebias the exponent field (7 → 127) and move the 3 mantissa bits to the top.
		return math.Float32frombits(sign | (mag>>3+120)<<23 | (mag&MantissaMask)<<20)
	}
}

// Bits returns the bits of e.
func (e E4M3) Bits() uint8 { return uint8(e) }

// IsNaN reports whether e is a NaN (0x7F or 0xFF).
func (e E4M3) IsNaN() bool { return e&^SignMask == NaN }
