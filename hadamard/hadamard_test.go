package hadamard

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// recursiveWHT is the second implementation: H_n x = [H(lo) + H(hi); H(lo) − H(hi)]
// with H(lo), H(hi) the transforms of the two halves. The stages h < n/2 of the
// butterfly act inside each half, and the last stage h = n/2 pairs i with
// i + n/2, so the recursion performs the same additions on the same operands and
// must produce the same bits, although its control flow (depth-first, one half
// finished before the other starts) shares nothing with the stage loops.
func recursiveWHT(x []float32) {
	n := len(x)
	if n == 1 {
		return
	}
	lo, hi := x[:n/2], x[n/2:]
	recursiveWHT(lo)
	recursiveWHT(hi)
	for i := range lo {
		a, b := lo[i], hi[i]
		lo[i] = a + b
		hi[i] = a - b
	}
}

// sameBits reports bit equality, treating any two NaNs as equal: NaN payloads
// are outside the model (see the package doc).
func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func randomVector(r *rand.Rand, n int, kind int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch kind {
		case 0: // normal
			x[i] = float32(r.NormFloat64())
		case 1: // wide magnitudes, both signs, subnormals included, Σ|x| far from overflow
			e := r.IntN(240) - 149
			x[i] = float32(math.Ldexp(1+r.Float64(), e))
			if r.IntN(2) == 0 {
				x[i] = -x[i]
			}
		case 2: // cancellation: a large common value plus tiny perturbations
			x[i] = float32(1e6 + r.NormFloat64()*1e-2)
		case 3: // subnormals only
			x[i] = math.Float32frombits(r.Uint32() & 0x807FFFFF)
		case 4: // small integers
			x[i] = float32(r.IntN(31) - 15)
		case 5: // near the top of the range, Σ|x| ≤ MaxFloat32/2
			x[i] = float32((r.Float64()*2 - 1) * math.MaxFloat32 / 2 / float64(n))
		}
	}
	return x
}

func TestLengthErrors(t *testing.T) {
	for n := 0; n <= 1100; n++ {
		x := make([]float32, n)
		pow2 := n > 0 && n&(n-1) == 0
		if err := Transform(x); (err == nil) != pow2 {
			t.Fatalf("Transform(len %d) error = %v, want error: %v", n, err, !pow2)
		}
		if err := Rotate(x, Options{}); (err == nil) != pow2 {
			t.Fatalf("Rotate(len %d) error = %v", n, err)
		}
		if _, err := Scale(n); (err == nil) != pow2 {
			t.Fatalf("Scale(%d) error = %v", n, err)
		}
	}
	if err := Transform(make([]float32, 2*MaxLen)); err == nil {
		t.Fatal("Transform accepted a length above MaxLen")
	}
	if _, err := Scale(-4); err == nil {
		t.Fatal("Scale(-4) returned no error")
	}
}

