package safetensors

import "fmt"

// DType is an element type as spelled in a safetensors header.
type DType string

// The dtypes this package reads and writes. The constants spell the header
// strings exactly (hence F8_E4M3 rather than F8E4M3), so a DType converts to and
// from the file without a table.
const (
	BOOL    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	I16     DType = "I16"
	U16     DType = "U16"
	I32     DType = "I32"
	U32     DType = "U32"
	I64     DType = "I64"
	U64     DType = "U64"
	F16     DType = "F16"
	BF16    DType = "BF16"
	F32     DType = "F32"
	F64     DType = "F64"
	F8_E4M3 DType = "F8_E4M3" // OCP E4M3 "fn" (torch.float8_e4m3fn)
	F8_E5M2 DType = "F8_E5M2" // OCP E5M2 (torch.float8_e5m2)
	F8_E8M0 DType = "F8_E8M0" // UE8M0 scale bytes (torch.float8_e8m0fnu)
)

// DTypes lists every supported dtype in the reference library's enum order
// (ascending alignment), the order Write uses, reversed, to lay out the buffer.
func DTypes() []DType {
	return []DType{BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64}
}

// rank is the position of d in the reference library's Dtype enum (safetensors
// crate, tensor.rs), restricted to the dtypes supported here. Its serializer
// sorts tensors by descending enum position, then by name; matching it makes our
// buffer layout the one Python's safetensors writes and keeps every tensor
// aligned to its element size. Returns -1 for unsupported dtypes.
func (d DType) rank() int {
	switch d {
	case BOOL:
		return 0
	case U8:
		return 1
	case I8:
		return 2
	case F8_E5M2:
		return 3
	case F8_E4M3:
		return 4
	case F8_E8M0:
		return 5
	case I16:
		return 6
	case U16:
		return 7
	case F16:
		return 8
	case BF16:
		return 9
	case I32:
		return 10
	case U32:
		return 11
	case F32:
		return 12
	case F64:
		return 13
	case I64:
		return 14
	case U64:
		return 15
	}
	return -1
}

// Size returns the element size in bytes, or an error wrapping ErrUnknownDType.
func (d DType) Size() (int, error) {
	switch d {
	case BOOL, U8, I8, F8_E4M3, F8_E5M2, F8_E8M0:
		return 1, nil
	case I16, U16, F16, BF16:
		return 2, nil
	case I32, U32, F32:
		return 4, nil
	case I64, U64, F64:
		return 8, nil
	}
	return 0, fmt.Errorf("%w %q", ErrUnknownDType, string(d))
}

// Valid reports whether d is one of the supported dtypes.
func (d DType) Valid() bool { return d.rank() >= 0 }

// ParseDType returns the DType spelled s (case-sensitive, as in the header).
func ParseDType(s string) (DType, error) {
	d := DType(s)
	if !d.Valid() {
		return "", fmt.Errorf("%w %q", ErrUnknownDType, s)
	}
	return d, nil
}
