package golden

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fp4indexer/fp4indexer/bf16"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

const headDim = 128

// qHeads is the head count of the Q cases, the PR's Q test's H = 8.
const qHeads = 8

// randomPositions is the RoPE table length of the random and edge cases.
const randomPositions = 1024

// Input tensor sets, named after the kernels' Python arguments.

func kv1Tensors(x []float32, bf bool, locs []int64) ([]st.Tensor, error) {
	n := len(x) / headDim
	var l tensorList
	if bf {
		l.add(tensorBF16(tInput, []int{n, headDim}, x))
	} else {
		l.add(tensorF32(tInput, []int{n, headDim}, x))
	}
	l.add(tensorI64(tLoc, []int{n}, locs))
	return l.result()
}

// qTensors: q and w must hold bf16 values already (tensorBF16 rounds, exactly).
func qTensors(q, w []float32, b, h, npos int, positions []int64) ([]st.Tensor, error) {
	table, err := ropeTableData(npos)
	if err != nil {
		return nil, err
	}
	var l tensorList
	l.add(tensorBF16(tQInput, []int{b, h, headDim}, q))
	l.add(tensorBF16(tWeight, []int{b, h}, w))
	l.add(tensorF32(tFreqs, []int{npos, 64}, table))
	l.add(tensorI64(tPositions, []int{b}, positions))
	return l.result()
}

func kTensors(kv, nw []float32, npos int, positions, outLoc []int64) ([]st.Tensor, error) {
	n := len(kv) / headDim
	table, err := ropeTableData(npos)
	if err != nil {
		return nil, err
	}
	var l tensorList
	l.add(tensorF32(tKV, []int{n, headDim}, kv))
	l.add(tensorF32(tNormWeight, []int{headDim}, nw))
	l.add(tensorF32(tFreqs, []int{npos, 64}, table))
	l.add(tensorI64(tPositions, []int{n}, positions))
	l.add(tensorI64(tOutLoc, []int{n}, outLoc))
	return l.result()
}

// randomRows returns n rows whose magnitudes are 2^k, k uniform in [lo, hi]
// per row, each group further scaled by 2^[−3, 3] so the four scale bytes of a
// row differ.
func randomRows(r *rand.Rand, n, lo, hi int, bf bool) []float32 {
	x := make([]float32, n*headDim)
	for i := range n {
		k := lo + r.IntN(hi-lo+1)
		for g := range headDim / groupSize {
			randomRow(r, x[i*headDim+g*groupSize:i*headDim+(g+1)*groupSize], k+r.IntN(7)-3)
		}
	}
	if bf {
		roundBF16(x)
	}
	return x
}

// randomRowsParallel is randomRows for the large random cases: block b of
// randomBlockRows rows draws from blockRand(…, b), blocks filled on all cores.
func randomRowsParallel(seed uint64, k Kernel, name string, n, lo, hi int, bf bool) []float32 {
	x := make([]float32, n*headDim)
	blocks := (n + randomBlockRows - 1) / randomBlockRows
	forChunks(blocks, 1, func(b0, b1 int) error {
		for blk := b0; blk < b1; blk++ {
			r := blockRand(seed, k, name, blk)
			rows := min(randomBlockRows, n-blk*randomBlockRows)
			copy(x[blk*randomBlockRows*headDim:], randomRows(r, rows, lo, hi, bf))
		}
		return nil
	})
	return x
}

// normWeight is an RMSNorm weight near 1 (what a trained norm holds).
func normWeight(r *rand.Rand) []float32 {
	w := make([]float32, headDim)
	for i := range w {
		w[i] = float32(1 + gaussScaled(r, -3))
	}
	return w
}

// headWeights returns bf16 head weights of magnitude about 1.
func headWeights(r *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	randomRow(r, w, 0)
	roundBF16(w)
	return w
}

func randomPositionsOf(r *rand.Rand, n, npos int) []int64 {
	p := make([]int64, n)
	for i := range p {
		p[i] = int64(r.IntN(npos))
	}
	return p
}

// padRows pads x to a multiple of m rows with random rows.
func padRows(r *rand.Rand, x []float32, m int, bf bool) []float32 {
	for (len(x)/headDim)%m != 0 {
		x = append(x, randomRows(r, 1, -2, 2, bf)...)
	}
	return x
}

