package golden

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/indexer"
	"github.com/fp4indexer/fp4indexer/mqa"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/rope"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// DefaultProfile is the name of the PR's GPU deployment, the zero Profile.
const DefaultProfile = "pr26209"

// Profile is every option a path's model takes, with a name. The zero value is
// "pr26209": each kernel as SGLang PR #26209 and DeepGEMM deploy it on the GPU.
// Options renders the fields a kernel uses as the manifest's "options" (and the
// safetensors __metadata__); ProfileFromOptions reads them back, so a case
// records everything it was made with.
type Profile struct {
	// Name is recorded as the "profile" option; "" means DefaultProfile.
	Name string
	// PageSize is the paged cache's tokens per page (a power of two); 0 means 64.
	PageSize int
	// Scale replaces every FP4 path's UE8M0 rule when ScaleSet is true. Unset,
	// each path uses its own: `triton` for K v1, `cuda` for the fused Q and K.
	Scale    ue8m0.Variant
	ScaleSet bool
	// Element is the E2M1 rounding of the FP4 paths; zero: threshold codes.
	Element e2m1.Encoder
	// RoPE is the rotation of the fused paths; zero: interleaved, GPU FMA pattern.
	RoPE rope.Options
	// NoRoPEBF16 and NoHadamardBF16 drop the FP4 Q kernel's bf16 round trips.
	NoRoPEBF16, NoHadamardBF16 bool
	// WeightScale multiplies the Q paths' head weights; 0 means 0x3C3504F3.
	WeightScale float32
	// Eps is the fused K paths' RMSNorm epsilon; 0 means 1e-6.
	Eps float32
	// Rsqrt is the fused K paths' rsqrt; zero: correctly rounded. A norm_factor
	// input is used whenever present, whatever this says.
	Rsqrt RsqrtMode
	// FP8Overflow is the E4M3 conversion of the FP8 paths; zero: satfinite.
	FP8Overflow fp8.Overflow
	// Logits selects the scoring model's arithmetic (dot product rounding and
	// head-sum epilogue); its Workers field is not an option (results do not
	// depend on it) and is not recorded.
	Logits mqa.Options
}

// Option keys, shared with the H100 ground truth's manifests where they overlap.
const (
	optProfile      = "profile"
	optPageSize     = "page_size"
	optScale        = "scale_variant"
	optElement      = "element_mode"
	optElementNaN   = "element_nan"
	optRoPE         = "rope"
	optRoPEBF16     = "rope_bf16"
	optHadamardBF16 = "hadamard_bf16"
	optWeightScale  = "weight_scale_bits"
	optEps          = "eps"
	optRsqrt        = "rsqrt"
	optFP8Overflow  = "fp8_overflow"
	optDot          = "dot"
	optEpilogue     = "epilogue"
)

// Case-level scalars: arguments of a kernel call rather than profile options.
// They travel in the options too (SPEC §8: scalars go in the manifest's options
// and the files' __metadata__) and Compute reads them from the inputs' metadata.
const (
	optMaxContextLen = "max_context_len"
	optNextN         = "next_n"
)

// RsqrtMode selects the norm factor rsqrt(s/128 + eps) of the fused K paths
// (SPEC §4 K step 1).
type RsqrtMode uint8

const (
	// RsqrtCorrect is the correctly rounded 1/√x (rmsnorm.CorrectlyRounded),
	// the model's default; the GPU's rsqrtf differs from it by 1 or 2 ulp in
	// about a fifth of the inputs.
	RsqrtCorrect RsqrtMode = iota
	// RsqrtDeviceSM90 is the measured rsqrtf of sm_90 GPUs (H100, H200),
	// rmsnorm.DeviceSM90: the K bytes an H100 writes, without injected factors.
	RsqrtDeviceSM90
	// RsqrtInput takes every row's factor from the inputs' norm_factor tensor,
	// which must be there (the device values of a captured GPU run).
	RsqrtInput
)

// Values of the rsqrt option; the last is the H100 ground truth's spelling of
// RsqrtInput.
const (
	rsqrtCorrect     = "correctly rounded 1/sqrt"
	rsqrtDeviceSM90  = "device rsqrtf sm90 (measured table)"
	rsqrtInput       = "norm_factor input"
	rsqrtInputDevice = "device rsqrtf (norm_factor holds it per row)"
)

func (m RsqrtMode) option() string {
	switch m {
	case RsqrtDeviceSM90:
		return rsqrtDeviceSM90
	case RsqrtInput:
		return rsqrtInput
	}
	return rsqrtCorrect
}

func scaleName(v ue8m0.Variant) string { return v.String() }

func parseScale(s string) (ue8m0.Variant, error) { return ue8m0.ParseVariant(s) }

// ropeName spells a RoPE option the way the H100 ground truth does: which dims,
// and the rounding of each product.
func ropeName(o rope.Options) string {
	arith := "re=fma(xr,c,-fl(xi*s)), im=fma(xi,c,fl(xr*s))"
	if o.Arithmetic == rope.Unfused {
		arith = "re=fl(fl(xr*c)-fl(xi*s)), im=fl(fl(xr*s)+fl(xi*c))"
	}
	return o.Layout.String() + ", last 64 dims, " + arith
}

