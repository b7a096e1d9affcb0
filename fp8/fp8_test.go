package fp8

import (
	"math"
	"os"
	"runtime"
	"sync"
	"testing"
)

// closedForm is the value of code c by the OCP formula, independent of Float32.
func closedForm(c uint8) float64 {
	s, e, m := c>>7, int(c>>3&0xF), float64(c&7)
	var v float64
	switch {
	case e == 15 && m == 7:
		return math.NaN()
	case e == 0:
		v = m / 8 * math.Ldexp(1, -6)
	default:
		v = (1 + m/8) * math.Ldexp(1, e-7)
	}
	if s == 1 {
		v = -v
	}
	return v
}

// grid holds the 127 finite non-negative magnitudes, code i at index i, and the
// value 480 = 1.111b·2^8 that code 0x7F would have without the NaN rule; rounding
// to it means overflow.
var grid = func() []float64 {
	g := make([]float64, 128)
	for c := range 127 {
		g[c] = closedForm(uint8(c))
	}
	g[127] = 480
	return g
}()

// oracle rounds f to E4M3 by searching the sorted magnitudes in float64.
func oracle(f float32, o Overflow) uint8 {
	x := float64(f)
	var sign uint8
	if math.Signbit(x) {
		sign = 0x80
	}
	overflow := func() uint8 {
		if o == SatFinite {
			return sign | 0x7E
		}
		return sign | 0x7F
	}
	switch {
	case math.IsNaN(x) && o == SatFinite:
		return 0x7F
	case math.IsNaN(x):
		return sign | 0x7F
	case math.IsInf(x, 0):
		return overflow()
	}
	i := nearestIndex(math.Abs(x))
	if i == 127 {
		return overflow()
	}
	return sign | uint8(i)
}

// nearestIndex returns the index in grid of the value nearest to a >= 0, ties to
// the even index (index parity is code parity); 127 (480) or beyond means overflow.
func nearestIndex(a float64) int {
	if a > 480 {
		return 127
	}
	i, j := 0, len(grid) // first index with grid[i] >= a, as sort.SearchFloat64s
	for i < j {
		if h := (i + j) / 2; grid[h] < a {
			i = h + 1
		} else {
			j = h
		}
	}
	if grid[i] != a {
		lo, hi := grid[i-1], grid[i] // i > 0: a > 0 = grid[0]
		switch {
		case a-lo < hi-a:
			i--
		case a-lo == hi-a && i%2 == 1:
			i--
		}
	}
	return i
}

var modes = []Overflow{SatFinite, NaNOnOverflow}

func TestDecodeAll(t *testing.T) {
	for c := range 256 {
		e := Frombits(uint8(c))
		if e.Bits() != uint8(c) {
			t.Fatalf("Bits(%#02x) = %#02x", c, e.Bits())
		}
		v := closedForm(uint8(c))
		got := e.Float32()
		if math.IsNaN(v) {
			if !e.IsNaN() || math.Float32bits(got) != 0x7FFFFFFF {
				t.Errorf("%#02x: want IsNaN and Float32 0x7fffffff, IsNaN = %v, Float32 = %#08x", c, e.IsNaN(), math.Float32bits(got))
			}
			continue
		}
		if e.IsNaN() {
			t.Errorf("%#02x: IsNaN true for %g", c, v)
		}
		if want := math.Float32bits(float32(v)); math.Float32bits(got) != want {
			t.Errorf("%#02x: Float32 = %#08x (%g), want %#08x (%g)", c, math.Float32bits(got), got, want, v)
		}
		// Every non-NaN code is a fixed point of Encode in both modes.
		for _, o := range modes {
			if back := Encode(got, o); back != e {
				t.Errorf("%#02x: Encode(Float32, %d) = %#02x", c, o, back)
			}
		}
	}
}

// TestHandValues pins a few decodings to literals, so the closed form is checked too.
func TestHandValues(t *testing.T) {
	for _, tc := range []struct {
		code uint8
		want float32
	}{
		{0x00, 0}, {0x01, 1.0 / 512}, {0x07, 7.0 / 512}, {0x08, 1.0 / 64}, {0x38, 1},
		{0x39, 1.125}, {0x40, 2}, {0x77, 240}, {0x78, 256}, {0x7E, 448}, {0xFE, -448},
		{0xB8, -1}, {0x81, -1.0 / 512},
	} {
		if got := Frombits(tc.code).Float32(); math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("%#02x: %g, want %g", tc.code, got, tc.want)
		}
		if got := closedForm(tc.code); got != float64(tc.want) {
			t.Errorf("closedForm(%#02x) = %g, want %g", tc.code, got, tc.want)
		}
	}
	if got := math.Float32bits(Frombits(0x80).Float32()); got != 0x80000000 {
		t.Errorf("0x80 decodes to %#08x, want -0", got)
	}
}