// --- pr26209: the shapes of the PR's own tests (test_fp4_indexer.py) ---

func pr26209Builders(cfg Config) []builder {
	var bs []builder
	p := cfg.Profile.pageSize()
	for _, n := range []int{1, 7, 16, 96} {
		bs = append(bs, builder{
			kernel: KV1Store, name: "pr26209_n" + itoa(n),
			description: fmt.Sprintf("PR test shapes (quantizer tokens {1, 7, 96}, store tokens {1, 16, 96}): %d random normal bf16 rows, row 0 starting with the forced [-8, -6, -3, -1.5, 0, 0.5, 2, 8]; loc a random permutation of the slots of ceil(N/%d) pages", n, p),
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				x := randomRows(r, n, 0, 0, true)
				copy(x, forcedRow)
				return kv1Tensors(x, true, storeLocs(r, n, p))
			},
		})
	}
	for _, k := range []Kernel{QFP4, QFP8} {
		for _, b := range []int{1, 5, 17} {
			bs = append(bs, builder{
				kernel: k, name: "pr26209_b" + itoa(b),
				description: fmt.Sprintf("PR test shapes: batch %d × %d heads of random normal bf16 q, RoPE positions (7·i) mod 63, plain θ = 10000 table of 64 positions", b, qHeads),
				build: func(r *rand.Rand) ([]st.Tensor, error) {
					q := randomRows(r, b*qHeads, 0, 0, true)
					pos := make([]int64, b)
					for i := range pos {
						pos[i] = int64(7*i) % 63
					}
					return qTensors(q, headWeights(r, b*qHeads), b, qHeads, 64, pos)
				},
			})
		}
	}
	for _, k := range []Kernel{KV2Fused, KFP8} {
		for _, n := range []int{1, 16, 96} {
			bs = append(bs, builder{
				kernel: k, name: "pr26209_n" + itoa(n),
				description: fmt.Sprintf("PR test shapes: %d compressed tokens (ratio 4) with seq_lens 4·(1..n), so RoPE positions seq_len − 4 = 4·i; bf16-valued kv and norm weight stored as F32; plain θ = 10000 table of 4n+1 positions; out_loc a random permutation of the slots of ceil(N/%d) pages", n, p),
				build: func(r *rand.Rand) ([]st.Tensor, error) {
					kv := randomRows(r, n, 0, 0, true)
					nw := normWeight(r)
					roundBF16(nw)
					pos := make([]int64, n)
					for i := range pos {
						pos[i] = int64(4 * i)
					}
					return kTensors(kv, nw, 4*n+1, pos, storeLocs(r, n, p))
				},
			})
		}
	}
	bs = append(bs, logitsBuilder(cfg, logitsSpec{name: "pr26209_fp4", heads: 64, nextN: 1, lens: []int{256, 200},
		desc: "the PR benchmark's FP4 settings (H = 64, D = 128, block_kv 64, next_n 1) on 2 requests of 256 and 200 keys"}))
	bs = append(bs, logitsBuilder(cfg, logitsSpec{name: "pr26209_fp8", fp8: true, heads: 64, nextN: 1, lens: []int{256, 200},
		desc: "the PR benchmark's FP8 settings (H = 64, D = 128, block_kv 64, next_n 1) on 2 requests of 256 and 200 keys"}))
	return bs
}

// --- edges ---