// parseRoPE accepts ropeName's spelling and the short form LAYOUT/ARITHMETIC
// (interleaved or half-split, gpu-fma or unfused).
func parseRoPE(s string) (rope.Options, error) {
	for _, l := range []rope.Layout{rope.Interleaved, rope.HalfSplit} {
		for _, a := range []rope.Arithmetic{rope.GPUFMA, rope.Unfused} {
			o := rope.Options{Layout: l, Arithmetic: a}
			if s == ropeName(o) || s == l.String()+"/"+a.String() {
				return o, nil
			}
		}
	}
	return rope.Options{}, fmt.Errorf("unknown rope %q (want interleaved/gpu-fma, interleaved/unfused, half-split/gpu-fma, half-split/unfused, or the long form %q)",
		s, ropeName(rope.Options{}))
}

var overflowNames = []struct {
	name string
	o    fp8.Overflow
}{{"satfinite", fp8.SatFinite}, {"nan", fp8.NaNOnOverflow}}

// formatEps writes an fp32 scalar in its shortest decimal form, exponent without
// padding ("1e-6", as the ground truth writes it). strconv is exact and the same
// on every platform.
func formatEps(f float32) string {
	s := strconv.FormatFloat(float64(f), 'g', -1, 32)
	if i := strings.IndexAny(s, "e"); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := ""
		if exp[0] == '-' || exp[0] == '+' {
			if exp[0] == '-' {
				sign = "-"
			}
			exp = exp[1:]
		}
		exp = strings.TrimLeft(exp, "0")
		s = mant + "e" + sign + exp
	}
	return s
}

func (p Profile) name() string {
	if p.Name == "" {
		return DefaultProfile
	}
	return p.Name
}

func (p Profile) pageSize() int {
	if p.PageSize == 0 {
		return pagedcache.DefaultPageSize
	}
	return p.PageSize
}

func (p Profile) eps() float32 {
	if p.Eps == 0 {
		return indexer.DefaultEps
	}
	return p.Eps
}

func (p Profile) weightScale() float32 {
	if p.WeightScale == 0 {
		return indexer.DefaultWeightScale()
	}
	return p.WeightScale
}

// scaleFor returns the UE8M0 rule kernel k uses under p.
func (p Profile) scaleFor(k Kernel) ue8m0.Variant {
	switch {
	case p.ScaleSet:
		return p.Scale
	case k == KV1Store:
		return indexer.DefaultKV1Options().Scale
	}
	return indexer.QOptions{}.Scale
}

// Options returns the options kernel k runs with under p, by manifest key.
// Every value is a string; Manifest writes decimal integers as JSON numbers.
func (p Profile) Options(k Kernel) map[string]string {
	o := map[string]string{optProfile: p.name()}
	fp4 := func() {
		o[optScale] = scaleName(p.scaleFor(k))
		o[optElement] = p.Element.Mode.String()
		if p.Element.Mode == e2m1.RNE {
			o[optElementNaN] = p.Element.NaN.String()
		}
	}
	kFront := func() {
		o[optPageSize] = strconv.Itoa(p.pageSize())
		o[optEps] = formatEps(p.eps())
		o[optRoPE] = ropeName(p.RoPE)
		o[optRsqrt] = p.Rsqrt.option()
	}
	switch k {
	case KV1Store:
		o[optPageSize] = strconv.Itoa(p.pageSize())
		fp4()
	case QFP4:
		fp4()
		o[optRoPE] = ropeName(p.RoPE)
		o[optRoPEBF16] = strconv.FormatBool(!p.NoRoPEBF16)
		o[optHadamardBF16] = strconv.FormatBool(!p.NoHadamardBF16)
		o[optWeightScale] = fmt.Sprintf("0x%08X", math.Float32bits(p.weightScale()))
	case KV2Fused:
		kFront()
		fp4()
	case QFP8:
		o[optRoPE] = ropeName(p.RoPE)
		o[optWeightScale] = fmt.Sprintf("0x%08X", math.Float32bits(p.weightScale()))
		o[optFP8Overflow] = overflowName(p.FP8Overflow)
	case KFP8:
		kFront()
		o[optFP8Overflow] = overflowName(p.FP8Overflow)
	case Logits:
		o[optPageSize] = strconv.Itoa(p.pageSize())
		o[optDot] = p.Logits.Dot.String()
		o[optEpilogue] = p.Logits.Epilogue.String()
	}
	return o
}

func overflowName(o fp8.Overflow) string {
	for _, n := range overflowNames {
		if n.o == o {
			return n.name
		}
	}
	return fmt.Sprintf("overflow(%d)", uint8(o))
}

// ProfileFromOptions rebuilds the profile a case was made with from its options
// (a manifest's "options", or a file's __metadata__). Keys it does not know are
// an error, so nothing a case was made with is silently dropped; missing keys
// keep the profile's default. Case-level scalars (max_context_len, next_n) are
// accepted and ignored here.
func ProfileFromOptions(k Kernel, opts map[string]string) (Profile, error) {
	var p Profile
	keys := make([]string, 0, len(opts))
	for key := range opts {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if err := p.set(k, key, opts[key]); err != nil {
			return Profile{}, err
		}
	}
	return p, nil
}

