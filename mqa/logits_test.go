package mqa

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// slowLogits recomputes the logits pair by pair through the public DotFP4 /
// DotFP8 and Epilogue.Reduce, with the page lookup written out from SPEC §6.
func slowLogits(t *testing.T, in *Input, o Options) []float32 {
	t.Helper()
	rows, width, h := in.Rows(), in.MaxContextLen, in.H
	d := in.HeadDim()
	p := in.Cache.Layout.PageSize
	out := make([]float32, rows*width)
	a := make([]float32, h)
	for r := 0; r < rows; r++ {
		b := r / in.NextN
		for j := 0; j < width; j++ {
			if j >= int(in.ContextLens[r]) {
				out[r*width+j] = float32(math.Inf(-1))
				continue
			}
			page := int(in.BlockTable[b*in.MaxBlocks+j/p])
			payload, scale := in.Cache.Token(page, j%p)
			sk := float32(1)
			for hh := 0; hh < h; hh++ {
				var err error
				if in.Format() == FP4 {
					i := r*h + hh
					ksf := uint32(scale[0]) | uint32(scale[1])<<8 | uint32(scale[2])<<16 | uint32(scale[3])<<24
					a[hh], err = DotFP4(in.QFP4[i*d/2:(i+1)*d/2], uint32(in.QSF[i]), payload, ksf, o.Dot)
				} else {
					i := r*h + hh
					k := make([]fp8.E4M3, d)
					for n := range k {
						k[n] = fp8.E4M3(payload[n])
					}
					a[hh], err = DotFP8(in.QFP8[i*d:(i+1)*d], k, o.Dot)
					sk = math.Float32frombits(uint32(scale[0]) | uint32(scale[1])<<8 | uint32(scale[2])<<16 | uint32(scale[3])<<24)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			v, err := o.Epilogue.Reduce(in.Format(), a, in.Weights[r*h:(r+1)*h], sk)
			if err != nil {
				t.Fatal(err)
			}
			out[r*width+j] = v
		}
	}
	return out
}

func compareBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: logit %d = %#08x (%g), want %#08x (%g)", name, i, math.Float32bits(got[i]), got[i], math.Float32bits(want[i]), want[i])
		}
	}
}

// TestLogitsMatchesPairs checks the batched kernels (the packed exact FP4
// kernel above all) against the pair-by-pair path, for every H and D, every
// option, several scale regimes (the float64 and the math/big combine, NaN
// scales), several page sizes and MTP rows.
func TestLogitsMatchesPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, f := range []Format{FP4, FP8} {
		ds := []int{64, 128}
		if f == FP8 {
			ds = []int{32, 64, 128}
		}
		for _, d := range ds {
			for _, h := range []int{8, 16, 32, 64} {
				for _, dot := range []Dot{Exact, FP32FMA} {
					for _, ep := range []Epilogue{SM100, Sequential, SM90} {
						if ep == SM90 && (f == FP4 || h < 32) {
							continue
						}
						lo, hi := 110, 140
						switch rng.IntN(3) {
						case 0:
							lo, hi = 0, 254 // wide spreads
						case 1:
							lo, hi = 100, 255 // some NaN scales
						}
						s := genSpec{f: f, b: 2, nextN: 2, h: h, d: d, pageSize: []int{1, 16, 64}[rng.IntN(3)],
							maxCtx: 40, scaleLo: lo, scaleHi: hi}
						if dot == FP32FMA {
							s.maxCtx = 12
						}
						in := randomInput(t, rng, s)
						o := Options{Dot: dot, Epilogue: ep}
						got, err := Logits(in, o)
						if err != nil {
							t.Fatal(err)
						}
						compareBits(t, fmt.Sprintf("%v D=%d H=%d %v/%v P=%d", f, d, h, dot, ep, s.pageSize), got, slowLogits(t, in, o))
					}
				}
			}
		}
	}
}

