package golden

import (
	"slices"
	"sync"
	"testing"

	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

var (
	fuzzBaseOnce sync.Once
	fuzzBase     map[Kernel]*st.File
	fuzzBaseErr  error
)

// fuzzInputs returns one small valid inputs file per kernel.
func fuzzInputs() (map[Kernel]*st.File, error) {
	fuzzBaseOnce.Do(func() {
		fuzzBase = map[Kernel]*st.File{}
		for _, pick := range []struct {
			suite string
			k     Kernel
			name  string
		}{
			{SuitePR26209, KV1Store, "pr26209_n7"}, {SuitePR26209, QFP4, "pr26209_b1"},
			{SuitePR26209, KV2Fused, "pr26209_n16"}, {SuitePR26209, QFP8, "pr26209_b1"},
			{SuitePR26209, KFP8, "pr26209_n1"}, {SuiteLogits, Logits, "fp4_next2"},
		} {
			cases, err := Suite(pick.suite, Config{Kernels: []Kernel{pick.k}})
			if err != nil {
				fuzzBaseErr = err
				return
			}
			for _, c := range cases {
				if c.Name == pick.name {
					fuzzBase[pick.k] = c.Inputs
				}
			}
		}
	})
	return fuzzBase, fuzzBaseErr
}

// FuzzCompute replaces one input tensor of a valid call by arbitrary bytes (its
// dtype kept, its first dimension chosen by the fuzzer) and checks that Compute
// returns outputs or an error, never panics: `fp4indexer run` takes user files.
func FuzzCompute(f *testing.F) {
	base, err := fuzzInputs()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, kernel uint8, name string, dim0 int, data []byte) {
		k := Kernels()[int(kernel)%len(Kernels())]
		in := base[k]
		orig, ok := in.Get(name)
		if !ok {
			return
		}
		shape := slices.Clone(orig.Shape)
		if len(shape) > 0 {
			shape[0] = dim0 % 300
			if shape[0] < 0 {
				shape[0] = -shape[0]
			}
		}
		size, _ := orig.DType.Size()
		n := size
		for _, d := range shape {
			n *= d
		}
		buf := make([]byte, n)
		for i := range buf {
			if len(data) > 0 {
				buf[i] = data[i%len(data)]
			}
		}
		repl, err := st.New(name, orig.DType, shape, buf)
		if err != nil {
			return
		}
		file := &st.File{Metadata: in.Metadata}
		for _, x := range in.Tensors {
			if x.Name == name {
				x = repl
			}
			file.Tensors = append(file.Tensors, x)
		}
		out, err := Compute(k, file, Profile{})
		if err == nil && len(out.Tensors) != len(OutputNames(k)) {
			t.Errorf("%s: %d outputs, want %d", k.Path(), len(out.Tensors), len(OutputNames(k)))
		}
	})
}