// ParseProfile reads a -profile flag: a profile name, optionally followed by
// comma-separated KEY=VALUE overrides with the manifest's option keys, e.g.
// "pr26209,element_mode=rne,element_nan=signed-zero". "" is the default.
func ParseProfile(spec string) (Profile, error) {
	var p Profile
	parts := strings.Split(spec, ",")
	name := strings.TrimSpace(parts[0])
	switch name {
	case "", DefaultProfile:
	default:
		return Profile{}, fmt.Errorf("golden: unknown profile %q (want %s, optionally followed by ,KEY=VALUE overrides)", name, DefaultProfile)
	}
	for _, kv := range parts[1:] {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return Profile{}, fmt.Errorf("golden: profile override %q is not KEY=VALUE", kv)
		}
		if err := p.set("", strings.TrimSpace(key), strings.TrimSpace(value)); err != nil {
			return Profile{}, err
		}
	}
	return p, nil
}

// set applies one option. k is the kernel whose options are read ("" for a
// -profile override), so that a scale_variant equal to the path's own rule
// leaves the profile's default in place.
func (p *Profile) set(k Kernel, key, value string) error {
	bad := func(err error) error { return fmt.Errorf("golden: option %s: %w", key, err) }
	switch key {
	case optProfile:
		if value != DefaultProfile {
			return bad(fmt.Errorf("unknown profile %q (want %s)", value, DefaultProfile))
		}
	case optPageSize:
		n, err := strconv.Atoi(value)
		if err != nil {
			return bad(err)
		}
		if _, err := pagedcache.FP4(n); err != nil {
			return bad(err)
		}
		if n != pagedcache.DefaultPageSize {
			p.PageSize = n
		}
	case optScale:
		v, err := parseScale(value)
		if err != nil {
			return bad(err)
		}
		if k == "" || v != (Profile{}).scaleFor(k) {
			p.Scale, p.ScaleSet = v, true
		}
	case optElement:
		m, err := e2m1.ParseMode(value)
		if err != nil {
			return bad(err)
		}
		p.Element.Mode = m
	case optElementNaN:
		n, err := e2m1.ParseNaNPolicy(value)
		if err != nil {
			return bad(err)
		}
		p.Element.NaN = n
	case optRoPE:
		o, err := parseRoPE(value)
		if err != nil {
			return bad(err)
		}
		p.RoPE = o
	case optRoPEBF16, optHadamardBF16:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return bad(err)
		}
		if key == optRoPEBF16 {
			p.NoRoPEBF16 = !b
		} else {
			p.NoHadamardBF16 = !b
		}
	case optWeightScale:
		bits, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(value, "0x"), "0X"), 16, 32)
		if err != nil {
			return bad(fmt.Errorf("want the fp32 bits in hex, like 0x3C3504F3: %w", err))
		}
		f := math.Float32frombits(uint32(bits))
		if !(f > 0) || math.IsInf(float64(f), 0) {
			return bad(fmt.Errorf("%s is not a positive finite fp32", value))
		}
		if f != indexer.DefaultWeightScale() {
			p.WeightScale = f
		}
	case optEps:
		f, err := strconv.ParseFloat(value, 32)
		if err != nil {
			return bad(err)
		}
		if !(f > 0) || math.IsInf(f, 0) {
			return bad(fmt.Errorf("%s is not a positive finite number", value))
		}
		if float32(f) != indexer.DefaultEps {
			p.Eps = float32(f)
		}
	case optRsqrt:
		switch value {
		case rsqrtCorrect, "correct":
			p.Rsqrt = RsqrtCorrect
		case rsqrtDeviceSM90, "sm90":
			p.Rsqrt = RsqrtDeviceSM90
		case rsqrtInput, rsqrtInputDevice, "input":
			p.Rsqrt = RsqrtInput
		default:
			return bad(fmt.Errorf("unknown rsqrt %q (want correct, sm90 or input, or %q, %q, %q)",
				value, rsqrtCorrect, rsqrtDeviceSM90, rsqrtInput))
		}
	case optFP8Overflow:
		found := false
		for _, n := range overflowNames {
			if n.name == value {
				p.FP8Overflow, found = n.o, true
			}
		}
		if !found {
			return bad(fmt.Errorf("unknown fp8 overflow %q (want satfinite or nan)", value))
		}
	case optDot:
		d, err := mqa.ParseDot(value)
		if err != nil {
			return bad(err)
		}
		p.Logits.Dot = d
	case optEpilogue:
		e, err := mqa.ParseEpilogue(value)
		if err != nil {
			return bad(err)
		}
		p.Logits.Epilogue = e
	case optMaxContextLen, optNextN:
		// Case data, read by Compute from the inputs' metadata.
	default:
		return fmt.Errorf("golden: unknown option %q", key)
	}
	return nil
}
