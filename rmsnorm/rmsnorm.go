// Package rmsnorm models the RMSNorm of the fused K kernel of the DeepSeek V4
// FP4 indexer: SPEC §4, K path v2 step 1 (fused_norm_rope_indexer_fp4 in
// sglang's fused_norm_rope_v2.cuh; one warp per 128-value row, lane L holding
// x[4L … 4L+3]), in float32, round to nearest even:
//
//	s_L = fma(x[4L+3], x[4L+3], fma(x[4L+2], …, fma(x[4L], x[4L], 0)))   per lane
//	s   = xor butterfly over lanes, masks 16, 8, 4, 2, 1: s_L ← fl(s_L + s_(L^mask))
//	nf  = rsqrt(fl(s/128 + eps))                                        (fma, see MeanSquarePlusEps)
//	y_i = fl(fl(x_i·nf)·w_i)
//
// The source writes the lane sum as `sum += x*x` (nvcc contracts it to FFMA; the
// reference note matched this model bit for bit on 500k GPU rows) and the
// reduction as warp::reduce_sum, value + shfl_xor(value, mask) for mask 16 down
// to 1.
//
// rsqrt is pluggable (Rsqrt): the kernel calls rsqrtf, the MUFU.RSQ
// approximation, which differs from the correctly rounded value on 21.7% of
// inputs by 1 or 2 ulps. The default, CorrectlyRounded, is exact IEEE; a
// measured device Table reproduces MUFU.RSQ once the GPU work has produced one;
// NormWithFactor takes the device's nf per row (golden files carry it).
//
// Verification (rmsnorm_test.go): SumSquares against a math/big oracle that
// simulates all 32 lanes (FMA chains and butterfly, each step rounded once);
// CorrectlyRounded against the exact midpoint criterion and a math/big square
// root on samples, and on every positive float32 with FP4INDEXER_LONG=1; Norm
// within a derived bound of a float64 recomputation; the fused and unfused
// s/128 + eps agree for every eps ≥ 2^-100.
package rmsnorm

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/internal/fma"
)

// Dim is the row length of the kernel (index_head_dim).
const Dim = 128

// Lanes is the warp width; lane L holds x[4L … 4L+3].
const Lanes = 32

// DefaultEps is the model's rms_norm_eps, 1e-6 as float32.
const DefaultEps float32 = 1e-6

// SumSquares returns the kernel's sum of squares of a 128-value row (see the
// package doc). It returns NaN when len(x) != 128; Norm reports that as an
// error.
func SumSquares(x []float32) float32 {
	if len(x) != Dim {
		return float32(math.NaN())
	}
	return SumSquares128((*[Dim]float32)(x))
}

// SumSquares128 is SumSquares on an array.
//
// Every lane ends the butterfly with the same value: after step mask, lanes L
// and L^mask hold fl(s_L + s_(L^mask)) and fl(s_(L^mask) + s_L), equal because
// float addition is exactly commutative; by induction all 32 lanes agree after
// mask 1, so the kernel's nf is warp-uniform. Lane 0's value is computed here:
// at step mask, lane L < mask needs only lanes below 2·mask, so each step
// halves the live lanes (16 + 8 + 4 + 2 + 1 = 31 additions).
func SumSquares128(x *[Dim]float32) float32 {
	var s [Lanes]float32
	for l := range s {
		v := (*[4]float32)(x[4*l : 4*l+4])
		acc := fma.FMA32(v[0], v[0], 0)
		acc = fma.FMA32(v[1], v[1], acc)
		acc = fma.FMA32(v[2], v[2], acc)
		s[l] = fma.FMA32(v[3], v[3], acc)
	}
	for mask := Lanes / 2; mask >= 1; mask /= 2 {
		for l := 0; l < mask; l++ {
			s[l] = s[l] + s[l+mask]
		}
	}
	return s[0]
}

// MeanSquarePlusEps returns fma(s, 2^-7, eps) = fl(s/128 + eps), the argument of
// the kernel's rsqrt.
//
// The source writes sum / kHeadDim + eps with kHeadDim = 128 (an integer
// constant converted to 128.0f): a division, not a multiply by 1/128. A
// correctly rounded s/128 and s·2^-7 are the same number (same exact value, one
// rounding), so nvcc is free to use the multiply, and with its default
// --fmad=true it may contract the multiply-add to FFMA, as it does elsewhere in
// these kernels; this contraction was not confirmed in SASS. Both forms give the same float32 for every s ≥ 0 (NaN
// and Inf included) whenever eps = 0 or eps ≥ 2^-100, so for the deployed
// eps = 1e-6 the choice is immaterial:
//
//   - a = s·2^-7 is exact unless a < 2^-126 (it lands in the subnormal range and
//     s had bits below 2^-142). Exact a: fma = fl(a + eps) = fl(fl(a) + eps).
//   - Inexact a: both a + eps and fl(a) + eps lie within 2^-126 of eps, while
//     every float32 rounding boundary near eps ≥ 2^-100 is at least
//     ulp(eps)/4 ≥ 2^-125 away from eps, so both round to eps.
//   - eps = 0: fma(s, 2^-7, 0) = fl(a) = fl(fl(a) + 0).
//
// For a tiny eps they can differ (s = 2^-143, eps = 2^-149: fused 2^-148,
// unfused 2^-149); the tests pin that example.
func MeanSquarePlusEps(s, eps float32) float32 {
	return fma.FMA32(s, 1.0/Dim, eps)
}

// Norm writes the normalised, weighted row y_i = fl(fl(x_i·nf)·w_i) to dst and
// returns nf = r.Rsqrt(MeanSquarePlusEps(SumSquares(x), eps)). dst, x and weight
// have 128 values; dst may alias x. A nil r means CorrectlyRounded. eps is used
// as given (DefaultEps is the model's value).
func Norm(dst, x, weight []float32, eps float32, r Rsqrt) (nf float32, err error) {
	if err := checkShapes(dst, x, weight); err != nil {
		return 0, err
	}
	if r == nil {
		r = CorrectlyRounded{}
	}
	nf = r.Rsqrt(MeanSquarePlusEps(SumSquares128((*[Dim]float32)(x)), eps))
	scale((*[Dim]float32)(dst), (*[Dim]float32)(x), (*[Dim]float32)(weight), nf)
	return nf, nil
}

// NormWithFactor writes y_i = fl(fl(x_i·nf)·w_i) with a given norm factor, e.g.
// the device's rsqrtf result for this row. dst may alias x.
func NormWithFactor(dst, x, weight []float32, nf float32) error {
	if err := checkShapes(dst, x, weight); err != nil {
		return err
	}
	scale((*[Dim]float32)(dst), (*[Dim]float32)(x), (*[Dim]float32)(weight), nf)
	return nil
}

func scale(dst, x, w *[Dim]float32, nf float32) {
	for i := range dst {
		dst[i] = float32(float32(x[i]*nf) * w[i])
	}
}

func checkShapes(dst, x, weight []float32) error {
	for _, a := range []struct {
		name string
		n    int
	}{{"x", len(x)}, {"weight", len(weight)}, {"dst", len(dst)}} {
		if a.n != Dim {
			return fmt.Errorf("rmsnorm: len(%s) = %d, want [%d]", a.name, a.n, Dim)
		}
	}
	return nil
}
