package indexer

import (
	"math"
	"slices"

	"github.com/fp4indexer/fp4indexer/mqa"
)

// massScales are the temperatures of the attention-mass sweep, as multiples of
// SimConfig.Temperature.
var massScales = [...]float64{0.25, 0.5, 1, 2, 4}

// measureRow compares the FP8 and FP4 logits of one query with the reference
// (all three over the row's valid keys, len(ref)). It also returns the mass the
// reference, FP8 and FP4 top-k sets keep at each temperature of massScales.
func measureRow(ref, fp8, fp4 []float32, k int, temp float64) (SimRow, [len(massScales)][3]float64, error) {
	var sweep [len(massScales)][3]float64
	n := len(ref)
	tops := make([][]int, 3)
	for i, x := range [][]float32{ref, fp8, fp4} {
		top, err := mqa.TopK(x, n, k)
		if err != nil {
			return SimRow{}, sweep, err
		}
		tops[i] = top
	}
	for s, scale := range massScales {
		p := softmax(ref, temp*scale)
		for i, top := range tops {
			sweep[s][i] = massOf(p, top)
		}
	}
	const unit = 2 // massScales[unit] == 1
	refRanks := avgRanks(ref)
	row := SimRow{K: len(tops[0]), Pages: (n + pageSizeSim - 1) / pageSizeSim, RefMass: Num(sweep[unit][0])}
	for i, got := range [][]float32{fp8, fp4} {
		cd, err := mqa.CalcDiff(got, ref, nil)
		if err != nil {
			return SimRow{}, sweep, err
		}
		f := SimForm{
			Recall:   Num(mqa.Recall(tops[i+1], tops[0])),
			Spearman: Num(pearson(avgRanks(got), refRanks)),
			CalcDiff: Num(cd),
			Mass:     Num(sweep[unit][i+1]),
		}
		if i == 0 {
			row.FP8 = f
		} else {
			row.FP4 = f
		}
	}
	return row, sweep, nil
}

// softmax returns exp((x_j − max x)/temp) / Σ, in float64 and index order. A
// non-finite logit makes every share NaN.
func softmax(x []float32, temp float64) []float64 {
	p := make([]float64, len(x))
	hi := math.Inf(-1)
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			for i := range p {
				p[i] = math.NaN()
			}
			return p
		}
		hi = max(hi, float64(v))
	}
	var z float64
	for i, v := range x {
		p[i] = math.Exp((float64(v) - hi) / temp)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
	}
	return p
}

func massOf(p []float64, idx []int) float64 {
	var s float64
	for _, i := range idx {
		s += p[i]
	}
	return s
}

// orderKey maps a float32 to a uint32 whose unsigned order is the numeric
// order (−0 and +0 equal; NaN above +Inf).
func orderKey(v float32) uint32 {
	if v != v {
		return math.MaxUint32
	}
	if v == 0 {
		v = 0
	}
	b := math.Float32bits(v)
	if b>>31 != 0 {
		return ^b
	}
	return b | 1<<31
}

// avgRanks returns the rank (1-based) of every element, ties sharing the mean of
// the ranks they span: the ranks of Spearman's coefficient.
func avgRanks(x []float32) []float64 {
	keys := make([]uint64, len(x))
	for i, v := range x {
		keys[i] = uint64(orderKey(v))<<32 | uint64(i)
	}
	slices.Sort(keys)
	r := make([]float64, len(x))
	for lo := 0; lo < len(keys); {
		hi := lo + 1
		for hi < len(keys) && keys[hi]>>32 == keys[lo]>>32 {
			hi++
		}
		rank := float64(lo+1+hi) / 2 // mean of lo+1 … hi
		for _, k := range keys[lo:hi] {
			r[uint32(k)] = rank
		}
		lo = hi
	}
	return r
}

// pearson is the correlation coefficient of x and y in float64; NaN when
// either is constant.
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// simAccum gathers the decode rows for the summary.
type simAccum struct {
	ref, fp8, fp4 []float32
	err           [2][]float32 // (logit − ref)/rms(ref), FP8 and FP4
	sweep         [len(massScales)][3]float64
	ratio         [len(massScales)][2]float64
	rows          int
}

func newSimAccum() *simAccum { return &simAccum{} }

func (a *simAccum) add(r rowResult) {
	a.rows++
	for s := range r.sweep {
		for i := range 3 {
			a.sweep[s][i] += r.sweep[s][i]
		}
		for i := range 2 {
			a.ratio[s][i] += r.sweep[s][i+1] / r.sweep[s][0]
		}
	}
	a.ref = append(a.ref, r.ref...)
	a.fp8 = append(a.fp8, r.fp8...)
	a.fp4 = append(a.fp4, r.fp4...)
	var ss float64
	for _, v := range r.ref {
		ss += float64(v) * float64(v)
	}
	rms := math.Sqrt(ss / float64(len(r.ref)))
	for i, got := range [][]float32{r.fp8, r.fp4} {
		for j, v := range got {
			a.err[i] = append(a.err[i], float32((float64(v)-float64(r.ref[j]))/rms))
		}
	}
}

// histBins is the number of bins of the error histogram.
const histBins = 100

