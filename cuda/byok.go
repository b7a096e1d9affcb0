package cuda

import (
	"bytes"
	"fmt"
	"runtime"
	"sort"
	"unsafe"
)

// Bring your own kernel: a caller may replace the kernel behind any path with an
// entry point of their own PTX, CUBIN or fatbin. The replacement is launched
// exactly as the built-in one: same parameters in the same order, same grid, same
// block, no dynamic shared memory, so it must follow the argument ABI below
// (C types; pointers are device pointers; i64 = long long; u32 = unsigned int).
//
//	path             parameters                                                            block  grid (ceil)
//	quantize_groups  (const float *x, i64 groups, u32 flags, u8 *codes, u8 *scales)        256    groups/32 (8 warps, 4 groups a warp)
//	kv1_store        (const float *input, const i64 *loc, i64 n, int log2_page, u32 flags,
//	                  u8 *x_fp4, u8 *x_sf, u8 *cache)                                       256    n/8
//	q_fp4            (const u16 *q, const u16 *weight, const float *freqs,
//	                  const i64 *positions, i64 rows, int heads, float weight_scale,
//	                  u32 flags, u8 *q_fp4, u8 *q_sf, float *weights_out)                    128    rows/4
//	kv2_fp4, k_fp8   (const float *kv, const float *norm_weight, const float *freqs,
//	                  const i64 *positions, const i64 *out_loc, const float *nf_in /*NULL
//	                  unless injected*/, float eps, i64 n, int log2_page, u32 flags,
//	                  u8 *cache, float *nf_out)                                             256    n/8
//	q_fp8            (const u16 *q, const u16 *weight, const float *freqs,
//	                  const i64 *positions, i64 rows, int heads, float weight_scale,
//	                  u32 flags, u8 *q_fp8, float *weights_out)                              128    rows/4
//	paged_logits     (const u8 *q, const u8 *q_sf, const u8 *cache, const float *weights,
//	                  const int *context_lens, const int *block_table, i64 rows, int next_n,
//	                  int heads, int max_blocks, int log2_page, int max_ctx, int fp8,
//	                  float *out)                                                           128    rows*max_ctx/128
//
// rows = B*H (Q paths) or B*next_n (logits); q_sf and x_sf are byte arrays of 4
// scale bytes per row (byte g = group g); flags: bits 0-3 the ScaleVariant, bits 4-5
// the ElementMode, 0x100 no RoPE bf16 round trip, 0x200 no Hadamard bf16 round trip,
// 0x400 unfused RoPE, 0x800 correctly rounded rsqrt. Every output buffer is
// filled with 0xA5 before the launch, so bytes a kernel leaves unwritten show up.
// The cache buffers hold the caller's cache on entry. Entry points must be
// extern "C" (unmangled) names.

// replaceable lists the paths a user kernel may take over.
var replaceable = map[string]bool{
	"quantize_groups": true, "kv1_store": true, "q_fp4": true, "kv2_fp4": true,
	"q_fp8": true, "k_fp8": true, "paged_logits": true,
}

// ReplaceablePaths lists the kernel paths UseKernel accepts.
func ReplaceablePaths() []string {
	var p []string
	for k := range replaceable {
		p = append(p, k)
	}
	sort.Strings(p)
	return p
}

// UseKernel loads image (PTX text, CUBIN or fatbin) and makes its entry point the
// kernel behind path for every later call on d, until ResetKernels. The image must
// target d's GPU (Info().Arch for CUBIN; PTX of an equal or lower compute
// capability is compiled by the driver).
func (d *Device) UseKernel(path string, image []byte, entry string) error {
	if !replaceable[path] {
		return fmt.Errorf("cuda: UseKernel: %q is not a replaceable path (have %v)", path, ReplaceablePaths())
	}
	if len(image) == 0 {
		return fmt.Errorf("cuda: UseKernel: empty image for %s", path)
	}
	release, err := d.enter()
	if err != nil {
		return err
	}
	defer release()
	img := image
	if looksLikePTX(image) && image[len(image)-1] != 0 {
		img = append(append([]byte(nil), image...), 0) // the driver reads PTX as a C string
	}
	var mod uintptr
	r := d.drv.moduleLoadData(&mod, unsafe.Pointer(&img[0]))
	runtime.KeepAlive(img)
	if err := d.check("cuModuleLoadData (user image for "+path+")", r); err != nil {
		return err
	}
	var fn uintptr
	nameC := cString(entry)
	if err := d.check("cuModuleGetFunction "+entry, d.drv.moduleGetFunc(&fn, mod, &nameC[0])); err != nil {
		d.drv.moduleUnload(mod)
		return err
	}
	d.userMods = append(d.userMods, mod)
	if d.builtin == nil {
		d.builtin = map[string]uintptr{}
		for k, v := range d.funcs {
			d.builtin[k] = v
		}
	}
	d.funcs[path] = fn
	return nil
}

// UseKernelSource compiles CUDA C with NVRTC for d's GPU (the harness's compile
// flags plus options) and installs entry as the kernel behind path.
func (d *Device) UseKernelSource(path, src, entry string, options ...string) error {
	b, err := d.nvrtc.Compile(path+"_user.cu", src, d.info.Arch, append(CompileOptions(), options...)...)
	if err != nil {
		return err
	}
	image := b.CUBIN
	if image == nil {
		image = b.PTX
	}
	return d.UseKernel(path, image, entry)
}

// ResetKernels restores the built-in kernels (user modules stay loaded until Close).
func (d *Device) ResetKernels() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range d.builtin {
		d.funcs[k] = v
	}
}

func looksLikePTX(b []byte) bool {
	head := b[:min(len(b), 4096)]
	return bytes.Contains(head, []byte(".version")) || bytes.Contains(head, []byte(".target"))
}
