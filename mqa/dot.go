package mqa

import (
	"math"
	"math/big"

	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/internal/fma"
)

// GroupSize is the number of E2M1 elements that share one UE8M0 scale.
const GroupSize = 32

// DotFP4 returns the dot product a = q̂·k̂ of one FP4 query head and one FP4
// key: q and k are packed E2M1 (D/2 bytes each, D ∈ {64, 128}), qsf and ksf
// their scale words (byte g = exponent of group g). A NaN scale byte (0xFF) in
// any group of either operand gives NaN (the canonical 0x7FFFFFFF), even where
// the group's elements are zero: the value is NaN·0.
//
// Exact: the true value, rounded once to fp32. Per group the products of
// 2·E2M1 values are integers with |Σ| ≤ 32·144 < 2^13; the value is
// Σ_g S_g·2^(eq_g + ek_g − 256). When the nonzero terms span at most 38 binades
// the float64 sum is exact (every partial sum is an integer multiple of the
// smallest term below 2^53) and one conversion rounds it; otherwise the sum is
// formed exactly with math/big and rounded once by big.Float.Float32.
//
// FP32FMA: acc = +0; acc = fma(q̂[d], k̂[d], acc) for d = 0..D−1, where
// q̂ = fl(value · 2^(e−127)) (see FP32FMA).
func DotFP4(q []byte, qsf uint32, k []byte, ksf uint32, d Dot) (float32, error) {
	if len(q) != 32 && len(q) != 64 {
		return 0, argErr("q", "length %d bytes, want D/2 with D = 64 or 128", len(q))
	}
	if len(k) != len(q) {
		return 0, argErr("k", "length %d bytes, want %d (the query's)", len(k), len(q))
	}
	switch d {
	case Exact:
		return dotFP4Exact(q, qsf, k, ksf), nil
	case FP32FMA:
		return dotFP4FMA(q, qsf, k, ksf), nil
	}
	return 0, argErr("Dot", "unknown value %d", uint8(d))
}

// DotFP8 returns the unscaled dot product of one FP8 query head and one FP8 key
// (D = len(q) ∈ {32, 64, 128}); the key's scale is applied by the epilogue. A NaN
// element gives NaN (canonical).
//
// Exact: E4M3 values are multiples of 2^−9 of magnitude ≤ 448, so every product
// is a multiple of 2^−18 below 2^18 and a sum of 128 of them is an integer
// multiple of 2^−18 below 2^25, i.e. below 2^43 units: the float64 sum is exact
// in any order, and one conversion rounds it to fp32.
//
// FP32FMA: acc = +0; acc = fma(q[d], k[d], acc). Each product of two E4M3
// values (≤ 8 significant bits, exponents within 2^−18…2^18) is exact in fp32,
// so each step is fl(acc + q·k).
func DotFP8(q, k []fp8.E4M3, d Dot) (float32, error) {
	if len(q) != 32 && len(q) != 64 && len(q) != 128 {
		return 0, argErr("q", "length %d, want D = 32, 64 or 128", len(q))
	}
	if len(k) != len(q) {
		return 0, argErr("k", "length %d, want %d (the query's)", len(k), len(q))
	}
	switch d {
	case Exact:
		var s float64
		for i := range q {
			s += e4m3Value64[q[i]] * e4m3Value64[k[i]]
		}
		return canonical(float32(s)), nil
	case FP32FMA:
		var acc float32
		for i := range q {
			acc = fma.FMA32(e4m3Value[q[i]], e4m3Value[k[i]], acc)
		}
		return canonical(acc), nil
	}
	return 0, argErr("Dot", "unknown value %d", uint8(d))
}

func dotFP4Exact(q []byte, qsf uint32, k []byte, ksf uint32) float32 {
	groups := len(q) * 2 / GroupSize
	var s [4]int32
	var e [4]int
	for g := 0; g < groups; g++ {
		eq, ek := int(qsf>>(8*g)&0xFF), int(ksf>>(8*g)&0xFF)
		if eq == nanScale || ek == nanScale {
			return math.Float32frombits(canonicalNaN)
		}
		var sum int32
		for i := g * GroupSize / 2; i < (g+1)*GroupSize/2; i++ {
			a, b := e2m1PairTwice[q[i]], e2m1PairTwice[k[i]]
			sum += int32(a[0])*int32(b[0]) + int32(a[1])*int32(b[1])
		}
		s[g], e[g] = sum, eq+ek-256
	}
	return combineExact(s[:groups], e[:groups])
}

// maxExactSpread is the largest spread of exponents (in binades) between the
// nonzero group terms for which their float64 sum is exact: each |S_g| < 2^13,
// four of them sum below 2^15, so the sum in units of the smallest term stays
// below 2^(15+38) = 2^53.
const maxExactSpread = 38

// combineExact returns fl32(Σ_g s[g]·2^e[g]), rounded once, for at most four
// terms with |s[g]| < 2^13 and e[g] in [−256, 252] (the FP4 group sums in units
// of 1/4 and their combined scale exponents). An exact zero is +0.
func combineExact(s []int32, e []int) float32 {
	lo, hi, nonzero := 0, 0, false
	for g := range s {
		if s[g] == 0 {
			continue
		}
		if !nonzero {
			lo, hi, nonzero = e[g], e[g], true
			continue
		}
		lo, hi = min(lo, e[g]), max(hi, e[g])
	}
	if !nonzero {
		return 0
	}
	if hi-lo <= maxExactSpread {
		var x float64
		for g := range s {
			x += float64(s[g]) * pow2(e[g])
		}
		return float32(x)
	}
	return combineBig(s, e, lo)
}

// combineBig forms the exact sum as an integer times 2^lo and rounds it once.
func combineBig(s []int32, e []int, lo int) float32 {
	n, t := new(big.Int), new(big.Int)
	for g := range s {
		if s[g] != 0 {
			t.SetInt64(int64(s[g]))
			n.Add(n, t.Lsh(t, uint(e[g]-lo)))
		}
	}
	if n.Sign() == 0 {
		return 0
	}
	f := new(big.Float).SetInt(n) // precision max(64, bit length): exact
	f.SetMantExp(f, lo)
	v, _ := f.Float32() // round to nearest even, fp32 subnormals and overflow included
	return v
}

func dotFP4FMA(q []byte, qsf uint32, k []byte, ksf uint32) float32 {
	var acc float32
	for i := range q {
		g := uint(i * 2 / GroupSize)
		sq, sk := ue8m0Value[qsf>>(8*g)&0xFF], ue8m0Value[ksf>>(8*g)&0xFF]
		for n := 0; n < 2; n++ {
			cq, ck := q[i]>>(4*n)&0xF, k[i]>>(4*n)&0xF
			qv := float32(e2m1Value[cq] * sq)
			kv := float32(e2m1Value[ck] * sk)
			acc = fma.FMA32(qv, kv, acc)
		}
	}
	return canonical(acc)
}
