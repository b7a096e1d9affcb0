package indexer

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rope"
)

// Defaults of SimConfig.
const (
	DefaultSimContext = 131072 // raw tokens: 32,768 compressed keys
	DefaultSimSteps   = 64
	// DefaultSimProbes is the number of history probes per context length (at
	// most four positions see the same number of keys).
	DefaultSimProbes = 4
	maxSimKeys       = 1 << 20
	maxSimQueries    = 1 << 16
)

// SimConfig configures Simulate. Its zero value is the default run: V4-Flash
// (64 heads, top-512), a 131,072-token context, 64 decode steps, synthetic
// input with seed 0.
type SimConfig struct {
	// Model is the model whose top-k, head count and layer count apply;
	// the zero value (empty Name) means pagedcache.V4Flash().
	Model pagedcache.Model
	// Context is the number of raw tokens before the first decode step
	// (synthetic input only); 0 means DefaultSimContext.
	Context int
	// Steps is the number of decode steps (synthetic input only); 0 means
	// DefaultSimSteps.
	Steps int
	// Heads is the number of indexer heads (8, 16, 32 or 64, the counts the
	// logits kernel supports); 0 means Model.IndexHeads. Ignored with Input.
	Heads int
	// TopK is k; 0 means Model.IndexTopK.
	TopK int
	// Seed seeds the synthetic generator.
	Seed uint64
	// Synth shapes the synthetic input (see SynthParams).
	Synth SynthParams
	// Input, when not nil, replaces the synthetic generator.
	Input *SimInput
	// Temperature of the softmax of the attention-mass metric; 0 means 1.
	Temperature float64
	// NoCurve drops the history probes.
	NoCurve bool
	// Probes is the number of history probes per context length, 1 to 4;
	// 0 means DefaultSimProbes.
	Probes int
	// Workers bounds the goroutines; 0 means runtime.GOMAXPROCS(0). The report
	// does not depend on it.
	Workers int
	// Progress, when not nil, is called after each query with the work done
	// and the total (in keys scored).
	Progress func(done, total int64)
}

// SimInput is a request given as tensors (captured from a model run, or drawn
// by SynthParams.Synthesize). Shapes are row-major.
type SimInput struct {
	S, H       int         // queries, heads
	KV         []float32   // [T, 128]: compressor outputs before RMSNorm; entry c at RoPE position 4c
	NormWeight []float32   // [128]; nil means all ones
	Q          []bf16.BF16 // [S, H, 128]: indexer queries before RoPE
	Weights    []bf16.BF16 // [S, H]: weights_proj output before the kernel's scale
	// Positions are the raw token positions of the S queries; nil means the
	// last S tokens of the request, 4T−S … 4T−1.
	Positions []int64
	// Freqs is the RoPE table; the zero value means SimRoPE over enough
	// positions.
	Freqs rope.Table
}

// SimRoPE returns the parameters of the RoPE table of V4's compressed layers
// (compress_rope_theta 160000, YaRN factor 16 over an original 65,536-token
// context, β 32 / 1; reference note §9) for positions rows.
func SimRoPE(positions int) rope.YaRNParams {
	return rope.YaRNParams{Dim: RoPEDim, Positions: positions, Base: 160000, Factor: 16,
		BetaFast: 32, BetaSlow: 1, OriginalSeqLen: 65536, Rule: rope.RuleV4}
}

// Num is a float64 that marshals NaN and ±Inf as JSON null.
type Num float64

// MarshalJSON writes null for a non-finite value.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// SimForm holds one form's metrics of one query against the reference.
type SimForm struct {
	Recall   Num `json:"recall"`
	Spearman Num `json:"spearman"`
	CalcDiff Num `json:"calc_diff"`
	Mass     Num `json:"mass"`
}

// SimRow is one simulated query.
type SimRow struct {
	Position int64   `json:"position"`
	Keys     int     `json:"keys"`  // visible compressed keys (context_lens)
	K        int     `json:"k"`     // min(top-k, keys)
	Pages    int     `json:"pages"` // pages the request's keys occupy, one layer
	RefMass  Num     `json:"ref_mass"`
	FP8      SimForm `json:"fp8"`
	FP4      SimForm `json:"fp4"`
}

