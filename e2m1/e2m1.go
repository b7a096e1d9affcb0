// Package e2m1 models the 4-bit E2M1 element code of the FP4 indexer (SPEC §2):
// the nibble sign<<3 | idx, idx 0..7 standing for the magnitudes
// {0, 0.5, 1, 1.5, 2, 3, 4, 6} (the OCP E2M1 bit pattern), and the packing of
// two codes per byte.
//
// Two rounding modes are modelled, selected by [Mode]:
//
//   - [Threshold] (the zero value) is the rule of PR #26209's Triton and CUDA
//     quantizers (store_fp4_index_k_cache, fused_q_indexer_rope_hadamard_fp4_quant,
//     fused_norm_rope_indexer_fp4) and of DeepGEMM's test quantizer:
//     a = fminf(|v|, 6), so NaN gives 6; idx is the number of the thresholds
//     0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5 that a exceeds strictly, so every tie
//     goes to the smaller magnitude; the sign bit is set only when v < 0 and
//     idx ≠ 0, so −0 and tiny negatives give 0x0.
//   - [RNE] is the Blackwell instruction cvt.rn.satfinite.e2m1x2.f32 (and the
//     OCP / ml_dtypes conversion): round to nearest, ties to the even code,
//     finite overflow and ±Inf saturate to ±6, and the sign is always kept, so
//     negative values that round to zero (−0 included) give 0x8. What sm_100a
//     does with a NaN input has not been measured (no Blackwell GPU was
//     available); [NaNPolicy] makes it an explicit choice.
//
// The two modes differ exactly on the ties ±0.75, ±1.75, ±3.5, on negative
// values that round to zero, and on NaN (by the RNE NaN policy).
//
// Encoding works on the float32 bits: the seven thresholds are exact float32
// values whose significands end in 21 zero bits, so the code depends only on
// the sign, ceil(|bits| / 2^21) and, for RNE, whether |bits| is a multiple of
// 2^21 (a tie). A read-only table built at package initialisation from the
// SPEC's rules maps that index to the code; no comparison branches remain.
//
// Verification: Encode is compared with [OracleEncode], an independent float64
// nearest-point search written from the SPEC's tie rules (oracle.go), on every
// bf16 bit pattern in every mode and NaN policy, on every NaN bit pattern, on
// hand-written tables of every named case, on a sampled float32 sweep, and,
// with FP4INDEXER_LONG=1, on all 2^32 float32 bit patterns in both modes.
// Packing is checked for round trips and nibble order with asymmetric codes.
package e2m1

import (
	"fmt"
	"math"
)

// Code is one E2M1 element: sign<<3 | idx in the low four bits. The high four
// bits of a valid Code are zero.
type Code uint8

// Bit fields of a Code.
const (
	SignMask      Code = 0x8 // set for negative values (and −0 in RNE mode)
	MagnitudeMask Code = 0x7 // idx: the magnitude index 0..7
	Mask          Code = 0xF // the four bits a code may use
)

// MaxFinite is the largest E2M1 magnitude; both modes saturate to it.
const MaxFinite = 6.0

// Mode selects the rounding of float32 values to codes.
type Mode uint8

const (
	// Threshold is the PR's rule: strict thresholds, ties toward the smaller
	// magnitude, no sign on zero, NaN → 0x7.
	Threshold Mode = iota
	// RNE is cvt.rn.satfinite.e2m1x2.f32: nearest, ties to even code,
	// saturating, signed zero kept. Its NaN result is set by NaNPolicy.
	RNE
)

// NaNPolicy chooses the code of a NaN input in RNE mode. Threshold mode
// ignores it (fminf(NaN, 6) = 6 there, so NaN is always 0x7).
type NaNPolicy uint8

const (
	// NaNMax encodes every NaN as 0x7 (+6), as the threshold rule does. It is
	// an assumption: the sm_100a hardware result is unmeasured.
	NaNMax NaNPolicy = iota
	// NaNSignedZero is ml_dtypes' float4_e2m1fn conversion: +NaN → 0x8,
	// −NaN → 0x0.
	NaNSignedZero
	// NaNZero encodes every NaN as 0x0.
	NaNZero
)

// Encoder is a rounding configuration. The zero value is the PR's threshold
// rule.
type Encoder struct {
	Mode Mode
	NaN  NaNPolicy // used only when Mode is RNE
}

// Validate reports whether e's Mode and NaN policy are known values.
func (e Encoder) Validate() error {
	if e.Mode > RNE {
		return fmt.Errorf("e2m1: unknown rounding mode %d", e.Mode)
	}
	if e.NaN > NaNZero {
		return fmt.Errorf("e2m1: unknown NaN policy %d", e.NaN)
	}
	return nil
}

// Encode returns the code of v under e. Encode cannot report errors: an
// Encoder whose fields are out of range (see Validate) encodes as if those
// fields were zero. Every function of this package that returns an error
// rejects such an Encoder instead.
func (e Encoder) Encode(v float32) Code {
	return e.table()[tableIndex(math.Float32bits(v))]
}

// Fromfloat32 returns the threshold-mode code of v (Encoder{}.Encode), the
// rule of the PR's kernels.
func Fromfloat32(v float32) Code {
	return encodeTables[0][tableIndex(math.Float32bits(v))]
}

// Frombits returns the code held in the low four bits of b.
func Frombits(b uint8) Code { return Code(b) & Mask }

// Bits returns the code as a byte (high four bits zero for a valid code).
func (c Code) Bits() uint8 { return uint8(c) }

// Signbit reports whether the sign bit of c is set.
func (c Code) Signbit() bool { return c&SignMask != 0 }

