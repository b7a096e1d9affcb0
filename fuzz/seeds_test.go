package fuzz

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/<Target>/ from the seed tables")

// seed is one corpus file: a named pitfall and the fuzz input that hits it.
type seed struct {
	name string
	data []byte
}

var (
	negZero = float32(math.Copysign(0, -1))
	posInf  = float32(math.Inf(1))
	negInf  = float32(math.Inf(-1))
)

// nanPayloads are NaNs of both signs, quiet and signalling, with the smallest,
// largest and canonical payloads.
var nanPayloads = []uint32{
	0x7FC00000, 0x7FC00001, 0x7F800001, 0x7FFFFFFF, 0x7FA00000,
	0xFFC00000, 0xFF800001, 0xFFFFFFFF,
}

// around returns v, −v and their neighbours one ulp down and up.
func around(v float32) []float32 {
	return []float32{v, -v, nextDown(v), nextUp(v), -nextDown(v), -nextUp(v)}
}

func pow2(k int) float32 { return float32(math.Ldexp(1, k)) }

// e2m1Seeds: every threshold of SPEC §2 (0.25 … 5, the ties) with its
// neighbours, the eight magnitudes, both zeros, negatives that round to zero,
// subnormals, saturation, infinities and NaN payloads.
func e2m1Seeds() []seed {
	var s []seed
	for _, t := range []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5} {
		s = append(s, seed{fmt.Sprintf("tie-%g", t), le(around(t)...)})
	}
	return append(s,
		seed{"magnitudes", le(0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.5, -1, -1.5, -2, -3, -4, -6)},
		seed{"zeros", le(0, negZero)},
		seed{"negative-to-zero", le(-0x1p-149, -0.1, -0.25, -nextDown(0.25), -nextUp(0.25), -0x1p-126)},
		seed{"subnormals", leBits(0x00000001, 0x007FFFFF, 0x00400000, 0x80000001, 0x807FFFFF, 0x80400000)},
		seed{"saturation", le(6, nextDown(6), nextUp(6), -nextUp(6), 6.5, 100, math.MaxFloat32, -math.MaxFloat32)},
		seed{"inf", le(posInf, negInf)},
		seed{"nan-payloads", leBits(nanPayloads...)},
		// The element encoder sees scaled values: a tie times a power of two
		// is an ordinary value (0.375, 0.875) or another magnitude (1.5, 3).
		seed{"ties-times-powers", le(0.375, 0.875, 1.5, 3, 7, 0.125, -0.375, -0.875)},
	)
}

// ue8m0Seeds: amax = 3·2^k and 6·2^k ± 1 ulp (fl(amax/6) a power of two: the
// ceil boundary), the 1e-4 floors of both kernel variants, 6·2^−14 ± 1 ulp (the
// cuda/triton boundary), amaxes giving scale bytes 0, 1, 254 and 255, zeros,
// subnormals, infinities, NaN payloads, negatives and the largest floats.
func ue8m0Seeds() []seed {
	pow2Quotients := func(ks ...int) []float32 {
		var x []float32
		for _, k := range ks {
			x = append(x, around(6 * pow2(k))[:4]...)
		}
		return x
	}
	floor := float32(1e-4)
	tritonFloor := float32(6e-4) // fl(amax/6) meets 1e-4f near here
	return []seed{
		{"pow2-quotient-tiny", le(pow2Quotients(-16, -15, -14, -13, -12)...)},
		{"pow2-quotient-unit", le(pow2Quotients(-2, -1, 0, 1, 2)...)},
		{"pow2-quotient-large", le(pow2Quotients(60, 100, 124, 125)...)},
		{"three-times-pow2", le(3, 1.5, 0.75, 3*pow2(-15), 3*pow2(20), nextUp(3), nextDown(3))},
		{"agree-boundary", le(around(6 * pow2(-14))[:4]...)},
		{"floor-1e-4", le(floor, nextDown(floor), nextUp(floor), tritonFloor, nextDown(tritonFloor), nextUp(tritonFloor),
			nextUp(nextUp(tritonFloor)), nextDown(nextDown(tritonFloor)))},
		{"scale-0", le(pow2(-126), pow2(-125), nextDown(pow2(-124)), 6*pow2(-127), 0x1p-130)},
		{"scale-1", le(pow2(-124), nextUp(6*pow2(-127)), 6*pow2(-126), 0x1p-123)},
		{"scale-254-255", le(posInf, math.MaxFloat32, nextDown(math.MaxFloat32), 6*pow2(125))},
		{"zeros", le(0, negZero)},
		{"subnormals", leBits(0x00000001, 0x007FFFFF, 0x00400000, 0x00600000, 0x80000001)},
		{"inf", le(posInf, negInf)},
		{"nan-payloads", leBits(nanPayloads...)},
		{"negative", le(-1, -6, -6*pow2(-14), -math.MaxFloat32, -floor)},
	}
}

