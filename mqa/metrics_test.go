package mqa

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestCalcDiffHand(t *testing.T) {
	// x = (1, 2, −Inf), y = (1, 3, 0), third entry masked:
	// Σxy = 1 + 6 = 7, Σ(x² + y²) = 2 + 13 = 15, diff = 1 − 14/15 = 1/15.
	x := []float32{1, 2, float32(math.Inf(-1))}
	y := []float32{1, 3, 0}
	got, err := CalcDiff(x, y, []bool{true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	// In float64 as DeepGEMM evaluates it (not Go's exact constant arithmetic):
	// 1 − fl(fl(2·7)/15) = 0.06666666666666665.
	xy, den := 7.0, 15.0
	want := 1 - 2*xy/den
	if got != want || want != 0.06666666666666665 {
		t.Errorf("CalcDiff = %v, want %v", got, want)
	}
	// The same through the logits form: rows of width 3 with context 2.
	got, err = CalcDiffLogits(x, y, []int32{2}, 3)
	if err != nil || got != want {
		t.Errorf("CalcDiffLogits = %v, %v", got, err)
	}
	// Identical tensors: 0. Opposite: 2. All zero: NaN (DeepGEMM's 0/0).
	if d, _ := CalcDiff([]float32{3, -4}, []float32{3, -4}, nil); d != 0 {
		t.Errorf("identical: %v", d)
	}
	if d, _ := CalcDiff([]float32{3, -4}, []float32{-3, 4}, nil); d != 2 {
		t.Errorf("opposite: %v", d)
	}
	if d, _ := CalcDiff([]float32{0, 0}, []float32{0, 0}, nil); !math.IsNaN(d) {
		t.Errorf("all zero: %v, want NaN", d)
	}
	// An unmasked −Inf poisons the result, as in DeepGEMM.
	if d, _ := CalcDiff(x, y, nil); !math.IsNaN(d) {
		t.Errorf("unmasked −Inf: %v, want NaN", d)
	}
	if _, err := CalcDiff(x, y[:2], nil); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := CalcDiffLogits(x, y, []int32{4}, 3); err == nil {
		t.Error("context past the width accepted")
	}
}

// sortTopK is the oracle: sort every valid index by (value descending, NaN
// first, −0 equal to +0, index ascending) and keep k.
func sortTopK(row []float32, n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	rank := func(v float32) float64 {
		switch {
		case v != v:
			return math.Inf(1)
		case math.IsInf(float64(v), 1):
			return math.MaxFloat64
		}
		return float64(v) // −0 == +0 as float64 comparison
	}
	sort.SliceStable(idx, func(a, b int) bool { return rank(row[idx[a]]) > rank(row[idx[b]]) })
	return idx[:min(k, n)]
}

func TestTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 30))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1, -1}
	for i := 0; i < 500; i++ {
		n := rng.IntN(3000)
		row := make([]float32, n+rng.IntN(10))
		for j := range row {
			switch rng.IntN(4) {
			case 0: // many ties
				row[j] = float32(rng.IntN(5))
			case 1:
				row[j] = special[rng.IntN(len(special))]
			default:
				row[j] = float32(rng.NormFloat64())
			}
		}
		ctx := rng.IntN(len(row) + 1)
		for _, k := range []int{0, 1, 7, TopKV4Flash, TopKV4Pro, n + 5} {
			got, err := TopK(row, ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if want := sortTopK(row, ctx, k); !slices.Equal(got, want) {
				t.Fatalf("TopK(ctx %d, k %d) = %v…, oracle %v…", ctx, k, got[:min(8, len(got))], want[:min(8, len(want))])
			}
		}
	}
	// Hand case: ties to the lower index, −0 ties with +0, NaN first, masked
	// positions never chosen.
	row := []float32{1, 3, float32(math.Copysign(0, -1)), 3, 0, float32(math.NaN()), 9, 9}
	got, _ := TopK(row, 6, 4)
	if want := []int{5, 1, 3, 0}; !slices.Equal(got, want) {
		t.Errorf("hand TopK = %v, want %v", got, want)
	}
	got, _ = TopK(row, 5, 5)
	if want := []int{1, 3, 0, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("hand TopK with ±0 = %v, want %v", got, want)
	}
	if _, err := TopK(row, 9, 1); err == nil {
		t.Error("context past the row accepted")
	}
	if _, err := TopK(row, 3, -1); err == nil {
		t.Error("negative k accepted")
	}
	rows, err := TopKRows(append(append([]float32{}, row...), row...), []int32{6, 2}, len(row), 2)
	if err != nil || !slices.Equal(rows[0], []int{5, 1}) || !slices.Equal(rows[1], []int{1, 0}) {
		t.Errorf("TopKRows = %v, %v", rows, err)
	}
}

func TestOverlap(t *testing.T) {
	a := []int{1, 5, 9, 12}
	b := []int{9, 2, 1, 1, 7}
	if got := Overlap(a, b); got != 2 {
		t.Errorf("Overlap = %d, want 2", got)
	}
	if got := Overlap(b, a); got != 2 {
		t.Errorf("Overlap reversed = %d, want 2", got)
	}
	if got := Recall(a, b); got != 2.0/4 { // b has 4 distinct indices
		t.Errorf("Recall = %v, want 0.5", got)
	}
	if got := Recall(nil, nil); got != 1 {
		t.Errorf("Recall of empty = %v", got)
	}
}