// TestButterflyMatchesRecursive checks bit identity with the recursive
// implementation for every power-of-two size 1…1024, and for 2^20 once.
func TestButterflyMatchesRecursive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 1024; n *= 2 {
		for kind := 0; kind <= 5; kind++ {
			for rep := 0; rep < 20; rep++ {
				x := randomVector(r, n, kind)
				if rep == 0 && kind == 0 {
					for i := range x { // arbitrary bit patterns: NaN, Inf, subnormals
						x[i] = math.Float32frombits(r.Uint32())
					}
				}
				got := append([]float32(nil), x...)
				want := append([]float32(nil), x...)
				if err := Transform(got); err != nil {
					t.Fatal(err)
				}
				loop := append([]float32(nil), x...)
				butterflies(loop)
				recursiveWHT(want)
				for i := range want {
					if !sameBits(got[i], want[i]) || !sameBits(loop[i], want[i]) {
						t.Fatalf("n=%d kind=%d: y[%d] Transform %#08x loop %#08x recursive %#08x",
							n, kind, i, math.Float32bits(got[i]), math.Float32bits(loop[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
	x := randomVector(r, MaxLen, 0)
	y := append([]float32(nil), x...)
	if err := Transform(x); err != nil {
		t.Fatal(err)
	}
	recursiveWHT(y)
	for i := range x {
		if !sameBits(x[i], y[i]) {
			t.Fatalf("n=2^20: y[%d] %#08x, recursive %#08x", i, math.Float32bits(x[i]), math.Float32bits(y[i]))
		}
	}
}

// hadamardMatrix is the float64 Sylvester matrix H[i][j] = (−1)^popcount(i&j).
func hadamardMatrix(n int) *mat.Dense {
	h := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			h.Set(i, j, float64(1-2*(bits.OnesCount(uint(i&j))&1)))
		}
	}
	return h
}

// TestRoundingBound checks the float32 butterfly against the float64 product H·x
// (gonum) within a proved bound.
//
// Derivation. Output y_i = Σ_j H_ij x_j is computed by a binary tree of k = log2 n
// levels: the leaves are the x_j, every internal node is one fl(a ± b). In round
// to nearest fl(a ± b) = (a ± b)(1 + δ) with |δ| ≤ u = 2^-24, also when the result
// is subnormal (a sum of two floats that lands in the subnormal range is exact),
// as long as nothing overflows. Each leaf passes through exactly k nodes, so
// ŷ_i = Σ_j H_ij x_j Π_{t=1..k}(1 + δ_{j,t}) and, by Higham's Lemma 3.1,
// |ŷ_i − y_i| ≤ γ_k Σ_j |x_j| with γ_k = k·u/(1 − k·u).
// The oracle's own error: gonum forms each row dot product of exact terms ±x_j in
// float64 in some summation order, so |y64_i − y_i| ≤ γ'_(n−1) Σ_j |x_j| with
// u' = 2^-53. Hence |ŷ_i − y64_i| ≤ (γ_k + γ'_n) Σ_j |x_j|; the test adds a
// relative 1e-9 for the float64 evaluation of the difference and the bound.
// Inputs keep Σ|x| ≤ MaxFloat32/2, so no partial sum overflows.
func TestRoundingBound(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const u, u64 = 0x1p-24, 0x1p-53
	for n := 1; n <= 1024; n *= 2 {
		h := hadamardMatrix(n)
		k := float64(bits.TrailingZeros(uint(n)))
		gamma := k * u / (1 - k*u)
		gamma64 := float64(n) * u64 / (1 - float64(n)*u64)
		worst := 0.0
		for kind := 0; kind <= 5; kind++ {
			for rep := 0; rep < 8; rep++ {
				x := randomVector(r, n, kind)
				if kind == 2 && rep%2 == 1 {
					// A constant vector plus a small bump: every output but y_0 is
					// ±bump after the constant parts cancel exactly.
					c := float32(r.NormFloat64())
					for j := range x {
						x[j] = c
					}
					x[0] += 1e-3
				}
				xs := make([]float64, n)
				sumAbs := 0.0
				for j, v := range x {
					xs[j] = float64(v)
					sumAbs += math.Abs(float64(v))
				}
				var y64 mat.VecDense
				y64.MulVec(h, mat.NewVecDense(n, xs))
				got := append([]float32(nil), x...)
				if err := Transform(got); err != nil {
					t.Fatal(err)
				}
				bound := (gamma + gamma64) * sumAbs * (1 + 1e-9)
				for i := range got {
					diff := math.Abs(float64(got[i]) - y64.AtVec(i))
					if diff > bound {
						t.Fatalf("n=%d kind=%d: |ŷ[%d] − y| = %g > bound %g (ŷ=%g, y64=%g)",
							n, kind, i, diff, bound, got[i], y64.AtVec(i))
					}
					if bound > 0 {
						worst = max(worst, diff/bound)
					}
				}
			}
		}
		t.Logf("n=%4d: largest error / bound = %.3f", n, worst)
	}
}

// TestInvolution: H(H(x)) = n·x exactly when every partial sum is an integer
// below 2^24 (|x_j| ≤ 15 and n ≤ 1024 give |partial| ≤ 15·2^20).
func TestInvolution(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 1; n <= 1024; n *= 2 {
		for rep := 0; rep < 10; rep++ {
			x := randomVector(r, n, 4)
			y := append([]float32(nil), x...)
			_ = Transform(y)
			_ = Transform(y)
			for i := range x {
				want := float32(n) * x[i]
				if math.Float32bits(y[i]) != math.Float32bits(want) && !(y[i] == 0 && want == 0 && x[i] == 0) {
					t.Fatalf("n=%d: H(H(x))[%d] = %g, want %g", n, i, y[i], want)
				}
			}
		}
	}
}

// TestHHtIsNI checks H·Hᵀ = n·I through the transform of unit vectors: column j
// of H is Transform(e_j), entries exactly ±1 with the Sylvester signs.
func TestUnitVectors(t *testing.T) {
	for _, n := range []int{1, 2, 4, 8, 16, 32, 64, 128, 256} {
		for j := 0; j < n; j++ {
			x := make([]float32, n)
			x[j] = 1
			_ = Transform(x)
			for i, v := range x {
				want := float32(1 - 2*(bits.OnesCount(uint(i&j))&1))
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("n=%d: H[%d][%d] = %g, want %g", n, i, j, v, want)
				}
			}
		}
	}
}

func TestSpecials(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	r := rand.New(rand.NewPCG(7, 8))
	for n := 2; n <= 1024; n *= 2 {
		for rep := 0; rep < 4; rep++ {
			// A NaN anywhere reaches every output: every output depends on every input.
			x := randomVector(r, n, 0)
			x[r.IntN(n)] = nan
			_ = Transform(x)
			for i, v := range x {
				if v == v {
					t.Fatalf("n=%d: NaN input, output %d = %g", n, i, v)
				}
			}
			// One infinity at j with finite others: y_i = H[i][j]·x_j.
			x = randomVector(r, n, 0)
			j := r.IntN(n)
			sign := float32(1 - 2*r.IntN(2))
			x[j] = sign * inf
			_ = Transform(x)
			for i, v := range x {
				want := sign * inf * float32(1-2*(bits.OnesCount(uint(i&j))&1))
				if math.Float32bits(v) != math.Float32bits(want) {
					t.Fatalf("n=%d: Inf at %d: y[%d] = %g, want %g", n, j, i, v, want)
				}
			}
			// Two infinities of the same sign at j1 ≠ j2: y_i is NaN exactly where
			// the column signs differ (∞ − ∞), else ±∞.
			x = randomVector(r, n, 0)
			j1 := r.IntN(n)
			j2 := (j1 + 1 + r.IntN(n-1)) % n
			x[j1], x[j2] = inf, inf
			_ = Transform(x)
			for i, v := range x {
				s1 := 1 - 2*(bits.OnesCount(uint(i&j1))&1)
				s2 := 1 - 2*(bits.OnesCount(uint(i&j2))&1)
				if s1 != s2 {
					if v == v {
						t.Fatalf("n=%d: Inf at %d,%d: y[%d] = %g, want NaN", n, j1, j2, i, v)
					}
				} else if math.Float32bits(v) != math.Float32bits(float32(s1)*inf) {
					t.Fatalf("n=%d: Inf at %d,%d: y[%d] = %g, want %g", n, j1, j2, i, v, float32(s1)*inf)
				}
			}
		}
	}
}

// correctlyRoundedInvSqrtPow2 proves with exact integer arithmetic that r is the
// float32 nearest to 2^(−k/2): with r = m·2^e (m the 24-bit significand), r is
// nearest iff (m − ½)²·2^(2e) < 2^−k < (m + ½)²·2^(2e), i.e.
// (2m − 1)²·2^(2e+k) < 4 < (2m + 1)²·2^(2e+k) (no ties: 2^−k is not the square of
// a 25-bit-significand midpoint unless k is even, where r is exact).
func correctlyRoundedInvSqrtPow2(r float32, k int) bool {
	b := math.Float32bits(r)
	m := int64(b&0x7FFFFF | 0x800000)
	e := int(b>>23) - 127 - 23
	if k%2 == 0 {
		return e == -k/2-23 && m == 0x800000
	}
	// Compare (2m ∓ 1)² · 2^(2e+k) with 4 as exact big integers scaled by 2^-(2e+k).
	shift := -(2*e + k) // > 0 here
	four := new(big.Int).Lsh(big.NewInt(4), uint(shift))
	lo := new(big.Int).Mul(big.NewInt(2*m-1), big.NewInt(2*m-1))
	hi := new(big.Int).Mul(big.NewInt(2*m+1), big.NewInt(2*m+1))
	return lo.Cmp(four) < 0 && four.Cmp(hi) < 0
}

func TestScale(t *testing.T) {
	s, err := Scale(128)
	if err != nil || math.Float32bits(s) != Scale128Bits || Scale128Bits != 0x3DB504F3 {
		t.Fatalf("Scale(128) = %#08x, %v; want 0x3DB504F3", math.Float32bits(s), err)
	}
	if !correctlyRoundedInvSqrtPow2(math.Float32frombits(invSqrt2Bits), 1) {
		t.Fatal("0x3F3504F3 is not the correctly rounded 1/√2")
	}
	for k := 0; k <= 20; k++ {
		s, err := Scale(1 << k)
		if err != nil {
			t.Fatal(err)
		}
		if !correctlyRoundedInvSqrtPow2(s, k) {
			t.Fatalf("Scale(2^%d) = %#08x is not the correctly rounded 1/√n", k, math.Float32bits(s))
		}
		// A neighbour must fail the same test (guards the proof helper itself).
		if correctlyRoundedInvSqrtPow2(math.Float32frombits(math.Float32bits(s)+1), k) {
			t.Fatalf("proof helper accepts the neighbour of Scale(2^%d)", k)
		}
	}
}

// bf16RoundOracle is an independent bf16 round trip: RNE on the fp32 bits, NaN
// to 0x7FFF, written out here so the test does not lean on package bf16.
func bf16RoundOracle(f float32) float32 {
	u := math.Float32bits(f)
	if u&0x7FFFFFFF > 0x7F800000 {
		return math.Float32frombits(0x7FFF << 16)
	}
	u += 0x7FFF + (u>>16)&1
	return math.Float32frombits(u &^ 0xFFFF)
}

func TestRotate(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := 1; n <= 1024; n *= 2 {
		scale, _ := Scale(n)
		for rep := 0; rep < 20; rep++ {
			x := randomVector(r, n, rep%6)
			y := append([]float32(nil), x...)
			recursiveWHT(y)
			for _, o := range []Options{{}, {RoundBF16: true}} {
				got := append([]float32(nil), x...)
				if err := Rotate(got, o); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					// float64 product of two float32 is exact; one rounding to float32.
					want := float32(float64(y[i]) * float64(scale))
					if o.RoundBF16 {
						want = bf16RoundOracle(want)
					}
					if !sameBits(got[i], want) {
						t.Fatalf("n=%d %+v: Rotate[%d] = %#08x, want %#08x", n, o, i, math.Float32bits(got[i]), math.Float32bits(want))
					}
				}
			}
		}
	}
	// The bf16 NaN is 0x7FFF whatever the input NaN.
	x := make([]float32, 128)
	x[5] = math.Float32frombits(0xFFC00001)
	Rotate128((*[128]float32)(x), Options{RoundBF16: true})
	for i, v := range x {
		if math.Float32bits(v) != 0x7FFF0000 {
			t.Fatalf("bf16 NaN output %d = %#08x, want 0x7FFF0000", i, math.Float32bits(v))
		}
	}
}

// TestTransform128Variants checks the unrolled Go and the vectorised versions
// bit for bit against the stage loop on many random vectors, arbitrary bit
// patterns included.
func TestTransform128Variants(t *testing.T) {
	if !useAVX {
		t.Log("no AVX on this machine (or not amd64): only the portable version is checked")
	}
	r := rand.New(rand.NewPCG(11, 12))
	reps := 200000
	if testing.Short() {
		reps = 20000
	}
	for rep := 0; rep < reps; rep++ {
		var x [128]float32
		switch rep % 4 {
		case 0:
			for i := range x {
				x[i] = math.Float32frombits(r.Uint32())
			}
		case 1:
			copy(x[:], randomVector(r, 128, r.IntN(6)))
		case 2: // a few specials in finite data
			copy(x[:], randomVector(r, 128, 0))
			for range 3 {
				x[r.IntN(128)] = []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0, float32(math.Copysign(0, -1))}[r.IntN(5)]
			}
		case 3: // exact-tie prone: values on a coarse grid with huge and tiny mixed
			for i := range x {
				x[i] = float32(math.Ldexp(float64(r.IntN(1<<24)), r.IntN(60)-30))
			}
		}
		checkVariants(t, &x)
	}
}

func checkVariants(t *testing.T, x *[128]float32) {
	t.Helper()
	want := append([]float32(nil), x[:]...)
	butterflies(want)
	goX, avxX := *x, *x
	transform128Go(&goX)
	vector := transform128AVX
	rotate := rotate128AVX
	if !useAVX { // the assembly would fault without AVX; check the portable code twice
		vector, rotate = transform128Go, rotate128Go
	}
	vector(&avxX)
	for i := range want {
		if !sameBits(goX[i], want[i]) || !sameBits(avxX[i], want[i]) {
			t.Fatalf("y[%d]: loop %#08x, unrolled %#08x, vector %#08x (input %v)", i,
				math.Float32bits(want[i]), math.Float32bits(goX[i]), math.Float32bits(avxX[i]), x)
		}
	}
	s := math.Float32frombits(Scale128Bits)
	goX, avxX = *x, *x
	rotate128Go(&goX, s)
	rotate(&avxX, s)
	for i := range want {
		w := float32(float64(want[i]) * float64(s))
		if !sameBits(goX[i], w) || !sameBits(avxX[i], w) {
			t.Fatalf("rotated y[%d]: loop %#08x, unrolled %#08x, vector %#08x (input %v)", i,
				math.Float32bits(w), math.Float32bits(goX[i]), math.Float32bits(avxX[i]), x)
		}
	}
}

// FuzzTransform128 feeds arbitrary bit patterns (4 little-endian bytes per value,
// zero-padded to 128 values) to the three 128-point implementations.
func FuzzTransform128(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var x [128]float32
		for i := 0; i < 128 && 4*i+4 <= len(data); i++ {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		checkVariants(t, &x)
	})
}

func benchVector(n int) []float32 {
	return randomVector(rand.New(rand.NewPCG(1, 1)), n, 0)
}

func BenchmarkTransform128(b *testing.B) {
	var x [128]float32
	copy(x[:], benchVector(128))
	b.SetBytes(512)
	for b.Loop() {
		Transform128(&x)
	}
}

func BenchmarkTransform128Portable(b *testing.B) {
	var x [128]float32
	copy(x[:], benchVector(128))
	b.SetBytes(512)
	for b.Loop() {
		transform128Go(&x)
	}
}

func BenchmarkTransform128Loop(b *testing.B) {
	x := benchVector(128)
	b.SetBytes(512)
	for b.Loop() {
		butterflies(x)
	}
}

func BenchmarkRotate128(b *testing.B) {
	for _, o := range []Options{{}, {RoundBF16: true}} {
		name := "fp32"
		if o.RoundBF16 {
			name = "bf16"
		}
		b.Run(name, func(b *testing.B) {
			x := benchVector(128)
			b.SetBytes(512)
			for b.Loop() {
				if err := Rotate(x, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTransform1024(b *testing.B) {
	x := benchVector(1024)
	b.SetBytes(4096)
	for b.Loop() {
		_ = Transform(x)
	}
}

func BenchmarkRotate128Portable(b *testing.B) {
	var x [128]float32
	copy(x[:], benchVector(128))
	s := math.Float32frombits(Scale128Bits)
	b.SetBytes(512)
	for b.Loop() {
		rotate128Go(&x, s)
	}
}