// SimSummary is one form's metrics over the decode steps.
type SimSummary struct {
	RecallMean   Num `json:"recall_mean"`
	RecallMin    Num `json:"recall_min"`
	SpearmanMean Num `json:"spearman_mean"`
	CalcDiff     Num `json:"calc_diff"`     // over all decode rows at once
	CalcDiffMax  Num `json:"calc_diff_max"` // worst row
	MassMean     Num `json:"mass_mean"`
	MassRatio    Num `json:"mass_ratio"` // mean of mass / ref_mass
	ErrRMS       Num `json:"err_rms"`    // (logit − ref) / rms(ref) over all decode rows
	ErrP99       Num `json:"err_p99"`    // 99th percentile of |e|
	ErrMax       Num `json:"err_max"`
}

// SimCurvePoint is the mean over the queries whose context falls in one
// half-octave of context length.
type SimCurvePoint struct {
	Keys        int `json:"keys"` // mean context of the queries, rounded
	Queries     int `json:"queries"`
	RecallFP8   Num `json:"recall_fp8"`
	RecallFP4   Num `json:"recall_fp4"`
	CalcDiffFP8 Num `json:"calc_diff_fp8"`
	CalcDiffFP4 Num `json:"calc_diff_fp4"`
	MassFP8     Num `json:"mass_fp8"`
	MassFP4     Num `json:"mass_fp4"`
	RefMass     Num `json:"ref_mass"`
}

// SimMassPoint is the mean attention mass of the decode steps at one softmax
// temperature: what the reference, FP8 and FP4 top-k sets keep, and the FP8 and
// FP4 masses as shares of the reference's.
type SimMassPoint struct {
	Temperature float64 `json:"temperature"`
	RefMass     Num     `json:"ref_mass"`
	FP8         Num     `json:"fp8"`
	FP4         Num     `json:"fp4"`
	FP8Ratio    Num     `json:"fp8_ratio"`
	FP4Ratio    Num     `json:"fp4_ratio"`
}

// SimHistogram counts the logit errors (logit − ref)/rms(ref) of the decode
// rows in Bins equal bins over [−Range, Range]; Below and Above count the rest.
type SimHistogram struct {
	Range float64  `json:"range"`
	Bins  int      `json:"bins"`
	FP8   []int64  `json:"fp8"`
	FP4   []int64  `json:"fp4"`
	Below [2]int64 `json:"below"` // FP8, FP4
	Above [2]int64 `json:"above"`
}

// SimFormMemory is the cost of one cache format.
type SimFormMemory struct {
	Format            string `json:"format"`
	BytesPerToken     int    `json:"bytes_per_token"` // per compressed key, one layer
	PageBytes         int    `json:"page_bytes"`
	PagesUsed         int    `json:"pages_used"`    // pages the request holds, one layer
	CachePages        int    `json:"cache_pages"`   // pages of the simulated buffer (page 0 reserved)
	RequestBytes      int64  `json:"request_bytes"` // PagesUsed · PageBytes, one layer
	ModelRequestBytes int64  `json:"model_request_bytes"`
	// BytesPerRawToken is the indexer cache one raw token costs over all C4
	// layers (a compressed key covers four raw tokens).
	BytesPerRawToken   float64 `json:"bytes_per_raw_token"`
	KeysPerGiBLayer    int64   `json:"keys_per_gib_layer"`
	KeysPerGiBModel    int64   `json:"keys_per_gib_model"`
	RawTokensPerGiB    int64   `json:"raw_tokens_per_gib_model"`
	DecodeReadBytes    int64   `json:"decode_read_bytes"`       // whole pages, all C4 layers, one decode step
	DecodeReadKeyBytes int64   `json:"decode_read_token_bytes"` // the keys' bytes only
	DecodeSecondsH100  float64 `json:"decode_seconds_h100"`
	DecodeSecondsB200  float64 `json:"decode_seconds_b200"`
}

