// Package hadamard models the Walsh–Hadamard rotation of the DeepSeek V4 FP4
// indexer: SPEC §4, Q path step 3 and K path v2 step 3 (fused kernels
// fused_q_indexer_rope_hadamard_fp4_quant and fused_norm_rope_indexer_fp4).
//
// The transform is unnormalised and in Sylvester (natural) order: the matrix
// entry is H[i][j] = (−1)^popcount(i&j), no bit reversal, no sequency order.
// It is computed in float32 by butterflies in the kernel's stage order,
// h = 1, 2, 4, …, n/2; for every i with i&h == 0 the pair becomes
// (y[i], y[i+h]) = (fl(y[i] + y[i+h]), fl(y[i] − y[i+h])), each sum and
// difference rounded once to float32, round to nearest even. The kernel spreads
// the stages over registers and warp shuffles (in-lane pairs (0,1),(2,3) then
// (0,2),(1,3), then xor masks 1…16 across lanes) but performs exactly these
// additions on exactly these operands, so the rounding is the same. Since
// fl(a+b) = fl(b+a) exactly, the order of the two operands of a sum does not
// matter; the order of a difference does (lower index minus upper index).
//
// Rotate then multiplies every element by the float32 constant Scale(n)
// (0x3DB504F3 for n = 128, the value nvcc folds rsqrtf(128.0f) to), one
// rounding per product, and optionally rounds to bf16 (the Q kernel's second
// round trip).
//
// NaN payloads are not modelled: a NaN output is some quiet NaN (Go on amd64
// propagates an input payload, the GPU writes the canonical 0x7FFFFFFF); the
// downstream quantisers treat every NaN alike.
//
// Verification (hadamard_test.go): the butterfly is bit-identical to a
// recursive second implementation on every size 1…1024; the float32 result lies
// within a proved rounding bound of a float64 gonum matrix product H·x on random
// and adversarial inputs; H(H(x)) = n·x exactly on small integers; NaN and Inf
// spread as IEEE arithmetic says; Scale(128) = 0x3DB504F3 and every Scale(n) is
// proved correctly rounded with exact integer arithmetic; the unrolled and the
// vectorised (amd64 AVX) Transform128 are bit-identical to the generic loop.
package hadamard

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/fp4indexer/fp4indexer/bf16"
)

// MaxLen is the largest transform length accepted (2^20 points).
const MaxLen = 1 << 20

// invSqrt2Bits is fl32(1/√2), correctly rounded (proved in the tests by
// (2m−1)² < 2^49 < (2m+1)² for its 24-bit significand m).
const invSqrt2Bits = 0x3F3504F3

// Scale128Bits is the bit pattern of Scale(128) = fl32(1/√128), the constant
// the kernels multiply by after the 128-point transform.
const Scale128Bits = 0x3DB504F3

// Options selects the optional steps of Rotate. The zero value is the K path
// (no bf16 rounding); the Q path sets RoundBF16.
type Options struct {
	// RoundBF16 rounds every output to bf16 and back (RNE on the fp32 bits,
	// NaN → 0x7FFF), the Q kernel's cast<float>(cast<bf16>(·)).
	RoundBF16 bool
}

// checkLen reports whether n is a power of two in [1, MaxLen].
func checkLen(n int) error {
	if n < 1 || n > MaxLen || n&(n-1) != 0 {
		return fmt.Errorf("hadamard: len(x) = %d, want a power of two in [1, %d]", n, MaxLen)
	}
	return nil
}

// Transform applies the unnormalised Sylvester-order Walsh–Hadamard transform
// to x in place, with the butterfly stages h = 1, 2, …, len(x)/2 in that order.
// len(x) must be a power of two in [1, MaxLen].
func Transform(x []float32) error {
	if err := checkLen(len(x)); err != nil {
		return err
	}
	transform(x)
	return nil
}

// transform runs stages 1…64 block by block with Transform128 (those stages never
// leave a 128-element block) and the remaining stages with the loop.
func transform(x []float32) {
	if len(x) < 128 {
		butterflies(x)
		return
	}
	for b := 0; b < len(x); b += 128 {
		Transform128((*[128]float32)(x[b : b+128]))
	}
	stages(x, 128)
}

// butterflies is the reference loop: one pass per stage, in stage order.
func butterflies(x []float32) { stages(x, 1) }

// stages runs the stages h = from, 2·from, …, len(x)/2.
func stages(x []float32, from int) {
	n := len(x)
	for h := from; h < n; h <<= 1 {
		for i := 0; i < n; i += 2 * h {
			lo := x[i : i+h : i+h]
			hi := x[i+h : i+2*h : i+2*h]
			hi = hi[:len(lo)]
			for j := range lo {
				a, b := lo[j], hi[j]
				lo[j] = a + b
				hi[j] = a - b
			}
		}
	}
}

// Transform128 is Transform for the kernels' 128-point size. It uses the
// vectorised version where the CPU supports it (amd64 with AVX) and the
// portable unrolled version otherwise; both are bit-identical to Transform.
func Transform128(x *[128]float32) {
	if useAVX {
		transform128AVX(x)
		return
	}
	transform128Go(x)
}