func edgeBuilders(cfg Config) []builder {
	p := cfg.Profile.pageSize()
	var bs []builder
	for _, bf := range []bool{true, false} {
		dt := "f32"
		if bf {
			dt = "bf16"
		}
		bs = append(bs, builder{
			kernel: KV1Store, name: "edges_" + dt,
			description: "quantizer edges in " + dt + ": every E2M1 threshold t·2^k with its ±1 ulp neighbours under amax = 6·2^k; amax = 3·2^k and 6·2^k ± 1 ulp; amax across 1e-4 ≤ amax < 6e-4 and 6·2^-14 ± 1 ulp; all-zero, -0 and ±0 groups; NaN (quiet, negative with payload, signalling pattern, all-NaN); ±Inf; subnormals; the largest finite value; the PR's forced row; four scales in one row. Scale bytes 0 and 1 cannot come from a quantizer (its floor is 1e-4), 254 comes from Inf (triton), 255 from Inf (cuda); the logits edges force them",
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				x := edgeGroups(r, bf)
				n := len(x) / headDim
				return kv1Tensors(x, bf, storeLocs(r, n, p))
			},
		})
	}
	for _, k := range []Kernel{QFP4, QFP8} {
		bs = append(bs, builder{
			kernel: k, name: "edges",
			description: "fused Q edges (bf16): one-hot rows whose rotation gives amax 1e-4, 6·2^-14, 6e-4, 6 and 3·2^10 (in the unrotated and the RoPE half); rows of the largest bf16 whose Hadamard sums overflow; zero, -0, NaN, +Inf, -Inf and subnormal rows; rows at 2^-40 … 2^40; then the quantizer edge groups; even tokens at RoPE position 0 (the identity), odd ones random; head weights include 0, -0, NaN, ±Inf, the largest bf16 and its smallest subnormal",
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				q := padRows(r, fusedEdgeRows(r, true, false), qHeads, true)
				rows := len(q) / headDim
				b := rows / qHeads
				w := headWeights(r, rows)
				copy(w, []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
					float32(math.Inf(-1)), bf16.Frombits(0x7F7F).Float32(), bf16.Frombits(1).Float32()})
				pos := randomPositionsOf(r, b, randomPositions)
				for i := 0; i < b; i += 2 {
					pos[i] = 0
				}
				return qTensors(q, w, b, qHeads, randomPositions, pos)
			},
		})
	}
	for _, k := range []Kernel{KV2Fused, KFP8} {
		bs = append(bs, builder{
			kernel: k, name: "edges",
			description: "fused K edges (fp32): tiny one-hot rows where epsilon dominates the norm so the rotated amax lands near 1e-4, 6·2^-14, 6e-4; rows of the largest fp32 whose Hadamard sums overflow; zero, -0, NaN, +Inf, -Inf and subnormal rows (a NaN or Inf makes the whole row NaN); rows at 2^-40 … 2^40; then the quantizer edge groups; even rows at RoPE position 0, odd ones random",
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				kv := fusedEdgeRows(r, false, true)
				n := len(kv) / headDim
				pos := randomPositionsOf(r, n, randomPositions)
				for i := 0; i < n; i += 2 {
					pos[i] = 0
				}
				return kTensors(kv, normWeight(r), randomPositions, pos, storeLocs(r, n, p))
			},
		})
	}
	bs = append(bs, logitsBuilder(cfg, logitsSpec{name: "edges_fp4", heads: 16, nextN: 2, lens: []int{130, 64, 3}, edges: true,
		desc: "FP4 logits with forced bytes: key scale words holding 0 (2^-127, subnormal), 1, 254 and 255 (NaN), keys of all -0 codes and of all ±6 codes, a query head with scale bytes 0, 1, 254; the rest made by the producers"}))
	bs = append(bs, logitsBuilder(cfg, logitsSpec{name: "edges_fp8", fp8: true, heads: 32, nextN: 2, lens: []int{130, 64, 3}, edges: true,
		desc: "FP8 logits with forced bytes: key scales 0, the smallest subnormal, 2^127, +Inf and NaN; keys of ±448 and of NaN (0x7F) codes; weights 0, -0 and NaN on some heads; the rest made by the producers"}))
	return bs
}

// --- random ---

