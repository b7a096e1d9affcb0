package fuzz

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"testing"

	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// The logits target's shape: one query row of 8 heads against up to 4 keys in
// pages of 2 tokens.
const (
	logitHeads    = 8
	logitPageSize = 2
	logitMaxKeys  = 4
)

// e2m1Magnitude is SPEC §2's table, written out again for the oracle.
var e2m1Magnitude = [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}

// dequant64 is the value of code c (a nibble) under scale byte e in float64:
// exact (2^−127·0.5 … 6·2^127 lie well inside float64's range); NaN for 0xFF.
func dequant64(c, e byte) float64 {
	if e == 0xFF {
		return math.NaN()
	}
	v := e2m1Magnitude[c&7] * math.Ldexp(1, int(e)-127)
	if c&8 != 0 {
		v = -v // 0x8 is −0
	}
	return v
}

// exactSum returns the sum of the float64 terms rounded once to float32: in
// float64 while every addition is exact (checked with TwoSum), else in
// math/big. An exact zero is +0 (mqa's documented convention for the exact dot).
func exactSum(terms []float64) float32 {
	var s float64
	exact := true
	for _, t := range terms {
		n := s + t
		bb := n - s
		if e := (s - (n - bb)) + (t - bb); e != 0 || math.IsInf(n, 0) {
			exact = false
			break
		}
		s = n
	}
	if exact {
		if s == 0 {
			return 0
		}
		return float32(s)
	}
	acc, t := new(big.Float).SetPrec(2000), new(big.Float)
	for _, v := range terms {
		acc.Add(acc, t.SetFloat64(v))
	}
	if acc.Sign() == 0 {
		return 0
	}
	v, _ := acc.Float32()
	return v
}

// fmaScratch holds the math/big values of oracleFMA, reused along a chain.
type fmaScratch struct{ x, y big.Float }

// oracleFMA is a·b + c rounded once to float32 (round to nearest even), with
// IEEE specials, computed without the model's FMA: the float64 product of two
// float32 is exact; if the float64 sum is exact too (TwoSum error 0) one
// conversion rounds it, otherwise math/big forms the exact value and rounds it
// once. An exact zero is −0 only when a·b and c are both −0. NaN results are
// canonical.
func (z *fmaScratch) oracleFMA(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	if math.IsNaN(p) || math.IsInf(p, 0) || math.IsNaN(cc) || math.IsInf(cc, 0) {
		r := float32(p + cc) // specials decide the result; no finite rounding matters
		if r != r {
			return f32(canonicalNaN)
		}
		return r
	}
	s := p + cc
	bb := s - p
	if e := (p - (s - bb)) + (cc - bb); e == 0 {
		if s == 0 {
			if math.Signbit(p) && math.Signbit(cc) {
				return float32(math.Copysign(0, -1))
			}
			return 0
		}
		return float32(s)
	}
	z.x.SetPrec(1000).SetFloat64(p)
	z.x.Add(&z.x, z.y.SetFloat64(cc))
	v, _ := z.x.Float32()
	return v
}

func canonical32(x float32) float32 {
	if x != x {
		return f32(canonicalNaN)
	}
	return x
}

// logitCase is one decoded fuzz input.
type logitCase struct {
	d       int       // head dim, 64 or 128
	keys    int       // 1 … 4
	w       []float32 // [8] weights
	qsf     []uint32  // [8] scale words
	ksf     []uint32  // [keys] scale words
	q       []byte    // [8][d/2] packed codes
	k       []byte    // [keys][d/2] packed codes
	pageOfs byte      // scrambles the block table
}

// logitInput decodes: flags (bit 0: D = 128, bits 1–2: keys − 1, bits 3–4:
// block-table rotation), 8 weights and 8 + 4 scale words (little-endian), then
// the query codes and the key codes; missing bytes are zero.
func logitInput(data []byte) logitCase {
	var flags byte
	if len(data) > 0 {
		flags, data = data[0], data[1:]
	}
	c := logitCase{d: 64, keys: int(flags>>1&3) + 1, pageOfs: flags >> 3 & 3}
	if flags&1 != 0 {
		c.d = 128
	}
	next := func(n int) []byte {
		b := make([]byte, n)
		m := copy(b, data)
		data = data[m:]
		return b
	}
	c.w = words(next(4 * logitHeads))
	word := func() uint32 { return binary.LittleEndian.Uint32(next(4)) }
	c.qsf = make([]uint32, logitHeads)
	for h := range c.qsf {
		c.qsf[h] = word()
	}
	c.ksf = make([]uint32, logitMaxKeys)
	for j := range c.ksf {
		c.ksf[j] = word()
	}
	c.ksf = c.ksf[:c.keys]
	c.q = next(logitHeads * c.d / 2)
	c.k = next(c.keys * c.d / 2)
	return c
}

// build lays the case out as DeepGEMM's arguments: the keys in pages of 2 in a
// cache whose block table is rotated and whose unused page is filled with
// 0x77, so a wrong page shows.
func (c logitCase) build() (*mqa.Input, error) {
	l, err := pagedcache.Custom(logitPageSize, c.d/2, 4, pagedcache.PayloadsThenScales)
	if err != nil {
		return nil, err
	}
	blocks := (c.keys + logitPageSize - 1) / logitPageSize
	pages := blocks + 1
	cache, err := pagedcache.NewCachePages(l, pages)
	if err != nil {
		return nil, err
	}
	for i := range cache.Data {
		cache.Data[i] = 0x77
	}
	bt := make([]int32, blocks)
	for b := range bt {
		bt[b] = int32((b + 1 + int(c.pageOfs)) % pages)
	}
	for j := range c.keys {
		payload, scale := cache.Token(int(bt[j/logitPageSize]), j%logitPageSize)
		copy(payload, c.k[j*c.d/2:(j+1)*c.d/2])
		binary.LittleEndian.PutUint32(scale, c.ksf[j])
	}
	qsf := make([]int32, logitHeads)
	for h := range qsf {
		qsf[h] = int32(c.qsf[h])
	}
	return &mqa.Input{
		B: 1, NextN: 1, H: logitHeads,
		QFP4: c.q, QSF: qsf, Cache: cache,
		Weights: c.w, ContextLens: []int32{int32(c.keys)},
		BlockTable: bt, MaxBlocks: blocks, MaxContextLen: c.keys + 1,
	}, nil
}

// operands returns the float64 values of head h of the query and of key j.
func (c logitCase) operands(h, j int) (q, k []float64) {
	q, k = make([]float64, c.d), make([]float64, c.d)
	for i := range c.d {
		g := uint(i / 32)
		qb, kb := c.q[h*c.d/2+i/2], c.k[j*c.d/2+i/2]
		shift := 4 * uint(i%2) // element 2i in the low nibble
		q[i] = dequant64(qb>>shift&0xF, byte(c.qsf[h]>>(8*g)))
		k[i] = dequant64(kb>>shift&0xF, byte(c.ksf[j]>>(8*g)))
	}
	return q, k
}

// oracleDot is SPEC §6's per-head dot product: exact (the true value rounded
// once) or fp32-fma (acc = fma(fl(q̂), fl(k̂), acc) from +0). A NaN scale in a
// group the head dim uses makes the exact dot NaN. For the exact dot, the
// products of one 32-element group share the unit 2^(eq+ek−256) and their sum
// stays below 2^13 units, so the float64 group sums are exact; the (at most
// four) group sums then go to exactSum.
func (c logitCase) oracleDot(z *fmaScratch, h, j int, dot mqa.Dot) float32 {
	q, k := c.operands(h, j)
	if dot == mqa.FP32FMA {
		var acc float32
		for i := range q {
			acc = z.oracleFMA(float32(q[i]), float32(k[i]), acc)
		}
		return canonical32(acc)
	}
	groups := make([]float64, c.d/32)
	for i := range q {
		if math.IsNaN(q[i]) || math.IsNaN(k[i]) {
			return f32(canonicalNaN)
		}
		groups[i/32] += q[i] * k[i] // each product exact: at most 6 significant bits
	}
	return exactSum(groups)
}

// oracleEpilogue is SPEC §6's head sum for FP4, operation by operation.
// sequential: L = fma(relu(a), w, L) with relu(a) = a for a > 0 or NaN, +0
// otherwise. sm100 (DeepGEMM's source): four chains L[h mod 4] =
// fma(fl(a + |a|), w, L), R = fl(fl(L0+L2) + fl(L1+L3)), out = fl(R/2). A sum of
// two float32 in float64 rounded to float32 is correctly rounded (53 ≥ 2·24+2).
func oracleEpilogue(z *fmaScratch, e mqa.Epilogue, a, w []float32) float32 {
	if e == mqa.Sequential {
		var l float32
		for h := range a {
			r := a[h]
			if !(r > 0) && r == r {
				r = 0
			}
			l = z.oracleFMA(r, w[h], l)
		}
		return canonical32(l)
	}
	add := func(x, y float32) float32 { return float32(float64(x) + float64(y)) }
	var l [4]float32
	for h := range a {
		l[h%4] = z.oracleFMA(add(a[h], float32(math.Abs(float64(a[h])))), w[h], l[h%4])
	}
	r := add(add(l[0], l[2]), add(l[1], l[3]))
	return canonical32(float32(float64(r) / 2))
}

var logitOptions = []mqa.Options{
	{Dot: mqa.Exact, Epilogue: mqa.SM100, Workers: 1},
	{Dot: mqa.Exact, Epilogue: mqa.Sequential, Workers: 1},
	{Dot: mqa.FP32FMA, Epilogue: mqa.SM100, Workers: 1},
	{Dot: mqa.FP32FMA, Epilogue: mqa.Sequential, Workers: 1},
}

type logitsModel func(in *mqa.Input, o mqa.Options) ([]float32, error)

// checkLogits compares the model's logits row with the oracle for every
// option; the column past the context length must be −Inf.
func checkLogits(model logitsModel, c logitCase) error {
	in, err := c.build()
	if err != nil {
		return err
	}
	var z fmaScratch
	dots := map[mqa.Dot][][]float32{} // [key][head]
	for _, o := range logitOptions {
		got, err := model(in, o)
		if err != nil {
			return fmt.Errorf("%v/%v: %v", o.Dot, o.Epilogue, err)
		}
		if len(got) != c.keys+1 {
			return fmt.Errorf("%v/%v: %d logits, want %d", o.Dot, o.Epilogue, len(got), c.keys+1)
		}
		if dots[o.Dot] == nil {
			a := make([][]float32, c.keys)
			for j := range a {
				a[j] = make([]float32, logitHeads)
				for h := range a[j] {
					a[j][h] = c.oracleDot(&z, h, j, o.Dot)
				}
			}
			dots[o.Dot] = a
		}
		for j := range c.keys {
			a := dots[o.Dot][j]
			if want := oracleEpilogue(&z, o.Epilogue, a, c.w); !sameBits(got[j], want) {
				return fmt.Errorf("%v/%v D=%d key %d: logit %s, oracle %s (dots %v, weights %v)",
					o.Dot, o.Epilogue, c.d, j, desc(got[j]), desc(want), a, c.w)
			}
		}
		if !math.IsInf(float64(got[c.keys]), -1) {
			return fmt.Errorf("%v/%v: masked column %d = %s, want −Inf", o.Dot, o.Epilogue, c.keys, desc(got[c.keys]))
		}
	}
	return nil
}

// FuzzLogits reads a small FP4 paged MQA problem (SPEC §5, §6).
func FuzzLogits(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := checkLogits(mqa.Logits, logitInput(data)); err != nil {
			t.Fatal(err)
		}
	})
}