// transform128Go is the portable 128-point transform. Butterflies within a
// stage are independent, so any schedule that feeds each butterfly the
// previous stage's outputs on the same indices performs the same roundings. It
// does stages 1, 2, 4 on blocks of 8 consecutive values held in locals, stages
// 8, 16, 32 on 8 values strided by 8 inside each half, then stage 64.
func transform128Go(x *[128]float32) {
	for b := 0; b < 128; b += 8 {
		v := (*[8]float32)(x[b : b+8])
		a0, a1, a2, a3, a4, a5, a6, a7 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		// h = 1
		a0, a1 = a0+a1, a0-a1
		a2, a3 = a2+a3, a2-a3
		a4, a5 = a4+a5, a4-a5
		a6, a7 = a6+a7, a6-a7
		// h = 2
		a0, a2 = a0+a2, a0-a2
		a1, a3 = a1+a3, a1-a3
		a4, a6 = a4+a6, a4-a6
		a5, a7 = a5+a7, a5-a7
		// h = 4
		v[0], v[4] = a0+a4, a0-a4
		v[1], v[5] = a1+a5, a1-a5
		v[2], v[6] = a2+a6, a2-a6
		v[3], v[7] = a3+a7, a3-a7
	}
	for half := 0; half < 128; half += 64 {
		v := (*[64]float32)(x[half : half+64])
		for j := 0; j < 8; j++ {
			a0, a1, a2, a3 := v[j], v[j+8], v[j+16], v[j+24]
			a4, a5, a6, a7 := v[j+32], v[j+40], v[j+48], v[j+56]
			// h = 8
			a0, a1 = a0+a1, a0-a1
			a2, a3 = a2+a3, a2-a3
			a4, a5 = a4+a5, a4-a5
			a6, a7 = a6+a7, a6-a7
			// h = 16
			a0, a2 = a0+a2, a0-a2
			a1, a3 = a1+a3, a1-a3
			a4, a6 = a4+a6, a4-a6
			a5, a7 = a5+a7, a5-a7
			// h = 32
			v[j], v[j+32] = a0+a4, a0-a4
			v[j+8], v[j+40] = a1+a5, a1-a5
			v[j+16], v[j+48] = a2+a6, a2-a6
			v[j+24], v[j+56] = a3+a7, a3-a7
		}
	}
	lo := (*[64]float32)(x[:64])
	hi := (*[64]float32)(x[64:])
	for i := range lo {
		a, b := lo[i], hi[i]
		lo[i] = a + b
		hi[i] = a - b
	}
}

// Scale returns fl32(1/√n), correctly rounded, for n a power of two in
// [1, MaxLen]: 2^(−k/2) exactly when k = log2 n is even, and
// fl32(1/√2)·2^(−(k−1)/2) when k is odd (the power-of-two factor is exact, so
// the product is the correctly rounded 1/√n). Scale(128) has bits 0x3DB504F3.
func Scale(n int) (float32, error) {
	if err := checkLen(n); err != nil {
		return 0, fmt.Errorf("hadamard: Scale: n = %d, want a power of two in [1, %d]", n, MaxLen)
	}
	k := bits.TrailingZeros(uint(n))
	if k%2 == 0 {
		return math.Float32frombits(uint32(127-k/2) << 23), nil
	}
	return math.Float32frombits(invSqrt2Bits - uint32((k-1)/2)<<23), nil
}

// Rotate applies Transform, multiplies every element by Scale(len(x)) (each
// product rounded to float32), then rounds to bf16 if o.RoundBF16. len(x) must
// be a power of two in [1, MaxLen].
func Rotate(x []float32, o Options) error {
	if err := checkLen(len(x)); err != nil {
		return err
	}
	if len(x) == 128 {
		Rotate128((*[128]float32)(x), o)
		return nil
	}
	transform(x)
	s, _ := Scale(len(x))
	scaleAll(x, s, o)
	return nil
}

// Rotate128 is Rotate for a 128-element array (it cannot fail).
func Rotate128(x *[128]float32, o Options) {
	s := math.Float32frombits(Scale128Bits)
	if useAVX {
		rotate128AVX(x, s)
	} else {
		rotate128Go(x, s)
	}
	if o.RoundBF16 {
		bf16.RoundSlice(x[:])
	}
}

// rotate128Go is transform128Go followed by fl(y·s), eight products per step.
func rotate128Go(x *[128]float32, s float32) {
	transform128Go(x)
	for b := 0; b < 128; b += 8 {
		v := (*[8]float32)(x[b : b+8])
		v[0], v[1], v[2], v[3] = float32(v[0]*s), float32(v[1]*s), float32(v[2]*s), float32(v[3]*s)
		v[4], v[5], v[6], v[7] = float32(v[4]*s), float32(v[5]*s), float32(v[6]*s), float32(v[7]*s)
	}
}

func scaleAll(x []float32, s float32, o Options) {
	for i, v := range x {
		x[i] = float32(v * s)
	}
	if o.RoundBF16 {
		bf16.RoundSlice(x)
	}
}
