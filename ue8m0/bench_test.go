package ue8m0

import (
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

// benchRows is a batch of Gaussian rows, the typical post-Hadamard input.
func benchRows(n int) []float32 {
	r := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, n*RowSize)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// BenchmarkRow reports the 128-value row quantizer's cost per element and
// rows per second on one core.
func BenchmarkRow(b *testing.B) {
	const rows = 256
	x := benchRows(rows)
	dst := make([]byte, RowBytes)
	for _, q := range []Quantizer{
		{},
		{Scale: Triton},
		{Element: e2m1.Encoder{Mode: e2m1.RNE}},
		{Scale: OCPFloor, Element: e2m1.Encoder{Mode: e2m1.RNE}},
	} {
		b.Run(q.String(), func(b *testing.B) {
			b.SetBytes(rows * RowSize * 4)
			for b.Loop() {
				for i := range rows {
					if _, err := q.Row(dst, x[i*RowSize:(i+1)*RowSize]); err != nil {
						b.Fatal(err)
					}
				}
			}
			perRow := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / rows
			b.ReportMetric(perRow/RowSize, "ns/element")
			b.ReportMetric(1e9/perRow, "rows/s")
		})
	}
}

var scaleSink Scale

func BenchmarkFromAmax(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	amax := make([]float32, 1024)
	for i := range amax {
		amax[i] = float32(r.ExpFloat64())
	}
	for _, v := range Variants() {
		b.Run(v.String(), func(b *testing.B) {
			var acc Scale
			for b.Loop() {
				for _, a := range amax {
					acc ^= v.FromAmax(a)
				}
			}
			scaleSink = acc
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(amax)), "ns/amax")
		})
		b.Run("oracle-"+v.String(), func(b *testing.B) {
			var acc Scale
			for b.Loop() {
				for _, a := range amax {
					acc ^= OracleFromAmax(v, a)
				}
			}
			scaleSink = acc
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(amax)), "ns/amax")
		})
	}
}