// SimMemory is the capacity and cost model of the run's final context.
type SimMemory struct {
	Model         string        `json:"model"`
	Layers        int           `json:"layers"`
	C4Layers      int           `json:"c4_layers"`
	Keys          int           `json:"keys"`
	PageSize      int           `json:"page_size"`
	BandwidthH100 float64       `json:"bandwidth_h100"`
	BandwidthB200 float64       `json:"bandwidth_b200"`
	FP8           SimFormMemory `json:"fp8"`
	FP4           SimFormMemory `json:"fp4"`
	// TimeRatio is FP4/FP8 of the memory-bound decode time (68/132 = 0.515 at
	// any context, bandwidth and page size).
	TimeRatio float64 `json:"time_ratio"`
	// CapacityRatio is FP4/FP8 of the keys one GiB holds.
	CapacityRatio float64 `json:"capacity_ratio"`
}

// PRFigure is an end-to-end accuracy figure of PR #26209, quoted for context:
// the simulator does not reproduce it.
type PRFigure struct {
	Benchmark string  `json:"benchmark"`
	FP8       float64 `json:"fp8"`
	FP4       float64 `json:"fp4"`
	Decimals  int     `json:"decimals"` // as the PR reports them
}

// PRFigures are the end-to-end accuracy figures of PR #26209's description
// (DeepSeek-V4-Flash, TP 4; GPQA over N = 198 questions), FP8 indexer against
// FP4 indexer. The PR's retrievable text gives no throughput figure; the "about
// 1.08×" of a third-party summary of it could not be traced to the PR.
func PRFigures() []PRFigure {
	return []PRFigure{
		{Benchmark: "GSM8K", FP8: 0.980, FP4: 0.965, Decimals: 3},
		{Benchmark: "GPQA pass@1 (avg of 16)", FP8: 0.835227, FP4: 0.833333, Decimals: 6},
		{Benchmark: "GPQA majority@16", FP8: 0.845960, FP4: 0.845960, Decimals: 6},
		{Benchmark: "GPQA pass@16", FP8: 0.944444, FP4: 0.934343, Decimals: 6},
	}
}

// SimSetup echoes the resolved configuration.
type SimSetup struct {
	Source      string       `json:"source"` // "synthetic" or "input"
	Model       string       `json:"model"`
	Context     int          `json:"context"` // raw tokens before the first decode step
	Steps       int          `json:"steps"`
	Heads       int          `json:"heads"`
	TopK        int          `json:"topk"`
	Seed        uint64       `json:"seed"`
	Temperature float64      `json:"temperature"`
	KeysFirst   int          `json:"keys_first"` // context of the first decode step
	KeysLast    int          `json:"keys_last"`
	Probes      int          `json:"probes"` // history probe queries
	Synth       *SynthParams `json:"synth,omitempty"`
	RoPE        string       `json:"rope"`
	Scorer      string       `json:"scorer"`
}

// SimReport is the simulator's result. Marshalled with encoding/json it gives
// the same bytes for the same configuration, whatever the worker count.
type SimReport struct {
	Setup     SimSetup        `json:"setup"`
	FP8       SimSummary      `json:"fp8"`
	FP4       SimSummary      `json:"fp4"`
	RefMass   Num             `json:"ref_mass_mean"`
	MassSweep []SimMassPoint  `json:"mass_sweep"`
	Curve     []SimCurvePoint `json:"curve"`
	Memory    SimMemory       `json:"memory"`
	Histogram SimHistogram    `json:"error_histogram"`
	PR        []PRFigure      `json:"pr_accuracy"`
	Steps     []SimRow        `json:"steps"`
	Probes    []SimRow        `json:"probes"`
}

// simQuery is one query: its row in the input, its position and context.
type simQuery struct {
	row   int
	pos   int64
	keys  int
	probe bool
}

