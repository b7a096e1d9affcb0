package rope

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func finite32(v ...float32) bool {
	for _, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return false
		}
	}
	return true
}

// exactFloat holds a float32 exactly; 2000 bits hold any exact sum of a product
// of two float32 (exponents 2^-298 … 2^256, 48 significant bits) and a float32.
func exactFloat(f float32) *big.Float {
	return new(big.Float).SetPrec(2000).SetFloat64(float64(f))
}

// mulOracle is fl32(a·b): the exact product rounded once by big.Float.Float32
// (round to nearest even, subnormals and overflow included). Non-finite operands
// give a non-finite product, which float64 IEEE arithmetic produces exactly.
func mulOracle(a, b float32) float32 {
	if !finite32(a, b) {
		return float32(float64(a) * float64(b))
	}
	f, _ := new(big.Float).SetPrec(2000).Mul(exactFloat(a), exactFloat(b)).Float32()
	return f
}

// fmaOracle is fl32(a·b + c) with one rounding, computed exactly with math/big.
// With a non-finite operand the result is non-finite (Inf or NaN) and float64
// arithmetic gets it exactly.
func fmaOracle(a, b, c float32) float32 {
	if !finite32(a, b, c) {
		return float32(math.FMA(float64(a), float64(b), float64(c)))
	}
	p := new(big.Float).SetPrec(2000).Mul(exactFloat(a), exactFloat(b))
	f, _ := p.Add(p, exactFloat(c)).Float32()
	return f
}

// gpuOracle is the GPUFMA pair from the math/big oracles.
func gpuOracle(xr, xi, c, s float32) (re, im float32) {
	return fmaOracle(xr, c, -mulOracle(xi, s)), fmaOracle(xi, c, mulOracle(xr, s))
}

// unfusedOracle evaluates the unfused pair in float64 with an explicit float32
// rounding after each operation. A +, −, × of float32 operands computed in
// float64 and rounded to float32 is correctly rounded (53 ≥ 2·24 + 2), so each
// step equals the float32 operation.
func unfusedOracle(xr, xi, c, s float32) (re, im float32) {
	r := func(v float64) float32 { return float32(v) }
	a, b := r(float64(xr)*float64(c)), r(float64(xi)*float64(s))
	re = r(float64(a) - float64(b))
	a, b = r(float64(xr)*float64(s)), r(float64(xi)*float64(c))
	im = r(float64(a) + float64(b))
	return re, im
}

func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true // NaN payloads are not modelled
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func randomValue(r *rand.Rand, kind int) float32 {
	switch kind {
	case 0:
		return float32(r.NormFloat64())
	case 1: // wide magnitudes, finite products
		v := float32(math.Ldexp(1+r.Float64(), r.IntN(120)-60))
		if r.IntN(2) == 0 {
			v = -v
		}
		return v
	case 2: // tiny and subnormal
		return math.Float32frombits(r.Uint32() & 0x83FFFFFF)
	case 3: // bf16-valued inputs, as the Q kernel reads them
		return math.Float32frombits(math.Float32bits(float32(r.NormFloat64()*8)) &^ 0xFFFF)
	default: // any bit pattern
		return math.Float32frombits(r.Uint32())
	}
}

// randomRow is a table row: cos/sin of random angles, or arbitrary values.
func randomRow(r *rand.Rand, dim int, arbitrary bool) []float32 {
	row := make([]float32, dim)
	for k := 0; k < dim/2; k++ {
		if arbitrary {
			row[2*k], row[2*k+1] = randomValue(r, r.IntN(5)), randomValue(r, r.IntN(5))
			continue
		}
		s, c := math.Sincos(r.Float64() * 1e4)
		row[2*k], row[2*k+1] = float32(c), float32(s)
	}
	return row
}

// pairIndex returns the positions of pair k's two members.
func pairIndex(l Layout, dim, k int) (int, int) {
	if l == HalfSplit {
		return k, k + dim/2
	}
	return 2 * k, 2*k + 1
}

func TestApplyAgainstOracles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dim, positions = 64, 16
	for rep := 0; rep < 4000; rep++ {
		kind := rep % 5
		data := make([]float32, 0, dim*positions)
		for range positions {
			data = append(data, randomRow(r, dim, rep%3 == 0)...)
		}
		tab, err := NewTable(dim, data)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, dim)
		for i := range x {
			x[i] = randomValue(r, kind)
		}
		pos := r.IntN(positions)
		row := data[pos*dim : (pos+1)*dim]
		for _, o := range []Options{{}, {Arithmetic: Unfused}, {Layout: HalfSplit}, {Layout: HalfSplit, Arithmetic: Unfused}} {
			got := append([]float32(nil), x...)
			if err := Apply(got, tab, pos, o); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < dim/2; k++ {
				i, j := pairIndex(o.Layout, dim, k)
				c, s := row[2*k], row[2*k+1]
				var re, im float32
				if o.Arithmetic == GPUFMA {
					re, im = gpuOracle(x[i], x[j], c, s)
				} else {
					re, im = unfusedOracle(x[i], x[j], c, s)
				}
				if !sameBits(got[i], re) || !sameBits(got[j], im) {
					t.Fatalf("%v/%v pair %d: x=(%#08x, %#08x) (c,s)=(%#08x, %#08x): got (%#08x, %#08x), want (%#08x, %#08x)",
						o.Layout, o.Arithmetic, k, math.Float32bits(x[i]), math.Float32bits(x[j]),
						math.Float32bits(c), math.Float32bits(s),
						math.Float32bits(got[i]), math.Float32bits(got[j]), math.Float32bits(re), math.Float32bits(im))
				}
			}
		}
	}
}

