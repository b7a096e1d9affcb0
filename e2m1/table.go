package e2m1

import "math"

// The seven decision thresholds of SPEC §2, midpoints between neighbouring
// magnitudes. All are exact float32 values whose low 21 significand bits are
// zero (their significands are 1, 1.25, 1.5 or 1.75).
var thresholds = [7]float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5}

// Index scheme. For a non-negative float32, integer order of the bits is value
// order, and every threshold t is a multiple of 2^21 as an integer. Hence, with
// abs the bits without the sign,
//
//	abs > t  ⇔  ceil(abs / 2^21) > t / 2^21,
//
// so k = ceil(abs/2^21) decides every strict comparison (threshold mode). RNE
// also needs abs == t for the ties that round up, which is k = t/2^21 together
// with abs being a multiple of 2^21 (the "exact" bit). k ≤ 0x400; NaNs have
// k ≥ 0x3FD and +Inf shares k = 0x3FC only with finite values above 2^127·1.75,
// all of which encode as ±6 in both modes.
const (
	tieShift = 21
	tieMask  = 1<<tieShift - 1
	absMask  = 0x7FFFFFFF

	tableSize = 1 << 13 // sign<<12 | k<<1 | exact
)

// tableIndex is sign<<12 | k<<1 | exact for the float32 bits u.
func tableIndex(u uint32) uint32 {
	abs := u & absMask
	exact := ((abs & tieMask) - 1) >> 31 // 1 iff the low 21 bits are all zero
	return ((u>>31)<<12 | ((abs+tieMask)>>tieShift)<<1 | exact) & (tableSize - 1)
}

// Read-only lookup tables, filled once at package initialisation by applying
// the SPEC's rules (thresholdRule, rneRule) to one representative of each
// index; never written afterwards: threshold, then RNE under each NaN policy.
var encodeTables = [4][tableSize]Code{
	buildTable(thresholdRule),
	buildTable(func(v float32) Code { return rneRule(v, NaNMax) }),
	buildTable(func(v float32) Code { return rneRule(v, NaNSignedZero) }),
	buildTable(func(v float32) Code { return rneRule(v, NaNZero) }),
}

// table returns e's table: 0 for Threshold (and unknown modes), 1 + policy
// for RNE (unknown policies as NaNMax).
func (e Encoder) table() *[tableSize]Code {
	switch {
	case e.Mode != RNE:
		return &encodeTables[0]
	case e.NaN > NaNZero:
		return &encodeTables[1]
	}
	return &encodeTables[1+e.NaN]
}

func buildTable(rule func(float32) Code) (t [tableSize]Code) {
	for sign := uint32(0); sign < 2; sign++ {
		for k := uint32(0); k <= absMask>>tieShift+1; k++ {
			// exact: abs = k·2^21 (if it exists); inexact: the largest abs below it.
			exact, inexact := uint64(k)<<tieShift, uint64(k)<<tieShift-1
			if k == 0 {
				inexact = 0 // abs = 0 is exact; no inexact value has k = 0
			}
			for _, abs := range [2]uint64{exact, inexact} {
				if abs > absMask {
					abs = absMask // k = 0x400 holds only inexact NaNs
				}
				u := sign<<31 | uint32(abs)
				t[tableIndex(u)] = rule(math.Float32frombits(u))
			}
		}
	}
	return t
}

// thresholdRule is SPEC §2 `threshold` spelled out on floats.
func thresholdRule(v float32) Code {
	a := math.Float32frombits(math.Float32bits(v) & absMask)
	if !(a <= MaxFinite) { // fminf(|v|, 6): NaN gives 6
		a = MaxFinite
	}
	var c Code
	for _, t := range thresholds {
		if a > t {
			c++
		}
	}
	if v < 0 && c != 0 {
		c |= SignMask
	}
	return c
}

// rneRule is cvt.rn.satfinite.e2m1x2.f32 spelled out on floats: threshold i
// lies between idx i and i+1, and a tie goes to whichever is even.
func rneRule(v float32, p NaNPolicy) Code {
	u := math.Float32bits(v)
	if v != v {
		switch p {
		case NaNSignedZero:
			if u>>31 == 0 {
				return SignMask
			}
			return 0
		case NaNZero:
			return 0
		}
		return MagnitudeMask
	}
	a := math.Float32frombits(u & absMask)
	var c Code
	for i, t := range thresholds {
		if a > t || (a == t && (i+1)%2 == 0) {
			c++
		}
	}
	if u>>31 != 0 {
		c |= SignMask
	}
	return c
}
