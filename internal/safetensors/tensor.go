package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Tensor is one named array. Data holds NumElements()·Size() bytes,
// little-endian, row-major. A scalar has an empty Shape (one element).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// New returns a tensor after checking that data holds exactly the bytes shape
// and dtype call for. Data is not copied; Shape is.
func New(name string, dtype DType, shape []int, data []byte) (Tensor, error) {
	t := Tensor{Name: name, DType: dtype, Shape: slices.Clone(shape), Data: data}
	if err := t.Validate(); err != nil {
		return Tensor{}, err
	}
	return t, nil
}

// NumElements returns the product of the dimensions (1 for a scalar), or -1 if
// a dimension is negative or the product overflows int.
func (t Tensor) NumElements() int {
	n, ok := numElements(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// numElements multiplies dims with an overflow check. A zero dimension makes
// the product 0 whatever the others are.
func numElements(shape []int) (int, bool) {
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
	}
	if slices.Contains(shape, 0) {
		return 0, true
	}
	n := 1
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// byteSize returns the data size implied by dtype and shape for the tensor
// called name (named in the error).
func byteSize(name string, dtype DType, shape []int) (int, error) {
	size, err := dtype.Size()
	if err != nil {
		return 0, fmt.Errorf("%w: tensor %q has dtype %q", ErrUnknownDType, name, string(dtype))
	}
	if len(shape) > MaxDims {
		return 0, fmt.Errorf("%w: tensor %q has %d dimensions (limit %d)", ErrInvalidShape, name, len(shape), MaxDims)
	}
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: tensor %q: negative dimension in %v", ErrInvalidShape, name, shape)
		}
	}
	n, ok := numElements(shape)
	if !ok || n > math.MaxInt/size {
		return 0, fmt.Errorf("%w: tensor %q: byte size of %s%v overflows", ErrInvalidShape, name, dtype, shape)
	}
	return n * size, nil
}

// Validate checks that the dtype is supported, the shape is valid and Data has
// exactly the implied length.
func (t Tensor) Validate() error {
	want, err := byteSize(t.Name, t.DType, t.Shape)
	if err != nil {
		return err
	}
	if len(t.Data) != want {
		return fmt.Errorf("%w: tensor %q: %s%v needs %d bytes, has %d", ErrInvalidTensor, t.Name, t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// check validates t and that its dtype is one of allowed.
func (t Tensor) check(allowed ...DType) error {
	if !slices.Contains(allowed, t.DType) {
		return fmt.Errorf("%w: tensor %q has dtype %s, want one of %v", ErrInvalidTensor, t.Name, t.DType, allowed)
	}
	return t.Validate()
}

// fromWords builds a tensor of n elements, each written by put.
func fromWords(name string, dtype DType, shape []int, n int, put func(dst []byte, i int)) (Tensor, error) {
	want, err := byteSize(name, dtype, shape)
	if err != nil {
		return Tensor{}, err
	}
	size, _ := dtype.Size()
	if n != want/size {
		return Tensor{}, fmt.Errorf("%w: tensor %q: shape %v holds %d elements, got %d values", ErrInvalidTensor, name, shape, want/size, n)
	}
	data := make([]byte, want)
	for i := range n {
		put(data[i*size:], i)
	}
	return Tensor{Name: name, DType: dtype, Shape: slices.Clone(shape), Data: data}, nil
}

// FromFloat32s returns an F32 tensor holding the bits of v exactly.
func FromFloat32s(name string, shape []int, v []float32) (Tensor, error) {
	return fromWords(name, F32, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint32(b, math.Float32bits(v[i])) })
}

// FromFloat64s returns an F64 tensor holding the bits of v exactly.
func FromFloat64s(name string, shape []int, v []float64) (Tensor, error) {
	return fromWords(name, F64, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint64(b, math.Float64bits(v[i])) })
}

// FromInt64s returns an I64 tensor.
func FromInt64s(name string, shape []int, v []int64) (Tensor, error) {
	return fromWords(name, I64, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint64(b, uint64(v[i])) })
}

// FromUint64s returns a U64 tensor.
func FromUint64s(name string, shape []int, v []uint64) (Tensor, error) {
	return fromWords(name, U64, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint64(b, v[i]) })
}

// FromInt32s returns an I32 tensor.
func FromInt32s(name string, shape []int, v []int32) (Tensor, error) {
	return fromWords(name, I32, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint32(b, uint32(v[i])) })
}

// FromUint32s returns a U32 tensor.
func FromUint32s(name string, shape []int, v []uint32) (Tensor, error) {
	return fromWords(name, U32, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint32(b, v[i]) })
}

// FromInt16s returns an I16 tensor.
func FromInt16s(name string, shape []int, v []int16) (Tensor, error) {
	return fromWords(name, I16, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint16(b, uint16(v[i])) })
}

// FromUint16s returns a U16 tensor.
func FromUint16s(name string, shape []int, v []uint16) (Tensor, error) {
	return fromWords(name, U16, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint16(b, v[i]) })
}

// FromBF16Bits returns a BF16 tensor whose elements are the bit patterns v.
func FromBF16Bits(name string, shape []int, v []uint16) (Tensor, error) {
	return fromWords(name, BF16, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint16(b, v[i]) })
}