// quantSeed is a forced scale byte and a group (padded to 32 with zeros).
func quantSeed(name string, forced byte, x ...float32) seed {
	g := make([]float32, 32)
	copy(g, x)
	return seed{name, cat([]byte{forced}, le(g...))}
}

func quantSeeds() []seed {
	ties := []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 6, -0.25, -0.75, -1.25, -1.75, -2.5, -3.5, -5, -6,
		0, negZero, -0.1, 0.5, 1, 1.5, 2, 3, 4, 7, -7, nextUp(0.75), nextDown(1.75), nextUp(3.5), 0.125, -0.125}
	scaled := func(k int) []float32 {
		x := make([]float32, len(ties))
		for i, v := range ties {
			x[i] = v * pow2(k)
		}
		return x
	}
	nan := f32(0x7FC00000)
	var nans []float32
	for range 32 {
		nans = append(nans, nan)
	}
	maxLast := make([]float32, 32)
	for i := range maxLast {
		maxLast[i] = 0.5
	}
	maxLast[31] = 6
	return []seed{
		quantSeed("ties-scale-1", 127, ties...),
		quantSeed("ties-scaled-2^10", 137, scaled(10)...),
		quantSeed("ties-scaled-2^-20", 107, scaled(-20)...),
		quantSeed("nan-element", 255, 1, nan, -2, 3, f32(0xFFC00001), 0.75),
		quantSeed("all-nan", 112, nans...),
		quantSeed("all-zero", 0, negZero),
		quantSeed("negative-zeros", 1, negZero, -0x1p-149, -0.1, -1e-30),
		quantSeed("inf-element", 254, posInf, 1, -1, 0, 3, 1e38),
		quantSeed("neg-inf-element", 255, negInf, 1, 0, 0.75),
		quantSeed("amax-6x2^-14", 114, 6*pow2(-14), 3*pow2(-14), 0.75*pow2(-14), -1.75*pow2(-14)),
		quantSeed("amax-6x2^-14-up", 114, nextUp(6*pow2(-14)), 3*pow2(-14), 0.75*pow2(-14)),
		quantSeed("amax-6x2^-14-down", 113, nextDown(6*pow2(-14)), 0.75*pow2(-15)),
		quantSeed("amax-floor-1e-4", 112, 1e-4, nextUp(1e-4), -1e-5),
		quantSeed("amax-6e-4", 114, 6e-4, nextUp(6e-4), 1e-4),
		quantSeed("forced-0", 0, 0x1p-128, 0, negZero, 1, -0x1p-149, 0x1p-127, 0.75*pow2(-127)),
		quantSeed("forced-1", 1, 0.75*pow2(-126), 1.75*pow2(-126), 0x1p-149, 6*pow2(-126), nextUp(3.5*pow2(-126))),
		quantSeed("forced-254", 254, pow2(127), 0.75*pow2(127), 1.75*pow2(127), posInf, negInf, 1, 0, negZero),
		quantSeed("forced-255", 255, 0, negZero, 1, -1, posInf, negInf, 0x1p-149),
		quantSeed("subnormals", 0, 0x1p-149, -0x1p-149, 0x1p-127, 0x1.8p-127, 0x1p-140),
		quantSeed("max-last", 127, maxLast...),
		quantSeed("huge", 253, math.MaxFloat32, -math.MaxFloat32, 6*pow2(125), 1),
	}
}

