package indexer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fp4indexer/fp4indexer/bf16"
)

// SynthParams shapes the synthetic indexer inputs of the simulator. The zero
// value of every field means the documented default; a negative count turns the
// feature off.
//
// The generator works in the space the kernels start from: compressor outputs
// kv [T, 128] fp32 (before RMSNorm) and indexer queries q [S, H, 128] bf16
// (before RoPE), with the layout [nope | rope] of SPEC §1 (RoPE rotates dims
// 64..127). RMSNorm rescales a key but keeps its direction and the Hadamard
// rotation is orthonormal, so the structure planted here survives to the
// scores: q̂·k̂ = q_nope·k_nope + q_rope·R(p_k − p_q)·k_rope. It has five parts.
//
//   - Heavy tails. Every noise coordinate is Student-t with Dof degrees of
//     freedom (default 4: finite variance, kurtosis infinite), scaled to unit
//     variance. Per-element FP4 error is worst on such data: one large element
//     sets a 32-group's scale and the rest fall into the coarse low codes.
//   - Outlier channels. Outliers channels (default 4) of the keys' nope half
//     carry a massive, nearly constant activation, OutlierScale·(±1 + t/4)
//     (default scale 8, i.e. 8× the other channels' RMS), as LLM residual
//     streams do; the queries have Outliers channels of their own (different
//     ones, sign per head). In the keys they take most of the energy before
//     RMSNorm and, after the Hadamard rotation, spread over all 128 dims: they
//     use up the quantizers' range while adding nothing to the ranking.
//   - Content topics. Topics unit directions (default 16) live in the nope
//     half. Key c belongs to a uniformly drawn topic with an alignment
//     Relevance·|t| (default 0.15; heavy tailed, so a few keys of a topic are
//     strongly aligned and most are not), capped at 0.8. The query at raw
//     position p asks about topic hash(p / TopicSpan) (default span 64 tokens)
//     with a per-head gain drawn once, uniform in [0, 1).
//   - Dominant keys. DominantKeys keys (default 16: key 0, the attention sink,
//     and 15 keys at uniform positions) are aligned (0.9) with one global
//     direction that every query head contains with a gain uniform in
//     [0, 0.5): the handful of keys every query attends to.
//   - Recency through RoPE. The rope halves of every key and every query head
//     share one direction v with weight Recency (default 0.5) for the keys and
//     a per-head gain uniform in [0, 1) for the queries. After RoPE the score
//     carries Σ_i |v_i|² cos((p_k − p_q)·θ_i): largest for the nearest keys and
//     decaying, with the table's frequencies, over the context — the local
//     attention pattern, produced by the RoPE table itself.
//
// Queries are multiplied by QueryScale (default 0.4) and rounded to bf16. Since
// relu is positively homogeneous, QueryScale scales every logit and acts as an
// inverse softmax temperature; the default makes the softmax of the reference
// logits (temperature 1) put about three quarters of its mass on the top-512
// keys of a 32,768-key context (0.35 gives a half, 0.5 nearly all: the 16
// dominant keys take over) — the regime where top-k selection matters. The
// report's mass sweep shows other temperatures. It does
// not change recall or calc_diff except through bf16 rounding and the UE8M0
// floors: every quantizer in the path is scale-invariant.
//
// Head weights (weights_proj output, bf16 before the kernel's 128^-0.5·64^-0.5)
// are 1 + t/2: mostly positive, some heads negative, as a learned projection
// gives. The RMSNorm weight is 1 + 0.2·N(0, 1) per channel.
type SynthParams struct {
	Dof          int     `json:"dof"`           // Student-t degrees of freedom; 0 means 4; must be ≥ 3
	Outliers     int     `json:"outliers"`      // outlier channels in k and in q; 0 means 4, < 0 none
	OutlierScale float64 `json:"outlier_scale"` // 0 means 8
	Topics       int     `json:"topics"`        // 0 means 16; < 0 no content structure
	Relevance    float64 `json:"relevance"`     // 0 means 0.15
	TopicSpan    int     `json:"topic_span"`    // raw tokens per query topic; 0 means 64
	DominantKeys int     `json:"dominant_keys"` // 0 means 16; < 0 none
	Recency      float64 `json:"recency"`       // 0 means 0.5; < 0 no shared rope direction
	QueryScale   float64 `json:"query_scale"`   // 0 means 0.4
}

// Defaults of SynthParams.
const (
	defaultDof          = 4
	defaultOutliers     = 4
	defaultOutlierScale = 8
	defaultTopics       = 16
	defaultRelevance    = 0.15
	defaultTopicSpan    = 64
	defaultDominantKeys = 16
	defaultRecency      = 0.5
	defaultQueryScale   = 0.4
	maxAlignment        = 0.8
	dominantAlignment   = 0.9
	normWeightJitter    = 0.2
	nopeDim             = HeadDim - RoPEDim
)

