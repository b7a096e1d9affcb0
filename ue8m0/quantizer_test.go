package ue8m0

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

var (
	thr        = e2m1.Encoder{}
	rne        = e2m1.Encoder{Mode: e2m1.RNE}
	rneSigned  = e2m1.Encoder{Mode: e2m1.RNE, NaN: e2m1.NaNSignedZero}
	rneZero    = e2m1.Encoder{Mode: e2m1.RNE, NaN: e2m1.NaNZero}
	allEncoder = []e2m1.Encoder{thr, rne, rneSigned, rneZero}
)

const gpuNaN = 0x7FFFFFFF

func quiet(x float32) float32 { return f32(bitsOf(x) | 0x00400000) }

// refScaled is the value an element takes under scale s, written from SPEC §3
// without the package's arithmetic: the exact quotient x·2^(127−e) rounded
// once to float32, except at the ends where a variant's literal arithmetic
// departs from it.
func refScaled(v Variant, x float32, s Scale) float32 {
	xf := float64(x)
	isNaN, isInf, isZero := math.IsNaN(xf), math.IsInf(xf, 0), xf == 0
	neg := math.Signbit(xf)
	signed := func(mag float64, flip bool) float32 {
		if neg != flip {
			mag = -mag
		}
		return float32(mag)
	}
	if isNaN {
		return quiet(x) // a NaN element propagates in every variant
	}
	switch {
	case v == Triton && s == 0: // x / +0
		if isZero {
			return f32(gpuNaN)
		}
		return signed(math.Inf(1), false)
	case v == Triton && s == 255: // x / +Inf
		if isInf {
			return f32(gpuNaN)
		}
		return signed(0, false)
	case v == CUDA && s == 254: // x · +0
		if isInf {
			return f32(gpuNaN)
		}
		return signed(0, false)
	case v == CUDA && s == 255: // x · −Inf
		if isZero {
			return f32(gpuNaN)
		}
		return signed(math.Inf(1), true)
	case s == 255: // OCP, rp, rz: x / NaN
		return f32(gpuNaN)
	}
	return float32(xf * math.Ldexp(1, 127-int(s))) // exact, then one rounding
}

// literalEnd reports whether (v, s) is an end where the literal arithmetic is
// not the exact quotient.
func literalEnd(v Variant, s Scale) bool {
	switch v {
	case Triton:
		return s == 0 || s == 255
	case CUDA:
		return s >= 254
	}
	return s == 255
}

// TestScaleElementEnds checks the literal ends named in SPEC §3 on specific values.
func TestScaleElementEnds(t *testing.T) {
	cases := []struct {
		v    Variant
		x    float32
		s    Scale
		want uint32
	}{
		{Triton, 1, 0, 0x7F800000},      // 1 / +0
		{Triton, -1e-30, 0, 0xFF800000}, // −x / +0
		{Triton, 0, 0, gpuNaN},          // 0 / 0
		{Triton, 3e38, 255, 0x00000000}, // x / Inf
		{Triton, -3, 255, 0x80000000},   // −x / Inf
		{Triton, inf, 255, gpuNaN},      // Inf / Inf
		{Triton, 6, 1, 0x7F800000},      // x / 2^-126 overflows
		{CUDA, 3e38, 254, 0x00000000},   // x · +0
		{CUDA, -2, 254, 0x80000000},     // −x · +0
		{CUDA, inf, 254, gpuNaN},        // Inf · 0
		{CUDA, 2, 255, 0xFF800000},      // x · −Inf flips the sign
		{CUDA, -inf, 255, 0x7F800000},   // −Inf · −Inf
		{CUDA, 0, 255, gpuNaN},          // 0 · −Inf
		{CUDA, 1, 0, 0x7F000000},        // x · 2^127 = x / 2^-127
		{CUDA, 3, 253, bitsOf(3 * 0x1p-126)},
		{OCPFloor, 1, 255, gpuNaN},
		{HardwareRP, inf, 255, gpuNaN},
		{HardwareRZ, 1, 0, 0x7F000000},             // x / 2^-127
		{OCPFloor, 1, 254, 0x00400000},             // x / 2^127 = 2^-127 (subnormal)
		{OCPFloor, 0x1p-149, 254, 0},               // underflow rounds to +0
		{OCPFloor, 0x1p-149 * 3, 127, 3},           // identity on subnormals
		{Triton, f32(0xFF800001), 128, 0xFFC00001}, // NaN x propagates, quietened, sign kept
		{CUDA, f32(0x7F800005), 255, 0x7FC00005},
		{OCPFloor, f32(0xFFC00007), 255, 0xFFC00007},
	}
	for _, c := range cases {
		if got := bitsOf(c.v.ScaleElement(c.x, c.s)); got != c.want {
			t.Errorf("%v.ScaleElement(0x%08X, %d) = 0x%08X, want 0x%08X", c.v, bitsOf(c.x), c.s, got, c.want)
		}
		if got := bitsOf(refScaled(c.v, c.x, c.s)); got != c.want {
			t.Errorf("refScaled(%v, 0x%08X, %d) = 0x%08X, want 0x%08X", c.v, bitsOf(c.x), c.s, got, c.want)
		}
	}
}

