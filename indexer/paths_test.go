package indexer

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/hadamard"
	"github.com/fp4indexer/fp4indexer/internal/fma"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rope"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// identityTable is a RoPE table whose every position rotates by zero.
func identityTable(positions int) rope.Table {
	d := make([]float32, positions*RoPEDim)
	for i := 0; i < len(d); i += 2 {
		d[i] = 1
	}
	t, err := rope.NewTable(RoPEDim, d)
	if err != nil {
		panic(err)
	}
	return t
}

func randomTable(r *rand.Rand, positions int) rope.Table {
	d := make([]float32, positions*RoPEDim)
	for p := 0; p < positions; p++ {
		for k := 0; k < RoPEDim/2; k++ {
			th := float64(p) * math.Pow(10000, -2*float64(k)/RoPEDim)
			d[p*RoPEDim+2*k] = float32(math.Cos(th))
			d[p*RoPEDim+2*k+1] = float32(math.Sin(th))
		}
	}
	t, _ := rope.NewTable(RoPEDim, d)
	return t
}

func fp4Cache(t *testing.T, pages int) *pagedcache.Cache {
	t.Helper()
	l, err := pagedcache.FP4(pagedcache.DefaultPageSize)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pagedcache.NewCachePages(l, pages)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The worked example of SPEC §2 (reference note §2.5) through the K v1 store.
func TestKV1WorkedExample(t *testing.T) {
	x := make([]float32, HeadDim)
	copy(x, []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8})
	c := fp4Cache(t, 1)
	xfp4, xsf, err := StoreKV1(c, x, []int64{3}, DefaultKV1Options())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := xfp4[:4], []byte{0xDE, 0x9B, 0x00, 0x62}; !bytes.Equal(got, want) {
		t.Errorf("payload % x, want % x", got, want)
	}
	// Group 0 has amax 8 → scale byte 128; groups 1..3 are all zero → 114 (`triton`).
	if got, want := uint32(xsf[0]), uint32(0x72727280); got != want {
		t.Errorf("x_sf %#x, want %#x", got, want)
	}
	p, s, _ := c.Load(3)
	if !bytes.Equal(p, xfp4) || binary.LittleEndian.Uint32(s) != uint32(xsf[0]) {
		t.Errorf("cache slot 3 does not hold the row")
	}
}

// Named rows whose bytes SPEC §3 and the conformance notes state.
func TestDocumentedRows(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	zero := make([]float32, HeadDim)

	t.Run("K v1 all-zero row: triton 114", func(t *testing.T) {
		_, xsf, err := StoreKV1(fp4Cache(t, 1), zero, []int64{0}, DefaultKV1Options())
		if err != nil || uint32(xsf[0]) != 0x72727272 {
			t.Errorf("x_sf %#x, err %v; want 0x72727272", uint32(xsf[0]), err)
		}
	})
	t.Run("K v1 Inf group: 254, NaN ignored", func(t *testing.T) {
		x := make([]float32, HeadDim)
		x[0], x[40], x[41] = inf, nan, 1
		_, xsf, err := StoreKV1(fp4Cache(t, 1), x, []int64{0}, DefaultKV1Options())
		// Group 0 holds +Inf → 254; group 1 has amax 1 with its NaN ignored; groups 2, 3 are zero → 114.
		want := uint32(254) | uint32(ue8m0.Triton.FromAmax(1))<<8 | 114<<16 | 114<<24
		if err != nil || uint32(xsf[0]) != want {
			t.Errorf("x_sf %#x, err %v; want %#x", uint32(xsf[0]), err, want)
		}
	})
	t.Run("K v2 NaN row: codes 0x7, scales 112", func(t *testing.T) {
		in := KInput{N: 1, KV: make([]float32, HeadDim), NormWeight: ones(), Freqs: identityTable(1),
			Positions: []int64{0}, OutLoc: []int64{5}}
		in.KV[17] = nan
		c := fp4Cache(t, 1)
		if _, err := StoreKV2(c, in, KOptions{}); err != nil {
			t.Fatal(err)
		}
		p, s, _ := c.Load(5)
		if !bytes.Equal(p, bytes.Repeat([]byte{0x77}, PackedBytes)) || !bytes.Equal(s, []byte{112, 112, 112, 112}) {
			t.Errorf("payload % x scales % x", p[:8], s)
		}
	})
	t.Run("Q all-zero row: cuda 112, codes 0", func(t *testing.T) {
		out, err := QuantizeQ(QInput{B: 1, H: 1, Q: make([]bf16.BF16, HeadDim), Weight: []bf16.BF16{0},
			Freqs: identityTable(1), Positions: []int64{0}}, QOptions{})
		if err != nil || uint32(out.QSF[0]) != 0x70707070 || !bytes.Equal(out.QFP4, make([]byte, PackedBytes)) {
			t.Errorf("q_sf %#x err %v", uint32(out.QSF[0]), err)
		}
	})
	t.Run("Q Inf row: scale 255, inverse −Inf", func(t *testing.T) {
		q := make([]bf16.BF16, HeadDim)
		q[3] = bf16.Fromfloat32(inf)
		out, err := QuantizeQ(QInput{B: 1, H: 1, Q: q, Weight: []bf16.BF16{0},
			Freqs: identityTable(1), Positions: []int64{0}}, QOptions{})
		if err != nil || uint32(out.QSF[0]) != 0xFFFFFFFF {
			t.Fatalf("q_sf %#x err %v", uint32(out.QSF[0]), err)
		}
		// +Inf · (−Inf) = −Inf → 0xF; −Inf · (−Inf) = +Inf → 0x7 (Hadamard signs).
		for _, b := range out.QFP4 {
			for _, c := range []byte{b & 0xF, b >> 4} {
				if c != 0x7 && c != 0xF {
					t.Fatalf("code %#x in an Inf row", c)
				}
			}
		}
	})
}