// resolved returns p with every zero replaced by its default and every
// disabled feature set to 0.
func (p SynthParams) resolved() (SynthParams, error) {
	def := func(v *int, d int) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	deff := func(v *float64, d float64) {
		switch {
		case *v == 0:
			*v = d
		case *v < 0:
			*v = 0
		}
	}
	if p.Dof == 0 {
		p.Dof = defaultDof
	}
	if p.Dof < 3 || p.Dof > 1000 {
		return p, fmt.Errorf("indexer: SynthParams.Dof = %d, want 3..1000 (finite variance)", p.Dof)
	}
	def(&p.Outliers, defaultOutliers)
	if p.Outliers > nopeDim/2 {
		return p, fmt.Errorf("indexer: SynthParams.Outliers = %d, want ≤ %d", p.Outliers, nopeDim/2)
	}
	deff(&p.OutlierScale, defaultOutlierScale)
	def(&p.Topics, defaultTopics)
	deff(&p.Relevance, defaultRelevance)
	if p.TopicSpan <= 0 {
		p.TopicSpan = defaultTopicSpan
	}
	def(&p.DominantKeys, defaultDominantKeys)
	deff(&p.Recency, defaultRecency)
	if p.QueryScale <= 0 {
		p.QueryScale = defaultQueryScale
	}
	for _, v := range []float64{p.OutlierScale, p.Relevance, p.Recency, p.QueryScale} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v > 1e6 {
			return p, fmt.Errorf("indexer: SynthParams has a non-finite or huge value %g", v)
		}
	}
	return p, nil
}

// synth draws the generator's random numbers. It is not safe for concurrent
// use; one generator is one stream.
type synth struct {
	p   SynthParams
	rng *rand.Rand
	// tScale makes a Student-t draw unit variance.
	tScale float64
}

// studentT returns a unit-variance Student-t draw: Z / sqrt(χ²_ν / ν).
func (s *synth) studentT() float64 {
	var chi float64
	for range s.p.Dof {
		z := s.rng.NormFloat64()
		chi += z * z
	}
	return s.rng.NormFloat64() / math.Sqrt(chi/float64(s.p.Dof)) * s.tScale
}

// unit returns a random unit vector over the coordinates in dims (others 0).
func (s *synth) unit(dims []int) [HeadDim]float64 {
	var v [HeadDim]float64
	var n float64
	for _, d := range dims {
		v[d] = s.rng.NormFloat64()
		n += v[d] * v[d]
	}
	n = math.Sqrt(n)
	for _, d := range dims {
		v[d] /= n
	}
	return v
}

// synthModel is the part of the generator drawn once per request.
type synthModel struct {
	kOutlier, qOutlier []int     // channels
	kSign              []float64 // per key outlier channel
	kFree, qFree       []int     // nope dims without an outlier (per side)
	ropeDims           []int
	topics             [][HeadDim]float64
	global             [HeadDim]float64
	recency            [HeadDim]float64
	headTopic          []float64 // [H] gain on the query's topic
	headGlobal         []float64 // [H] gain on the global direction
	headRecency        []float64 // [H] gain on the recency direction
	qSign              []float64 // [H][outliers]
}

func (s *synth) model(heads int) synthModel {
	var m synthModel
	perm := s.rng.Perm(nopeDim)
	n := s.p.Outliers
	m.kOutlier = perm[:n]
	m.qOutlier = perm[n : 2*n]
	isK := map[int]bool{}
	isQ := map[int]bool{}
	for _, c := range m.kOutlier {
		isK[c] = true
	}
	for _, c := range m.qOutlier {
		isQ[c] = true
	}
	for d := 0; d < nopeDim; d++ {
		if !isK[d] && !isQ[d] {
			m.kFree = append(m.kFree, d)
		}
	}
	// Content directions avoid every outlier channel, so that neither side's
	// outliers contribute to q·k: they only cost quantizer range.
	m.qFree = m.kFree
	for d := nopeDim; d < HeadDim; d++ {
		m.ropeDims = append(m.ropeDims, d)
	}
	m.kSign = make([]float64, n)
	for i := range m.kSign {
		m.kSign[i] = float64(1 - 2*s.rng.IntN(2))
	}
	m.topics = make([][HeadDim]float64, s.p.Topics)
	for i := range m.topics {
		m.topics[i] = s.unit(m.kFree)
	}
	m.global = s.unit(m.kFree)
	m.recency = s.unit(m.ropeDims)
	m.headTopic = make([]float64, heads)
	m.headGlobal = make([]float64, heads)
	m.headRecency = make([]float64, heads)
	m.qSign = make([]float64, heads*n)
	for h := 0; h < heads; h++ {
		m.headTopic[h] = s.rng.Float64()
		m.headGlobal[h] = 0.5 * s.rng.Float64()
		m.headRecency[h] = s.rng.Float64()
		for i := 0; i < n; i++ {
			m.qSign[h*n+i] = float64(1 - 2*s.rng.IntN(2))
		}
	}
	return m
}

