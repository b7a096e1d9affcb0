package mqa

import "math"

// BoundOptions describes the device whose logits are compared with the model.
type BoundOptions struct {
	// DotRoundoff is the relative error u_d of one accumulation step of the
	// device's dot product (tensor-core accumulation is not specified by
	// NVIDIA). 0 means 2^−23: an fp32 accumulator that may truncate. H100 FP8
	// wgmma is reported to keep about 13 fraction bits (DeepSeek-V3 report; a
	// truncating e8m13 accumulator), for which 2^−13 is the setting.
	DotRoundoff float64
}

const (
	unitRoundoff32 = 0x1p-24  // fp32 round to nearest
	minNormal32    = 0x1p-126 // a flush-to-zero or truncation below it loses at most this
	minSubnormal32 = 0x1p-149 // the spacing of fp32 subnormals
)

// gamma is Higham's γ_n = n·u/(1 − n·u), +Inf when n·u ≥ 1.
func gamma(n int, u float64) float64 {
	nu := float64(n) * u
	if nu >= 1 {
		return math.Inf(1)
	}
	return nu / (1 - nu)
}

// Bound returns, for every entry of the logits of in, a bound on
// |device − model| for a device whose dot products accumulate with relative
// error o.DotRoundoff per step in any order, and whose epilogue is any fp32
// round-to-nearest reduction of at most H + 4 roundings per term (sm100, sm90,
// sequential and the bf16-free variants all are), compared with the model's
// Exact dot and any epilogue. Masked entries get 0 (both sides are −Inf there).
//
// Derivation. Let p_d = q̂_d·k̂_d, a* = Σ_d p_d, A_h = Σ_d |p_d| (computed
// exactly enough in float64). The device dot satisfies
// |ã_h − a*_h| ≤ γ_D(u_d)·A_h + D·2^−126 (γ_n = n·u/(1 − n·u); the absolute
// term covers products and partial sums that underflow or flush), the model's
// |fl(a*_h) − a*_h| ≤ u·A_h + 2^−149 with u = 2^−24. relu is 1-Lipschitz, so
// both relu values are within those errors of relu(a*_h) ≤ A_h. An fp32
// reduction in which every term passes through at most H + 4 roundings (chains
// of at most H fused steps, the cross-chain adds, R/2 and the scale product)
// errs by at most γ_{H+4}(u)·Σ_h |w_h|·relu(ã_h) plus 2^−149 per rounding that
// lands in the subnormal range. With e_h = (γ_D(u_d) + u)·A_h + D·2^−126 + 2^−149
// the sum of the two sides' errors against the true logit is
//
//	|s_k|·[Σ_h |w_h|·e_h + γ_{H+4}(u)·Σ_h |w_h|·(2·A_h + e_h)] + 2(H+4)·2^−149·max(1, |s_k|)
//
// with s_k = 1 for FP4. The float64 evaluation is inflated by 2^−40 relative.
// Outside the bound's assumptions: results that overflow fp32 on one side only,
// and NaN (WithinBound requires NaN on both sides).
func Bound(in *Input, o BoundOptions) ([]float64, error) {
	if in == nil {
		return nil, argErr("Input", "nil")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ud := o.DotRoundoff
	if ud == 0 {
		ud = 0x1p-23
	}
	if ud < 0 || ud != ud {
		return nil, argErr("DotRoundoff", "%v is not ≥ 0", o.DotRoundoff)
	}
	h, d, width := in.H, in.HeadDim(), in.MaxContextLen
	gd := gamma(d, ud)
	gh := gamma(h+4, unitRoundoff32)
	absDot := float64(d)*minNormal32 + minSubnormal32
	out := make([]float64, in.Rows()*width)
	f := in.Format()
	qabs := make([]float64, h*d) // |q̂|
	kabs := make([]float64, d)
	for r := 0; r < in.Rows(); r++ {
		b := r / in.NextN
		switch f {
		case FP4:
			absFP4(qabs, in.QFP4[r*h*d/2:(r+1)*h*d/2], in.QSF[r*h:(r+1)*h], d)
		case FP8:
			for i, v := range in.QFP8[r*h*d : (r+1)*h*d] {
				qabs[i] = math.Abs(e4m3Value64[v])
			}
		}
		w := in.Weights[r*h : (r+1)*h]
		for j := 0; j < int(in.ContextLens[r]); j++ {
			p := in.Cache.Layout.PageSize
			payload, scale := in.Cache.Token(int(in.BlockTable[b*in.MaxBlocks+j/p]), j%p)
			sk := 1.0
			switch f {
			case FP4:
				absFP4(kabs, payload, []int32{int32(scaleWord(scale))}, d)
			case FP8:
				for i, v := range payload {
					kabs[i] = math.Abs(e4m3Value64[v])
				}
				sk = math.Abs(float64(fp8Scale(scale)))
			}
			var wa, wabs float64
			for hh := 0; hh < h; hh++ {
				var a float64
				for i, kv := range kabs {
					a += qabs[hh*d+i] * kv
				}
				aw := math.Abs(float64(w[hh]))
				wa += aw * a
				wabs += aw
			}
			e := (gd+unitRoundoff32)*wa + absDot*wabs
			bnd := sk*(e+gh*(2*wa+e)) + 2*float64(h+4)*minSubnormal32*max(1, sk)
			out[r*width+j] = bnd * (1 + 0x1p-40)
		}
	}
	return out, nil
}

// absFP4 writes |value·2^(e−127)| in float64 (exact) for rows of d elements.
func absFP4(dst []float64, packed []byte, sf []int32, d int) {
	for r, w := range sf {
		for i := 0; i < d/2; i++ {
			e := int(uint32(w) >> (8 * uint(2*i/GroupSize)) & 0xFF)
			s := math.NaN()
			if e != nanScale {
				s = pow2(e - 127)
			}
			b := packed[r*d/2+i]
			dst[r*d+2*i] = math.Abs(float64(e2m1Value[b&0xF])) * s
			dst[r*d+2*i+1] = math.Abs(float64(e2m1Value[b>>4])) * s
		}
	}
}

// WithinBound reports whether a device logit got agrees with the model's want
// within bound: both NaN, or the same infinity, or finite with
// |got − want| ≤ bound. A NaN on one side only, or a NaN bound, fails.
func WithinBound(got, want float32, bound float64) bool {
	gn, wn := got != got, want != want
	switch {
	case gn || wn:
		return gn && wn
	case math.IsInf(float64(got), 0) || math.IsInf(float64(want), 0):
		return got == want
	case bound != bound:
		return false
	}
	return math.Abs(float64(got)-float64(want)) <= bound
}

// CountOutside counts the entries where WithinBound fails and returns the
// first such index (−1 when there is none).
func CountOutside(got, want []float32, bound []float64) (n, first int, err error) {
	if len(want) != len(got) {
		return 0, -1, argErr("want", "length %d, want %d (len(got))", len(want), len(got))
	}
	if len(bound) != len(got) {
		return 0, -1, argErr("bound", "length %d, want %d (len(got))", len(bound), len(got))
	}
	first = -1
	for i := range got {
		if !WithinBound(got[i], want[i], bound[i]) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return n, first, nil
}
