package indexer

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/internal/fma"
	"github.com/fp4indexer/fp4indexer/rope"
)

const (
	// HeadDim is the indexer head dimension; the kernels hard-code it.
	HeadDim = 128
	// RoPEDim is the number of trailing dims that RoPE rotates ([nope | rope]).
	RoPEDim = 64
	// PackedBytes is the packed E2M1 payload of one row.
	PackedBytes = HeadDim / 2
	// DefaultWeightScaleBits is 128^-0.5 · 64^-0.5 computed in double and cast to
	// fp32 by the launcher (softmax_scale · n_heads^-0.5).
	DefaultWeightScaleBits = 0x3C3504F3
	// DefaultEps is the RMSNorm epsilon of the V4 config (rms_norm_eps).
	DefaultEps = float32(1e-6)
	// fp8Max is the largest finite E4M3 value, the FP8 kernels' divisor.
	fp8Max = float32(448)
	// amaxFloor is the 1e-4f floor every kernel puts under a scale's amax.
	amaxFloor = float32(1e-4)
)

// gpuNaN returns f with any NaN replaced by the single pattern an NVIDIA GPU's fp32
// arithmetic writes (0x7FFFFFFF, measured on an H100), where Go would keep the
// operand's payload. Applied to the fp32 tensors the kernels write.
func gpuNaN(f float32) float32 {
	if f != f {
		return math.Float32frombits(fma.CanonicalNaN)
	}
	return f
}

// DefaultWeightScale returns the fp32 weight scale the Q kernels are launched with.
func DefaultWeightScale() float32 { return math.Float32frombits(DefaultWeightScaleBits) }

func checkLen(name string, got, want int, shape string) error {
	if got != want {
		return fmt.Errorf("indexer: %s has %d elements, want %d (shape %s)", name, got, want, shape)
	}
	return nil
}

func checkPositive(name string, v int) error {
	if v <= 0 {
		return fmt.Errorf("indexer: %s = %d, want > 0", name, v)
	}
	return nil
}

// checkTable validates that the RoPE table has the kernel's 64-wide rows.
func checkTable(t rope.Table) error {
	if t.Dim != RoPEDim {
		return fmt.Errorf("indexer: freqs_cis rows have %d values, want %d (shape [positions, %d])", t.Dim, RoPEDim, RoPEDim)
	}
	if t.Positions() == 0 || len(t.Data) != t.Positions()*t.Dim {
		return fmt.Errorf("indexer: freqs_cis has %d values, want positions·%d with positions ≥ 1", len(t.Data), RoPEDim)
	}
	return nil
}

func checkPositions(name string, pos []int64, table rope.Table) error {
	n := int64(table.Positions())
	for i, p := range pos {
		if p < 0 || p >= n {
			return fmt.Errorf("indexer: %s[%d] = %d is outside the RoPE table [0, %d)", name, i, p, n)
		}
	}
	return nil
}
