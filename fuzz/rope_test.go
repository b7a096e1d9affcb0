package fuzz

import (
	"fmt"
	"math"
	"testing"

	"github.com/fp4indexer/fp4indexer/rope"
)

// ropeBound is the proved bound on |computed − exact| for one output of a
// rotation, given the magnitudes of the two products p1 (the one the GPU
// pattern fuses) and p2 (the one it rounds first) and of the exact result.
// Each rounding contributes u·|its exact operand| plus at most 2^−150 when it
// lands among the subnormals:
//
//	GPUFMA:  fma(x, c, −fl(y·s)):  u·|p2| + u·(|exact| + u·|p2|) + 2·2^−150
//	Unfused: fl(fl(p1) ∓ fl(p2)):  u·(|p1| + |p2|) + u·(|exact| + u·(|p1|+|p2|)) + 3·2^−150
//
// The float64 reference (exact products, one rounding of the sum) adds
// 2^−53·|exact|; all bounds get a little slack for the float64 evaluation.
func ropeBound(a rope.Arithmetic, p1, p2, exact float64) float64 {
	var b float64
	if a == rope.GPUFMA {
		b = u32*p2 + u32*(exact+u32*p2) + 2*0x1p-150
	} else {
		b = u32*(p1+p2) + u32*(exact+u32*(p1+p2)) + 3*0x1p-150
	}
	return (b + 0x1p-52*exact) * (1 + 0x1p-20)
}

// ropeModel is the rotation under test (rope.Apply).
type ropeModel func(x []float32, t rope.Table, pos int, o rope.Options) error

// checkRoPE applies the table row (c_k, s_k) to the pairs (xr_k, xi_k) in both
// layouts and both arithmetics and compares every output with the float64
// rotation re = xr·c − xi·s, im = xr·s + xi·c within ropeBound. A NaN anywhere
// in a pair's inputs makes both outputs NaN; pairs with an infinity, or whose
// products could overflow, are not bounded.
func checkRoPE(apply ropeModel, xr, xi, row []float32) error {
	pairs := len(xr)
	dim := 2 * pairs
	tab := rope.Table{Dim: dim, Data: row}
	for _, o := range []rope.Options{
		{Layout: rope.Interleaved, Arithmetic: rope.GPUFMA},
		{Layout: rope.HalfSplit, Arithmetic: rope.GPUFMA},
		{Layout: rope.Interleaved, Arithmetic: rope.Unfused},
		{Layout: rope.HalfSplit, Arithmetic: rope.Unfused},
	} {
		pair := func(k int) (int, int) {
			if o.Layout == rope.HalfSplit {
				return k, k + pairs
			}
			return 2 * k, 2*k + 1
		}
		x := make([]float32, dim)
		for k := range pairs {
			i, j := pair(k)
			x[i], x[j] = xr[k], xi[k]
		}
		if err := apply(x, tab, 0, o); err != nil {
			return fmt.Errorf("%v/%v: %v", o.Layout, o.Arithmetic, err)
		}
		for k := range pairs {
			i, j := pair(k)
			r, m := float64(xr[k]), float64(xi[k])
			c, s := float64(row[2*k]), float64(row[2*k+1])
			in := func() string {
				return fmt.Sprintf("pair %d: x = (%s, %s), (c, s) = (%s, %s)", k, desc(xr[k]), desc(xi[k]), desc(row[2*k]), desc(row[2*k+1]))
			}
			switch {
			case math.IsNaN(r) || math.IsNaN(m) || math.IsNaN(c) || math.IsNaN(s):
				if x[i] == x[i] || x[j] == x[j] {
					return fmt.Errorf("%v/%v %s: a NaN input gave (%s, %s)", o.Layout, o.Arithmetic, in(), desc(x[i]), desc(x[j]))
				}
				continue
			case math.IsInf(r, 0) || math.IsInf(m, 0) || math.IsInf(c, 0) || math.IsInf(s, 0):
				continue
			}
			// re: GPUFMA fuses xr·c and rounds xi·s; im fuses xi·c and rounds xr·s.
			re, im := r*c-m*s, m*c+r*s
			if math.Abs(r*c)+math.Abs(m*s) >= 0x1p127 || math.Abs(r*s)+math.Abs(m*c) >= 0x1p127 {
				continue
			}
			if b := ropeBound(o.Arithmetic, math.Abs(r*c), math.Abs(m*s), math.Abs(re)); !(math.Abs(float64(x[i])-re) <= b) {
				return fmt.Errorf("%v/%v %s: re = %s, float64 %g, error %g > bound %g", o.Layout, o.Arithmetic, in(), desc(x[i]), re, math.Abs(float64(x[i])-re), b)
			}
			if b := ropeBound(o.Arithmetic, math.Abs(m*c), math.Abs(r*s), math.Abs(im)); !(math.Abs(float64(x[j])-im) <= b) {
				return fmt.Errorf("%v/%v %s: im = %s, float64 %g, error %g > bound %g", o.Layout, o.Arithmetic, in(), desc(x[j]), im, math.Abs(float64(x[j])-im), b)
			}
		}
	}
	return nil
}

// ropeInput reads 16 bytes per pair (xr, xi, c, s as float32 bit patterns), up
// to 32 pairs (the indexer's 64 rope dims); a partial pair is zero-padded.
func ropeInput(data []byte) (xr, xi, row []float32) {
	pairs := min((len(data)+15)/16, 32)
	w := fixedWords(data, 4*pairs)
	xr, xi, row = make([]float32, pairs), make([]float32, pairs), make([]float32, 2*pairs)
	for k := range pairs {
		xr[k], xi[k], row[2*k], row[2*k+1] = w[4*k], w[4*k+1], w[4*k+2], w[4*k+3]
	}
	return xr, xi, row
}

func checkRoPEInput(apply ropeModel, data []byte) error {
	xr, xi, row := ropeInput(data)
	if len(xr) == 0 {
		return nil
	}
	return checkRoPE(apply, xr, xi, row)
}

// FuzzRoPE reads (xr, xi, cos, sin) quadruples of float32 bit patterns (SPEC §4 step 2).
func FuzzRoPE(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkRoPEInput(rope.Apply, data); err != nil {
			t.Fatal(err)
		}
	})
}