func randomBuilders(cfg Config) []builder {
	n := cfg.rows()
	var bs []builder
	for _, bf := range []bool{true, false} {
		dt := "f32"
		if bf {
			dt = "bf16"
		}
		bs = append(bs, builder{
			kernel: KV1Store, name: "random_" + dt,
			description: fmt.Sprintf("%d random %s rows, magnitudes 2^-40 … 2^40 per row (each group ×2^[-3,3]); loc a random permutation of [0, N)", n, dt),
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				x := randomRowsParallel(cfg.seed(), KV1Store, "random_"+dt, n, -40, 40, bf)
				return kv1Tensors(x, bf, perm(r, n))
			},
		})
	}
	b := (n + qHeads - 1) / qHeads
	for _, k := range []Kernel{QFP4, QFP8} {
		bs = append(bs, builder{
			kernel: k, name: "random",
			description: fmt.Sprintf("%d tokens × %d heads of random bf16 q, magnitudes 2^-40 … 2^40 per row; random positions in a plain θ = 10000 table of %d", b, qHeads, randomPositions),
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				q := randomRowsParallel(cfg.seed(), k, "random", b*qHeads, -40, 40, true)
				return qTensors(q, headWeights(r, b*qHeads), b, qHeads, randomPositions, randomPositionsOf(r, b, randomPositions))
			},
		})
	}
	for _, k := range []Kernel{KV2Fused, KFP8} {
		bs = append(bs, builder{
			kernel: k, name: "random",
			description: fmt.Sprintf("%d random fp32 kv rows, magnitudes 2^-40 … 2^40 per row; random positions in a plain θ = 10000 table of %d; out_loc a random permutation of [0, N)", n, randomPositions),
			build: func(r *rand.Rand) ([]st.Tensor, error) {
				kv := randomRowsParallel(cfg.seed(), k, "random", n, -40, 40, false)
				return kTensors(kv, normWeight(r), randomPositions,
					randomPositionsOf(r, n, randomPositions), perm(r, n))
			},
		})
	}
	keys := min(n, MaxLogitsKeys)
	for _, fp8 := range []bool{false, true} {
		name, form := "random_fp4", "FP4"
		if fp8 {
			name, form = "random_fp8", "FP8"
		}
		bs = append(bs, logitsBuilder(cfg, logitsSpec{name: name, fp8: fp8, heads: 64, nextN: 1, totalKeys: keys, requests: 4,
			desc: fmt.Sprintf("%s logits, 4 requests sharing %d keys (ragged), 64 heads, next_n 1, random page table", form, keys)}))
	}
	return bs
}

// --- logits: paged MQA cases ---

func logitsBuilders(cfg Config) []builder {
	var bs []builder
	for _, fp8 := range []bool{false, true} {
		for _, nextN := range []int{1, 2} {
			form := "fp4"
			if fp8 {
				form = "fp8"
			}
			bs = append(bs, logitsBuilder(cfg, logitsSpec{
				name: form + "_next" + itoa(nextN), fp8: fp8, heads: 32, nextN: nextN, totalKeys: 600, requests: 5,
				desc: fmt.Sprintf("%s paged MQA logits: 5 requests with ragged context lengths (600 keys in all), 32 heads, next_n %d (context_lens L - next_n + 1 + t), a random page table from the allocator with freed gaps; keys written by the K producer, queries by the Q producer", form, nextN),
			}))
		}
	}
	return bs
}

type logitsSpec struct {
	name, desc string
	fp8        bool
	heads      int
	nextN      int
	lens       []int // each request's context length (its last query token's); nil: random
	totalKeys  int   // with lens nil: keys over all requests
	requests   int   // with lens nil
	edges      bool  // force the edge bytes
}

func logitsBuilder(cfg Config, s logitsSpec) builder {
	return builder{
		kernel: Logits, name: s.name, description: s.desc,
		build: func(r *rand.Rand) ([]st.Tensor, error) { return buildLogits(r, cfg, s) },
	}
}

// raggedLens splits total keys over n requests at random cut points (so the
// lengths spread widely), each ≥ minLen.
func raggedLens(r *rand.Rand, n, total, minLen int) []int {
	free := max(total-n*minLen, 0)
	cuts := make([]int, n+1)
	cuts[n] = free
	for i := 1; i < n; i++ {
		cuts[i] = r.IntN(free + 1)
	}
	slices.Sort(cuts)
	lens := make([]int, n)
	for i := range lens {
		lens[i] = minLen + cuts[i+1] - cuts[i]
	}
	return lens
}

