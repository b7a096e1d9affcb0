package golden

import (
	"fmt"
	"strconv"

	"github.com/fp4indexer/fp4indexer/fp8"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// computeLogits maps fp8_fp4_paged_mqa_logits' arguments onto mqa.Logits. The
// kernel is FP4 when q_sf is given (q I8 [B, N, H, D/2]) and FP8 otherwise (q
// F8_E4M3 [B, N, H, D]). kv_cache is the 2-D [pages, P·bytes_per_token] buffer
// or DeepGEMM's 4-D view [pages, P, 1, bytes_per_token]. max_context_len, a
// scalar argument, comes from the inputs' metadata, else it is the largest
// context length.
func computeLogits(in inputs, p Profile) ([]st.Tensor, error) {
	fp4 := in.has(tQSF)
	var qt st.Tensor
	var err error
	if fp4 {
		qt, err = in.get(tQ, []st.DType{st.I8, st.U8}, -1, -1, -1, -1)
	} else {
		qt, err = in.get(tQ, []st.DType{st.F8_E4M3}, -1, -1, -1, -1)
	}
	if err != nil {
		return nil, err
	}
	b, n, h, last := qt.Shape[0], qt.Shape[1], qt.Shape[2], qt.Shape[3]
	d := last
	if fp4 {
		d = 2 * last
	}
	if n < 1 {
		return nil, inputError(in.k, tQ, "next_n (dim 1) is %d, want ≥ 1", n)
	}
	wt, err := in.get(tWeights, []st.DType{st.F32}, b*n, h)
	if err != nil {
		return nil, err
	}
	ct, err := in.get(tContext, []st.DType{st.I32, st.I64}, b, n)
	if err != nil {
		return nil, err
	}
	bt, err := in.get(tBlockTable, []st.DType{st.I32, st.I64}, b, -1)
	if err != nil {
		return nil, err
	}
	payload := d
	if fp4 {
		payload = d / 2
	}
	layout, err := pagedcache.Custom(p.pageSize(), payload, 4, pagedcache.PayloadsThenScales)
	if err != nil {
		return nil, inputError(in.k, tQ, "head dim %d: %v", d, err)
	}
	kt, ok := in.f.Get(tKVCacheDG)
	if !ok {
		return nil, inputError(in.k, tKVCacheDG, "missing (the kernel's inputs are %s)", inputNames(in.k))
	}
	switch len(kt.Shape) {
	case 4:
		kt, err = in.get(tKVCacheDG, []st.DType{st.U8}, -1, layout.PageSize, 1, layout.BytesPerToken())
	default:
		kt, err = in.get(tKVCacheDG, []st.DType{st.U8}, -1, layout.PageBytes())
	}
	if err != nil {
		return nil, fmt.Errorf("%w (page size %d; set another with the page_size option)", err, layout.PageSize)
	}
	cache, err := pagedcache.FromBytes(layout, kt.Data)
	if err != nil {
		return nil, inputError(in.k, tKVCacheDG, "%v", err)
	}
	weights, err := wt.Float32s()
	if err != nil {
		return nil, inputError(in.k, tWeights, "%v", err)
	}
	ctx, err := int32s(ct)
	if err != nil {
		return nil, inputError(in.k, tContext, "%v", err)
	}
	table, err := int32s(bt)
	if err != nil {
		return nil, inputError(in.k, tBlockTable, "%v", err)
	}
	maxLen := 0
	for _, c := range ctx {
		maxLen = max(maxLen, int(c))
	}
	if s, ok := in.f.Metadata[optMaxContextLen]; ok {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("golden: %s: metadata %s = %q is not a length", in.k, optMaxContextLen, s)
		}
		maxLen = v
	}
	mi := &mqa.Input{B: b, NextN: n, H: h, Cache: cache, Weights: weights, ContextLens: ctx,
		BlockTable: table, MaxBlocks: bt.Shape[1], MaxContextLen: maxLen}
	if fp4 {
		sft, err := in.get(tQSF, []st.DType{st.I32}, b, n, h)
		if err != nil {
			return nil, err
		}
		if mi.QSF, err = sft.Int32s(); err != nil {
			return nil, inputError(in.k, tQSF, "%v", err)
		}
		mi.QFP4 = qt.Data
	} else {
		mi.QFP8 = make([]fp8.E4M3, len(qt.Data))
		for i, v := range qt.Data {
			mi.QFP8[i] = fp8.Frombits(v)
		}
	}
	logits, err := mqa.Logits(mi, p.Logits)
	if err != nil {
		return nil, fmt.Errorf("golden: %s: %w", in.k, err)
	}
	return collect(func() (st.Tensor, error) { return tensorF32(tLogits, []int{b * n, maxLen}, logits) })
}
