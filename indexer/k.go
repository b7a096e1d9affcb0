package indexer

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/hadamard"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rmsnorm"
	"github.com/fp4indexer/fp4indexer/rope"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// KOptions is the profile of the fused K writers (FP4 and FP8). The zero value is
// fused_norm_rope_indexer_fp4 as PR #26209 deploys it.
type KOptions struct {
	Scale   ue8m0.Variant // zero value: CUDA; FP4 only
	Element e2m1.Encoder  // zero value: threshold codes; FP4 only
	RoPE    rope.Options  // zero value: interleaved pairs, the GPU's FMA pattern
	Eps     float32       // RMSNorm epsilon; 0 means DefaultEps (1e-6)
	// Rsqrt computes the norm factor when KInput.NormFactor is nil. nil means the
	// correctly rounded 1/√x, which differs from the GPU's rsqrtf in about a fifth
	// of inputs (by 1 or 2 ulp); a measured device table makes it exact.
	Rsqrt rmsnorm.Rsqrt
	// Overflow of the E4M3 conversion (FP8 only); the zero value is satfinite.
	Overflow fp8.Overflow
}

// KInput holds the fused K kernels' inputs, row-major. One row is one compressed
// token (the compressor output).
type KInput struct {
	N          int
	KV         []float32 // [N, 128]
	NormWeight []float32 // [128]
	Freqs      rope.Table
	Positions  []int64 // [N]: RoPE position of each row (the kernel's seq_len − 4)
	OutLoc     []int64 // [N]: cache slot of each row
	// NormFactor, when not nil, is the norm factor of each row ([N]): the device's
	// rsqrtf, so that the model reproduces a GPU run exactly.
	NormFactor []float32
}

func (in KInput) check(c *pagedcache.Cache, want pagedcache.Layout, what string) error {
	if c == nil {
		return fmt.Errorf("indexer: %s cache is nil", what)
	}
	if c.Layout.PayloadBytes != want.PayloadBytes || c.Layout.ScaleBytes != want.ScaleBytes {
		return fmt.Errorf("indexer: %s cache stores %d+%d bytes per token, want %d+%d",
			what, c.Layout.PayloadBytes, c.Layout.ScaleBytes, want.PayloadBytes, want.ScaleBytes)
	}
	if in.N < 0 {
		return fmt.Errorf("indexer: N = %d, want ≥ 0", in.N)
	}
	if err := checkLen("kv", len(in.KV), in.N*HeadDim, fmt.Sprintf("[%d, %d]", in.N, HeadDim)); err != nil {
		return err
	}
	if err := checkLen("norm_weight", len(in.NormWeight), HeadDim, fmt.Sprintf("[%d]", HeadDim)); err != nil {
		return err
	}
	if err := checkLen("positions", len(in.Positions), in.N, fmt.Sprintf("[%d]", in.N)); err != nil {
		return err
	}
	if err := checkLen("out_loc", len(in.OutLoc), in.N, fmt.Sprintf("[%d]", in.N)); err != nil {
		return err
	}
	if in.NormFactor != nil {
		if err := checkLen("norm_factor", len(in.NormFactor), in.N, fmt.Sprintf("[%d]", in.N)); err != nil {
			return err
		}
	}
	if err := checkTable(in.Freqs); err != nil {
		return err
	}
	if err := checkPositions("positions", in.Positions, in.Freqs); err != nil {
		return err
	}
	return checkLocs("out_loc", in.OutLoc, c)
}

// checkLocs rejects every loc the cache cannot hold before anything is written:
// the GPU kernels do no bounds check.
func checkLocs(name string, locs []int64, c *pagedcache.Cache) error {
	limit := int64(c.Pages) * int64(c.Layout.PageSize)
	for i, loc := range locs {
		if loc < 0 || loc >= limit {
			return fmt.Errorf("indexer: %s[%d] = %d is outside the cache [0, %d) (%d pages of %d)",
				name, i, loc, limit, c.Pages, c.Layout.PageSize)
		}
	}
	return nil
}

// normRopeRotate is the shared front of both fused K kernels: RMSNorm with the
// row's norm factor, RoPE on the last 64 dims, Hadamard-128 and its scale, fp32.
func (in KInput) normRopeRotate(dst *[HeadDim]float32, row int, o KOptions) (float32, error) {
	x := in.KV[row*HeadDim : (row+1)*HeadDim]
	var nf float32
	if in.NormFactor != nil {
		nf = in.NormFactor[row]
		if err := rmsnorm.NormWithFactor(dst[:], x, in.NormWeight, nf); err != nil {
			return 0, err
		}
	} else {
		eps := o.Eps
		if eps == 0 {
			eps = DefaultEps
		}
		r := o.Rsqrt
		if r == nil {
			r = rmsnorm.CorrectlyRounded{}
		}
		var err error
		if nf, err = rmsnorm.Norm(dst[:], x, in.NormWeight, eps, r); err != nil {
			return 0, err
		}
	}
	if err := rope.Apply(dst[HeadDim-RoPEDim:], in.Freqs, int(in.Positions[row]), o.RoPE); err != nil {
		return 0, err
	}
	if err := hadamard.Rotate(dst[:], hadamard.Options{}); err != nil {
		return 0, err
	}
	return nf, nil
}

