package golden

import (
	"math"
	"math/rand/v2"

	"github.com/fp4indexer/fp4indexer/bf16"
)

// The edge rows. Group-level edges (32 values that meet a quantizer boundary)
// are exact in the quantizer paths (K v1) and stress the fused paths as inputs;
// row-level edges target what the fused paths do before quantizing (a Hadamard
// sum that overflows, a one-hot row whose rotation spreads one value everywhere,
// a NaN or Inf that spreads, tiny rows where RMSNorm's epsilon dominates).
//
// Every value is exactly representable in the case's dtype: bf (bf16) or fp32.
// "± 1 ulp" is one step of that dtype.

const groupSize = 32

// tieValues are E2M1's thresholds (SPEC §2): the midpoints between codes.
var tieValues = []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5}

// edgeExponents are the k of the group edges: 6·2^k from the bottom of the
// normal range (ties of 0.25·2^−124 = 2^−126) past the 1e-4 floor (6·2^−14 is
// where `triton` and `cuda` part) up to 6·2^125, near the largest fp32.
var edgeExponents = []int{-124, -60, -20, -15, -14, -13, -1, 0, 1, 20, 60, 125}

// ulpStep returns x moved n ulps of its dtype away from zero (n < 0: toward
// zero), for finite x ≠ 0.
func ulpStep(x float32, n int, bf bool) float32 {
	if bf {
		b := bf16.Fromfloat32(x).Bits()
		return bf16.Frombits(uint16(int(b) + n)).Float32()
	}
	return math.Float32frombits(uint32(int64(math.Float32bits(x)) + int64(n)))
}

// inFormat rounds x to the dtype (bf16 RNE) or keeps it (fp32).
func inFormat(x float32, bf bool) float32 {
	if bf {
		return bf16.Round(x)
	}
	return x
}

// p2 returns 2^k as a float32 (−149 ≤ k ≤ 127), exactly.
func p2(k int) float32 { return float32(pow2(k)) }

// filler returns n normal values of magnitude 2^k in the dtype.
func filler(r *rand.Rand, n, k int, bf bool) []float32 {
	x := make([]float32, n)
	randomRow(r, x, k)
	for i := range x {
		x[i] = inFormat(x[i], bf)
	}
	return x
}

// tiesGroup holds amax = 6·2^k and every threshold t·2^k with its two ulp
// neighbours, some negated, ±0: the scale is exactly 2^k wherever the floor does
// not apply, so each t·2^k scales to the tie itself.
func tiesGroup(k int, bf bool) []float32 {
	s := p2(k)
	g := []float32{6 * s}
	for _, t := range tieValues {
		v := t * s
		g = append(g, v, ulpStep(v, 1, bf), ulpStep(v, -1, bf))
	}
	for _, t := range tieValues {
		g = append(g, -t*s)
	}
	g = append(g, float32(math.Copysign(0, -1)), 0, -ulpStep(0.75*s, 1, bf))
	return g
}

// amaxGroup is filler well below amax with amax itself at a random place and sign.
func amaxGroup(r *rand.Rand, amax float32, fillExp int, bf bool) []float32 {
	g := filler(r, groupSize, fillExp, bf)
	v := amax
	if r.IntN(2) == 1 {
		v = -v
	}
	g[r.IntN(groupSize)] = v
	return g
}

// floorAmaxes are group maxima in and around the 1e-4 ≤ amax < 6e-4 region,
// where the scale floor 1e-4 decides (SPEC §3), in the dtype.
func floorAmaxes(bf bool) []float32 {
	f := func(x float32) float32 { return inFormat(x, bf) }
	b := p2(-14) * 6 // 6·2^−14 ≈ 3.662e-4, where triton and cuda part
	return []float32{
		ulpStep(f(1e-4), -1, bf), f(1e-4), ulpStep(f(1e-4), 1, bf),
		f(1.5e-4), f(2e-4), f(3e-4),
		ulpStep(b, -1, bf), b, ulpStep(b, 1, bf),
		f(4e-4), f(5e-4),
		ulpStep(f(6e-4), -1, bf), f(6e-4), ulpStep(f(6e-4), 1, bf),
		f(5e-5), f(1e-6), f(1e-10),
	}
}

func constGroup(v float32) []float32 {
	g := make([]float32, groupSize)
	for i := range g {
		g[i] = v
	}
	return g
}

// nanBits returns a NaN with the given fp32 bits, or its bf16 truncation.
func nanBits(u uint32, bf bool) float32 {
	if bf {
		return bf16.Frombits(uint16(u >> 16)).Float32()
	}
	return math.Float32frombits(u)
}

func maxFinite(bf bool) float32 {
	if bf {
		return bf16.Frombits(0x7F7F).Float32()
	}
	return math.MaxFloat32
}

// subnormal returns a random subnormal of the dtype with a random sign.
func subnormal(r *rand.Rand, bf bool) float32 {
	var v float32
	if bf {
		v = bf16.Frombits(uint16(1 + r.IntN(0x7F))).Float32()
	} else {
		v = math.Float32frombits(uint32(1 + r.IntN(0x7FFFFF)))
	}
	if r.IntN(2) == 1 {
		v = -v
	}
	return v
}

// forcedRow is the PR's test row: x[0,:8] = [−8, −6, −3, −1.5, 0, 0.5, 2, 8].
var forcedRow = []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8}

