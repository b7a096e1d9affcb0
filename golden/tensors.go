package golden

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/fp4indexer/fp4indexer/bf16"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// inputError names the tensor a problem is about, so that a user who brings
// their own inputs to `fp4indexer run` knows which one to fix.
func inputError(k Kernel, name, format string, args ...any) error {
	return fmt.Errorf("golden: %s: input %q: %s", k, name, fmt.Sprintf(format, args...))
}

// inputs wraps the inputs file of one kernel call.
type inputs struct {
	k Kernel
	f *st.File
}

func (in inputs) has(name string) bool {
	_, ok := in.f.Get(name)
	return ok
}

// get returns the tensor called name, checking its dtype against allowed and
// its shape against want (−1 matches any extent).
func (in inputs) get(name string, allowed []st.DType, want ...int) (st.Tensor, error) {
	t, ok := in.f.Get(name)
	if !ok {
		return st.Tensor{}, inputError(in.k, name, "missing (the kernel's inputs are %s)", inputNames(in.k))
	}
	if !slices.Contains(allowed, t.DType) {
		return st.Tensor{}, inputError(in.k, name, "dtype %s, want %v", t.DType, allowed)
	}
	if err := checkShape(t.Shape, want); err != nil {
		return st.Tensor{}, inputError(in.k, name, "%v", err)
	}
	if err := t.Validate(); err != nil {
		return st.Tensor{}, inputError(in.k, name, "%v", err)
	}
	return t, nil
}

func checkShape(got, want []int) error {
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = want[i] < 0 || got[i] == want[i]
	}
	if !ok {
		return fmt.Errorf("shape %v, want %s", got, shapeString(want))
	}
	return nil
}

func shapeString(s []int) string {
	b := []byte{'['}
	for i, d := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		if d < 0 {
			b = append(b, '*')
		} else {
			b = fmt.Appendf(b, "%d", d)
		}
	}
	return string(append(b, ']'))
}

var (
	floatTypes = []st.DType{st.F32, st.BF16}
	indexTypes = []st.DType{st.I64, st.I32}
)

// float32s widens a BF16 tensor or decodes an F32 one, bits preserved, on all
// cores for large tensors (each goroutine decodes its own range).
func float32s(t st.Tensor) ([]float32, error) {
	size := 4
	if t.DType == st.BF16 {
		size = 2
	} else if t.DType != st.F32 {
		return nil, fmt.Errorf("dtype %s, want F32 or BF16", t.DType)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/size)
	forChunks(len(out), 1<<16, func(lo, hi int) error {
		if size == 2 {
			for i := lo; i < hi; i++ {
				out[i] = bf16.Frombits(binary.LittleEndian.Uint16(t.Data[2*i:])).Float32()
			}
			return nil
		}
		for i := lo; i < hi; i++ {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
		return nil
	})
	return out, nil
}

// int64s reads an I64 or I32 index tensor.
func int64s(t st.Tensor) ([]int64, error) {
	if t.DType == st.I32 {
		v, err := t.Int32s()
		if err != nil {
			return nil, err
		}
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out, nil
	}
	return t.Int64s()
}

// int32s reads an I32 or I64 tensor whose values fit in int32.
func int32s(t st.Tensor) ([]int32, error) {
	if t.DType == st.I32 {
		return t.Int32s()
	}
	v, err := t.Int64s()
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		if x != int64(int32(x)) {
			return nil, fmt.Errorf("element %d = %d does not fit in int32", i, x)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// bf16s reads a BF16 tensor's bit patterns.
func bf16s(t st.Tensor) ([]bf16.BF16, error) {
	bits, err := t.Uint16s()
	if err != nil {
		return nil, err
	}
	out := make([]bf16.BF16, len(bits))
	for i, b := range bits {
		out[i] = bf16.Frombits(b)
	}
	return out, nil
}

// Builders of output tensors. Their shapes come from validated inputs, so an
// error here is a bug; it is still returned, never a panic.

func tensorBytes(name string, dtype st.DType, shape []int, data []byte) (st.Tensor, error) {
	return st.New(name, dtype, shape, data)
}

// tensorF32 builds an F32 tensor, encoding on all cores for large ones.
func tensorF32(name string, shape []int, v []float32) (st.Tensor, error) {
	data := make([]byte, 4*len(v))
	forChunks(len(v), 1<<16, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v[i]))
		}
		return nil
	})
	return st.New(name, st.F32, shape, data)
}

func tensorI32(name string, shape []int, v []int32) (st.Tensor, error) {
	return st.FromInt32s(name, shape, v)
}

func tensorI64(name string, shape []int, v []int64) (st.Tensor, error) {
	return st.FromInt64s(name, shape, v)
}

// tensorBF16 builds a BF16 tensor of v rounded to bf16 (exact for values that
// are bf16 already), encoding on all cores for large ones.
func tensorBF16(name string, shape []int, v []float32) (st.Tensor, error) {
	data := make([]byte, 2*len(v))
	forChunks(len(v), 1<<16, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			binary.LittleEndian.PutUint16(data[2*i:], bf16.Fromfloat32(v[i]).Bits())
		}
		return nil
	})
	return st.New(name, st.BF16, shape, data)
}

// isFinite32 reports whether f is neither NaN nor ±Inf.
func isFinite32(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