func bf16Seeds() []seed {
	return []seed{
		// Low half 0x8000 exactly: a tie; kept lsb even stays, odd rounds up.
		{"ties", leBits(0x3F808000, 0x3F818000, 0xBF808000, 0xBF818000, 0x40490000|0x8000, 0x3F7F8000)},
		{"near-ties", leBits(0x3F807FFF, 0x3F808001, 0x3F817FFF, 0x3F818001)},
		{"overflow", leBits(0x7F7F8000, 0x7F7F7FFF, 0x7F7FFFFF, 0x7F7F0000, 0xFF7F8000, 0xFF7FFFFF)},
		{"subnormal-ties", leBits(0x00008000, 0x00018000, 0x00007FFF, 0x80008000, 0x80018000, 0x007F8000, 0x007FFFFF)},
		{"zeros", le(0, negZero)},
		{"inf", le(posInf, negInf)},
		// 0x7F800001 truncates to +Inf, 0x7FFF8000 overflows an add-and-shift.
		{"nan-payloads", leBits(append(nanPayloads, 0x7FFF8000, 0x7F808000, 0xFF800001)...)},
		{"normal", le(1, -2.5, math.Pi, 1e-20, -3e30)},
	}
}

func e4m3Seeds() []seed {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	return []seed{
		// 464 is the midpoint of 448 and the would-be 480: ties to even 448.
		{"overflow-edge", le(448, 464, nextUp(464), nextDown(464), 480, 496, 1e6, -464, -nextUp(464), math.MaxFloat32)},
		{"ties-normal", le(1.0625, 1.1875, -1.0625, 17, 19, 0.01953125*1.0625)},
		{"subnormal-ties", le(0x1p-10, 3*0x1p-10, 5*0x1p-10, 15*0x1p-10, -0x1p-10, nextUp(0x1p-10), 0x1p-11)},
		{"min-normal", le(0x1p-6, nextDown(0x1p-6), 0x1.ep-7, -0x1p-6)},
		{"zeros", le(0, negZero, -0x1p-30)},
		{"inf", le(posInf, negInf)},
		{"nan-payloads", leBits(nanPayloads...)},
		{"float32-subnormals", leBits(0x00000001, 0x807FFFFF, 0x00400000)},
		{"all-bytes", all},
	}
}

// hadamardSeed is a size exponent and float32 values.
func hadamardSeed(name string, k byte, x ...float32) seed {
	return seed{name, cat([]byte{k}, le(x...))}
}

func hadamardSeeds() []seed {
	n := func(k int, f func(i int) float32) []float32 {
		x := make([]float32, 1<<k)
		for i := range x {
			x[i] = f(i)
		}
		return x
	}
	ints := make([]byte, 257)
	ints[0] = 7
	for i := 1; i < len(ints); i++ {
		ints[i] = byte(i * 37) // signed bytes across [−128, 127]
	}
	extreme := make([]byte, 257)
	extreme[0] = 8
	for i := 1; i < len(extreme); i++ {
		extreme[i] = 0x80 // −128 everywhere: the largest partial sums
	}
	return []seed{
		{"n1", cat([]byte{0}, le(3.5))},
		hadamardSeed("n2", 1, 1, nextUp(1)),
		hadamardSeed("n128-ones", 7, n(7, func(int) float32 { return 1 })...),
		hadamardSeed("n128-kernel-like", 7, n(7, func(i int) float32 { return float32(math.Sin(float64(i))) * 3 })...),
		hadamardSeed("n256-cancellation", 8, n(8, func(i int) float32 {
			if i%2 == 0 {
				return 1e30
			}
			return -1e30 + float32(i)
		})...),
		hadamardSeed("n64-wide-range", 6, n(6, func(i int) float32 { return pow2(i*4 - 120) })...),
		hadamardSeed("n4-nan", 2, 1, f32(0x7FC00001), 2, 3),
		hadamardSeed("n8-inf", 3, posInf, 1, 2, 3),
		hadamardSeed("n8-inf-minus-inf", 3, posInf, negInf, 1, 0),
		hadamardSeed("n16-overflow", 4, n(4, func(int) float32 { return 0x1p124 })...),
		hadamardSeed("n32-subnormals", 5, n(5, func(i int) float32 { return f32(uint32(i*7919) & 0x807FFFFF) })...),
		hadamardSeed("n16-signed-zeros", 4, n(4, func(i int) float32 {
			if i%3 == 0 {
				return negZero
			}
			return 0
		})...),
		{"n128-integers", ints},
		{"n256-integers-extreme", extreme},
	}
}

