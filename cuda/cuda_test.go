package cuda

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The GPU tests run wherever Open succeeds and skip otherwise. On a GPU machine set
// FP4INDEXER_REQUIRE_GPU=1 so that a missing driver or NVRTC fails instead of skipping.

var (
	devOnce sync.Once
	device  *Device
	devErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if device != nil {
		device.Close()
	}
	os.Exit(code)
}

func testDevice(t *testing.T) *Device {
	t.Helper()
	devOnce.Do(func() { device, devErr = Open() })
	if devErr != nil {
		if (errors.Is(devErr, ErrNoDriver) || errors.Is(devErr, ErrNoNVRTC)) && os.Getenv("FP4INDEXER_REQUIRE_GPU") == "" {
			t.Skipf("no NVIDIA GPU: %v", devErr)
		}
		t.Fatalf("Open: %v", devErr)
	}
	return device
}

func TestInfo(t *testing.T) {
	d := testDevice(t)
	t.Logf("%v", d.Info())
	t.Logf("libcuda %s, libnvrtc %s, __CUDA_ARCH__ %d", d.Info().LibCUDA, d.Info().LibNVRTC, d.Info().KernelArchTag)
	if d.Build().Log != "" {
		t.Logf("NVRTC log:\n%s", d.Build().Log)
	}
}

// TestCompile builds the kernels with NVRTC alone (no GPU needed): for sm_90 and,
// where this NVRTC knows it, sm_100a, where the hardware FP4 conversions must appear
// in the PTX. Set FP4INDEXER_BUILD_OUT to a folder to keep the PTX and CUBIN files.
func TestCompile(t *testing.T) {
	c, err := OpenCompiler("")
	if err != nil {
		if os.Getenv("FP4INDEXER_REQUIRE_GPU") == "" {
			t.Skipf("no NVRTC: %v", err)
		}
		t.Fatal(err)
	}
	maj, mnr := c.Version()
	t.Logf("NVRTC %d.%d (%s), archs %v", maj, mnr, c.Path(), c.SupportedArchs())
	targets := []string{TargetArch(c, 9, 0)}
	if c.Supports(100) {
		targets = append(targets, "sm_100a")
	} else {
		t.Logf("NVRTC %d.%d does not know sm_100: the Blackwell variant is not built here", maj, mnr)
	}
	for _, arch := range targets {
		b, err := c.Compile("fp4indexer_kernels.cu", KernelSource(), arch, CompileOptions()...)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		ptx := string(b.PTX)
		for _, k := range kernelNames {
			if !strings.Contains(ptx, ".entry "+k+"(") {
				t.Errorf("%s: kernel %s missing from the PTX", arch, k)
			}
		}
		hw := strings.Contains(ptx, "cvt.rn.satfinite.e2m1x2.f32") && strings.Contains(ptx, "cvt.rp.satfinite.ue8m0x2.f32") &&
			strings.Contains(ptx, "cvt.rz.satfinite.ue8m0x2.f32")
		if want := strings.HasPrefix(arch, "sm_100"); hw != want {
			t.Errorf("%s: hardware FP4 conversions in PTX = %v, want %v", arch, hw, want)
		}
		t.Logf("%s: PTX %d bytes, CUBIN %d bytes, hardware FP4 cvt %v", arch, len(b.PTX), len(b.CUBIN), hw)
		if out := os.Getenv("FP4INDEXER_BUILD_OUT"); out != "" {
			os.WriteFile(filepath.Join(out, arch+".ptx"), b.PTX, 0o644)
			if b.CUBIN != nil {
				os.WriteFile(filepath.Join(out, arch+".cubin"), b.CUBIN, 0o644)
			}
		}
	}
}

// ---- safetensors (test-only reader: u64 header length, JSON header, data) ----

type stFile map[string]stTensor

type stTensor struct {
	DType string
	Shape []int
	Data  []byte
}

