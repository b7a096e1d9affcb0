// Package rope models the rotary position embedding step of the DeepSeek V4 FP4
// indexer: SPEC §4, Q path step 2 and K path v2 step 2 (kernels
// fused_q_indexer_rope_hadamard_fp4_quant and fused_norm_rope_indexer_fp4, RoPE
// on the last 64 of the 128 head dims), in float32.
//
// Each pair (xr, xi) is multiplied by the table's (c, s) = (cos, sin) as a
// complex number. The kernels write re = xr·c − xi·s and im = xr·s + xi·c;
// nvcc 13.0 contracts them as re = fma(xr, c, −fl(xi·s)) and
// im = fma(xi, c, fl(xr·s)) (reference note §6, matched on 64M outputs on an
// H100). That is the default Arithmetic, GPUFMA; every fma is an exact
// single-rounding float32 FMA (internal/fma), every other product is rounded to
// float32 on its own, all round to nearest even. Unfused rounds both products
// and the sum separately: re = fl(fl(xr·c) − fl(xi·s)),
// im = fl(fl(xr·s) + fl(xi·c)) (a compiler that does not contract, e.g.
// torch's complex multiply).
//
// Layout: Interleaved (default, DeepSeek V4, the PR's kernels) pairs adjacent
// dims (x[2k], x[2k+1]); HalfSplit pairs (x[k], x[k+Dim/2]) (the NeoX /
// "non-interleaved" form DeepSeek V3.2's indexer uses after its 2025-11 fix).
// Both use table pair k.
//
// The table is an input, exactly as the kernels read it: per position, Dim
// float32 values (cos_0, sin_0, cos_1, sin_1, …), the layout
// view_as_real(freqs_cis).flatten(-1) gives. YaRN can generate DeepSeek's table
// in float64 (see YaRN), but golden runs must feed the table the GPU used.
//
// Verification (rope_test.go): GPUFMA against an independent math/big oracle
// (exact product rounded once, then the exact fused sum rounded once) on random
// inputs, arbitrary bit patterns and a fuzz target; Unfused against float64
// arithmetic with explicit float32 roundings (exact for +, −, × of float32
// operands since 53 ≥ 2·24 + 2); both within a proved bound of the float64
// rotation; the two layouts differ by the expected permutation; the generated
// plain table within one float32 ulp of a float64 oracle.
package rope

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/internal/fma"
)

// Layout says which dims form a rotated pair.
type Layout uint8

const (
	// Interleaved pairs adjacent dims (x[2k], x[2k+1]) (GPT-J style, DeepSeek V4).
	Interleaved Layout = iota
	// HalfSplit pairs x[k] with x[k+Dim/2] (NeoX style, DeepSeek V3.2 indexer).
	HalfSplit
)

func (l Layout) String() string {
	switch l {
	case Interleaved:
		return "interleaved"
	case HalfSplit:
		return "half-split"
	}
	return fmt.Sprintf("Layout(%d)", uint8(l))
}

// Arithmetic says which products are fused.
type Arithmetic uint8

const (
	// GPUFMA is nvcc's contraction: re = fma(xr, c, −fl(xi·s)), im = fma(xi, c, fl(xr·s)).
	GPUFMA Arithmetic = iota
	// Unfused rounds each product and the sum: re = fl(fl(xr·c) − fl(xi·s)),
	// im = fl(fl(xr·s) + fl(xi·c)).
	Unfused
)

func (a Arithmetic) String() string {
	switch a {
	case GPUFMA:
		return "gpu-fma"
	case Unfused:
		return "unfused"
	}
	return fmt.Sprintf("Arithmetic(%d)", uint8(a))
}

// Options selects layout and arithmetic. The zero value is the PR's kernels:
// interleaved pairs, GPU FMA pattern.
type Options struct {
	Layout     Layout
	Arithmetic Arithmetic
}

func (o Options) validate() error {
	if o.Layout > HalfSplit {
		return fmt.Errorf("rope: Options.Layout = %d, want Interleaved (0) or HalfSplit (1)", o.Layout)
	}
	if o.Arithmetic > Unfused {
		return fmt.Errorf("rope: Options.Arithmetic = %d, want GPUFMA (0) or Unfused (1)", o.Arithmetic)
	}
	return nil
}

// Table is a RoPE table: Data is [positions][Dim] float32, row p holding the
// Dim/2 pairs (cos_k, sin_k) = (Data[p·Dim+2k], Data[p·Dim+2k+1]). Dim is the
// number of rotated dims (64 in the indexer), not the head dim.
type Table struct {
	Dim  int
	Data []float32
}

// NewTable checks the shape and returns Table{dim, data}; data is not copied.
func NewTable(dim int, data []float32) (Table, error) {
	t := Table{Dim: dim, Data: data}
	return t, t.validate()
}

func (t Table) validate() error {
	if t.Dim <= 0 || t.Dim%2 != 0 {
		return fmt.Errorf("rope: table Dim = %d, want an even number > 0", t.Dim)
	}
	if len(t.Data)%t.Dim != 0 {
		return fmt.Errorf("rope: table len(Data) = %d, want [positions][%d] (a multiple of %d)", len(t.Data), t.Dim, t.Dim)
	}
	return nil
}

// Positions returns the number of rows, len(Data)/Dim (0 for a malformed table).
func (t Table) Positions() int {
	if t.Dim <= 0 {
		return 0
	}
	return len(t.Data) / t.Dim
}

// Row returns the Dim table values of position pos (a view, not a copy).
func (t Table) Row(pos int) ([]float32, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if pos < 0 || pos >= t.Positions() {
		return nil, fmt.Errorf("rope: pos = %d, want 0 <= pos < %d (table [%d][%d])", pos, t.Positions(), t.Positions(), t.Dim)
	}
	return t.Data[pos*t.Dim : (pos+1)*t.Dim : (pos+1)*t.Dim], nil
}

// Apply rotates x in place by the table row of position pos. x is exactly the
// rotated slice (len(x) == t.Dim; for the indexer head pass q[64:128]).
func Apply(x []float32, t Table, pos int, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	row, err := t.Row(pos)
	if err != nil {
		return err
	}
	if len(x) != t.Dim {
		return fmt.Errorf("rope: len(x) = %d, want the table's Dim = %d", len(x), t.Dim)
	}
	half := t.Dim / 2
	switch o.Layout {
	case Interleaved:
		for k := 0; k < half; k++ {
			x[2*k], x[2*k+1] = rotate(x[2*k], x[2*k+1], row[2*k], row[2*k+1], o.Arithmetic)
		}
	case HalfSplit:
		lo, hi := x[:half:half], x[half:]
		hi = hi[:len(lo)]
		for k := range lo {
			lo[k], hi[k] = rotate(lo[k], hi[k], row[2*k], row[2*k+1], o.Arithmetic)
		}
	}
	return nil
}

// rotate returns (xr + i·xi)·(c + i·s) with the chosen rounding.
func rotate(xr, xi, c, s float32, a Arithmetic) (re, im float32) {
	if a == GPUFMA {
		// −fl(xi·s) is exact (a sign flip): FFMA applies the negation as an
		// operand modifier.
		re = fma.FMA32(xr, c, -float32(xi*s))
		im = fma.FMA32(xi, c, float32(xr*s))
		return re, im
	}
	re = float32(float32(xr*c) - float32(xi*s))
	im = float32(float32(xr*s) + float32(xi*c))
	return re, im
}
