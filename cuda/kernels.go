package cuda

import (
	"embed"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unsafe"
)

//go:embed kernels/common.cuh kernels/fp4.cu kernels/fp8.cu kernels/logits.cu kernels/rsqrt.cu
var kernelFS embed.FS

// kernelFiles is the order in which the sources form one translation unit.
var kernelFiles = []string{"kernels/common.cuh", "kernels/fp4.cu", "kernels/fp8.cu", "kernels/logits.cu", "kernels/rsqrt.cu"}

var kernelNames = []string{
	"arch_probe", "quantize_groups", "kv1_store", "q_fp4", "kv2_fp4", "q_fp8", "k_fp8",
	"e4m3_probe", "e2m1_probe", "paged_logits", "rsqrt_probe", "rsqrt_base", "rsqrt_sweep",
}

// KernelSource is the CUDA C program the harness compiles: the embedded files
// concatenated, each preceded by a #line directive so NVRTC messages name them.
func KernelSource() string {
	var sb strings.Builder
	for _, f := range kernelFiles {
		b, err := kernelFS.ReadFile(f)
		if err != nil {
			panic(err) // embedded at build time: cannot fail
		}
		fmt.Fprintf(&sb, "#line 1 %q\n", f)
		sb.Write(b)
		sb.WriteString("\n")
	}
	return sb.String()
}

// ScaleVariant is the UE8M0 scale rule of a 32-group (SPEC §3).
type ScaleVariant uint8

const (
	ScaleCUDA     ScaleVariant = iota // fmaxf(1e-4, amax)/6, byte truncation (fused Q and K v2 kernels)
	ScaleTriton                       // max(amax/6, 1e-4), clamp 1..254 (K v1, Triton)
	ScaleRP                           // cvt.rp.satfinite.ue8m0x2.f32 of amax/6 (hardware on sm_100a)
	ScaleRZ                           // cvt.rz.satfinite.ue8m0x2.f32 of amax/6 (hardware on sm_100a)
	ScaleOCPFloor                     // OCP MX: floor(log2 amax) - 2 + 127, clamp 0..254
)

var scaleNames = []string{"cuda", "triton", "rp", "rz", "ocp-floor"}

func (v ScaleVariant) String() string {
	if int(v) < len(scaleNames) {
		return scaleNames[v]
	}
	return fmt.Sprintf("ScaleVariant(%d)", uint8(v))
}

// ParseScaleVariant reads "cuda", "triton", "rp", "rz" or "ocp-floor" ("" is cuda).
func ParseScaleVariant(s string) (ScaleVariant, error) {
	if s == "" {
		return ScaleCUDA, nil
	}
	for i, n := range scaleNames {
		if s == n {
			return ScaleVariant(i), nil
		}
	}
	return 0, fmt.Errorf("cuda: unknown scale variant %q (want one of %s)", s, strings.Join(scaleNames, ", "))
}

// ElementMode is the E2M1 rounding of the scaled elements (SPEC §2).
type ElementMode uint8

const (
	ElementThreshold ElementMode = iota // strict thresholds, ties to the smaller magnitude (the PR)
	ElementRNE                          // nearest-even, satfinite (hardware cvt on sm_100a)
)

func (m ElementMode) String() string {
	switch m {
	case ElementThreshold:
		return "threshold"
	case ElementRNE:
		return "rne"
	}
	return fmt.Sprintf("ElementMode(%d)", uint8(m))
}

// ParseElementMode reads "threshold" or "rne" ("" is threshold).
func ParseElementMode(s string) (ElementMode, error) {
	switch s {
	case "", "threshold":
		return ElementThreshold, nil
	case "rne":
		return ElementRNE, nil
	}
	return 0, fmt.Errorf("cuda: unknown element mode %q (want threshold or rne)", s)
}

// Quant selects the FP4 quantizer. The zero value is the fused kernels' (cuda scale,
// threshold codes).
type Quant struct {
	Scale   ScaleVariant
	Element ElementMode
}

// DefaultKV1Quant is the K v1 store of the PR: triton scale, threshold codes.
func DefaultKV1Quant() Quant { return Quant{Scale: ScaleTriton} }

func (q Quant) flags() (uint32, error) {
	if int(q.Scale) >= len(scaleNames) {
		return 0, fmt.Errorf("cuda: unknown scale variant %d", q.Scale)
	}
	if q.Element > ElementRNE {
		return 0, fmt.Errorf("cuda: unknown element mode %d", q.Element)
	}
	return uint32(q.Scale) | uint32(q.Element)<<4, nil
}