// pageTable allocates the requests' pages in a random interleaving with filler
// requests that are freed as it goes, so each request holds scattered,
// non-monotone pages, as a serving engine's pool does after some traffic.
func pageTable(r *rand.Rand, pageSize int, lens []int) (pagedcache.BlockTable, int, error) {
	need := make([]int, len(lens))
	total := 1 // page 0, reserved
	for i, l := range lens {
		need[i] = (l + pageSize - 1) / pageSize
		total += need[i]
	}
	fillers := len(lens) + 2
	total += fillers
	a, err := pagedcache.NewAllocator(pageSize, total, pagedcache.AllocatorOptions{})
	if err != nil {
		return pagedcache.BlockTable{}, 0, err
	}
	live := []int{}
	for f := range fillers {
		id := len(lens) + f
		if _, err := a.Alloc(id, 1); err != nil {
			return pagedcache.BlockTable{}, 0, err
		}
		live = append(live, id)
	}
	held := make([]int, len(lens))
	for {
		var want []int
		for i := range lens {
			if held[i] < need[i] {
				want = append(want, i)
			}
		}
		if len(want) == 0 {
			break
		}
		if len(live) > 0 && r.IntN(3) == 0 {
			k := r.IntN(len(live))
			if err := a.Free(live[k]); err != nil {
				return pagedcache.BlockTable{}, 0, err
			}
			live = slices.Delete(live, k, k+1)
			continue
		}
		i := want[r.IntN(len(want))]
		held[i]++
		if _, err := a.Grow(i, held[i]*pageSize); err != nil {
			return pagedcache.BlockTable{}, 0, err
		}
	}
	reqs := make([]int, len(lens))
	for i := range reqs {
		reqs[i] = i
	}
	bt, err := a.BlockTable(reqs, 0)
	return bt, total, err
}

// buildLogits makes the inputs of one logits case by running the producers: K
// (v2 or FP8) into a paged cache through a random page table, Q (FP4 or FP8)
// for the queries and their weights.
func buildLogits(r *rand.Rand, cfg Config, s logitsSpec) ([]st.Tensor, error) {
	p := cfg.Profile
	P := p.pageSize()
	lens := s.lens
	if lens == nil {
		lens = raggedLens(r, s.requests, s.totalKeys, s.nextN)
	}
	b, n, h := len(lens), s.nextN, s.heads
	ctx := make([]int32, b*n)
	maxLen := 0
	for i, l := range lens {
		if l < n {
			return nil, fmt.Errorf("context length %d < next_n %d", l, n)
		}
		for t := range n {
			ctx[i*n+t] = int32(l - n + 1 + t)
		}
		maxLen = max(maxLen, l)
	}
	bt, pages, err := pageTable(r, P, lens)
	if err != nil {
		return nil, err
	}
	// Keys: request i's key j at RoPE position 4j (compressed token j covers
	// raw tokens 4j … 4j+3; its position is seq_len − 4).
	var kv []float32
	var kpos, locs []int64
	for i, l := range lens {
		kv = append(kv, randomRows(r, l, -4, 4, false)...)
		for j := range l {
			loc, err := bt.Loc(i, j)
			if err != nil {
				return nil, err
			}
			kpos = append(kpos, int64(4*j))
			locs = append(locs, loc)
		}
	}
	npos := 4*maxLen + 4
	kin, err := kTensors(kv, normWeight(r), npos, kpos, locs)
	if err != nil {
		return nil, err
	}
	kk, qk := KV2Fused, QFP4
	bpt := pagedcache.BytesPerTokenFP4
	if s.fp8 {
		kk, qk, bpt = KFP8, QFP8, pagedcache.BytesPerTokenFP8
	}
	empty, err := tensorBytes(tKVCache, st.U8, []int{pages, P * bpt}, make([]byte, pages*P*bpt))
	if err != nil {
		return nil, err
	}
	kout, err := Compute(kk, &st.File{Tensors: append(kin, empty)}, p)
	if err != nil {
		return nil, err
	}
	cacheT, _ := kout.Get(tKVCache)
	cache := slices.Clone(cacheT.Data)
	// Queries: token t of request i at raw position 4·ctx − 1.
	rows := b * n
	q := randomRows(r, rows*h, -2, 2, true)
	qpos := make([]int64, rows)
	for i, c := range ctx {
		qpos[i] = int64(4*c - 1)
	}
	qin, err := qTensors(q, headWeights(r, rows*h), rows, h, npos, qpos)
	if err != nil {
		return nil, err
	}
	qout, err := Compute(qk, &st.File{Tensors: qin}, p)
	if err != nil {
		return nil, err
	}
	wt, _ := qout.Get(tWeightsOut)
	weights, err := wt.Float32s()
	if err != nil {
		return nil, err
	}
	var l tensorList
	if s.fp8 {
		qt, _ := qout.Get(tQFP8)
		qb := slices.Clone(qt.Data)
		if s.edges {
			forceFP8Edges(cache, weights, P, h, bt)
		}
		l.add(tensorBytes(tQ, st.F8_E4M3, []int{b, n, h, headDim}, qb))
	} else {
		qt, _ := qout.Get(tQFP4)
		st2, _ := qout.Get(tQSF)
		qb := slices.Clone(qt.Data)
		sf, err := st2.Int32s()
		if err != nil {
			return nil, err
		}
		if s.edges {
			forceFP4Edges(cache, sf, P, h, bt)
		}
		l.add(tensorBytes(tQ, st.I8, []int{b, n, h, headDim / 2}, qb))
		l.add(tensorI32(tQSF, []int{b, n, h}, sf))
	}
	l.add(tensorBytes(tKVCacheDG, st.U8, []int{pages, P * bpt}, cache))
	l.add(tensorF32(tWeights, []int{rows, h}, weights))
	l.add(tensorI32(tContext, []int{b, n}, ctx))
	l.add(tensorI32(tBlockTable, []int{b, bt.Width}, bt.Data))
	return l.result()
}

