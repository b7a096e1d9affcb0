package fuzz

import (
	"math"
	"slices"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/hadamard"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/rope"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// A mutant is a deliberately broken model: the check a target runs, with the
// model swapped. Every mutant must fail on at least one seed of its target's
// corpus on disk; the real model must pass them all.
type mutant struct {
	name  string
	check func(data []byte) error
	// by lists seeds that must each catch the mutant on their own.
	by []string
}

// e2m1Tie reports whether |v| is one of SPEC §2's thresholds.
func e2m1Tie(v float32) bool {
	switch math.Abs(float64(v)) {
	case 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5:
		return true
	}
	return false
}

// bump moves a code one magnitude up, away from zero, keeping v's sign.
func bump(c e2m1.Code, v float32) e2m1.Code {
	idx := min(c.Index()+1, 7)
	if math.Signbit(float64(v)) {
		return e2m1.Code(idx) | e2m1.SignMask
	}
	return e2m1.Code(idx)
}

func by(m mutant, seeds ...string) mutant {
	m.by = seeds
	return m
}

func e2m1Mutants() []mutant {
	m := func(name string, f e2m1Model) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkE2M1Input(f, data) }}
	}
	isRNE := func(e e2m1.Encoder) bool { return e.Mode == e2m1.RNE }
	return []mutant{
		by(m("threshold ties round up", func(e e2m1.Encoder, v float32) e2m1.Code {
			c := e.Encode(v)
			if !isRNE(e) && e2m1Tie(v) {
				return bump(c, v)
			}
			return c
		}), "tie-0.25", "tie-0.75", "tie-1.25", "tie-1.75", "tie-2.5", "tie-3.5", "tie-5"),
		by(m("rne ties away from zero", func(e e2m1.Encoder, v float32) e2m1.Code {
			c := e.Encode(v)
			switch math.Abs(float64(v)) {
			case 0.25, 1.25, 2.5, 5: // the ties whose even neighbour is the smaller one
				if isRNE(e) {
					return bump(c, v)
				}
			}
			return c
		}), "tie-0.25", "tie-1.25", "tie-2.5", "tie-5"),
		m("threshold keeps the sign of −0", func(e e2m1.Encoder, v float32) e2m1.Code {
			if !isRNE(e) && bitsOf(v) == 0x80000000 {
				return e2m1.SignMask
			}
			return e.Encode(v)
		}),
		m("threshold keeps the sign of tiny negatives", func(e e2m1.Encoder, v float32) e2m1.Code {
			c := e.Encode(v)
			if !isRNE(e) && v < 0 && c == 0 {
				return e2m1.SignMask
			}
			return c
		}),
		m("rne drops the sign of negative zero results", func(e e2m1.Encoder, v float32) e2m1.Code {
			c := e.Encode(v)
			if isRNE(e) && v == v && c == e2m1.SignMask {
				return 0
			}
			return c
		}),
		m("threshold NaN gives 0", func(e e2m1.Encoder, v float32) e2m1.Code {
			if !isRNE(e) && v != v {
				return 0
			}
			return e.Encode(v)
		}),
		m("rne ignores the NaN policy", func(e e2m1.Encoder, v float32) e2m1.Code {
			if isRNE(e) && v != v {
				return 7
			}
			return e.Encode(v)
		}),
		m("infinity not saturated", func(e e2m1.Encoder, v float32) e2m1.Code {
			if math.IsInf(float64(v), 0) {
				return e.Encode(v) & e2m1.SignMask
			}
			return e.Encode(v)
		}),
		m("finite overflow not saturated", func(e e2m1.Encoder, v float32) e2m1.Code {
			if a := math.Abs(float64(v)); a > 6 && !math.IsInf(a, 0) {
				return e.Encode(v) & e2m1.SignMask
			}
			return e.Encode(v)
		}),
		m("sign dropped", func(e e2m1.Encoder, v float32) e2m1.Code {
			return e.Encode(v) &^ e2m1.SignMask
		}),
		m("last threshold inclusive (5 rounds to 6)", func(e e2m1.Encoder, v float32) e2m1.Code {
			if math.Abs(float64(v)) == 5 {
				return bump(e.Encode(v), v)
			}
			return e.Encode(v)
		}),
	}
}

