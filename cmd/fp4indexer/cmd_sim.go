package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/indexer"
	"github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rope"
)

const simUsage = `usage: fp4indexer sim [flags]

Simulates the DeepSeek V4 indexer of one C4 layer for one request, with the FP8
path the PR keeps as default, the FP4 path it adds, and an unquantized float64
reference, side by side. Keys are written through the K paths (StoreKFP8,
StoreKV2) into paged caches whose pages the request grows into; each query goes
through the Q paths, is scored by the paged MQA logits model (exact dot products,
SM100 epilogue) and its top-k is compared with the reference's: recall, Spearman
rank correlation, DeepGEMM's calc_diff, the share of attention mass (softmax of the
reference logits) the top-k keeps, and the logit error. Then the cache's cost:
bytes per token, pages, keys per GiB, the bytes the logits kernel reads per decode
step and its memory-bound time on H100 and B200.

Input is synthetic (see indexer.SynthParams: Student-t activations, outlier
channels, content topics, a few dominant keys, recency through the RoPE table)
unless -in names a safetensors file with these tensors:

  kv (or k)    F32/BF16 [T, 128]     compressor outputs before RMSNorm; entry c at
                                     RoPE position 4c
  q            BF16/F32 [S, H, 128]  indexer queries before RoPE (F32 is rounded
                                     to bf16, the kernel's input type)
  weights      BF16/F32 [S, H] or [S, H, 1]  weights_proj output before the
                                     kernel's 128^-0.5*64^-0.5 (F32 rounded to bf16)
  norm_weight  F32/BF16 [128]        optional; default all ones
  positions    I64/I32 [S]           optional raw token positions of the queries;
                                     default the last S tokens, 4T-S ... 4T-1
  freqs_cis    F32 [npos, 64]        optional RoPE table; default V4's compressed-
                                     layer table (theta 160000, YaRN factor 16)

H must be 8, 16, 32 or 64. A query at position p sees keys c < (p+1)/4.

Without -in: decode steps at positions CONTEXT, CONTEXT+1, ... (the context grows by
one compressed key every 4 steps), plus history probes (prefill tokens that see
L = 2k*2^(i/2) keys) for the recall-against-context-length curve.

`

func runSim(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sim", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simUsage)
		fs.PrintDefaults()
	}
	context := fs.Int("context", indexer.DefaultSimContext, "raw tokens before the first decode step (compressed keys = context/4)")
	steps := fs.Int("steps", indexer.DefaultSimSteps, "decode steps")
	heads := fs.Int("heads", 64, "indexer heads: 8, 16, 32 or 64")
	topk := fs.Int("topk", 0, "top-k (0: the model's, 512 flash, 1024 pro)")
	model := fs.String("model", "flash", "model: flash (DeepSeek-V4-Flash) or pro (DeepSeek-V4-Pro)")
	seed := fs.Uint64("seed", 1, "seed of the synthetic generator")
	temperature := fs.Float64("temperature", 1, "softmax temperature of the attention-mass metric")
	probes := fs.Int("probes", indexer.DefaultSimProbes, "history probes per context length, 1..4")
	noCurve := fs.Bool("no-curve", false, "skip the history probes (no recall-vs-context curve)")
	dof := fs.Int("dof", 0, "synthetic: Student-t degrees of freedom (0: 4)")
	outliers := fs.Int("outliers", 0, "synthetic: outlier channels (0: 4, negative: none)")
	queryScale := fs.Float64("query-scale", 0, "synthetic: query scale, an inverse softmax temperature (0: 0.4)")
	inPath := fs.String("in", "", "safetensors file with kv, q, weights (replaces the generator)")
	jsonPath := fs.String("json", "", "write the JSON report to this file")
	plotPath := fs.String("plot", "", "write the plots (recall vs context, logit error histogram) to this PNG")
	workers := fs.Int("workers", 0, "goroutines (0: GOMAXPROCS)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	cfg := indexer.SimConfig{Context: *context, Steps: *steps, Heads: *heads, TopK: *topk, Seed: *seed,
		Temperature: *temperature, Probes: *probes, NoCurve: *noCurve, Workers: *workers,
		Synth: indexer.SynthParams{Dof: *dof, Outliers: *outliers, QueryScale: *queryScale}}
	switch *model {
	case "flash":
		cfg.Model = pagedcache.V4Flash()
	case "pro":
		cfg.Model = pagedcache.V4Pro()
	default:
		return usagef("-model %q: want flash or pro", *model)
	}
	switch {
	case *context < 0:
		return usagef("-context %d is negative", *context)
	case *steps < 1:
		return usagef("-steps %d: want at least 1", *steps)
	case *topk < 0:
		return usagef("-topk %d is negative", *topk)
	case *probes < 1 || *probes > 4:
		return usagef("-probes %d: want 1..4", *probes)
	case !(*temperature > 0) || math.IsInf(*temperature, 0):
		return usagef("-temperature %g: want a finite value > 0", *temperature)
	case *workers < 0:
		return usagef("-workers %d is negative", *workers)
	}
	if *heads != 8 && *heads != 16 && *heads != 32 && *heads != 64 {
		return usagef("-heads %d: want 8, 16, 32 or 64", *heads)
	}
	if *inPath != "" {
		in, err := readSimInput(*inPath)
		if err != nil {
			return err
		}
		cfg.Input = &in
	}
	if *plotPath != "" && !strings.HasSuffix(strings.ToLower(*plotPath), ".png") {
		return usagef("-plot %q: want a .png file", *plotPath)
	}

	bar := newProgressBar(stderr)
	cfg.Progress = bar.update
	start := time.Now()
	rep, err := indexer.Simulate(cfg)
	bar.finish()
	if err != nil {
		return err
	}
	elapsed := time.Since(start)

	w := bufio.NewWriter(stdout)
	printSimReport(w, rep)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fp4indexer sim: simulated in %.1f s\n", elapsed.Seconds())
	if *jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *plotPath != "" {
		if err := writeSimPlot(*plotPath, rep); err != nil {
			return err
		}
	}
	return nil
}