// StoreKV2 runs fused_norm_rope_indexer_fp4 over every row and stores each into the
// FP4 cache at its out_loc. It returns the norm factor each row used. Nothing is
// written when an error is returned.
//
// A NaN or ±Inf anywhere in a row makes its norm factor NaN or 0 and the whole row
// NaN after the Hadamard transform: every code 0x7, every scale byte 112.
func StoreKV2(c *pagedcache.Cache, in KInput, o KOptions) ([]float32, error) {
	want, _ := pagedcache.FP4(pagedcache.DefaultPageSize)
	if err := in.check(c, want, "FP4"); err != nil {
		return nil, err
	}
	q := ue8m0.Quantizer{Scale: o.Scale, Element: o.Element}
	nfs := make([]float32, in.N)
	payload := make([]byte, in.N*PackedBytes)
	scales := make([]byte, in.N*4)
	var y [HeadDim]float32
	for r := 0; r < in.N; r++ {
		nf, err := in.normRopeRotate(&y, r, o)
		if err != nil {
			return nil, err
		}
		nfs[r] = gpuNaN(nf)
		sf, err := q.Row(payload[r*PackedBytes:(r+1)*PackedBytes], y[:])
		if err != nil {
			return nil, err
		}
		binary.LittleEndian.PutUint32(scales[r*4:], sf)
	}
	if err := c.StoreBatch(in.OutLoc, payload, scales); err != nil {
		return nil, err
	}
	return nfs, nil
}

// StoreKFP8 runs fused_norm_rope_indexer (the FP8 K writer FP4 replaces): the same
// RMSNorm, RoPE and Hadamard, then one fp32 scale per row, 128 E4M3 bytes and the
// little-endian scale into the 132-byte layout.
func StoreKFP8(c *pagedcache.Cache, in KInput, o KOptions) ([]float32, error) {
	want, _ := pagedcache.FP8(pagedcache.DefaultPageSize)
	if err := in.check(c, want, "FP8"); err != nil {
		return nil, err
	}
	nfs := make([]float32, in.N)
	payload := make([]byte, in.N*HeadDim)
	scales := make([]byte, in.N*4)
	var y [HeadDim]float32
	var row [HeadDim]fp8.E4M3
	for r := 0; r < in.N; r++ {
		nf, err := in.normRopeRotate(&y, r, o)
		if err != nil {
			return nil, err
		}
		nfs[r] = gpuNaN(nf)
		scale := quantizeRowFP8(row[:], y[:], o.Overflow)
		for i, e := range row {
			payload[r*HeadDim+i] = e.Bits()
		}
		binary.LittleEndian.PutUint32(scales[r*4:], math.Float32bits(scale))
	}
	if err := c.StoreBatch(in.OutLoc, payload, scales); err != nil {
		return nil, err
	}
	return nfs, nil
}

// KV1Options is the profile of store_fp4_index_k_cache. Its zero value uses the
// CUDA scale rule; DefaultKV1Options is the PR's Triton kernel.
type KV1Options struct {
	Scale   ue8m0.Variant
	Element e2m1.Encoder
}

// DefaultKV1Options returns the Triton quantizer of PR #26209: floor after the
// divide, exponent clamped to [1, 254], threshold codes.
func DefaultKV1Options() KV1Options { return KV1Options{Scale: ue8m0.Triton} }

// StoreKV1 models quantize_fp4_indexer_tensor followed by store_fp4_index_k_cache:
// each 128-value row (already normed, roped and rotated upstream) is quantized and
// stored at its loc. It returns x_fp4 [N, 64] and x_sf [N] as the Triton quantizer
// does. Nothing is written when an error is returned.
func StoreKV1(c *pagedcache.Cache, input []float32, loc []int64, o KV1Options) ([]byte, []int32, error) {
	if c == nil {
		return nil, nil, fmt.Errorf("indexer: FP4 cache is nil")
	}
	if c.Layout.PayloadBytes != PackedBytes || c.Layout.ScaleBytes != 4 {
		return nil, nil, fmt.Errorf("indexer: cache stores %d+%d bytes per token, want %d+4 (FP4)",
			c.Layout.PayloadBytes, c.Layout.ScaleBytes, PackedBytes)
	}
	if len(input)%HeadDim != 0 {
		return nil, nil, fmt.Errorf("indexer: input has %d values, want a multiple of %d (shape [N, %d])", len(input), HeadDim, HeadDim)
	}
	n := len(input) / HeadDim
	if err := checkLen("loc", len(loc), n, fmt.Sprintf("[%d]", n)); err != nil {
		return nil, nil, err
	}
	if err := checkLocs("loc", loc, c); err != nil {
		return nil, nil, err
	}
	q := ue8m0.Quantizer{Scale: o.Scale, Element: o.Element}
	xfp4 := make([]byte, n*PackedBytes)
	xsf := make([]int32, n)
	scales := make([]byte, n*4)
	for r := 0; r < n; r++ {
		sf, err := q.Row(xfp4[r*PackedBytes:(r+1)*PackedBytes], input[r*HeadDim:(r+1)*HeadDim])
		if err != nil {
			return nil, nil, err
		}
		xsf[r] = int32(sf)
		binary.LittleEndian.PutUint32(scales[r*4:], sf)
	}
	if err := c.StoreBatch(loc, xfp4, scales); err != nil {
		return nil, nil, err
	}
	return xfp4, xsf, nil
}
