// Package ue8m0 models the UE8M0 group scale of the FP4 indexer (SPEC §3) and
// the block quantizer that pairs it with E2M1 elements (SPEC §2, §3): a group
// of 32 values shares one byte e, the scale 2^(e−127); the elements are the
// E2M1 codes of x / 2^(e−127), packed two per byte.
//
// The scale rule is a named [Variant] because stacks disagree on it:
//
//   - [CUDA] (the zero value) is fused_q_indexer_rope_hadamard_fp4_quant and the
//     default fused_norm_rope_indexer_fp4 of PR #26209: raw =
//     fmaxf(1e-4f, amax) / 6 (IEEE division), e = uint8(ceil_exp(raw)), no clamp.
//     Elements are x · g with g the float whose bits are (254−e)<<23.
//   - [Triton] is store_fp4_index_k_cache / quantize_fp4_indexer_tensor (the
//     legacy K path) and DeepGEMM's test quantizer: raw = max(amax/6, 1e-4f),
//     e = clamp(ceil_exp(raw), 1, 254). Elements are x / f, f with bits e<<23.
//     Triton lowers the division to div.full.f32; the reference measured no
//     exponent or code difference from IEEE division, so IEEE is modelled.
//   - [OCPFloor] is OCP MX v1.0 / torchao FLOOR / microxcaling:
//     e = clamp(floor(log2 amax) − 2 + 127, 0, 254), 0 for amax = 0, NaN (0xFF)
//     for NaN or Inf. It may clip the block maximum above 6, so it is meant to
//     pair with e2m1.RNE elements (saturating); any Element encoder is applied
//     as given.
//   - [HardwareRP] and [HardwareRZ] are cvt.rp / cvt.rz .satfinite.ue8m0x2.f32
//     (sm_100a) applied to fl(amax/6): round up or down to a power of two,
//     saturate to 0..254, NaN gives 0xFF. Assumed and unmeasured (no Blackwell
//     GPU was available): +Inf saturates to 254, 0 gives 0 (both modes), and a
//     subnormal quotient rounds like any other positive value (rp: 0 up to
//     2^−127, 1 above; rz: 0).
//
// CUDA and Triton agree on every finite amax > 6·2^−14 and differ on every
// amax ≤ 6·2^−14 (all-zero and all-NaN groups included: Triton 114, CUDA 112
// or 113) and on +Inf (Triton 254, CUDA 255); this is proved over all float32
// amax values with FP4INDEXER_LONG=1.
//
// Element scaling follows each variant's own arithmetic ([Variant.ScaleElement]),
// ends included, so that a sweep can force any scale byte: Triton e = 0 divides
// by +0 and e = 255 by +Inf; CUDA e = 254 multiplies by +0 and e = 255 by −Inf
// (what the GPU writes for a group holding +Inf). OCP and the hardware variants
// divide by the decoded scale. Wherever a scale is a finite non-zero power of
// two whose reciprocal is a float32, the quantizer multiplies by that exact
// reciprocal, which equals the literal division bit for bit (both round the
// same real number once).
//
// NaN results of element scaling are made host-independent: a NaN element
// comes back quietened with its own sign and payload, and a NaN the operation
// creates (0/0, 0·Inf, Inf/Inf, a NaN scale) is the GPU's canonical NaN
// 0x7FFFFFFF. The sign matters only to the e2m1.NaNSignedZero policy.
//
// Speed: a row costs two passes per group, an integer maximum of the magnitude
// bits (NaN-free groups need nothing more; a group holding a NaN redoes it with
// NaNs masked for CUDA and Triton), then one exact multiply, one add, one shift
// and one table load per element (fast.go), about 1.5 ns per element.
//
// Verification: FromAmax is compared with OracleFromAmax, an independent
// float64/math.Frexp model (oracle.go), on dense windows around every special
// amax and a stride through all 2^32 patterns, and on all 2^32 patterns for
// every variant with FP4INDEXER_LONG=1; the CUDA/Triton boundary claim is
// checked over every non-negative amax with FP4INDEXER_LONG=1 and a dense
// sample by default. The quantizer is compared with the exact quotient
// x·2^(127−e) fed to e2m1.OracleEncode on every bf16 value under every forced
// scale byte and every variant, in threshold and RNE mode; the ends where a
// variant's literal arithmetic departs from the exact quotient are checked
// against SPEC §3's literal behaviour, hand tables included. The row kernel's
// tables are compared with e2m1.OracleEncode on every non-NaN float32 with
// FP4INDEXER_LONG=1. Random rows (specials, ties at random scales, subnormals)
// are compared with a reference built from the oracles alone, and a fuzz
// target does the same on arbitrary bytes. Edge rows of SPEC §3 and the
// worked example of the reference note are table tests.
package ue8m0