func ones() []float32 {
	w := make([]float32, HeadDim)
	for i := range w {
		w[i] = 1
	}
	return w
}

func randomBF16Row(r *rand.Rand, dst []bf16.BF16) {
	scale := math.Ldexp(1, r.IntN(30)-15)
	for i := range dst {
		dst[i] = bf16.Fromfloat32(float32(r.NormFloat64() * scale))
	}
}

// The unfused composition: each stage called on its own, in the order of SPEC §4,
// with the per-group quantizer instead of the row quantizer. The fused path must
// give the same bytes.
func TestQMatchesUnfusedComposition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const B, H = 9, 4
	in := QInput{B: B, H: H, Q: make([]bf16.BF16, B*H*HeadDim), Weight: make([]bf16.BF16, B*H),
		Freqs: randomTable(r, 64), Positions: make([]int64, B)}
	randomBF16Row(r, in.Q)
	randomBF16Row(r, in.Weight)
	for b := range in.Positions {
		in.Positions[b] = int64(7 * b % 63)
	}
	got, err := QuantizeQ(in, QOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale, _ := hadamard.Scale(HeadDim)
	q := ue8m0.Quantizer{Scale: ue8m0.CUDA}
	for row := 0; row < B*H; row++ {
		x := make([]float32, HeadDim)
		for i := range x {
			x[i] = in.Q[row*HeadDim+i].Float32()
		}
		cs, _ := in.Freqs.Row(int(in.Positions[row/H]))
		for k := 0; k < RoPEDim/2; k++ {
			xr, xi := x[RoPEDim+2*k], x[RoPEDim+2*k+1]
			c, s := cs[2*k], cs[2*k+1]
			x[RoPEDim+2*k] = bf16.Round(fma.FMA32(xr, c, -float32(xi*s)))
			x[RoPEDim+2*k+1] = bf16.Round(fma.FMA32(xi, c, float32(xr*s)))
		}
		if err := hadamard.Transform(x); err != nil {
			t.Fatal(err)
		}
		for i := range x {
			x[i] = bf16.Round(float32(x[i] * scale))
		}
		payload := make([]byte, PackedBytes)
		var sf uint32
		for g := 0; g < 4; g++ {
			s, err := q.Group(payload[16*g:16*g+16], x[32*g:32*g+32])
			if err != nil {
				t.Fatal(err)
			}
			sf |= uint32(s.Bits()) << (8 * g)
		}
		if !bytes.Equal(payload, got.QFP4[row*PackedBytes:(row+1)*PackedBytes]) || sf != uint32(got.QSF[row]) {
			t.Fatalf("row %d: fused and unfused differ", row)
		}
		if w := float32(in.Weight[row].Float32() * DefaultWeightScale()); math.Float32bits(w) != math.Float32bits(got.WeightsOut[row]) {
			t.Fatalf("row %d: weights_out %v, want %v", row, got.WeightsOut[row], w)
		}
	}
}

