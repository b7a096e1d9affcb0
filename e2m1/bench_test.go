package e2m1

import (
	"math"
	"math/rand/v2"
	"testing"
)

// benchInput is a mix of in-range values, ties and arbitrary bit patterns.
func benchInput() []float32 {
	return randomFloats(rand.New(rand.NewPCG(9, 10)), 4096)
}

func reportPerElement(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/element")
}

var sink Code

func BenchmarkEncode(b *testing.B) {
	x := benchInput()
	for _, e := range []Encoder{encThreshold, encRNE} {
		b.Run(e.String(), func(b *testing.B) {
			var acc Code
			for b.Loop() {
				for _, v := range x {
					acc ^= e.Encode(v)
				}
			}
			sink = acc
			reportPerElement(b, len(x))
		})
	}
}

func BenchmarkPackScaled(b *testing.B) {
	x := benchInput()
	dst := make([]byte, len(x)/2)
	for _, e := range []Encoder{encThreshold, encRNE} {
		b.Run(e.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				_ = e.PackScaled(dst, x, 0.5)
			}
			reportPerElement(b, len(x))
		})
	}
}

func BenchmarkOracleEncode(b *testing.B) {
	x := benchInput()
	for _, e := range []Encoder{encThreshold, encRNE} {
		b.Run(e.String(), func(b *testing.B) {
			var acc Code
			for b.Loop() {
				for _, v := range x {
					acc ^= OracleEncode(v, e)
				}
			}
			sink = acc
			reportPerElement(b, len(x))
		})
	}
}

// BenchmarkSweep measures one core's cost per float32 pattern of the
// exhaustive sweep's body (Encode, OracleEncode, compare) on patterns strided
// through the whole bit space, so the mix of magnitudes matches the full
// sweep. All 2^32 patterns of one mode take about ns/pattern · 2^32 / cores.
func BenchmarkSweep(b *testing.B) {
	for _, e := range []Encoder{encThreshold, encRNE} {
		b.Run(e.String(), func(b *testing.B) {
			const n = 1 << 16
			for b.Loop() {
				bad := 0
				for i := range uint64(n) {
					v := math.Float32frombits(uint32(i * (1<<32/n + 1))) // odd stride: every exponent and sign
					if e.Encode(v) != OracleEncode(v, e) {
						bad++
					}
				}
				if bad != 0 {
					b.Fatal(bad, "mismatches")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/pattern")
		})
	}
}
