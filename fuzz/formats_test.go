package fuzz

import (
	"fmt"
	"math"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/fp8"
)

// roundToGrid rounds a ≥ 0 (finite) to the nearest multiple of the quantum of
// a binary format with mant explicit mantissa bits and minimum normal exponent
// emin, ties to even: the quantum is 2^(E−mant) with E = max(floor(log2 a),
// emin), so values below 2^emin land on the subnormal grid 2^(emin−mant). All
// float64 operations are exact (powers of two and RoundToEven).
func roundToGrid(a float64, mant, emin int) float64 {
	_, exp := math.Frexp(a) // a = f·2^exp with f in [0.5, 1); a = 0 gives exp 0
	e := max(exp-1, emin)
	q := math.Ldexp(1, e-mant)
	return math.RoundToEven(a/q) * q
}

// oracleBF16 is bf16 narrowing from SPEC §4 in float64: nearest even on the
// grid of 8 significant bits and float32's exponent range (subnormals on
// 2^−133), overflow past the largest bf16 to ±Inf, any NaN to 0x7FFF, the sign
// kept on zeros and infinities.
func oracleBF16(v float32) uint16 {
	x := float64(v)
	switch {
	case math.IsNaN(x):
		return 0x7FFF
	case math.IsInf(x, 0):
		return uint16(bitsOf(v) >> 16)
	}
	r := roundToGrid(math.Abs(x), 7, -126)
	if r >= 0x1p128 {
		r = math.Inf(1)
	}
	return uint16(math.Float32bits(float32(math.Copysign(r, x))) >> 16)
}

// oracleBF16Value decodes 16 bits from the format's fields.
func oracleBF16Value(b uint16) float64 {
	sign := 1.0
	if b&0x8000 != 0 {
		sign = -1
	}
	e, m := int(b>>7&0xFF), float64(b&0x7F)
	switch {
	case e == 0xFF && m != 0:
		return math.NaN()
	case e == 0xFF:
		return sign * math.Inf(1)
	case e == 0:
		return sign * m * 0x1p-133
	}
	return sign * (1 + m/128) * math.Ldexp(1, e-127)
}

type bf16Model func(v float32) bf16.BF16

func modelBF16(v float32) bf16.BF16 { return bf16.Fromfloat32(v) }

func checkBF16(narrow bf16Model, v float32) error {
	if got, want := narrow(v).Bits(), oracleBF16(v); got != want {
		return fmt.Errorf("bf16 of %s: model 0x%04X, oracle 0x%04X", desc(v), got, want)
	}
	return nil
}

// checkBF16API checks the package's other entry points on the input: Round,
// Narrow and Widen against the per-value oracle, and Float32, IsNaN and IsInf
// of every 16-bit half of the input against the field decoding.
func checkBF16API(x []float32) error {
	narrowed := make([]bf16.BF16, len(x))
	if err := bf16.Narrow(narrowed, x); err != nil {
		return err
	}
	widened := make([]float32, len(x))
	if err := bf16.Widen(widened, narrowed); err != nil {
		return err
	}
	rounded := append([]float32(nil), x...)
	bf16.RoundSlice(rounded)
	for i, v := range x {
		want := oracleBF16(v)
		if narrowed[i].Bits() != want {
			return fmt.Errorf("Narrow element %d (%s): 0x%04X, oracle 0x%04X", i, desc(v), narrowed[i].Bits(), want)
		}
		if r := bf16.Round(v); bitsOf(r) != uint32(want)<<16 || bitsOf(widened[i]) != uint32(want)<<16 || bitsOf(rounded[i]) != uint32(want)<<16 {
			return fmt.Errorf("round trip of %s: Round %s, Widen(Narrow) %s, RoundSlice %s; want 0x%04X0000",
				desc(v), desc(r), desc(widened[i]), desc(rounded[i]), want)
		}
		for _, half := range []uint16{uint16(bitsOf(v)), uint16(bitsOf(v) >> 16)} {
			b := bf16.Frombits(half)
			val := oracleBF16Value(half)
			got := float64(b.Float32())
			if math.IsNaN(val) != math.IsNaN(got) || !math.IsNaN(val) && (got != val || math.Signbit(got) != math.Signbit(val)) {
				return fmt.Errorf("bf16 0x%04X.Float32() = %g, want %g", half, got, val)
			}
			if b.IsNaN() != math.IsNaN(val) || b.IsInf(1) != math.IsInf(val, 1) || b.IsInf(-1) != math.IsInf(val, -1) || b.IsInf(0) != math.IsInf(val, 0) {
				return fmt.Errorf("bf16 0x%04X: IsNaN %t, IsInf(±1, 0) %t %t %t for value %g", half, b.IsNaN(), b.IsInf(1), b.IsInf(-1), b.IsInf(0), val)
			}
			if half&0x7FFF <= 0x7F80 && narrowedOf(b.Float32()) != half {
				return fmt.Errorf("bf16 0x%04X does not survive widen+narrow", half)
			}
		}
	}
	return nil
}

