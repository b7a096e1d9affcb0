package mqa

import "github.com/fp4indexer/fp4indexer/internal/fma"

// kernel scores keys j0, j0+1, … of one row into dst. Each worker owns one
// (they hold scratch buffers); the input is shared read-only.
type kernel interface {
	score(dst []float32, row, j0 int)
}

func newKernel(in *Input, o Options) kernel {
	base := kernelBase{in: in, o: o, h: in.H, d: in.HeadDim(), row: -1}
	base.groups = base.d / GroupSize
	base.a = make([]float32, in.H)
	switch {
	case in.Format() == FP4 && o.Dot == Exact:
		return newFP4Exact(base)
	case in.Format() == FP4:
		return &fp4FMA{kernelBase: base, qhat: make([]float32, in.H*base.d), khat: make([]float32, base.d)}
	case o.Dot == Exact:
		return &fp8Exact{kernelBase: base, q: make([]float64, in.H*base.d), k: make([]float64, base.d)}
	default:
		return &fp8FMA{kernelBase: base, q: make([]float32, in.H*base.d), k: make([]float32, base.d)}
	}
}

type kernelBase struct {
	in     *Input
	o      Options
	h, d   int
	groups int
	row    int       // the row the query scratch holds, −1 for none
	b      int       // its request
	w      []float32 // its weights
	a      []float32 // the H dot products of the current key
}

// setRow reports whether the row changed (the caller then rebuilds its query).
func (k *kernelBase) setRow(row int) bool {
	if row == k.row {
		return false
	}
	k.row, k.b = row, row/k.in.NextN
	k.w = k.in.Weights[row*k.h : (row+1)*k.h]
	return true
}

// key returns the views of key j of the current request. Validate has checked
// the block-table entry.
func (k *kernelBase) key(j int) (payload, scale []byte) {
	p := k.in.Cache.Layout.PageSize
	page := k.in.BlockTable[k.b*k.in.MaxBlocks+j/p]
	return k.in.Cache.Token(int(page), j%p)
}

func (k *kernelBase) finish(sk float32) float32 {
	return reduce(k.o.Epilogue, k.in.Format() == FP8, k.a, k.w, sk)
}

// fp4FMA is the FP32FMA dot over dequantized fp32 operands.
type fp4FMA struct {
	kernelBase
	qhat, khat []float32
	ksf        [1]int32
}

func (k *fp4FMA) score(dst []float32, row, j0 int) {
	if k.setRow(row) {
		dequantFP4(k.qhat, k.in.QFP4[row*k.h*k.d/2:(row+1)*k.h*k.d/2], k.in.QSF[row*k.h:(row+1)*k.h], k.d)
	}
	for i := range dst {
		payload, scale := k.key(j0 + i)
		k.ksf[0] = int32(scaleWord(scale))
		dequantFP4(k.khat, payload, k.ksf[:], k.d)
		for h := range k.a {
			q := k.qhat[h*k.d : (h+1)*k.d]
			var acc float32
			for n, kv := range k.khat {
				acc = fma.FMA32(q[n], kv, acc)
			}
			k.a[h] = canonical(acc)
		}
		dst[i] = k.finish(1)
	}
}

// dequantFP4 writes fl(value·2^(e−127)) for rows of d elements with one scale
// word each.
func dequantFP4(dst []float32, packed []byte, sf []int32, d int) {
	for r, w := range sf {
		for i := 0; i < d/2; i++ {
			s := ue8m0Value[uint32(w)>>(8*uint(2*i/GroupSize))&0xFF]
			b := packed[r*d/2+i]
			dst[r*d+2*i] = float32(e2m1Value[b&0xF] * s)
			dst[r*d+2*i+1] = float32(e2m1Value[b>>4] * s)
		}
	}
}

// fp8Exact sums the exact products in float64 (exact, see DotFP8).
type fp8Exact struct {
	kernelBase
	q, k []float64
}

func (k *fp8Exact) score(dst []float32, row, j0 int) {
	if k.setRow(row) {
		for i, v := range k.in.QFP8[row*k.h*k.d : (row+1)*k.h*k.d] {
			k.q[i] = e4m3Value64[v]
		}
	}
	for i := range dst {
		payload, scale := k.key(j0 + i)
		for n, b := range payload {
			k.k[n] = e4m3Value64[b]
		}
		for h := range k.a {
			q := k.q[h*k.d : (h+1)*k.d]
			kk := k.k[:len(q)]
			var s0, s1, s2, s3 float64 // exact partial sums: any order is exact
			n := 0
			for ; n+3 < len(q); n += 4 {
				s0 += q[n] * kk[n]
				s1 += q[n+1] * kk[n+1]
				s2 += q[n+2] * kk[n+2]
				s3 += q[n+3] * kk[n+3]
			}
			k.a[h] = canonical(float32((s0 + s1) + (s2 + s3)))
		}
		dst[i] = k.finish(fp8Scale(scale))
	}
}

// fp8FMA is the FP32FMA dot over E4M3 values.
type fp8FMA struct {
	kernelBase
	q, k []float32
}

func (k *fp8FMA) score(dst []float32, row, j0 int) {
	if k.setRow(row) {
		for i, v := range k.in.QFP8[row*k.h*k.d : (row+1)*k.h*k.d] {
			k.q[i] = e4m3Value[v]
		}
	}
	for i := range dst {
		payload, scale := k.key(j0 + i)
		for n, b := range payload {
			k.k[n] = e4m3Value[b]
		}
		for h := range k.a {
			q := k.q[h*k.d : (h+1)*k.d]
			var acc float32
			for n, kv := range k.k {
				acc = fma.FMA32(q[n], kv, acc)
			}
			k.a[h] = canonical(acc)
		}
		dst[i] = k.finish(fp8Scale(scale))
	}
}