import (
	"fmt"
	"math"
	"math/bits"
)

// Scale is a UE8M0 byte e: the power of two 2^(e−127). 0xFF is NaN; 0 is
// 2^−127, a float32 subnormal, not zero.
type Scale uint8

const (
	Bias           = 127  // e = Bias is the scale 1
	NaN      Scale = 0xFF // the only non-numeric byte
	MaxScale Scale = 0xFE // 2^127
	One      Scale = Bias // 2^0
)

// Float32 bit fields used to build and take apart scales.
const (
	mantissaBits = 23
	mantissaMask = 1<<mantissaBits - 1
	absMask      = 0x7FFFFFFF
	infBits      = 0x7F800000
	quietBit     = 0x00400000
	// canonicalNaN is the NaN NVIDIA GPUs produce for every NaN result.
	canonicalNaN = 0x7FFFFFFF
)

// Frombits returns the scale with byte b.
func Frombits(b uint8) Scale { return Scale(b) }

// Bits returns the scale byte.
func (s Scale) Bits() uint8 { return uint8(s) }

// IsNaN reports whether s is the NaN byte 0xFF.
func (s Scale) IsNaN() bool { return s == NaN }

// Exponent returns e − 127, the power of two s stands for (128 for NaN).
func (s Scale) Exponent() int { return int(s) - Bias }

// Float32 returns 2^(e−127): bits e<<23 for e in 1..254, the subnormal
// 0x00400000 for e = 0, and the quiet NaN 0x7FC00000 for e = 255.
func (s Scale) Float32() float32 {
	switch s {
	case 0:
		return math.Float32frombits(quietBit) // 2^-127 = 2^22 · 2^-149
	case NaN:
		return math.Float32frombits(infBits | quietBit)
	}
	return math.Float32frombits(uint32(s) << mantissaBits)
}

// String formats s as its byte and value.
func (s Scale) String() string {
	if s == NaN {
		return "0xFF(NaN)"
	}
	return fmt.Sprintf("0x%02X(2^%d)", uint8(s), s.Exponent())
}

// CeilExp is the kernels' ceil_exp: the biased exponent field of f plus 1 if
// its mantissa field is non-zero; the sign bit is ignored. For a positive
// normal f it is 127 + ceil(log2 f). Other inputs, which the kernels never pass
// to it except +Inf: ±0 gives 0; a subnormal gives 1 (not 127 + ceil(log2 f));
// ±Inf gives 255; NaN gives 256 (so uint8(CeilExp(NaN)) would be 0).
func CeilExp(f float32) uint32 {
	u := math.Float32bits(f)
	exp := u >> mantissaBits & 0xFF
	if u&mantissaMask != 0 {
		exp++
	}
	return exp
}

// Variant is a scale rule (see the package doc). The zero value is CUDA, the
// PR's fused kernels.
type Variant uint8

const (
	CUDA Variant = iota
	Triton
	OCPFloor
	HardwareRP
	HardwareRZ
)

// Variants returns every variant in declaration order.
func Variants() []Variant { return []Variant{CUDA, Triton, OCPFloor, HardwareRP, HardwareRZ} }

var variantNames = [...]string{"cuda", "triton", "ocp-floor", "rp", "rz"}

// String returns the variant's name as accepted by ParseVariant.
func (v Variant) String() string {
	if int(v) < len(variantNames) {
		return variantNames[v]
	}
	return fmt.Sprintf("Variant(%d)", uint8(v))
}

// ParseVariant returns the variant named s: "cuda", "triton", "ocp-floor",
// "rp" or "rz".
func ParseVariant(s string) (Variant, error) {
	for i, n := range variantNames {
		if s == n {
			return Variant(i), nil
		}
	}
	return 0, fmt.Errorf("ue8m0: unknown scale variant %q (want cuda, triton, ocp-floor, rp or rz)", s)
}