func ue8m0Mutants() []mutant {
	m := func(name string, f ue8m0Model) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkUE8M0Input(f, data) }}
	}
	const floor float32 = 1e-4
	clamp := func(e uint32) ue8m0.Scale { return ue8m0.Scale(min(max(e, 1), 254)) }
	return []mutant{
		m("cuda floors after the divide", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			if v == ue8m0.CUDA {
				raw := a / 6
				if !(raw >= floor) {
					raw = floor
				}
				return ue8m0.Scale(uint8(ue8m0.CeilExp(raw)))
			}
			return v.FromAmax(a)
		}),
		m("triton floors before the divide", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			if v == ue8m0.Triton {
				m := a
				if !(m >= floor) {
					m = floor
				}
				return clamp(ue8m0.CeilExp(m / 6))
			}
			return v.FromAmax(a)
		}),
		m("triton without the clamp", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			if v == ue8m0.Triton && math.IsInf(float64(a), 1) {
				return 255
			}
			return v.FromAmax(a)
		}),
		m("cuda clamps +Inf to 254", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			return min(v.FromAmax(a), 254)
		}),
		m("ceil_exp rounds exact powers of two up", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			s := v.FromAmax(a)
			if (v == ue8m0.CUDA || v == ue8m0.Triton) && a > 1e-3 && a < 1e30 && bitsOf(a/6)&0x7FFFFF == 0 {
				return s + 1
			}
			return s
		}),
		m("cuda does not ignore NaN", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			if v == ue8m0.CUDA && a != a {
				return 255
			}
			return v.FromAmax(a)
		}),
		m("ocp-floor takes the ceiling", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			s := v.FromAmax(a)
			if v == ue8m0.OCPFloor && s < 254 && bitsOf(a)&0x7FFFFF != 0 {
				return s + 1
			}
			return s
		}),
		m("rp and rz swapped", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			switch v {
			case ue8m0.HardwareRP:
				return ue8m0.HardwareRZ.FromAmax(a)
			case ue8m0.HardwareRZ:
				return ue8m0.HardwareRP.FromAmax(a)
			}
			return v.FromAmax(a)
		}),
		m("ocp-floor NaN gives 0", func(v ue8m0.Variant, a float32) ue8m0.Scale {
			if v == ue8m0.OCPFloor && a != a {
				return 0
			}
			return v.FromAmax(a)
		}),
	}
}

func quantMutants() []mutant {
	m := func(name string, q quantModel) mutant {
		return mutant{name: name, check: func(data []byte) error {
			s, x := quantInput(data)
			return checkQuantizer(q, s, x)
		}}
	}
	// forcedAs runs GroupForced of another variant for (variant, scale byte).
	forcedAs := func(from ue8m0.Variant, s ue8m0.Scale, to ue8m0.Variant) quantModel {
		return quantModel{group: ue8m0.Quantizer.Group, forced: func(q ue8m0.Quantizer, dst []byte, x []float32, f ue8m0.Scale) error {
			if q.Scale == from && f == s {
				q.Scale = to
			}
			return q.GroupForced(dst, x, f)
		}}
	}
	return []mutant{
		m("cuda scale 254 multiplies by 2^-127, not +0", forcedAs(ue8m0.CUDA, 254, ue8m0.OCPFloor)),
		m("triton scale 0 divides by 2^-127, not +0", forcedAs(ue8m0.Triton, 0, ue8m0.OCPFloor)),
		m("cuda scale 255 is a NaN scale, not −Inf", forcedAs(ue8m0.CUDA, 255, ue8m0.OCPFloor)),
		m("ocp-floor ignores NaN elements", quantModel{forced: ue8m0.Quantizer.GroupForced,
			group: func(q ue8m0.Quantizer, dst []byte, x []float32) (ue8m0.Scale, error) {
				if q.Scale != ue8m0.OCPFloor {
					return q.Group(dst, x)
				}
				clean := slices.Clone(x)
				for i, v := range clean {
					if v != v {
						clean[i] = 0
					}
				}
				s := q.Scale.FromAmax(ue8m0.CUDA.Amax(clean))
				return s, q.GroupForced(dst, x, s)
			}}),
		m("group maximum skips the last element", quantModel{forced: ue8m0.Quantizer.GroupForced,
			group: func(q ue8m0.Quantizer, dst []byte, x []float32) (ue8m0.Scale, error) {
				s := q.Scale.FromAmax(q.Scale.Amax(x[:len(x)-1]))
				return s, q.GroupForced(dst, x, s)
			}}),
		m("threshold groups encoded with rne", quantModel{forced: ue8m0.Quantizer.GroupForced,
			group: func(q ue8m0.Quantizer, dst []byte, x []float32) (ue8m0.Scale, error) {
				if q.Element.Mode == e2m1.Threshold {
					q.Element = rneMaxEnc
				}
				return q.Group(dst, x)
			}}),
	}
}

