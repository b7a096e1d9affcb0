package bf16

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sync"
	"testing"
)

// oracleNarrow rounds f to bf16 by value, not by bits: float64 arithmetic
// rounds |f| to 8 significant bits (or to a multiple of 2^-133, the bf16
// subnormal quantum) with ties to even, and overflows to Inf at 2^128.
func oracleNarrow(f float32) uint16 {
	x := float64(f)
	if math.IsNaN(x) {
		return 0x7FFF
	}
	if math.IsInf(x, 0) || x == 0 {
		return uint16(math.Float32bits(f) >> 16)
	}
	a := math.Abs(x)
	var r float64
	if a < 0x1p-126 {
		r = math.RoundToEven(a/0x1p-133) * 0x1p-133 // exact: power-of-two scaling
	} else {
		m, e := math.Frexp(a) // a = m * 2^e, m in [0.5, 1)
		r = math.Ldexp(math.RoundToEven(m*256), e-8)
	}
	r = math.Copysign(r, x)
	if math.Abs(r) >= 0x1p128 {
		r = math.Copysign(math.Inf(1), x)
	}
	u := math.Float32bits(float32(r)) // exact: r has at most 8 significant bits
	if u&0xFFFF != 0 {
		panic(fmt.Sprintf("oracle produced a non-bf16 value %#08x", u))
	}
	return uint16(u >> 16)
}

// closedForm decodes bits by the formula (-1)^s * 2^(e-127) * 1.m, or 2^-126 * 0.m.
func closedForm(b uint16) float64 {
	s, e, m := b>>15, int(b>>7&0xFF), float64(b&0x7F)
	var v float64
	switch {
	case e == 0xFF && m == 0:
		v = math.Inf(1)
	case e == 0xFF:
		v = math.NaN()
	case e == 0:
		v = math.Ldexp(m/128, -126)
	default:
		v = math.Ldexp(1+m/128, e-127)
	}
	if s == 1 {
		v = -v
	}
	return v
}

func TestAllBF16(t *testing.T) {
	src := make([]BF16, 1<<16)
	for i := range src {
		src[i] = Frombits(uint16(i))
	}
	wide := make([]float32, len(src))
	if err := Widen(wide, src); err != nil {
		t.Fatal(err)
	}
	back := make([]BF16, len(src))
	if err := Narrow(back, wide); err != nil {
		t.Fatal(err)
	}
	for i, b := range src {
		v := closedForm(b.Bits())
		if math.IsNaN(v) != b.IsNaN() {
			t.Errorf("%#04x: IsNaN = %v", i, b.IsNaN())
		}
		if b.IsInf(0) != math.IsInf(v, 0) || b.IsInf(1) != math.IsInf(v, 1) || b.IsInf(-1) != math.IsInf(v, -1) {
			t.Errorf("%#04x: IsInf wrong", i)
		}
		got := math.Float32bits(wide[i])
		if math.IsNaN(v) {
			if got != uint32(i)<<16 {
				t.Errorf("%#04x: NaN widened to %#08x, want payload kept", i, got)
			}
		} else if want := math.Float32bits(float32(v)); got != want {
			t.Errorf("%#04x: Float32 = %#08x, want %#08x", i, got, want)
		}
		want := b
		if b.IsNaN() {
			want = NaN
		}
		if back[i] != want {
			t.Errorf("%#04x: round trip gave %#04x, want %#04x", i, back[i], want)
		}
	}
}

