package fuzz

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/hadamard"
)

// maxHadamardLog is the largest transform size the target tries, 2^8: the
// float64 oracle is a dense n×n product.
const maxHadamardLog = 8

// sylvester returns the Sylvester-order Hadamard matrices of size 2^0 … 2^8 as
// gonum matrices, H[i][j] = (−1)^popcount(i&j) (SPEC §4: natural order, no bit
// reversal). Built once, read only.
var sylvester = sync.OnceValue(func() []*mat.Dense {
	hs := make([]*mat.Dense, maxHadamardLog+1)
	for k := range hs {
		n := 1 << k
		h := mat.NewDense(n, n, nil)
		for i := range n {
			for j := range n {
				h.Set(i, j, float64(1-2*(bits.OnesCount(uint(i&j))&1)))
			}
		}
		hs[k] = h
	}
	return hs
})

// gamma is γ_m = m·u/(1 − m·u), the bound on the relative error of m
// successive roundings with unit roundoff u.
func gamma(m int, u float64) float64 { return float64(m) * u / (1 - float64(m)*u) }

type hadamardModel func(x []float32) error

// checkHadamard compares transform on x (len a power of two ≤ 2^8) with the
// float64 product H·x. Each output is a sum of n terms ±x_j formed by
// log2(n) levels of float32 additions, so |ŷ_i − y_i| ≤ γ_log2(n)·Σ|x_j|
// (additions are exact when they underflow, so no absolute term is needed);
// the float64 product adds at most γ_n(2^−53)·Σ|x_j|. Inputs whose sum of
// magnitudes reaches 2^127 may overflow and are only checked for NaN and Inf.
func checkHadamard(transform hadamardModel, x []float32) error {
	n := len(x)
	k := bits.TrailingZeros(uint(n))
	y := slices.Clone(x)
	if err := transform(y); err != nil {
		return err
	}
	var hasNaN, hasInf bool
	s64 := 0.0
	for _, v := range x {
		a := math.Abs(float64(v))
		hasNaN = hasNaN || math.IsNaN(a)
		hasInf = hasInf || math.IsInf(a, 0)
		s64 += a
	}
	switch {
	case hasNaN: // every output is a ± sum over every input
		for i, v := range y {
			if v == v {
				return fmt.Errorf("n = %d: input holds a NaN, output %d is %s", n, i, desc(v))
			}
		}
		return nil
	case hasInf:
		for i, v := range y {
			if !math.IsInf(float64(v), 0) && v == v {
				return fmt.Errorf("n = %d: input holds an Inf, output %d is finite %s", n, i, desc(v))
			}
		}
		return nil
	case s64 >= 0x1p127:
		return nil
	}
	h := sylvester()[k]
	xv := mat.NewVecDense(n, nil)
	for i, v := range x {
		xv.SetVec(i, float64(v))
	}
	var y64 mat.VecDense
	y64.MulVec(h, xv)
	g64 := gamma(n+2, 0x1p-53)
	sum := s64 * (1 + g64) // ≥ the exact Σ|x_j|
	gk := gamma(k, u32)
	bound := (gk + g64) * sum * (1 + 0x1p-30)
	for i, v := range y {
		if d := math.Abs(float64(v) - y64.AtVec(i)); !(d <= bound) {
			return fmt.Errorf("n = %d: Transform output %d = %s, float64 %g: error %g > bound %g", n, i, desc(v), y64.AtVec(i), d, bound)
		}
	}
	return checkRotate(x, &y64, sum, gk, g64)
}

// checkRotate compares Rotate with H·x/√n. r = fl(ŷ·s) with s = Scale(n), a
// correctly rounded 1/√n, so |r − y/√n| ≤ u·|ŷ·s| + 2^−150 + s·γ·Σ|x| +
// |y|·u/√n; the float64 reference y64/√n adds γ64·Σ|x|/√n + 2^−51·|y64/√n|.
// The bf16 option must equal bf16.Round of each fp32 result.
func checkRotate(x []float32, y64 *mat.VecDense, sum, gk, g64 float64) error {
	n := len(x)
	r := slices.Clone(x)
	if err := hadamard.Rotate(r, hadamard.Options{}); err != nil {
		return err
	}
	rb := slices.Clone(x)
	if err := hadamard.Rotate(rb, hadamard.Options{RoundBF16: true}); err != nil {
		return err
	}
	s32, err := hadamard.Scale(n)
	if err != nil {
		return err
	}
	s := float64(s32)
	inv := 1 / math.Sqrt(float64(n))
	for i, v := range r {
		t := y64.AtVec(i) * inv
		yAbs := math.Abs(y64.AtVec(i)) + g64*sum
		bound := u32*s*(yAbs+gk*sum) + 0x1p-150 + s*gk*sum + yAbs*u32*inv + g64*sum*inv + 0x1p-51*math.Abs(t)
		bound *= 1 + 0x1p-20
		if d := math.Abs(float64(v) - t); !(d <= bound) {
			return fmt.Errorf("n = %d: Rotate output %d = %s, float64 %g: error %g > bound %g", n, i, desc(v), t, d, bound)
		}
		if want := bf16.Round(v); !sameBits(rb[i], want) {
			return fmt.Errorf("n = %d: Rotate(RoundBF16) output %d = %s, bf16.Round of the fp32 result %s", n, i, desc(rb[i]), desc(want))
		}
	}
	return nil
}

// checkHadamardIntegers checks H(H(x)) = n·x bit for bit on integers in
// [−128, 127]: every partial sum stays below n²·128 ≤ 2^23, so every float32
// operation is exact, and no −0 can arise from +0 inputs.
func checkHadamardIntegers(transform hadamardModel, ints []int8) error {
	n := len(ints)
	x := make([]float32, n)
	for i, v := range ints {
		x[i] = float32(v)
	}
	y := slices.Clone(x)
	if err := transform(y); err != nil {
		return err
	}
	if err := transform(y); err != nil {
		return err
	}
	for i := range x {
		if want := float32(n) * x[i]; !sameBits(y[i], want) {
			return fmt.Errorf("n = %d: H(H(x))[%d] = %s, want n·x = %g (x = %v)", n, i, desc(y[i]), want, ints)
		}
	}
	return nil
}

// hadamardInput reads the size from the first byte (n = 2^(b mod 9)) and the n
// values from the rest, as float32 bit patterns and as signed bytes.
func hadamardInput(data []byte) ([]float32, []int8) {
	k := 0
	if len(data) > 0 {
		k = int(data[0]) % (maxHadamardLog + 1)
		data = data[1:]
	}
	n := 1 << k
	ints := make([]int8, n)
	for i := range min(n, len(data)) {
		ints[i] = int8(data[i])
	}
	return fixedWords(data, n), ints
}

func checkHadamardInput(transform hadamardModel, data []byte) error {
	x, ints := hadamardInput(data)
	if err := checkHadamard(transform, x); err != nil {
		return err
	}
	return checkHadamardIntegers(transform, ints)
}

// FuzzHadamard reads a size byte and float32 bit patterns (SPEC §4 step 3).
func FuzzHadamard(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkHadamardInput(hadamard.Transform, data); err != nil {
			t.Fatal(err)
		}
	})
}