// The FP8 twins against a float64 oracle of their quantizer: scale = fl(max(1e-4, amax)/448),
// inverse fl(1/scale), codes = nearest E4M3 (ties to even, saturating) of fl(x·inv).
func TestFP8TwinsQuantizer(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const N = 40
	in := KInput{N: N, KV: make([]float32, N*HeadDim), NormWeight: make([]float32, HeadDim),
		Freqs: randomTable(r, 16), Positions: make([]int64, N), OutLoc: make([]int64, N)}
	for i := range in.KV {
		in.KV[i] = float32(r.NormFloat64() * math.Ldexp(1, r.IntN(20)-10))
	}
	for i := range in.NormWeight {
		in.NormWeight[i] = float32(1 + 0.1*r.NormFloat64())
	}
	perm := r.Perm(2 * pagedcache.DefaultPageSize)
	for i := range in.OutLoc {
		in.Positions[i] = int64(r.IntN(16))
		in.OutLoc[i] = int64(perm[i])
	}
	l, _ := pagedcache.FP8(pagedcache.DefaultPageSize)
	c, _ := pagedcache.NewCachePages(l, 2)
	if _, err := StoreKFP8(c, in, KOptions{}); err != nil {
		t.Fatal(err)
	}
	var y [HeadDim]float32
	for row := 0; row < N; row++ {
		if _, err := in.normRopeRotate(&y, row, KOptions{}); err != nil {
			t.Fatal(err)
		}
		amax := 1e-4
		for _, v := range y {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		scale := float32(amax / 448) // one rounding of an exact quotient of two floats
		inv := float32(1 / float64(scale))
		p, s, _ := c.Load(in.OutLoc[row])
		if got := math.Float32frombits(binary.LittleEndian.Uint32(s)); math.Float32bits(got) != math.Float32bits(scale) {
			t.Fatalf("row %d: scale %v, want %v", row, got, scale)
		}
		for i, v := range y {
			want := nearestE4M3(float64(float32(v * inv)))
			if got := fp8.Frombits(p[i]).Float32(); math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("row %d elem %d: %v, want %v", row, i, got, want)
			}
		}
	}
}

// nearestE4M3 rounds to the E4M3 grid by search, ties to the even code, saturating.
func nearestE4M3(v float64) float32 {
	if v > 448 {
		return 448
	}
	if v < -448 {
		return -448
	}
	best, bestCode := math.Inf(1), 0
	for code := 0; code < 0x7F; code++ {
		e, m := code>>3, code&7
		var mag float64
		if e == 0 {
			mag = math.Ldexp(float64(m), -9)
		} else {
			mag = math.Ldexp(1+float64(m)/8, e-7)
		}
		d := math.Abs(math.Abs(v) - mag)
		if d < best || (d == best && code%2 == 0) {
			best, bestCode = d, code
		}
	}
	e, m := bestCode>>3, bestCode&7
	mag := math.Ldexp(1+float64(m)/8, e-7)
	if e == 0 {
		mag = math.Ldexp(float64(m), -9)
	}
	return float32(math.Copysign(mag, v))
}

func TestBadInput(t *testing.T) {
	c := fp4Cache(t, 1)
	cases := []struct {
		name, want string
		err        error
	}{
		{"loc out of range", "loc[0] = 64 is outside the cache [0, 64)",
			func() error {
				_, _, err := StoreKV1(c, make([]float32, HeadDim), []int64{64}, KV1Options{})
				return err
			}()},
		{"negative loc", "loc[1] = -1",
			func() error {
				_, _, err := StoreKV1(c, make([]float32, 2*HeadDim), []int64{0, -1}, KV1Options{})
				return err
			}()},
		{"ragged input", "want a multiple of 128",
			func() error { _, _, err := StoreKV1(c, make([]float32, 100), nil, KV1Options{}); return err }()},
		{"q shape", "q_input has 128 elements, want 256",
			func() error {
				_, err := QuantizeQ(QInput{B: 1, H: 2, Q: make([]bf16.BF16, 128), Weight: make([]bf16.BF16, 2),
					Freqs: identityTable(1), Positions: []int64{0}}, QOptions{})
				return err
			}()},
		{"position outside table", "positions[0] = 5 is outside the RoPE table [0, 1)",
			func() error {
				_, err := QuantizeQ(QInput{B: 1, H: 1, Q: make([]bf16.BF16, 128), Weight: make([]bf16.BF16, 1),
					Freqs: identityTable(1), Positions: []int64{5}}, QOptions{})
				return err
			}()},
		{"norm weight", "norm_weight has 64 elements, want 128",
			func() error {
				_, err := StoreKV2(c, KInput{N: 1, KV: make([]float32, 128), NormWeight: make([]float32, 64),
					Freqs: identityTable(1), Positions: []int64{0}, OutLoc: []int64{0}}, KOptions{})
				return err
			}()},
		{"FP8 cache for FP4 path", "want 64+4",
			func() error {
				l, _ := pagedcache.FP8(64)
				c8, _ := pagedcache.NewCachePages(l, 1)
				_, err := StoreKV2(c8, KInput{N: 0, NormWeight: ones(), Freqs: identityTable(1)}, KOptions{})
				return err
			}()},
	}
	for _, tc := range cases {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, tc.err, tc.want)
		}
	}
	if !bytes.Equal(c.Data, make([]byte, len(c.Data))) {
		t.Errorf("a failed call wrote into the cache")
	}
}