func TestNamed(t *testing.T) {
	p := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	tests := []struct {
		name     string
		in       float32
		sat, nan uint8
	}{
		{"448", 448, 0x7E, 0x7E},
		{"-448", -448, 0xFE, 0xFE},
		{"464 ties to even 448", 464, 0x7E, 0x7E},
		{"464 + 1 ulp", math.Nextafter32(464, 1000), 0x7E, 0x7F},
		{"-(464 + 1 ulp)", -math.Nextafter32(464, 1000), 0xFE, 0xFF},
		{"464 - 1 ulp", math.Nextafter32(464, 0), 0x7E, 0x7E},
		{"465", 465, 0x7E, 0x7F},
		{"480", 480, 0x7E, 0x7F},
		{"MaxFloat32", math.MaxFloat32, 0x7E, 0x7F},
		{"+Inf", float32(math.Inf(1)), 0x7E, 0x7F},
		{"-Inf", float32(math.Inf(-1)), 0xFE, 0xFF},
		{"NaN", float32(math.NaN()), 0x7F, 0x7F},
		{"-NaN", -float32(math.NaN()), 0x7F, 0xFF},
		{"NaN payload", math.Float32frombits(0x7F800001), 0x7F, 0x7F},
		{"+0", 0, 0x00, 0x00},
		{"-0", float32(math.Copysign(0, -1)), 0x80, 0x80},
		{"2^-9", p(-9), 0x01, 0x01},
		{"2^-10 ties to 0", p(-10), 0x00, 0x00},
		{"-2^-10 ties to -0", -p(-10), 0x80, 0x80},
		{"2^-10 + 1 ulp", math.Nextafter32(p(-10), 1), 0x01, 0x01},
		{"3*2^-11 rounds up to 2^-9", 3 * p(-11), 0x01, 0x01},
		{"3*2^-10 ties to even 2*2^-9", 3 * p(-10), 0x02, 0x02},
		{"5*2^-10 ties to even 2*2^-9", 5 * p(-10), 0x02, 0x02},
		{"15*2^-10 ties to 2^-6 (normal)", 15 * p(-10), 0x08, 0x08},
		{"-tiny subnormal", -math.SmallestNonzeroFloat32, 0x80, 0x80},
		{"1", 1, 0x38, 0x38},
		{"1.0625 ties to 1", 1.0625, 0x38, 0x38},
		{"1.1875 ties to 1.25", 1.1875, 0x3A, 0x3A},
		{"0.3", 0.3, 0x2A, 0x2A}, // 0.3 lies between 0.28125 (0x29) and 0.3125 (0x2A), nearer 0.3125
		{"-240", -240, 0xF7, 0xF7},
		{"248 ties to even 256", 248, 0x78, 0x78},
	}
	for _, tc := range tests {
		for i, o := range modes {
			want := []uint8{tc.sat, tc.nan}[i]
			if got := Encode(tc.in, o); got.Bits() != want {
				t.Errorf("%s: Encode(%g, %d) = %#02x, want %#02x", tc.name, tc.in, o, got.Bits(), want)
			}
			if got := oracle(tc.in, o); got != want {
				t.Errorf("%s: oracle(%g, %d) = %#02x, want %#02x", tc.name, tc.in, o, got, want)
			}
		}
		if got := Fromfloat32(tc.in); got.Bits() != tc.sat {
			t.Errorf("%s: Fromfloat32 = %#02x, want %#02x", tc.name, got.Bits(), tc.sat)
		}
	}
}

func checkBits(t *testing.T, u uint32) bool {
	f := math.Float32frombits(u)
	for _, o := range modes {
		if got, want := Encode(f, o).Bits(), oracle(f, o); got != want {
			t.Helper() // only here: Helper locks, which would serialise the workers of TestAllFloat32
			t.Errorf("Encode(%#08x (%g), %d) = %#02x, want %#02x", u, f, o, got, want)
			return false
		}
	}
	return true
}

// TestAllBF16 encodes every bf16 value (the upper halves of float32 patterns).
func TestAllBF16(t *testing.T) {
	for hi := range uint32(1 << 16) {
		if !checkBits(t, hi<<16) {
			return
		}
	}
}

// TestBoundaries encodes every midpoint between neighbouring magnitudes (0 and
// the overflow point 480 included), every grid value, and their float32
// neighbours, with both signs.
func TestBoundaries(t *testing.T) {
	var points []float64
	for i := range grid {
		points = append(points, grid[i])
		if i > 0 {
			points = append(points, (grid[i-1]+grid[i])/2) // exact in float64 and float32
		}
	}
	for _, p := range points {
		for _, s := range []uint32{0, 1 << 31} {
			u := math.Float32bits(float32(p))
			for d := -3; d <= 3; d++ {
				if int64(u)+int64(d) < 0 {
					continue
				}
				if !checkBits(t, s|uint32(int64(u)+int64(d))) {
					return
				}
			}
		}
	}
}

// TestStride encodes about a million patterns spread over all 2^32.
func TestStride(t *testing.T) {
	const stride = 4099
	for i := uint64(0); i < 1<<32; i += stride {
		if !checkBits(t, uint32(i)) {
			return
		}
	}
}

// TestAllFloat32 encodes every float32 pattern; set FP4INDEXER_LONG=1.
func TestAllFloat32(t *testing.T) {
	if os.Getenv("FP4INDEXER_LONG") != "1" {
		t.Skip("all 2^32 float32 patterns: set FP4INDEXER_LONG=1 (TestStride and TestBoundaries sample them by default)")
	}
	workers := uint64(runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := (1 << 32) * w / workers; i < (1<<32)*(w+1)/workers; i++ {
				if !checkBits(t, uint32(i)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkFromfloat32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i-2048) * 0.173
	}
	dst := make([]E4M3, len(x))
	for b.Loop() {
		for i, f := range x {
			dst[i] = Fromfloat32(f)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/element")
}

func BenchmarkFloat32(b *testing.B) {
	x := make([]E4M3, 4096)
	for i := range x {
		x[i] = E4M3(i)
	}
	dst := make([]float32, len(x))
	for b.Loop() {
		for i, e := range x {
			dst[i] = e.Float32()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/element")
}