// FromF16Bits returns an F16 tensor whose elements are the bit patterns v.
func FromF16Bits(name string, shape []int, v []uint16) (Tensor, error) {
	return fromWords(name, F16, shape, len(v), func(b []byte, i int) { binary.LittleEndian.PutUint16(b, v[i]) })
}

// FromInt8s returns an I8 tensor.
func FromInt8s(name string, shape []int, v []int8) (Tensor, error) {
	return fromWords(name, I8, shape, len(v), func(b []byte, i int) { b[0] = byte(v[i]) })
}

// FromUint8s returns a U8 tensor.
func FromUint8s(name string, shape []int, v []uint8) (Tensor, error) {
	return fromWords(name, U8, shape, len(v), func(b []byte, i int) { b[0] = v[i] })
}

// FromF8Bits returns a tensor of one of the 8-bit float dtypes (F8_E4M3,
// F8_E5M2, F8_E8M0) whose elements are the bit patterns v.
func FromF8Bits(name string, dtype DType, shape []int, v []uint8) (Tensor, error) {
	if !isF8(dtype) {
		return Tensor{}, fmt.Errorf("%w: tensor %q: FromF8Bits needs an F8 dtype, got %s", ErrInvalidTensor, name, dtype)
	}
	return fromWords(name, dtype, shape, len(v), func(b []byte, i int) { b[0] = v[i] })
}

// FromBools returns a BOOL tensor (bytes 0 and 1).
func FromBools(name string, shape []int, v []bool) (Tensor, error) {
	return fromWords(name, BOOL, shape, len(v), func(b []byte, i int) {
		if v[i] {
			b[0] = 1
		}
	})
}

func isF8(d DType) bool { return d == F8_E4M3 || d == F8_E5M2 || d == F8_E8M0 }

// Float32s decodes an F32 tensor, bits preserved.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.check(F32); err != nil {
		return nil, err
	}
	out := make([]float32, len(t.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Float64s decodes an F64 tensor, bits preserved.
func (t Tensor) Float64s() ([]float64, error) {
	if err := t.check(F64); err != nil {
		return nil, err
	}
	out := make([]float64, len(t.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int64s decodes an I64 tensor.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.check(I64); err != nil {
		return nil, err
	}
	out := make([]int64, len(t.Data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Uint64s decodes a U64 tensor.
func (t Tensor) Uint64s() ([]uint64, error) {
	if err := t.check(U64); err != nil {
		return nil, err
	}
	out := make([]uint64, len(t.Data)/8)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(t.Data[8*i:])
	}
	return out, nil
}

// Int32s decodes an I32 tensor.
func (t Tensor) Int32s() ([]int32, error) {
	if err := t.check(I32); err != nil {
		return nil, err
	}
	out := make([]int32, len(t.Data)/4)
	for i := range out {
		out[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out, nil
}

// Uint32s decodes a U32 tensor.
func (t Tensor) Uint32s() ([]uint32, error) {
	if err := t.check(U32); err != nil {
		return nil, err
	}
	out := make([]uint32, len(t.Data)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(t.Data[4*i:])
	}
	return out, nil
}

// Int16s decodes an I16 tensor.
func (t Tensor) Int16s() ([]int16, error) {
	if err := t.check(I16); err != nil {
		return nil, err
	}
	out := make([]int16, len(t.Data)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(t.Data[2*i:]))
	}
	return out, nil
}

// Uint16s returns the 16-bit words of a U16, BF16 or F16 tensor: the values of
// a U16 tensor, the bit patterns of the two float types.
func (t Tensor) Uint16s() ([]uint16, error) {
	if err := t.check(U16, BF16, F16); err != nil {
		return nil, err
	}
	out := make([]uint16, len(t.Data)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(t.Data[2*i:])
	}
	return out, nil
}

// Int8s decodes an I8 tensor.
func (t Tensor) Int8s() ([]int8, error) {
	if err := t.check(I8); err != nil {
		return nil, err
	}
	out := make([]int8, len(t.Data))
	for i, b := range t.Data {
		out[i] = int8(b)
	}
	return out, nil
}

// Uint8s returns a copy of the bytes of a U8 tensor or of an F8 tensor
// (F8_E4M3, F8_E5M2, F8_E8M0: the bit patterns).
func (t Tensor) Uint8s() ([]uint8, error) {
	if err := t.check(U8, F8_E4M3, F8_E5M2, F8_E8M0); err != nil {
		return nil, err
	}
	return slices.Clone(t.Data), nil
}

// Bools decodes a BOOL tensor; a byte other than 0 or 1 is an error, as it
// would be undefined behaviour for the frameworks that wrote it.
func (t Tensor) Bools() ([]bool, error) {
	if err := t.check(BOOL); err != nil {
		return nil, err
	}
	out := make([]bool, len(t.Data))
	for i, b := range t.Data {
		if b > 1 {
			return nil, fmt.Errorf("%w: tensor %q: BOOL element %d is byte %#02x", ErrInvalidTensor, t.Name, i, b)
		}
		out[i] = b == 1
	}
	return out, nil
}
