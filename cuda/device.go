package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// driverAPI holds the CUDA driver entry points, bound at run time.
type driverAPI struct {
	init             func(flags uint32) int32
	driverGetVersion func(v *int32) int32
	deviceGetCount   func(n *int32) int32
	deviceGet        func(dev *int32, ordinal int32) int32
	deviceGetName    func(name *byte, n int32, dev int32) int32
	deviceGetAttr    func(v *int32, attr int32, dev int32) int32
	deviceTotalMem   func(bytes *uint64, dev int32) int32
	primaryRetain    func(ctx *uintptr, dev int32) int32
	primaryRelease   func(dev int32) int32
	ctxSetCurrent    func(ctx uintptr) int32
	ctxSynchronize   func() int32
	moduleLoadData   func(mod *uintptr, image unsafe.Pointer) int32
	moduleUnload     func(mod uintptr) int32
	moduleGetFunc    func(fn *uintptr, mod uintptr, name *byte) int32
	memAlloc         func(p *uint64, size uint64) int32
	memFree          func(p uint64) int32
	memcpyHtoD       func(dst uint64, src unsafe.Pointer, n uint64) int32
	memcpyDtoH       func(dst unsafe.Pointer, src uint64, n uint64) int32
	memsetD8         func(dst uint64, v uint8, n uint64) int32
	launchKernel     func(fn uintptr, gx, gy, gz, bx, by, bz, shmem uint32, stream uintptr, params, extra unsafe.Pointer) int32
	getErrorString   func(r int32, s **byte) int32
	getErrorName     func(r int32, s **byte) int32
}

// Device attributes (CUdevice_attribute).
const (
	attrMultiprocessorCount = 16
	attrComputeMajor        = 75
	attrComputeMinor        = 76
)

// Info describes the GPU and the software stack the harness runs on.
type Info struct {
	Name          string
	Major, Minor  int    // compute capability
	SMs           int    // multiprocessors
	MemoryBytes   uint64 // total device memory
	Driver        int    // cuDriverGetVersion: 1000*major + 10*minor
	NVRTCMajor    int
	NVRTCMinor    int
	Arch          string // the NVRTC target the kernels were built for
	HardwareFP4   bool   // rne codes and rp/rz scales use the sm_100a cvt instructions
	HardwareE4M3  bool   // E4M3 uses cvt.rn.satfinite.e4m3x2.f32 (sm_89+)
	LibCUDA       string // library files loaded
	LibNVRTC      string
	KernelArchTag int // __CUDA_ARCH__ seen by the compiled kernels
}

// String is a one-line report: card, capability, driver, NVRTC, target.
func (i Info) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.1f GiB), driver %s, NVRTC %d.%d, kernels built for %s (hardware FP4 cvt: %v, hardware E4M3 cvt: %v)",
		i.Name, i.Major, i.Minor, i.SMs, float64(i.MemoryBytes)/(1<<30), DriverVersionString(i.Driver),
		i.NVRTCMajor, i.NVRTCMinor, i.Arch, i.HardwareFP4, i.HardwareE4M3)
}

// DriverVersionString renders cuDriverGetVersion's integer (13000 -> "13.0").
func DriverVersionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10) }

// Options choose the libraries and the GPU. The zero value searches for both
// libraries and takes GPU 0.
type Options struct {
	LibCUDA  string // path of libcuda.so.1; "" searches
	LibNVRTC string // path of libnvrtc; "" searches
	Ordinal  int    // GPU index
	// ForceSoftware compiles the kernels with the software E2M1/UE8M0/E4M3
	// conversions even where the GPU has the hardware instructions.
	ForceSoftware bool
}

// Device is one GPU with the project's kernels loaded. Its methods are safe for
// concurrent use (they serialise) and pin the calling goroutine's OS thread while
// the CUDA context is current.
type Device struct {
	mu       sync.Mutex
	drv      driverAPI
	nvrtc    *Compiler
	dev      int32
	ctx      uintptr
	module   uintptr
	funcs    map[string]uintptr
	info     Info
	build    *Build
	closed   bool
	userMods []uintptr
	builtin  map[string]uintptr // the built-in kernels while a user kernel replaces one
}

// Open loads the driver and NVRTC, takes GPU 0, and compiles the kernels for it.
func Open() (*Device, error) { return OpenWith(Options{}) }

