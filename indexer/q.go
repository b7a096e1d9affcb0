package indexer

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/hadamard"
	"github.com/fp4indexer/fp4indexer/rope"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// QOptions is the profile of the FP4 Q path. The zero value is
// fused_q_indexer_rope_hadamard_fp4_quant as PR #26209 deploys it.
type QOptions struct {
	Scale   ue8m0.Variant // zero value: CUDA (floor before the divide, no clamp)
	Element e2m1.Encoder  // zero value: threshold codes, ties to the smaller magnitude
	RoPE    rope.Options  // zero value: interleaved pairs, the GPU's FMA pattern

	// NoRoPEBF16 skips the bf16 round trip of the 64 rotated values. The kernel
	// has it so that its output matches the unfused reference (Triton RoPE on a
	// bf16 tensor).
	NoRoPEBF16 bool
	// NoHadamardBF16 skips the bf16 round trip after the Hadamard scale (the
	// unfused reference's bf16 hadamard_transform output).
	NoHadamardBF16 bool

	// WeightScale multiplies the bf16 head weight; 0 means DefaultWeightScale.
	WeightScale float32
}

// QInput holds the Q kernels' inputs, row-major.
type QInput struct {
	B, H      int
	Q         []bf16.BF16 // [B, H, 128]
	Weight    []bf16.BF16 // [B, H]: weights_proj output, before any scale
	Freqs     rope.Table  // [positions, 64]: fp32 (cos, sin) pairs, view_as_real(freqs_cis)
	Positions []int64     // [B]: RoPE position of each token
}

// QOutput is what the FP4 Q kernel writes.
type QOutput struct {
	QFP4       []byte    // [B, H, 64]: packed E2M1, even element in the low nibble
	QSF        []int32   // [B, H]: 4 UE8M0 bytes, byte g = group g
	WeightsOut []float32 // [B, H] (the kernel's [B, H, 1])
}

func (in QInput) check() error {
	if err := checkPositive("B", in.B); err != nil {
		return err
	}
	if err := checkPositive("H", in.H); err != nil {
		return err
	}
	rows := in.B * in.H
	if err := checkLen("q_input", len(in.Q), rows*HeadDim, fmt.Sprintf("[%d, %d, %d]", in.B, in.H, HeadDim)); err != nil {
		return err
	}
	if err := checkLen("weight", len(in.Weight), rows, fmt.Sprintf("[%d, %d]", in.B, in.H)); err != nil {
		return err
	}
	if err := checkLen("positions", len(in.Positions), in.B, fmt.Sprintf("[%d]", in.B)); err != nil {
		return err
	}
	if err := checkTable(in.Freqs); err != nil {
		return err
	}
	return checkPositions("positions", in.Positions, in.Freqs)
}

// QuantizeQ runs the FP4 Q path over every (token, head) row.
//
// NaN and Inf are data, not errors: they give what the GPU writes. A NaN spreads
// through the Hadamard transform to the whole row (codes 0x7, scale bytes 112);
// an Inf gives ±Inf everywhere, scale byte 255, an inverse scale of −Inf and
// codes 0x7 or 0xF (SPEC §3, variant `cuda`).
func QuantizeQ(in QInput, o QOptions) (QOutput, error) {
	if err := in.check(); err != nil {
		return QOutput{}, err
	}
	rows := in.B * in.H
	out := QOutput{
		QFP4:       make([]byte, rows*PackedBytes),
		QSF:        make([]int32, rows),
		WeightsOut: make([]float32, rows),
	}
	ws := o.WeightScale
	if ws == 0 {
		ws = DefaultWeightScale()
	}
	q := ue8m0.Quantizer{Scale: o.Scale, Element: o.Element}
	var x [HeadDim]float32
	for r := 0; r < rows; r++ {
		pos := int(in.Positions[r/in.H])
		if err := bf16.Widen(x[:], in.Q[r*HeadDim:(r+1)*HeadDim]); err != nil {
			return QOutput{}, err
		}
		if err := rope.Apply(x[HeadDim-RoPEDim:], in.Freqs, pos, o.RoPE); err != nil {
			return QOutput{}, err
		}
		if !o.NoRoPEBF16 {
			bf16.RoundSlice(x[HeadDim-RoPEDim:])
		}
		if err := hadamard.Rotate(x[:], hadamard.Options{RoundBF16: !o.NoHadamardBF16}); err != nil {
			return QOutput{}, err
		}
		sf, err := q.Row(out.QFP4[r*PackedBytes:(r+1)*PackedBytes], x[:])
		if err != nil {
			return QOutput{}, err
		}
		out.QSF[r] = int32(sf)
		out.WeightsOut[r] = gpuNaN(float32(in.Weight[r].Float32() * ws))
	}
	return out, nil
}