// TestLogitsFP4ExactOracle compares whole logits of the default options with
// the math/big dot oracle followed by the math/big sm100 epilogue.
func TestLogitsFP4ExactOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, s := range []genSpec{
		{f: FP4, b: 2, nextN: 1, h: 64, d: 128, pageSize: 64, ctx: []int32{70, 33}, maxCtx: 70, scaleLo: 90, scaleHi: 170},
		{f: FP4, b: 1, nextN: 2, h: 64, d: 128, pageSize: 8, ctx: []int32{12, 9}, maxCtx: 12, scaleLo: 0, scaleHi: 254},
		{f: FP4, b: 1, nextN: 1, h: 16, d: 64, pageSize: 4, ctx: []int32{25}, maxCtx: 25, scaleLo: 0, scaleHi: 254},
	} {
		in := randomInput(t, rng, s)
		got, err := Logits(in, Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := in.HeadDim()
		a := make([]float32, in.H)
		for r := 0; r < in.Rows(); r++ {
			for j := 0; j < int(in.ContextLens[r]); j++ {
				payload, scale, _ := in.Key(r/in.NextN, j)
				ksf := uint32(scale[0]) | uint32(scale[1])<<8 | uint32(scale[2])<<16 | uint32(scale[3])<<24
				for h := range a {
					i := r*in.H + h
					x, _ := oracleDotFP4(in.QFP4[i*d/2:(i+1)*d/2], uint32(in.QSF[i]), payload, ksf)
					a[h] = round32(x)
					if err := checkRounded(x, a[h]); err != nil {
						t.Fatal(err)
					}
				}
				// The math/big epilogue handles finite chains only; with wide
				// scales a dot product can overflow, and then the epilogue
				// (tested on its own) is applied to the oracle's dot products.
				w := in.Weights[r*in.H : (r+1)*in.H]
				want, _ := SM100.Reduce(FP4, a, w, 1)
				if finiteChains(a, w) {
					want = oracleSM100(false, a, w, 1)
				}
				if g := got[r*in.MaxContextLen+j]; math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("H=%d D=%d row %d key %d: %#08x, oracle %#08x", in.H, d, r, j, math.Float32bits(g), math.Float32bits(want))
				}
			}
		}
	}
}

// finiteChains reports whether every doubled relu, product and partial sum of
// the sm100 epilogue stays far inside the fp32 range.
func finiteChains(a, w []float32) bool {
	var s float64
	for h := range a {
		if math.Abs(float64(a[h])) > 1e37 {
			return false
		}
		s += math.Abs(float64(a[h]) * float64(w[h]))
	}
	return !math.IsNaN(s) && s < 1e37
}

