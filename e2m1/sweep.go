package e2m1

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Mismatch is one input on which Encode and OracleEncode disagree.
type Mismatch struct {
	Bits      uint32 // the float32 input
	Got, Want Code   // Encode, OracleEncode
}

func (m Mismatch) String() string {
	return fmt.Sprintf("bits 0x%08X: Encode %v, oracle %v", m.Bits, m.Got, m.Want)
}

// SweepResult summarises a Sweep.
type SweepResult struct {
	Checked    uint64     // inputs compared
	Mismatches uint64     // inputs where Encode and OracleEncode differ
	First      []Mismatch // up to MaxReported of them, lowest bits first
}

// MaxReported bounds SweepResult.First.
const MaxReported = 16

// Sweep compares e.Encode with OracleEncode on every float32 bit pattern in
// [lo, hi) (hi ≤ 2^32), split over workers goroutines (workers ≤ 0 means
// GOMAXPROCS). Sweep(e, 0, 1<<32, 0) is the exhaustive proof of one Encoder.
func Sweep(e Encoder, lo, hi uint64, workers int) (SweepResult, error) {
	if err := e.Validate(); err != nil {
		return SweepResult{}, err
	}
	if lo > hi || hi > 1<<32 {
		return SweepResult{}, fmt.Errorf("e2m1: Sweep: bad range [%#x, %#x)", lo, hi)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 1 << 20
	var (
		mu    sync.Mutex
		total SweepResult
		wg    sync.WaitGroup
		next  = lo
	)
	claim := func() (uint64, uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= hi {
			return 0, 0, false
		}
		a := next
		next = min(next+chunk, hi)
		return a, next, true
	}
	for range workers {
		wg.Go(func() {
			for {
				a, b, ok := claim()
				if !ok {
					return
				}
				r := sweepRange(e, a, b)
				mu.Lock()
				total.Checked += r.Checked
				total.Mismatches += r.Mismatches
				total.First = append(total.First, r.First...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(total.First, func(a, b Mismatch) int { return cmp.Compare(a.Bits, b.Bits) })
	if len(total.First) > MaxReported {
		total.First = total.First[:MaxReported]
	}
	return total, nil
}

func sweepRange(e Encoder, lo, hi uint64) SweepResult {
	r := SweepResult{Checked: hi - lo}
	for b := lo; b < hi; b++ {
		v := math.Float32frombits(uint32(b))
		got, want := e.Encode(v), OracleEncode(v, e)
		if got != want {
			r.Mismatches++
			if len(r.First) < MaxReported {
				r.First = append(r.First, Mismatch{uint32(b), got, want})
			}
		}
	}
	return r
}
