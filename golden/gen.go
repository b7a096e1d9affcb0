package golden

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/rope"
)

// DefaultSeed seeds every suite unless Config.Seed says otherwise.
const DefaultSeed = 26209

// newRand returns the generator of one case: PCG with the suite seed as its
// first word and the FNV-1a hash of "<path>/<case>" as its second, so each case
// has its own stream and adding a case changes no other. math/rand/v2's PCG and
// its integer methods are fully specified integer arithmetic: the same numbers
// on every platform and Go release that keeps the algorithm.
func newRand(seed uint64, k Kernel, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(k.Path() + "/" + name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Random values are built from integers and powers of two only: no
// transcendental function, no float arithmetic that a compiler could fuse or an
// architecture could round differently, so the inputs are the same bytes on
// amd64 and arm64.

// pow2 returns 2^e for −1022 ≤ e ≤ 1023, built from its bits.
func pow2(e int) float64 { return math.Float64frombits(uint64(e+1023) << 52) }

// gauss returns an approximately normal integer: the Irwin–Hall sum of the four
// 16-bit fields of one uniform word, centred (standard deviation 2^15·(2/√3),
// |s| ≤ 2^17). It has at most 18 significant bits, so gaussScaled is exact.
func gauss(r *rand.Rand) int64 {
	u := r.Uint64()
	return int64(u&0xFFFF+u>>16&0xFFFF+u>>32&0xFFFF+u>>48) - 2<<16
}

// gaussScaled returns gauss·2^(k−15), a value of magnitude about 2^k, as an
// exact float32 (it underflows to a subnormal or zero below k ≈ −130).
func gaussScaled(r *rand.Rand, k int) float32 {
	return float32(float64(gauss(r)) * pow2(k-15))
}

// randomRow fills x with normal values of magnitude 2^k.
func randomRow(r *rand.Rand, x []float32, k int) {
	for i := range x {
		x[i] = gaussScaled(r, k)
	}
}

// roundBF16 rounds every value to bf16 (RNE), the activations' dtype.
func roundBF16(x []float32) { bf16.RoundSlice(x) }

// randomBlockRows is the number of rows of one random stream of the large
// random cases.
const randomBlockRows = 1024

// blockRand returns the stream of row block blk of a large random case: PCG
// with the suite seed and the case's hash mixed with the block index, so blocks
// can be filled in parallel and the values do not depend on how many goroutines
// fill them.
func blockRand(seed uint64, k Kernel, name string, blk int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(k.Path() + "/" + name))
	return rand.New(rand.NewPCG(seed, h.Sum64()^(uint64(blk)+1)*0x9E3779B97F4A7C15))
}

// perm returns a random permutation of [0, n) as int64 locs.
func perm(r *rand.Rand, n int) []int64 {
	p := r.Perm(n)
	out := make([]int64, n)
	for i, v := range p {
		out[i] = int64(v)
	}
	return out
}

// storeLocs is the PR's store test: a random permutation of the slots of
// ceil(n/P) pages, first n taken.
func storeLocs(r *rand.Rand, n, pageSize int) []int64 {
	pages := max(1, (n+pageSize-1)/pageSize)
	return perm(r, pages*pageSize)[:n]
}

// ropeTableData returns the plain θ = 10000 RoPE table of the PR's tests
// (precompute_freqs_cis without YaRN) for positions [0, n), as the fp32 freqs_cis
// tensor data.
func ropeTableData(n int) ([]float32, error) {
	t, err := rope.Plain(64, n, 10000)
	if err != nil {
		return nil, err
	}
	return t.Data, nil
}
