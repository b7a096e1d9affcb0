package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fp4indexer/fp4indexer/golden"
	"github.com/fp4indexer/fp4indexer/internal/npy"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

const verifyHelp = `usage: fp4indexer verify -expected FILE[:TENSOR] -actual FILE[:TENSOR] [flags]

Compares a kernel's output with the expected bytes. FILE is a .safetensors or a
.npy file; without :TENSOR every tensor of the expected safetensors file is
compared with the actual tensor of the same name. Exit status 0 when everything
matches, 1 otherwise, with the first differences explained in the tensor's own
terms: for FP4 payloads the row, byte and nibble (low = even element, high =
odd), both E2M1 codes and values and the row's scale bytes; for scale words the
group bytes; for paged caches the page, slot, loc and region; for floats the
bits and values; then a count per class (payload, scale, NaN, value).

-bound compares fp32 tensors (logits) the way DeepGEMM's tests do, since
tensor-core accumulation is not bit-exact: DeepGEMM's calc_diff,
1 − 2Σxy/Σ(x²+y²) over the entries finite in expected (the −Inf past each
context length are not compared), must stay below -max-diff, and no such entry
may be NaN or ±Inf in actual; the largest absolute error is reported.

Flags:
`

func runVerify(args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("verify", stderr)
	expSpec := fset.String("expected", "", "expected FILE[:TENSOR] (.safetensors or .npy)")
	actSpec := fset.String("actual", "", "actual FILE[:TENSOR] (.safetensors or .npy)")
	bound := fset.Bool("bound", false, "compare fp32 tensors with DeepGEMM's calc_diff instead of bytes")
	maxDiff := fset.Float64("max-diff", golden.DefaultBound, "-bound: the calc_diff a match must stay below")
	n := fset.Int("n", 20, "differences listed per tensor (all are counted)")
	fset.Usage = func() {
		fmt.Fprint(stderr, verifyHelp)
		fset.PrintDefaults()
	}
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return usagef("unexpected argument %q", fset.Arg(0))
	}
	if *expSpec == "" || *actSpec == "" {
		return usagef("-expected and -actual are required")
	}
	if *n < 1 {
		return usagef("-n %d: want at least 1", *n)
	}
	if !(*maxDiff > 0) {
		return usagef("-max-diff %g: want a positive bound", *maxDiff)
	}
	exp, err := loadOperand(*expSpec)
	if err != nil {
		return err
	}
	act, err := loadOperand(*actSpec)
	if err != nil {
		return err
	}
	type pair struct {
		e, a    st.Tensor
		missing bool
	}
	var pairs []pair
	if exp.tensor == "" && act.tensor == "" && !exp.npy && !act.npy {
		for _, et := range exp.file.Tensors {
			at, ok := act.file.Get(et.Name)
			pairs = append(pairs, pair{et, at, !ok})
		}
	} else {
		et, err := exp.pick(act.tensor)
		if err != nil {
			return err
		}
		at, err := act.pick(et.Name)
		if err != nil {
			return err
		}
		pairs = append(pairs, pair{e: et, a: at})
	}
	bad := 0
	for _, p := range pairs {
		if p.missing {
			fmt.Fprintf(stdout, "%s: MISMATCH: missing from %s\n", p.e.Name, act.path)
			bad++
			continue
		}
		if *bound && p.e.DType == st.F32 {
			b := golden.Bound(p.e, p.a, *maxDiff)
			b.Write(stdout)
			if !b.OK() {
				bad++
			}
			continue
		}
		o := golden.CompareOptions{MaxReport: *n}
		if golden.KindOf(p.e) == golden.KindFP4 {
			o.ExpectedScales = exp.scales(p.e.Name)
			o.ActualScales = act.scales(p.a.Name)
		}
		r := golden.Compare(p.e, p.a, o)
		r.Write(stdout)
		if !r.OK() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d tensors differ", bad, len(pairs))
	}
	fmt.Fprintf(stdout, "verify: OK: %d tensors match\n", len(pairs))
	return nil
}

// operand is one side of a comparison: a file and optionally a tensor in it.
type operand struct {
	path, tensor string
	npy          bool
	file         *st.File
}

// loadOperand reads FILE[:TENSOR]. A path that exists as given is a file; else
// the text after the last colon names a tensor.
func loadOperand(spec string) (operand, error) {
	o := operand{path: spec}
	if _, err := os.Stat(spec); err != nil {
		i := strings.LastIndex(spec, ":")
		if i <= 0 || !errors.Is(err, fs.ErrNotExist) {
			return operand{}, err
		}
		o.path, o.tensor = spec[:i], spec[i+1:]
	}
	if strings.EqualFold(filepath.Ext(o.path), ".npy") {
		o.npy = true
		descr, shape, data, err := npy.ReadFile(o.path)
		if err != nil {
			return operand{}, err
		}
		dt, ok := npyDTypes[descr]
		if !ok {
			return operand{}, fmt.Errorf("%s: dtype %s has no safetensors equivalent", o.path, descr)
		}
		name := o.tensor
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(o.path), filepath.Ext(o.path))
		}
		t, err := st.New(name, dt, shape, data)
		if err != nil {
			return operand{}, fmt.Errorf("%s: %w", o.path, err)
		}
		o.tensor = name
		o.file = &st.File{Tensors: []st.Tensor{t}}
		return o, nil
	}
	f, err := st.ReadFile(o.path)
	if err != nil {
		return operand{}, err
	}
	o.file = f
	if o.tensor != "" {
		if _, ok := f.Get(o.tensor); !ok {
			return operand{}, fmt.Errorf("%s has no tensor %q (it has %s)", o.path, o.tensor, strings.Join(f.Names(), ", "))
		}
	}
	return o, nil
}

// npyDTypes maps .npy descriptors to safetensors dtypes. BF16 and F8 tensors
// arrive as their bits (<u2, |u1) and are compared as such.
var npyDTypes = map[string]st.DType{
	"|b1": st.BOOL, "|u1": st.U8, "|i1": st.I8,
	"<i2": st.I16, "<u2": st.U16, "<f2": st.F16,
	"<i4": st.I32, "<u4": st.U32, "<f4": st.F32,
	"<i8": st.I64, "<u8": st.U64, "<f8": st.F64,
}

// pick returns the operand's tensor: the one it names, its only one, or the one
// called other (the other side's name).
func (o operand) pick(other string) (st.Tensor, error) {
	name := o.tensor
	switch {
	case name != "":
	case len(o.file.Tensors) == 1:
		return o.file.Tensors[0], nil
	case other != "":
		name = other
	default:
		return st.Tensor{}, usagef("%s holds %d tensors (%s): name one as %s:TENSOR",
			o.path, len(o.file.Tensors), strings.Join(o.file.Names(), ", "), o.path)
	}
	t, ok := o.file.Get(name)
	if !ok {
		return st.Tensor{}, fmt.Errorf("%s has no tensor %q (it has %s)", o.path, name, strings.Join(o.file.Names(), ", "))
	}
	return t, nil
}

// scales returns the scale words that go with an FP4 payload tensor of the
// operand's file (x_sf for x_fp4, q_sf for q_fp4 and q), nil when absent.
func (o operand) scales(payload string) []uint32 {
	return golden.ScaleWords(o.file, payload)
}