// OpenWith is Open with explicit options. Errors wrap ErrNoDriver or ErrNoNVRTC
// when a library or the GPU is missing, and say what was looked for.
func OpenWith(o Options) (*Device, error) {
	h, found, err := loadLibrary(driverCandidates(o.LibCUDA))
	if err != nil {
		return nil, fmt.Errorf("%w: libcuda.so.1 not found (is the NVIDIA driver installed? set %s to its path): %v", ErrNoDriver, EnvLibCUDA, err)
	}
	d := &Device{funcs: map[string]uintptr{}}
	a := &d.drv
	if err := bind(h, found, map[string]any{
		"cuInit":                       &a.init,
		"cuDriverGetVersion":           &a.driverGetVersion,
		"cuDeviceGetCount":             &a.deviceGetCount,
		"cuDeviceGet":                  &a.deviceGet,
		"cuDeviceGetName":              &a.deviceGetName,
		"cuDeviceGetAttribute":         &a.deviceGetAttr,
		"cuDeviceTotalMem_v2":          &a.deviceTotalMem,
		"cuDevicePrimaryCtxRetain":     &a.primaryRetain,
		"cuDevicePrimaryCtxRelease_v2": &a.primaryRelease,
		"cuCtxSetCurrent":              &a.ctxSetCurrent,
		"cuCtxSynchronize":             &a.ctxSynchronize,
		"cuModuleLoadData":             &a.moduleLoadData,
		"cuModuleUnload":               &a.moduleUnload,
		"cuModuleGetFunction":          &a.moduleGetFunc,
		"cuMemAlloc_v2":                &a.memAlloc,
		"cuMemFree_v2":                 &a.memFree,
		"cuMemcpyHtoD_v2":              &a.memcpyHtoD,
		"cuMemcpyDtoH_v2":              &a.memcpyDtoH,
		"cuMemsetD8_v2":                &a.memsetD8,
		"cuLaunchKernel":               &a.launchKernel,
		"cuGetErrorString":             &a.getErrorString,
		"cuGetErrorName":               &a.getErrorName,
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	d.info.LibCUDA = found

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if r := a.init(0); r != 0 {
		return nil, fmt.Errorf("%w: cuInit: %s", ErrNoDriver, d.errString(r))
	}
	var ver, count int32
	if err := d.check("cuDriverGetVersion", a.driverGetVersion(&ver)); err != nil {
		return nil, err
	}
	d.info.Driver = int(ver)
	if err := d.check("cuDeviceGetCount", a.deviceGetCount(&count)); err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, fmt.Errorf("%w: the driver (CUDA %s) sees no GPU", ErrNoDriver, DriverVersionString(int(ver)))
	}
	if o.Ordinal < 0 || o.Ordinal >= int(count) {
		return nil, fmt.Errorf("cuda: GPU %d requested, %d present", o.Ordinal, count)
	}
	if err := d.check("cuDeviceGet", a.deviceGet(&d.dev, int32(o.Ordinal))); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := d.check("cuDeviceGetName", a.deviceGetName(&name[0], int32(len(name)), d.dev)); err != nil {
		return nil, err
	}
	d.info.Name = goString(&name[0])
	var major, minor, sms int32
	_ = d.check("cuDeviceGetAttribute", a.deviceGetAttr(&major, attrComputeMajor, d.dev))
	_ = d.check("cuDeviceGetAttribute", a.deviceGetAttr(&minor, attrComputeMinor, d.dev))
	_ = d.check("cuDeviceGetAttribute", a.deviceGetAttr(&sms, attrMultiprocessorCount, d.dev))
	d.info.Major, d.info.Minor, d.info.SMs = int(major), int(minor), int(sms)
	_ = a.deviceTotalMem(&d.info.MemoryBytes, d.dev)

	comp, err := OpenCompiler(o.LibNVRTC)
	if err != nil {
		return nil, err
	}
	d.nvrtc = comp
	d.info.NVRTCMajor, d.info.NVRTCMinor = comp.Version()
	d.info.LibNVRTC = comp.Path()

	if err := d.check("cuDevicePrimaryCtxRetain", a.primaryRetain(&d.ctx, d.dev)); err != nil {
		return nil, err
	}
	if err := d.check("cuCtxSetCurrent", a.ctxSetCurrent(d.ctx)); err != nil {
		a.primaryRelease(d.dev)
		return nil, err
	}
	if err := d.loadKernels(o.ForceSoftware); err != nil {
		a.primaryRelease(d.dev)
		return nil, err
	}
	return d, nil
}

// TargetArch picks the NVRTC target for compute capability major.minor: the
// arch-specific "a" variant where one exists (sm_90a, sm_100a, sm_103a, sm_110a,
// sm_120a, sm_121a), plain sm_XX otherwise; a compute_XX PTX target for the newest
// supported arch when NVRTC does not know the device.
func TargetArch(c *Compiler, major, minor int) string {
	cc := major*10 + minor
	if c.Supports(cc) {
		major, _ := c.Version()
		switch cc {
		case 90, 100, 101, 103, 110, 120, 121:
			if major >= 12 { // the "a" targets arrived with NVRTC 12.0 (sm_90a) and 12.8 (Blackwell)
				return fmt.Sprintf("sm_%da", cc)
			}
		}
		return fmt.Sprintf("sm_%d", cc)
	}
	best := 0
	for _, a := range c.SupportedArchs() {
		if a <= cc && a > best {
			best = a
		}
	}
	if best == 0 {
		best = cc
	}
	return fmt.Sprintf("compute_%d", best)
}

// CompileOptions are the NVRTC flags every kernel build uses: IEEE division and
// square root, no flush to zero, no FMA contraction (the kernels spell every fused
// operation with __fmaf_rn), C++17.
var compileOptions = []string{"--fmad=false", "--ftz=false", "--prec-div=true", "--prec-sqrt=true", "--std=c++17"}

// CompileOptions returns the NVRTC flags used for the kernels (a copy).
func CompileOptions() []string { return append([]string(nil), compileOptions...) }

func (d *Device) loadKernels(forceSoftware bool) error {
	arch := TargetArch(d.nvrtc, d.info.Major, d.info.Minor)
	opts := CompileOptions()
	if forceSoftware {
		opts = append(opts, "-DFP4IDX_FORCE_SOFTWARE=1")
	}
	b, err := d.nvrtc.Compile("fp4indexer_kernels.cu", KernelSource(), arch, opts...)
	if err != nil {
		return err
	}
	d.build = b
	d.info.Arch = arch
	image := b.CUBIN
	if image == nil {
		image = append(append([]byte(nil), b.PTX...), 0)
	}
	if err := d.check("cuModuleLoadData", d.drv.moduleLoadData(&d.module, unsafe.Pointer(&image[0]))); err != nil {
		return fmt.Errorf("%v (image for %s)", err, arch)
	}
	runtime.KeepAlive(image)
	for _, k := range kernelNames {
		var fn uintptr
		nameC := cString(k)
		if err := d.check("cuModuleGetFunction "+k, d.drv.moduleGetFunc(&fn, d.module, &nameC[0])); err != nil {
			return err
		}
		d.funcs[k] = fn
	}
	probe, err := d.alloc(16)
	if err != nil {
		return err
	}
	defer d.free(probe)
	if err := d.launch("arch_probe", 1, 32, probe.ptr); err != nil {
		return err
	}
	out := make([]uint32, 4)
	if err := d.download(unsafe.Pointer(&out[0]), probe, 16); err != nil {
		return err
	}
	if out[3] != 0x600dc0de {
		return fmt.Errorf("cuda: arch_probe kernel did not run (got %#x)", out)
	}
	d.info.KernelArchTag = int(out[0])
	d.info.HardwareFP4 = out[1] != 0
	d.info.HardwareE4M3 = out[2] != 0
	return nil
}

// Info reports the card, driver, NVRTC and the kernels' target.
func (d *Device) Info() Info { return d.info }

// Build returns the NVRTC output the kernels were loaded from (PTX, CUBIN, log).
func (d *Device) Build() *Build { return d.build }

// Compiler is the NVRTC the device compiles with.
func (d *Device) Compiler() *Compiler { return d.nvrtc }

// Close unloads the kernels and releases the context. The Device is unusable after.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.drv.ctxSetCurrent(d.ctx)
	var errs []error
	for _, m := range d.userMods {
		errs = append(errs, d.check("cuModuleUnload", d.drv.moduleUnload(m)))
	}
	if d.module != 0 {
		errs = append(errs, d.check("cuModuleUnload", d.drv.moduleUnload(d.module)))
	}
	errs = append(errs, d.check("cuDevicePrimaryCtxRelease", d.drv.primaryRelease(d.dev)))
	return errors.Join(errs...)
}