// TestMultiplierIsLiteral proves that the quantizer's fast path (one multiply by
// an exact power of two) is bit-identical to the variant's literal arithmetic
// for every bf16 value and every scale byte where it is used, and that
// ScaleElement matches refScaled everywhere (NaN results compared by sign and
// NaN-ness only where the host may choose the payload).
func TestMultiplierIsLiteral(t *testing.T) {
	for _, v := range Variants() {
		for e := range 256 {
			s := Scale(e)
			f, ok := v.multiplier(s)
			if ok == literalEnd(v, s) {
				t.Errorf("%v scale %d: fast path %v, but literal end %v", v, e, ok, literalEnd(v, s))
			}
			for b := range uint32(1 << 16) {
				x := f32(b << 16)
				lit := v.ScaleElement(x, s)
				if got, want := bitsOf(lit), bitsOf(refScaled(v, x, s)); got != want {
					t.Fatalf("%v.ScaleElement(bf16 0x%04X, %d) = 0x%08X, want 0x%08X", v, b, e, got, want)
				}
				if ok {
					if got := bitsOf(float32(x * f)); got != bitsOf(lit) {
						t.Fatalf("%v scale %d: x·f = 0x%08X but literal 0x%08X for bf16 0x%04X", v, e, got, bitsOf(lit), b)
					}
				}
			}
		}
	}
}

// TestGroupForcedAllBF16 is the quantizer's exhaustive check: every bf16 value
// under every forced scale byte and every variant, in threshold and RNE mode,
// against the exact quotient (or SPEC §3's literal end) fed to
// e2m1.OracleEncode. Each bf16 value visits a different element position for
// each scale. The other two NaN policies differ only on NaN inputs
// (e2m1's tests prove it), so they run on the NaN-producing inputs alone.
func TestGroupForcedAllBF16(t *testing.T) {
	x := make([]float32, GroupSize)
	dst := make([]byte, GroupBytes)
	codes := make([]e2m1.Code, GroupSize)
	for _, v := range Variants() {
		for _, enc := range []e2m1.Encoder{thr, rne} {
			q := Quantizer{Scale: v, Element: enc}
			for e := range 256 {
				s := Scale(e)
				for base := uint32(0); base < 1<<16; base += GroupSize {
					for i := range x {
						x[(i+e)%GroupSize] = f32((base + uint32(i)) << 16)
					}
					if err := q.GroupForced(dst, x, s); err != nil {
						t.Fatal(err)
					}
					if err := e2m1.Unpack(codes, dst); err != nil {
						t.Fatal(err)
					}
					for i, c := range codes {
						if want := e2m1.OracleEncode(refScaled(v, x[i], s), enc); c != want {
							t.Fatalf("%v %v scale %d: x = 0x%08X at %d: code %v, want %v", v, enc, e, bitsOf(x[i]), i, c, want)
						}
					}
				}
			}
		}
	}
	// NaN policies: every input whose scaled value can be NaN (NaN, Inf, 0)
	// at every scale, in both signs.
	special := []float32{qNaN, f32(0xFFC00000), f32(0x7F800001), f32(0xFF812345), inf, negInf, 0, f32(0x80000000)}
	for len(special) < GroupSize {
		special = append(special, float32(len(special))-12)
	}
	for _, v := range Variants() {
		for _, enc := range []e2m1.Encoder{rneSigned, rneZero} {
			q := Quantizer{Scale: v, Element: enc}
			for e := range 256 {
				if err := q.GroupForced(dst, special, Scale(e)); err != nil {
					t.Fatal(err)
				}
				_ = e2m1.Unpack(codes, dst)
				for i, c := range codes {
					if want := e2m1.OracleEncode(refScaled(v, special[i], Scale(e)), enc); c != want {
						t.Fatalf("%v %v scale %d: x = 0x%08X: code %v, want %v", v, enc, e, bitsOf(special[i]), c, want)
					}
				}
			}
		}
	}
}

