package mqa

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

func TestDecodeTables(t *testing.T) {
	for c := 0; c < 16; c++ {
		want := oracleE2M1(byte(c))
		if got := e2m1Value[c]; math.Float32bits(got) != math.Float32bits(float32(want)) && !(c == 8 && math.Float32bits(got) == 0x80000000) {
			t.Errorf("e2m1Value[%#x] = %g, want %g", c, got, want)
		}
		if got := e2m1.Code(c).Float32(); math.Float32bits(got) != math.Float32bits(e2m1Value[c]) {
			t.Errorf("e2m1.Code(%#x).Float32() = %g, table %g", c, got, e2m1Value[c])
		}
		if got := float64(e2m1Twice[c]); got != 2*want {
			t.Errorf("e2m1Twice[%#x] = %g, want %g", c, got, 2*want)
		}
	}
	if math.Float32bits(e2m1Value[8]) != 0x80000000 {
		t.Errorf("code 0x8 decodes to %#08x, want −0", math.Float32bits(e2m1Value[8]))
	}
	for b := 0; b < 256; b++ {
		p := e2m1PairTwice[b]
		if float64(p[0]) != 2*oracleE2M1(byte(b)) || float64(p[1]) != 2*oracleE2M1(byte(b>>4)) {
			t.Errorf("e2m1PairTwice[%#02x] = %v", b, p)
		}
	}
	for e := 0; e < 256; e++ {
		got := ue8m0Value[e]
		if e == 255 {
			if got == got {
				t.Errorf("ue8m0Value[255] = %g, want NaN", got)
			}
			continue
		}
		if want := float32(math.Ldexp(1, e-127)); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("ue8m0Value[%d] = %#08x, want %#08x", e, math.Float32bits(got), math.Float32bits(want))
		}
		if ue8m0.Scale(e).Float32() != got {
			t.Errorf("ue8m0.Scale(%d).Float32() differs from the table", e)
		}
	}
	if math.Float32bits(ue8m0Value[0]) != 0x00400000 {
		t.Errorf("scale byte 0 decodes to %#08x, want the subnormal 0x00400000", math.Float32bits(ue8m0Value[0]))
	}
	for b := 0; b < 256; b++ {
		want, ok := oracleE4M3(byte(b))
		got := e4m3Value[b]
		if !ok {
			if got == got {
				t.Errorf("e4m3Value[%#02x] = %g, want NaN", b, got)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) && !(want == 0 && got == 0) {
			t.Errorf("e4m3Value[%#02x] = %g, want %g", b, got, want)
		}
		if math.Signbit(float64(got)) != (b >= 0x80) {
			t.Errorf("e4m3Value[%#02x] has the wrong sign", b)
		}
		if fp8.E4M3(b).Float32() != got || e4m3Value64[b] != float64(got) {
			t.Errorf("e4m3 tables differ from fp8 at %#02x", b)
		}
	}
}

// TestRound32 checks the oracle epilogues' rounding (big.Float.Float32) with
// the independent neighbour check, on subnormal and overflow boundaries.
func TestRound32(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 20000; i++ {
		m := new(big.Float).SetPrec(oraclePrec).SetInt64(rng.Int64N(1<<40) - 1<<39)
		x := new(big.Float).SetMantExp(m, rng.IntN(330)-210)
		if err := checkRounded(x, round32(x)); err != nil {
			t.Fatal(err)
		}
	}
}

// randFP4 returns random packed codes of d elements.
func randFP4(rng *rand.Rand, d int) []byte {
	b := make([]byte, d/2)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func randScaleWord(rng *rand.Rand, lo, hi int) uint32 {
	var w uint32
	for g := 0; g < 4; g++ {
		w |= uint32(lo+rng.IntN(hi-lo+1)) << (8 * g)
	}
	return w
}

func checkDotFP4(t *testing.T, q []byte, qsf uint32, k []byte, ksf uint32) {
	t.Helper()
	got, err := DotFP4(q, qsf, k, ksf, Exact)
	if err != nil {
		t.Fatal(err)
	}
	x, nan := oracleDotFP4(q, qsf, k, ksf)
	if nan {
		if math.Float32bits(got) != canonicalNaN {
			t.Fatalf("DotFP4(%x, %#08x, %x, %#08x) = %#08x, want canonical NaN", q, qsf, k, ksf, math.Float32bits(got))
		}
		return
	}
	if err := checkRounded(x, got); err != nil {
		t.Fatalf("DotFP4(%x, %#08x, %x, %#08x): %v", q, qsf, k, ksf, err)
	}
}

func TestDotFP4ExactOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	regimes := []struct {
		name   string
		lo, hi int
	}{
		{"narrow", 118, 132},  // the float64 path
		{"all", 0, 254},       // wide spreads (math/big), subnormal and overflowing results
		{"tiny", 0, 40},       // results near and below the fp32 subnormal range
		{"huge", 200, 254},    // results near fp32 overflow
		{"withNaN", 250, 255}, // NaN scale bytes
		{"subnormal", 50, 70}, // eq+ek−256 around −150 … −116
		{"edge", 100, 154},    // spreads around the 38-binade float64 limit
	}
	wide := 0
	for _, d := range []int{64, 128} {
		for _, r := range regimes {
			for i := 0; i < 400; i++ {
				q, k := randFP4(rng, d), randFP4(rng, d)
				qsf, ksf := randScaleWord(rng, r.lo, r.hi), randScaleWord(rng, r.lo, r.hi)
				lo, hi := 1000, -1000
				for g := 0; g < d/32; g++ {
					e := int(qsf>>(8*g)&0xFF) + int(ksf>>(8*g)&0xFF)
					lo, hi = min(lo, e), max(hi, e)
				}
				if hi-lo > maxExactSpread {
					wide++
				}
				checkDotFP4(t, q, qsf, k, ksf)
			}
		}
	}
	if wide < 500 {
		t.Errorf("only %d cases with a scale spread beyond float64", wide)
	}
}

