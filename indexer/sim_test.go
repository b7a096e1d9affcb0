package indexer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rope"
)

// smallSim is a configuration that runs in well under a second: 1,024 keys
// after the prefill (4,096 raw tokens), 4 decode steps, 8 heads, top-64, with
// history probes at 128 … 724 keys.
func smallSim() SimConfig {
	return SimConfig{Context: 4096, Steps: 4, Heads: 8, TopK: 64, Seed: 7}
}

func simJSON(t *testing.T, cfg SimConfig) []byte {
	t.Helper()
	rep, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The report is a function of the configuration alone: the same bytes on a
// second run, with one worker or two, and under GOMAXPROCS 1 and 2.
func TestSimDeterministic(t *testing.T) {
	cfg := smallSim()
	want := simJSON(t, cfg)
	if got := simJSON(t, cfg); !bytes.Equal(got, want) {
		t.Fatal("a second run gave different JSON")
	}
	for _, w := range []int{1, 2, 3} {
		c := cfg
		c.Workers = w
		if got := simJSON(t, c); !bytes.Equal(got, want) {
			t.Errorf("Workers = %d gave different JSON", w)
		}
	}
	for _, procs := range []int{1, 2} {
		old := runtime.GOMAXPROCS(procs)
		got := simJSON(t, cfg)
		runtime.GOMAXPROCS(old)
		if !bytes.Equal(got, want) {
			t.Errorf("GOMAXPROCS = %d gave different JSON", procs)
		}
	}
	c := cfg
	c.Seed++
	if got := simJSON(t, c); bytes.Equal(got, want) {
		t.Error("another seed gave the same JSON")
	}
}

// The shape of a run: query positions, causality (a query at raw position p
// sees (p+1) div 4 keys), pages, the probes' context lengths.
func TestSimQueriesAndCausality(t *testing.T) {
	rep, err := Simulate(smallSim())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Steps) != 4 {
		t.Fatalf("%d steps, want 4", len(rep.Steps))
	}
	for s, r := range rep.Steps {
		if r.Position != int64(4096+s) {
			t.Errorf("step %d at position %d, want %d", s, r.Position, 4096+s)
		}
		if want := int((r.Position + 1) / 4); r.Keys != want {
			t.Errorf("step %d sees %d keys, want (p+1) div 4 = %d", s, r.Keys, want)
		}
		if r.K != 64 || r.Pages != (r.Keys+63)/64 {
			t.Errorf("step %d: k %d pages %d", s, r.K, r.Pages)
		}
	}
	// 4096 raw tokens: steps 0..2 see 1024 keys, step 3 (position 4099) sees 1025.
	if rep.Steps[2].Keys != 1024 || rep.Steps[3].Keys != 1025 {
		t.Errorf("contexts %d, %d; want 1024, 1025", rep.Steps[2].Keys, rep.Steps[3].Keys)
	}
	if rep.Setup.KeysFirst != 1024 || rep.Setup.KeysLast != 1025 {
		t.Errorf("setup keys %d → %d", rep.Setup.KeysFirst, rep.Setup.KeysLast)
	}
	wantL := []int{128, 181, 256, 362, 512, 724}
	if len(rep.Probes) != 4*len(wantL) {
		t.Fatalf("%d probes, want %d", len(rep.Probes), 4*len(wantL))
	}
	for i, r := range rep.Probes {
		l := wantL[i/4]
		if r.Keys != l || r.Position != int64(4*l-1+i%4) {
			t.Errorf("probe %d: position %d keys %d, want %d, %d", i, r.Position, r.Keys, 4*l-1+i%4, l)
		}
	}
	if len(rep.Curve) != len(wantL)+1 || rep.Curve[len(rep.Curve)-1].Queries != 4 {
		t.Errorf("curve %+v", rep.Curve)
	}
	c := smallSim()
	c.NoCurve = true
	rep, err = Simulate(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Probes) != 0 || len(rep.Curve) != 1 {
		t.Errorf("NoCurve: %d probes, %d curve points", len(rep.Probes), len(rep.Curve))
	}
}

