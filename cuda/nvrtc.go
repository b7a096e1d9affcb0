package cuda

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"unsafe"
)

// nvrtcAPI holds the NVRTC entry points, bound at run time.
type nvrtcAPI struct {
	version          func(major, minor *int32) int32
	getErrorString   func(res int32) *byte
	createProgram    func(prog *uintptr, src *byte, name *byte, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	compileProgram   func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	getProgramLogSz  func(prog uintptr, size *uint64) int32
	getProgramLog    func(prog uintptr, log *byte) int32
	getPTXSize       func(prog uintptr, size *uint64) int32
	getPTX           func(prog uintptr, ptx *byte) int32
	getCUBINSize     func(prog uintptr, size *uint64) int32
	getCUBIN         func(prog uintptr, cubin *byte) int32
	destroyProgram   func(prog *uintptr) int32
	numSupportedArch func(n *int32) int32
	supportedArchs   func(archs *int32) int32
}

// Compiler is a loaded NVRTC. It needs no GPU: it can build PTX and CUBIN for any
// architecture its version knows (the sm_100a build check uses that).
type Compiler struct {
	api     nvrtcAPI
	path    string
	version [2]int
	archs   []int
}

// OpenCompiler loads NVRTC from path, or searches for it when path is empty
// (FP4INDEXER_LIBNVRTC, CUDA_HOME/CUDA_PATH, /usr/local/cuda*, the nvidia-cuda-nvrtc
// Python wheel, the loader path). The error wraps ErrNoNVRTC and lists what was tried.
func OpenCompiler(path string) (*Compiler, error) {
	h, found, err := loadLibrary(nvrtcCandidates(path))
	if err != nil {
		return nil, fmt.Errorf("%w: libnvrtc.so.13/.12/.11.2 not found (set CUDA_HOME or %s): %v", ErrNoNVRTC, EnvLibNVRTC, err)
	}
	c := &Compiler{path: found}
	a := &c.api
	if err := bind(h, found, map[string]any{
		"nvrtcVersion":           &a.version,
		"nvrtcGetErrorString":    &a.getErrorString,
		"nvrtcCreateProgram":     &a.createProgram,
		"nvrtcCompileProgram":    &a.compileProgram,
		"nvrtcGetProgramLogSize": &a.getProgramLogSz,
		"nvrtcGetProgramLog":     &a.getProgramLog,
		"nvrtcGetPTXSize":        &a.getPTXSize,
		"nvrtcGetPTX":            &a.getPTX,
		"nvrtcDestroyProgram":    &a.destroyProgram,
	}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoNVRTC, err)
	}
	// Optional entry points: CUBIN output (NVRTC >= 11.1) and the arch list (>= 11.2).
	_ = bind(h, found, map[string]any{"nvrtcGetCUBINSize": &a.getCUBINSize, "nvrtcGetCUBIN": &a.getCUBIN})
	_ = bind(h, found, map[string]any{"nvrtcGetNumSupportedArchs": &a.numSupportedArch, "nvrtcGetSupportedArchs": &a.supportedArchs})
	var major, minor int32
	if r := a.version(&major, &minor); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcVersion: %s", c.errString(r))
	}
	c.version = [2]int{int(major), int(minor)}
	if a.numSupportedArch != nil && a.supportedArchs != nil {
		var n int32
		if a.numSupportedArch(&n) == 0 && n > 0 && n < 1024 {
			archs := make([]int32, n)
			if a.supportedArchs(&archs[0]) == 0 {
				for _, v := range archs {
					c.archs = append(c.archs, int(v))
				}
				sort.Ints(c.archs)
			}
		}
	}
	return c, nil
}

// Path is the library file that was loaded.
func (c *Compiler) Path() string { return c.path }

// Version is NVRTC's (major, minor).
func (c *Compiler) Version() (major, minor int) { return c.version[0], c.version[1] }

// SupportedArchs lists the compute capabilities (major*10+minor) this NVRTC can
// target, ascending; nil when the library cannot tell.
func (c *Compiler) SupportedArchs() []int { return append([]int(nil), c.archs...) }

// Supports reports whether NVRTC lists the compute capability cc (major*10+minor).
// With no list (NVRTC < 11.2) it answers true and lets the compile decide.
func (c *Compiler) Supports(cc int) bool {
	if c.archs == nil {
		return true
	}
	for _, a := range c.archs {
		if a == cc {
			return true
		}
	}
	return false
}

func (c *Compiler) errString(r int32) string {
	if c.api.getErrorString != nil {
		if s := goString(c.api.getErrorString(r)); s != "" {
			return fmt.Sprintf("%s (%d)", s, r)
		}
	}
	return fmt.Sprintf("nvrtcResult %d", r)
}

// Build is the output of one NVRTC compile.
type Build struct {
	Arch    string // the --gpu-architecture value
	Options []string
	PTX     []byte // always present (NUL-free text)
	CUBIN   []byte // present when Arch is a real sm_XX target and NVRTC can emit it
	Log     string // compiler messages (warnings too)
}

// Compile compiles one CUDA C translation unit for arch ("sm_90a", "compute_90",
// "sm_100a", ...) with the given extra options. An error carries the compile log.
func (c *Compiler) Compile(name, src, arch string, options ...string) (*Build, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	srcC, nameC := cString(src), cString(name)
	var prog uintptr
	if r := c.api.createProgram(&prog, &srcC[0], &nameC[0], 0, nil, nil); r != 0 {
		return nil, fmt.Errorf("cuda: nvrtcCreateProgram: %s", c.errString(r))
	}
	defer c.api.destroyProgram(&prog)
	opts := append([]string{"--gpu-architecture=" + arch}, options...)
	held := make([][]byte, len(opts))
	ptrs := make([]*byte, len(opts))
	for i, o := range opts {
		held[i] = cString(o)
		ptrs[i] = &held[i][0]
	}
	r := c.api.compileProgram(prog, int32(len(ptrs)), unsafe.Pointer(&ptrs[0]))
	runtime.KeepAlive(held)
	runtime.KeepAlive(ptrs)
	b := &Build{Arch: arch, Options: opts, Log: c.programLog(prog)}
	if r != 0 {
		return b, fmt.Errorf("cuda: NVRTC %d.%d could not compile %s for %s: %s\n%s", c.version[0], c.version[1], name, arch, c.errString(r), b.Log)
	}
	var n uint64
	if r := c.api.getPTXSize(prog, &n); r != 0 {
		return b, fmt.Errorf("cuda: nvrtcGetPTXSize: %s", c.errString(r))
	}
	if n > 0 {
		ptx := make([]byte, n)
		if r := c.api.getPTX(prog, &ptx[0]); r != 0 {
			return b, fmt.Errorf("cuda: nvrtcGetPTX: %s", c.errString(r))
		}
		b.PTX = []byte(strings.TrimRight(string(ptx), "\x00"))
	}
	if strings.HasPrefix(arch, "sm_") && c.api.getCUBINSize != nil {
		var m uint64
		if c.api.getCUBINSize(prog, &m) == 0 && m > 0 {
			cubin := make([]byte, m)
			if c.api.getCUBIN(prog, &cubin[0]) == 0 {
				b.CUBIN = cubin
			}
		}
	}
	return b, nil
}

func (c *Compiler) programLog(prog uintptr) string {
	var n uint64
	if c.api.getProgramLogSz(prog, &n) != 0 || n <= 1 {
		return ""
	}
	buf := make([]byte, n)
	if c.api.getProgramLog(prog, &buf[0]) != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00\n")
}