// TestGPUFMADiffers shows the three contraction patterns are distinct on
// ordinary data (otherwise the oracle test above would not discriminate).
func TestGPUFMADiffers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	diff := 0
	const n = 100000
	for range n {
		xr, xi := float32(r.NormFloat64()), float32(r.NormFloat64())
		s, c := math.Sincos(r.Float64() * 100)
		g, _ := gpuOracle(xr, xi, float32(c), float32(s))
		u, _ := unfusedOracle(xr, xi, float32(c), float32(s))
		if math.Float32bits(g) != math.Float32bits(u) {
			diff++
		}
	}
	t.Logf("GPUFMA and Unfused re differ in %d of %d random pairs", diff, n)
	if diff == 0 {
		t.Fatal("GPUFMA and Unfused never differ: the oracles cannot tell them apart")
	}
}

// TestRotationBound compares both arithmetics with the float64 rotation.
//
// Derivation. GPUFMA: p̂ = xi·s(1+δ1) (+η1), re = (xr·c − p̂)(1+δ2) (+η2),
// |δ| ≤ u = 2^-24, |η| ≤ 2^-150 (underflow). So
// |re − (xr·c − xi·s)| ≤ u(1+u)|xi·s| + u|xr·c − xi·s| + 2^-148 ≤ γ2(|xr·c| + |xi·s|) + 2^-148.
// Unfused: (xr·c(1+δ1) − xi·s(1+δ2))(1+δ3) gives the same bound. The float64
// reference rounds only the final difference of two exact products: add
// 2^-53·|ref|.
func TestRotationBound(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const u = 0x1p-24
	gamma2 := 2 * u / (1 - 2*u)
	for rep := 0; rep < 200000; rep++ {
		xr, xi := randomValue(r, rep%3), randomValue(r, (rep/3)%3)
		sn, cs := math.Sincos(r.Float64() * 1000)
		c, s := float32(cs), float32(sn)
		row := []float32{c, s}
		tab := Table{Dim: 2, Data: row}
		for _, a := range []Arithmetic{GPUFMA, Unfused} {
			x := []float32{xr, xi}
			if err := Apply(x, tab, 0, Options{Arithmetic: a}); err != nil {
				t.Fatal(err)
			}
			refRe := float64(xr)*float64(c) - float64(xi)*float64(s)
			refIm := float64(xr)*float64(s) + float64(xi)*float64(c)
			bRe := gamma2*(math.Abs(float64(xr)*float64(c))+math.Abs(float64(xi)*float64(s))) + 0x1p-148 + 0x1p-53*math.Abs(refRe)
			bIm := gamma2*(math.Abs(float64(xr)*float64(s))+math.Abs(float64(xi)*float64(c))) + 0x1p-148 + 0x1p-53*math.Abs(refIm)
			if d := math.Abs(float64(x[0]) - refRe); d > bRe {
				t.Fatalf("%v: re error %g > bound %g (x=%g,%g c,s=%g,%g)", a, d, bRe, xr, xi, c, s)
			}
			if d := math.Abs(float64(x[1]) - refIm); d > bIm {
				t.Fatalf("%v: im error %g > bound %g (x=%g,%g c,s=%g,%g)", a, d, bIm, xr, xi, c, s)
			}
		}
	}
}

