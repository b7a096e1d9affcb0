// Package npy writes and reads NumPy .npy files (format version 1.0) holding
// little-endian, C-order arrays: the export format of the golden cases (SPEC
// §8), for tools that load arrays with numpy.load rather than safetensors.
//
// Layout: the magic "\x93NUMPY", version bytes 1 and 0, a little-endian uint16
// header length, the header (an ASCII Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }), then the raw
// array bytes. Write reproduces numpy.save (NumPy ≥ 1.24, format.py) byte for
// byte: keys sorted, Python repr spacing, 21 − len(repr(shape[0])) spaces of
// growth room after the dict (none for a 0-d array), then spaces and a final
// '\n' so the data starts at a multiple of 64 bytes, and when the header already
// ends on that boundary NumPy adds a full 64 bytes of padding, as Write does.
// The tests pin the bytes against output spelled out from numpy.save.
//
// NumPy has no bfloat16, float8 or float4 dtypes: such tensors are written as
// their raw bits ('<u2' for BF16, '|u1' for the 8-bit types and packed FP4
// bytes), and the caller records the logical dtype beside the file (DescrFor
// reports when this happens). Only the descriptors in Descrs are accepted, in
// NumPy's canonical spelling ('|' for one-byte types, '<' otherwise).
//
// Read accepts version 1.0, 2.0 and 3.0 files and treats its input as hostile:
// the header is bounded by MaxHeaderSize, parsed by a strict literal parser
// (exactly the keys descr, fortran_order and shape, no duplicates), the data
// size is computed with overflow checks and must match the rest of the input
// exactly, and buffers grow only as bytes arrive. Fortran-order arrays are
// rejected rather than transposed.
//
// Errors wrap one of the Err* sentinels.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/fp4indexer/fp4indexer/internal/atomicfile"
	"github.com/fp4indexer/fp4indexer/internal/boundedio"
	"io"
	"math"
	"os"
	"slices"
	"strconv"

	"github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// Magic opens every .npy file.
const Magic = "\x93NUMPY"

// MaxHeaderSize bounds the header Read accepts. Version 1.0 cannot exceed
// 65535 bytes; the bound also caps the 4-byte lengths of versions 2.0 and 3.0,
// whose headers only outgrow it with structured dtypes, which are unsupported.
const MaxHeaderSize = 1 << 16

// arrayAlign and growthDigits are format.py's ARRAY_ALIGN and
// GROWTH_AXIS_MAX_DIGITS.
const (
	arrayAlign   = 64
	growthDigits = 21
	// prefixLen is the magic, the two version bytes and the v1.0 uint16 length.
	prefixLen = len(Magic) + 2 + 2
)

// Error classes.
var (
	// ErrTruncated: the input ends inside the prefix, the header or the data.
	ErrTruncated = errors.New("npy: truncated input")
	// ErrInvalidHeader: bad magic, or a header that is not the expected dict.
	ErrInvalidHeader = errors.New("npy: invalid header")
	// ErrHeaderTooLarge: a header length beyond MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("npy: header too large")
	// ErrUnsupported: a format version, dtype descriptor or Fortran order this
	// package does not handle.
	ErrUnsupported = errors.New("npy: unsupported")
	// ErrInvalidShape: a negative dimension or an overflowing size.
	ErrInvalidShape = errors.New("npy: invalid shape")
	// ErrSizeMismatch: the data length does not match shape and descr.
	ErrSizeMismatch = errors.New("npy: data size does not match shape")
)

// itemSizes maps every supported descriptor to its element size.
var itemSizes = map[string]int{
	"|b1": 1, "|i1": 1, "|u1": 1,
	"<i2": 2, "<u2": 2, "<f2": 2,
	"<i4": 4, "<u4": 4, "<f4": 4,
	"<i8": 8, "<u8": 8, "<f8": 8,
}

// Descrs returns the supported dtype descriptors, sorted.
func Descrs() []string {
	out := make([]string, 0, len(itemSizes))
	for d := range itemSizes {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// ItemSize returns the element size of descr, or an error wrapping
// ErrUnsupported.
func ItemSize(descr string) (int, error) {
	size, ok := itemSizes[descr]
	if !ok {
		return 0, fmt.Errorf("%w: dtype descriptor %q", ErrUnsupported, descr)
	}
	return size, nil
}

// DescrFor returns the descriptor to store a safetensors dtype under. bitView
// is true when NumPy has no such dtype and the file holds the raw bits (BF16 as
// '<u2'; F8_E4M3, F8_E5M2, F8_E8M0 as '|u1'), so the caller must record the
// logical dtype elsewhere.
func DescrFor(d safetensors.DType) (descr string, bitView bool, err error) {
	switch d {
	case safetensors.BOOL:
		return "|b1", false, nil
	case safetensors.U8:
		return "|u1", false, nil
	case safetensors.I8:
		return "|i1", false, nil
	case safetensors.I16:
		return "<i2", false, nil
	case safetensors.U16:
		return "<u2", false, nil
	case safetensors.I32:
		return "<i4", false, nil
	case safetensors.U32:
		return "<u4", false, nil
	case safetensors.I64:
		return "<i8", false, nil
	case safetensors.U64:
		return "<u8", false, nil
	case safetensors.F16:
		return "<f2", false, nil
	case safetensors.F32:
		return "<f4", false, nil
	case safetensors.F64:
		return "<f8", false, nil
	case safetensors.BF16:
		return "<u2", true, nil
	case safetensors.F8_E4M3, safetensors.F8_E5M2, safetensors.F8_E8M0:
		return "|u1", true, nil
	}
	return "", false, fmt.Errorf("%w: no .npy descriptor for dtype %q", ErrUnsupported, string(d))
}

// dataSize returns the byte size of an array of shape and element size, with
// overflow and sign checks.
func dataSize(shape []int, itemSize int) (int, error) {
	if len(shape) > MaxDims {
		return 0, fmt.Errorf("%w: %d dimensions (limit %d)", ErrInvalidShape, len(shape), MaxDims)
	}
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrInvalidShape, shape)
		}
	}
	if slices.Contains(shape, 0) {
		return 0, nil
	}
	n := itemSize
	for _, d := range shape {
		if n > math.MaxInt/d {
			return 0, fmt.Errorf("%w: byte size of shape %v overflows", ErrInvalidShape, shape)
		}
		n *= d
	}
	return n, nil
}

