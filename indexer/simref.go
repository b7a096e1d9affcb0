package indexer

import (
	"sync"
	"sync/atomic"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/hadamard"
	"github.com/fp4indexer/fp4indexer/rope"
)

// The simulator's float64 reference: the scores of SPEC §6 on the unquantized
// operands, Σ_h w[h]·relu(q̃[h,:]·k̃[j,:]) with every product and sum in
// float64, rounded once to fp32 (mqa.Reference's definition, computed here in
// a blocked loop fast enough for 32,768 keys × 64 heads × 64 steps).
//
// q̃ and k̃ are what the quantizers of the two paths would see: k̃ the fp32
// output of the K path's RMSNorm, RoPE and Hadamard (the values StoreKV2 and
// StoreKFP8 quantize), q̃ the fp32 output of the Q path's RoPE and Hadamard with
// no bf16 round trip (the values QuantizeQFP8 quantizes; the FP4 Q kernel's two
// bf16 round trips count as FP4 error). The weights are fl(weight·0x3C3504F3),
// the FP4 kernel's weights_out, without the FP8 path's folded q scale.

// refHeadBlock is the number of heads one key meets per pass of the inner
// loop: eight float64 accumulators, one key element and one 8-head column fit
// the sixteen SSE registers Go uses on amd64.
const refHeadBlock = 8

// refKeyChunk is the number of keys one worker scores per unit of work.
const refKeyChunk = 512

// unquantizedKeys runs RMSNorm, RoPE and Hadamard on rows [0, n) of in in fp32
// and widens the results to float64 ([n][128]).
func unquantizedKeys(in KInput, o KOptions, workers int) ([]float64, error) {
	out := make([]float64, in.N*HeadDim)
	var firstErr error
	var once sync.Once
	parallelRange(in.N, workers, 256, func(lo, hi int) {
		var y [HeadDim]float32
		for r := lo; r < hi; r++ {
			if _, err := in.normRopeRotate(&y, r, o); err != nil {
				once.Do(func() { firstErr = err })
				return
			}
			dst := out[r*HeadDim : (r+1)*HeadDim]
			for i, v := range y {
				dst[i] = float64(v)
			}
		}
	})
	return out, firstErr
}

// unquantizedQuery is q̃ for the H heads of one query row: bf16 → fp32, RoPE,
// Hadamard and its scale, no bf16 round trip, as float64 [H][128]. It also
// returns the reference weights fl(weight·scale) as float64.
func unquantizedQuery(q []bf16.BF16, weight []bf16.BF16, freqs rope.Table, pos int64, o rope.Options, ws float32) (qt, w []float64, err error) {
	h := len(weight)
	qt = make([]float64, h*HeadDim)
	w = make([]float64, h)
	var x [HeadDim]float32
	for hh := 0; hh < h; hh++ {
		if err := bf16.Widen(x[:], q[hh*HeadDim:(hh+1)*HeadDim]); err != nil {
			return nil, nil, err
		}
		if err := rope.Apply(x[HeadDim-RoPEDim:], freqs, int(pos), o); err != nil {
			return nil, nil, err
		}
		if err := hadamard.Rotate(x[:], hadamard.Options{}); err != nil {
			return nil, nil, err
		}
		for i, v := range x {
			qt[hh*HeadDim+i] = float64(v)
		}
		w[hh] = float64(gpuNaN(float32(weight[hh].Float32() * ws)))
	}
	return qt, w, nil
}

// refScorer scores one query row against the float64 keys.
type refScorer struct {
	h    int
	cols []float64 // [H/8][128][8]: the query transposed in blocks of 8 heads
	w    []float64
}

// newRefScorer prepares q̃ ([H][128], H a multiple of 8) and w ([H]).
func newRefScorer(q, w []float64) *refScorer {
	h := len(w)
	s := &refScorer{h: h, cols: make([]float64, h*HeadDim), w: w}
	for hh := 0; hh < h; hh++ {
		blk, lane := hh/refHeadBlock, hh%refHeadBlock
		for d := 0; d < HeadDim; d++ {
			s.cols[(blk*HeadDim+d)*refHeadBlock+lane] = q[hh*HeadDim+d]
		}
	}
	return s
}

// score writes the reference logits of keys [0, len(dst)) into dst. Every
// logit is the same sequence of float64 operations whatever the worker count:
// each head's dot product in element order, the head sum in head order.
func (s *refScorer) score(dst []float32, keys []float64, workers int) {
	parallelRange(len(dst), workers, refKeyChunk, func(lo, hi int) {
		dots := make([]float64, s.h)
		for j := lo; j < hi; j++ {
			k := (*[HeadDim]float64)(keys[j*HeadDim : (j+1)*HeadDim])
			for b := 0; b < s.h/refHeadBlock; b++ {
				col := (*[HeadDim * refHeadBlock]float64)(s.cols[b*HeadDim*refHeadBlock : (b+1)*HeadDim*refHeadBlock])
				dot8((*[refHeadBlock]float64)(dots[b*refHeadBlock:(b+1)*refHeadBlock]), col, k)
			}
			var logit float64
			for hh, d := range dots {
				if d > 0 {
					logit += float64(s.w[hh] * d)
				}
			}
			dst[j] = float32(logit)
		}
	})
}

// dot8 computes eight dot products of one key with the eight query heads of a
// transposed block, each accumulated in element order. The explicit float64
// conversions keep the compiler from fusing a product into an FMA.
func dot8(out *[refHeadBlock]float64, col *[HeadDim * refHeadBlock]float64, k *[HeadDim]float64) {
	var a0, a1, a2, a3, a4, a5, a6, a7 float64
	for d := 0; d < HeadDim; d++ {
		y := k[d]
		c := (*[refHeadBlock]float64)(col[d*refHeadBlock : (d+1)*refHeadBlock])
		a0 += float64(c[0] * y)
		a1 += float64(c[1] * y)
		a2 += float64(c[2] * y)
		a3 += float64(c[3] * y)
		a4 += float64(c[4] * y)
		a5 += float64(c[5] * y)
		a6 += float64(c[6] * y)
		a7 += float64(c[7] * y)
	}
	*out = [refHeadBlock]float64{a0, a1, a2, a3, a4, a5, a6, a7}
}

// parallelRange calls f on chunks [lo, hi) covering [0, n), on up to workers
// goroutines. The chunks are fixed by n and chunk alone.
func parallelRange(n, workers, chunk int, f func(lo, hi int)) {
	units := (n + chunk - 1) / chunk
	workers = min(max(workers, 1), units)
	if workers <= 1 {
		for lo := 0; lo < n; lo += chunk {
			f(lo, min(lo+chunk, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := int(next.Add(1) - 1)
				if u >= units {
					return
				}
				lo := u * chunk
				f(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
}