// readSimInput loads the tensors the help text lists.
func readSimInput(path string) (indexer.SimInput, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return indexer.SimInput{}, err
	}
	get := func(names ...string) (safetensors.Tensor, bool) {
		for _, n := range names {
			if t, ok := f.Get(n); ok {
				return t, true
			}
		}
		return safetensors.Tensor{}, false
	}
	var in indexer.SimInput
	kv, ok := get("kv", "k")
	if !ok {
		return in, fmt.Errorf("%s: no tensor kv (or k) [T, 128]; it has %v", path, f.Names())
	}
	if len(kv.Shape) != 2 || kv.Shape[1] != indexer.HeadDim || kv.Shape[0] < 1 {
		return in, fmt.Errorf("%s: %s has shape %v, want [T, %d]", path, kv.Name, kv.Shape, indexer.HeadDim)
	}
	if in.KV, err = floats(kv); err != nil {
		return in, err
	}
	q, ok := get("q")
	if !ok {
		return in, fmt.Errorf("%s: no tensor q [S, H, 128]; it has %v", path, f.Names())
	}
	if len(q.Shape) != 3 || q.Shape[2] != indexer.HeadDim || q.Shape[0] < 1 {
		return in, fmt.Errorf("%s: q has shape %v, want [S, H, %d]", path, q.Shape, indexer.HeadDim)
	}
	in.S, in.H = q.Shape[0], q.Shape[1]
	if in.Q, err = bf16s(q); err != nil {
		return in, err
	}
	wt, ok := get("weights")
	if !ok {
		return in, fmt.Errorf("%s: no tensor weights [S, H]; it has %v", path, f.Names())
	}
	shapeOK := len(wt.Shape) == 2 || len(wt.Shape) == 3 && wt.Shape[2] == 1
	if !shapeOK || wt.Shape[0] != in.S || wt.Shape[1] != in.H {
		return in, fmt.Errorf("%s: weights has shape %v, want [%d, %d]", path, wt.Shape, in.S, in.H)
	}
	if in.Weights, err = bf16s(wt); err != nil {
		return in, err
	}
	if nw, ok := get("norm_weight"); ok {
		if len(nw.Shape) != 1 || nw.Shape[0] != indexer.HeadDim {
			return in, fmt.Errorf("%s: norm_weight has shape %v, want [%d]", path, nw.Shape, indexer.HeadDim)
		}
		if in.NormWeight, err = floats(nw); err != nil {
			return in, err
		}
	}
	if p, ok := get("positions"); ok {
		if len(p.Shape) != 1 || p.Shape[0] != in.S {
			return in, fmt.Errorf("%s: positions has shape %v, want [%d]", path, p.Shape, in.S)
		}
		switch p.DType {
		case safetensors.I64:
			in.Positions, err = p.Int64s()
		case safetensors.I32:
			var v []int32
			v, err = p.Int32s()
			for _, x := range v {
				in.Positions = append(in.Positions, int64(x))
			}
		default:
			err = fmt.Errorf("%s: positions has dtype %s, want I64 or I32", path, p.DType)
		}
		if err != nil {
			return in, err
		}
	}
	if fr, ok := get("freqs_cis"); ok {
		if len(fr.Shape) != 2 || fr.Shape[1] != indexer.RoPEDim {
			return in, fmt.Errorf("%s: freqs_cis has shape %v, want [positions, %d]", path, fr.Shape, indexer.RoPEDim)
		}
		data, err := fr.Float32s()
		if err != nil {
			return in, err
		}
		if in.Freqs, err = rope.NewTable(indexer.RoPEDim, data); err != nil {
			return in, err
		}
	}
	return in, nil
}