// Simulate follows one request through the indexer of one C4 layer as
// a serving engine runs it, three times side by side: with the FP8 path the PR
// keeps as default, with the FP4 path it adds, and with an unquantized float64
// reference.
//
//  1. Keys. Compressed entry c (raw tokens 4c..4c+3) exists once token 4c+3 has
//     been seen, at RoPE position 4c (reference note §9). Entries are written
//     as the request grows: before each query the request's pages are grown
//     (pagedcache.Allocator.Grow, lowest free page first, page 0 reserved as
//     SGLang reserves it) and the new entries go through StoreKV2 into the FP4
//     cache and StoreKFP8 into the FP8 cache, at the locs the allocator gives.
//  2. Queries. A query at raw position p sees the entries c < (p+1) div 4
//     (context_lens of the deployment). Its bf16 q goes through QuantizeQ and
//     QuantizeQFP8; mqa.Logits scores both forms over the paged caches with its
//     default options (exact dot products, SM100 epilogue); the reference scores
//     the unquantized q̃, k̃ in float64 (see simref.go).
//  3. Selection. mqa.TopK picks min(k, context) keys of each form (ties to the
//     lower index).
//
// Two kinds of query are simulated. Decode steps: Steps tokens at positions
// Context, Context+1, …, so the context grows by one compressed key every four
// steps (32,768 → 32,784 keys over the 64 default steps). History probes
// (synthetic input only; SimConfig.NoCurve turns them off): up to four prefill
// tokens at positions 4L−1 … 4L+2, which see exactly L keys, for L = 2k·2^(i/2)
// below the prefill's context: the recall-against-context-length curve. The
// cache is append-only, so a probe scored when its L keys were written sees
// exactly what the prefill token saw.
//
// Metrics, per query and over the decode steps, FP8 and FP4 each against the
// reference:
//
//   - recall: |top-k ∩ top-k_ref| / |top-k_ref| (mqa.Recall).
//   - spearman: Spearman's rank correlation over all valid keys (ties get their
//     average rank; the Pearson correlation of the ranks, float64).
//   - calc_diff: DeepGEMM's 1 − 2Σxy/Σ(x²+y²) over the valid keys (mqa.CalcDiff);
//     the summary's is over all decode rows at once, as DeepGEMM's test computes
//     it over a whole logits tensor. DeepGEMM's bars against unquantized inputs:
//     < 0.02 FP4, < 1e-3 FP8 (SPEC §6).
//   - mass: the share of attention mass the form's top-k keeps, with the mass
//     p_j = softmax(ref_j / Temperature) over the valid keys. Temperature 1
//     treats the reference logits as the scores of a distribution, the
//     distribution DeepSeek trains the indexer's softmax to match (the KL
//     objective of DeepSeek-V3.2's lightning indexer); the reference's own
//     top-k keeps the most any k keys can (ref_mass), so mass / ref_mass ≤ 1.
//     SimReport.MassSweep repeats it at 1/4, 1/2, 2 and 4 times the
//     temperature.
//   - logit error: (logit − ref) / rms(ref), the error relative to the row's
//     RMS reference logit (a per-element relative error is meaningless where the
//     relu sum is near 0); summarised as RMS, 99th percentile of |e|, max |e|,
//     and a histogram.
//
// Memory and cost come from package pagedcache: bytes per token (FP8 132,
// FP4 68), pages, keys per GiB for one layer and for the whole model, what the
// logits kernel reads per decode step over all C4 layers and its memory-bound
// time on H100 and B200.
func Simulate(cfg SimConfig) (*SimReport, error) {
	st, err := newSimState(cfg)
	if err != nil {
		return nil, err
	}
	return st.run()
}

type simState struct {
	cfg     SimConfig
	in      SimInput
	setup   SimSetup
	queries []simQuery
	k       int
	workers int
	temp    float64
	keys    int // T
}

func newSimState(cfg SimConfig) (*simState, error) {
	st := &simState{cfg: cfg}
	if cfg.Model.Name == "" {
		cfg.Model = pagedcache.V4Flash()
		st.cfg.Model = cfg.Model
	}
	if cfg.Model.C4Layers < 1 || cfg.Model.IndexTopK < 1 {
		return nil, fmt.Errorf("indexer: model %q has %d C4 layers and top-k %d, want ≥ 1", cfg.Model.Name, cfg.Model.C4Layers, cfg.Model.IndexTopK)
	}
	st.k = cfg.TopK
	if st.k == 0 {
		st.k = cfg.Model.IndexTopK
	}
	if st.k < 1 {
		return nil, fmt.Errorf("indexer: top-k %d, want ≥ 1", st.k)
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("indexer: %d workers is negative", cfg.Workers)
	}
	st.workers = cfg.Workers
	if st.workers == 0 {
		st.workers = runtime.GOMAXPROCS(0)
	}
	st.temp = cfg.Temperature
	if st.temp == 0 {
		st.temp = 1
	}
	if !(st.temp > 0) || math.IsInf(st.temp, 0) {
		return nil, fmt.Errorf("indexer: temperature %g, want a finite value > 0", st.temp)
	}
	probes := cfg.Probes
	if probes == 0 {
		probes = DefaultSimProbes
	}
	if probes < 1 || probes > 4 {
		return nil, fmt.Errorf("indexer: %d probes per context length, want 1..4 (four positions see the same keys)", probes)
	}
	st.setup = SimSetup{Model: cfg.Model.Name, TopK: st.k, Seed: cfg.Seed, Temperature: st.temp,
		Scorer: "mqa.Logits (exact dot, sm100 epilogue); reference float64 on unquantized q, k"}
	if cfg.Input != nil {
		if err := st.useInput(*cfg.Input); err != nil {
			return nil, err
		}
	} else if err := st.synthesize(probes); err != nil {
		return nil, err
	}
	if err := st.prepareRoPE(); err != nil {
		return nil, err
	}
	return st, nil
}