// Flag bits shared with kernels/common.cuh.
const (
	flagNoRoPEBF16  = 0x100
	flagNoHadBF16   = 0x200
	flagRoPEUnfused = 0x400
	flagRsqrtCR     = 0x800
)

// HeadDim is the row length of every path.
const HeadDim = 128

// DefaultWeightScale is 128^-0.5 * 64^-0.5 as fp32 (bits 0x3C3504F3).
const defaultWeightScaleBits = 0x3C3504F3

// DefaultEps is the K paths' RMSNorm epsilon, 1e-6 as fp32.
const DefaultEps float32 = 1e-6

// DefaultPageSize is the C4 indexer page size (64 compressed tokens).
const DefaultPageSize = 64

// run holds the device buffers of one call and frees them at the end.
type run struct {
	d    *Device
	bufs []devBuf
	err  error
}

func (d *Device) begin() (*run, func(), error) {
	release, err := d.enter()
	if err != nil {
		return nil, nil, err
	}
	r := &run{d: d}
	return r, func() {
		for _, b := range r.bufs {
			d.free(b)
		}
		release()
	}, nil
}

// input allocates and fills a device copy of x (nil or empty gives a small valid buffer).
func input[T any](r *run, x []T) devBuf {
	if r.err != nil {
		return devBuf{}
	}
	var zero T
	n := uint64(len(x)) * uint64(unsafe.Sizeof(zero))
	b, err := r.d.alloc(n)
	if err != nil {
		r.err = err
		return devBuf{}
	}
	r.bufs = append(r.bufs, b)
	if n > 0 {
		r.err = r.d.upload(b, unsafe.Pointer(unsafe.SliceData(x)), n)
	}
	return b
}

// output allocates n bytes filled with a poison byte, so an unwritten output shows.
func (r *run) output(n uint64, poison byte) devBuf {
	if r.err != nil {
		return devBuf{}
	}
	b, err := r.d.alloc(n)
	if err != nil {
		r.err = err
		return devBuf{}
	}
	r.bufs = append(r.bufs, b)
	r.err = r.d.check("cuMemsetD8", r.d.drv.memsetD8(b.ptr, poison, b.size))
	return b
}

func fetch[T any](r *run, dst []T, src devBuf) {
	if r.err != nil || len(dst) == 0 {
		return
	}
	var zero T
	r.err = r.d.download(unsafe.Pointer(unsafe.SliceData(dst)), src, uint64(len(dst))*uint64(unsafe.Sizeof(zero)))
}

func (r *run) launch(name string, blocks, threads uint32, args ...any) {
	if r.err != nil {
		return
	}
	r.err = r.d.launch(name, blocks, threads, args...)
}