func narrowedOf(v float32) uint16 { return bf16.Fromfloat32(v).Bits() }

func checkBF16Input(narrow bf16Model, data []byte) error {
	for _, v := range words(data) {
		if err := checkBF16(narrow, v); err != nil {
			return err
		}
	}
	return nil
}

// FuzzBF16 reads the input as float32 bit patterns (SPEC §4 bf16 round trips).
func FuzzBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkBF16Input(modelBF16, data); err != nil {
			t.Fatal(err)
		}
		if err := checkBF16API(words(data)); err != nil {
			t.Fatal(err)
		}
	})
}

// oracleE4M3 is SPEC §4's E4M3 conversion in float64: nearest even on the grid
// of 4 significant bits, exponents from −6 (subnormals on 2^−9), the sign always
// kept. SatFinite: |x| rounding above 448 (and ±Inf) gives ±448, NaN gives 0x7F.
// NaNOnOverflow: those give a NaN with the input's sign.
func oracleE4M3(v float32, o fp8.Overflow) uint8 {
	x := float64(v)
	var sign uint8
	if math.Signbit(x) {
		sign = 0x80
	}
	overflow := func() uint8 {
		if o == fp8.SatFinite {
			return sign | 0x7E
		}
		return sign | 0x7F
	}
	switch {
	case math.IsNaN(x):
		if o == fp8.SatFinite {
			return 0x7F
		}
		return sign | 0x7F
	case math.IsInf(x, 0):
		return overflow()
	}
	r := roundToGrid(math.Abs(x), 3, -6)
	if r > 448 {
		return overflow()
	}
	if r < 0x1p-6 {
		return sign | uint8(r*0x1p9) // subnormal: r = m·2^−9, m in 0..7
	}
	_, exp := math.Frexp(r)
	e := exp - 1
	m := r*math.Ldexp(1, 3-e) - 8
	return sign | uint8(e+7)<<3 | uint8(m)
}

// oracleE4M3Value decodes one byte from its fields (S.EEEE.MMM, bias 7); both
// NaN codes decode to the GPU's canonical NaN 0x7FFFFFFF.
func oracleE4M3Value(b uint8) float32 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e, m := int(b>>3&0xF), float64(b&7)
	switch {
	case e == 15 && m == 7:
		return f32(canonicalNaN)
	case e == 0:
		return float32(sign * m * 0x1p-9)
	}
	return float32(sign * (1 + m/8) * math.Ldexp(1, e-7))
}

type e4m3Model func(v float32, o fp8.Overflow) fp8.E4M3

func modelE4M3(v float32, o fp8.Overflow) fp8.E4M3 { return fp8.Encode(v, o) }

func checkE4M3(enc e4m3Model, v float32) error {
	for _, o := range []fp8.Overflow{fp8.SatFinite, fp8.NaNOnOverflow} {
		if got, want := enc(v, o).Bits(), oracleE4M3(v, o); got != want {
			return fmt.Errorf("E4M3 (overflow mode %d) of %s: model 0x%02X, oracle 0x%02X", o, desc(v), got, want)
		}
	}
	return nil
}

func checkE4M3Input(enc e4m3Model, data []byte) error {
	for _, v := range words(data) {
		if err := checkE4M3(enc, v); err != nil {
			return err
		}
	}
	return nil
}

// checkE4M3API checks Fromfloat32 (SatFinite) on the input's values and the
// decoding, IsNaN and re-encoding of every input byte.
func checkE4M3API(data []byte) error {
	for _, v := range words(data) {
		if got, want := fp8.Fromfloat32(v).Bits(), oracleE4M3(v, fp8.SatFinite); got != want {
			return fmt.Errorf("Fromfloat32(%s) = 0x%02X, oracle 0x%02X", desc(v), got, want)
		}
	}
	for _, b := range data {
		e := fp8.Frombits(b)
		got, want := e.Float32(), oracleE4M3Value(b)
		if !sameBits(got, want) {
			return fmt.Errorf("E4M3 0x%02X.Float32() = %s, want %s", b, desc(got), desc(want))
		}
		if e.IsNaN() != (b&0x7F == 0x7F) {
			return fmt.Errorf("E4M3 0x%02X.IsNaN() = %t", b, e.IsNaN())
		}
		if b&0x7F != 0x7F && fp8.Fromfloat32(got).Bits() != b {
			return fmt.Errorf("E4M3 0x%02X does not survive decode+encode", b)
		}
	}
	return nil
}

// FuzzE4M3 reads the input as float32 bit patterns and as E4M3 bytes (SPEC §4
// FP8 counterparts).
func FuzzE4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkE4M3Input(modelE4M3, data); err != nil {
			t.Fatal(err)
		}
		if err := checkE4M3API(data); err != nil {
			t.Fatal(err)
		}
	})
}