// edgeGroups returns the group-level edges, a whole number of 128-value rows.
func edgeGroups(r *rand.Rand, bf bool) []float32 {
	var gs [][]float32
	add := func(g []float32) { gs = append(gs, g) }
	for _, k := range edgeExponents {
		add(tiesGroup(k, bf))
	}
	for _, k := range edgeExponents {
		s := p2(k)
		six := 6 * s
		for _, amax := range []float32{3 * s, ulpStep(six, -1, bf), six, ulpStep(six, 1, bf)} {
			add(amaxGroup(r, amax, max(k-3, -100), bf))
		}
	}
	for _, amax := range floorAmaxes(bf) {
		e := int(math.Float32bits(amax)>>23&0xFF) - 127
		add(amaxGroup(r, amax, e-3, bf))
	}
	negZero := float32(math.Copysign(0, -1))
	add(constGroup(0))
	add(constGroup(negZero))
	alt := constGroup(0)
	for i := 1; i < groupSize; i += 2 {
		alt[i] = negZero
	}
	add(alt)
	qnan := nanBits(0x7FC00000, bf)
	g := filler(r, groupSize, 0, bf)
	g[r.IntN(groupSize)] = qnan
	add(g)
	add(constGroup(qnan))
	g = filler(r, groupSize, 0, bf)
	g[3] = nanBits(0xFFC00001, bf)  // negative NaN with a payload
	g[17] = nanBits(0x7F800001, bf) // signalling pattern
	add(g)
	inf := float32(math.Inf(1))
	for _, pos := range [][]float32{{inf}, {-inf}, {inf, -inf}, {inf, qnan}} {
		g := filler(r, groupSize, 0, bf)
		for i, v := range pos {
			g[5+11*i] = v
		}
		add(g)
	}
	g = make([]float32, groupSize)
	for i := range g {
		g[i] = subnormal(r, bf)
	}
	add(g)
	minSub := math.Float32frombits(1)
	if bf {
		minSub = bf16.Frombits(1).Float32()
	}
	g = constGroup(minSub)
	for i := 1; i < groupSize; i += 2 {
		g[i] = -minSub
	}
	add(g)
	g = make([]float32, groupSize)
	for i := range g {
		g[i] = subnormal(r, bf)
	}
	g[9] = p2(-126)
	add(g)
	m := maxFinite(bf)
	g = make([]float32, groupSize)
	for i := range g {
		g[i] = m
		if r.IntN(2) == 1 {
			g[i] = -m
		}
	}
	add(g)
	g = filler(r, groupSize, 0, bf)
	g[21] = -m
	add(g)
	g = filler(r, groupSize, 0, bf)
	copy(g, forcedRow)
	add(g)
	for _, k := range []int{-40, -10, 10, 40} { // one row, four very different scales
		add(filler(r, groupSize, k, bf))
	}
	for len(gs)%4 != 0 {
		add(filler(r, groupSize, 0, bf))
	}
	out := make([]float32, 0, len(gs)*groupSize)
	for _, g := range gs {
		out = append(out, g...)
	}
	return out
}

// hadamardScale is the fused kernels' 1/√128 (0x3DB504F3).
var hadamardScale = math.Float32frombits(0x3DB504F3)

// fusedEdgeRows returns the row-level edges of the fused paths followed by the
// group-level ones. k says whether the rows feed the fused K path, whose
// RMSNorm rescales every row: its one-hot rows are tiny, so that epsilon
// dominates the norm and the rotated values land in the 1e-4 region.
func fusedEdgeRows(r *rand.Rand, bf, k bool) []float32 {
	const d = 128
	var rows [][]float32
	row := func() []float32 { return make([]float32, d) }
	// One-hot rows: the Hadamard transform spreads one value to all 128 dims,
	// so every group's amax is |v|·(1/√128). Index 0 is in the unrotated half,
	// 64 in the RoPE half.
	targets := []float32{1e-4, 6 * p2(-14), 6e-4, 6, 3 * p2(10)}
	for _, t := range targets {
		for _, idx := range []int{0, 64} {
			x := row()
			v := t / hadamardScale
			if k {
				v = t / (1000 * hadamardScale) // nf ≈ 1/√eps = 1000 when eps dominates
			}
			x[idx] = inFormat(v, bf)
			rows = append(rows, x)
		}
	}
	m := maxFinite(bf)
	x := row()
	for i := range x {
		x[i] = m // the Hadamard sums overflow to +Inf
	}
	rows = append(rows, x)
	x = row()
	for i := range x {
		x[i] = m
		if i%3 == 0 {
			x[i] = -m
		}
	}
	rows = append(rows, x)
	negZero := float32(math.Copysign(0, -1))
	rows = append(rows, row())
	x = row()
	for i := range x {
		x[i] = negZero
	}
	rows = append(rows, x)
	for _, special := range []float32{nanBits(0x7FC00000, bf), float32(math.Inf(1)), float32(math.Inf(-1))} {
		x := filler(r, d, 0, bf)
		x[r.IntN(d)] = special
		rows = append(rows, x)
	}
	x = row()
	for i := range x {
		x[i] = subnormal(r, bf)
	}
	rows = append(rows, x)
	for _, e := range []int{-40, -20, -12, 20, 40} {
		rows = append(rows, filler(r, d, e, bf))
	}
	out := make([]float32, 0, len(rows)*d)
	for _, x := range rows {
		out = append(out, x...)
	}
	return append(out, edgeGroups(r, bf)...)
}