func TestLogitsMasking(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	ctx := []int32{0, 1, 63, 64, 65, 128, 7, 100}
	in := randomInput(t, rng, genSpec{f: FP4, b: 4, nextN: 2, h: 8, d: 128, pageSize: 64, ctx: ctx, maxCtx: 130})
	got, err := Logits(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for r, c := range ctx {
		for j := 0; j < in.MaxContextLen; j++ {
			v := got[r*in.MaxContextLen+j]
			masked := math.Float32bits(v) == 0xFF800000
			if (j >= int(c)) != masked {
				t.Fatalf("row %d (context %d) column %d = %g", r, c, j, v)
			}
		}
	}
	// The valid part does not depend on what is stored past the context:
	// scribble over every page not referenced by a valid key.
	used := map[int32]bool{}
	for r, c := range ctx {
		b := r / in.NextN
		for j := 0; j < int(c); j += in.Cache.Layout.PageSize {
			used[in.BlockTable[b*in.MaxBlocks+j/in.Cache.Layout.PageSize]] = true
		}
	}
	for pg := 0; pg < in.Cache.Pages; pg++ {
		if !used[int32(pg)] {
			data, _ := in.Cache.Page(pg)
			for i := range data {
				data[i] = 0xFF
			}
		}
	}
	again, err := Logits(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	compareBits(t, "after scribbling unused pages", again, got)
}

func TestLogitsWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, f := range []Format{FP4, FP8} {
		in := randomInput(t, rng, genSpec{f: f, b: 2, nextN: 2, h: 64, d: 128, pageSize: 64,
			ctx: []int32{3000, 2500, 1, 2049}, maxCtx: 3000})
		one, err := Logits(in, Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{0, 2, 3, 8} {
			got, err := Logits(in, Options{Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			compareBits(t, fmt.Sprintf("%v workers=%d", f, w), got, one)
		}
		dst := make([]float32, len(one))
		if err := LogitsInto(dst, in, Options{Workers: 5}); err != nil {
			t.Fatal(err)
		}
		compareBits(t, "LogitsInto", dst, one)
	}
}

// TestLogitsNaN: a NaN scale byte in the cache or the query, or a NaN weight.
func TestLogitsNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	in := randomInput(t, rng, genSpec{f: FP4, b: 1, nextN: 1, h: 32, d: 128, pageSize: 16, ctx: []int32{20}, maxCtx: 20})
	_, scale, _ := in.Key(0, 3)
	scale[2] = 0xFF
	for _, c := range []struct {
		e    Epilogue
		want func(v float32) bool
	}{
		{SM100, func(v float32) bool { return math.Float32bits(v) == canonicalNaN }},
		{Sequential, func(v float32) bool { return math.Float32bits(v) == canonicalNaN }},
	} {
		got, err := Logits(in, Options{Epilogue: c.e})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 20; j++ {
			if isNaN := got[j] != got[j]; isNaN != (j == 3) {
				t.Errorf("%v: key %d = %g", c.e, j, got[j])
			}
		}
		if !c.want(got[3]) {
			t.Errorf("%v: key 3 = %#08x", c.e, math.Float32bits(got[3]))
		}
	}
	in.Weights[5] = float32(math.NaN())
	got, _ := Logits(in, Options{})
	for j := 0; j < 20; j++ {
		if math.Float32bits(got[j]) != canonicalNaN {
			t.Errorf("NaN weight: key %d = %#08x", j, math.Float32bits(got[j]))
		}
	}
	// FP8, sm90: a NaN element makes the head's dot NaN, which fmaxf drops.
	in8 := randomInput(t, rng, genSpec{f: FP8, b: 1, nextN: 1, h: 32, d: 128, pageSize: 16, ctx: []int32{20}, maxCtx: 20})
	payload, _, _ := in8.Key(0, 4)
	payload[7] = 0x7F
	got, _ = Logits(in8, Options{Epilogue: SM90})
	for j := 0; j < 20; j++ {
		if got[j] != got[j] {
			t.Errorf("sm90: key %d is NaN", j)
		}
	}
	got, _ = Logits(in8, Options{Epilogue: SM100})
	if math.Float32bits(got[4]) != canonicalNaN {
		t.Errorf("sm100 FP8 NaN element: %#08x", math.Float32bits(got[4]))
	}
}

func TestInputErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	base := func() *Input {
		return randomInput(t, rng, genSpec{f: FP4, b: 2, nextN: 2, h: 8, d: 128, pageSize: 16, maxCtx: 40})
	}
	cases := []struct {
		arg    string
		mutate func(in *Input, o *Options)
	}{
		{"B", func(in *Input, o *Options) { in.B = -1 }},
		{"NextN", func(in *Input, o *Options) { in.NextN = 0 }},
		{"H", func(in *Input, o *Options) { in.H = 12 }},
		{"H", func(in *Input, o *Options) { in.H = 128 }},
		{"Cache", func(in *Input, o *Options) { in.Cache = nil }},
		{"Cache", func(in *Input, o *Options) {
			l, _ := pagedcache.Custom(16, 48, 4, pagedcache.PayloadsThenScales) // D = 96
			in.Cache, _ = pagedcache.NewCache(l, 200)
		}},
		{"Cache", func(in *Input, o *Options) {
			l, _ := pagedcache.Custom(16, 64, 8, pagedcache.PayloadsThenScales)
			in.Cache, _ = pagedcache.NewCache(l, 200)
		}},
		{"Cache", func(in *Input, o *Options) {
			in.Cache = &pagedcache.Cache{Layout: in.Cache.Layout, Pages: 3, Data: make([]byte, 10)}
		}},
		{"QFP4", func(in *Input, o *Options) { in.QFP4 = in.QFP4[1:] }},
		{"QSF", func(in *Input, o *Options) { in.QSF = in.QSF[1:] }},
		{"QFP8", func(in *Input, o *Options) { in.QFP8 = make([]fp8.E4M3, 4) }},
		{"Weights", func(in *Input, o *Options) { in.Weights = in.Weights[1:] }},
		{"ContextLens", func(in *Input, o *Options) { in.ContextLens = in.ContextLens[1:] }},
		{"ContextLens", func(in *Input, o *Options) { in.ContextLens[2] = -1 }},
		{"ContextLens", func(in *Input, o *Options) { in.ContextLens[1] = int32(in.MaxContextLen + 1) }},
		{"ContextLens", func(in *Input, o *Options) { in.MaxContextLen = 1000; in.ContextLens[3] = 999 }},
		{"BlockTable", func(in *Input, o *Options) { in.BlockTable = in.BlockTable[1:] }},
		{"BlockTable", func(in *Input, o *Options) { in.ContextLens[0] = 1; in.BlockTable[0] = int32(in.Cache.Pages) }},
		{"BlockTable", func(in *Input, o *Options) { in.ContextLens[0] = 17; in.BlockTable[1] = -3 }},
		{"MaxBlocks", func(in *Input, o *Options) { in.MaxBlocks = -1 }},
		{"MaxContextLen", func(in *Input, o *Options) { in.MaxContextLen = -1 }},
		{"Options.Epilogue", func(in *Input, o *Options) { o.Epilogue = SM90 }},
		{"Options.Epilogue", func(in *Input, o *Options) { o.Epilogue = 9 }},
		{"Options.Dot", func(in *Input, o *Options) { o.Dot = 9 }},
		{"Options.Workers", func(in *Input, o *Options) { o.Workers = -2 }},
	}
	for i, c := range cases {
		in, o := base(), Options{}
		c.mutate(in, &o)
		_, err := Logits(in, o)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Arg != c.arg {
			t.Errorf("case %d: error %v, want one naming %s", i, err, c.arg)
		}
	}
	// An entry past the last needed page is not read and not checked.
	in := base()
	for i := range in.ContextLens {
		in.ContextLens[i] = 5
	}
	in.BlockTable[1], in.BlockTable[in.MaxBlocks+2] = -1, 1<<30
	if _, err := Logits(in, Options{}); err != nil {
		t.Errorf("padding entries past the context were checked: %v", err)
	}
	// sm90 with FP8 and H = 16.
	in8 := randomInput(t, rng, genSpec{f: FP8, b: 1, nextN: 1, h: 16, d: 128, pageSize: 16, maxCtx: 4})
	var ie *InputError
	if _, err := Logits(in8, Options{Epilogue: SM90}); !errors.As(err, &ie) || ie.Arg != "H" {
		t.Errorf("sm90 H=16: %v", err)
	}
	if err := LogitsInto(make([]float32, 3), in8, Options{}); !errors.As(err, &ie) || ie.Arg != "dst" {
		t.Errorf("short dst: %v", err)
	}
	if _, err := Logits(nil, Options{}); err == nil {
		t.Error("nil input accepted")
	}
	// Both query formats at once.
	in = base()
	in.QFP8 = make([]fp8.E4M3, 1)
	if _, err := Logits(in, Options{}); !errors.As(err, &ie) || ie.Arg != "QFP8" {
		t.Errorf("both formats: %v", err)
	}
}

func TestKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	in := randomInput(t, rng, genSpec{f: FP4, b: 2, nextN: 1, h: 8, d: 128, pageSize: 16, maxCtx: 40})
	p := 16
	for b := 0; b < 2; b++ {
		for j := 0; j < 40; j++ {
			payload, scale, err := in.Key(b, j)
			if err != nil {
				t.Fatal(err)
			}
			page := int(in.BlockTable[b*in.MaxBlocks+j/p])
			pb := in.Cache.Layout.PageBytes()
			// SPEC §5 offsets, written out.
			wantPayload := in.Cache.Data[page*pb+64*(j%p) : page*pb+64*(j%p)+64]
			wantScale := in.Cache.Data[page*pb+64*p+4*(j%p) : page*pb+64*p+4*(j%p)+4]
			if &payload[0] != &wantPayload[0] || &scale[0] != &wantScale[0] {
				t.Fatalf("Key(%d, %d) is not page %d slot %d", b, j, page, j%p)
			}
		}
	}
	if _, _, err := in.Key(2, 0); err == nil {
		t.Error("Key accepted b = B")
	}
	if _, _, err := in.Key(0, in.MaxBlocks*p); err == nil {
		t.Error("Key accepted j past the block table")
	}
	in.BlockTable[0] = 99
	if _, _, err := in.Key(0, 0); err == nil {
		t.Error("Key accepted a page outside the cache")
	}
}
