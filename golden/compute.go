package golden

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	"github.com/fp4indexer/fp4indexer/indexer"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rmsnorm"
	"github.com/fp4indexer/fp4indexer/rope"
)

// Tensor names of SPEC §8, after the Python arguments of each kernel.
const (
	tInput      = "input"
	tLoc        = "loc"
	tXFP4       = "x_fp4"
	tXSF        = "x_sf"
	tCache      = "cache"
	tQInput     = "q_input"
	tWeight     = "weight"
	tFreqs      = "freqs_cis"
	tPositions  = "positions"
	tQFP4       = "q_fp4"
	tQSF        = "q_sf"
	tWeightsOut = "weights_out"
	tKV         = "kv"
	tNormWeight = "norm_weight"
	tOutLoc     = "out_loc"
	tNormFactor = "norm_factor"
	tKVCache    = "kvcache"
	tQFP8       = "q_fp8"
	tQ          = "q"
	tKVCacheDG  = "kv_cache"
	tWeights    = "weights"
	tContext    = "context_lens"
	tBlockTable = "block_table"
	tLogits     = "logits"
)

// inputNames lists each kernel's input tensors for error messages (optional
// ones in brackets).
func inputNames(k Kernel) string {
	switch k {
	case KV1Store:
		return "input [N,128] BF16|F32, loc [N] I64, [cache U8 [pages, P·68]]"
	case QFP4, QFP8:
		return "q_input [B,H,128] BF16, weight [B,H] BF16, freqs_cis [positions,64] F32, positions [B] I64"
	case KV2Fused, KFP8:
		return "kv [N,128] F32, norm_weight [128] F32, freqs_cis [positions,64] F32, positions [N] I64, out_loc [N] I64, [norm_factor [N] F32], [kvcache U8]"
	case Logits:
		return "q, [q_sf], kv_cache, weights, context_lens, block_table"
	}
	return "?"
}

// OutputNames returns the expected tensors kernel k writes, in SPEC §8's order.
func OutputNames(k Kernel) []string {
	switch k {
	case KV1Store:
		return []string{tXFP4, tXSF, tCache}
	case QFP4:
		return []string{tQFP4, tQSF, tWeightsOut}
	case KV2Fused, KFP8:
		return []string{tKVCache, tNormFactor}
	case QFP8:
		return []string{tQFP8, tWeightsOut}
	case Logits:
		return []string{tLogits}
	}
	return nil
}

// Compute runs kernel k's model under profile p on the named input tensors and
// returns the expected output tensors, named as SPEC §8 says. It is what
// `fp4indexer run` does with inputs a user brings. Dtypes and shapes are checked
// with errors that name the tensor; index tensors may be I64 or I32, float
// activations F32 or BF16 (widened exactly).
//
// Optional inputs: `cache` (K v1) and `kvcache` (fused K) give the cache's
// contents before the store (zero-filled with (N + P + 1) / P pages when
// absent, as the ground truth allocates it); `norm_factor` (fused K) gives each
// row's device rsqrtf, used instead of the profile's rsqrt.
//
// The rows are spread over GOMAXPROCS goroutines; every goroutine writes only its
// own rows and stores into a cache happen afterwards in row order, so the result
// does not depend on the number of goroutines.
func Compute(k Kernel, inputsFile *st.File, p Profile) (*st.File, error) {
	if inputsFile == nil {
		return nil, fmt.Errorf("golden: %s: no inputs", k)
	}
	in := inputs{k: k, f: inputsFile}
	var (
		out []st.Tensor
		err error
	)
	switch k {
	case KV1Store:
		out, err = computeKV1(in, p)
	case QFP4:
		out, err = computeQ(in, p, false)
	case QFP8:
		out, err = computeQ(in, p, true)
	case KV2Fused:
		out, err = computeK(in, p, false)
	case KFP8:
		out, err = computeK(in, p, true)
	case Logits:
		out, err = computeLogits(in, p)
	default:
		return nil, fmt.Errorf("golden: unknown kernel %q (want one of %s)", string(k), kernelNames())
	}
	if err != nil {
		return nil, err
	}
	return &st.File{Tensors: out, Metadata: computeMetadata(k, in, p)}, nil
}

// computeMetadata is the options Compute ran with, plus the case scalars the
// inputs carried.
func computeMetadata(k Kernel, in inputs, p Profile) map[string]string {
	md := p.Options(k)
	if (k == KV2Fused || k == KFP8) && in.has(tNormFactor) {
		md[optRsqrt] = rsqrtInput
	}
	for _, key := range []string{optMaxContextLen, optNextN} {
		if v, ok := in.f.Metadata[key]; ok {
			md[key] = v
		}
	}
	return md
}