func (d *Device) errString(r int32) string {
	var name, desc *byte
	if d.drv.getErrorName != nil {
		d.drv.getErrorName(r, &name)
	}
	if d.drv.getErrorString != nil {
		d.drv.getErrorString(r, &desc)
	}
	n, s := goString(name), goString(desc)
	switch {
	case n != "" && s != "":
		return fmt.Sprintf("%s (%d): %s", n, r, s)
	case n != "":
		return fmt.Sprintf("%s (%d)", n, r)
	}
	return fmt.Sprintf("CUresult %d", r)
}

func (d *Device) check(what string, r int32) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s", what, d.errString(r))
}

// enter makes the context current on a locked OS thread; the returned func undoes it.
func (d *Device) enter() (func(), error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("cuda: device is closed")
	}
	runtime.LockOSThread()
	if err := d.check("cuCtxSetCurrent", d.drv.ctxSetCurrent(d.ctx)); err != nil {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		return nil, err
	}
	return func() { runtime.UnlockOSThread(); d.mu.Unlock() }, nil
}

// devBuf is a device allocation.
type devBuf struct {
	ptr  uint64
	size uint64
}

func (d *Device) alloc(n uint64) (devBuf, error) {
	if n == 0 {
		n = 4 // a valid pointer even for empty tensors
	}
	var p uint64
	if err := d.check("cuMemAlloc", d.drv.memAlloc(&p, n)); err != nil {
		return devBuf{}, err
	}
	return devBuf{ptr: p, size: n}, nil
}