// refGroup quantizes one group from the oracles alone.
func refGroup(q Quantizer, x []float32) (Scale, []byte) {
	s := OracleFromAmax(q.Scale, refAmax(q.Scale, x))
	codes := make([]e2m1.Code, len(x))
	for i, v := range x {
		codes[i] = e2m1.OracleEncode(refScaled(q.Scale, v, s), q.Element)
	}
	out := make([]byte, len(x)/2)
	if err := e2m1.Pack(out, codes); err != nil {
		panic(err)
	}
	return s, out
}

// randomRow draws rows that stress every path: wide dynamic range per group,
// exact ties after scaling, zeros, subnormals and the occasional Inf or NaN.
func randomRow(r *rand.Rand, x []float32) {
	for g := 0; g < len(x); g += GroupSize {
		k := r.IntN(300) - 150
		kind := r.IntN(8)
		for i := g; i < g+GroupSize; i++ {
			switch {
			case kind == 0:
				x[i] = f32(r.Uint32()) // any bit pattern
			case kind == 1:
				x[i] = float32(math.Ldexp(float64(r.IntN(49)-24)*0.25, k)) // ties at scale 2^k
			case kind == 2:
				x[i] = 0
			default:
				x[i] = float32(math.Ldexp(r.NormFloat64(), k))
			}
			if r.IntN(200) == 0 {
				x[i] = []float32{inf, negInf, qNaN, f32(0xFFC00001), f32(0x80000000), f32(1)}[r.IntN(6)]
			}
		}
	}
}

func allQuantizers() []Quantizer {
	var qs []Quantizer
	for _, v := range Variants() {
		for _, e := range allEncoder {
			qs = append(qs, Quantizer{Scale: v, Element: e})
		}
	}
	return qs
}

// TestRowAgainstOracles compares Row, Rows, RowScales and Group with the
// oracle-only reference on random rows.
func TestRowAgainstOracles(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, RowSize)
	dst := make([]byte, RowBytes)
	for n := range 4000 {
		randomRow(r, x)
		for _, q := range allQuantizers() {
			sf, err := q.Row(dst, x)
			if err != nil {
				t.Fatal(err)
			}
			for g := range RowGroups {
				s, want := refGroup(q, x[g*GroupSize:(g+1)*GroupSize])
				if got := Scale(sf >> (8 * g)); got != s {
					t.Fatalf("row %d %v/%v group %d: scale %v, want %v", n, q.Scale, q.Element, g, got, s)
				}
				if got := dst[g*GroupBytes : (g+1)*GroupBytes]; string(got) != string(want) {
					t.Fatalf("row %d %v/%v group %d: bytes % X, want % X (x = %v)", n, q.Scale, q.Element, g, got, want, x[g*GroupSize:(g+1)*GroupSize])
				}
				gd := make([]byte, GroupBytes)
				gs, err := q.Group(gd, x[g*GroupSize:(g+1)*GroupSize])
				if err != nil || gs != s || string(gd) != string(want) {
					t.Fatalf("Group disagrees with Row: %v %v", gs, err)
				}
			}
		}
	}
	// Rows and RowScales on a batch agree with Row.
	const n = 5
	batch := make([]float32, n*RowSize)
	randomRow(r, batch)
	for _, q := range allQuantizers() {
		got := make([]byte, n*RowBytes)
		sfs := make([]uint32, n)
		if err := q.Rows(got, sfs, batch); err != nil {
			t.Fatal(err)
		}
		got2 := make([]byte, n*RowBytes)
		scales := make([]Scale, n*RowGroups)
		if err := q.RowScales(got2, scales, batch); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			sf, _ := q.Row(dst, batch[i*RowSize:(i+1)*RowSize])
			if sf != sfs[i] || string(dst) != string(got[i*RowBytes:(i+1)*RowBytes]) || string(dst) != string(got2[i*RowBytes:(i+1)*RowBytes]) {
				t.Fatalf("%v: Rows/RowScales row %d differ from Row", q, i)
			}
			for g := range RowGroups {
				if scales[i*RowGroups+g] != Scale(sf>>(8*g)) {
					t.Fatalf("%v: RowScales scale %d differs", q, i*RowGroups+g)
				}
			}
		}
	}
}