// forChunks calls fn on consecutive row ranges covering [0, n), at least
// minChunk rows each, from up to GOMAXPROCS goroutines. It returns the error of
// the lowest failing range, so the error too is independent of scheduling.
func forChunks(n, minChunk int, fn func(lo, hi int) error) error {
	if n <= 0 {
		return nil
	}
	workers := runtime.GOMAXPROCS(0)
	chunk := max(minChunk, (n+4*workers-1)/(4*workers))
	nchunks := (n + chunk - 1) / chunk
	errs := make([]error, nchunks)
	next := make(chan int, nchunks)
	for c := range nchunks {
		next <- c
	}
	close(next)
	var wg sync.WaitGroup
	for range min(workers, nchunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				lo := c * chunk
				errs[c] = fn(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sequence returns 0, 1, …, n−1: the locs of a scratch cache that receives a chunk
// of rows in order, so each row's bytes can be read back from page i/P, slot i%P.
func sequence(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i)
	}
	return v
}

// cacheFor returns the cache the store writes into: a copy of the inputs'
// tensor called name when present (2-D [pages, P·bytes_per_token]), else
// (rows + P + 1) / P zero-filled pages.
func cacheFor(in inputs, name string, l pagedcache.Layout, rows int) (*pagedcache.Cache, error) {
	if !in.has(name) {
		return pagedcache.NewCache(l, rows)
	}
	t, err := in.get(name, []st.DType{st.U8}, -1, l.PageBytes())
	if err != nil {
		return nil, err
	}
	if t.Shape[0] < 1 {
		return nil, inputError(in.k, name, "has no pages")
	}
	c, err := pagedcache.FromBytes(l, append([]byte(nil), t.Data...))
	if err != nil {
		return nil, inputError(in.k, name, "%v", err)
	}
	return c, nil
}

func cacheTensor(name string, c *pagedcache.Cache) (st.Tensor, error) {
	return tensorBytes(name, st.U8, []int{c.Pages, c.Layout.PageBytes()}, c.Data)
}

// checkLocs rejects a loc outside the cache with the tensor's name.
func checkLocs(in inputs, name string, locs []int64, c *pagedcache.Cache) error {
	limit := c.Tokens()
	for i, loc := range locs {
		if loc < 0 || loc >= limit {
			return inputError(in.k, name, "element %d = %d is outside the cache [0, %d) (%d pages of %d tokens)",
				i, loc, limit, c.Pages, c.Layout.PageSize)
		}
	}
	return nil
}

// ropeTable reads freqs_cis and checks every position against it.
func ropeTable(in inputs, positions []int64) (rope.Table, error) {
	t, err := in.get(tFreqs, []st.DType{st.F32}, -1, indexer.RoPEDim)
	if err != nil {
		return rope.Table{}, err
	}
	data, err := t.Float32s()
	if err != nil {
		return rope.Table{}, inputError(in.k, tFreqs, "%v", err)
	}
	table, err := rope.NewTable(indexer.RoPEDim, data)
	if err != nil {
		return rope.Table{}, inputError(in.k, tFreqs, "%v", err)
	}
	n := int64(table.Positions())
	for i, p := range positions {
		if p < 0 || p >= n {
			return rope.Table{}, inputError(in.k, tPositions, "element %d = %d is outside freqs_cis [0, %d)", i, p, n)
		}
	}
	return table, nil
}

func computeKV1(in inputs, p Profile) ([]st.Tensor, error) {
	xt, err := in.get(tInput, floatTypes, -1, indexer.HeadDim)
	if err != nil {
		return nil, err
	}
	n := xt.Shape[0]
	lt, err := in.get(tLoc, indexTypes, n)
	if err != nil {
		return nil, err
	}
	x, err := float32s(xt)
	if err != nil {
		return nil, inputError(in.k, tInput, "%v", err)
	}
	locs, err := int64s(lt)
	if err != nil {
		return nil, inputError(in.k, tLoc, "%v", err)
	}
	layout, err := pagedcache.FP4(p.pageSize())
	if err != nil {
		return nil, err
	}
	cache, err := cacheFor(in, tCache, layout, n)
	if err != nil {
		return nil, err
	}
	if err := checkLocs(in, tLoc, locs, cache); err != nil {
		return nil, err
	}
	opts := indexer.KV1Options{Scale: p.scaleFor(KV1Store), Element: p.Element}
	xfp4 := make([]byte, n*indexer.PackedBytes)
	xsf := make([]int32, n)
	err = forChunks(n, 512, func(lo, hi int) error {
		scratch, err := pagedcache.NewCache(layout, hi-lo)
		if err != nil {
			return err
		}
		b, sf, err := indexer.StoreKV1(scratch, x[lo*indexer.HeadDim:hi*indexer.HeadDim], sequence(hi-lo), opts)
		if err != nil {
			return fmt.Errorf("golden: %s: rows [%d, %d): %w", in.k, lo, hi, err)
		}
		copy(xfp4[lo*indexer.PackedBytes:], b)
		copy(xsf[lo:], sf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	scales := make([]byte, 4*n)
	for i, sf := range xsf {
		binary.LittleEndian.PutUint32(scales[4*i:], uint32(sf))
	}
	if err := cache.StoreBatch(locs, xfp4, scales); err != nil {
		return nil, err
	}
	return collect(
		func() (st.Tensor, error) { return tensorBytes(tXFP4, st.I8, []int{n, indexer.PackedBytes}, xfp4) },
		func() (st.Tensor, error) { return tensorI32(tXSF, []int{n}, xsf) },
		func() (st.Tensor, error) { return cacheTensor(tCache, cache) },
	)
}

// collect builds output tensors in order, stopping at the first error.
func collect(builders ...func() (st.Tensor, error)) ([]st.Tensor, error) {
	out := make([]st.Tensor, 0, len(builders))
	for _, b := range builders {
		t, err := b()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func computeQ(in inputs, p Profile, fp8 bool) ([]st.Tensor, error) {
	qt, err := in.get(tQInput, []st.DType{st.BF16}, -1, -1, indexer.HeadDim)
	if err != nil {
		return nil, err
	}
	b, h := qt.Shape[0], qt.Shape[1]
	wt, err := in.get(tWeight, []st.DType{st.BF16}, b, h)
	if err != nil {
		return nil, err
	}
	pt, err := in.get(tPositions, indexTypes, b)
	if err != nil {
		return nil, err
	}
	positions, err := int64s(pt)
	if err != nil {
		return nil, inputError(in.k, tPositions, "%v", err)
	}
	table, err := ropeTable(in, positions)
	if err != nil {
		return nil, err
	}
	q, err := bf16s(qt)
	if err != nil {
		return nil, inputError(in.k, tQInput, "%v", err)
	}
	w, err := bf16s(wt)
	if err != nil {
		return nil, inputError(in.k, tWeight, "%v", err)
	}
	rows := b * h
	weightsOut := make([]float32, rows)
	chunkTokens := max(1, 1024/max(h, 1))
	input := func(lo, hi int) indexer.QInput {
		return indexer.QInput{B: hi - lo, H: h, Q: q[lo*h*indexer.HeadDim : hi*h*indexer.HeadDim],
			Weight: w[lo*h : hi*h], Freqs: table, Positions: positions[lo:hi]}
	}
	wrap := func(lo, hi int, err error) error {
		return fmt.Errorf("golden: %s: tokens [%d, %d): %w", in.k, lo, hi, err)
	}
	if fp8 {
		qfp8 := make([]byte, rows*indexer.HeadDim)
		opts := indexer.QFP8Options{RoPE: p.RoPE, WeightScale: p.WeightScale, Overflow: p.FP8Overflow}
		err := forChunks(b, chunkTokens, func(lo, hi int) error {
			if h == 0 {
				return nil
			}
			o, err := indexer.QuantizeQFP8(input(lo, hi), opts)
			if err != nil {
				return wrap(lo, hi, err)
			}
			for i, e := range o.Q {
				qfp8[lo*h*indexer.HeadDim+i] = e.Bits()
			}
			copy(weightsOut[lo*h:], o.WeightsOut)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return collect(
			func() (st.Tensor, error) {
				return tensorBytes(tQFP8, st.F8_E4M3, []int{b, h, indexer.HeadDim}, qfp8)
			},
			func() (st.Tensor, error) { return tensorF32(tWeightsOut, []int{b, h, 1}, weightsOut) },
		)
	}
	qfp4 := make([]byte, rows*indexer.PackedBytes)
	qsf := make([]int32, rows)
	opts := indexer.QOptions{Scale: p.scaleFor(QFP4), Element: p.Element, RoPE: p.RoPE,
		NoRoPEBF16: p.NoRoPEBF16, NoHadamardBF16: p.NoHadamardBF16, WeightScale: p.WeightScale}
	err = forChunks(b, chunkTokens, func(lo, hi int) error {
		if h == 0 {
			return nil
		}
		o, err := indexer.QuantizeQ(input(lo, hi), opts)
		if err != nil {
			return wrap(lo, hi, err)
		}
		copy(qfp4[lo*h*indexer.PackedBytes:], o.QFP4)
		copy(qsf[lo*h:], o.QSF)
		copy(weightsOut[lo*h:], o.WeightsOut)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return collect(
		func() (st.Tensor, error) { return tensorBytes(tQFP4, st.I8, []int{b, h, indexer.PackedBytes}, qfp4) },
		func() (st.Tensor, error) { return tensorI32(tQSF, []int{b, h}, qsf) },
		func() (st.Tensor, error) { return tensorF32(tWeightsOut, []int{b, h, 1}, weightsOut) },
	)
}

func computeK(in inputs, p Profile, fp8 bool) ([]st.Tensor, error) {
	kt, err := in.get(tKV, floatTypes, -1, indexer.HeadDim)
	if err != nil {
		return nil, err
	}
	n := kt.Shape[0]
	nwt, err := in.get(tNormWeight, floatTypes, indexer.HeadDim)
	if err != nil {
		return nil, err
	}
	pt, err := in.get(tPositions, indexTypes, n)
	if err != nil {
		return nil, err
	}
	lt, err := in.get(tOutLoc, indexTypes, n)
	if err != nil {
		return nil, err
	}
	var nfIn []float32
	if in.has(tNormFactor) {
		t, err := in.get(tNormFactor, []st.DType{st.F32}, n)
		if err != nil {
			return nil, err
		}
		if nfIn, err = t.Float32s(); err != nil {
			return nil, inputError(in.k, tNormFactor, "%v", err)
		}
	} else if p.Rsqrt == RsqrtInput {
		return nil, inputError(in.k, tNormFactor, "missing, and the profile's rsqrt option (%q) takes it from the inputs", rsqrtInput)
	}
	kv, err := float32s(kt)
	if err != nil {
		return nil, inputError(in.k, tKV, "%v", err)
	}
	nw, err := float32s(nwt)
	if err != nil {
		return nil, inputError(in.k, tNormWeight, "%v", err)
	}
	positions, err := int64s(pt)
	if err != nil {
		return nil, inputError(in.k, tPositions, "%v", err)
	}
	locs, err := int64s(lt)
	if err != nil {
		return nil, inputError(in.k, tOutLoc, "%v", err)
	}
	table, err := ropeTable(in, positions)
	if err != nil {
		return nil, err
	}
	layout, err := pagedcache.FP4(p.pageSize())
	store := indexer.StoreKV2
	if fp8 {
		layout, err = pagedcache.FP8(p.pageSize())
		store = indexer.StoreKFP8
	}
	if err != nil {
		return nil, err
	}
	cache, err := cacheFor(in, tKVCache, layout, n)
	if err != nil {
		return nil, err
	}
	if err := checkLocs(in, tOutLoc, locs, cache); err != nil {
		return nil, err
	}
	opts := indexer.KOptions{Scale: p.scaleFor(in.k), Element: p.Element, RoPE: p.RoPE, Eps: p.Eps, Overflow: p.FP8Overflow}
	if p.Rsqrt == RsqrtDeviceSM90 {
		opts.Rsqrt = rmsnorm.DeviceSM90()
	}
	pb, sb := layout.PayloadBytes, layout.ScaleBytes
	payload := make([]byte, n*pb)
	scales := make([]byte, n*sb)
	nfs := make([]float32, n)
	err = forChunks(n, 512, func(lo, hi int) error {
		m := hi - lo
		scratch, err := pagedcache.NewCache(layout, m)
		if err != nil {
			return err
		}
		kin := indexer.KInput{N: m, KV: kv[lo*indexer.HeadDim : hi*indexer.HeadDim], NormWeight: nw,
			Freqs: table, Positions: positions[lo:hi], OutLoc: sequence(m)}
		if nfIn != nil {
			kin.NormFactor = nfIn[lo:hi]
		}
		nf, err := store(scratch, kin, opts)
		if err != nil {
			return fmt.Errorf("golden: %s: rows [%d, %d): %w", in.k, lo, hi, err)
		}
		for i := range m {
			pl, sc := scratch.Token(i/layout.PageSize, i%layout.PageSize)
			copy(payload[(lo+i)*pb:], pl)
			copy(scales[(lo+i)*sb:], sc)
		}
		copy(nfs[lo:], nf)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := cache.StoreBatch(locs, payload, scales); err != nil {
		return nil, err
	}
	return collect(
		func() (st.Tensor, error) { return cacheTensor(tKVCache, cache) },
		func() (st.Tensor, error) { return tensorF32(tNormFactor, []int{n}, nfs) },
	)
}
