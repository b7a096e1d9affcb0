package mqa

import (
	"math"
	"slices"
)

// Top-k sizes of the deployed models (SPEC §6; reference note §9).
const (
	TopKV4Flash = 512
	TopKV4Pro   = 1024
)

// CalcDiff is DeepGEMM's calc_diff (deep_gemm/testing/numeric.py):
// 1 − 2·Σxy / Σ(x² + y²), with x and y widened to float64. valid selects the
// entries compared (nil: all); DeepGEMM sets the others to 0 in both tensors,
// which is the same as leaving them out, and that is how the −Inf of masked
// logits must be treated. The sums run in index order (torch's reduction order
// differs only in the last bits of a float64). Like DeepGEMM it returns NaN
// when both tensors are zero on every valid entry (0/0), and NaN or Inf when a
// valid entry is.
func CalcDiff(x, y []float32, valid []bool) (float64, error) {
	if len(y) != len(x) {
		return 0, argErr("y", "length %d, want %d (len(x))", len(y), len(x))
	}
	if valid != nil && len(valid) != len(x) {
		return 0, argErr("valid", "length %d, want %d (len(x))", len(valid), len(x))
	}
	var xy, den float64
	for i := range x {
		if valid != nil && !valid[i] {
			continue
		}
		a, b := float64(x[i]), float64(y[i])
		xy += a * b
		den += a*a + b*b
	}
	return 1 - 2*xy/den, nil
}

// CalcDiffLogits is CalcDiff over the valid entries of two logits tensors
// [rows, maxContextLen]: entry (r, j) with j < contextLens[r], the entries
// DeepGEMM's test compares.
func CalcDiffLogits(x, y []float32, contextLens []int32, maxContextLen int) (float64, error) {
	valid, err := validMask(len(x), contextLens, maxContextLen)
	if err != nil {
		return 0, err
	}
	return CalcDiff(x, y, valid)
}

func validMask(n int, contextLens []int32, width int) ([]bool, error) {
	if width < 0 || int64(len(contextLens))*int64(width) != int64(n) {
		return nil, argErr("contextLens", "%d rows × width %d does not match %d logits", len(contextLens), width, n)
	}
	valid := make([]bool, n)
	for r, c := range contextLens {
		if c < 0 || int(c) > width {
			return nil, argErr("contextLens", "[%d] = %d not in [0, %d]", r, c, width)
		}
		for j := 0; j < int(c); j++ {
			valid[r*width+j] = true
		}
	}
	return valid, nil
}

// rankKey maps a logit to a uint32 whose unsigned order is the ranking order
// of TopK: −Inf < … < −0 = +0 < … < +Inf < NaN.
func rankKey(v float32) uint32 {
	if v != v {
		return math.MaxUint32
	}
	if v == 0 {
		v = 0 // −0 ranks with +0
	}
	b := math.Float32bits(v)
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

// TopK returns the positions of the k largest logits of row[:contextLen],
// best first: min(k, contextLen) indices, as DeepSeek's indexer takes
// topk(min(index_topk, visible)). Ties (equal values, +0 and −0 included) go to
// the lower index first, so the result is deterministic. NaN ranks above +Inf
// (torch.topk's order); −Inf entries inside the context are still valid
// candidates, ranked last. Use TopKV4Flash or TopKV4Pro for k.
func TopK(row []float32, contextLen, k int) ([]int, error) {
	if contextLen < 0 || contextLen > len(row) {
		return nil, argErr("contextLen", "%d not in [0, %d]", contextLen, len(row))
	}
	if k < 0 {
		return nil, argErr("k", "%d is negative", k)
	}
	k = min(k, contextLen)
	if k == 0 {
		return []int{}, nil
	}
	// worse(i, j): entry i ranks below entry j.
	worse := func(i, j int) bool {
		ki, kj := rankKey(row[i]), rankKey(row[j])
		return ki < kj || ki == kj && i > j
	}
	// A min-heap (by rank) of the best k seen so far: its root is the worst.
	heap := make([]int, 0, k)
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(heap) {
				return
			}
			if c+1 < len(heap) && worse(heap[c+1], heap[c]) {
				c++
			}
			if !worse(heap[c], heap[i]) {
				return
			}
			heap[i], heap[c] = heap[c], heap[i]
			i = c
		}
	}
	for j := 0; j < contextLen; j++ {
		if len(heap) < k {
			heap = append(heap, j)
			for i := len(heap) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(heap[i], heap[p]) {
					break
				}
				heap[i], heap[p] = heap[p], heap[i]
				i = p
			}
			continue
		}
		if worse(heap[0], j) {
			heap[0] = j
			down(0)
		}
	}
	slices.SortFunc(heap, func(a, b int) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	return heap, nil
}

// TopKRows applies TopK to every row of a logits tensor [rows, maxContextLen]
// with the row's context length.
func TopKRows(logits []float32, contextLens []int32, maxContextLen, k int) ([][]int, error) {
	if maxContextLen < 0 || int64(len(contextLens))*int64(maxContextLen) != int64(len(logits)) {
		return nil, argErr("contextLens", "%d rows × width %d does not match %d logits", len(contextLens), maxContextLen, len(logits))
	}
	out := make([][]int, len(contextLens))
	for r, c := range contextLens {
		idx, err := TopK(logits[r*maxContextLen:(r+1)*maxContextLen], int(c), k)
		if err != nil {
			return nil, err
		}
		out[r] = idx
	}
	return out, nil
}

// Overlap returns the number of distinct indices present in both a and b
// (the size of the intersection of two top-k sets).
func Overlap(a, b []int) int {
	in := make(map[int]bool, len(a))
	for _, i := range a {
		in[i] = true
	}
	n := 0
	for _, i := range b {
		if in[i] {
			n++
			in[i] = false // count each index once
		}
	}
	return n
}

// Recall is Overlap(got, want) / the number of distinct indices in want: the
// fraction of the reference top-k set that got recovers. It is 1 when want is
// empty (nothing to recover).
func Recall(got, want []int) float64 {
	distinct := make(map[int]struct{}, len(want))
	for _, i := range want {
		distinct[i] = struct{}{}
	}
	if len(distinct) == 0 {
		return 1
	}
	return float64(Overlap(got, want)) / float64(len(distinct))
}
