package fuzz

import (
	"fmt"
	"math"
	"testing"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// quantModel is the block quantizer under test: Group picks the scale and
// encodes, GroupForced encodes under a given scale byte.
type quantModel struct {
	group  func(q ue8m0.Quantizer, dst []byte, x []float32) (ue8m0.Scale, error)
	forced func(q ue8m0.Quantizer, dst []byte, x []float32, s ue8m0.Scale) error
}

var modelQuant = quantModel{
	group:  ue8m0.Quantizer.Group,
	forced: ue8m0.Quantizer.GroupForced,
}

// oracleAmax is the group maximum of SPEC §3 in float64: max |x| with NaN
// ignored by cuda (fmaxf) and triton (max.f32), 0 for a group of NaNs; the
// other variants take a NaN maximum when any element is NaN.
func oracleAmax(v ue8m0.Variant, x []float32) float32 {
	m, nan := 0.0, false
	for _, e := range x {
		a := math.Abs(float64(e))
		if math.IsNaN(a) {
			nan = true
			continue
		}
		m = math.Max(m, a)
	}
	if nan && v != ue8m0.CUDA && v != ue8m0.Triton {
		return float32(math.NaN())
	}
	return float32(m)
}

// canonicalNaN is the NaN every GPU operation creates (SPEC §7).
const canonicalNaN = 0x7FFFFFFF

// oracleScaled is the value element x takes under scale byte s in variant v,
// from SPEC §3's literal formulas evaluated in float64: triton x / f with f the
// float of bits s<<23 (s = 0: +0, s = 255: +Inf), cuda x · g with g the float
// of bits int32(254−s)<<23 (s = 254: +0, s = 255: −Inf), the others x divided by
// the decoded scale (NaN for 255). The float64 quotient or product by a power
// of two is exact and float32() rounds it once. A NaN x propagates (quietened,
// sign kept); a NaN the operation creates is the canonical GPU NaN.
func oracleScaled(v ue8m0.Variant, x float32, s ue8m0.Scale) float32 {
	xf := float64(x)
	var r float64
	switch v {
	case ue8m0.Triton:
		var f float64
		switch s {
		case 0:
			f = 0
		case 255:
			f = math.Inf(1)
		default:
			f = math.Ldexp(1, int(s)-127)
		}
		r = xf / f
	case ue8m0.CUDA:
		var g float64
		switch s {
		case 254:
			g = 0
		case 255:
			g = math.Inf(-1)
		default:
			g = math.Ldexp(1, 127-int(s))
		}
		r = xf * g
	default:
		if s == 255 {
			r = math.NaN()
		} else {
			r = xf / math.Ldexp(1, int(s)-127)
		}
	}
	if math.IsNaN(r) {
		if math.IsNaN(xf) {
			return f32(bitsOf(x) | 0x00400000)
		}
		return f32(canonicalNaN)
	}
	return float32(r)
}

// oracleGroup returns the packed codes SPEC §2–§3 give to x under scale s.
func oracleGroup(q ue8m0.Quantizer, x []float32, s ue8m0.Scale) []byte {
	out := make([]byte, len(x)/2)
	for i := range out {
		lo := e2m1.OracleEncode(oracleScaled(q.Scale, x[2*i], s), q.Element)
		hi := e2m1.OracleEncode(oracleScaled(q.Scale, x[2*i+1], s), q.Element)
		out[i] = lo.Bits() | hi.Bits()<<4
	}
	return out
}

func quantizers() []ue8m0.Quantizer {
	var qs []ue8m0.Quantizer
	for _, v := range ue8m0.Variants() {
		for _, e := range e2m1Encoders {
			qs = append(qs, ue8m0.Quantizer{Scale: v, Element: e})
		}
	}
	return qs
}

// checkQuantizer checks one group x and one forced scale byte through every
// variant × element encoder.
func checkQuantizer(m quantModel, forced ue8m0.Scale, x []float32) error {
	type result struct {
		s     ue8m0.Scale
		codes []byte
	}
	got := make(map[ue8m0.Quantizer]result)
	for _, q := range quantizers() {
		dst := make([]byte, ue8m0.GroupBytes)
		s, err := m.group(q, dst, x)
		if err != nil {
			return fmt.Errorf("%v: Group: %v", q, err)
		}
		amax := oracleAmax(q.Scale, x)
		if want := ue8m0.OracleFromAmax(q.Scale, amax); s != want {
			return fmt.Errorf("%v: Group scale %d, oracle %d (amax %s)", q, s, want, desc(amax))
		}
		if want := oracleGroup(q, x, s); string(dst) != string(want) {
			return fmt.Errorf("%v: Group under scale %d: % X, oracle % X", q, s, dst, want)
		}
		got[q] = result{s, dst}
		fdst := make([]byte, ue8m0.GroupBytes)
		if err := m.forced(q, fdst, x, forced); err != nil {
			return fmt.Errorf("%v: GroupForced: %v", q, err)
		}
		if want := oracleGroup(q, x, forced); string(fdst) != string(want) {
			return fmt.Errorf("%v: GroupForced(scale %d): % X, oracle % X", q, forced, fdst, want)
		}
	}
	// SPEC §3: cuda and triton scales agree exactly when amax > 6·2^−14 (the
	// NaN-ignoring maximum, finite), and then so do their codes.
	amax := oracleAmax(ue8m0.CUDA, x)
	for _, e := range e2m1Encoders {
		c := got[ue8m0.Quantizer{Scale: ue8m0.CUDA, Element: e}]
		t := got[ue8m0.Quantizer{Scale: ue8m0.Triton, Element: e}]
		agree, want := c.s == t.s, amax > variantsAgreeAbove && !math.IsInf(float64(amax), 1)
		if agree != want {
			return fmt.Errorf("%v: amax %s: cuda scale %d, triton %d: agree = %t, SPEC §3 says %t", e, desc(amax), c.s, t.s, agree, want)
		}
		if agree && string(c.codes) != string(t.codes) {
			return fmt.Errorf("%v: cuda and triton agree on scale %d but not on codes: % X vs % X", e, c.s, c.codes, t.codes)
		}
	}
	// SPEC §2: under one scale, threshold and rne codes differ exactly on the
	// elements whose scaled value is in the SPEC's set.
	for _, v := range ue8m0.Variants() {
		th := got[ue8m0.Quantizer{Scale: v, Element: thresholdEnc}]
		for _, e := range e2m1RNEPolicies {
			r := got[ue8m0.Quantizer{Scale: v, Element: e}]
			if r.s != th.s {
				return fmt.Errorf("%v: the scale depends on the element mode: threshold %d, %v %d", v, th.s, e, r.s)
			}
			for i, xi := range x {
				a, b := th.codes[i/2]>>(4*(i%2))&0xF, r.codes[i/2]>>(4*(i%2))&0xF
				sv := oracleScaled(v, xi, th.s)
				if differ, want := a != b, modesDiffer(sv, e.NaN); differ != want {
					return fmt.Errorf("%v scale %d element %d %s (scaled %s): threshold 0x%X, %v 0x%X: differ = %t, SPEC §2 says %t",
						v, th.s, i, desc(xi), desc(sv), a, e, b, differ, want)
				}
			}
		}
	}
	return nil
}

// quantInput splits a fuzz input into the forced scale byte (first byte) and a
// group of 32 float32 (the rest, zero-padded).
func quantInput(data []byte) (ue8m0.Scale, []float32) {
	if len(data) == 0 {
		return 0, make([]float32, ue8m0.GroupSize)
	}
	return ue8m0.Scale(data[0]), fixedWords(data[1:], ue8m0.GroupSize)
}

// FuzzQuantizer reads a forced scale byte and a group of 32 float32 (SPEC §2, §3).
func FuzzQuantizer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, x := quantInput(data)
		if err := checkQuantizer(modelQuant, s, x); err != nil {
			t.Fatal(err)
		}
	})
}
