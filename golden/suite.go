package golden

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// Suite names.
const (
	SuitePR26209 = "pr26209"
	SuiteEdges   = "edges"
	SuiteRandom  = "random"
	SuiteLogits  = "logits"
)

// Suites returns every suite name in the default set's order.
func Suites() []string { return []string{SuitePR26209, SuiteEdges, SuiteRandom, SuiteLogits} }

// DefaultRows is the random suite's row count unless Config.Rows says otherwise.
const DefaultRows = 4096

// Config parameterises the suites.
type Config struct {
	// Rows is the number of 128-value rows of each random case (Q: tokens ×
	// heads; logits: keys over all requests, capped at MaxLogitsKeys); 0 means
	// DefaultRows.
	Rows int
	// Seed seeds every random value (see newRand); 0 means DefaultSeed.
	Seed uint64
	// Kernels restricts the paths; nil means all six.
	Kernels []Kernel
	// Profile is the model profile of every expected output.
	Profile Profile
}

// MaxLogitsKeys caps the keys of a random logits case: its expected logits cost
// rows × keys × heads exact dot products.
const MaxLogitsKeys = 1 << 16

func (c Config) rows() int {
	if c.Rows <= 0 {
		return DefaultRows
	}
	return c.Rows
}

func (c Config) seed() uint64 {
	if c.Seed == 0 {
		return DefaultSeed
	}
	return c.Seed
}

func (c Config) wants(k Kernel) bool { return c.Kernels == nil || slices.Contains(c.Kernels, k) }

// builder makes one case's inputs; the suite computes the expected outputs with
// Compute, so a case is always what `fp4indexer run` gives on its inputs.
type builder struct {
	kernel      Kernel
	name        string
	description string
	scalars     map[string]string // case-level scalars (max_context_len, next_n)
	build       func(r *rand.Rand) ([]st.Tensor, error)
}

// Suite returns the cases of one suite for the configured paths, in a fixed
// order. Every random value comes from the case's own PCG stream (newRand), so
// the cases are the same bytes on every machine.
func Suite(name string, cfg Config) ([]Case, error) {
	var cases []Case
	err := Generate(name, cfg, func(c Case) error {
		cases = append(cases, c)
		return nil
	})
	return cases, err
}

// Generate makes the cases of one suite one at a time and hands each to emit
// (to write it, say) before making the next, so a large random case is the only
// one in memory.
func Generate(name string, cfg Config, emit func(Case) error) error {
	var bs []builder
	switch name {
	case SuitePR26209:
		bs = pr26209Builders(cfg)
	case SuiteEdges:
		bs = edgeBuilders(cfg)
	case SuiteRandom:
		bs = randomBuilders(cfg)
	case SuiteLogits:
		bs = logitsBuilders(cfg)
	default:
		return fmt.Errorf("golden: unknown suite %q (want one of %v)", name, Suites())
	}
	for _, b := range bs {
		if !cfg.wants(b.kernel) {
			continue
		}
		c, err := b.make(name, cfg)
		if err != nil {
			return err
		}
		if err := emit(c); err != nil {
			return err
		}
	}
	return nil
}

func (b builder) make(suite string, cfg Config) (Case, error) {
	r := newRand(cfg.seed(), b.kernel, b.name)
	tensors, err := b.build(r)
	if err != nil {
		return Case{}, fmt.Errorf("golden: building %s/%s: %w", b.kernel.Path(), b.name, err)
	}
	opts := cfg.Profile.Options(b.kernel)
	for k, v := range b.scalars {
		opts[k] = v
	}
	if b.kernel == Logits {
		addLogitsScalars(opts, tensors)
	}
	in := &st.File{Tensors: tensors, Metadata: opts}
	exp, err := Compute(b.kernel, in, cfg.Profile)
	if err != nil {
		return Case{}, fmt.Errorf("golden: computing %s/%s: %w", b.kernel.Path(), b.name, err)
	}
	return Case{
		Kernel: b.kernel, Suite: suite, Name: b.name, Description: b.description,
		Seed: cfg.seed(), Options: opts, Inputs: in, Expected: exp,
	}, nil
}

// addLogitsScalars records fp8_fp4_paged_mqa_logits' scalar arguments that the
// tensors imply: next_n (q's dim 1) and max_context_len (the largest length,
// the logits' width).
func addLogitsScalars(opts map[string]string, tensors []st.Tensor) {
	for _, t := range tensors {
		switch t.Name {
		case tQ:
			if len(t.Shape) == 4 {
				opts[optNextN] = itoa(t.Shape[1])
			}
		case tContext:
			if v, err := int32s(t); err == nil {
				m := 0
				for _, c := range v {
					m = max(m, int(c))
				}
				opts[optMaxContextLen] = itoa(m)
			}
		}
	}
}

// Tensor builders for the generators. Shapes are the generator's own, so a
// failure is a bug in this package; it is returned as an error all the same.

type tensorList struct {
	ts  []st.Tensor
	err error
}

func (l *tensorList) add(t st.Tensor, err error) {
	if l.err == nil && err != nil {
		l.err = err
	}
	l.ts = append(l.ts, t)
}

func (l *tensorList) result() ([]st.Tensor, error) { return l.ts, l.err }

func itoa(n int) string { return strconv.Itoa(n) }