func (d *Device) free(b devBuf) {
	if b.ptr != 0 {
		d.drv.memFree(b.ptr)
	}
}

func (d *Device) upload(dst devBuf, src unsafe.Pointer, n uint64) error {
	if n == 0 {
		return nil
	}
	return d.check("cuMemcpyHtoD", d.drv.memcpyHtoD(dst.ptr, src, n))
}

func (d *Device) download(dst unsafe.Pointer, src devBuf, n uint64) error {
	if n == 0 {
		return nil
	}
	if err := d.check("cuCtxSynchronize", d.drv.ctxSynchronize()); err != nil {
		return err
	}
	return d.check("cuMemcpyDtoH", d.drv.memcpyDtoH(dst, src.ptr, n))
}

// launch runs kernel name on a 1-D grid; args are the kernel's parameters in order,
// each one of: uint64 (device pointers), int64, int32, uint32, float32.
func (d *Device) launch(name string, blocks, threads uint32, args ...any) error {
	fn, ok := d.funcs[name]
	if !ok {
		return fmt.Errorf("cuda: no kernel %q", name)
	}
	return d.launchFunc(fn, name, [3]uint32{blocks, 1, 1}, [3]uint32{threads, 1, 1}, 0, args...)
}

func (d *Device) launchFunc(fn uintptr, name string, grid, block [3]uint32, shmem uint32, args ...any) error {
	// One 8-byte slot per argument; the driver reads each parameter's size from the
	// kernel's signature, so a 4-byte value sits in the slot's low bytes (little-endian).
	storage := make([]uint64, len(args)+1)
	params := make([]unsafe.Pointer, len(args)+1)
	for i, a := range args {
		switch v := a.(type) {
		case uint64:
			storage[i] = v
		case int64:
			storage[i] = uint64(v)
		case int32:
			storage[i] = uint64(uint32(v))
		case uint32:
			storage[i] = uint64(v)
		case int:
			storage[i] = uint64(int64(v))
		case float32:
			storage[i] = uint64(math.Float32bits(v))
		case devBuf:
			storage[i] = v.ptr
		default:
			return fmt.Errorf("cuda: launch %s: argument %d has unsupported type %T", name, i, a)
		}
		params[i] = unsafe.Pointer(&storage[i])
	}
	var pp unsafe.Pointer
	if len(args) > 0 {
		pp = unsafe.Pointer(&params[0])
	}
	r := d.drv.launchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], shmem, 0, pp, nil)
	runtime.KeepAlive(storage)
	runtime.KeepAlive(params)
	if err := d.check("cuLaunchKernel "+name, r); err != nil {
		return err
	}
	return d.check("kernel "+name, d.drv.ctxSynchronize())
}