// Validate reports whether v is a known variant.
func (v Variant) Validate() error {
	if int(v) >= len(variantNames) {
		return fmt.Errorf("ue8m0: unknown scale variant %d", uint8(v))
	}
	return nil
}

// amaxFloor is 1e-4f (bits 0x38D1B717), the floor both kernel variants apply.
const amaxFloor float32 = 1e-4

// FromAmax returns the variant's scale for a group whose maximum magnitude is
// amax. The CUDA and Triton formulas are applied literally, so a negative
// amax meets their 1e-4 floor; OCPFloor, HardwareRP and HardwareRZ use |amax|
// (a group maximum is never negative). NaN: CUDA's fmaxf and Triton's max.f32
// drop it (112 and 114); the others give 0xFF. An unknown Variant behaves as
// CUDA (Validate reports it).
func (v Variant) FromAmax(amax float32) Scale {
	switch v {
	case Triton:
		return tritonFromAmax(amax)
	case OCPFloor:
		return ocpFloor(math.Float32bits(amax) & absMask)
	case HardwareRP, HardwareRZ:
		u := math.Float32bits(amax) & absMask
		if u > infBits {
			return NaN
		}
		return hardware(math.Float32bits(math.Float32frombits(u)/6), v == HardwareRP)
	}
	return cudaFromAmax(amax)
}

// cudaFromAmax is raw = fmaxf(1e-4f, amax) / 6; e = uint8(ceil_exp(raw)).
func cudaFromAmax(amax float32) Scale {
	m := amax
	if !(m >= amaxFloor) { // fmaxf(1e-4f, NaN) is 1e-4f
		m = amaxFloor
	}
	return Scale(uint8(CeilExp(m / 6))) // +Inf: ceil_exp 255, the byte the GPU writes
}

// tritonFromAmax is raw = max(fl(amax/6), 1e-4f); e = clamp(ceil_exp(raw), 1, 254).
func tritonFromAmax(amax float32) Scale {
	raw := amax / 6
	if !(raw >= amaxFloor) { // max.f32 drops NaN; negatives meet the floor too
		raw = amaxFloor
	}
	return Scale(min(max(CeilExp(raw), 1), uint32(MaxScale))) // +Inf: 255 clamped to 254
}

// ocpFloor takes floor(log2 a) from the bits of a = |amax|: the exponent field
// for normals, the position of the leading mantissa bit for subnormals.
func ocpFloor(u uint32) Scale {
	switch {
	case u >= infBits:
		return NaN
	case u == 0:
		return 0
	}
	exp := int(u >> mantissaBits)
	var floorLog2 int
	if exp == 0 {
		floorLog2 = bits.Len32(u) - 1 - 149 // u·2^-149
	} else {
		floorLog2 = exp - Bias
	}
	return Scale(min(max(floorLog2-2+Bias, 0), int(MaxScale)))
}

// hardware rounds the positive float32 r (bits u, not NaN) to a power of two,
// up or down, saturating to 0..254.
func hardware(u uint32, up bool) Scale {
	exp := u >> mantissaBits
	mant := u & mantissaMask
	switch {
	case u == infBits:
		return MaxScale // satfinite (assumed)
	case u == 0:
		return 0 // assumed: the lowest byte for both roundings
	case exp == 0: // subnormal r = mant·2^-149 < 2^-126
		if up && mant > quietBit { // r > 2^-127 rounds up to 2^-126
			return 1
		}
		return 0 // rp: r ≤ 2^-127 → 2^-127; rz: r < 2^-126 → 2^-127 by saturation
	case up && mant != 0:
		return Scale(min(exp+1, uint32(MaxScale)))
	}
	return Scale(exp)
}

// Amax returns the variant's group maximum of |x|. CUDA (fmaxf) and Triton
// (max.f32) ignore NaN: a group of NaNs (or an empty one) gives 0, which both
// scale rules then floor (Triton 114, CUDA 112, as SPEC §3 records). The other
// variants propagate NaN: any NaN element makes the maximum a NaN.
func (v Variant) Amax(x []float32) float32 {
	if v == CUDA || v == Triton || v.Validate() != nil {
		return math.Float32frombits(amaxBitsIgnoreNaN(x))
	}
	return math.Float32frombits(amaxBits(x))
}

// For non-negative floats integer order of the bits is value order, and every
// NaN's magnitude bits exceed +Inf's, so both maxima are integer maxima.