// checkSimHeads accepts the head counts the logits model supports.
func checkSimHeads(h int) error {
	switch h {
	case 8, 16, 32, 64:
		return nil
	}
	return fmt.Errorf("indexer: %d heads, want 8, 16, 32 or 64 (the logits kernel's head counts)", h)
}

func (st *simState) synthesize(probes int) error {
	cfg := st.cfg
	context, steps, heads := cfg.Context, cfg.Steps, cfg.Heads
	if context == 0 {
		context = DefaultSimContext
	}
	if steps == 0 {
		steps = DefaultSimSteps
	}
	if heads == 0 {
		heads = cfg.Model.IndexHeads
	}
	if err := checkSimHeads(heads); err != nil {
		return err
	}
	if context < 0 || steps < 1 || steps > maxSimQueries {
		return fmt.Errorf("indexer: context %d and %d steps, want context ≥ 0 and 1..%d steps", context, steps, maxSimQueries)
	}
	if int64(context)+int64(steps) > 4*maxSimKeys {
		return fmt.Errorf("indexer: context %d + %d steps is more than %d raw tokens", context, steps, 4*maxSimKeys)
	}
	first := (context + 1) / 4
	last := (context + steps) / 4
	if first < 1 {
		return fmt.Errorf("indexer: context %d: the first decode step sees no compressed key (the first exists after 4 tokens); want a context ≥ 3", context)
	}
	var positions []int64
	var queries []simQuery
	if !cfg.NoCurve {
		for i := 0; ; i++ {
			l := int(math.Round(2 * float64(st.k) * math.Pow(2, float64(i)/2)))
			if 4*l+2 >= context {
				break
			}
			for t := 0; t < probes; t++ {
				p := int64(4*l - 1 + t)
				queries = append(queries, simQuery{row: len(positions), pos: p, keys: l, probe: true})
				positions = append(positions, p)
			}
		}
	}
	for s := 0; s < steps; s++ {
		p := int64(context + s)
		queries = append(queries, simQuery{row: len(positions), pos: p, keys: int((p + 1) / 4)})
		positions = append(positions, p)
	}
	in, err := cfg.Synth.Synthesize(cfg.Seed, last, heads, positions)
	if err != nil {
		return err
	}
	synth, _ := cfg.Synth.resolved()
	st.in, st.queries, st.keys = in, queries, last
	st.setup.Source = "synthetic"
	st.setup.Context, st.setup.Steps, st.setup.Heads = context, steps, heads
	st.setup.KeysFirst, st.setup.KeysLast = first, last
	st.setup.Probes = len(queries) - steps
	st.setup.Synth = &synth
	return nil
}

