package mqa

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// accuracyCase is DeepGEMM's test_paged_mqa_logits in miniature: bf16 randn
// q and kv, fp32 randn weights, context lengths uniform in [0.7, 1.3)·avg
// with the last token of each request at the longest, random pages.
type accuracyCase struct {
	in  *Input
	ref *RefInput
	deq *RefInput // the same geometry with the dequantized values (FP4)
}

func newAccuracyCase(t *testing.T, rng *rand.Rand, f Format, b, nextN, avg int) accuracyCase {
	t.Helper()
	const h, d, p = 64, 128, 64
	rows := b * nextN
	ctx := make([]int32, rows)
	maxCtx := 0
	for bb := 0; bb < b; bb++ {
		l := int(float64(avg) * (0.7 + 0.6*rng.Float64()))
		for tt := 0; tt < nextN; tt++ {
			ctx[bb*nextN+tt] = int32(l - nextN + 1 + tt) // MTP: L−N+1+t
		}
		maxCtx = max(maxCtx, l)
	}
	maxBlocks := (maxCtx + p - 1) / p
	pages := 1 + b*maxBlocks
	var l pagedcache.Layout
	var err error
	if f == FP4 {
		l, err = pagedcache.FP4(p)
	} else {
		l, err = pagedcache.FP8(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := pagedcache.NewCache(l, pages*p-p-1)
	if err != nil {
		t.Fatal(err)
	}
	perm := rng.Perm(pages - 1)
	bt := make([]int32, b*maxBlocks)
	for i := range bt {
		bt[i] = int32(perm[i] + 1)
	}
	randBF16 := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = bf16.Round(float32(rng.NormFloat64()))
		}
		return x
	}
	q := randBF16(rows * h * d)
	kv := randBF16(c.Pages * p * d) // by slot: loc = page·P + slot
	w := make([]float32, rows*h)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	in := &Input{B: b, NextN: nextN, H: h, Cache: c, Weights: w, ContextLens: ctx,
		BlockTable: bt, MaxBlocks: maxBlocks, MaxContextLen: maxCtx}
	ref := &RefInput{B: b, NextN: nextN, H: h, D: d, Q: q, KV: kv, PageSize: p, Weights: w,
		ContextLens: ctx, BlockTable: bt, MaxBlocks: maxBlocks, MaxContextLen: maxCtx}
	deq := *ref
	deq.Q, deq.KV = make([]float32, len(q)), make([]float32, len(kv))
	// DeepGEMM's test quantizers: FP4 with the Triton-style floor-then-ceil
	// scale (SPEC §3) and threshold codes; FP8 with a per-token amax/448 scale
	// for kv and a plain e4m3 cast for q.
	quant := ue8m0.Quantizer{Scale: ue8m0.Triton}
	switch f {
	case FP4:
		in.QFP4 = make([]byte, rows*h*d/2)
		in.QSF = make([]int32, rows*h)
		for i := 0; i < rows*h; i++ {
			sf, err := quant.Row(in.QFP4[i*d/2:(i+1)*d/2], q[i*d:(i+1)*d])
			if err != nil {
				t.Fatal(err)
			}
			in.QSF[i] = int32(sf)
			dequantFP4(deq.Q[i*d:(i+1)*d], in.QFP4[i*d/2:(i+1)*d/2], []int32{int32(sf)}, d)
		}
		payload := make([]byte, d/2)
		scale := make([]byte, 4)
		for loc := 0; loc < c.Pages*p; loc++ {
			sf, err := quant.Row(payload, kv[loc*d:(loc+1)*d])
			if err != nil {
				t.Fatal(err)
			}
			binary.LittleEndian.PutUint32(scale, sf)
			if err := c.Store(int64(loc), payload, scale); err != nil {
				t.Fatal(err)
			}
			dequantFP4(deq.KV[loc*d:(loc+1)*d], payload, []int32{int32(sf)}, d)
		}
	case FP8:
		in.QFP8 = make([]fp8.E4M3, len(q))
		for i, v := range q {
			in.QFP8[i] = fp8.Fromfloat32(v)
		}
		payload := make([]byte, d)
		scale := make([]byte, 4)
		for loc := 0; loc < c.Pages*p; loc++ {
			x := kv[loc*d : (loc+1)*d]
			amax := float32(1e-4)
			for _, v := range x {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			sf := amax / 448
			inv := 1 / sf
			for i, v := range x {
				payload[i] = byte(fp8.Fromfloat32(float32(v * inv)))
			}
			binary.LittleEndian.PutUint32(scale, math.Float32bits(sf))
			if err := c.Store(int64(loc), payload, scale); err != nil {
				t.Fatal(err)
			}
		}
	}
	return accuracyCase{in: in, ref: ref, deq: &deq}
}

// TestAccuracyDeepGEMM is the acceptance check DeepGEMM's own test makes:
// calc_diff(logits, reference on unquantized bf16) < 0.02 for FP4 and < 1e-3
// for FP8, over the valid entries, with its reference (q·k rounded to bf16)
// and with the float64 ideal; and, for FP4, < 5e-6 against the reference fed
// the dequantized inputs.
func TestAccuracyDeepGEMM(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 20))
	for _, f := range []Format{FP4, FP8} {
		c := newAccuracyCase(t, rng, f, 16, 2, 256)
		limit := 0.02
		if f == FP8 {
			limit = 1e-3
		}
		for _, ep := range []Epilogue{SM100, Sequential, SM90} {
			if ep == SM90 && f == FP4 {
				continue
			}
			got, err := Logits(c.in, Options{Epilogue: ep})
			if err != nil {
				t.Fatal(err)
			}
			for _, ro := range []RefOptions{{RoundDotBF16: true}, {}} {
				want, err := Reference(c.ref, ro)
				if err != nil {
					t.Fatal(err)
				}
				diff, err := CalcDiffLogits(got, want, c.in.ContextLens, c.in.MaxContextLen)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%v %v ref %+v: calc_diff %.3g", f, ep, ro, diff)
				if !(diff < limit) {
					t.Errorf("%v %v ref %+v: calc_diff %g, DeepGEMM requires < %g", f, ep, ro, diff, limit)
				}
			}
			if f == FP4 {
				want, err := Reference(c.deq, RefOptions{RoundDotBF16: true})
				if err != nil {
					t.Fatal(err)
				}
				diff, _ := CalcDiffLogits(got, want, c.in.ContextLens, c.in.MaxContextLen)
				t.Logf("%v %v simulated: calc_diff %.3g", f, ep, diff)
				if !(diff < 5e-6) {
					t.Errorf("%v %v simulated: calc_diff %g, DeepGEMM requires < 5e-6", f, ep, diff)
				}
			}
		}
	}
}

func TestReferenceErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	c := newAccuracyCase(t, rng, FP8, 1, 1, 40)
	bad := []func(r *RefInput){
		func(r *RefInput) { r.NextN = 0 },
		func(r *RefInput) { r.Q = r.Q[1:] },
		func(r *RefInput) { r.KV = r.KV[1:] },
		func(r *RefInput) { r.Weights = nil },
		func(r *RefInput) { r.ContextLens = []int32{int32(r.MaxContextLen + 1)} },
		func(r *RefInput) { r.BlockTable[0] = 1 << 20 },
		func(r *RefInput) { r.PageSize = 0 },
	}
	for i, m := range bad {
		r := *c.ref
		r.BlockTable = append([]int32(nil), c.ref.BlockTable...)
		m(&r)
		if _, err := Reference(&r, RefOptions{}); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}
