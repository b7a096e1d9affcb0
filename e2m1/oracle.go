package e2m1

import "math"

// oracleMagnitudes are the eight E2M1 magnitudes in code order.
var oracleMagnitudes = [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}

// OracleEncode is an independent float64 reference for Encode: slow, for tests
// and sweeps. It shares no code with Encode. Instead of thresholds it searches
// the eight magnitudes for the nearest one to |v| and breaks an exact tie by
// the mode's rule (Threshold: the smaller magnitude; RNE: the even index).
// Values above 6 saturate to 6 in both modes.
//
// The float64 distances are exact wherever they decide: for 2^-24 ≤ |v| ≤ 6,
// |v| is a multiple of 2^-47 below 8, so |v| − m needs at most 50 significant
// bits; for |v| < 2^-24 the distance to 0 is exact and every other distance
// exceeds 0.25 after rounding, so no false tie can arise.
//
// An Encoder with out-of-range fields is treated like Encode treats it.
func OracleEncode(v float32, e Encoder) Code {
	x := float64(v)
	neg := math.Signbit(x)
	rne := e.Mode == RNE
	if math.IsNaN(x) {
		if !rne {
			return 7 // min(NaN, 6) is 6 under fminf, and NaN < 0 is false
		}
		switch e.NaN {
		case NaNSignedZero:
			if neg {
				return 0x0
			}
			return 0x8
		case NaNZero:
			return 0x0
		}
		return 0x7
	}
	a := math.Abs(x)
	idx := 7
	if a <= 6 {
		best, bestDist := 0, a
		for i := 1; i < len(oracleMagnitudes); i++ {
			d := math.Abs(a - oracleMagnitudes[i])
			if d > bestDist {
				break // magnitudes ascend: past the nearest, distances only grow
			}
			if d < bestDist {
				best, bestDist = i, d
				continue
			}
			// An exact tie between best = i-1 and i.
			if rne && i%2 == 0 {
				best = i
			}
			break
		}
		idx = best
	}
	c := Code(idx)
	switch {
	case rne && neg:
		c |= 0x8
	case !rne && neg && idx != 0:
		c |= 0x8
	}
	return c
}