func (st *simState) useInput(in SimInput) error {
	if err := checkSimHeads(in.H); err != nil {
		return err
	}
	if in.S < 1 || in.S > maxSimQueries {
		return fmt.Errorf("indexer: SimInput.S = %d, want 1..%d", in.S, maxSimQueries)
	}
	if len(in.KV) == 0 || len(in.KV)%HeadDim != 0 || len(in.KV)/HeadDim > maxSimKeys {
		return fmt.Errorf("indexer: kv has %d values, want [T, %d] with 1 ≤ T ≤ %d", len(in.KV), HeadDim, maxSimKeys)
	}
	t := len(in.KV) / HeadDim
	if in.NormWeight == nil {
		in.NormWeight = make([]float32, HeadDim)
		for i := range in.NormWeight {
			in.NormWeight[i] = 1
		}
	}
	if err := checkLen("norm_weight", len(in.NormWeight), HeadDim, fmt.Sprintf("[%d]", HeadDim)); err != nil {
		return err
	}
	if err := checkLen("q", len(in.Q), in.S*in.H*HeadDim, fmt.Sprintf("[%d, %d, %d]", in.S, in.H, HeadDim)); err != nil {
		return err
	}
	if err := checkLen("weights", len(in.Weights), in.S*in.H, fmt.Sprintf("[%d, %d]", in.S, in.H)); err != nil {
		return err
	}
	if in.Positions == nil {
		in.Positions = make([]int64, in.S)
		for s := range in.Positions {
			in.Positions[s] = int64(4*t - in.S + s)
		}
	}
	if err := checkLen("positions", len(in.Positions), in.S, fmt.Sprintf("[%d]", in.S)); err != nil {
		return err
	}
	queries := make([]simQuery, in.S)
	for s, p := range in.Positions {
		if p < 3 || (p+1)/4 > int64(t) {
			return fmt.Errorf("indexer: positions[%d] = %d sees %d compressed keys, want 1..%d (kv has %d rows)", s, p, (p+1)/4, t, t)
		}
		queries[s] = simQuery{row: s, pos: p, keys: int((p + 1) / 4)}
	}
	slices.SortStableFunc(queries, func(a, b simQuery) int { return cmp.Compare(a.pos, b.pos) })
	st.in, st.queries, st.keys = in, queries, t
	st.setup.Source = "input"
	st.setup.Steps, st.setup.Heads = in.S, in.H
	st.setup.Context = int(queries[0].pos)
	st.setup.KeysFirst, st.setup.KeysLast = queries[0].keys, queries[len(queries)-1].keys
	return nil
}

// prepareRoPE builds the default table when none was given and checks that it
// covers every key and query position.
func (st *simState) prepareRoPE() error {
	need := int64(4 * (st.keys - 1))
	for _, q := range st.queries {
		need = max(need, q.pos)
	}
	if st.in.Freqs.Dim == 0 && len(st.in.Freqs.Data) == 0 {
		p := SimRoPE(int(need + 1))
		t, err := rope.YaRN(p)
		if err != nil {
			return err
		}
		st.in.Freqs = t
		st.setup.RoPE = fmt.Sprintf("YaRN theta %g factor %g original %d beta %g/%g, %d positions",
			p.Base, p.Factor, p.OriginalSeqLen, p.BetaFast, p.BetaSlow, p.Positions)
	} else {
		st.setup.RoPE = fmt.Sprintf("given, %d positions", st.in.Freqs.Positions())
	}
	if err := checkTable(st.in.Freqs); err != nil {
		return err
	}
	if need >= int64(st.in.Freqs.Positions()) {
		return fmt.Errorf("indexer: the RoPE table has %d positions, the simulation needs %d", st.in.Freqs.Positions(), need+1)
	}
	return nil
}

// simSide is one cache format's state: its cache and its allocator.
type simSide struct {
	cache *pagedcache.Cache
	alloc *pagedcache.Allocator
}

const simRequest = 1

// pageSizeSim is the page size of the simulated caches (the C4 page).
const pageSizeSim = pagedcache.DefaultPageSize

func newSimSide(l pagedcache.Layout, keys int) (simSide, error) {
	pages := (keys+l.PageSize-1)/l.PageSize + 1 // + the reserved page 0
	c, err := pagedcache.NewCachePages(l, pages)
	if err != nil {
		return simSide{}, err
	}
	a, err := c.NewAllocator(pagedcache.AllocatorOptions{})
	if err != nil {
		return simSide{}, err
	}
	return simSide{cache: c, alloc: a}, nil
}

// grow allocates pages for keys [from, to) and returns their locs.
func (s simSide) grow(from, to int) ([]int64, error) {
	if _, err := s.alloc.Grow(simRequest, to); err != nil {
		return nil, err
	}
	return s.alloc.Locs(simRequest, from, to-from)
}

