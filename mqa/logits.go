package mqa

import (
	"math"
	"sync"
	"sync/atomic"
)

// Logits computes the paged MQA logits of SPEC §6: a [B·NextN, MaxContextLen]
// fp32 tensor, row r = b·NextN + t, whose entry j is
// Σ_h w[r,h]·relu(q̂[r,h,:]·k̂[j,:]) as the options round it for
// j < ContextLens[r] and −Inf for every other column. (DeepGEMM itself leaves
// those columns unwritten or filled with "future" and page-0 garbage; its
// consumers mask them, and the model defines them as −Inf, like DeepGEMM's test
// reference.)
//
// The work is split over Options.Workers goroutines by (row, key range); every
// entry is computed by the same sequence of operations whatever the split, so
// the result does not depend on the number of workers.
func Logits(in *Input, o Options) ([]float32, error) {
	if err := check(in, o); err != nil {
		return nil, err
	}
	dst := make([]float32, in.Rows()*in.MaxContextLen)
	run(dst, in, o)
	return dst, nil
}

// LogitsInto is Logits writing into dst, which must hold exactly
// B·NextN·MaxContextLen values.
func LogitsInto(dst []float32, in *Input, o Options) error {
	if err := check(in, o); err != nil {
		return err
	}
	if want := int64(in.Rows()) * int64(in.MaxContextLen); int64(len(dst)) != want {
		return argErr("dst", "length %d, want B·NextN·MaxContextLen = %d", len(dst), want)
	}
	run(dst, in, o)
	return nil
}

func check(in *Input, o Options) error {
	if in == nil {
		return argErr("Input", "nil")
	}
	if err := in.Validate(); err != nil {
		return err
	}
	return o.validate(in.Format(), in.H)
}

// chunkKeys is the number of keys of one work unit: large enough that the
// per-row setup of a kernel (decoding the H query heads) is amortised, small
// enough to balance one long row over all cores.
const chunkKeys = 1024

type unit struct{ row, j0, j1 int }

func run(dst []float32, in *Input, o Options) {
	width := in.MaxContextLen
	negInf := float32(math.Inf(-1))
	var units []unit
	for r := 0; r < in.Rows(); r++ {
		n := int(in.ContextLens[r])
		row := dst[r*width : (r+1)*width]
		for j := n; j < width; j++ {
			row[j] = negInf
		}
		for j0 := 0; j0 < n; j0 += chunkKeys {
			units = append(units, unit{r, j0, min(j0+chunkKeys, n)})
		}
	}
	workers := min(o.workers(), len(units))
	if workers <= 1 {
		k := newKernel(in, o)
		for _, u := range units {
			k.score(dst[u.row*width+u.j0:u.row*width+u.j1], u.row, u.j0)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := newKernel(in, o)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(units) {
					return
				}
				u := units[i]
				k.score(dst[u.row*width+u.j0:u.row*width+u.j1], u.row, u.j0)
			}
		}()
	}
	wg.Wait()
}
