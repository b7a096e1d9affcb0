//go:build amd64 && !purego

package hadamard

// useAVX is fixed at package initialisation from CPUID: AVX in the CPU and YMM
// state enabled by the operating system (OSXSAVE and XCR0 bits 1 and 2).
var useAVX = detectAVX()

func detectAVX() bool {
	_, _, ecx, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx&osxsave == 0 || ecx&avx == 0 {
		return false
	}
	xcr0, _ := xgetbv()
	return xcr0&6 == 6
}

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

//go:noescape
func xgetbv() (eax, edx uint32)

// transform128AVX is the 128-point transform on YMM registers: the in-register
// stages 1, 2, 4 by permute, add, subtract and blend, stages 8, 16, 32 across the
// eight registers of each half, then stage 64. Same butterflies, same operands,
// same roundings as transform128Go (VADDPS/VSUBPS round each lane once, RNE,
// with MXCSR at Go's default: no flush-to-zero, no denormals-are-zero).
//
//go:noescape
func transform128AVX(x *[128]float32)

// rotate128AVX is transform128AVX followed by fl(y·scale) on every element.
//
//go:noescape
func rotate128AVX(x *[128]float32, scale float32)