// A selection measured against itself is perfect.
func TestSimMetricsSelf(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := make([]float32, 3000)
	for i := range ref {
		ref[i] = float32(rng.NormFloat64())
	}
	ref[10] = ref[11] // a tie
	row, sweep, err := measureRow(ref, ref, ref, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []SimForm{row.FP8, row.FP4} {
		if f.Recall != 1 || f.Spearman != 1 || f.CalcDiff != 0 || f.Mass != row.RefMass {
			t.Errorf("self: %+v (ref mass %v)", f, row.RefMass)
		}
	}
	for s := range sweep {
		if sweep[s][1] != sweep[s][0] || sweep[s][2] != sweep[s][0] {
			t.Errorf("sweep %d: %v", s, sweep[s])
		}
	}
	if row.K != 100 || row.RefMass <= 0 || row.RefMass >= 1 {
		t.Errorf("k %d ref mass %v", row.K, row.RefMass)
	}
}

// Spearman's ranks, checked by hand: ties share their mean rank.
func TestAvgRanks(t *testing.T) {
	x := []float32{3, 1, 2, 2, float32(math.Copysign(0, -1)), 0, 5}
	// sorted: -0, 0 (tie: ranks 1, 2 → 1.5), 1 (3), 2, 2 (4, 5 → 4.5), 3 (6), 5 (7)
	want := []float64{6, 3, 4.5, 4.5, 1.5, 1.5, 7}
	got := avgRanks(x)
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("avgRanks = %v, want %v", got, want)
		}
	}
	// A reversed order correlates −1, a monotone transform +1.
	a := []float64{1, 2, 3, 4}
	if r := pearson(a, []float64{4, 3, 2, 1}); math.Abs(r+1) > 1e-15 {
		t.Errorf("pearson reversed = %v", r)
	}
	if r := pearson(avgRanks([]float32{1, 10, 100, 1000}), a); r != 1 {
		t.Errorf("spearman monotone = %v", r)
	}
	if r := pearson(a, []float64{2, 2, 2, 2}); !math.IsNaN(r) {
		t.Errorf("pearson constant = %v, want NaN", r)
	}
}

// The blocked reference equals mqa.Reference, an independent float64
// implementation, on random inputs over a paged layout. Both sum each head's
// products in element order and the heads in head order; a platform that
// fuses a multiply-add may change the last bit of either, hence the one-ulp
// allowance.
func TestRefScorerMatchesMQAReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, h := range []int{8, 16, 64} {
		const n = 700
		q := make([]float64, h*HeadDim)
		q32 := make([]float32, len(q))
		for i := range q {
			q32[i] = float32(rng.NormFloat64())
			q[i] = float64(q32[i])
		}
		w := make([]float64, h)
		w32 := make([]float32, h)
		for i := range w {
			w32[i] = float32(rng.NormFloat64())
			w[i] = float64(w32[i])
		}
		keys := make([]float64, n*HeadDim)
		kv32 := make([]float32, ((n+63)/64+1)*64*HeadDim) // page 0 unused, keys from slot 64
		for j := 0; j < n; j++ {
			for d := 0; d < HeadDim; d++ {
				v := float32(rng.NormFloat64())
				keys[j*HeadDim+d] = float64(v)
				kv32[(64+j)*HeadDim+d] = v
			}
		}
		pages := (n + 63) / 64
		bt := make([]int32, pages)
		for i := range bt {
			bt[i] = int32(i + 1)
		}
		want, err := mqa.Reference(&mqa.RefInput{B: 1, NextN: 1, H: h, D: HeadDim, Q: q32, KV: kv32, PageSize: 64,
			Weights: w32, ContextLens: []int32{n}, BlockTable: bt, MaxBlocks: pages, MaxContextLen: n}, mqa.RefOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{1, 2} {
			got := make([]float32, n)
			newRefScorer(q, w).score(got, keys, workers)
			for j := range got {
				a, b := math.Float32bits(got[j]), math.Float32bits(want[j])
				if a != b && (a>>31 != b>>31 || max(a, b)-min(a, b) > 1) {
					t.Fatalf("H %d key %d: %v (%#x), mqa.Reference %v (%#x)", h, j, got[j], a, want[j], b)
				}
			}
		}
	}
}