// histRanges are the candidate half-widths of the histogram; the smallest that
// holds 99.9% of the FP4 and FP8 errors is used.
var histRanges = []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10}

func (a *simAccum) summaries(rows []SimRow) (fp8, fp4 SimSummary, refMass Num, hist SimHistogram) {
	var rm float64
	for _, r := range rows {
		rm += float64(r.RefMass)
	}
	refMass = Num(rm / float64(len(rows)))
	var p999 float64
	for i, got := range [][]float32{a.fp8, a.fp4} {
		s := SimSummary{RecallMin: Num(math.Inf(1))}
		var recall, spear, mass, ratio, cdMax float64
		for _, r := range rows {
			f := r.FP8
			if i == 1 {
				f = r.FP4
			}
			recall += float64(f.Recall)
			s.RecallMin = min(s.RecallMin, f.Recall)
			spear += float64(f.Spearman)
			mass += float64(f.Mass)
			ratio += float64(f.Mass) / float64(r.RefMass)
			cdMax = max(cdMax, float64(f.CalcDiff))
		}
		n := float64(len(rows))
		s.RecallMean, s.SpearmanMean = Num(recall/n), Num(spear/n)
		s.MassMean, s.MassRatio, s.CalcDiffMax = Num(mass/n), Num(ratio/n), Num(cdMax)
		cd, _ := mqa.CalcDiff(got, a.ref, nil)
		s.CalcDiff = Num(cd)

		abs := make([]float64, len(a.err[i]))
		var ss float64
		for j, e := range a.err[i] {
			ss += float64(e) * float64(e)
			abs[j] = math.Abs(float64(e))
		}
		slices.Sort(abs)
		s.ErrRMS = Num(math.Sqrt(ss / float64(len(abs))))
		s.ErrP99 = Num(quantile(abs, 0.99))
		s.ErrMax = Num(abs[len(abs)-1])
		p999 = max(p999, quantile(abs, 0.999))
		if i == 0 {
			fp8 = s
		} else {
			fp4 = s
		}
	}
	hist.Range = histRanges[len(histRanges)-1]
	for _, r := range histRanges {
		if p999 <= r {
			hist.Range = r
			break
		}
	}
	hist.Bins = histBins
	hist.FP8 = make([]int64, histBins)
	hist.FP4 = make([]int64, histBins)
	for i, errs := range a.err {
		counts := hist.FP8
		if i == 1 {
			counts = hist.FP4
		}
		for _, e := range errs {
			x := float64(e)
			switch {
			case x < -hist.Range:
				hist.Below[i]++
			case x >= hist.Range:
				hist.Above[i]++
			default:
				b := int((x + hist.Range) / (2 * hist.Range) * histBins)
				counts[min(b, histBins-1)]++
			}
		}
	}
	return fp8, fp4, refMass, hist
}

// quantile is the q-quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// curve groups the rows by half-octave of context length (round(2·log2 keys)),
// in increasing context.
func curve(groups ...[]SimRow) []SimCurvePoint {
	type bucket struct {
		n                            int
		keys                         float64
		r8, r4, c8, c4, m8, m4, mref float64
	}
	byBucket := map[int]*bucket{}
	var order []int
	for _, rows := range groups {
		for _, r := range rows {
			id := int(math.Round(2 * math.Log2(float64(r.Keys))))
			b, ok := byBucket[id]
			if !ok {
				b = &bucket{}
				byBucket[id] = b
				order = append(order, id)
			}
			b.n++
			b.keys += float64(r.Keys)
			b.r8 += float64(r.FP8.Recall)
			b.r4 += float64(r.FP4.Recall)
			b.c8 += float64(r.FP8.CalcDiff)
			b.c4 += float64(r.FP4.CalcDiff)
			b.m8 += float64(r.FP8.Mass)
			b.m4 += float64(r.FP4.Mass)
			b.mref += float64(r.RefMass)
		}
	}
	slices.Sort(order)
	out := make([]SimCurvePoint, 0, len(order))
	for _, id := range order {
		b := byBucket[id]
		n := float64(b.n)
		out = append(out, SimCurvePoint{
			Keys: int(math.Round(b.keys / n)), Queries: b.n,
			RecallFP8: Num(b.r8 / n), RecallFP4: Num(b.r4 / n),
			CalcDiffFP8: Num(b.c8 / n), CalcDiffFP4: Num(b.c4 / n),
			MassFP8: Num(b.m8 / n), MassFP4: Num(b.m4 / n), RefMass: Num(b.mref / n),
		})
	}
	return out
}

// massSweep is the mean mass of the decode rows at each temperature.
func (a *simAccum) massSweep(temp float64) []SimMassPoint {
	out := make([]SimMassPoint, len(massScales))
	n := float64(a.rows)
	for s, scale := range massScales {
		out[s] = SimMassPoint{Temperature: temp * scale,
			RefMass: Num(a.sweep[s][0] / n), FP8: Num(a.sweep[s][1] / n), FP4: Num(a.sweep[s][2] / n),
			FP8Ratio: Num(a.ratio[s][0] / n), FP4Ratio: Num(a.ratio[s][1] / n)}
	}
	return out
}
