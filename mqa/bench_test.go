package mqa

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchKeys is the context of the benchmarked query row.
const benchKeys = 32768

func benchLogits(b *testing.B, f Format, o Options, keys int) {
	rng := rand.New(rand.NewPCG(1, 2))
	in := randomInput(b, rng, genSpec{f: f, b: 1, nextN: 1, h: 64, d: 128, pageSize: 64,
		ctx: []int32{int32(keys)}, maxCtx: keys})
	dst := make([]float32, keys)
	b.ResetTimer()
	for range b.N {
		if err := LogitsInto(dst, in, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(keys)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(keys)/float64(b.N), "ns/key")
}

// BenchmarkLogitsFP4Exact scores one query row (B = 1, next_n = 1, H = 64,
// D = 128) against 32,768 keys with the default options (Exact, sm100).
func BenchmarkLogitsFP4Exact(b *testing.B) {
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLogits(b, FP4, Options{Workers: w}, benchKeys)
		})
	}
}

func BenchmarkLogitsFP4FMA(b *testing.B) {
	benchLogits(b, FP4, Options{Dot: FP32FMA, Workers: 1}, 2048)
}

func BenchmarkLogitsFP8Exact(b *testing.B) {
	for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLogits(b, FP8, Options{Workers: w}, benchKeys)
		})
	}
}

func BenchmarkLogitsFP8SM90(b *testing.B) {
	benchLogits(b, FP8, Options{Epilogue: SM90, Workers: 1}, benchKeys)
}
