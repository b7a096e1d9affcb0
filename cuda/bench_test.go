package cuda

import (
	"math/rand/v2"
	"testing"
)

// End-to-end calls (upload, kernel, download) on a GPU; they skip elsewhere.

func BenchmarkQFP4(b *testing.B) {
	d := benchDevice(b)
	in := randomQ(rand.New(rand.NewPCG(1, 2)), 512, 64) // 32768 rows
	b.SetBytes(int64(len(in.Q) * 2))
	for b.Loop() {
		if _, _, _, err := d.QFP4(in, QOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(in.B*in.H), "ns/row")
}

func BenchmarkKV2FP4(b *testing.B) {
	d := benchDevice(b)
	in, pages := randomK(rand.New(rand.NewPCG(3, 4)), 32768, 64)
	cache := make([]byte, pages*64*68)
	b.SetBytes(int64(len(in.KV) * 4))
	for b.Loop() {
		if _, err := d.KV2FP4(in, KOptions{}, cache); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(in.N), "ns/row")
}

func benchDevice(b *testing.B) *Device {
	devOnce.Do(func() { device, devErr = Open() })
	if devErr != nil {
		b.Skipf("no NVIDIA GPU: %v", devErr)
	}
	return device
}