// Header returns the prefix numpy.save writes before the data: magic, version
// 1.0, length and the padded header dict.
func Header(descr string, shape []int) ([]byte, error) {
	if _, err := ItemSize(descr); err != nil {
		return nil, err
	}
	if _, err := dataSize(shape, 1); err != nil {
		return nil, err
	}
	dict := []byte("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			dict = append(dict, ", "...)
		}
		dict = strconv.AppendInt(dict, int64(d), 10)
	}
	if len(shape) == 1 {
		dict = append(dict, ',') // Python's one-tuple: (5,)
	}
	dict = append(dict, "), }"...)
	if len(shape) > 0 {
		// Room for the first axis to grow in place (numpy.lib.format's
		// GROWTH_AXIS_MAX_DIGITS); a 0-d array gets none.
		pad := growthDigits - len(strconv.Itoa(shape[0]))
		dict = append(dict, bytes.Repeat([]byte{' '}, max(pad, 0))...)
	}
	hlen := len(dict) + 1 // the final '\n'
	// As in format.py: the padding is always 1..64 spaces, never 0.
	padlen := arrayAlign - (prefixLen+hlen)%arrayAlign
	total := hlen + padlen
	if total > math.MaxUint16 {
		return nil, fmt.Errorf("%w: header of %d bytes does not fit version 1.0", ErrUnsupported, total)
	}
	out := make([]byte, 0, prefixLen+total)
	out = append(out, Magic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(total))
	out = append(out, dict...)
	out = append(out, bytes.Repeat([]byte{' '}, padlen)...)
	return append(out, '\n'), nil
}

// Write writes a version 1.0 file holding data (little-endian, C order, of the
// given descriptor and shape), exactly as numpy.save would.
func Write(w io.Writer, descr string, shape []int, data []byte) error {
	header, err := Header(descr, shape)
	if err != nil {
		return err
	}
	size, _ := ItemSize(descr)
	want, _ := dataSize(shape, size)
	if len(data) != want {
		return fmt.Errorf("%w: %s%v needs %d bytes, got %d", ErrSizeMismatch, descr, shape, want, len(data))
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// WriteFile writes the file atomically: a temporary file in the same
// directory, fsync, rename over path, then a best-effort fsync of the
// directory. The file gets mode 0644.
func WriteFile(path, descr string, shape []int, data []byte) error {
	// Validate before touching the file system.
	if err := Write(io.Discard, descr, shape, data); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, descr, shape, data) })
}

// Read reads a whole .npy file from r, which must end where the file does.
// The returned shape of a 0-d array is empty (one element).
func Read(r io.Reader) (descr string, shape []int, data []byte, err error) {
	var prefix [len(Magic) + 2]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return "", nil, nil, truncated(err, "magic and version")
	}
	if string(prefix[:len(Magic)]) != Magic {
		return "", nil, nil, fmt.Errorf("%w: bad magic %q", ErrInvalidHeader, prefix[:len(Magic)])
	}
	major, minor := prefix[len(Magic)], prefix[len(Magic)+1]
	var hlen uint64
	switch {
	case major == 1 && minor == 0:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", nil, nil, truncated(err, "header length")
		}
		hlen = uint64(binary.LittleEndian.Uint16(b[:]))
	case (major == 2 || major == 3) && minor == 0:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", nil, nil, truncated(err, "header length")
		}
		hlen = uint64(binary.LittleEndian.Uint32(b[:]))
	default:
		return "", nil, nil, fmt.Errorf("%w: format version %d.%d", ErrUnsupported, major, minor)
	}
	if hlen > MaxHeaderSize {
		return "", nil, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrHeaderTooLarge, hlen, MaxHeaderSize)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return "", nil, nil, truncated(err, "header")
	}
	descr, fortran, shape, err := parseHeader(header)
	if err != nil {
		return "", nil, nil, err
	}
	if fortran {
		return "", nil, nil, fmt.Errorf("%w: fortran_order arrays", ErrUnsupported)
	}
	size, err := ItemSize(descr)
	if err != nil {
		return "", nil, nil, err
	}
	want, err := dataSize(shape, size)
	if err != nil {
		return "", nil, nil, err
	}
	data, err = boundedio.ReadUpTo(r, want)
	if err != nil {
		return "", nil, nil, err
	}
	if len(data) < want {
		return "", nil, nil, fmt.Errorf("%w: %s%v needs %d data bytes, the input has %d", ErrTruncated, descr, shape, want, len(data))
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k > 0 {
		return "", nil, nil, fmt.Errorf("%w: the input continues after the %d data bytes of %s%v", ErrSizeMismatch, want, descr, shape)
	}
	return descr, shape, data, nil
}

// ReadFile reads the .npy file at path.
func ReadFile(path string) (descr string, shape []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, nil, err
	}
	defer f.Close()
	descr, shape, data, err = Read(f)
	if err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return descr, shape, data, nil
}

func truncated(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: input ends inside the %s", ErrTruncated, what)
	}
	return err
}