func bf16Mutants() []mutant {
	m := func(name string, f bf16Model) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkBF16Input(f, data) }}
	}
	isNaN := func(u uint32) bool { return u&0x7FFFFFFF > 0x7F800000 }
	return []mutant{
		m("ties away from zero", func(v float32) bf16.BF16 {
			if u := bitsOf(v); !isNaN(u) {
				return bf16.BF16((u + 0x8000) >> 16)
			}
			return bf16.NaN
		}),
		m("truncation", func(v float32) bf16.BF16 { return bf16.BF16(bitsOf(v) >> 16) }),
		m("NaN keeps its payload", func(v float32) bf16.BF16 {
			if u := bitsOf(v); isNaN(u) {
				return bf16.BF16(u>>16 | 0x0040)
			}
			return bf16.Fromfloat32(v)
		}),
		m("overflow saturates", func(v float32) bf16.BF16 {
			b := bf16.Fromfloat32(v)
			if b.IsInf(0) && !math.IsInf(float64(v), 0) {
				return b - 1
			}
			return b
		}),
		m("subnormals flush to zero", func(v float32) bf16.BF16 {
			if u := bitsOf(v); u&0x7F800000 == 0 {
				return bf16.BF16(u >> 16 & 0x8000)
			}
			return bf16.Fromfloat32(v)
		}),
	}
}

func e4m3Mutants() []mutant {
	m := func(name string, f e4m3Model) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkE4M3Input(f, data) }}
	}
	return []mutant{
		m("464 rounds up and overflows", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if math.Abs(float64(v)) == 464 {
				return fp8.Encode(v*1.01, o)
			}
			return fp8.Encode(v, o)
		}),
		m("satfinite NaN keeps its sign", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if v != v && o == fp8.SatFinite {
				return fp8.E4M3(bitsOf(v)>>24&0x80) | fp8.NaN
			}
			return fp8.Encode(v, o)
		}),
		m("satfinite turns Inf into NaN", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if math.IsInf(float64(v), 0) {
				return fp8.Encode(v, fp8.NaNOnOverflow)
			}
			return fp8.Encode(v, o)
		}),
		m("nan-on-overflow saturates", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if v == v {
				return fp8.Encode(v, fp8.SatFinite)
			}
			return fp8.Encode(v, o)
		}),
		m("subnormal ties round up", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if a := math.Abs(float64(v)); a < 0x1p-6 && a > 0 && math.Mod(a, 0x1p-9) == 0x1p-10 {
				return fp8.Encode(v*1.0001, o)
			}
			return fp8.Encode(v, o)
		}),
		m("negative zero results lose the sign", func(v float32, o fp8.Overflow) fp8.E4M3 {
			if c := fp8.Encode(v, o); c == 0x80 {
				return 0
			}
			return fp8.Encode(v, o)
		}),
	}
}

func hadamardMutants() []mutant {
	m := func(name string, f hadamardModel) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkHadamardInput(f, data) }}
	}
	return []mutant{
		m("difference taken upper minus lower", func(x []float32) error {
			for h := 1; h < len(x); h <<= 1 {
				for i := range x {
					if i&h == 0 {
						x[i], x[i+h] = x[i]+x[i+h], x[i+h]-x[i]
					}
				}
			}
			return nil
		}),
		m("last stage missing", func(x []float32) error {
			if len(x) < 2 {
				return hadamard.Transform(x)
			}
			if err := hadamard.Transform(x[:len(x)/2]); err != nil {
				return err
			}
			return hadamard.Transform(x[len(x)/2:])
		}),
	}
}

func ropeMutants() []mutant {
	m := func(name string, f ropeModel) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkRoPEInput(f, data) }}
	}
	return []mutant{
		m("sine sign flipped", func(x []float32, t rope.Table, pos int, o rope.Options) error {
			row := slices.Clone(t.Data)
			for k := 1; k < len(row); k += 2 {
				row[k] = -row[k]
			}
			return rope.Apply(x, rope.Table{Dim: t.Dim, Data: row}, pos, o)
		}),
		m("layouts swapped", func(x []float32, t rope.Table, pos int, o rope.Options) error {
			o.Layout = 1 - o.Layout
			return rope.Apply(x, t, pos, o)
		}),
	}
}