func readSafetensors(t *testing.T, path string) stFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	n := binary.LittleEndian.Uint64(raw)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &hdr); err != nil {
		t.Fatalf("%s header: %v", path, err)
	}
	out := stFile{}
	for name, v := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string `json:"dtype"`
			Shape   []int  `json:"shape"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatalf("%s tensor %s: %v", path, name, err)
		}
		out[name] = stTensor{e.DType, e.Shape, raw[8+int(n)+e.Offsets[0] : 8+int(n)+e.Offsets[1]]}
	}
	return out
}

func (f stFile) get(t *testing.T, name string) stTensor {
	t.Helper()
	v, ok := f[name]
	if !ok {
		t.Fatalf("tensor %s missing", name)
	}
	return v
}

func leU16(b []byte) []uint16 {
	o := make([]uint16, len(b)/2)
	for i := range o {
		o[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return o
}

func leF32(b []byte) []float32 {
	o := make([]float32, len(b)/4)
	for i := range o {
		o[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return o
}

func leI32(b []byte) []int32 {
	o := make([]int32, len(b)/4)
	for i := range o {
		o[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return o
}

func leI64(b []byte) []int64 {
	o := make([]int64, len(b)/8)
	for i := range o {
		o[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return o
}

func f32Bytes(x []float32) []byte {
	o := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(o[4*i:], math.Float32bits(v))
	}
	return o
}

func i32Bytes(x []int32) []byte {
	o := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(o[4*i:], uint32(v))
	}
	return o
}

const conformanceDir = "../testdata/conformance/h100"

func conformanceCases(t *testing.T, path string) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(conformanceDir, path, "*"))
	if len(dirs) == 0 {
		t.Fatalf("no conformance cases under %s", filepath.Join(conformanceDir, path))
	}
	return dirs
}

// diffBytes reports the first few differing positions of two byte strings.
func diffBytes(t *testing.T, what string, got, want []byte, unit int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
		return
	}
	if bytes.Equal(got, want) {
		return
	}
	bad, shown := 0, 0
	for i := range got {
		if got[i] != want[i] {
			bad++
			if shown < 5 {
				t.Errorf("%s: byte %d (unit %d): got %#02x, want %#02x", what, i, i/unit, got[i], want[i])
				shown++
			}
		}
	}
	t.Errorf("%s: %d of %d bytes differ", what, bad, len(got))
}

func TestConformanceQFP4(t *testing.T) {
	d := testDevice(t)
	for _, dir := range conformanceCases(t, "q_fp4") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
			ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
			q := in.get(t, "q_input")
			qi := QInput{B: q.Shape[0], H: q.Shape[1], Q: leU16(q.Data), Weight: leU16(in.get(t, "weight").Data),
				Freqs: leF32(in.get(t, "freqs_cis").Data), Positions: leI64(in.get(t, "positions").Data)}
			qfp4, qsf, wo, err := d.QFP4(qi, QOptions{})
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "q_fp4", qfp4, ex.get(t, "q_fp4").Data, 64)
			diffBytes(t, "q_sf", i32Bytes(qsf), ex.get(t, "q_sf").Data, 4)
			diffBytes(t, "weights_out", f32Bytes(wo), ex.get(t, "weights_out").Data, 4)
			t.Logf("%d rows: q_fp4, q_sf, weights_out compared byte for byte", qi.B*qi.H)
		})
	}
}

func TestConformanceKV1(t *testing.T) {
	d := testDevice(t)
	for _, dir := range conformanceCases(t, "k_v1_store") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
			ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
			x := in.get(t, "input")
			var rows []float32
			switch x.DType {
			case "BF16":
				for _, h := range leU16(x.Data) {
					rows = append(rows, refBF16(h))
				}
			case "F32":
				rows = leF32(x.Data)
			default:
				t.Fatalf("input dtype %s", x.DType)
			}
			cache := make([]byte, len(ex.get(t, "cache").Data))
			xfp4, xsf, err := d.StoreKV1(rows, leI64(in.get(t, "loc").Data), DefaultKV1Quant(), 64, cache)
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "x_fp4", xfp4, ex.get(t, "x_fp4").Data, 64)
			diffBytes(t, "x_sf", i32Bytes(xsf), ex.get(t, "x_sf").Data, 4)
			diffBytes(t, "cache", cache, ex.get(t, "cache").Data, 4352)
			t.Logf("%d rows compared byte for byte", len(xsf))
		})
	}
}

func TestConformanceKV2(t *testing.T) {
	d := testDevice(t)
	for _, dir := range conformanceCases(t, "k_v2_fused") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
			ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
			kv := in.get(t, "kv")
			ki := KInput{N: kv.Shape[0], KV: leF32(kv.Data), NormWeight: leF32(in.get(t, "norm_weight").Data),
				Freqs: leF32(in.get(t, "freqs_cis").Data), Positions: leI64(in.get(t, "positions").Data),
				OutLoc: leI64(in.get(t, "out_loc").Data)}
			want := ex.get(t, "kvcache").Data
			cache := make([]byte, len(want))
			nf, err := d.KV2FP4(ki, KOptions{}, cache)
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "norm_factor (device rsqrtf)", f32Bytes(nf), ex.get(t, "norm_factor").Data, 4)
			diffBytes(t, "kvcache", cache, want, 4352)

			// The same bytes with the norm factors injected.
			ki.NormFactor = leF32(in.get(t, "norm_factor").Data)
			cache2 := make([]byte, len(want))
			nf2, err := d.KV2FP4(ki, KOptions{}, cache2)
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "kvcache (injected nf)", cache2, want, 4352)
			diffBytes(t, "norm_factor echo", f32Bytes(nf2), f32Bytes(ki.NormFactor), 4)

			// With a correctly rounded rsqrt instead: how many rows change (SPEC §4 says few).
			ki.NormFactor = nil
			cache3 := make([]byte, len(want))
			nf3, err := d.KV2FP4(ki, KOptions{CorrectlyRoundedRsqrt: true}, cache3)
			if err != nil {
				t.Fatal(err)
			}
			nfDiff, rowDiff := 0, 0
			for i := range nf3 {
				if math.Float32bits(nf3[i]) != math.Float32bits(nf[i]) {
					nfDiff++
				}
			}
			for i := 0; i < len(want); i += 68 {
				if !bytes.Equal(cache3[i:i+68], want[i:i+68]) {
					rowDiff++
				}
			}
			t.Logf("%d rows: device nf and cache match; correctly rounded rsqrt changes nf in %d rows and %d of %d cache slots", ki.N, nfDiff, rowDiff, len(want)/68)
		})
	}
}

// ---- quantizer, conversions ----

// edgeGroups: ties, thresholds, zeros of both signs, NaN, ±Inf, subnormals, the
// 1e-4..6e-4 region and amax = 3·2^k, 6·2^k ± 1 ulp.
func edgeGroups(rng *rand.Rand) []float32 {
	var x []float32
	group := func(vals ...float32) {
		g := make([]float32, 32)
		copy(g, vals)
		x = append(x, g...)
	}
	group(6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5, -0.25, -0.75, -1.25, -1.75, -2.5, -3.5, -5, -6)
	group(float32(math.Copysign(0, -1)), 0, -1e-30, 1e-30, 3, -3, 0.5, -0.5)
	group()
	group(float32(math.NaN()), 1, -2, 3)
	group(float32(math.NaN()), float32(math.NaN()))
	group(float32(math.Inf(1)), 1, -1)
	group(float32(math.Inf(-1)), 1, -1)
	group(f32(1), f32(0x00000001), f32(0x80000001), f32(0x007fffff))
	group(f32(0x00000001), f32(0x80000003))
	group(math.MaxFloat32, -math.MaxFloat32, 1)
	for _, a := range []float32{1e-4, 2e-4, 3e-4, 3.662e-4, 4e-4, 6e-4, 6.1e-4, 1e-3} {
		group(a, -a/2, a/3)
		group(-a, a/7)
	}
	for k := -20; k <= 20; k += 3 {
		for _, base := range []float32{3, 6} {
			v := float32(math.Ldexp(float64(base), k))
			for _, d := range []int32{-1, 0, 1} {
				a := f32(uint32(int32(u32(v)) + d))
				g := []float32{a}
				for i := 1; i < 32; i++ {
					g = append(g, a*float32(rng.Float64()*2-1))
				}
				// exact ties relative to the scale: 0.75, 1.75, 3.5 times scale/… survive scaling
				g[1], g[2], g[3] = a*0.125, a*(1.75/6), a*(3.5/6)
				group(g...)
			}
		}
	}
	return x
}

func randomGroups(rng *rand.Rand, groups int) []float32 {
	x := make([]float32, groups*32)
	for g := 0; g < groups; g++ {
		scale := math.Ldexp(1, rng.IntN(81)-40)
		for i := 0; i < 32; i++ {
			x[32*g+i] = float32(rng.NormFloat64() * scale)
		}
	}
	return x
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

func TestQuantizeGroups(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(1, 2))
	x := append(edgeGroups(rng), randomGroups(rng, 20000)...)
	x = x[:len(x)-32*3] // a group count that is not a multiple of 4
	groups := len(x) / 32
	for v := ScaleCUDA; v <= ScaleOCPFloor; v++ {
		for _, m := range []ElementMode{ElementThreshold, ElementRNE} {
			q := Quant{Scale: v, Element: m}
			t.Run(v.String()+"/"+m.String(), func(t *testing.T) {
				codes, scales, err := d.QuantizeGroups(x, q)
				if err != nil {
					t.Fatal(err)
				}
				wantC, wantS := refQuantGroups(x, q)
				hwRNE := d.Info().HardwareFP4 && m == ElementRNE
				bad := 0
				for g := 0; g < groups; g++ {
					gc, ws := codes[16*g:16*g+16], wantC[16*g:16*g+16]
					if scales[g] == wantS[g] && bytes.Equal(gc, ws) {
						continue
					}
					if hwRNE && hasNaN(x[32*g:32*g+32]) {
						t.Logf("group %d holds NaN: hardware rne gives scale %d codes % x (software NaN policy gives % x)", g, scales[g], gc, ws)
						continue
					}
					if bad++; bad <= 5 {
						t.Errorf("group %d %v: got scale %d codes % x, want scale %d codes % x", g, x[32*g:32*g+8], scales[g], gc, wantS[g], ws)
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d groups differ", bad, groups)
				}
			})
		}
	}
}

// TestE2M1Pairs: every bf16-representable value (the 2^16 patterns) in both modes.
func TestE2M1Pairs(t *testing.T) {
	d := testDevice(t)
	x := make([]float32, 1<<17)
	for i := 0; i < 1<<16; i++ {
		x[2*i] = f32(uint32(i) << 16)
		x[2*i+1] = f32(uint32(i^0x8000) << 16)
	}
	for _, m := range []ElementMode{ElementThreshold, ElementRNE} {
		got, err := d.E2M1Pairs(x, m)
		if err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, b := range got {
			var w uint8
			if m == ElementRNE {
				w = refE2M1RNE(x[2*i]) | refE2M1RNE(x[2*i+1])<<4
			} else {
				w = refE2M1Threshold(x[2*i]) | refE2M1Threshold(x[2*i+1])<<4
			}
			if b == w {
				continue
			}
			if m == ElementRNE && d.Info().HardwareFP4 && (hasNaN(x[2*i : 2*i+2])) {
				continue // recorded by TestHardwareNaN
			}
			if bad++; bad <= 5 {
				t.Errorf("%v (%#x, %#x): got %#02x, want %#02x", m, u32(x[2*i]), u32(x[2*i+1]), b, w)
			}
		}
		if bad > 0 {
			t.Errorf("%v: %d of %d pairs differ", m, bad, len(got))
		}
	}
	nanIn := []float32{float32(math.NaN()), 1, f32(0xffc00000), 1, 1, float32(math.NaN()), f32(0x7f800001), f32(0xff800001)}
	got, err := d.E2M1Pairs(nanIn, ElementRNE)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rne NaN probes (hardware %v): (+NaN,1) %#02x, (-NaN,1) %#02x, (1,+NaN) %#02x, (sNaN,-sNaN) %#02x",
		d.Info().HardwareFP4, got[0], got[1], got[2], got[3])
}

func TestE4M3(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var x []float32
	for i := 0; i < 1<<16; i++ {
		x = append(x, f32(uint32(i)<<16))
	}
	for c := 0; c < 0x7f; c++ { // midpoints between neighbouring codes, and ±1 ulp around them
		lo, hi := float64(refE4M3Value(uint8(c))), float64(refE4M3Value(uint8(c+1)))
		if c == 0x7e {
			hi = 480
		}
		mid := float32((lo + hi) / 2)
		x = append(x, mid, f32(u32(mid)+1), f32(u32(mid)-1), -mid)
	}
	for i := 0; i < 1<<18; i++ {
		x = append(x, f32(rng.Uint32()))
	}
	hw, sw, err := d.E4M3(x)
	if err != nil {
		t.Fatal(err)
	}
	badHW, badSW := 0, 0
	for i, v := range x {
		w := refE4M3(v)
		if hw[i] != w {
			if badHW++; badHW <= 5 {
				t.Errorf("kernel path E4M3(%#08x = %g) = %#02x, want %#02x", u32(v), v, hw[i], w)
			}
		}
		if sw[i] != w {
			if badSW++; badSW <= 5 {
				t.Errorf("software E4M3(%#08x = %g) = %#02x, want %#02x", u32(v), v, sw[i], w)
			}
		}
	}
	t.Logf("%d inputs (hardware cvt: %v): kernel path %d differences, software %d", len(x), d.Info().HardwareE4M3, badHW, badSW)
}

// ---- the producer paths against the scalar reference on random inputs ----

func randomBF16(rng *rand.Rand, n int, spread int) []uint16 {
	o := make([]uint16, n)
	for i := range o {
		v := float32(rng.NormFloat64() * math.Ldexp(1, rng.IntN(2*spread+1)-spread))
		o[i] = uint16(u32(refBF16Round(v)) >> 16)
	}
	return o
}

func ropeTable(rng *rand.Rand, positions int) []float32 {
	f := make([]float32, positions*64)
	for p := 0; p < positions; p++ {
		for k := 0; k < 32; k++ {
			theta := float64(p) * math.Pow(10000, -float64(2*k)/64)
			f[p*64+2*k], f[p*64+2*k+1] = float32(math.Cos(theta)), float32(math.Sin(theta))
		}
	}
	return f
}

func randomQ(rng *rand.Rand, B, H int) QInput {
	pos := make([]int64, B)
	for i := range pos {
		pos[i] = int64(rng.IntN(512))
	}
	return QInput{B: B, H: H, Q: randomBF16(rng, B*H*128, 12), Weight: randomBF16(rng, B*H, 2), Freqs: ropeTable(rng, 512), Positions: pos}
}

func TestQFP4Options(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(5, 6))
	in := randomQ(rng, 64, 16)
	for _, o := range []QOptions{
		{},
		{NoRoPEBF16: true},
		{NoHadamardBF16: true, RoPEUnfused: true},
		{Quant: Quant{Scale: ScaleTriton, Element: ElementRNE}, WeightScale: 0.5},
		{Quant: Quant{Scale: ScaleRP}},
		{Quant: Quant{Scale: ScaleRZ, Element: ElementRNE}},
		{Quant: Quant{Scale: ScaleOCPFloor}},
	} {
		t.Run(fmt.Sprintf("%+v", o), func(t *testing.T) {
			qfp4, qsf, wo, err := d.QFP4(in, o)
			if err != nil {
				t.Fatal(err)
			}
			var wantP, wantS, wantW []byte
			for r := 0; r < in.B*in.H; r++ {
				pos := in.Positions[r/in.H]
				x := refQFP4Row(in.Q[r*128:r*128+128], in.Freqs[pos*64:pos*64+64], o)
				c, s := refQuantGroups(x, o.Quant)
				wantP, wantS = append(wantP, c...), append(wantS, s...)
				wantW = append(wantW, f32Bytes([]float32{float32(refBF16(in.Weight[r]) * o.weightScale())})...)
			}
			diffBytes(t, "q_fp4", qfp4, wantP, 64)
			diffBytes(t, "q_sf", i32Bytes(qsf), wantS, 4)
			diffBytes(t, "weights_out", f32Bytes(wo), wantW, 4)
		})
	}
}

func randomK(rng *rand.Rand, n, pageSize int) (KInput, int) {
	kv := make([]float32, n*128)
	for r := 0; r < n; r++ {
		s := math.Ldexp(1, rng.IntN(41)-20)
		for i := 0; i < 128; i++ {
			kv[r*128+i] = float32(rng.NormFloat64() * s)
		}
	}
	w := make([]float32, 128)
	for i := range w {
		w[i] = float32(0.5 + rng.Float64())
	}
	pages := (n + pageSize + 1) / pageSize
	perm := rng.Perm(pages * pageSize)
	pos, loc := make([]int64, n), make([]int64, n)
	for i := range pos {
		pos[i], loc[i] = int64(rng.IntN(512)), int64(perm[i])
	}
	return KInput{N: n, KV: kv, NormWeight: w, Freqs: ropeTable(rng, 512), Positions: pos, OutLoc: loc}, pages
}

func TestKV2Model(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const P = 16
	in, pages := randomK(rng, 3000, P)
	for _, o := range []KOptions{{PageSize: P}, {PageSize: P, Quant: Quant{Scale: ScaleTriton, Element: ElementRNE}, RoPEUnfused: true, Eps: 1e-5}} {
		cache := make([]byte, pages*P*68)
		nf, err := d.KV2FP4(in, o, cache)
		if err != nil {
			t.Fatal(err)
		}
		eps := o.Eps
		if eps == 0 {
			eps = DefaultEps
		}
		want := make([]byte, len(cache))
		args := make([]float32, in.N)
		for r := 0; r < in.N; r++ {
			kv := in.KV[r*128 : r*128+128]
			args[r] = refSumSquares(kv)/128 + eps
			pos := in.Positions[r]
			x := refKRow(kv, in.NormWeight, in.Freqs[pos*64:pos*64+64], nf[r], o.RoPEUnfused)
			c, s := refQuantGroups(x, o.Quant)
			page, slot := int(in.OutLoc[r])/P, int(in.OutLoc[r])%P
			copy(want[page*P*68+slot*64:], c)
			copy(want[page*P*68+P*64+slot*4:], s)
		}
		diffBytes(t, fmt.Sprintf("cache %+v", o), cache, want, P*68)
		// nf must be the device rsqrtf of the argument the model computes.
		dev, _, err := d.Rsqrt(args)
		if err != nil {
			t.Fatal(err)
		}
		diffBytes(t, "norm factor vs rsqrtf(sum/128 + eps)", f32Bytes(nf), f32Bytes(dev), 4)
	}
}

func TestQFP8(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(9, 10))
	in := randomQ(rng, 32, 16)
	// A zero row and a huge row to reach the 1e-4 floor and satfinite.
	for i := 0; i < 128; i++ {
		in.Q[i] = 0
		in.Q[128+i] = 0x7f00 | uint16(i&0x7f)
	}
	for _, o := range []QOptions{{}, {RoPEUnfused: true, WeightScale: 0.25}} {
		q8, wo, err := d.QFP8(in, o)
		if err != nil {
			t.Fatal(err)
		}
		var wantQ, wantW []byte
		for r := 0; r < in.B*in.H; r++ {
			pos := in.Positions[r/in.H]
			x := make([]float32, 128)
			for i := range x {
				x[i] = refBF16(in.Q[r*128+i])
			}
			refRoPE(x, in.Freqs[pos*64:pos*64+64], o.RoPEUnfused)
			refHadamard(x)
			c, s := refFP8Row(x)
			wantQ = append(wantQ, c...)
			wantW = append(wantW, f32Bytes([]float32{float32(float32(refBF16(in.Weight[r])*o.weightScale()) * s)})...)
		}
		diffBytes(t, "q_fp8", q8, wantQ, 128)
		diffBytes(t, "weights_out", f32Bytes(wo), wantW, 4)
	}
}

func TestKFP8(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(11, 12))
	const P = 64
	in, pages := randomK(rng, 1000, P)
	cache := make([]byte, pages*P*132)
	nf, err := d.KFP8(in, KOptions{}, cache)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, len(cache))
	for r := 0; r < in.N; r++ {
		pos := in.Positions[r]
		x := refKRow(in.KV[r*128:r*128+128], in.NormWeight, in.Freqs[pos*64:pos*64+64], nf[r], false)
		c, s := refFP8Row(x)
		page, slot := int(in.OutLoc[r])/P, int(in.OutLoc[r])%P
		copy(want[page*P*132+slot*128:], c)
		copy(want[page*P*132+P*128+slot*4:], f32Bytes([]float32{s}))
	}
	diffBytes(t, "k_fp8 cache", cache, want, P*132)
}

func TestPagedLogits(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(13, 14))
	for _, fp8 := range []bool{false, true} {
		t.Run(fmt.Sprintf("fp8=%v", fp8), func(t *testing.T) {
			const P, H, B, N, maxBlocks = 16, 8, 3, 2, 6
			pages := 10
			bpt, qb := 68, 64
			if fp8 {
				bpt, qb = 132, 128
			}
			cache := make([]byte, pages*P*bpt)
			for p := 0; p < pages; p++ {
				for s := 0; s < P; s++ {
					base := p * P * bpt
					if fp8 {
						for k := 0; k < 128; k++ {
							c := byte(rng.IntN(256))
							if c&0x7f == 0x7f && rng.IntN(8) != 0 {
								c ^= 1 // keep NaN codes rare
							}
							cache[base+s*128+k] = c
						}
						copy(cache[base+P*128+s*4:], f32Bytes([]float32{float32(rng.Float64() * 0.01)}))
					} else {
						for k := 0; k < 64; k++ {
							cache[base+s*64+k] = byte(rng.IntN(256))
						}
						for g := 0; g < 4; g++ {
							cache[base+P*64+s*4+g] = byte(118 + rng.IntN(16))
						}
					}
				}
			}
			rows := B * N
			in := LogitsInput{FP8: fp8, B: B, NextN: N, H: H, Cache: cache, PageSize: P, MaxBlocks: maxBlocks, MaxContextLen: maxBlocks * P}
			in.Q = make([]byte, rows*H*qb)
			for i := range in.Q {
				in.Q[i] = byte(rng.IntN(256))
				if fp8 && in.Q[i]&0x7f == 0x7f {
					in.Q[i] ^= 2
				}
			}
			if !fp8 {
				in.QSF = make([]int32, rows*H)
				for i := range in.QSF {
					in.QSF[i] = int32(uint32(120+rng.IntN(12)) | uint32(120+rng.IntN(12))<<8 | uint32(120+rng.IntN(12))<<16 | uint32(120+rng.IntN(12))<<24)
				}
				in.QSF[5] |= 0xff // a NaN scale: relu keeps the NaN, the row's logits are NaN
			}
			in.Weights = make([]float32, rows*H)
			for i := range in.Weights {
				in.Weights[i] = float32(rng.NormFloat64())
			}
			in.ContextLens = make([]int32, rows)
			for r := range in.ContextLens {
				in.ContextLens[r] = int32(rng.IntN(maxBlocks*P + 1))
			}
			in.ContextLens[0] = maxBlocks * P
			in.BlockTable = make([]int32, B*maxBlocks)
			for i := range in.BlockTable {
				in.BlockTable[i] = int32(rng.IntN(pages))
			}
			got, err := d.PagedLogits(in)
			if err != nil {
				t.Fatal(err)
			}
			want := refLogits(in)
			bad := 0
			for i := range got {
				g, w := u32(got[i]), u32(want[i])
				if g == w || (got[i] != got[i] && want[i] != want[i]) {
					continue
				}
				if bad++; bad <= 5 {
					t.Errorf("logit %d: got %#08x (%g), want %#08x (%g)", i, g, got[i], w, want[i])
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d logits differ", bad, len(got))
			}
		})
	}
}

// ---- rsqrt ----

// crRsqrtOracle checks with exact rationals that y is the float32 nearest 1/sqrt(x):
// the midpoints m- < 1/sqrt(x) < m+ hold iff m-^2 x < 1 < m+^2 x.
func crRsqrtOracle(x, y float32) bool {
	xb := new(big.Float).SetPrec(512).SetFloat64(float64(x))
	side := func(m *big.Float) int {
		p := new(big.Float).SetPrec(512).Mul(m, m)
		p.Mul(p, xb)
		return p.Cmp(big.NewFloat(1))
	}
	mid := func(a, b float32) *big.Float {
		s := new(big.Float).SetPrec(512).SetFloat64(float64(a))
		s.Add(s, new(big.Float).SetPrec(512).SetFloat64(float64(b)))
		return s.Quo(s, big.NewFloat(2))
	}
	up, down := f32(u32(y)+1), f32(u32(y)-1)
	return side(mid(y, down)) < 0 && side(mid(y, up)) > 0
}

func TestRsqrt(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(15, 16))
	var x []float32
	for i := 0; i < 20000; i++ {
		x = append(x, f32(1+rng.Uint32N(0x7f7fffff)))
	}
	for i := uint32(1); i < 64; i++ {
		x = append(x, f32(i), f32(0x7f7fffff-i), f32(0x00800000-i), f32(0x00800000+i))
	}
	dev, cr, err := d.Rsqrt(x)
	if err != nil {
		t.Fatal(err)
	}
	table, tableErr := os.ReadFile("../rmsnorm/rsqrt_sm90.bin")
	var errs []int8
	if tableErr == nil && len(table) == RsqrtTableEntries/4 {
		errs = UnpackRsqrtTable(table)
	}
	bad, predicted := 0, 0
	for i, v := range x {
		if !crRsqrtOracle(v, cr[i]) {
			if bad++; bad <= 5 {
				t.Errorf("rsqrt_cr(%#08x) = %#08x is not correctly rounded", u32(v), u32(cr[i]))
			}
		}
		if errs != nil {
			want := u32(cr[i]) + uint32(int32(errs[RsqrtIndex(u32(v))]))
			if u32(dev[i]) == want {
				predicted++
			} else if d.Info().Major == 9 && d.Info().Minor == 0 {
				t.Errorf("rsqrtf(%#08x) = %#08x; the sm90 table predicts %#08x", u32(v), u32(dev[i]), want)
			}
		}
	}
	if errs != nil {
		t.Logf("table predicts the device rsqrtf on %d of %d sampled inputs (sm_%d%d)", predicted, len(x), d.Info().Major, d.Info().Minor)
	} else {
		t.Logf("no rsqrt table found (%v): prediction not checked", tableErr)
	}
	specials, err := d.RsqrtSpecials()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specials {
		t.Logf("rsqrtf(%#08x) = %#08x, correctly rounded %#08x", s.Input, s.Device, s.Correct)
	}
}

// TestRsqrtSweep runs the exhaustive characterisation (about 2^31 inputs; seconds on
// a GPU) under FP4INDEXER_LONG=1; cmd/cudaprobe writes the table it finds.
func TestRsqrtSweep(t *testing.T) {
	if os.Getenv("FP4INDEXER_LONG") != "1" {
		t.Skip("set FP4INDEXER_LONG=1 for the exhaustive rsqrtf sweep")
	}
	d := testDevice(t)
	table, rep, err := d.CharacteriseRsqrt()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inputs %d, errors %v, table mismatches %d (normal %d, subnormal %d), quad violations %d, reference fixups %d",
		rep.Inputs, rep.Errors, rep.TableMismatches, rep.NormalMismatch, rep.SubnormalMism, rep.QuadViolations, rep.Fixups)
	if rep.Inputs != 0x7f800000-1 {
		t.Errorf("swept %d inputs, want %d", rep.Inputs, 0x7f800000-1)
	}
	if packed, err := PackRsqrtTable(table); err == nil {
		if old, err := os.ReadFile("../rmsnorm/rsqrt_sm90.bin"); err == nil && d.Info().Major == 9 && !bytes.Equal(old, packed) {
			t.Errorf("the shipped rmsnorm/rsqrt_sm90.bin differs from this GPU's table")
		}
	} else {
		t.Logf("table does not fit 2 bits: %v", err)
	}
}