// Synthesize draws a request: keys compressor outputs for positions 4c
// (c = 0 … keys−1) and one query of heads heads at each raw position of
// positions, with the structure SynthParams documents. The same seed and
// arguments give the same bytes. The returned SimInput leaves Freqs empty (the
// simulator's default table).
func (p SynthParams) Synthesize(seed uint64, keys, heads int, positions []int64) (SimInput, error) {
	p, err := p.resolved()
	if err != nil {
		return SimInput{}, err
	}
	if keys < 1 || keys > maxSimKeys {
		return SimInput{}, fmt.Errorf("indexer: %d keys, want 1..%d", keys, maxSimKeys)
	}
	if heads < 1 || heads > 1024 {
		return SimInput{}, fmt.Errorf("indexer: %d heads, want 1..1024", heads)
	}
	s := &synth{p: p, rng: rand.New(rand.NewPCG(seed, 0x5eed_f0a4_1d3e_0001)),
		tScale: math.Sqrt(float64(p.Dof-2) / float64(p.Dof))}
	m := s.model(heads)
	in := SimInput{
		S:          len(positions),
		H:          heads,
		KV:         make([]float32, keys*HeadDim),
		NormWeight: make([]float32, HeadDim),
		Q:          make([]bf16.BF16, len(positions)*heads*HeadDim),
		Weights:    make([]bf16.BF16, len(positions)*heads),
		Positions:  append([]int64(nil), positions...),
	}
	for i := range in.NormWeight {
		in.NormWeight[i] = float32(1 + normWeightJitter*s.rng.NormFloat64())
	}

	// Keys. Which ones dominate: key 0 (the sink) and DominantKeys−1 more.
	dominant := make(map[int]bool, p.DominantKeys)
	if p.DominantKeys > 0 {
		dominant[0] = true
		for len(dominant) < min(p.DominantKeys, keys) {
			dominant[s.rng.IntN(keys)] = true
		}
	}
	// The planted components are measured in units of the norm of a
	// unit-variance noise vector over the nope (resp. rope) dims, so that an
	// alignment a gives a component as large as a times the noise.
	nopeNorm := math.Sqrt(float64(len(m.kFree)))
	ropeNorm := math.Sqrt(float64(RoPEDim))
	var x [HeadDim]float64
	for c := 0; c < keys; c++ {
		for d := range x {
			x[d] = s.studentT()
		}
		for i, ch := range m.kOutlier {
			x[ch] = p.OutlierScale * (m.kSign[i] + 0.25*s.studentT())
		}
		if p.Topics > 0 {
			topic := m.topics[s.rng.IntN(p.Topics)]
			a := min(p.Relevance*math.Abs(s.studentT()), maxAlignment)
			for _, d := range m.kFree {
				x[d] += a * nopeNorm * topic[d]
			}
		}
		if dominant[c] {
			for _, d := range m.kFree {
				x[d] += dominantAlignment * nopeNorm * m.global[d]
			}
		}
		for _, d := range m.ropeDims {
			x[d] += p.Recency * ropeNorm * m.recency[d]
		}
		row := in.KV[c*HeadDim : (c+1)*HeadDim]
		for d, v := range x {
			row[d] = float32(v)
		}
	}

	// Queries.
	n := p.Outliers
	for r, pos := range positions {
		var topic [HeadDim]float64
		if p.Topics > 0 {
			topic = m.topics[topicOf(pos, p.TopicSpan, p.Topics)]
		}
		for h := 0; h < heads; h++ {
			for d := range x {
				x[d] = s.studentT()
			}
			for i, ch := range m.qOutlier {
				x[ch] = p.OutlierScale * (m.qSign[h*n+i] + 0.25*s.studentT())
			}
			for _, d := range m.qFree {
				x[d] += nopeNorm * (m.headTopic[h]*topic[d] + m.headGlobal[h]*m.global[d])
			}
			for _, d := range m.ropeDims {
				x[d] += ropeNorm * m.headRecency[h] * m.recency[d]
			}
			row := in.Q[(r*heads+h)*HeadDim : (r*heads+h+1)*HeadDim]
			for d, v := range x {
				row[d] = bf16.Fromfloat32(float32(p.QueryScale * v))
			}
			in.Weights[r*heads+h] = bf16.Fromfloat32(float32(1 + 0.5*s.studentT()))
		}
	}
	return in, nil
}

// topicOf is the topic a query at raw position pos asks about: a fixed hash
// (SplitMix64's finalizer) of its span index, so that it does not depend on
// which other queries are drawn.
func topicOf(pos int64, span, topics int) int {
	z := uint64(pos/int64(span)) + 0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	z ^= z >> 31
	return int(z % uint64(topics))
}