// TestEdgeGroups checks SPEC §3's edge rows through the quantizer.
func TestEdgeGroups(t *testing.T) {
	group := func(vals ...float32) []float32 {
		x := make([]float32, GroupSize)
		copy(x, vals)
		return x
	}
	allNaN := make([]float32, GroupSize)
	for i := range allNaN {
		allNaN[i] = qNaN
	}
	cases := []struct {
		name  string
		x     []float32
		want  [5]Scale // CUDA Triton OCP RP RZ
		bytes map[Variant]string
	}{
		{"all zero", group(), [5]Scale{112, 114, 0, 0, 0}, nil},
		{"all NaN", allNaN, [5]Scale{112, 114, 255, 255, 255}, nil},
		{
			// CUDA: inverse scale −Inf flips signs; 0·(−Inf) is NaN → 0x7.
			// Triton: e = 254, Inf / 2^127 = Inf, 1 / 2^127 → 0.
			"+Inf with 1, -1, 0", group(inf, 1, -1, 0), [5]Scale{255, 254, 255, 254, 254},
			map[Variant]string{CUDA: "\xFF\x77", Triton: "\x07\x00"},
		},
		{"-Inf", group(negInf, 2), [5]Scale{255, 254, 255, 254, 254}, map[Variant]string{CUDA: "\xF7", Triton: "\x0F"}},
		{"one NaN among values", group(qNaN, 2), [5]Scale{126, 126, 255, 255, 255}, map[Variant]string{CUDA: "\x67", Triton: "\x67"}},
	}
	dst := make([]byte, GroupBytes)
	for _, c := range cases {
		for i, v := range Variants() {
			s, err := Quantizer{Scale: v}.Group(dst, c.x)
			if err != nil {
				t.Fatal(err)
			}
			if s != c.want[i] {
				t.Errorf("%s: %v scale %d, want %d", c.name, v, s, c.want[i])
			}
			if want, ok := c.bytes[v]; ok && string(dst[:len(want)]) != want {
				t.Errorf("%s: %v bytes % X, want % X", c.name, v, dst[:len(want)], []byte(want))
			}
		}
	}
}

func TestQuantizerErrors(t *testing.T) {
	q := Quantizer{}
	if _, err := q.Group(make([]byte, 16), make([]float32, 31)); err == nil {
		t.Error("Group accepted 31 values")
	}
	if _, err := q.Group(make([]byte, 15), make([]float32, 32)); err == nil {
		t.Error("Group accepted a short dst")
	}
	if err := q.GroupForced(make([]byte, 16), make([]float32, 33), 1); err == nil {
		t.Error("GroupForced accepted 33 values")
	}
	if _, err := q.Row(make([]byte, 64), make([]float32, 96)); err == nil {
		t.Error("Row accepted 96 values")
	}
	if err := q.RowScales(make([]byte, 16), make([]Scale, 1), make([]float32, 33)); err == nil {
		t.Error("RowScales accepted 33 values")
	}
	if err := q.RowScales(make([]byte, 16), make([]Scale, 2), make([]float32, 32)); err == nil {
		t.Error("RowScales accepted a long scales slice")
	}
	if err := q.Rows(make([]byte, 64), make([]uint32, 1), make([]float32, 130)); err == nil {
		t.Error("Rows accepted 130 values")
	}
	if err := q.Rows(make([]byte, 64), make([]uint32, 2), make([]float32, 128)); err == nil {
		t.Error("Rows accepted a long sf slice")
	}
	bad := []Quantizer{{Scale: 5}, {Element: e2m1.Encoder{Mode: 3}}, {Element: e2m1.Encoder{Mode: e2m1.RNE, NaN: 4}}}
	for _, b := range bad {
		if _, err := b.Row(make([]byte, 64), make([]float32, 128)); err == nil {
			t.Errorf("Row accepted invalid %+v", b)
		}
		if err := b.RowScales(nil, nil, nil); err == nil {
			t.Errorf("RowScales accepted invalid %+v", b)
		}
		if err := b.Rows(nil, nil, nil); err == nil {
			t.Errorf("Rows accepted invalid %+v", b)
		}
	}
	if err := q.Rows(nil, nil, nil); err != nil {
		t.Errorf("Rows of no rows: %v", err)
	}
}