// Index returns the magnitude index idx (0..7).
func (c Code) Index() int { return int(c & MagnitudeMask) }

// values holds the value of each of the 16 codes; 0x8 is −0.
var values = [16]float32{
	0, 0.5, 1, 1.5, 2, 3, 4, 6,
	float32(math.Copysign(0, -1)), -0.5, -1, -1.5, -2, -3, -4, -6,
}

// Float32 returns the value of c: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}, with 0x8 as
// −0. Bits above the low four are ignored.
func (c Code) Float32() float32 { return values[c&Mask] }

// String formats c as its hexadecimal nibble.
func (c Code) String() string { return fmt.Sprintf("0x%X", uint8(c)) }

// String returns the mode's name as accepted by ParseMode.
func (m Mode) String() string {
	switch m {
	case Threshold:
		return "threshold"
	case RNE:
		return "rne"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode returns the Mode named s ("threshold" or "rne").
func ParseMode(s string) (Mode, error) {
	switch s {
	case "threshold":
		return Threshold, nil
	case "rne":
		return RNE, nil
	}
	return 0, fmt.Errorf("e2m1: unknown rounding mode %q (want threshold or rne)", s)
}

// String returns the policy's name as accepted by ParseNaNPolicy.
func (p NaNPolicy) String() string {
	switch p {
	case NaNMax:
		return "max"
	case NaNSignedZero:
		return "signed-zero"
	case NaNZero:
		return "zero"
	}
	return fmt.Sprintf("NaNPolicy(%d)", uint8(p))
}

// ParseNaNPolicy returns the NaNPolicy named s ("max", "signed-zero" or "zero").
func ParseNaNPolicy(s string) (NaNPolicy, error) {
	switch s {
	case "max":
		return NaNMax, nil
	case "signed-zero":
		return NaNSignedZero, nil
	case "zero":
		return NaNZero, nil
	}
	return 0, fmt.Errorf("e2m1: unknown NaN policy %q (want max, signed-zero or zero)", s)
}

// String formats e as "threshold" or "rne/<policy>".
func (e Encoder) String() string {
	if e.Mode == RNE {
		return e.Mode.String() + "/" + e.NaN.String()
	}
	return e.Mode.String()
}

// EncodeSlice sets dst[i] = e.Encode(src[i]). The slices must have equal length.
func (e Encoder) EncodeSlice(dst []Code, src []float32) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if len(dst) != len(src) {
		return fmt.Errorf("e2m1: EncodeSlice: len(dst) = %d, want len(src) = %d", len(dst), len(src))
	}
	for i, v := range src {
		dst[i] = e.Encode(v)
	}
	return nil
}

// PackScaled encodes fl32(x[i]·f) for every i and packs the codes, two per
// byte, even element in the low nibble: dst[i] = code(x[2i]·f) |
// code(x[2i+1]·f)<<4. len(x) must be even and len(dst) = len(x)/2. With f = 1
// it is EncodeSlice followed by Pack; with f a power of two it is the element
// step of a block quantizer (the product is then exact unless it underflows or
// overflows, which never changes a code). Branch-free: one multiply and one
// table load per value. Any input is accepted, NaN included.
func (e Encoder) PackScaled(dst []byte, x []float32, f float32) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if len(x)%2 != 0 {
		return fmt.Errorf("e2m1: PackScaled: odd number of values %d", len(x))
	}
	if len(dst) != len(x)/2 {
		return fmt.Errorf("e2m1: PackScaled: len(dst) = %d, want %d", len(dst), len(x)/2)
	}
	t := e.table()
	for len(dst) > 0 && len(x) >= 2 {
		lo := math.Float32bits(float32(x[0] * f))
		hi := math.Float32bits(float32(x[1] * f))
		dst[0] = byte(t[tableIndex(lo)]) | byte(t[tableIndex(hi)])<<4
		dst, x = dst[1:], x[2:]
	}
	return nil
}

// Pack stores two codes per byte: dst[i] = codes[2i] | codes[2i+1]<<4 (the
// even element in the low nibble, SPEC §2; the PTX cvt instead takes its first
// operand into the high nibble, so kernels pass (x[2i+1], x[2i])). len(codes)
// must be even, len(dst) = len(codes)/2, and every code must fit in four bits.
func Pack(dst []byte, codes []Code) error {
	if len(codes)%2 != 0 {
		return fmt.Errorf("e2m1: Pack: odd number of codes %d", len(codes))
	}
	if len(dst) != len(codes)/2 {
		return fmt.Errorf("e2m1: Pack: len(dst) = %d, want %d", len(dst), len(codes)/2)
	}
	var high Code
	for _, c := range codes {
		high |= c
	}
	if high&^Mask != 0 {
		for i, c := range codes {
			if c&^Mask != 0 {
				return fmt.Errorf("e2m1: Pack: codes[%d] = 0x%X does not fit in four bits", i, uint8(c))
			}
		}
	}
	for i, j := 0, 0; i < len(dst) && j+1 < len(codes); i, j = i+1, j+2 {
		dst[i] = byte(codes[j]) | byte(codes[j+1])<<4
	}
	return nil
}

// Unpack splits each byte into two codes: dst[2i] = src[i] & 0xF,
// dst[2i+1] = src[i] >> 4. len(dst) must be 2·len(src).
func Unpack(dst []Code, src []byte) error {
	if len(dst) != 2*len(src) {
		return fmt.Errorf("e2m1: Unpack: len(dst) = %d, want 2·len(src) = %d", len(dst), 2*len(src))
	}
	dst = dst[:2*len(src)]
	for i, b := range src {
		dst[2*i] = Code(b & 0xF)
		dst[2*i+1] = Code(b >> 4)
	}
	return nil
}
