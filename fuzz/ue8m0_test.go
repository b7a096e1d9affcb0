package fuzz

import (
	"fmt"
	"math"
	"testing"

	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// ue8m0Model is the function under test: the scale byte variant v gives a
// group whose maximum is amax.
type ue8m0Model func(v ue8m0.Variant, amax float32) ue8m0.Scale

func modelUE8M0(v ue8m0.Variant, amax float32) ue8m0.Scale { return v.FromAmax(amax) }

// variantsAgreeAbove is 6·2^−14, the amax above which SPEC §3 says the cuda
// and triton rules agree.
const variantsAgreeAbove float32 = 6 * 0x1p-14

// checkUE8M0 compares m with ue8m0.OracleFromAmax for every variant, checks
// SPEC §3's statement that cuda and triton agree exactly when
// 6·2^−14 < amax < +Inf (negative, NaN and ±Inf inputs included: they floor or
// clamp differently), and that every variant's byte never decreases from amax
// to the next float32 up (non-negative amax).
func checkUE8M0(m ue8m0Model, amax float32) error {
	for _, v := range ue8m0.Variants() {
		if got, want := m(v, amax), ue8m0.OracleFromAmax(v, amax); got != want {
			return fmt.Errorf("%v: amax %s: model %d, oracle %d", v, desc(amax), got, want)
		}
	}
	cuda, triton := m(ue8m0.CUDA, amax), m(ue8m0.Triton, amax)
	agree, want := cuda == triton, amax > variantsAgreeAbove && !math.IsInf(float64(amax), 1)
	if agree != want {
		return fmt.Errorf("amax %s: cuda %d, triton %d: agree = %t, SPEC §3 says %t", desc(amax), cuda, triton, agree, want)
	}
	if amax >= 0 && !math.IsInf(float64(amax), 1) {
		next := nextUp(amax)
		for _, v := range ue8m0.Variants() {
			if a, b := m(v, amax), m(v, next); b < a {
				return fmt.Errorf("%v: not monotone: amax %s gives %d, the next float32 %s gives %d", v, desc(amax), a, desc(next), b)
			}
		}
	}
	return nil
}

func checkUE8M0Input(m ue8m0Model, data []byte) error {
	for _, amax := range words(data) {
		if err := checkUE8M0(m, amax); err != nil {
			return err
		}
	}
	return nil
}

// checkScaleDecode checks Scale.Float32 for every byte of the input against
// SPEC §3: 2^(e−127), with e = 0 the subnormal 2^−127 and 0xFF a NaN.
func checkScaleDecode(data []byte) error {
	for _, b := range data {
		s := ue8m0.Scale(b)
		got := float64(s.Float32())
		switch {
		case b == 0xFF:
			if !math.IsNaN(got) || !s.IsNaN() {
				return fmt.Errorf("Scale(0xFF) = %g, IsNaN %t: want NaN", got, s.IsNaN())
			}
		case got != math.Ldexp(1, int(b)-127) || s.IsNaN():
			return fmt.Errorf("Scale(%d) = %g, IsNaN %t: want 2^%d", b, got, s.IsNaN(), int(b)-127)
		}
	}
	return nil
}

// FuzzUE8M0 reads the input as float32 group maxima (SPEC §3).
func FuzzUE8M0(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkUE8M0Input(modelUE8M0, data); err != nil {
			t.Fatal(err)
		}
		if err := checkScaleDecode(data); err != nil {
			t.Fatal(err)
		}
	})
}
