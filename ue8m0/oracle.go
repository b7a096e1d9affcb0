package ue8m0

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// OracleFromAmax is an independent float64 reference for FromAmax: slow, for
// tests and sweeps. It shares no code with FromAmax: logarithms come from
// math.Frexp on float64 values instead of float32 bit fields.
//
// fl32(amax/6) is computed as float32(float64(amax)/6): rounding the float64
// quotient again to float32 is exact rounding of the true quotient, because
// 53 ≥ 2·24+2 makes double rounding innocuous for division (Figueroa), and in
// the float32 subnormal range amax/6 = N·2^-150/3 is either a float64 exactly
// or at least 1/3 of a subnormal step away from every midpoint.
//
// An unknown Variant is treated as CUDA, like FromAmax.
func OracleFromAmax(v Variant, amax float32) Scale {
	a := float64(amax)
	floor := float64(float32(1e-4))
	switch v {
	case Triton:
		raw := float64(float32(a / 6))
		if math.IsNaN(raw) || raw < floor {
			raw = floor
		}
		if math.IsInf(raw, 1) {
			return 254 // ceil_exp(Inf) = 255, clamped
		}
		return Scale(clampInt(127+oracleCeilLog2(raw), 1, 254))
	case OCPFloor:
		a = math.Abs(a)
		switch {
		case math.IsNaN(a) || math.IsInf(a, 1):
			return 0xFF
		case a == 0:
			return 0
		}
		return Scale(clampInt(oracleFloorLog2(a)-2+127, 0, 254))
	case HardwareRP, HardwareRZ:
		a = math.Abs(a)
		if math.IsNaN(a) {
			return 0xFF
		}
		r := float64(float32(a / 6))
		switch {
		case math.IsInf(r, 1):
			return 254
		case r == 0:
			return 0
		case v == HardwareRP:
			return Scale(clampInt(127+oracleCeilLog2(r), 0, 254))
		}
		return Scale(clampInt(127+oracleFloorLog2(r), 0, 254))
	}
	// CUDA: fmaxf(1e-4f, amax) / 6, then uint8(ceil_exp(raw)) with no clamp.
	if math.IsNaN(a) || a < floor {
		a = floor
	}
	raw := float64(float32(a / 6))
	if math.IsInf(raw, 1) {
		return 255 // uint8(255)
	}
	return Scale(uint8(127 + oracleCeilLog2(raw)))
}

// oracleFloorLog2 returns floor(log2 r) for finite r > 0.
func oracleFloorLog2(r float64) int {
	_, exp := math.Frexp(r) // r = frac·2^exp, 0.5 ≤ frac < 1
	return exp - 1
}

// oracleCeilLog2 returns ceil(log2 r) for finite r > 0.
func oracleCeilLog2(r float64) int {
	frac, exp := math.Frexp(r)
	if frac == 0.5 {
		return exp - 1 // a power of two
	}
	return exp
}

func clampInt(x, lo, hi int) int { return min(max(x, lo), hi) }

// AmaxMismatch is one amax on which FromAmax and OracleFromAmax disagree.
type AmaxMismatch struct {
	Bits      uint32 // the float32 amax
	Got, Want Scale  // FromAmax, OracleFromAmax
}

func (m AmaxMismatch) String() string {
	return fmt.Sprintf("amax bits 0x%08X: FromAmax %v, oracle %v", m.Bits, m.Got, m.Want)
}

// SweepResult summarises a SweepAmax.
type SweepResult struct {
	Checked    uint64
	Mismatches uint64
	First      []AmaxMismatch // up to MaxReported, lowest bits first
}

// MaxReported bounds SweepResult.First.
const MaxReported = 16

// SweepAmax compares v.FromAmax with OracleFromAmax on every float32 bit
// pattern in [lo, hi) (hi ≤ 2^32), on workers goroutines (≤ 0: GOMAXPROCS).
// SweepAmax(v, 0, 1<<32, 0) is the exhaustive proof of one variant.
func SweepAmax(v Variant, lo, hi uint64, workers int) (SweepResult, error) {
	if err := v.Validate(); err != nil {
		return SweepResult{}, err
	}
	if lo > hi || hi > 1<<32 {
		return SweepResult{}, fmt.Errorf("ue8m0: SweepAmax: bad range [%#x, %#x)", lo, hi)
	}
	var (
		mu    sync.Mutex
		total SweepResult
	)
	parallelRange(lo, hi, workers, func(a, b uint64) {
		r := SweepResult{Checked: b - a}
		for u := a; u < b; u++ {
			amax := math.Float32frombits(uint32(u))
			got, want := v.FromAmax(amax), OracleFromAmax(v, amax)
			if got != want {
				r.Mismatches++
				if len(r.First) < MaxReported {
					r.First = append(r.First, AmaxMismatch{uint32(u), got, want})
				}
			}
		}
		mu.Lock()
		total.Checked += r.Checked
		total.Mismatches += r.Mismatches
		total.First = append(total.First, r.First...)
		mu.Unlock()
	})
	slices.SortFunc(total.First, func(a, b AmaxMismatch) int { return cmp.Compare(a.Bits, b.Bits) })
	if len(total.First) > MaxReported {
		total.First = total.First[:MaxReported]
	}
	return total, nil
}

// parallelRange calls fn on consecutive chunks of [lo, hi) from workers
// goroutines (≤ 0: GOMAXPROCS) and returns when all are done.
func parallelRange(lo, hi uint64, workers int, fn func(a, b uint64)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 1 << 20
	var (
		mu   sync.Mutex
		next = lo
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				a := next
				next = min(next+chunk, hi)
				mu.Unlock()
				if a >= hi {
					return
				}
				fn(a, min(a+chunk, hi))
			}
		})
	}
	wg.Wait()
}
