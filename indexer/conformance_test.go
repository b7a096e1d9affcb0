package indexer

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rmsnorm"
	"github.com/fp4indexer/fp4indexer/rope"
)

// The ground truth: bytes an NVIDIA H100 wrote (SGLang's Triton kernels for K v1,
// an independent CUDA replica of the fused kernels for Q and K v2). The models must
// reproduce every byte; these tests are the independent oracle for the paths.
var groundTruth = filepath.Join("..", "testdata", "conformance", "h100")

type gtCase struct {
	inputs, expected *safetensors.File
}

func loadCase(t *testing.T, path, name string) gtCase {
	t.Helper()
	dir := filepath.Join(groundTruth, path, name)
	in, err := safetensors.ReadFile(filepath.Join(dir, "inputs.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := safetensors.ReadFile(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return gtCase{in, exp}
}

func tensor(t *testing.T, f *safetensors.File, name string) safetensors.Tensor {
	t.Helper()
	v, ok := f.Get(name)
	if !ok {
		t.Fatalf("tensor %q missing", name)
	}
	return v
}

func f32s(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := tensor(t, f, name).Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func i64s(t *testing.T, f *safetensors.File, name string) []int64 {
	t.Helper()
	v, err := tensor(t, f, name).Int64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func bf16s(t *testing.T, f *safetensors.File, name string) []bf16.BF16 {
	t.Helper()
	bits, err := tensor(t, f, name).Uint16s()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]bf16.BF16, len(bits))
	for i, b := range bits {
		out[i] = bf16.Frombits(b)
	}
	return out
}

func table(t *testing.T, f *safetensors.File) rope.Table {
	t.Helper()
	tb, err := rope.NewTable(RoPEDim, f32s(t, f, "freqs_cis"))
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// sameBytes reports the first differing row (rowBytes wide) of two byte images.
func sameBytes(t *testing.T, what string, got, want []byte, rowBytes int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	if bytes.Equal(got, want) {
		return
	}
	rows := 0
	first := -1
	for r := 0; r*rowBytes < len(want); r++ {
		end := min((r+1)*rowBytes, len(want))
		if !bytes.Equal(got[r*rowBytes:end], want[r*rowBytes:end]) {
			rows++
			if first < 0 {
				first = r
			}
		}
	}
	s := first * rowBytes
	e := min(s+rowBytes, len(want))
	t.Errorf("%s: %d rows differ; first row %d:\n got %x\nwant %x", what, rows, first, got[s:e], want[s:e])
}

func int32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(x), byte(x>>8), byte(x>>16), byte(x>>24)
	}
	return b
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

func newCache(t *testing.T, f *safetensors.File, name string, layout func(int) (pagedcache.Layout, error)) (*pagedcache.Cache, []byte) {
	t.Helper()
	want := tensor(t, f, name)
	l, err := layout(pagedcache.DefaultPageSize)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pagedcache.NewCachePages(l, want.Shape[0])
	if err != nil {
		t.Fatal(err)
	}
	return c, want.Data
}

func TestGroundTruthKV1(t *testing.T) {
	for _, name := range []string{"edges", "random"} {
		t.Run(name, func(t *testing.T) {
			gt := loadCase(t, "k_v1_store", name)
			in := tensor(t, gt.inputs, "input")
			var x []float32
			switch in.DType {
			case safetensors.BF16:
				b := bf16s(t, gt.inputs, "input")
				x = make([]float32, len(b))
				if err := bf16.Widen(x, b); err != nil {
					t.Fatal(err)
				}
			default:
				x = f32s(t, gt.inputs, "input")
			}
			c, wantCache := newCache(t, gt.expected, "cache", pagedcache.FP4)
			xfp4, xsf, err := StoreKV1(c, x, i64s(t, gt.inputs, "loc"), DefaultKV1Options())
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "x_fp4", xfp4, tensor(t, gt.expected, "x_fp4").Data, PackedBytes)
			sameBytes(t, "x_sf", int32Bytes(xsf), tensor(t, gt.expected, "x_sf").Data, 4)
			sameBytes(t, "cache", c.Data, wantCache, c.Layout.PageBytes())
		})
	}
}

func TestGroundTruthQ(t *testing.T) {
	for _, name := range []string{"edges", "random"} {
		t.Run(name, func(t *testing.T) {
			gt := loadCase(t, "q_fp4", name)
			shape := tensor(t, gt.inputs, "q_input").Shape
			in := QInput{
				B: shape[0], H: shape[1],
				Q:         bf16s(t, gt.inputs, "q_input"),
				Weight:    bf16s(t, gt.inputs, "weight"),
				Freqs:     table(t, gt.inputs),
				Positions: i64s(t, gt.inputs, "positions"),
			}
			out, err := QuantizeQ(in, QOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "q_fp4", out.QFP4, tensor(t, gt.expected, "q_fp4").Data, PackedBytes)
			sameBytes(t, "q_sf", int32Bytes(out.QSF), tensor(t, gt.expected, "q_sf").Data, 4)
			sameBytes(t, "weights_out", float32Bytes(out.WeightsOut), tensor(t, gt.expected, "weights_out").Data, 4)
		})
	}
}

func kInput(t *testing.T, f *safetensors.File) KInput {
	kv := f32s(t, f, "kv")
	return KInput{
		N:          len(kv) / HeadDim,
		KV:         kv,
		NormWeight: f32s(t, f, "norm_weight"),
		Freqs:      table(t, f),
		Positions:  i64s(t, f, "positions"),
		OutLoc:     i64s(t, f, "out_loc"),
	}
}

// K v2 with the device's norm factor injected must match every byte. With the
// correctly rounded rsqrt instead, a few rows differ; the count is reported.
func TestGroundTruthKV2(t *testing.T) {
	for _, name := range []string{"edges", "random"} {
		t.Run(name, func(t *testing.T) {
			gt := loadCase(t, "k_v2_fused", name)
			in := kInput(t, gt.inputs)
			in.NormFactor = f32s(t, gt.inputs, "norm_factor")
			c, wantCache := newCache(t, gt.expected, "kvcache", pagedcache.FP4)
			nf, err := StoreKV2(c, in, KOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "kvcache", c.Data, wantCache, c.Layout.PageBytes())
			sameBytes(t, "norm_factor", float32Bytes(nf), tensor(t, gt.expected, "norm_factor").Data, 4)

			// Without injection: count what the correctly rounded rsqrt changes.
			in.NormFactor = nil
			c2, _ := newCache(t, gt.expected, "kvcache", pagedcache.FP4)
			nf2, err := StoreKV2(c2, in, KOptions{})
			if err != nil {
				t.Fatal(err)
			}
			devNF := f32s(t, gt.expected, "norm_factor")
			nfDiff, rowDiff := 0, 0
			for r, loc := range in.OutLoc {
				if math.Float32bits(nf2[r]) != math.Float32bits(devNF[r]) {
					nfDiff++
				}
				p1, s1, _ := c.Load(loc)
				p2, s2, _ := c2.Load(loc)
				if !bytes.Equal(p1, p2) || !bytes.Equal(s1, s2) {
					rowDiff++
				}
			}
			t.Logf("correctly rounded rsqrt: %d of %d norm factors differ from the H100's rsqrtf; %d rows' cache bytes differ",
				nfDiff, in.N, rowDiff)

			// With the measured sm_90 rsqrtf table, no injection is needed.
			c3, _ := newCache(t, gt.expected, "kvcache", pagedcache.FP4)
			nf3, err := StoreKV2(c3, in, KOptions{Rsqrt: rmsnorm.DeviceSM90()})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, "kvcache (device rsqrt table)", c3.Data, wantCache, c3.Layout.PageBytes())
			sameBytes(t, "norm_factor (device rsqrt table)", float32Bytes(nf3), float32Bytes(devNF), 4)
		})
	}
}

func ExampleQuantizeQ() {
	// One token, one head: the PR test's forced row in the nope half, zeros elsewhere,
	// at RoPE position 0 of an identity table (cos 1, sin 0).
	q := make([]bf16.BF16, HeadDim)
	for i, v := range []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8} {
		q[i] = bf16.Fromfloat32(v)
	}
	freqs := make([]float32, RoPEDim)
	for k := 0; k < RoPEDim; k += 2 {
		freqs[k] = 1
	}
	tb, _ := rope.NewTable(RoPEDim, freqs)
	out, err := QuantizeQ(QInput{B: 1, H: 1, Q: q, Weight: []bf16.BF16{bf16.Fromfloat32(1)},
		Freqs: tb, Positions: []int64{0}}, QOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("q_sf %#08x, first bytes % x, weights_out %#08x\n",
		uint32(out.QSF[0]), out.QFP4[:4], math.Float32bits(out.WeightsOut[0]))
	// Output:
	// q_sf 0x7e7e7e7e, first bytes cb 2d 1f a0, weights_out 0x3c3504f3
}