func TestNamed(t *testing.T) {
	tests := []struct {
		in   uint32
		want BF16
	}{
		{0x3F800000, 0x3F80},                 // 1
		{0x3F808000, 0x3F80},                 // tie, even stays
		{0x3F818000, 0x3F82},                 // tie, odd rounds up
		{0x3F808001, 0x3F81},                 // above the tie
		{0x3F807FFF, 0x3F80},                 // below the tie
		{0x80000000, 0x8000},                 // -0
		{0x80000001, 0x8000},                 // -tiny subnormal rounds to -0
		{0x00008000, 0x0000},                 // subnormal tie to even 0
		{0x00018000, 0x0002},                 // subnormal tie to even up
		{0x007FFFFF, 0x0080},                 // largest subnormal rounds up to 2^-126
		{0x7F7FFFFF, 0x7F80},                 // MaxFloat32 rounds to +Inf
		{0x7F7F7FFF, 0x7F7F},                 // largest value that stays finite
		{0x7F7F8000, 0x7F80},                 // tie above the largest bf16: even is Inf
		{0xFF7F8000, 0xFF80},                 // and -Inf
		{0x7F800000, 0x7F80},                 // +Inf
		{0xFF800000, 0xFF80},                 // -Inf
		{0x7FC00000, NaN},                    // quiet NaN
		{0xFFC00000, NaN},                    // negative NaN loses its sign
		{0x7F800001, NaN},                    // signalling NaN whose payload would round away
		{0x7FFFFFFF, NaN},                    // payload that would carry into the sign
		{math.Float32bits(0.1), 0x3DCD},      // 0x3DCCCCCD
		{math.Float32bits(-3.14159), 0xC049}, // 0xC0490FD0
	}
	for _, tc := range tests {
		f := math.Float32frombits(tc.in)
		if got := Fromfloat32(f); got != tc.want {
			t.Errorf("Fromfloat32(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
		if got := oracleNarrow(f); got != uint16(tc.want) {
			t.Errorf("oracle(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
		if got, want := math.Float32bits(Round(f)), uint32(tc.want)<<16; got != want {
			t.Errorf("Round(%#08x) = %#08x, want %#08x", tc.in, got, want)
		}
	}
}

// checkRange compares Fromfloat32 and RoundSlice with the oracle on the patterns
// produced by gen for i in [lo, hi).
func checkRange(t *testing.T, lo, hi uint64, gen func(i uint64) uint32) {
	const chunk = 4096
	buf := make([]float32, chunk)
	bits := make([]uint32, chunk)
	for base := lo; base < hi; base += chunk {
		n := int(min(chunk, hi-base))
		for j := range n {
			bits[j] = gen(base + uint64(j))
			buf[j] = math.Float32frombits(bits[j])
		}
		RoundSlice(buf[:n])
		for j := range n {
			f := math.Float32frombits(bits[j])
			want := oracleNarrow(f)
			if got := Fromfloat32(f); uint16(got) != want {
				t.Errorf("Fromfloat32(%#08x) = %#04x, want %#04x", bits[j], got, want)
				return
			}
			if got := math.Float32bits(buf[j]); got != uint32(want)<<16 {
				t.Errorf("RoundSlice(%#08x) = %#08x, want %#08x", bits[j], got, uint32(want)<<16)
				return
			}
		}
	}
}

// TestSweep covers, for every upper half, the low halves around the rounding
// decision (0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF) and one scrambled low half.
func TestSweep(t *testing.T) {
	lows := [...]uint32{0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0}
	checkRange(t, 0, 1<<16*uint64(len(lows)), func(i uint64) uint32 {
		hi, k := uint32(i/uint64(len(lows))), i%uint64(len(lows))
		lo := lows[k]
		if k == uint64(len(lows))-1 {
			lo = (hi*40503 + 12345) & 0xFFFF // spread over the whole low half
		}
		return hi<<16 | lo
	})
}

// TestStride checks about a million patterns spread evenly over all 2^32.
func TestStride(t *testing.T) {
	const stride = 4099 // prime, so the low halves cycle through all residues
	checkRange(t, 0, 1<<32/stride+1, func(i uint64) uint32 { return uint32(i * stride) })
}

// TestAllFloat32 checks every float32 bit pattern; set FP4INDEXER_LONG=1.
func TestAllFloat32(t *testing.T) {
	if os.Getenv("FP4INDEXER_LONG") != "1" {
		t.Skip("all 2^32 float32 patterns: set FP4INDEXER_LONG=1 (TestSweep samples them by default)")
	}
	workers := runtime.GOMAXPROCS(0)
	const total = uint64(1) << 32
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := total*uint64(w)/uint64(workers), total*uint64(w+1)/uint64(workers)
		wg.Go(func() {
			checkRange(t, lo, hi, func(i uint64) uint32 { return uint32(i) })
		})
	}
	wg.Wait()
}

func TestLengthMismatch(t *testing.T) {
	if err := Widen(make([]float32, 2), make([]BF16, 3)); err == nil {
		t.Error("Widen accepted mismatched lengths")
	}
	if err := Narrow(make([]BF16, 3), make([]float32, 2)); err == nil {
		t.Error("Narrow accepted mismatched lengths")
	}
}

func BenchmarkFromfloat32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i) * 1.2345e-3
	}
	dst := make([]BF16, len(x))
	for b.Loop() {
		for i, f := range x {
			dst[i] = Fromfloat32(f)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/element")
}

func BenchmarkRoundSlice(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i) * 1.2345e-3
	}
	for b.Loop() {
		RoundSlice(x)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/element")
}
