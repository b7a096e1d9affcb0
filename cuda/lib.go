package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Environment variables that name a library file explicitly (tried first).
const (
	EnvLibCUDA  = "FP4INDEXER_LIBCUDA"
	EnvLibNVRTC = "FP4INDEXER_LIBNVRTC"
)

// ErrNoDriver wraps every error that says the CUDA driver (libcuda.so.1) or a GPU is
// missing; ErrNoNVRTC every error that says NVRTC is missing. Tests skip on either.
var (
	ErrNoDriver = errors.New("cuda: no NVIDIA driver or GPU")
	ErrNoNVRTC  = errors.New("cuda: no NVRTC library")
)

// loadLibrary tries each candidate with dlopen and returns the first that loads,
// or an error listing every attempt.
func loadLibrary(candidates []string) (handle uintptr, path string, err error) {
	var tried []string
	seen := map[string]bool{}
	for _, c := range candidates {
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		if strings.ContainsRune(c, '/') {
			if _, statErr := os.Stat(c); statErr != nil {
				continue
			}
		}
		h, e := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if e == nil {
			return h, c, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", c, e))
	}
	if len(tried) == 0 {
		return 0, "", fmt.Errorf("none of %d candidate paths exists", len(seen))
	}
	return 0, "", fmt.Errorf("tried %s", strings.Join(tried, "; "))
}

// driverCandidates: an explicit path, the loader's search (LD_LIBRARY_PATH, the
// ld.so cache), then the usual driver folders of Linux distributions and containers.
func driverCandidates(explicit string) []string {
	c := []string{explicit, os.Getenv(EnvLibCUDA), "libcuda.so.1"}
	for _, dir := range []string{
		"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/nvidia/lib64",
		"/usr/local/nvidia/lib", "/usr/lib/wsl/lib", "/usr/lib/aarch64-linux-gnu",
	} {
		c = append(c, filepath.Join(dir, "libcuda.so.1"))
	}
	return append(c, "libcuda.so")
}

var nvrtcNames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}

// nvrtcCandidates: an explicit path, CUDA_HOME / CUDA_PATH, /usr/local/cuda*, the
// Python wheels (nvidia-cuda-nvrtc: nvidia/cuda_nvrtc/lib or nvidia/cu13/lib), then
// the loader's own search.
func nvrtcCandidates(explicit string) []string {
	c := []string{explicit, os.Getenv(EnvLibNVRTC)}
	var dirs []string
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"} {
		if v := os.Getenv(env); v != "" {
			dirs = append(dirs, filepath.Join(v, "lib64"), filepath.Join(v, "lib"))
		}
	}
	dirs = append(dirs, "/usr/local/cuda/lib64")
	versioned, _ := filepath.Glob("/usr/local/cuda-*/lib64")
	sort.Sort(sort.Reverse(sort.StringSlice(versioned)))
	dirs = append(dirs, versioned...)
	var sites []string
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		sites = append(sites, filepath.Join(v, "lib", "python3*", "site-packages"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		sites = append(sites, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
	}
	sites = append(sites, "/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3*/dist-packages", "/usr/lib/python3/dist-packages", "/opt/*/.venv/lib/python3*/site-packages",
		"/opt/conda/lib/python3*/site-packages")
	for _, s := range sites {
		for _, sub := range []string{"nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib", "nvidia/cu12/lib"} {
			m, _ := filepath.Glob(filepath.Join(s, sub))
			sort.Sort(sort.Reverse(sort.StringSlice(m)))
			dirs = append(dirs, m...)
		}
	}
	for _, d := range dirs {
		for _, n := range nvrtcNames {
			c = append(c, filepath.Join(d, n))
		}
	}
	return append(c, nvrtcNames...)
}

// bind resolves each symbol of lib and registers it into the matching function
// pointer; a missing symbol is an error, not a panic.
func bind(lib uintptr, libName string, fns map[string]any) error {
	for name, fptr := range fns {
		sym, err := purego.Dlsym(lib, name)
		if err != nil || sym == 0 {
			return fmt.Errorf("%s has no symbol %s", libName, name)
		}
		purego.RegisterFunc(fptr, sym)
	}
	return nil
}

// cString returns a NUL-terminated copy of s; keep the slice alive across the call.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// goString reads a NUL-terminated C string (nil gives "").
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
