package fuzz

import (
	"fmt"
	"math"
	"testing"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

// e2m1Model is the function under test: the code of v under encoder e. The
// fuzz target passes the package's Encode; TestMutantsAreCaught passes broken
// versions of it.
type e2m1Model func(e e2m1.Encoder, v float32) e2m1.Code

func modelE2M1(e e2m1.Encoder, v float32) e2m1.Code { return e.Encode(v) }

var (
	thresholdEnc    = e2m1.Encoder{}
	rneMaxEnc       = e2m1.Encoder{Mode: e2m1.RNE, NaN: e2m1.NaNMax}
	rneSignedZero   = e2m1.Encoder{Mode: e2m1.RNE, NaN: e2m1.NaNSignedZero}
	rneZeroEnc      = e2m1.Encoder{Mode: e2m1.RNE, NaN: e2m1.NaNZero}
	e2m1Encoders    = []e2m1.Encoder{thresholdEnc, rneMaxEnc, rneSignedZero, rneZeroEnc}
	e2m1RNEPolicies = []e2m1.Encoder{rneMaxEnc, rneSignedZero, rneZeroEnc}
)

// modesDiffer is SPEC §2's list of the inputs on which threshold and rne (NaN
// policy p) give different codes, written from the SPEC text: the ties ±0.75,
// ±1.75, ±3.5; negative values that round to zero, −0 included (|v| ≤ 0.25
// with the sign bit set: 0.25 is a tie that both modes send to zero); NaN
// unless the RNE NaN policy also gives 0x7.
func modesDiffer(v float32, p e2m1.NaNPolicy) bool {
	x := float64(v)
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return p != e2m1.NaNMax
	case a == 0.75 || a == 1.75 || a == 3.5:
		return true
	case math.Signbit(x) && a <= 0.25:
		return true
	}
	return false
}

// checkE2M1 compares enc with e2m1.OracleEncode on v for every encoder, and
// checks that threshold and each rne policy differ exactly where SPEC §2 says.
func checkE2M1(enc e2m1Model, v float32) error {
	for _, e := range e2m1Encoders {
		if got, want := enc(e, v), e2m1.OracleEncode(v, e); got != want {
			return fmt.Errorf("%v: %s: model %v, oracle %v", e, desc(v), got, want)
		}
	}
	th := enc(thresholdEnc, v)
	for _, e := range e2m1RNEPolicies {
		r := enc(e, v)
		if differ, want := th != r, modesDiffer(v, e.NaN); differ != want {
			return fmt.Errorf("%s: threshold %v, %v %v: the modes differ = %t, SPEC §2 says %t", desc(v), th, e, r, differ, want)
		}
	}
	return nil
}

// checkE2M1Row checks the package's slice and packing paths on a whole input
// against the per-value oracle: Fromfloat32, EncodeSlice, Pack, Unpack,
// Float32 and the PackScaled kernel (with f = 1, and with a power of two that
// undoes an exact scaling by 8).
func checkE2M1Row(x []float32) error {
	for _, v := range x {
		if got, want := e2m1.Fromfloat32(v), e2m1.OracleEncode(v, thresholdEnc); got != want {
			return fmt.Errorf("Fromfloat32(%s) = %v, oracle %v", desc(v), got, want)
		}
	}
	even := x[:len(x)&^1]
	for _, e := range e2m1Encoders {
		codes := make([]e2m1.Code, len(even))
		if err := e.EncodeSlice(codes, even); err != nil {
			return err
		}
		want := make([]byte, len(even)/2)
		for i := range want {
			lo, hi := e2m1.OracleEncode(even[2*i], e), e2m1.OracleEncode(even[2*i+1], e)
			want[i] = lo.Bits() | hi.Bits()<<4 // even element in the low nibble (SPEC §2)
		}
		packed := make([]byte, len(want))
		if err := e2m1.Pack(packed, codes); err != nil {
			return err
		}
		if string(packed) != string(want) {
			return fmt.Errorf("%v: EncodeSlice+Pack % X, oracle % X", e, packed, want)
		}
		scaled := make([]byte, len(want))
		if err := e.PackScaled(scaled, even, 1); err != nil {
			return err
		}
		if string(scaled) != string(want) {
			return fmt.Errorf("%v: PackScaled(f = 1) % X, oracle % X", e, scaled, want)
		}
		// f = 2^−3 on 8·x: (8·v)/8 is v exactly, except that |v| ≥ 2^125
		// overflows to ±Inf, whose code (±6) is that of every such v.
		up := make([]float32, len(even))
		for i, v := range even {
			up[i] = float32(v * 8)
		}
		if err := e.PackScaled(scaled, up, 0.125); err != nil {
			return err
		}
		if string(scaled) != string(want) {
			return fmt.Errorf("%v: PackScaled(8·x, 1/8) % X, oracle % X", e, scaled, want)
		}
		back := make([]e2m1.Code, len(codes))
		if err := e2m1.Unpack(back, packed); err != nil {
			return err
		}
		for i := range codes {
			if back[i] != codes[i] {
				return fmt.Errorf("%v: Unpack(Pack) element %d: %v, want %v", e, i, back[i], codes[i])
			}
		}
	}
	return nil
}

// checkE2M1Decode checks Code.Float32 against SPEC §2's table for the 16 codes
// formed from the input's nibbles.
func checkE2M1Decode(data []byte) error {
	magnitudes := [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}
	for _, b := range data {
		for _, c := range []e2m1.Code{e2m1.Code(b & 0xF), e2m1.Code(b >> 4)} {
			want := magnitudes[c&7]
			if c&8 != 0 {
				want = -want // 0x8 is −0
			}
			if got := c.Float32(); bitsOf(got) != bitsOf(float32(want)) {
				return fmt.Errorf("Code %v.Float32() = %s, want %g", c, desc(got), want)
			}
		}
	}
	return nil
}

func checkE2M1Input(enc e2m1Model, data []byte) error {
	for _, v := range words(data) {
		if err := checkE2M1(enc, v); err != nil {
			return err
		}
	}
	return nil
}

// FuzzE2M1 reads the input as float32 bit patterns (SPEC §2).
func FuzzE2M1(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkE2M1Input(modelE2M1, data); err != nil {
			t.Fatal(err)
		}
		if err := checkE2M1Row(words(data)); err != nil {
			t.Fatal(err)
		}
		if err := checkE2M1Decode(data); err != nil {
			t.Fatal(err)
		}
	})
}
