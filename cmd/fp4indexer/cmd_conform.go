package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/cuda"
	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/golden"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

const conformHelp = `usage: fp4indexer conform [flags]

Compiles the project's CUDA kernels with NVRTC for the GPU it finds, runs every
path on the golden suites (pr26209, edges, a -rows random set, logits) and the
exhaustive quantizer sweep (every bf16 value behind a pilot element that fixes
each scale byte, both scale variants, both element modes), and compares every
byte with the Go models. Exit 1 on any mismatch or when no GPU can be used.

The models run with the GPU-measurable profile: K v2 and K FP8 take the measured
sm_90 rsqrtf table (rmsnorm.DeviceSM90), logits use the fp32-fma dot and the
sequential epilogue (DeepGEMM's tensor-core order is unspecified; see
docs/CONFORMANCE.md).

Bring your own kernel: -ptx FILE (PTX, CUBIN or fatbin) -kernel PATH -entry NAME
replaces the project's kernel of one path (quantize_groups, kv1_store, q_fp4,
kv2_fp4, q_fp8, k_fp8, paged_logits); cuda/byok.go documents each ABI.

`

// conformRow is one line of the report table.
type conformRow struct {
	path, suite   string
	rows, bytes   int
	mismatch      int
	firstMismatch string
}

func runConform(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conform", stderr)
	rows := fs.Int("rows", 1_000_000, "rows of the random suite, per path")
	suites := fs.String("suites", "pr26209,edges,random,logits", "comma-separated golden suites")
	sweep := fs.Bool("sweep", true, "run the exhaustive quantizer sweep")
	seed := fs.Uint64("seed", 0, "seed of the random suites (0: the golden default)")
	ptx := fs.String("ptx", "", "your compiled kernel (PTX, CUBIN or fatbin) to test instead of the project's")
	kernel := fs.String("kernel", "", "with -ptx: the path it implements (see -h)")
	entry := fs.String("entry", "", "with -ptx: the kernel's entry point name")
	fs.Usage = func() { fmt.Fprint(stderr, conformHelp); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if (*ptx == "") != (*kernel == "") || (*ptx != "" && *entry == "") {
		return usagef("-ptx, -kernel and -entry go together")
	}
	var suiteList []string
	for _, s := range strings.Split(*suites, ",") {
		if s = strings.TrimSpace(s); s != "" {
			suiteList = append(suiteList, s)
		}
	}

	d, err := cuda.Open()
	if err != nil {
		return fmt.Errorf("no GPU to run on: %w", err)
	}
	defer d.Close()
	info := d.Info()
	gpu := fmt.Sprintf("%s (sm_%d%d, driver %d.%d, NVRTC %d.%d)", info.Name, info.Major, info.Minor,
		info.Driver/1000, info.Driver%1000/10, info.NVRTCMajor, info.NVRTCMinor)
	fmt.Fprintf(stdout, "GPU: %s; kernels built for %s\n", gpu, info.Arch)

	only := golden.Kernel("")
	if *ptx != "" {
		image, err := os.ReadFile(*ptx)
		if err != nil {
			return err
		}
		if err := d.UseKernel(*kernel, image, *entry); err != nil {
			return err
		}
		if only, err = byokPath(*kernel); err != nil {
			return usagef("%v", err)
		}
		*sweep = *sweep && *kernel == "quantize_groups"
		fmt.Fprintf(stdout, "testing %s from %s as %s\n", *entry, *ptx, *kernel)
	}

	profile := golden.Profile{
		Name:   "conform-sm90",
		Rsqrt:  golden.RsqrtDeviceSM90,
		Logits: mqa.Options{Dot: mqa.FP32FMA, Epilogue: mqa.Sequential},
	}
	var table []conformRow
	start := time.Now()
	for _, suite := range suiteList {
		cfg := golden.Config{Rows: *rows, Seed: *seed, Profile: profile}
		if only != "" {
			cfg.Kernels = []golden.Kernel{only}
		}
		if only == "" || *kernel != "quantize_groups" {
			err := golden.Generate(suite, cfg, func(c golden.Case) error {
				row, err := conformCase(d, c)
				if err != nil {
					return fmt.Errorf("%s/%s: %w", c.Kernel.Path(), c.Name, err)
				}
				row.suite = suite
				table = append(table, row)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	if *sweep {
		rowsSweep, err := conformQuantizerSweep(d)
		if err != nil {
			return err
		}
		table = append(table, rowsSweep...)
	}

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tsuite\trows\tbytes compared\tmismatching bytes\tfirst mismatch")
	bad := 0
	for _, r := range table {
		first := r.firstMismatch
		if first == "" {
			first = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", r.path, r.suite, r.rows, r.bytes, r.mismatch, first)
		bad += r.mismatch
	}
	tw.Flush()
	fmt.Fprintf(stdout, "GPU %s, arch %s; %d checks in %.1fs\n", gpu, info.Arch, len(table), time.Since(start).Seconds())
	if bad > 0 {
		return fmt.Errorf("%d mismatching bytes", bad)
	}
	fmt.Fprintln(stdout, "0 mismatching bytes")
	return nil
}

func byokPath(kernel string) (golden.Kernel, error) {
	switch kernel {
	case "quantize_groups", "kv1_store":
		return golden.KV1Store, nil
	case "q_fp4":
		return golden.QFP4, nil
	case "kv2_fp4":
		return golden.KV2Fused, nil
	case "q_fp8":
		return golden.QFP8, nil
	case "k_fp8":
		return golden.KFP8, nil
	case "paged_logits":
		return golden.Logits, nil
	}
	return "", fmt.Errorf("unknown kernel path %q", kernel)
}

// conformCase runs one golden case on the GPU and compares its outputs with the
// case's expected tensors, byte for byte.
func conformCase(d *cuda.Device, c golden.Case) (conformRow, error) {
	in := tensorReader{f: c.Inputs}
	var out []st.Tensor
	var rows int
	pageSize := 64
	if ps, ok := c.Options["page_size"]; ok {
		fmt.Sscan(ps, &pageSize)
	}
	switch c.Kernel {
	case golden.KV1Store:
		x := in.widen("input")
		loc := in.i64("loc")
		cacheT := in.expected(c, "cache")
		cache := make([]byte, len(cacheT.Data))
		xfp4, xsf, err := d.StoreKV1(x, loc, cuda.DefaultKV1Quant(), pageSize, cache)
		if err != nil {
			return conformRow{}, err
		}
		rows = len(loc)
		out = append(out, in.bytesLike(c, "x_fp4", xfp4), in.i32Like(c, "x_sf", xsf), in.bytesLike(c, "cache", cache))
	case golden.QFP4, golden.QFP8:
		shape := in.shape("q_input")
		qi := cuda.QInput{B: shape[0], H: shape[1], Q: in.u16("q_input"), Weight: in.u16("weight"),
			Freqs: in.f32("freqs_cis"), Positions: in.i64("positions")}
		rows = qi.B * qi.H
		if c.Kernel == golden.QFP4 {
			q, sf, w, err := d.QFP4(qi, cuda.QOptions{})
			if err != nil {
				return conformRow{}, err
			}
			out = append(out, in.bytesLike(c, "q_fp4", q), in.i32Like(c, "q_sf", sf), in.f32Like(c, "weights_out", w))
		} else {
			q, w, err := d.QFP8(qi, cuda.QOptions{})
			if err != nil {
				return conformRow{}, err
			}
			out = append(out, in.bytesLike(c, "q_fp8", q), in.f32Like(c, "weights_out", w))
		}
	case golden.KV2Fused, golden.KFP8:
		kv := in.f32("kv")
		ki := cuda.KInput{N: len(kv) / 128, KV: kv, NormWeight: in.f32("norm_weight"), Freqs: in.f32("freqs_cis"),
			Positions: in.i64("positions"), OutLoc: in.i64("out_loc")}
		if _, ok := c.Inputs.Get("norm_factor"); ok {
			ki.NormFactor = in.f32("norm_factor")
		}
		rows = ki.N
		cacheT := in.expected(c, "kvcache")
		cache := make([]byte, len(cacheT.Data))
		ko := cuda.KOptions{PageSize: pageSize}
		var nf []float32
		var err error
		if c.Kernel == golden.KV2Fused {
			nf, err = d.KV2FP4(ki, ko, cache)
		} else {
			nf, err = d.KFP8(ki, ko, cache)
		}
		if err != nil {
			return conformRow{}, err
		}
		out = append(out, in.bytesLike(c, "kvcache", cache), in.f32Like(c, "norm_factor", nf))
	case golden.Logits:
		li, err := logitsInput(in, c, pageSize)
		if err != nil {
			return conformRow{}, err
		}
		logits, err := d.PagedLogits(li)
		if err != nil {
			return conformRow{}, err
		}
		rows = li.B * li.NextN
		out = append(out, in.f32Like(c, "logits", logits))
	default:
		return conformRow{}, fmt.Errorf("no GPU kernel for %s", c.Kernel)
	}
	if in.err != nil {
		return conformRow{}, in.err
	}
	actual := &st.File{Tensors: out}
	row := conformRow{path: c.Kernel.Path() + "/" + c.Name, rows: rows}
	for _, r := range golden.CompareFiles(c.Expected, actual, 1) {
		exp, _ := c.Expected.Get(r.Name)
		row.bytes += len(exp.Data)
		if r.OK() {
			continue
		}
		row.mismatch += mismatchingBytes(exp, actual, r.Name)
		if row.firstMismatch == "" {
			row.firstMismatch = r.Name
			if r.Problem != "" {
				row.firstMismatch += ": " + r.Problem
			} else if len(r.Listed) > 0 {
				row.firstMismatch += ": " + r.Listed[0].Text
			}
		}
	}
	return row, nil
}

func mismatchingBytes(exp st.Tensor, actual *st.File, name string) int {
	got, ok := actual.Get(name)
	if !ok || len(got.Data) != len(exp.Data) {
		return max(len(exp.Data), 1)
	}
	n := 0
	for i := range exp.Data {
		if exp.Data[i] != got.Data[i] {
			n++
		}
	}
	return n
}

func logitsInput(in tensorReader, c golden.Case, pageSize int) (cuda.LogitsInput, error) {
	li := cuda.LogitsInput{PageSize: pageSize}
	q, _ := c.Inputs.Get("q")
	if len(q.Shape) != 4 {
		return li, fmt.Errorf("q has shape %v, want [B, next_n, H, D]", q.Shape)
	}
	li.B, li.NextN, li.H = q.Shape[0], q.Shape[1], q.Shape[2]
	li.FP8 = q.DType == st.F8_E4M3
	li.Q = q.Data
	if !li.FP8 {
		li.QSF = in.i32("q_sf")
	}
	kv, _ := c.Inputs.Get("kv_cache")
	li.Cache = kv.Data
	li.Weights = in.f32("weights")
	li.ContextLens = in.i32("context_lens")
	bt, _ := c.Inputs.Get("block_table")
	li.BlockTable = in.i32("block_table")
	if len(bt.Shape) == 2 {
		li.MaxBlocks = bt.Shape[1]
	}
	logits, _ := c.Expected.Get("logits")
	if len(logits.Shape) == 2 {
		li.MaxContextLen = logits.Shape[1]
	}
	return li, in.err
}

// tensorReader reads named tensors of a case and keeps the first error.
type tensorReader struct {
	f   *st.File
	err error
}

func (r *tensorReader) get(name string) st.Tensor {
	t, ok := r.f.Get(name)
	if !ok && r.err == nil {
		r.err = fmt.Errorf("input tensor %q missing", name)
	}
	return t
}

func (r *tensorReader) keep(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

func (r *tensorReader) shape(name string) []int {
	s := r.get(name).Shape
	if len(s) < 2 {
		r.keep(fmt.Errorf("tensor %q has shape %v", name, s))
		return []int{0, 0}
	}
	return s
}

func (r *tensorReader) f32(name string) []float32 {
	v, err := r.get(name).Float32s()
	r.keep(err)
	return v
}

func (r *tensorReader) u16(name string) []uint16 {
	v, err := r.get(name).Uint16s()
	r.keep(err)
	return v
}

func (r *tensorReader) i32(name string) []int32 {
	v, err := r.get(name).Int32s()
	r.keep(err)
	return v
}

func (r *tensorReader) i64(name string) []int64 {
	t := r.get(name)
	if t.DType == st.I32 {
		v, err := t.Int32s()
		r.keep(err)
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	v, err := t.Int64s()
	r.keep(err)
	return v
}

// widen reads a BF16 or F32 tensor as float32.
func (r *tensorReader) widen(name string) []float32 {
	t := r.get(name)
	if t.DType != st.BF16 {
		return r.f32(name)
	}
	bits, err := t.Uint16s()
	r.keep(err)
	out := make([]float32, len(bits))
	for i, b := range bits {
		out[i] = bf16.Frombits(b).Float32()
	}
	return out
}

func (r *tensorReader) expected(c golden.Case, name string) st.Tensor {
	t, ok := c.Expected.Get(name)
	if !ok {
		r.keep(fmt.Errorf("expected tensor %q missing", name))
	}
	return t
}

// bytesLike wraps raw output bytes in the dtype and shape of the expected tensor.
func (r *tensorReader) bytesLike(c golden.Case, name string, data []byte) st.Tensor {
	e := r.expected(c, name)
	return st.Tensor{Name: name, DType: e.DType, Shape: e.Shape, Data: data}
}

func (r *tensorReader) i32Like(c golden.Case, name string, v []int32) st.Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(x), byte(x>>8), byte(x>>16), byte(x>>24)
	}
	return r.bytesLike(c, name, b)
}

func (r *tensorReader) f32Like(c golden.Case, name string, v []float32) st.Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return r.bytesLike(c, name, b)
}

// conformQuantizerSweep puts every bf16 value through the GPU's group quantizer
// behind a pilot element 6·2^(e−127) that fixes each scale byte e a finite group
// can reach (plus ±0 and +Inf pilots), for both scale variants of the PR and both
// element modes, and compares codes and scale bytes with ue8m0.Quantizer.
func conformQuantizerSweep(d *cuda.Device) ([]conformRow, error) {
	var x []float32
	pilots := []float32{0, float32(math.Inf(1))}
	for e := 1; e <= 253; e++ {
		pilots = append(pilots, float32(6*math.Ldexp(1, e-127)))
	}
	for _, p := range pilots {
		for v := 0; v < 1<<16; v += 31 {
			x = append(x, p)
			for i := 0; i < 31; i++ {
				x = append(x, bf16.Frombits(uint16((v+i)&0xFFFF)).Float32())
			}
		}
	}
	groups := len(x) / 32
	var rows []conformRow
	for _, sv := range []struct {
		gpu cuda.ScaleVariant
		cpu ue8m0.Variant
	}{{cuda.ScaleCUDA, ue8m0.CUDA}, {cuda.ScaleTriton, ue8m0.Triton}} {
		for _, em := range []struct {
			gpu cuda.ElementMode
			cpu e2m1.Mode
		}{{cuda.ElementThreshold, e2m1.Threshold}, {cuda.ElementRNE, e2m1.RNE}} {
			codes, scales, err := d.QuantizeGroups(x, cuda.Quant{Scale: sv.gpu, Element: em.gpu})
			if err != nil {
				return nil, err
			}
			q := ue8m0.Quantizer{Scale: sv.cpu, Element: e2m1.Encoder{Mode: em.cpu}}
			row := conformRow{path: "quantizer " + sv.cpu.String() + "/" + em.cpu.String(), suite: "sweep",
				rows: groups, bytes: len(codes) + len(scales)}
			want := make([]byte, 16)
			for g := 0; g < groups; g++ {
				s, err := q.Group(want, x[32*g:32*g+32])
				if err != nil {
					return nil, err
				}
				diff := 0
				for i := range want {
					if want[i] != codes[16*g+i] {
						diff++
					}
				}
				if s.Bits() != scales[g] {
					diff++
				}
				if diff > 0 && row.firstMismatch == "" {
					row.firstMismatch = fmt.Sprintf("group %d (pilot %g): scale %d vs %d", g, x[32*g], scales[g], s.Bits())
				}
				row.mismatch += diff
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, errors.New("no sweep ran")
	}
	return rows, nil
}