// token returns the payload and scale views of key j of request i.
func token(cache []byte, P, bpt, payload int, bt pagedcache.BlockTable, i, j int) ([]byte, []byte) {
	page := int(bt.Row(i)[j/P])
	slot := j % P
	base := page * P * bpt
	return cache[base+slot*payload : base+(slot+1)*payload], cache[base+P*payload+slot*4 : base+P*payload+slot*4+4]
}

// forceFP4Edges overwrites keys 0–4 of request 0 and one query head with the
// scale bytes no quantizer writes (0, 1) and the extremes it writes rarely.
func forceFP4Edges(cache []byte, qsf []int32, P, h int, bt pagedcache.BlockTable) {
	const pb = headDim / 2
	bpt := pagedcache.BytesPerTokenFP4
	set := func(j int, scale [4]byte, fill int) {
		pl, sc := token(cache, P, bpt, pb, bt, 0, j)
		copy(sc, scale[:])
		if fill >= 0 {
			for i := range pl {
				pl[i] = byte(fill)
			}
		}
	}
	set(0, [4]byte{0, 1, 254, 255}, -1) // subnormal, tiny, huge and NaN scales
	set(1, [4]byte{0, 0, 0, 0}, 0x77)   // +6 · 2^-127 everywhere
	set(2, [4]byte{254, 254, 254, 254}, 0xF7)
	set(3, [4]byte{1, 1, 1, 1}, -1)
	set(4, [4]byte{127, 127, 127, 127}, 0x88) // all −0 codes
	// One query head (row 1, head 3) with extreme scales.
	qsf[1*h+3] = int32(uint32(127) | uint32(0)<<8 | uint32(254)<<16 | uint32(1)<<24)
}

// forceFP8Edges overwrites keys 0–5 of request 0 with extreme row scales and
// codes, and three head weights with zeros and a NaN.
func forceFP8Edges(cache []byte, weights []float32, P, h int, bt pagedcache.BlockTable) {
	const pb = headDim
	bpt := pagedcache.BytesPerTokenFP8
	set := func(j int, scale float32, fill int) {
		pl, sc := token(cache, P, bpt, pb, bt, 0, j)
		u := math.Float32bits(scale)
		sc[0], sc[1], sc[2], sc[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
		if fill >= 0 {
			for i := range pl {
				pl[i] = byte(fill)
			}
		}
	}
	set(0, 0, -1)
	set(1, math.Float32frombits(1), 0x7E) // smallest subnormal scale, +448 codes
	set(2, p2(127), 0xFE)
	set(3, float32(math.Inf(1)), -1)
	set(4, float32(math.NaN()), -1)
	set(5, 1, 0x7F) // NaN codes
	weights[0] = 0
	weights[1] = float32(math.Copysign(0, -1))
	weights[4*h+2] = float32(math.NaN()) // row 4: request 2, token 0, two keys
}
