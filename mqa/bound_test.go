package mqa

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/fp8"
)

// truncatingDevice computes logits the way a tensor core with a short,
// truncating accumulator might: products exact, the running sum truncated to
// `bits` fraction bits after every addition, the D products taken in reverse
// order; then the given epilogue.
func truncatingDevice(t *testing.T, in *Input, e Epilogue, bits int) []float32 {
	t.Helper()
	trunc := func(x float64) float64 {
		if x == 0 {
			return 0
		}
		_, exp := math.Frexp(x)
		ulp := math.Ldexp(1, exp-1-bits)
		return math.Trunc(x/ulp) * ulp
	}
	h, d, width := in.H, in.HeadDim(), in.MaxContextLen
	out := make([]float32, in.Rows()*width)
	q := make([]float32, h*d)
	k := make([]float32, d)
	a := make([]float32, h)
	for r := 0; r < in.Rows(); r++ {
		if in.Format() == FP4 {
			dequantFP4(q, in.QFP4[r*h*d/2:(r+1)*h*d/2], in.QSF[r*h:(r+1)*h], d)
		} else {
			for i, v := range in.QFP8[r*h*d : (r+1)*h*d] {
				q[i] = v.Float32()
			}
		}
		for j := 0; j < width; j++ {
			if j >= int(in.ContextLens[r]) {
				out[r*width+j] = float32(math.Inf(-1))
				continue
			}
			payload, scale, err := in.Key(r/in.NextN, j)
			if err != nil {
				t.Fatal(err)
			}
			sk := float32(1)
			if in.Format() == FP4 {
				dequantFP4(k, payload, []int32{int32(scaleWord(scale))}, d)
			} else {
				for i, b := range payload {
					k[i] = fp8.E4M3(b).Float32()
				}
				sk = fp8Scale(scale)
			}
			for hh := range a {
				var acc float64
				for i := d - 1; i >= 0; i-- {
					acc = trunc(acc + float64(q[hh*d+i])*float64(k[i]))
				}
				a[hh] = float32(acc)
			}
			v, err := e.Reduce(in.Format(), a, in.Weights[r*h:(r+1)*h], sk)
			if err != nil {
				t.Fatal(err)
			}
			out[r*width+j] = v
		}
	}
	return out
}

func TestBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(40, 40))
	for _, f := range []Format{FP4, FP8} {
		in := randomInput(t, rng, genSpec{f: f, b: 2, nextN: 2, h: 32, d: 128, pageSize: 16, maxCtx: 60, scaleLo: 100, scaleHi: 150})
		model, err := Logits(in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		bound, err := Bound(in, BoundOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Devices with an fp32 accumulator: the fp32-fma dot under every epilogue.
		eps := []Epilogue{SM100, Sequential}
		if f == FP8 {
			eps = append(eps, SM90)
		}
		for _, ep := range eps {
			dev, err := Logits(in, Options{Dot: FP32FMA, Epilogue: ep})
			if err != nil {
				t.Fatal(err)
			}
			if n, first, err := CountOutside(dev, model, bound); err != nil || n != 0 {
				t.Errorf("%v fp32-fma/%v: %d entries outside the bound (first %d), %v", f, ep, n, first, err)
			}
		}
		// A truncating 13-bit accumulator needs DotRoundoff 2^-13, and the
		// default (fp32) bound must be too tight for it somewhere.
		dev := truncatingDevice(t, in, SM100, 13)
		wide, err := Bound(in, BoundOptions{DotRoundoff: 0x1p-13})
		if err != nil {
			t.Fatal(err)
		}
		if n, first, _ := CountOutside(dev, model, wide); n != 0 {
			t.Errorf("%v truncating device: %d entries outside the 2^-13 bound (first %d: %g vs %g, bound %g)", f, n, first, dev[first], model[first], wide[first])
		}
		if n, _, _ := CountOutside(dev, model, bound); n == 0 {
			t.Errorf("%v: the fp32 bound accepts a 13-bit accumulator everywhere", f)
		}
		// Pushed past the bound, an entry fails.
		for i := range model {
			if !math.IsInf(float64(model[i]), 0) && bound[i] > 0 {
				moved := float32(float64(model[i]) + 3*bound[i])
				if WithinBound(moved, model[i], bound[i]) {
					t.Fatalf("%v: %g accepted against %g with bound %g", f, moved, model[i], bound[i])
				}
				break
			}
		}
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		got, want float32
		bound     float64
		ok        bool
	}{
		{nan, nan, 0, true}, {nan, 1, 10, false}, {1, nan, 10, false},
		{inf, inf, 0, true}, {inf, -inf, 0, false}, {inf, 1e38, math.Inf(1), false},
		{1, 1.5, 0.5, true}, {1, 1.5, 0.4, false}, {1, 1, math.NaN(), false},
	} {
		if got := WithinBound(c.got, c.want, c.bound); got != c.ok {
			t.Errorf("WithinBound(%g, %g, %g) = %v", c.got, c.want, c.bound, got)
		}
	}
	if _, _, err := CountOutside([]float32{1}, []float32{1, 2}, []float64{0}); err == nil {
		t.Error("CountOutside accepted mismatched lengths")
	}
	if _, err := Bound(&Input{}, BoundOptions{}); err == nil {
		t.Error("Bound accepted an empty input")
	}
}