func amaxBits(x []float32) uint32 {
	var m0, m1, m2, m3 uint32
	for len(x) >= 4 {
		m0 = max(m0, math.Float32bits(x[0])&absMask)
		m1 = max(m1, math.Float32bits(x[1])&absMask)
		m2 = max(m2, math.Float32bits(x[2])&absMask)
		m3 = max(m3, math.Float32bits(x[3])&absMask)
		x = x[4:]
	}
	for _, v := range x {
		m0 = max(m0, math.Float32bits(v)&absMask)
	}
	return max(m0, m1, m2, m3)
}

// notNaN maps the magnitude bits a to a, or to 0 when a is a NaN, without a
// branch: a − (Inf+1) is negative (top bit set) exactly when a ≤ Inf.
func notNaN(a uint32) uint32 {
	keep := (a - (infBits + 1)) >> 31 // 1: not NaN
	return a & -keep
}

func amaxBitsIgnoreNaN(x []float32) uint32 {
	var m0, m1, m2, m3 uint32
	for len(x) >= 4 {
		m0 = max(m0, notNaN(math.Float32bits(x[0])&absMask))
		m1 = max(m1, notNaN(math.Float32bits(x[1])&absMask))
		m2 = max(m2, notNaN(math.Float32bits(x[2])&absMask))
		m3 = max(m3, notNaN(math.Float32bits(x[3])&absMask))
		x = x[4:]
	}
	for _, v := range x {
		m0 = max(m0, notNaN(math.Float32bits(v)&absMask))
	}
	return max(m0, m1, m2, m3)
}

// ScaleElement returns x scaled by s the way the variant's kernel does it,
// ends included:
//
//	Triton:              x / f, f = float32frombits(e<<23) (e = 0: f = +0; e = 255: f = +Inf)
//	CUDA:                x · g, g = float32frombits(uint32(int32(254−e)<<23)) (e = 254: +0; e = 255: −Inf)
//	OCPFloor, RP, RZ:    x / s.Float32()
//
// NaN results: a NaN x comes back quietened with its sign and payload (IEEE
// propagation, as on amd64 and arm64); a NaN the operation creates (0/0,
// 0·Inf, Inf/Inf, a NaN scale) is the canonical GPU NaN 0x7FFFFFFF, so the
// result does not depend on the host's default NaN. An unknown Variant
// behaves as CUDA.
func (v Variant) ScaleElement(x float32, s Scale) float32 {
	var r float32
	switch v {
	case Triton:
		r = x / math.Float32frombits(uint32(s)<<mantissaBits)
	case OCPFloor, HardwareRP, HardwareRZ:
		r = x / s.Float32()
	default:
		r = float32(x * cudaInverse(s))
	}
	if r != r {
		if x != x {
			return math.Float32frombits(math.Float32bits(x) | quietBit)
		}
		return math.Float32frombits(canonicalNaN)
	}
	return r
}

// cudaInverse is the CUDA kernels' 1/scale built from bits: (254−e)<<23 as an
// int32, which is 2^(127−e) for e ≤ 253, +0 for e = 254 and −Inf for e = 255.
func cudaInverse(s Scale) float32 {
	return math.Float32frombits(uint32(int32(254-int32(s)) << mantissaBits))
}

// multiplier returns f such that float32(x·f) equals v.ScaleElement(x, s) for
// every x, when one exists: f must be a finite non-zero power of two, so that
// no invalid operation can arise and a NaN x is the only NaN result. For
// division by 2^k this holds when 2^−k is a float32 (x/2^k and x·2^−k are the
// same real number, rounded once).
func (v Variant) multiplier(s Scale) (float32, bool) {
	switch v {
	case Triton:
		if s == 0 || s == NaN {
			return 0, false
		}
	case OCPFloor, HardwareRP, HardwareRZ:
		if s == NaN {
			return 0, false
		}
	default: // CUDA: g is +0 at 254 and −Inf at 255
		if s >= MaxScale {
			return 0, false
		}
		return cudaInverse(s), true
	}
	// 2^(127−e) for e in 0..254: normal down to e = 253, then 2^-127 (subnormal).
	if s == MaxScale {
		return math.Float32frombits(quietBit), true
	}
	return math.Float32frombits(uint32(254-int32(s)) << mantissaBits), true
}