// ropeQuad is one (xr, xi, c, s) pair.
func ropeQuad(xr, xi, c, s float32) []byte { return le(xr, xi, c, s) }

func ropeSeeds() []seed {
	c1, s1 := float32(math.Cos(1)), float32(math.Sin(1))
	var table []byte
	for k := range 32 {
		theta := float64(k+1) * 0.7
		table = append(table, ropeQuad(float32(k)-15.5, float32(k*k)/7, float32(math.Cos(theta)), float32(math.Sin(theta)))...)
	}
	return []seed{
		{"identity", cat(ropeQuad(1.5, -2.25, 1, 0), ropeQuad(negZero, 3, 1, 0), ropeQuad(negZero, -3, 1, 0))},
		{"quarter-turn", ropeQuad(1.5, -2.25, 0, 1)},
		{"unit-angle", cat(ropeQuad(1, 1, c1, s1), ropeQuad(0.3, -7, c1, -s1))},
		// xr·c and xi·s almost equal: the result is all rounding error.
		{"cancellation", cat(ropeQuad(1, nextUp(1), 0.7, 0.7), ropeQuad(3, 3, nextUp(0.1), 0.1))},
		{"nan", cat(ropeQuad(f32(0x7FC00000), 1, c1, s1), ropeQuad(1, 1, f32(0xFF800001), s1), ropeQuad(1, 1, c1, f32(0x7FFFFFFF)))},
		{"inf", cat(ropeQuad(posInf, 1, c1, s1), ropeQuad(1, 1, 0, negInf))},
		{"subnormal-products", cat(ropeQuad(0x1p-75, 0x1p-76, 0x1p-75, 0x1p-74), ropeQuad(0x1p-149, -0x1p-149, 0.5, 0.5))},
		{"large", cat(ropeQuad(0x1p100, -0x1p100, c1, s1), ropeQuad(0x1p126, 0x1p126, 1, 1))},
		{"table-64-dims", table},
	}
}

// logitSeed encodes a logitCase the way logitInput decodes it.
func logitSeed(name string, c logitCase) seed {
	flags := byte(c.keys-1)<<1 | c.pageOfs<<3
	if c.d == 128 {
		flags |= 1
	}
	var b bytes.Buffer
	b.WriteByte(flags)
	b.Write(le(c.w...))
	for _, w := range c.qsf {
		binary.Write(&b, binary.LittleEndian, w)
	}
	for j := range logitMaxKeys {
		var w uint32
		if j < len(c.ksf) {
			w = c.ksf[j]
		}
		binary.Write(&b, binary.LittleEndian, w)
	}
	b.Write(c.q)
	b.Write(c.k)
	return seed{name, b.Bytes()}
}

// newLogitCase fills codes with a pattern and every scale byte with e.
func newLogitCase(d, keys int, e byte, code func(i int) byte) logitCase {
	c := logitCase{d: d, keys: keys, w: make([]float32, logitHeads), qsf: make([]uint32, logitHeads), ksf: make([]uint32, keys),
		q: make([]byte, logitHeads*d/2), k: make([]byte, keys*d/2)}
	word := uint32(e) * 0x01010101
	for h := range c.qsf {
		c.qsf[h] = word
		c.w[h] = float32(h+1) / 4
	}
	for j := range c.ksf {
		c.ksf[j] = word
	}
	for i := range c.q {
		c.q[i] = code(i)
	}
	for i := range c.k {
		c.k[i] = code(i * 7)
	}
	return c
}

