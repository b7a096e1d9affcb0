package mqa

import (
	"encoding/binary"
	"math"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// Decode tables for the hot loops. They are built once, at package
// initialisation, from the format packages' own decoders (so they cannot drift
// from them) and are read-only afterwards.
var (
	// e2m1Value[c] is the value of code c (low nibble), −0 for 0x8.
	e2m1Value = func() (t [16]float32) {
		for c := range t {
			t[c] = e2m1.Code(c).Float32()
		}
		return t
	}()
	// e2m1Twice[c] is 2·value(c), an integer in [−12, 12]: E2M1 values are
	// multiples of 1/2, so (2q)(2k) products and their sums are exact integers.
	e2m1Twice = func() (t [16]int8) {
		for c := range t {
			t[c] = int8(2 * e2m1Value[c])
		}
		return t
	}()
	// e2m1PairTwice[b] is 2·value of both elements of a packed byte: element
	// 2i (low nibble) first.
	e2m1PairTwice = func() (t [256][2]int8) {
		for b := range t {
			t[b] = [2]int8{e2m1Twice[b&0xF], e2m1Twice[b>>4]}
		}
		return t
	}()
	// ue8m0Value[e] is the scale 2^(e−127) as fp32 (2^−127 is subnormal, 0xFF
	// is NaN).
	ue8m0Value = func() (t [256]float32) {
		for e := range t {
			t[e] = ue8m0.Scale(e).Float32()
		}
		return t
	}()
	// e4m3Value[b] is the value of the E4M3 byte b (exact in fp32 and float64).
	e4m3Value = func() (t [256]float32) {
		for b := range t {
			t[b] = fp8.E4M3(b).Float32()
		}
		return t
	}()
	e4m3Value64 = func() (t [256]float64) {
		for b := range t {
			t[b] = float64(e4m3Value[b])
		}
		return t
	}()
)

// nanScale is the UE8M0 byte that encodes NaN.
const nanScale = 0xFF

// canonicalNaN is the NaN every NVIDIA fp32 operation returns; the model
// returns it for every NaN logit and NaN dot product so that results compare by
// bits on every platform (Go keeps NaN payloads and the x86 default NaN is
// negative).
const canonicalNaN = 0x7FFFFFFF

func canonical(x float32) float32 {
	if x != x {
		return math.Float32frombits(canonicalNaN)
	}
	return x
}

// scaleWord is the little-endian int32 of four UE8M0 bytes (byte g = group g).
func scaleWord(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

// fp8Scale is the little-endian fp32 per-token scale of the FP8 cache.
func fp8Scale(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// pow2 returns 2^e as a float64 for e in the normal range [−1022, 1023].
func pow2(e int) float64 { return math.Float64frombits(uint64(e+1023) << 52) }