// TestDotFP4Cancellation builds dot products whose large groups cancel
// exactly or nearly, leaving small groups of a far smaller scale: float64
// summation would lose them; the exact path must not.
func TestDotFP4Cancellation(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 2000; i++ {
		q, k := randFP4(rng, 128), randFP4(rng, 128)
		// Group 1 repeats group 0; k's group 1 is k's group 0 negated, so
		// S1 = −S0 with equal scales.
		copy(q[16:32], q[0:16])
		for j := 0; j < 16; j++ {
			k[16+j] = k[j] ^ 0x88
		}
		if i%2 == 1 { // near cancellation: one element differs
			k[16+rng.IntN(16)] ^= byte(1 << rng.IntN(8))
		}
		big := byte(150 + rng.IntN(105))
		small := byte(rng.IntN(100))
		qsf := uint32(big) | uint32(big)<<8 | uint32(small)<<16 | uint32(byte(rng.IntN(255)))<<24
		ksf := uint32(big) | uint32(big)<<8 | uint32(byte(rng.IntN(255)))<<16 | uint32(small)<<24
		checkDotFP4(t, q, qsf, k, ksf)
	}
	// A hand case: 36·2^254 in group 0 would overflow fp32, but group 1 cancels
	// it; what remains is 0.5·0.5·2^(0−127+0−127) = 2^−256, which rounds to +0;
	// with a negative sign it rounds to −0.
	q, k := make([]byte, 64), make([]byte, 64)
	q[0], k[0] = 0x07, 0x07   // 6·6 in group 0
	q[16], k[16] = 0x07, 0x0F // 6·(−6) in group 1
	q[32], k[32] = 0x01, 0x01 // 0.5·0.5 in group 2
	qsf, ksf := uint32(0x00FEFE), uint32(0x00FEFE)
	got, _ := DotFP4(q, qsf, k, ksf, Exact)
	if math.Float32bits(got) != 0 {
		t.Errorf("cancelling huge groups + 2^-256: got %#08x, want +0", math.Float32bits(got))
	}
	k[32] = 0x09 // −0.5
	got, _ = DotFP4(q, qsf, k, ksf, Exact)
	if math.Float32bits(got) != 0x80000000 {
		t.Errorf("cancelling huge groups − 2^-256: got %#08x, want −0", math.Float32bits(got))
	}
	// The same cancellation leaving 1.5·1·2^(64−127+43−127) = 1.5·2^−147, an
	// fp32 subnormal that must come out exactly.
	q[32], k[32] = 0x03, 0x02 // 1.5 · 1 = 1.5
	qsf = 0x00FEFE | 64<<16
	ksf = 0x00FEFE | 43<<16
	got, _ = DotFP4(q, qsf, k, ksf, Exact)
	if want := float32(math.Ldexp(1.5, -147)); math.Float32bits(got) != math.Float32bits(want) {
		t.Errorf("subnormal remainder: got %#08x, want %#08x", math.Float32bits(got), math.Float32bits(want))
	}
}

// TestDotFP4Overflow: the true value exceeds fp32.
func TestDotFP4Overflow(t *testing.T) {
	q, k := make([]byte, 64), make([]byte, 64)
	q[0], k[0] = 0x07, 0x0F // 6·(−6) = −36
	got, _ := DotFP4(q, 0xFE, k, 0xFE, Exact)
	if !math.IsInf(float64(got), -1) {
		t.Errorf("−36·2^254: got %g, want −Inf", got)
	}
	// FP32FMA overflows already in the dequantized operand: 6·2^127 = Inf.
	got, _ = DotFP4(q, 0xFE, k, 0xFE, FP32FMA)
	if !math.IsInf(float64(got), -1) {
		t.Errorf("fp32-fma: got %g, want −Inf", got)
	}
	// Inf·0 in the fp32-fma chain is NaN: q = 6·2^127 → Inf, k = 0.
	k[0] = 0
	got, _ = DotFP4(q, 0xFE, k, 0xFE, FP32FMA)
	if math.Float32bits(got) != canonicalNaN {
		t.Errorf("fp32-fma Inf·0: got %#08x, want canonical NaN", math.Float32bits(got))
	}
	got, _ = DotFP4(q, 0xFE, k, 0xFE, Exact)
	if math.Float32bits(got) != 0 {
		t.Errorf("exact 36·2^254·0: got %#08x, want +0", math.Float32bits(got))
	}
}

