package mqa

import (
	"math"

	"github.com/fp4indexer/fp4indexer/internal/fma"
)

// Reduce applies the epilogue e to the H per-head dot products a of one (query
// row, key) pair with the row's weights w (len H): the logit of SPEC §6. sk is
// the key's fp32 scale for FP8 and is ignored for FP4. A NaN logit is the
// canonical 0x7FFFFFFF.
//
// NaN: a NaN weight makes the logit NaN in every epilogue (fma(x, NaN, L) is
// NaN, and fmaxf only guards a). A NaN dot product propagates through sm100
// (a + |a|) and sequential, and becomes +0 through sm90's fmaxf(a, 0). A NaN or
// infinite sk gives NaN or ±Inf as IEEE arithmetic does.
func (e Epilogue) Reduce(f Format, a, w []float32, sk float32) (float32, error) {
	h := len(a)
	switch h {
	case 8, 16, 32, 64:
	default:
		return 0, argErr("a", "length %d, want H = 8, 16, 32 or 64", h)
	}
	if len(w) != h {
		return 0, argErr("w", "length %d, want H = %d", len(w), h)
	}
	if f != FP4 && f != FP8 {
		return 0, argErr("Format", "unknown value %d", uint8(f))
	}
	if err := (Options{Epilogue: e}).validate(f, h); err != nil {
		return 0, err
	}
	return reduce(e, f == FP8, a, w, sk), nil
}

// reduce is Reduce without the checks; len(a) == len(w), a multiple of 8 for
// sm90 and of 4 otherwise.
func reduce(e Epilogue, scaled bool, a, w []float32, sk float32) float32 {
	switch e {
	case Sequential:
		return reduceSequential(scaled, a, w, sk)
	case SM90:
		return reduceSM90(a, w, sk)
	}
	return reduceSM100(scaled, a, w, sk)
}

// absf clears the sign bit (fabsf).
func absf(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

func reduceSM100(scaled bool, a, w []float32, sk float32) float32 {
	var l0, l1, l2, l3 float32
	for h := 0; h+3 < len(a); h += 4 {
		// __fadd2_rn(a, |a|): 2·relu(a), exact below MaxFloat32/2, then one
		// __ffma2_rn per pair of heads.
		l0 = fma.FMA32(float32(a[h]+absf(a[h])), w[h], l0)
		l1 = fma.FMA32(float32(a[h+1]+absf(a[h+1])), w[h+1], l1)
		l2 = fma.FMA32(float32(a[h+2]+absf(a[h+2])), w[h+2], l2)
		l3 = fma.FMA32(float32(a[h+3]+absf(a[h+3])), w[h+3], l3)
	}
	r := float32(float32(l0+l2) + float32(l1+l3))
	out := float32(r / 2)
	if scaled {
		out = float32(out * sk)
	}
	return canonical(out)
}

// reluSequential is the relu of the sequential epilogue: a for a > 0, NaN for
// NaN, +0 for everything else (−0, negatives, −Inf).
func reluSequential(x float32) float32 {
	if x > 0 || x != x {
		return x
	}
	return 0
}

func reduceSequential(scaled bool, a, w []float32, sk float32) float32 {
	var l float32
	for h := range a {
		l = fma.FMA32(reluSequential(a[h]), w[h], l)
	}
	if scaled {
		l = float32(l * sk)
	}
	return canonical(l)
}

// fmaxf0 is CUDA fmaxf(x, 0): NaN gives 0, and −0 gives +0.
func fmaxf0(x float32) float32 {
	if x > 0 {
		return x
	}
	return 0
}

func reduceSM90(a, w []float32, sk float32) float32 {
	var p [4]float32
	for c := 0; c < 4; c++ {
		i, j := 2*c, 2*c+1
		// The first term of each chain is a plain product; the += of the
		// following ones is contracted to FFMA.
		acc := float32(fmaxf0(a[i]) * w[i])
		bcc := float32(fmaxf0(a[j]) * w[j])
		for m := 8; m+7 < len(a); m += 8 {
			acc = fma.FMA32(fmaxf0(a[m+i]), w[m+i], acc)
			bcc = fma.FMA32(fmaxf0(a[m+j]), w[m+j], bcc)
		}
		p[c] = float32(float32(acc+bcc) * sk)
	}
	return canonical(float32(float32(p[0]+p[1]) + float32(p[2]+p[3])))
}