// TestLayoutPermutation: HalfSplit on x equals Interleaved on the permuted
// vector y[2k] = x[k], y[2k+1] = x[k+D/2], permuted back, bit for bit.
func TestLayoutPermutation(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, dim := range []int{2, 4, 8, 64, 128} {
		for rep := 0; rep < 200; rep++ {
			tab := Table{Dim: dim, Data: randomRow(r, dim, rep%2 == 0)}
			x := make([]float32, dim)
			for i := range x {
				x[i] = randomValue(r, rep%5)
			}
			for _, a := range []Arithmetic{GPUFMA, Unfused} {
				half := append([]float32(nil), x...)
				if err := Apply(half, tab, 0, Options{Layout: HalfSplit, Arithmetic: a}); err != nil {
					t.Fatal(err)
				}
				y := make([]float32, dim)
				for k := 0; k < dim/2; k++ {
					y[2*k], y[2*k+1] = x[k], x[k+dim/2]
				}
				if err := Apply(y, tab, 0, Options{Arithmetic: a}); err != nil {
					t.Fatal(err)
				}
				for k := 0; k < dim/2; k++ {
					if !sameBits(half[k], y[2*k]) || !sameBits(half[k+dim/2], y[2*k+1]) {
						t.Fatalf("dim %d %v pair %d: half-split (%g, %g), permuted interleaved (%g, %g)",
							dim, a, k, half[k], half[k+dim/2], y[2*k], y[2*k+1])
					}
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	good := Table{Dim: 4, Data: make([]float32, 12)}
	cases := []struct {
		name string
		x    []float32
		t    Table
		pos  int
		o    Options
		want string
	}{
		{"odd dim", make([]float32, 3), Table{Dim: 3, Data: make([]float32, 9)}, 0, Options{}, "Dim = 3"},
		{"zero dim", nil, Table{}, 0, Options{}, "Dim = 0"},
		{"ragged table", make([]float32, 4), Table{Dim: 4, Data: make([]float32, 10)}, 0, Options{}, "len(Data) = 10"},
		{"short x", make([]float32, 2), good, 0, Options{}, "len(x) = 2, want the table's Dim = 4"},
		{"long x", make([]float32, 8), good, 0, Options{}, "len(x) = 8"},
		{"negative pos", make([]float32, 4), good, -1, Options{}, "pos = -1, want 0 <= pos < 3"},
		{"pos past end", make([]float32, 4), good, 3, Options{}, "pos = 3, want 0 <= pos < 3 (table [3][4])"},
		{"bad layout", make([]float32, 4), good, 0, Options{Layout: 2}, "Options.Layout = 2"},
		{"bad arithmetic", make([]float32, 4), good, 0, Options{Arithmetic: 7}, "Options.Arithmetic = 7"},
	}
	for _, c := range cases {
		err := Apply(c.x, c.t, c.pos, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
	if _, err := NewTable(5, make([]float32, 10)); err == nil {
		t.Error("NewTable accepted an odd Dim")
	}
	if tab, err := NewTable(4, make([]float32, 12)); err != nil || tab.Positions() != 3 {
		t.Errorf("NewTable(4, 12 floats) = %d positions, %v", tab.Positions(), err)
	}
	if (Table{}).Positions() != 0 {
		t.Error("zero Table has positions")
	}
}

// FuzzApply decodes 16 bytes per pair (xr, xi, c, s as little-endian float32
// bit patterns) and checks GPUFMA in both layouts against the math/big oracle.
func FuzzApply(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs := min(len(data)/16, 64)
		if pairs == 0 {
			return
		}
		dim := 2 * pairs
		word := func(i int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])) }
		row := make([]float32, dim)
		xr, xi := make([]float32, pairs), make([]float32, pairs)
		for k := 0; k < pairs; k++ {
			xr[k], xi[k], row[2*k], row[2*k+1] = word(4*k), word(4*k+1), word(4*k+2), word(4*k+3)
		}
		tab := Table{Dim: dim, Data: row}
		for _, l := range []Layout{Interleaved, HalfSplit} {
			x := make([]float32, dim)
			for k := 0; k < pairs; k++ {
				i, j := pairIndex(l, dim, k)
				x[i], x[j] = xr[k], xi[k]
			}
			if err := Apply(x, tab, 0, Options{Layout: l}); err != nil {
				t.Fatal(err)
			}
			for k := 0; k < pairs; k++ {
				i, j := pairIndex(l, dim, k)
				re, im := gpuOracle(xr[k], xi[k], row[2*k], row[2*k+1])
				if !sameBits(x[i], re) || !sameBits(x[j], im) {
					t.Fatalf("%v pair %d: x=(%#08x, %#08x) (c,s)=(%#08x, %#08x): got (%#08x, %#08x), want (%#08x, %#08x)",
						l, k, math.Float32bits(xr[k]), math.Float32bits(xi[k]), math.Float32bits(row[2*k]), math.Float32bits(row[2*k+1]),
						math.Float32bits(x[i]), math.Float32bits(x[j]), math.Float32bits(re), math.Float32bits(im))
				}
			}
		}
	})
}

func benchApply(b *testing.B, o Options) {
	r := rand.New(rand.NewPCG(1, 1))
	tab, err := Plain(64, 4096, 10000)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	b.SetBytes(256)
	pos := 0
	for b.Loop() {
		if err := Apply(x, tab, pos, o); err != nil {
			b.Fatal(err)
		}
		pos = (pos + 1) & 4095
	}
}

func BenchmarkApply64GPUFMA(b *testing.B)    { benchApply(b, Options{}) }
func BenchmarkApply64Unfused(b *testing.B)   { benchApply(b, Options{Arithmetic: Unfused}) }
func BenchmarkApply64HalfSplit(b *testing.B) { benchApply(b, Options{Layout: HalfSplit}) }
