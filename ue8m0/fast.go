package ue8m0

import (
	"math"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

// The row quantizer's element kernel. It serves groups that hold no NaN,
// scaled by a multiplier f that is a finite non-zero power of two (see
// multiplier), so every scaled value v = fl(x·f) is finite or ±Inf, never NaN.
// For such v the index needs no separate sign handling: with u the bits of v,
//
//	ceil  = (u + 2^21 − 1) >> 21 = sign<<10 | ceil(|v|bits / 2^21)
//	floor =  u >> 21             = sign<<10 | floor(|v|bits / 2^21)
//
// in uint32 arithmetic: |v|bits ≤ 0x7F800000, so adding 2^21 − 1 carries
// neither into the sign bit nor out of the word (a NaN whose magnitude bits
// exceed 0x7FE00000 would, which is why NaNs never come here). As e2m1's
// package doc explains, the seven thresholds are multiples of 2^21, so ceil
// alone decides the strict comparisons of threshold mode, and floor + ceil
// (2k for |v|bits = k·2^21, 2k+1 strictly between k·2^21 and (k+1)·2^21) also
// tells RNE's exact ties apart. The tables are filled by e2m1.Encoder.Encode
// on one representative per index; TestFastTables compares them with
// e2m1.OracleEncode on every non-NaN float32 (FP4INDEXER_LONG=1).
type fastTables struct {
	threshold [1 << 11]e2m1.Code // sign<<10 | ceil
	rne       [1 << 12]e2m1.Code // sign<<11 + floor + ceil
}

// fast is read-only after package initialisation.
var fast = buildFastTables()

func buildFastTables() *fastTables {
	t := new(fastTables)
	thr, rne := e2m1.Encoder{}, e2m1.Encoder{Mode: e2m1.RNE}
	for sign := range uint32(2) {
		// Finite and infinite magnitudes have k = ceil(bits/2^21) ≤ 0x3FC; the
		// remaining indices belong to NaNs and are never read.
		for k := range uint32(0x3FC + 1) {
			top := sign<<31 | k<<21 // the largest magnitude with this ceil: k·2^21
			t.threshold[sign<<10|k] = thr.Encode(math.Float32frombits(top))
			t.rne[sign<<11+2*k] = rne.Encode(math.Float32frombits(top))
			if k < 0x3FC {
				inside := sign<<31 | (k<<21 + 1) // strictly between k·2^21 and (k+1)·2^21
				t.rne[sign<<11+2*k+1] = rne.Encode(math.Float32frombits(inside))
			}
		}
	}
	return t
}

// packGroupThreshold encodes and packs 32 NaN-free values scaled by f, eight
// per step (unrolled by hand: the loop overhead is a fifth of the work).
func packGroupThreshold(dst *[GroupBytes]byte, x *[GroupSize]float32, f float32, t *[1 << 11]e2m1.Code) {
	for i := 0; i < GroupSize; i += 8 {
		x8, d4 := (*[8]float32)(x[i:]), (*[4]byte)(dst[i/2:])
		d4[0] = thresholdPair(t, float32(x8[0]*f), float32(x8[1]*f))
		d4[1] = thresholdPair(t, float32(x8[2]*f), float32(x8[3]*f))
		d4[2] = thresholdPair(t, float32(x8[4]*f), float32(x8[5]*f))
		d4[3] = thresholdPair(t, float32(x8[6]*f), float32(x8[7]*f))
	}
}

// thresholdPair packs the threshold codes of the NaN-free lo and hi.
func thresholdPair(t *[1 << 11]e2m1.Code, lo, hi float32) byte {
	a, b := math.Float32bits(lo), math.Float32bits(hi)
	return byte(t[(a+1<<21-1)>>21]) | byte(t[(b+1<<21-1)>>21])<<4
}

// packGroupRNE encodes and packs 32 NaN-free values scaled by f.
func packGroupRNE(dst *[GroupBytes]byte, x *[GroupSize]float32, f float32, t *[1 << 12]e2m1.Code) {
	for i := 0; i < GroupSize; i += 8 {
		x8, d4 := (*[8]float32)(x[i:]), (*[4]byte)(dst[i/2:])
		d4[0] = rnePair(t, float32(x8[0]*f), float32(x8[1]*f))
		d4[1] = rnePair(t, float32(x8[2]*f), float32(x8[3]*f))
		d4[2] = rnePair(t, float32(x8[4]*f), float32(x8[5]*f))
		d4[3] = rnePair(t, float32(x8[6]*f), float32(x8[7]*f))
	}
}

// rneIndex is sign<<11 + floor + ceil for a non-NaN float32 u.
func rneIndex(u uint32) uint32 { return (u>>21 + (u+1<<21-1)>>21) & (1<<12 - 1) }

// rnePair packs the RNE codes of the NaN-free lo and hi.
func rnePair(t *[1 << 12]e2m1.Code, lo, hi float32) byte {
	return byte(t[rneIndex(math.Float32bits(lo))]) | byte(t[rneIndex(math.Float32bits(hi))])<<4
}