func (s simSide) blockTable() (pagedcache.BlockTable, error) {
	return s.alloc.BlockTable([]int{simRequest}, 0)
}

// rowResult holds one query's logits and metrics.
type rowResult struct {
	row      SimRow
	sweep    [len(massScales)][3]float64
	ref      []float32
	fp8, fp4 []float32
}

func (st *simState) run() (*SimReport, error) {
	in := st.in
	h := in.H
	l4, err := pagedcache.FP4(pageSizeSim)
	if err != nil {
		return nil, err
	}
	l8, err := pagedcache.FP8(pageSizeSim)
	if err != nil {
		return nil, err
	}
	side4, err := newSimSide(l4, st.keys)
	if err != nil {
		return nil, err
	}
	side8, err := newSimSide(l8, st.keys)
	if err != nil {
		return nil, err
	}
	keyPos := make([]int64, st.keys)
	for c := range keyPos {
		keyPos[c] = 4 * int64(c)
	}
	all := KInput{N: st.keys, KV: in.KV, NormWeight: in.NormWeight, Freqs: in.Freqs, Positions: keyPos}
	kref, err := unquantizedKeys(all, KOptions{}, st.workers)
	if err != nil {
		return nil, err
	}

	var total, done int64
	for _, q := range st.queries {
		total += int64(q.keys)
	}
	rep := &SimReport{Setup: st.setup, PR: PRFigures(), Steps: []SimRow{}, Probes: []SimRow{}}
	acc := newSimAccum()
	written := 0
	for _, q := range st.queries {
		if q.keys > written {
			if err := st.write(side4, side8, all, written, q.keys); err != nil {
				return nil, err
			}
			written = q.keys
		}
		res, err := st.score(q, side4, side8, kref, h)
		if err != nil {
			return nil, err
		}
		if q.probe {
			rep.Probes = append(rep.Probes, res.row)
		} else {
			rep.Steps = append(rep.Steps, res.row)
			acc.add(res)
		}
		done += int64(q.keys)
		if st.cfg.Progress != nil {
			st.cfg.Progress(done, total)
		}
	}
	rep.FP8, rep.FP4, rep.RefMass, rep.Histogram = acc.summaries(rep.Steps)
	rep.MassSweep = acc.massSweep(st.temp)
	rep.Curve = curve(rep.Probes, rep.Steps)
	mem, err := st.memory(side4, side8, written)
	if err != nil {
		return nil, err
	}
	rep.Memory = mem
	return rep, nil
}

// write stores keys [from, to) through both K paths into pages the request
// grows into.
func (st *simState) write(side4, side8 simSide, all KInput, from, to int) error {
	sub := KInput{N: to - from, KV: all.KV[from*HeadDim : to*HeadDim], NormWeight: all.NormWeight,
		Freqs: all.Freqs, Positions: all.Positions[from:to]}
	loc4, err := side4.grow(from, to)
	if err != nil {
		return err
	}
	loc8, err := side8.grow(from, to)
	if err != nil {
		return err
	}
	in4, in8 := sub, sub
	in4.OutLoc, in8.OutLoc = loc4, loc8
	var err4, err8 error
	if st.workers > 1 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err8 = StoreKFP8(side8.cache, in8, KOptions{})
		}()
		_, err4 = StoreKV2(side4.cache, in4, KOptions{})
		wg.Wait()
	} else {
		_, err4 = StoreKV2(side4.cache, in4, KOptions{})
		_, err8 = StoreKFP8(side8.cache, in8, KOptions{})
	}
	if err4 != nil {
		return err4
	}
	return err8
}