const poison = 0xA5

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// QuantizeGroups quantizes len(x)/32 groups of 32 values: 16 packed bytes per group
// (even element in the low nibble) and one UE8M0 scale byte per group.
func (d *Device) QuantizeGroups(x []float32, q Quant) (codes, scales []byte, err error) {
	if len(x)%32 != 0 {
		return nil, nil, fmt.Errorf("cuda: QuantizeGroups: %d values is not a whole number of 32-groups", len(x))
	}
	flags, err := q.flags()
	if err != nil {
		return nil, nil, err
	}
	groups := len(x) / 32
	codes, scales = make([]byte, groups*16), make([]byte, groups)
	if groups == 0 {
		return codes, scales, nil
	}
	// The kernel reads whole 128-value rows: pad to a multiple of 4 groups.
	padded := x
	if groups%4 != 0 {
		padded = make([]float32, ceilDiv(groups, 4)*128)
		copy(padded, x)
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	dx := input(r, padded)
	dc := r.output(uint64(len(codes)), poison)
	ds := r.output(uint64(len(scales)), poison)
	warps := ceilDiv(groups, 4)
	r.launch("quantize_groups", uint32(ceilDiv(warps, 8)), 256, dx, int64(groups), flags, dc, ds)
	fetch(r, codes, dc)
	fetch(r, scales, ds)
	return codes, scales, r.err
}

// pageShift validates a page size (a power of two) and returns log2 of it.
func pageShift(p int) (int, error) {
	if p == 0 {
		p = DefaultPageSize
	}
	if p < 1 || p > 1<<20 || p&(p-1) != 0 {
		return 0, fmt.Errorf("cuda: page size %d is not a power of two in 1..2^20", p)
	}
	return bits.TrailingZeros(uint(p)), nil
}

// checkLocs validates cache slots against a cache of len(cache) bytes.
func checkLocs(what string, locs []int64, cacheLen, pageSize, bytesPerToken int) error {
	pageBytes := pageSize * bytesPerToken
	if cacheLen%pageBytes != 0 {
		return fmt.Errorf("cuda: %s: cache of %d bytes is not a whole number of %d-byte pages", what, cacheLen, pageBytes)
	}
	slots := int64(cacheLen / bytesPerToken)
	for i, l := range locs {
		if l < 0 || l >= slots {
			return fmt.Errorf("cuda: %s: loc[%d] = %d outside the cache's %d slots", what, i, l, slots)
		}
	}
	return nil
}

func checkPositions(what string, pos []int64, freqs []float32) error {
	if len(freqs)%64 != 0 {
		return fmt.Errorf("cuda: %s: freqs has %d values, not [positions, 64]", what, len(freqs))
	}
	n := int64(len(freqs) / 64)
	for i, p := range pos {
		if p < 0 || p >= n {
			return fmt.Errorf("cuda: %s: positions[%d] = %d outside the %d-row RoPE table", what, i, p, n)
		}
	}
	return nil
}

func int32sFromLE(b []byte) []int32 {
	out := make([]int32, len(b)/4)
	for i := range out {
		out[i] = int32(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}

// StoreKV1 is store_fp4_index_k_cache: rows of 128 values (bf16 inputs widened
// by the caller), quantized with q (DefaultKV1Quant for the PR), returned as x_fp4
// [N,64] and x_sf [N] and stored into cache (updated in place) at loc.
func (d *Device) StoreKV1(rows []float32, loc []int64, q Quant, pageSize int, cache []byte) (xfp4 []byte, xsf []int32, err error) {
	if len(rows) != len(loc)*HeadDim {
		return nil, nil, fmt.Errorf("cuda: StoreKV1: input has %d values for %d locs (want [N,128])", len(rows), len(loc))
	}
	shift, err := pageShift(pageSize)
	if err != nil {
		return nil, nil, err
	}
	if err := checkLocs("StoreKV1", loc, len(cache), 1<<shift, 68); err != nil {
		return nil, nil, err
	}
	flags, err := q.flags()
	if err != nil {
		return nil, nil, err
	}
	n := len(loc)
	xfp4 = make([]byte, n*64)
	sf := make([]byte, n*4)
	if n == 0 {
		return xfp4, []int32{}, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	di, dl, dc := input(r, rows), input(r, loc), input(r, cache)
	dx, ds := r.output(uint64(len(xfp4)), poison), r.output(uint64(len(sf)), poison)
	r.launch("kv1_store", uint32(ceilDiv(n, 8)), 256, di, dl, int64(n), int32(shift), flags, dx, ds, dc)
	fetch(r, xfp4, dx)
	fetch(r, sf, ds)
	fetch(r, cache, dc)
	return xfp4, int32sFromLE(sf), r.err
}

// QInput is the fused Q kernels' input (SPEC §8 q_fp4 / q_fp8).
type QInput struct {
	B, H      int
	Q         []uint16  // [B,H,128] bf16 bits
	Weight    []uint16  // [B,H] bf16 bits
	Freqs     []float32 // [positions,64] cos/sin pairs
	Positions []int64   // [B]
}

// QOptions: the zero value is the PR's fused_q_indexer_rope_hadamard_fp4_quant.
type QOptions struct {
	Quant          Quant
	NoRoPEBF16     bool    // skip the bf16 round trip after RoPE (FP4 only)
	NoHadamardBF16 bool    // skip the bf16 round trip after the Hadamard (FP4 only)
	RoPEUnfused    bool    // RoPE with separately rounded products and sum
	WeightScale    float32 // 0 means 0x3C3504F3
}

func (o QOptions) weightScale() float32 {
	if o.WeightScale == 0 {
		return math.Float32frombits(defaultWeightScaleBits)
	}
	return o.WeightScale
}

func (in QInput) check(what string) error {
	if in.B < 0 || in.H <= 0 {
		return fmt.Errorf("cuda: %s: B = %d, H = %d", what, in.B, in.H)
	}
	rows := in.B * in.H
	if len(in.Q) != rows*HeadDim || len(in.Weight) != rows || len(in.Positions) != in.B {
		return fmt.Errorf("cuda: %s: shapes q %d, weight %d, positions %d do not fit B = %d, H = %d", what, len(in.Q), len(in.Weight), len(in.Positions), in.B, in.H)
	}
	return checkPositions(what, in.Positions, in.Freqs)
}

// QFP4 runs the fused Q path: q_fp4 [B,H,64], q_sf [B,H], weights_out [B,H].
func (d *Device) QFP4(in QInput, o QOptions) (qfp4 []byte, qsf []int32, weightsOut []float32, err error) {
	if err := in.check("QFP4"); err != nil {
		return nil, nil, nil, err
	}
	flags, err := o.Quant.flags()
	if err != nil {
		return nil, nil, nil, err
	}
	if o.NoRoPEBF16 {
		flags |= flagNoRoPEBF16
	}
	if o.NoHadamardBF16 {
		flags |= flagNoHadBF16
	}
	if o.RoPEUnfused {
		flags |= flagRoPEUnfused
	}
	rows := in.B * in.H
	sf := make([]byte, rows*4)
	qfp4, weightsOut = make([]byte, rows*64), make([]float32, rows)
	if rows == 0 {
		return qfp4, []int32{}, weightsOut, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, nil, err
	}
	defer done()
	dq, dw, df, dp := input(r, in.Q), input(r, in.Weight), input(r, in.Freqs), input(r, in.Positions)
	dx, ds, dwo := r.output(uint64(len(qfp4)), poison), r.output(uint64(len(sf)), poison), r.output(uint64(rows*4), poison)
	r.launch("q_fp4", uint32(ceilDiv(rows, 4)), 128, dq, dw, df, dp, int64(rows), int32(in.H), o.weightScale(), flags, dx, ds, dwo)
	fetch(r, qfp4, dx)
	fetch(r, sf, ds)
	fetch(r, weightsOut, dwo)
	return qfp4, int32sFromLE(sf), weightsOut, r.err
}

// QFP8 runs fused_q_indexer_rope_hadamard_quant: q_fp8 [B,H,128] E4M3 bytes and
// weights_out = fl(fl(weight*weight_scale)*scale) [B,H]. Only RoPEUnfused and
// WeightScale of o apply (the FP8 kernel has no bf16 round trips and no FP4 quantizer).
func (d *Device) QFP8(in QInput, o QOptions) (qfp8 []byte, weightsOut []float32, err error) {
	if err := in.check("QFP8"); err != nil {
		return nil, nil, err
	}
	var flags uint32
	if o.RoPEUnfused {
		flags |= flagRoPEUnfused
	}
	rows := in.B * in.H
	qfp8, weightsOut = make([]byte, rows*HeadDim), make([]float32, rows)
	if rows == 0 {
		return qfp8, weightsOut, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	dq, dw, df, dp := input(r, in.Q), input(r, in.Weight), input(r, in.Freqs), input(r, in.Positions)
	dx, dwo := r.output(uint64(len(qfp8)), poison), r.output(uint64(rows*4), poison)
	r.launch("q_fp8", uint32(ceilDiv(rows, 4)), 128, dq, dw, df, dp, int64(rows), int32(in.H), o.weightScale(), flags, dx, dwo)
	fetch(r, qfp8, dx)
	fetch(r, weightsOut, dwo)
	return qfp8, weightsOut, r.err
}

// KInput is the fused K kernels' input (SPEC §8 k_v2_fused / k_fp8).
type KInput struct {
	N          int
	KV         []float32 // [N,128]
	NormWeight []float32 // [128]
	Freqs      []float32 // [positions,64]
	Positions  []int64   // [N] RoPE positions
	OutLoc     []int64   // [N] cache slots
	NormFactor []float32 // optional [N]: inject these instead of computing rsqrt
}

// KOptions: the zero value is the PR's fused_norm_rope_indexer_fp4 at page size 64.
type KOptions struct {
	Quant       Quant   // FP4 only
	Eps         float32 // 0 means 1e-6
	RoPEUnfused bool
	// CorrectlyRoundedRsqrt replaces the device rsqrtf (MUFU.RSQ) by the correctly
	// rounded 1/sqrt, for comparison with a model that uses one.
	CorrectlyRoundedRsqrt bool
	PageSize              int // 0 means 64
}

func (in KInput) check(what string) error {
	if in.N < 0 || len(in.KV) != in.N*HeadDim || len(in.NormWeight) != HeadDim || len(in.Positions) != in.N || len(in.OutLoc) != in.N {
		return fmt.Errorf("cuda: %s: shapes kv %d, norm_weight %d, positions %d, out_loc %d do not fit N = %d", what, len(in.KV), len(in.NormWeight), len(in.Positions), len(in.OutLoc), in.N)
	}
	if in.NormFactor != nil && len(in.NormFactor) != in.N {
		return fmt.Errorf("cuda: %s: norm_factor has %d values for N = %d", what, len(in.NormFactor), in.N)
	}
	return checkPositions(what, in.Positions, in.Freqs)
}

func (d *Device) storeK(kernel string, bytesPerToken int, in KInput, o KOptions, cache []byte) ([]float32, error) {
	if err := in.check(kernel); err != nil {
		return nil, err
	}
	shift, err := pageShift(o.PageSize)
	if err != nil {
		return nil, err
	}
	if err := checkLocs(kernel, in.OutLoc, len(cache), 1<<shift, bytesPerToken); err != nil {
		return nil, err
	}
	flags, err := o.Quant.flags()
	if err != nil {
		return nil, err
	}
	if o.RoPEUnfused {
		flags |= flagRoPEUnfused
	}
	if o.CorrectlyRoundedRsqrt {
		flags |= flagRsqrtCR
	}
	eps := o.Eps
	if eps == 0 {
		eps = DefaultEps
	}
	nf := make([]float32, in.N)
	if in.N == 0 {
		return nf, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	dkv, dw, df := input(r, in.KV), input(r, in.NormWeight), input(r, in.Freqs)
	dp, dl, dc := input(r, in.Positions), input(r, in.OutLoc), input(r, cache)
	var dnf any = uint64(0)
	if in.NormFactor != nil {
		dnf = input(r, in.NormFactor)
	}
	dout := r.output(uint64(in.N*4), poison)
	r.launch(kernel, uint32(ceilDiv(in.N, 8)), 256, dkv, dw, df, dp, dl, dnf, eps, int64(in.N), int32(shift), flags, dc, dout)
	fetch(r, nf, dout)
	fetch(r, cache, dc)
	return nf, r.err
}

// KV2FP4 runs fused_norm_rope_indexer_fp4 (K path v2): it stores each row into
// cache (68 bytes per token, updated in place) at out_loc and returns each row's
// norm factor (the device rsqrtf result unless injected or o asks otherwise).
func (d *Device) KV2FP4(in KInput, o KOptions, cache []byte) (normFactor []float32, err error) {
	return d.storeK("kv2_fp4", 68, in, o, cache)
}

// KFP8 runs fused_norm_rope_indexer (FP8 K): 128 E4M3 bytes and an fp32 scale per
// row into cache (132 bytes per token, updated in place); returns the norm factors.
func (d *Device) KFP8(in KInput, o KOptions, cache []byte) (normFactor []float32, err error) {
	if o.Quant != (Quant{}) {
		return nil, errors.New("cuda: KFP8: the FP8 path has no FP4 quantizer options")
	}
	return d.storeK("k_fp8", 132, in, o, cache)
}

// LogitsInput is fp8_fp4_paged_mqa_logits' input (SPEC §6, §8 logits), head dim 128.
type LogitsInput struct {
	FP8           bool      // E4M3 q and 132-byte cache; otherwise FP4 with q_sf and the 68-byte cache
	B, NextN, H   int       // requests, query tokens per request, heads
	Q             []byte    // FP4: [B,NextN,H,64]; FP8: [B,NextN,H,128]
	QSF           []int32   // FP4: [B,NextN,H]
	Cache         []byte    // [pages, PageSize*bytes_per_token]
	PageSize      int       // 0 means 64
	Weights       []float32 // [B*NextN, H]
	ContextLens   []int32   // [B, NextN]
	BlockTable    []int32   // [B, MaxBlocks]
	MaxBlocks     int
	MaxContextLen int
}

// PagedLogits returns logits [B*NextN, MaxContextLen] from the plain fp32 kernel
// (fp32-fma dot products, sequential head epilogue; -Inf for keys past the context).
func (d *Device) PagedLogits(in LogitsInput) ([]float32, error) {
	shift, err := pageShift(in.PageSize)
	if err != nil {
		return nil, err
	}
	P := 1 << shift
	if in.B < 0 || in.NextN <= 0 || in.H <= 0 || in.MaxBlocks < 0 || in.MaxContextLen < 0 {
		return nil, fmt.Errorf("cuda: PagedLogits: B = %d, NextN = %d, H = %d, MaxBlocks = %d, MaxContextLen = %d", in.B, in.NextN, in.H, in.MaxBlocks, in.MaxContextLen)
	}
	rows := in.B * in.NextN
	bpt, qBytes := 68, 64
	if in.FP8 {
		bpt, qBytes = 132, 128
	}
	if len(in.Q) != rows*in.H*qBytes || len(in.Weights) != rows*in.H || len(in.ContextLens) != rows || len(in.BlockTable) != in.B*in.MaxBlocks {
		return nil, fmt.Errorf("cuda: PagedLogits: shapes q %d, weights %d, context_lens %d, block_table %d do not fit B = %d, NextN = %d, H = %d, MaxBlocks = %d",
			len(in.Q), len(in.Weights), len(in.ContextLens), len(in.BlockTable), in.B, in.NextN, in.H, in.MaxBlocks)
	}
	if !in.FP8 && len(in.QSF) != rows*in.H {
		return nil, fmt.Errorf("cuda: PagedLogits: q_sf has %d words, want %d", len(in.QSF), rows*in.H)
	}
	if len(in.Cache)%(P*bpt) != 0 {
		return nil, fmt.Errorf("cuda: PagedLogits: cache of %d bytes is not a whole number of %d-byte pages", len(in.Cache), P*bpt)
	}
	pages := len(in.Cache) / (P * bpt)
	for r, c := range in.ContextLens {
		if c < 0 || int(c) > in.MaxBlocks*P {
			return nil, fmt.Errorf("cuda: PagedLogits: context_lens[%d] = %d outside 0..%d", r, c, in.MaxBlocks*P)
		}
		used := ceilDiv(min(int(c), in.MaxContextLen), P)
		b := r / in.NextN
		for k := 0; k < used; k++ {
			if p := in.BlockTable[b*in.MaxBlocks+k]; p < 0 || int(p) >= pages {
				return nil, fmt.Errorf("cuda: PagedLogits: block_table[%d][%d] = %d outside the cache's %d pages", b, k, p, pages)
			}
		}
	}
	out := make([]float32, rows*in.MaxContextLen)
	if len(out) == 0 {
		return out, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	dq, dsf, dc := input(r, in.Q), input(r, in.QSF), input(r, in.Cache)
	dw, dctx, dbt := input(r, in.Weights), input(r, in.ContextLens), input(r, in.BlockTable)
	dout := r.output(uint64(len(out)*4), poison)
	fp8 := int32(0)
	if in.FP8 {
		fp8 = 1
	}
	r.launch("paged_logits", uint32(ceilDiv(len(out), 128)), 128, dq, dsf, dc, dw, dctx, dbt, int64(rows),
		int32(in.NextN), int32(in.H), int32(in.MaxBlocks), int32(shift), int32(in.MaxContextLen), fp8, dout)
	fetch(r, out, dout)
	return out, r.err
}

// E4M3 converts each value through the kernels' E4M3 path (the hardware cvt on
// sm_89+) and through the software path, for comparison.
func (d *Device) E4M3(x []float32) (kernelPath, software []byte, err error) {
	kernelPath, software = make([]byte, len(x)), make([]byte, len(x))
	if len(x) == 0 {
		return kernelPath, software, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	dx := input(r, x)
	dh, ds := r.output(uint64(len(x)), poison), r.output(uint64(len(x)), poison)
	r.launch("e4m3_probe", uint32(ceilDiv(len(x), 256)), 256, dx, int64(len(x)), dh, ds)
	fetch(r, kernelPath, dh)
	fetch(r, software, ds)
	return kernelPath, software, r.err
}

// E2M1Pairs encodes (x[2i], x[2i+1]) pairs into one byte each (x[2i] in the low
// nibble) through the kernels' path for mode (the hardware cvt for rne on sm_100a).
func (d *Device) E2M1Pairs(x []float32, mode ElementMode) ([]byte, error) {
	if len(x)%2 != 0 {
		return nil, fmt.Errorf("cuda: E2M1Pairs: odd length %d", len(x))
	}
	if mode > ElementRNE {
		return nil, fmt.Errorf("cuda: unknown element mode %d", mode)
	}
	out := make([]byte, len(x)/2)
	if len(out) == 0 {
		return out, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	dx := input(r, x)
	do := r.output(uint64(len(out)), poison)
	r.launch("e2m1_probe", uint32(ceilDiv(len(out), 256)), 256, dx, int64(len(out)), uint32(mode), do)
	fetch(r, out, do)
	return out, r.err
}
