package mqa

import (
	"math"

	"github.com/fp4indexer/fp4indexer/bf16"
)

// RefInput is the unquantized input of the accuracy reference: the same
// geometry as Input (requests, MTP rows, heads, paging, context lengths) with
// plain values instead of codes. In DeepGEMM's test Q and KV are bf16 (widen
// them with bf16.Widen); any fp32 values are accepted.
type RefInput struct {
	B, NextN, H, D int
	Q              []float32 // [B, NextN, H, D]
	// KV holds the keys by cache slot: key j of request b is row
	// BlockTable[b·MaxBlocks + j/PageSize]·PageSize + j%PageSize of [slots, D].
	KV            []float32
	PageSize      int
	Weights       []float32 // [B·NextN, H]
	ContextLens   []int32   // [B, NextN]
	BlockTable    []int32   // [B, MaxBlocks]
	MaxBlocks     int
	MaxContextLen int
}

// RefOptions selects the reference's arithmetic. The zero value is the ideal:
// float64 throughout.
type RefOptions struct {
	// RoundDotBF16 rounds each per-head dot product to bf16 (through fp32) before
	// the relu, as DeepGEMM's ref_paged_mqa_logits does (its bf16 matmul returns
	// bf16).
	RoundDotBF16 bool
}

// Reference computes Σ_h w[r,h]·relu(q[r,h,:]·k[j,:]) in float64 for
// j < ContextLens[r] (−Inf elsewhere), rounded once to fp32: the unquantized
// reference DeepGEMM's accuracy checks compare against (calc_diff < 0.02 for
// FP4, < 1e-3 for FP8). It is single-threaded and not fast.
func Reference(in *RefInput, o RefOptions) ([]float32, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	rows, width, d, h := in.B*in.NextN, in.MaxContextLen, in.D, in.H
	out := make([]float32, rows*width)
	q := make([]float64, h*d)
	for r := 0; r < rows; r++ {
		b := r / in.NextN
		for i, v := range in.Q[r*h*d : (r+1)*h*d] {
			q[i] = float64(v)
		}
		w := in.Weights[r*h : (r+1)*h]
		n := int(in.ContextLens[r])
		for j := 0; j < width; j++ {
			if j >= n {
				out[r*width+j] = float32(math.Inf(-1))
				continue
			}
			slot := int(in.BlockTable[b*in.MaxBlocks+j/in.PageSize])*in.PageSize + j%in.PageSize
			k := in.KV[slot*d : (slot+1)*d]
			var logit float64
			for hh := 0; hh < h; hh++ {
				var dot float64
				for i, kv := range k {
					dot += q[hh*d+i] * float64(kv)
				}
				if o.RoundDotBF16 {
					dot = float64(bf16.Round(float32(dot)))
				}
				if dot > 0 {
					logit += float64(w[hh]) * dot
				}
			}
			out[r*width+j] = float32(logit)
		}
	}
	return out, nil
}

func (in *RefInput) validate() error {
	if in == nil {
		return argErr("RefInput", "nil")
	}
	if in.B < 0 || in.B > maxInt32 {
		return argErr("B", "%d not in [0, 2^31)", in.B)
	}
	if in.NextN < 1 || in.NextN > maxInt32 {
		return argErr("NextN", "%d is not ≥ 1", in.NextN)
	}
	if in.H < 1 || in.H > 1024 {
		return argErr("H", "%d not in [1, 1024]", in.H)
	}
	if in.D < 1 || in.D > 1024 {
		return argErr("D", "%d not in [1, 1024]", in.D)
	}
	if in.PageSize < 1 || in.PageSize > maxInt32 {
		return argErr("PageSize", "%d is not ≥ 1", in.PageSize)
	}
	rows := int64(in.B) * int64(in.NextN)
	if int64(len(in.Q)) != rows*int64(in.H*in.D) {
		return argErr("Q", "length %d, want B·NextN·H·D = %d", len(in.Q), rows*int64(in.H*in.D))
	}
	if len(in.KV)%in.D != 0 {
		return argErr("KV", "length %d is not a multiple of D = %d", len(in.KV), in.D)
	}
	slots := int64(len(in.KV) / in.D)
	if int64(len(in.Weights)) != rows*int64(in.H) {
		return argErr("Weights", "length %d, want B·NextN·H = %d", len(in.Weights), rows*int64(in.H))
	}
	if int64(len(in.ContextLens)) != rows {
		return argErr("ContextLens", "length %d, want B·NextN = %d", len(in.ContextLens), rows)
	}
	if in.MaxBlocks < 0 || int64(len(in.BlockTable)) != int64(in.B)*int64(in.MaxBlocks) {
		return argErr("BlockTable", "length %d, want B·MaxBlocks = %d", len(in.BlockTable), int64(in.B)*int64(in.MaxBlocks))
	}
	if in.MaxContextLen < 0 || rows*int64(in.MaxContextLen) > maxOutputElements {
		return argErr("MaxContextLen", "%d out of range", in.MaxContextLen)
	}
	p := int64(in.PageSize)
	for r := int64(0); r < rows; r++ {
		n := int64(in.ContextLens[r])
		if n < 0 || n > int64(in.MaxContextLen) || n > int64(in.MaxBlocks)*p {
			return argErr("ContextLens", "[%d] = %d not in [0, min(MaxContextLen %d, MaxBlocks·PageSize %d)]", r, n, in.MaxContextLen, int64(in.MaxBlocks)*p)
		}
		b := r / int64(in.NextN)
		for k := int64(0); k < (n+p-1)/p; k++ {
			e := int64(in.BlockTable[b*int64(in.MaxBlocks)+k])
			if e < 0 || (e+1)*p > slots {
				return argErr("BlockTable", "[%d, %d] = %d is outside KV's %d slots", b, k, e, slots)
			}
		}
	}
	return nil
}