func TestDequantize(t *testing.T) {
	src := make([]byte, 2*GroupBytes)
	for i := range src {
		src[i] = byte(i*37 + 11)
	}
	for _, s := range []Scale{0, 1, 100, 127, 128, 200, 253, 254, 255} {
		scales := []Scale{s, 127}
		dst := make([]float32, 2*GroupSize)
		if err := Dequantize(dst, src, scales); err != nil {
			t.Fatal(err)
		}
		for i, got := range dst {
			c := e2m1.Code(src[i/2] >> (4 * (i % 2)) & 0xF)
			sc := scales[i/GroupSize]
			var want float32
			if sc == 255 {
				want = float32(math.NaN())
			} else {
				want = float32(float64(c.Float32()) * math.Ldexp(1, int(sc)-127))
			}
			if (got != got) != (want != want) || (got == got && bitsOf(got) != bitsOf(want)) {
				t.Fatalf("scale %d element %d (code %v): 0x%08X, want 0x%08X", sc, i, c, bitsOf(got), bitsOf(want))
			}
		}
	}
	if err := Dequantize(make([]float32, 32), make([]byte, 16), nil); err == nil {
		t.Error("Dequantize accepted missing scales")
	}
}

func FuzzRow(f *testing.F) {
	f.Fuzz(func(t *testing.T, variant, element uint8, data []byte) {
		q := Quantizer{Scale: Variant(variant % 5), Element: allEncoder[element%4]}
		x := make([]float32, RowSize)
		for i := range x {
			if 4*i+4 <= len(data) {
				x[i] = f32(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24)
			}
		}
		dst := make([]byte, RowBytes)
		sf, err := q.Row(dst, x)
		if err != nil {
			t.Fatal(err)
		}
		for g := range RowGroups {
			s, want := refGroup(q, x[g*GroupSize:(g+1)*GroupSize])
			if Scale(sf>>(8*g)) != s || string(dst[g*GroupBytes:(g+1)*GroupBytes]) != string(want) {
				t.Fatalf("%v/%v group %d: scale %d bytes % X, want %d % X", q.Scale, q.Element, g,
					sf>>(8*g)&0xFF, dst[g*GroupBytes:(g+1)*GroupBytes], s, want)
			}
		}
	})
}

// fastCode is the table kernel's code for one non-NaN float32 pattern.
func fastCode(u uint32, rneMode bool) e2m1.Code {
	if rneMode {
		return fast.rne[rneIndex(u)]
	}
	return fast.threshold[(u+1<<21-1)>>21]
}

// TestFastTables compares the row kernel's index tables with e2m1.OracleEncode
// on non-NaN float32 patterns: every pattern with FP4INDEXER_LONG=1; by
// default every bf16 value with four different low halves, every pattern
// within 2^12 ulps of each threshold, and a stride through the rest.
func TestFastTables(t *testing.T) {
	check := func(u uint32) bool {
		if u&0x7FFFFFFF > 0x7F800000 {
			return true // NaNs never reach the kernel
		}
		v := f32(u)
		if got, want := fastCode(u, false), e2m1.OracleEncode(v, thr); got != want {
			t.Errorf("threshold 0x%08X: kernel %v, oracle %v", u, got, want)
			return false
		}
		if got, want := fastCode(u, true), e2m1.OracleEncode(v, rne); got != want {
			t.Errorf("rne 0x%08X: kernel %v, oracle %v", u, got, want)
			return false
		}
		return true
	}
	if long() {
		bad := make(chan uint32, 1)
		parallelRange(0, 1<<32, 0, func(a, b uint64) {
			for u := a; u < b; u++ {
				if !check(uint32(u)) {
					select {
					case bad <- uint32(u):
					default:
					}
					return
				}
			}
		})
		close(bad)
		return
	}
	for b := range uint32(1 << 16) {
		for _, low := range []uint32{0, 1, 0x8000, 0xFFFF} {
			if !check(b<<16 | low) {
				return
			}
		}
	}
	for _, th := range []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6} {
		for _, sign := range []uint32{0, 1 << 31} {
			c := bitsOf(th) | sign
			for u := c - 1<<12; u <= c+1<<12; u++ {
				if !check(u) {
					return
				}
			}
		}
	}
	for u := uint64(0); u < 1<<32; u += 4093 {
		if !check(uint32(u)) {
			return
		}
	}
}