// TestDotFP4FMAOracle compares the fp32-fma chain with one built on math/big.
func TestDotFP4FMAOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, d := range []int{64, 128} {
		for i := 0; i < 1500; i++ {
			lo, hi := 100, 150
			if i%3 == 0 {
				lo, hi = 0, 60 // subnormal operands and products
			}
			q, k := randFP4(rng, d), randFP4(rng, d)
			qsf, ksf := randScaleWord(rng, lo, hi), randScaleWord(rng, lo, hi)
			got, err := DotFP4(q, qsf, k, ksf, FP32FMA)
			if err != nil {
				t.Fatal(err)
			}
			var acc float32
			for e := 0; e < d; e++ {
				g := e / 32
				qv := bigMul(float32(oracleE2M1(q[e/2]>>(4*(e%2)))), float32(math.Ldexp(1, int(qsf>>(8*g)&0xFF)-127)))
				kv := bigMul(float32(oracleE2M1(k[e/2]>>(4*(e%2)))), float32(math.Ldexp(1, int(ksf>>(8*g)&0xFF)-127)))
				acc = bigFMA(qv, kv, acc)
			}
			if math.Float32bits(got) != math.Float32bits(acc) {
				t.Fatalf("fp32-fma dot of %x·%x (%#08x, %#08x) = %#08x, oracle %#08x", q, k, qsf, ksf, math.Float32bits(got), math.Float32bits(acc))
			}
		}
	}
}

func randE4M3(rng *rand.Rand, n int) []fp8.E4M3 {
	x := make([]fp8.E4M3, n)
	for i := range x {
		x[i] = fp8.E4M3(rng.Uint32())
	}
	return x
}

func TestDotFP8Oracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, d := range []int{32, 64, 128} {
		for i := 0; i < 2000; i++ {
			q, k := randE4M3(rng, d), randE4M3(rng, d)
			if i%2 == 0 { // mostly without NaN
				for j := range q {
					if q[j]&0x7F == 0x7F {
						q[j] ^= 1
					}
					if k[j]&0x7F == 0x7F {
						k[j] ^= 1
					}
				}
			}
			got, err := DotFP8(q, k, Exact)
			if err != nil {
				t.Fatal(err)
			}
			x, nan := oracleDotFP8(q, k)
			if nan {
				if math.Float32bits(got) != canonicalNaN {
					t.Fatalf("DotFP8 with NaN = %#08x", math.Float32bits(got))
				}
				continue
			}
			if err := checkRounded(x, got); err != nil {
				t.Fatal(err)
			}
			got, _ = DotFP8(q, k, FP32FMA)
			var acc float32
			for j := range q {
				a, _ := oracleE4M3(byte(q[j]))
				b, _ := oracleE4M3(byte(k[j]))
				acc = bigFMA(float32(a), float32(b), acc)
			}
			if math.Float32bits(got) != math.Float32bits(acc) {
				t.Fatalf("fp32-fma FP8 dot = %#08x, oracle %#08x", math.Float32bits(got), math.Float32bits(acc))
			}
		}
	}
}

func TestDotErrors(t *testing.T) {
	if _, err := DotFP4(make([]byte, 48), 0, make([]byte, 48), 0, Exact); err == nil {
		t.Error("DotFP4 accepted D = 96")
	}
	if _, err := DotFP4(make([]byte, 64), 0, make([]byte, 32), 0, Exact); err == nil {
		t.Error("DotFP4 accepted a short key")
	}
	if _, err := DotFP4(make([]byte, 64), 0, make([]byte, 64), 0, Dot(9)); err == nil {
		t.Error("DotFP4 accepted Dot(9)")
	}
	if _, err := DotFP8(make([]fp8.E4M3, 100), make([]fp8.E4M3, 100), Exact); err == nil {
		t.Error("DotFP8 accepted D = 100")
	}
}

// FuzzDotFP4Exact checks the exact FP4 dot product against the math/big
// oracle on arbitrary bytes and scale words.
func FuzzDotFP4Exact(f *testing.F) {
	f.Add(make([]byte, 128), uint32(0x7F7F7F7F), uint32(0x7F7F7F7F))
	f.Fuzz(func(t *testing.T, b []byte, qsf, ksf uint32) {
		if len(b) < 128 {
			b = append(b, make([]byte, 128-len(b))...)
		}
		checkDotFP4(t, b[:64], qsf, b[64:128], ksf)
		checkDotFP4(t, b[:32], qsf, b[32:64], ksf)
	})
}