// QFP8Options is the profile of the FP8 Q path (fused_q_indexer_rope_hadamard_quant
// as V4 launches it: trailing RoPE, Hadamard on). The zero value is that kernel.
type QFP8Options struct {
	RoPE rope.Options
	// NoHadamard drops the rotation, as the kernel's kHadamard=false (V3.2) does.
	NoHadamard bool
	// WeightScale multiplies the bf16 head weight; 0 means DefaultWeightScale.
	WeightScale float32
	// Overflow of the E4M3 conversion; the zero value is the kernels' satfinite.
	Overflow fp8.Overflow
}

// QFP8Output is what the FP8 Q kernel writes. The per-row q scale is folded into
// WeightsOut, the only consumer of it.
type QFP8Output struct {
	Q          []fp8.E4M3 // [B, H, 128]
	WeightsOut []float32  // [B, H]: fl(fl(weight·weight_scale)·scale), the kernel's order
}

// QuantizeQFP8 runs the FP8 Q path: fp32 from load to quantization (no bf16 round
// trips), one scale per row = fl(fmaxf(1e-4, amax)/448), elements fl(x·fl(1/scale))
// to E4M3.
func QuantizeQFP8(in QInput, o QFP8Options) (QFP8Output, error) {
	if err := in.check(); err != nil {
		return QFP8Output{}, err
	}
	rows := in.B * in.H
	out := QFP8Output{Q: make([]fp8.E4M3, rows*HeadDim), WeightsOut: make([]float32, rows)}
	ws := o.WeightScale
	if ws == 0 {
		ws = DefaultWeightScale()
	}
	var x [HeadDim]float32
	for r := 0; r < rows; r++ {
		if err := bf16.Widen(x[:], in.Q[r*HeadDim:(r+1)*HeadDim]); err != nil {
			return QFP8Output{}, err
		}
		if err := rope.Apply(x[HeadDim-RoPEDim:], in.Freqs, int(in.Positions[r/in.H]), o.RoPE); err != nil {
			return QFP8Output{}, err
		}
		if !o.NoHadamard {
			if err := hadamard.Rotate(x[:], hadamard.Options{}); err != nil {
				return QFP8Output{}, err
			}
		}
		scale := quantizeRowFP8(out.Q[r*HeadDim:(r+1)*HeadDim], x[:], o.Overflow)
		out.WeightsOut[r] = gpuNaN(float32(float32(in.Weight[r].Float32()*ws) * scale))
	}
	return out, nil
}

// quantizeRowFP8 is the FP8 kernels' per-row quantizer; it returns the fp32 scale.
func quantizeRowFP8(dst []fp8.E4M3, x []float32, o fp8.Overflow) float32 {
	var amax float32
	for _, v := range x {
		amax = fmaxf(amax, absf(v))
	}
	scale := fmaxf(amaxFloor, amax) / fp8Max
	inv := 1 / scale
	for i, v := range x {
		dst[i] = fp8.Encode(float32(v*inv), o)
	}
	return scale
}

// fmaxf is CUDA's fmaxf: a NaN operand is ignored unless both are NaN.
func fmaxf(a, b float32) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	case a > b:
		return a
	}
	return b
}

// absf clears the sign bit, as fabsf does (NaN stays NaN).
func absf(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }
