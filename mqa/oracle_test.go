package mqa

import (
	"fmt"
	"math"
	"math/big"

	"github.com/fp4indexer/fp4indexer/fp8"
)

// The oracles below are written from the SPEC's definitions, independently of
// the package: hand-written decode tables, math/big arithmetic, and a rounding
// check that does not trust any float32 conversion.

// oraclePrec holds any sum of FP4 or FP8 products exactly: the terms span at
// most 2^-512 … 2^262.
const oraclePrec = 2048

// handE2M1 is the E2M1 magnitude table of SPEC §2.
var handE2M1 = [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}

// oracleE2M1 is the value of the low nibble of c.
func oracleE2M1(c byte) float64 {
	v := handE2M1[c&7]
	if c&8 != 0 {
		return -v
	}
	return v
}

// oracleE4M3 decodes an OCP E4M3 "fn" byte from its fields; ok is false for NaN.
func oracleE4M3(b byte) (v float64, ok bool) {
	sign, exp, man := b>>7, int(b>>3&0xF), float64(b&7)
	if exp == 15 && man == 7 {
		return 0, false
	}
	if exp == 0 {
		v = man * math.Pow(2, -9)
	} else {
		v = (8 + man) * math.Pow(2, float64(exp-10))
	}
	if sign == 1 {
		v = -v
	}
	return v, true
}

// oracleDotFP4 is the exact value of the FP4 dot product, nan when a scale
// byte of a used group is 0xFF.
func oracleDotFP4(q []byte, qsf uint32, k []byte, ksf uint32) (x *big.Float, nan bool) {
	sum := new(big.Float).SetPrec(oraclePrec)
	for d := 0; d < 2*len(q); d++ {
		g := d / 32
		eq, ek := int(qsf>>(8*g)&0xFF), int(ksf>>(8*g)&0xFF)
		if eq == 255 || ek == 255 {
			return nil, true
		}
		qc, kc := q[d/2]>>(4*(d%2)), k[d/2]>>(4*(d%2))
		qv := new(big.Float).SetPrec(oraclePrec).SetFloat64(oracleE2M1(qc))
		kv := new(big.Float).SetPrec(oraclePrec).SetFloat64(oracleE2M1(kc))
		qv.SetMantExp(qv, eq-127)
		kv.SetMantExp(kv, ek-127)
		sum.Add(sum, qv.Mul(qv, kv))
	}
	return sum, false
}

// oracleDotFP8 is the exact value of the unscaled FP8 dot product.
func oracleDotFP8(q, k []fp8.E4M3) (x *big.Float, nan bool) {
	sum := new(big.Float).SetPrec(oraclePrec)
	for i := range q {
		a, ok1 := oracleE4M3(byte(q[i]))
		b, ok2 := oracleE4M3(byte(k[i]))
		if !ok1 || !ok2 {
			return nil, true
		}
		p := new(big.Float).SetPrec(oraclePrec).SetFloat64(a)
		sum.Add(sum, p.Mul(p, new(big.Float).SetFloat64(b)))
	}
	return sum, false
}

// overflowThreshold is the midpoint between MaxFloat32 and 2^128: values at or
// above it round to Inf (the tie goes to the even 2^128, i.e. Inf).
var overflowThreshold = new(big.Float).SetMantExp(big.NewFloat(2-0x1p-24), 127)

// checkRounded reports whether got is x rounded to the nearest fp32, ties to
// even, subnormals and overflow included, with +0 for an exact zero and −0 for
// a negative value that rounds to zero. It compares the exact distances to got
// and to got's two neighbours, so it trusts no conversion routine.
func checkRounded(x *big.Float, got float32) error {
	if got != got {
		return fmt.Errorf("got NaN for %v", x)
	}
	if x.Sign() == 0 {
		if math.Float32bits(got) != 0 {
			return fmt.Errorf("got %#08x for an exact zero, want +0", math.Float32bits(got))
		}
		return nil
	}
	neg := x.Sign() < 0
	if math.Signbit(float64(got)) != neg {
		return fmt.Errorf("got %g (%#08x), wrong sign for %v", got, math.Float32bits(got), x)
	}
	ax := new(big.Float).Abs(x)
	if math.IsInf(float64(got), 0) {
		if ax.Cmp(overflowThreshold) < 0 {
			return fmt.Errorf("got Inf for %v below the overflow threshold", x)
		}
		return nil
	}
	// Work with magnitudes: g = |got|, its neighbours below and above (2^128
	// stands in for the neighbour above MaxFloat32).
	g := float32(math.Abs(float64(got)))
	below := math.Nextafter32(g, 0)
	exact := func(f float32) *big.Float { return new(big.Float).SetPrec(oraclePrec).SetFloat64(float64(f)) }
	var above *big.Float
	if g == math.MaxFloat32 {
		above = new(big.Float).SetMantExp(big.NewFloat(1), 128)
	} else {
		above = exact(math.Nextafter32(g, float32(math.Inf(1))))
	}
	dist := func(y *big.Float) *big.Float {
		d := new(big.Float).SetPrec(oraclePrec).Sub(ax, y)
		return d.Abs(d)
	}
	dg, dabove := dist(exact(g)), dist(above)
	even := math.Float32bits(g)&1 == 0
	if c := dg.Cmp(dabove); c > 0 || c == 0 && !even {
		return fmt.Errorf("got %g (%#08x) for %v: the value above is nearer or an even tie", got, math.Float32bits(got), x)
	}
	if g != 0 {
		dbelow := dist(exact(below))
		if c := dg.Cmp(dbelow); c > 0 || c == 0 && !even {
			return fmt.Errorf("got %g (%#08x) for %v: the value below is nearer or an even tie", got, math.Float32bits(got), x)
		}
	}
	return nil
}

// round32 is the oracle epilogues' rounding: big.Float's own nearest-even
// conversion (its subnormal handling is checked against checkRounded in
// TestRound32).
func round32(x *big.Float) float32 {
	f, _ := x.Float32()
	return f
}

func bf(f float32) *big.Float { return new(big.Float).SetPrec(oraclePrec).SetFloat64(float64(f)) }

// bigFMA is fl32(a·b + c) for finite operands, with IEEE's zero sign rules
// (an exact zero sum is +0 unless both addends are −0).
func bigFMA(a, b, c float32) float32 {
	p := bf(a)
	p.Mul(p, bf(b))
	return round32(p.Add(p, bf(c)))
}

func bigAdd(a, b float32) float32 { x := bf(a); return round32(x.Add(x, bf(b))) }
func bigMul(a, b float32) float32 { x := bf(a); return round32(x.Mul(x, bf(b))) }