// score runs one query through both Q paths, both logits forms and the
// reference, and measures it.
func (st *simState) score(q simQuery, side4, side8 simSide, kref []float64, h int) (rowResult, error) {
	in := st.in
	qrow := in.Q[q.row*h*HeadDim : (q.row+1)*h*HeadDim]
	wrow := in.Weights[q.row*h : (q.row+1)*h]
	qin := QInput{B: 1, H: h, Q: qrow, Weight: wrow, Freqs: in.Freqs, Positions: []int64{q.pos}}
	q4, err := QuantizeQ(qin, QOptions{})
	if err != nil {
		return rowResult{}, err
	}
	q8, err := QuantizeQFP8(qin, QFP8Options{})
	if err != nil {
		return rowResult{}, err
	}
	n := q.keys
	opts := mqa.Options{Workers: st.workers}
	bt4, err := side4.blockTable()
	if err != nil {
		return rowResult{}, err
	}
	bt8, err := side8.blockTable()
	if err != nil {
		return rowResult{}, err
	}
	fp4, err := mqa.Logits(&mqa.Input{B: 1, NextN: 1, H: h, QFP4: q4.QFP4, QSF: q4.QSF, Cache: side4.cache,
		Weights: q4.WeightsOut, ContextLens: []int32{int32(n)}, BlockTable: bt4.Data, MaxBlocks: bt4.Width,
		MaxContextLen: n}, opts)
	if err != nil {
		return rowResult{}, err
	}
	fp8, err := mqa.Logits(&mqa.Input{B: 1, NextN: 1, H: h, QFP8: q8.Q, Cache: side8.cache,
		Weights: q8.WeightsOut, ContextLens: []int32{int32(n)}, BlockTable: bt8.Data, MaxBlocks: bt8.Width,
		MaxContextLen: n}, opts)
	if err != nil {
		return rowResult{}, err
	}
	qt, w, err := unquantizedQuery(qrow, wrow, in.Freqs, q.pos, rope.Options{}, DefaultWeightScale())
	if err != nil {
		return rowResult{}, err
	}
	ref := make([]float32, n)
	newRefScorer(qt, w).score(ref, kref[:n*HeadDim], st.workers)

	m, sweep, err := measureRow(ref, fp8, fp4, st.k, st.temp)
	if err != nil {
		return rowResult{}, err
	}
	m.Position, m.Keys = q.pos, n
	return rowResult{row: m, sweep: sweep, ref: ref, fp8: fp8, fp4: fp4}, nil
}

// memory is the capacity and cost model for the final context of keys keys.
func (st *simState) memory(side4, side8 simSide, keys int) (SimMemory, error) {
	m := st.cfg.Model
	mem := SimMemory{Model: m.Name, Layers: m.Layers, C4Layers: m.C4Layers, Keys: keys,
		PageSize:      pagedcache.DefaultPageSize,
		BandwidthH100: float64(pagedcache.BandwidthH100), BandwidthB200: float64(pagedcache.BandwidthB200)}
	var reads [2]pagedcache.DecodeRead
	var forms [2]SimFormMemory
	for i, side := range []simSide{side8, side4} {
		l := side.cache.Layout
		pages, err := side.alloc.Pages(simRequest)
		if err != nil {
			return SimMemory{}, err
		}
		d, err := m.DecodeRead(l, int64(keys))
		if err != nil {
			return SimMemory{}, err
		}
		reads[i] = d
		f := SimFormMemory{
			Format:             [2]string{"fp8", "fp4"}[i],
			BytesPerToken:      l.BytesPerToken(),
			PageBytes:          l.PageBytes(),
			PagesUsed:          len(pages),
			CachePages:         side.cache.Pages,
			RequestBytes:       int64(len(pages)) * int64(l.PageBytes()),
			BytesPerRawToken:   float64(m.BytesPerToken(l)) / pagedcache.CompressRatio,
			KeysPerGiBLayer:    l.TokensPerGiB(),
			KeysPerGiBModel:    m.TokensPerGiB(l),
			RawTokensPerGiB:    m.TokensPerGiB(l) * pagedcache.CompressRatio,
			DecodeReadBytes:    d.PageBytes,
			DecodeReadKeyBytes: d.TokenBytes,
			DecodeSecondsH100:  d.Seconds(pagedcache.BandwidthH100),
			DecodeSecondsB200:  d.Seconds(pagedcache.BandwidthB200),
		}
		f.ModelRequestBytes = f.RequestBytes * int64(m.C4Layers)
		forms[i] = f
	}
	mem.FP8, mem.FP4 = forms[0], forms[1]
	mem.TimeRatio = pagedcache.ReadRatio(reads[1], reads[0])
	mem.CapacityRatio = float64(mem.FP4.KeysPerGiBLayer) / float64(mem.FP8.KeysPerGiBLayer)
	return mem, nil
}