// The caches hold, at the pages the allocator handed out (lowest first, page 0
// reserved), exactly what StoreKV2 and StoreKFP8 write for those rows.
func TestSimCachesArePaged(t *testing.T) {
	cfg := smallSim()
	cfg.NoCurve = true
	st, err := newSimState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l4, _ := pagedcache.FP4(pageSizeSim)
	l8, _ := pagedcache.FP8(pageSizeSim)
	side4, err := newSimSide(l4, st.keys)
	if err != nil {
		t.Fatal(err)
	}
	side8, err := newSimSide(l8, st.keys)
	if err != nil {
		t.Fatal(err)
	}
	pos := make([]int64, st.keys)
	for c := range pos {
		pos[c] = 4 * int64(c)
	}
	all := KInput{N: st.keys, KV: st.in.KV, NormWeight: st.in.NormWeight, Freqs: st.in.Freqs, Positions: pos}
	// Grow in uneven steps, as the queries make it grow.
	written := 0
	for _, to := range []int{1, 63, 64, 65, 700, st.keys} {
		if err := st.write(side4, side8, all, written, to); err != nil {
			t.Fatal(err)
		}
		written = to
	}
	bt, err := side4.blockTable()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range bt.Data {
		if p != int32(i+1) {
			t.Fatalf("block table %v, want 1, 2, 3, …", bt.Data)
		}
	}
	// One store of all rows at locs 64 … into fresh caches.
	fresh4, _ := pagedcache.NewCachePages(l4, side4.cache.Pages)
	fresh8, _ := pagedcache.NewCachePages(l8, side8.cache.Pages)
	locs := make([]int64, st.keys)
	for i := range locs {
		locs[i] = int64(64 + i)
	}
	all.OutLoc = locs
	if _, err := StoreKV2(fresh4, all, KOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := StoreKFP8(fresh8, all, KOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh4.Data, side4.cache.Data) || !bytes.Equal(fresh8.Data, side8.cache.Data) {
		t.Fatal("the paged caches differ from a single store at locs 64…")
	}
}

// The logits the simulator ranks are the kernels' on its own caches: for one
// query, every key rescored from the cache bytes the block table points at,
// per head with mqa.DotFP4 / mqa.DotFP8 and the SM100 epilogue, from the
// outputs of QuantizeQ and QuantizeQFP8.
func TestSimLogitsAreTheKernels(t *testing.T) {
	cfg := smallSim()
	cfg.NoCurve = true
	st, err := newSimState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l4, _ := pagedcache.FP4(pageSizeSim)
	l8, _ := pagedcache.FP8(pageSizeSim)
	side4, _ := newSimSide(l4, st.keys)
	side8, _ := newSimSide(l8, st.keys)
	pos := make([]int64, st.keys)
	for c := range pos {
		pos[c] = 4 * int64(c)
	}
	all := KInput{N: st.keys, KV: st.in.KV, NormWeight: st.in.NormWeight, Freqs: st.in.Freqs, Positions: pos}
	q := st.queries[len(st.queries)-1]
	if err := st.write(side4, side8, all, 0, q.keys); err != nil {
		t.Fatal(err)
	}
	kref, err := unquantizedKeys(all, KOptions{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.score(q, side4, side8, kref, st.in.H)
	if err != nil {
		t.Fatal(err)
	}
	h := st.in.H
	qin := QInput{B: 1, H: h, Q: st.in.Q[q.row*h*HeadDim : (q.row+1)*h*HeadDim], Weight: st.in.Weights[q.row*h : (q.row+1)*h],
		Freqs: st.in.Freqs, Positions: []int64{q.pos}}
	q4, _ := QuantizeQ(qin, QOptions{})
	q8, _ := QuantizeQFP8(qin, QFP8Options{})
	bt4, _ := side4.blockTable()
	bt8, _ := side8.blockTable()
	a := make([]float32, h)
	for j := 0; j < q.keys; j++ {
		pay, sc := side4.cache.Token(int(bt4.Data[j/64]), j%64)
		for hh := range a {
			a[hh], err = mqa.DotFP4(q4.QFP4[hh*64:(hh+1)*64], uint32(q4.QSF[hh]), pay, binary.LittleEndian.Uint32(sc), mqa.Exact)
			if err != nil {
				t.Fatal(err)
			}
		}
		want4, err := mqa.SM100.Reduce(mqa.FP4, a, q4.WeightsOut, 0)
		if err != nil {
			t.Fatal(err)
		}
		pay, sc = side8.cache.Token(int(bt8.Data[j/64]), j%64)
		k8 := make([]fp8.E4M3, HeadDim)
		for i, b := range pay {
			k8[i] = fp8.E4M3(b)
		}
		for hh := range a {
			a[hh], _ = mqa.DotFP8(q8.Q[hh*HeadDim:(hh+1)*HeadDim], k8, mqa.Exact)
		}
		want8, _ := mqa.SM100.Reduce(mqa.FP8, a, q8.WeightsOut, math.Float32frombits(binary.LittleEndian.Uint32(sc)))
		if math.Float32bits(res.fp4[j]) != math.Float32bits(want4) || math.Float32bits(res.fp8[j]) != math.Float32bits(want8) {
			t.Fatalf("key %d: fp4 %v want %v, fp8 %v want %v", j, res.fp4[j], want4, res.fp8[j], want8)
		}
	}
	if len(res.fp4) != q.keys || len(res.ref) != q.keys {
		t.Errorf("row lengths %d %d, want %d", len(res.fp4), len(res.ref), q.keys)
	}
}

// On the default generator FP8 selects at least as well as FP4, and both
// pass DeepGEMM's calc_diff bars against unquantized inputs.
func TestSimFP8AtLeastFP4(t *testing.T) {
	cfg := SimConfig{Context: 8192, Steps: 8, Heads: 16, TopK: 128, Seed: 3, NoCurve: true}
	rep, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FP8.RecallMean < rep.FP4.RecallMean {
		t.Errorf("mean recall FP8 %v < FP4 %v", rep.FP8.RecallMean, rep.FP4.RecallMean)
	}
	if rep.FP8.SpearmanMean < rep.FP4.SpearmanMean || rep.FP8.CalcDiff > rep.FP4.CalcDiff {
		t.Errorf("FP8 %+v\nFP4 %+v", rep.FP8, rep.FP4)
	}
	if !(rep.FP8.CalcDiff < 1e-3) || !(rep.FP4.CalcDiff < 0.02) {
		t.Errorf("calc_diff FP8 %v (bar 1e-3), FP4 %v (bar 0.02)", rep.FP8.CalcDiff, rep.FP4.CalcDiff)
	}
	if !(rep.FP4.RecallMean > 0.5) || rep.FP8.RecallMean > 1 {
		t.Errorf("recall FP8 %v FP4 %v", rep.FP8.RecallMean, rep.FP4.RecallMean)
	}
	var n8, n4 int64
	for i := range rep.Histogram.FP8 {
		n8 += rep.Histogram.FP8[i]
		n4 += rep.Histogram.FP4[i]
	}
	n8 += rep.Histogram.Below[0] + rep.Histogram.Above[0]
	n4 += rep.Histogram.Below[1] + rep.Histogram.Above[1]
	var keys int64
	for _, r := range rep.Steps {
		keys += int64(r.Keys)
	}
	if n8 != keys || n4 != keys {
		t.Errorf("histogram counts %d, %d, want %d", n8, n4, keys)
	}
}

// The memory model: 132 and 68 bytes per key, the pages the request holds,
// the FP4/FP8 ratio 68/132 = 17/33, the whole-model figures of pagedcache.
func TestSimMemory(t *testing.T) {
	for _, m := range []pagedcache.Model{pagedcache.V4Flash(), pagedcache.V4Pro()} {
		cfg := smallSim()
		cfg.Model, cfg.TopK, cfg.NoCurve = m, 0, true
		rep, err := Simulate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mem := rep.Memory
		if rep.Setup.TopK != m.IndexTopK {
			t.Errorf("%s: top-k %d, want %d", m.Name, rep.Setup.TopK, m.IndexTopK)
		}
		if mem.FP8.BytesPerToken != 132 || mem.FP4.BytesPerToken != 68 || mem.FP8.PageBytes != 8448 || mem.FP4.PageBytes != 4352 {
			t.Errorf("%s: bytes %+v %+v", m.Name, mem.FP8, mem.FP4)
		}
		keys := rep.Setup.KeysLast
		pages := (keys + 63) / 64
		for _, f := range []SimFormMemory{mem.FP8, mem.FP4} {
			if f.PagesUsed != pages || f.CachePages != pages+1 || f.RequestBytes != int64(pages*f.PageBytes) ||
				f.ModelRequestBytes != int64(m.C4Layers)*f.RequestBytes {
				t.Errorf("%s %s: %+v (keys %d)", m.Name, f.Format, f, keys)
			}
			if f.DecodeReadBytes != int64(m.C4Layers*pages*f.PageBytes) || f.DecodeReadKeyBytes != int64(m.C4Layers*keys*f.BytesPerToken) {
				t.Errorf("%s %s: decode read %d / %d", m.Name, f.Format, f.DecodeReadBytes, f.DecodeReadKeyBytes)
			}
			if f.KeysPerGiBLayer != (1<<30)/int64(f.BytesPerToken) || f.KeysPerGiBModel != (1<<30)/int64(m.C4Layers*f.BytesPerToken) ||
				f.RawTokensPerGiB != 4*f.KeysPerGiBModel {
				t.Errorf("%s %s: per GiB %+v", m.Name, f.Format, f)
			}
			if f.DecodeSecondsH100 != float64(f.DecodeReadBytes)/3.35e12 || f.DecodeSecondsB200 != float64(f.DecodeReadBytes)/8e12 {
				t.Errorf("%s %s: times %v %v", m.Name, f.Format, f.DecodeSecondsH100, f.DecodeSecondsB200)
			}
		}
		if math.Float64bits(mem.TimeRatio) != math.Float64bits(17.0/33) {
			t.Errorf("%s: time ratio %v, want 17/33", m.Name, mem.TimeRatio)
		}
		if mem.FP4.KeysPerGiBLayer != 15790320 || mem.FP8.KeysPerGiBLayer != 8134407 {
			t.Errorf("keys per GiB %d %d", mem.FP4.KeysPerGiBLayer, mem.FP8.KeysPerGiBLayer)
		}
	}
}

// Given as tensors, the same request gives the same rows as the generator
// run that drew it; and bad tensors are errors.
func TestSimInput(t *testing.T) {
	cfg := smallSim()
	cfg.NoCurve = true
	st, err := newSimState(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Simulate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := st.in
	in.Freqs = rope.Table{} // let the simulator build its default table again
	c := SimConfig{TopK: 64, Input: &in}
	got, err := Simulate(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Setup.Source != "input" {
		t.Errorf("source %q", got.Setup.Source)
	}
	a, _ := json.Marshal(got.Steps)
	b, _ := json.Marshal(want.Steps)
	if !bytes.Equal(a, b) {
		t.Errorf("rows differ:\n%s\n%s", a, b)
	}
	// Default positions: the last S tokens of the request.
	in2 := in
	in2.Positions = nil
	got, err = Simulate(SimConfig{TopK: 64, Input: &in2, NoCurve: true})
	if err != nil {
		t.Fatal(err)
	}
	tkeys := len(in.KV) / HeadDim
	if last := got.Steps[len(got.Steps)-1]; last.Keys != tkeys || last.Position != int64(4*tkeys-1) {
		t.Errorf("default positions: last row %+v, want %d keys at %d", last, tkeys, 4*tkeys-1)
	}

	bad := []struct {
		name string
		edit func(*SimInput)
		msg  string
	}{
		{"heads", func(s *SimInput) { s.H = 12 }, "heads"},
		{"kv", func(s *SimInput) { s.KV = s.KV[:100] }, "kv"},
		{"q", func(s *SimInput) { s.Q = s.Q[:10] }, "q has"},
		{"weights", func(s *SimInput) { s.Weights = s.Weights[1:] }, "weights"},
		{"norm", func(s *SimInput) { s.NormWeight = s.NormWeight[1:] }, "norm_weight"},
		{"future", func(s *SimInput) {
			s.Positions = append([]int64(nil), s.Positions...)
			s.Positions[0] = int64(4*tkeys + 8)
		}, "positions[0]"},
		{"too early", func(s *SimInput) {
			s.Positions = append([]int64(nil), s.Positions...)
			s.Positions[1] = 2
		}, "positions[1]"},
		{"positions", func(s *SimInput) { s.Positions = s.Positions[1:] }, "positions"},
		{"table", func(s *SimInput) { s.Freqs = st.in.Freqs; s.Freqs.Data = s.Freqs.Data[:64*10] }, "RoPE table"},
	}
	for _, tc := range bad {
		x := in
		tc.edit(&x)
		_, err := Simulate(SimConfig{Input: &x})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.msg)
		}
	}
}

func TestSimConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  SimConfig
		msg  string
	}{
		{"heads", SimConfig{Context: 4096, Steps: 1, Heads: 12}, "heads"},
		{"topk", SimConfig{Context: 4096, Steps: 1, Heads: 8, TopK: -1}, "top-k"},
		{"steps", SimConfig{Context: 4096, Steps: -1, Heads: 8}, "steps"},
		{"context", SimConfig{Context: -4, Steps: 1, Heads: 8}, "context"},
		{"empty", SimConfig{Context: 1, Steps: 9, Heads: 8}, "sees no compressed key"},
		{"huge", SimConfig{Context: 1 << 40, Steps: 1, Heads: 8}, "raw tokens"},
		{"temperature", SimConfig{Context: 4096, Steps: 1, Heads: 8, Temperature: -1}, "temperature"},
		{"probes", SimConfig{Context: 4096, Steps: 1, Heads: 8, Probes: 5}, "probes"},
		{"dof", SimConfig{Context: 4096, Steps: 1, Heads: 8, Synth: SynthParams{Dof: 2}}, "Dof"},
		{"outliers", SimConfig{Context: 4096, Steps: 1, Heads: 8, Synth: SynthParams{Outliers: 40}}, "Outliers"},
		{"model", SimConfig{Model: pagedcache.Model{Name: "x"}}, "C4 layers"},
		{"workers", SimConfig{Workers: -1}, "workers"},
	} {
		_, err := Simulate(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err %v, want one mentioning %q", tc.name, err, tc.msg)
		}
	}
}

// The generator: deterministic per seed, shaped as asked, with its planted
// structure visible in the data.
func TestSynthesize(t *testing.T) {
	pos := []int64{100, 101, 5000}
	a, err := SynthParams{}.Synthesize(9, 300, 8, pos)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SynthParams{}.Synthesize(9, 300, 8, pos)
	c, _ := SynthParams{}.Synthesize(10, 300, 8, pos)
	if len(a.KV) != 300*HeadDim || len(a.Q) != 3*8*HeadDim || len(a.Weights) != 3*8 || len(a.NormWeight) != HeadDim {
		t.Fatalf("shapes %d %d %d %d", len(a.KV), len(a.Q), len(a.Weights), len(a.NormWeight))
	}
	eq := func(x, y SimInput) bool {
		for i := range x.KV {
			if math.Float32bits(x.KV[i]) != math.Float32bits(y.KV[i]) {
				return false
			}
		}
		for i := range x.Q {
			if x.Q[i] != y.Q[i] {
				return false
			}
		}
		return true
	}
	if !eq(a, b) || eq(a, c) {
		t.Error("the generator is not a function of its seed")
	}
	// Outlier channels: four nope channels whose mean |kv| is about 8× the rest.
	var big int
	for d := 0; d < nopeDim; d++ {
		var s float64
		for r := 0; r < 300; r++ {
			s += math.Abs(float64(a.KV[r*HeadDim+d]))
		}
		if s/300 > 4 {
			big++
		}
	}
	if big != defaultOutliers {
		t.Errorf("%d outlier channels, want %d", big, defaultOutliers)
	}
	none, _ := SynthParams{Outliers: -1}.Synthesize(9, 300, 8, pos)
	for d := 0; d < HeadDim; d++ {
		var s float64
		for r := 0; r < 300; r++ {
			s += math.Abs(float64(none.KV[r*HeadDim+d]))
		}
		if s/300 > 4 {
			t.Errorf("Outliers < 0: channel %d has mean |kv| %v", d, s/300)
		}
	}
	// Queries are bf16 values of the scaled draws; weights are mostly positive.
	var pos0 int
	for _, w := range a.Weights {
		if w.Float32() > 0 {
			pos0++
		}
		if w != bf16.Fromfloat32(w.Float32()) {
			t.Fatal("weight is not a bf16 value")
		}
	}
	if pos0 < len(a.Weights)/2 {
		t.Errorf("%d of %d weights positive", pos0, len(a.Weights))
	}
	if topicOf(64, 64, 16) != topicOf(127, 64, 16) {
		t.Error("one span, two topics")
	}
}

// BenchmarkRefScorer is the float64 reference: 64 heads against 32,768 keys.
func BenchmarkRefScorer(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const h, n = 64, 32768
	q := make([]float64, h*HeadDim)
	w := make([]float64, h)
	keys := make([]float64, n*HeadDim)
	for i := range q {
		q[i] = rng.NormFloat64()
	}
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for i := range keys {
		keys[i] = rng.NormFloat64()
	}
	dst := make([]float32, n)
	s := newRefScorer(q, w)
	b.ResetTimer()
	for range b.N {
		s.score(dst, keys, runtime.GOMAXPROCS(0))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*h*HeadDim), "ns/MAC")
}

// BenchmarkSimulateDefault is the goal: the default run (131,072-token
// context, 64 decode steps and the history probes, 64 heads, FP8 + FP4 +
// reference). Run it with -benchtime 1x.
func BenchmarkSimulateDefault(b *testing.B) {
	for range b.N {
		if _, err := Simulate(SimConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulateSmall is the test configuration.
func BenchmarkSimulateSmall(b *testing.B) {
	for range b.N {
		if _, err := Simulate(smallSim()); err != nil {
			b.Fatal(err)
		}
	}
}
