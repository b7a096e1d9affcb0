package rmsnorm

import (
	_ "embed"
	"math"
)

// rsqrtSM90 is the measured correction table of rsqrtf on sm_90 (NVIDIA H100,
// driver 580.159.04, NVRTC 13.0, non-FTZ), produced by
//
//	go run ./cuda/cmd/cudaprobe -table rmsnorm/rsqrt_sm90.bin -summary rsqrt_sm90.json
//
// on an H100: every positive finite float32 was compared with the correctly
// rounded 1/√x, and the error proved to depend only on the exponent's parity and
// the 23 fraction bits (0 exceptions over all 2^31 − 2^23 normal inputs).
// SHA-256 f7a5a5b00a25a34a08f72620d8015fea11d0a4eab569b4f3f574a12e27fe2f7f
// (TestDeviceTableDigest). See cuda/README.md for the sweep.
//
//go:embed rsqrt_sm90.bin
var rsqrtSM90 []byte

// DeviceSM90 returns the rsqrtf of an NVIDIA sm_90 GPU (H100, H200) as the fused
// K kernel calls it: with it the K v2 model needs no injected norm factors.
// The table is read-only embedded data; the returned value shares it.
func DeviceSM90() *Table { return &Table{packed: rsqrtSM90, device: true} }

// deviceSpecials returns what MUFU.RSQ's non-FTZ lowering gives for inputs the
// table does not cover, and whether x was one of them. Measured on the H100:
// ±0 → ±Inf, +Inf → +0, NaN and every negative input → 0x7FFFFFFF, and a
// subnormal x is scaled by 2^24 before the instruction and its result by 2^12.
func (t *Table) deviceSpecials(x float32) (float32, bool) {
	b := math.Float32bits(x)
	switch {
	case b == 0:
		return float32(math.Inf(1)), true
	case b == 1<<31:
		return float32(math.Inf(-1)), true
	case x != x || b>>31 == 1:
		return math.Float32frombits(0x7FFFFFFF), true
	case b == 0x7F800000:
		return 0, true
	case b < 1<<23: // positive subnormal: both scalings are exact powers of two
		return float32(t.Rsqrt(float32(x*(1<<24))) * (1 << 12)), true
	}
	return 0, false
}