// floats widens an F32 or BF16 tensor to float32.
func floats(t safetensors.Tensor) ([]float32, error) {
	if t.DType == safetensors.BF16 {
		bits, err := t.Uint16s()
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(bits))
		for i, b := range bits {
			out[i] = bf16.Frombits(b).Float32()
		}
		return out, nil
	}
	if t.DType != safetensors.F32 {
		return nil, fmt.Errorf("tensor %s has dtype %s, want F32 or BF16", t.Name, t.DType)
	}
	return t.Float32s()
}

// bf16s reads a BF16 tensor, or rounds an F32 one to bf16 (RNE).
func bf16s(t safetensors.Tensor) ([]bf16.BF16, error) {
	switch t.DType {
	case safetensors.BF16:
		bits, err := t.Uint16s()
		if err != nil {
			return nil, err
		}
		out := make([]bf16.BF16, len(bits))
		for i, b := range bits {
			out[i] = bf16.Frombits(b)
		}
		return out, nil
	case safetensors.F32:
		v, err := t.Float32s()
		if err != nil {
			return nil, err
		}
		out := make([]bf16.BF16, len(v))
		for i, x := range v {
			out[i] = bf16.Fromfloat32(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %s has dtype %s, want BF16 or F32", t.Name, t.DType)
}

func printSimReport(w io.Writer, r *indexer.SimReport) {
	s := r.Setup
	fmt.Fprintf(w, "fp4indexer sim: %s, one C4 layer, %d heads, top-%d, ", s.Model, s.Heads, s.TopK)
	if s.Source == "synthetic" {
		fmt.Fprintf(w, "synthetic input (seed %d)\n", s.Seed)
	} else {
		fmt.Fprintln(w, "user-supplied tensors")
	}
	fmt.Fprintf(w, "  %d decode steps from raw position %d: %d → %d compressed keys; %d history probes\n",
		s.Steps, s.Context, s.KeysFirst, s.KeysLast, s.Probes)
	fmt.Fprintf(w, "  scorer: %s; RoPE: %s\n\n", s.Scorer, s.RoPE)

	row := func(label string, a, b string) { fmt.Fprintf(w, "  %-52s %12s %12s\n", label, a, b) }
	f := func(v indexer.Num, prec int) string {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return "-"
		}
		return fmt.Sprintf("%.*f", prec, float64(v))
	}
	g := func(v indexer.Num) string {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return "-"
		}
		return fmt.Sprintf("%.3g", float64(v))
	}
	fmt.Fprintf(w, "accuracy against the float64 reference, %d decode steps\n", s.Steps)
	row("", "FP8", "FP4")
	row("top-k recall, mean", f(r.FP8.RecallMean, 4), f(r.FP4.RecallMean, 4))
	row("top-k recall, worst step", f(r.FP8.RecallMin, 4), f(r.FP4.RecallMin, 4))
	row("Spearman rank correlation (all keys), mean", f(r.FP8.SpearmanMean, 4), f(r.FP4.SpearmanMean, 4))
	row("calc_diff (DeepGEMM bars: FP8 < 1e-3, FP4 < 0.02)", g(r.FP8.CalcDiff), g(r.FP4.CalcDiff))
	row("calc_diff, worst step", g(r.FP8.CalcDiffMax), g(r.FP4.CalcDiffMax))
	row(fmt.Sprintf("attention mass kept by top-k (reference: %s)", f(r.RefMass, 4)), f(r.FP8.MassMean, 4), f(r.FP4.MassMean, 4))
	row("  as a share of the reference top-k's mass", f(r.FP8.MassRatio, 4), f(r.FP4.MassRatio, 4))
	for _, m := range r.MassSweep {
		if m.Temperature == s.Temperature {
			continue
		}
		row(fmt.Sprintf("  same at temperature %g (reference keeps %s)", m.Temperature, f(m.RefMass, 4)), f(m.FP8Ratio, 4), f(m.FP4Ratio, 4))
	}
	row("logit error / rms(ref logit): rms", g(r.FP8.ErrRMS), g(r.FP4.ErrRMS))
	row("  99th percentile of |error|", g(r.FP8.ErrP99), g(r.FP4.ErrP99))
	row("  max |error|", g(r.FP8.ErrMax), g(r.FP4.ErrMax))
	fmt.Fprintln(w)

	if len(r.Curve) > 0 {
		fmt.Fprintln(w, "recall against context length (mean over the queries of each half-octave)")
		fmt.Fprintf(w, "  %10s %8s %10s %10s %12s %12s %10s\n", "keys", "queries", "recall FP8", "recall FP4", "calc_diff FP8", "calc_diff FP4", "ref mass")
		for _, p := range r.Curve {
			fmt.Fprintf(w, "  %10d %8d %10s %10s %12s %12s %10s\n", p.Keys, p.Queries, f(p.RecallFP8, 4), f(p.RecallFP4, 4),
				g(p.CalcDiffFP8), g(p.CalcDiffFP4), f(p.RefMass, 4))
		}
		fmt.Fprintln(w)
	}

	m := r.Memory
	fmt.Fprintf(w, "memory and cost, %s (%d indexer layers of %d), context of %d compressed keys\n", m.Model, m.C4Layers, m.Layers, m.Keys)
	row("", "FP8", "FP4")
	row("bytes per compressed key, one layer", fmt.Sprint(m.FP8.BytesPerToken), fmt.Sprint(m.FP4.BytesPerToken))
	row(fmt.Sprintf("page of %d keys, bytes", m.PageSize), fmt.Sprint(m.FP8.PageBytes), fmt.Sprint(m.FP4.PageBytes))
	row("pages the request holds, one layer", fmt.Sprint(m.FP8.PagesUsed), fmt.Sprint(m.FP4.PagesUsed))
	row("cache of this request, one layer", bytesStr(m.FP8.RequestBytes), bytesStr(m.FP4.RequestBytes))
	row("cache of this request, all indexer layers", bytesStr(m.FP8.ModelRequestBytes), bytesStr(m.FP4.ModelRequestBytes))
	row("indexer cache per raw token, all layers, bytes", fmt.Sprintf("%.1f", m.FP8.BytesPerRawToken), fmt.Sprintf("%.1f", m.FP4.BytesPerRawToken))
	row("compressed keys per GiB, one layer", fmt.Sprint(m.FP8.KeysPerGiBLayer), fmt.Sprint(m.FP4.KeysPerGiBLayer))
	row("raw tokens per GiB of indexer cache, whole model", fmt.Sprint(m.FP8.RawTokensPerGiB), fmt.Sprint(m.FP4.RawTokensPerGiB))
	row("decode step: bytes the logits kernel reads (pages)", bytesStr(m.FP8.DecodeReadBytes), bytesStr(m.FP4.DecodeReadBytes))
	row("  memory-bound time, H100 3.35 TB/s", usStr(m.FP8.DecodeSecondsH100), usStr(m.FP4.DecodeSecondsH100))
	row("  memory-bound time, B200 8 TB/s", usStr(m.FP8.DecodeSecondsB200), usStr(m.FP4.DecodeSecondsB200))
	fmt.Fprintf(w, "  FP4/FP8: decode read time %.4f (%.2f× faster if memory-bound), capacity %.3f×\n\n",
		m.TimeRatio, 1/m.TimeRatio, m.CapacityRatio)

	fmt.Fprintln(w, "PR #26209 end-to-end accuracy, DeepSeek-V4-Flash, quoted for context (FP8 indexer → FP4 indexer):")
	for _, p := range r.PR {
		fmt.Fprintf(w, "  %-26s %.*f → %.*f\n", p.Benchmark, p.Decimals, p.FP8, p.Decimals, p.FP4)
	}
	fmt.Fprintln(w, "  No throughput figure in the PR's text (a third-party summary says about 1.08×, untraced).")
}

func bytesStr(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func usStr(s float64) string { return fmt.Sprintf("%.2f µs", s*1e6) }

// progressBar draws a bar on stderr when stderr is a terminal, at most ten
// times a second; elsewhere it does nothing.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgressBar(stderr io.Writer) *progressBar {
	p := &progressBar{w: stderr, start: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progressBar) update(done, total int64) {
	if !p.on || total <= 0 {
		return
	}
	now := time.Now()
	if done < total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	const width = 40
	frac := float64(done) / float64(total)
	n := int(frac * width)
	fmt.Fprintf(p.w, "\rsim [%s%s] %3.0f%% %5.1fs", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, now.Sub(p.start).Seconds())
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}