func logitSeeds() []seed {
	mixed := func(i int) byte { return byte(i*29 + i>>3) }
	ones := func(int) byte { return 0x22 }
	var s []seed
	s = append(s, logitSeed("ones-d128", newLogitCase(128, 4, 127, ones)))
	s = append(s, logitSeed("mixed-d64", newLogitCase(64, 3, 127, mixed)))
	c := newLogitCase(128, 4, 120, mixed)
	c.pageOfs = 1
	for h := range c.qsf {
		c.qsf[h] = 0x7F7E7D7C + uint32(h) // distinct group scales
	}
	s = append(s, logitSeed("distinct-group-scales", c))
	c = newLogitCase(128, 2, 127, mixed)
	c.qsf[3] = 0x7FFF7F7F // a NaN scale in group 2
	s = append(s, logitSeed("nan-scale", c))
	c = newLogitCase(64, 2, 127, mixed)
	c.ksf[1] = 0xFFFF7F7F // NaN in bytes 2 and 3: padding at D = 64, never read
	s = append(s, logitSeed("nan-scale-unused-d64", c))
	c = newLogitCase(64, 4, 127, mixed)
	c.w[2], c.w[5] = f32(0x7FC00000), posInf
	s = append(s, logitSeed("nan-inf-weights", c))
	c = newLogitCase(128, 4, 127, mixed)
	for h := range c.w {
		c.w[h] = -c.w[h]
	}
	s = append(s, logitSeed("negative-weights", c))
	c = newLogitCase(128, 2, 127, mixed)
	for h := range c.qsf {
		c.qsf[h] = 0x00FE00FE // 2^−127 and 2^127 groups: a spread float64 cannot sum exactly
	}
	s = append(s, logitSeed("wide-spread", c))
	s = append(s, logitSeed("overflow", newLogitCase(128, 2, 254, func(int) byte { return 0x77 })))
	s = append(s, logitSeed("subnormal-results", newLogitCase(64, 2, 1, mixed)))
	s = append(s, logitSeed("underflow-to-zero", newLogitCase(64, 1, 0, mixed)))
	// q = (+1, −1, …), k = (+1, +1, …): every dot cancels to exactly zero.
	c = newLogitCase(64, 2, 127, func(int) byte { return 0x22 })
	for i := range c.q {
		c.q[i] = 0xA2
	}
	s = append(s, logitSeed("cancellation", c))
	s = append(s, logitSeed("negative-zero-codes", newLogitCase(64, 2, 127, func(i int) byte { return 0x88 })))
	return s
}

// seedTables maps every target of this package to its seeds.
func seedTables() map[string][]seed {
	return map[string][]seed{
		"FuzzE2M1":      e2m1Seeds(),
		"FuzzUE8M0":     ue8m0Seeds(),
		"FuzzQuantizer": quantSeeds(),
		"FuzzBF16":      bf16Seeds(),
		"FuzzE4M3":      e4m3Seeds(),
		"FuzzHadamard":  hadamardSeeds(),
		"FuzzRoPE":      ropeSeeds(),
		"FuzzLogits":    logitSeeds(),
	}
}

// TestSeedCorpus checks that testdata/fuzz holds every seed of the tables, byte
// for byte (with -update-seeds it writes them). Files beyond the tables are
// allowed: inputs the fuzzer found and someone kept.
func TestSeedCorpus(t *testing.T) {
	for target, seeds := range seedTables() {
		if *updateSeeds {
			if err := os.MkdirAll(corpusDir(target), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		names := map[string]bool{}
		for _, s := range seeds {
			if names[s.name] {
				t.Errorf("%s: seed name %q twice", target, s.name)
			}
			names[s.name] = true
			path := filepath.Join(corpusDir(target), s.name)
			want := encodeCorpusFile(s.data)
			if *updateSeeds {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: missing seed %s (run go test ./fuzz -run TestSeedCorpus -update-seeds): %v", target, s.name, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: seed %s differs from the table (run with -update-seeds)", target, s.name)
			}
		}
	}
}