func logitMutants() []mutant {
	m := func(name string, f logitsModel) mutant {
		return mutant{name: name, check: func(data []byte) error { return checkLogits(f, logitInput(data)) }}
	}
	return []mutant{
		m("scale words read big-endian", func(in *mqa.Input, o mqa.Options) ([]float32, error) {
			c := *in
			c.QSF = slices.Clone(in.QSF)
			for i, w := range c.QSF {
				u := uint32(w)
				c.QSF[i] = int32(u>>24 | u>>8&0xFF00 | u<<8&0xFF0000 | u<<24)
			}
			return mqa.Logits(&c, o)
		}),
		m("block table ignored", func(in *mqa.Input, o mqa.Options) ([]float32, error) {
			c := *in
			c.BlockTable = make([]int32, len(in.BlockTable))
			for i := range c.BlockTable {
				c.BlockTable[i] = int32(i)
			}
			return mqa.Logits(&c, o)
		}),
		m("masked columns are 0", func(in *mqa.Input, o mqa.Options) ([]float32, error) {
			out, err := mqa.Logits(in, o)
			for i, v := range out {
				if math.IsInf(float64(v), -1) && i >= int(in.ContextLens[0]) {
					out[i] = 0
				}
			}
			return out, err
		}),
		m("weights ignored (all 1)", func(in *mqa.Input, o mqa.Options) ([]float32, error) {
			c := *in
			c.Weights = make([]float32, len(in.Weights))
			for i := range c.Weights {
				c.Weights[i] = 1
			}
			return mqa.Logits(&c, o)
		}),
	}
}

// TestMutantsAreCaught replays each target's seed corpus (the files on disk)
// against the real model, which must pass every seed, and against each mutant,
// which must fail on at least one.
func TestMutantsAreCaught(t *testing.T) {
	targets := []struct {
		target  string
		real    func([]byte) error
		mutants []mutant
	}{
		{"FuzzE2M1", func(d []byte) error { return checkE2M1Input(modelE2M1, d) }, e2m1Mutants()},
		{"FuzzUE8M0", func(d []byte) error { return checkUE8M0Input(modelUE8M0, d) }, ue8m0Mutants()},
		{"FuzzQuantizer", func(d []byte) error { s, x := quantInput(d); return checkQuantizer(modelQuant, s, x) }, quantMutants()},
		{"FuzzBF16", func(d []byte) error { return checkBF16Input(modelBF16, d) }, bf16Mutants()},
		{"FuzzE4M3", func(d []byte) error { return checkE4M3Input(modelE4M3, d) }, e4m3Mutants()},
		{"FuzzHadamard", func(d []byte) error { return checkHadamardInput(hadamard.Transform, d) }, hadamardMutants()},
		{"FuzzRoPE", func(d []byte) error { return checkRoPEInput(rope.Apply, d) }, ropeMutants()},
		{"FuzzLogits", func(d []byte) error { return checkLogits(mqa.Logits, logitInput(d)) }, logitMutants()},
	}
	for _, tg := range targets {
		t.Run(tg.target, func(t *testing.T) {
			names, corpus, err := readCorpus(tg.target)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == 0 {
				t.Fatal("empty seed corpus")
			}
			for _, n := range names {
				if err := tg.real(corpus[n]); err != nil {
					t.Fatalf("the real model fails seed %s: %v", n, err)
				}
			}
			for _, mu := range tg.mutants {
				killed := ""
				for _, n := range names {
					if err := mu.check(corpus[n]); err != nil {
						killed = n + ": " + err.Error()
						break
					}
				}
				if killed == "" {
					t.Errorf("mutant %q passes every seed of %s", mu.name, tg.target)
					continue
				}
				t.Logf("mutant %q caught by %s", mu.name, killed)
				for _, n := range mu.by {
					data, ok := corpus[n]
					if !ok {
						t.Errorf("mutant %q: seed %s is missing", mu.name, n)
					} else if mu.check(data) == nil {
						t.Errorf("mutant %q passes seed %s, which must catch it", mu.name, n)
					}
				}
			}
		})
	}
}
