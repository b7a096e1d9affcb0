package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/fp4indexer/fp4indexer/internal/boundedio"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDims is the largest number of dimensions accepted (NumPy 2's limit); it
// keeps a header of a few bytes per dimension from costing eight per dimension.
const MaxDims = 64

// metadataKey is the reserved header key holding the string-to-string metadata.
const metadataKey = "__metadata__"

// File is a decoded safetensors file.
type File struct {
	// Tensors in buffer order (for files written by this package or the
	// reference library, also header order).
	Tensors []Tensor
	// Metadata is the header's "__metadata__" map; nil when absent.
	Metadata map[string]string
}

// Get returns the tensor called name.
func (f *File) Get(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Names returns the tensor names in the order of f.Tensors.
func (f *File) Names() []string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	return names
}

// Decode parses a whole file held in data. The tensors' Data slices alias data
// (capacity-limited, so appending to one cannot overwrite another).
func Decode(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, the header length alone takes 8", ErrTruncated, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrHeaderTooLarge, n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("%w: header length %d, but only %d bytes follow it", ErrTruncated, n, len(data)-8)
	}
	h, err := parseHeader(data[8 : 8+n])
	if err != nil {
		return nil, err
	}
	return h.build(data[8+n:])
}

// ReadFile reads and decodes the file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read decodes a file from r, which must end where the file does: bytes after
// the buffer the offsets describe are an error. Nothing is allocated from a
// length in the input before the bytes it promises have arrived, beyond
// MaxHeaderSize for the header.
func Read(r io.Reader) (*File, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, readErr(err, "header length")
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrHeaderTooLarge, n, MaxHeaderSize)
	}
	headerBytes, err := boundedio.ReadUpTo(r, int(n))
	if err != nil {
		return nil, err
	}
	if uint64(len(headerBytes)) < n {
		return nil, fmt.Errorf("%w: header length %d, but the input ends after %d header bytes", ErrTruncated, n, len(headerBytes))
	}
	h, err := parseHeader(headerBytes)
	if err != nil {
		return nil, err
	}
	_, total, err := h.tile()
	if err != nil {
		return nil, err
	}
	buf, err := boundedio.ReadUpTo(r, total)
	if err != nil {
		return nil, err
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k > 0 {
		return nil, fmt.Errorf("%w: the input continues after the %d-byte buffer the offsets cover", ErrInvalidOffsets, total)
	}
	return h.build(buf)
}

func readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: input ends inside the %s", ErrTruncated, what)
	}
	return err
}

// entry is one tensor's header record.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end uint64
}

type header struct {
	entries  []entry // header order
	metadata map[string]string
}

// tile checks that the entries' offsets tile [0, total) exactly and returns the
// entry indices in buffer order and total.
func (h *header) tile() (order []int, total int, err error) {
	order = make([]int, len(h.entries))
	for i := range order {
		order[i] = i
	}
	// Stable, so zero-size tensors sharing an offset keep header order.
	slices.SortStableFunc(order, func(a, b int) int {
		ea, eb := &h.entries[a], &h.entries[b]
		return cmp.Or(cmp.Compare(ea.begin, eb.begin), cmp.Compare(ea.end, eb.end))
	})
	var pos uint64
	for k, i := range order {
		e := &h.entries[i]
		switch {
		case e.begin < pos:
			prev := h.entries[order[k-1]].name
			return nil, 0, fmt.Errorf("%w: tensor %q [%d, %d) overlaps tensor %q ending at %d", ErrInvalidOffsets, e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return nil, 0, fmt.Errorf("%w: gap: no tensor covers bytes [%d, %d) (next is %q at %d)", ErrInvalidOffsets, pos, e.begin, e.name, e.begin)
		}
		pos = e.end
	}
	return order, int(pos), nil
}

// build checks the layout against buf and returns the tensors as views of buf.
func (h *header) build(buf []byte) (*File, error) {
	order, total, err := h.tile()
	if err != nil {
		return nil, err
	}
	if total > len(buf) {
		return nil, fmt.Errorf("%w: the offsets cover %d bytes, the buffer holds %d", ErrTruncated, total, len(buf))
	}
	if total < len(buf) {
		return nil, fmt.Errorf("%w: %d trailing buffer bytes after offset %d belong to no tensor", ErrInvalidOffsets, len(buf)-total, total)
	}
	f := &File{Tensors: make([]Tensor, len(order)), Metadata: h.metadata}
	for k, i := range order {
		e := &h.entries[i]
		b, end := int(e.begin), int(e.end)
		f.Tensors[k] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: buf[b:end:end]}
	}
	return f, nil
}

// parseHeader parses the JSON header. It walks tokens rather than unmarshalling
// into maps because encoding/json silently keeps the last of duplicate keys,
// matches struct fields case-insensitively and replaces invalid UTF-8, all of
// which would let a malformed header through.
func parseHeader(raw []byte) (*header, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidHeader)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "header"); err != nil {
		return nil, err
	}
	h := &header{}
	names := make(map[string]bool)
	sawMetadata := false
	for dec.More() {
		key, err := stringToken(dec, "header key")
		if err != nil {
			return nil, err
		}
		if key == metadataKey {
			if sawMetadata {
				return nil, fmt.Errorf("%w: %q appears twice", ErrInvalidHeader, metadataKey)
			}
			sawMetadata = true
			if h.metadata, err = parseMetadata(dec); err != nil {
				return nil, err
			}
			continue
		}
		if names[key] {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateName, key)
		}
		names[key] = true
		e, err := parseEntry(dec, key)
		if err != nil {
			return nil, err
		}
		h.entries = append(h.entries, e)
	}
	if err := expectDelim(dec, '}', "header"); err != nil {
		return nil, err
	}
	// Only whitespace (the writer's space padding) may follow the object.
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fmt.Errorf("%w: after the header object: %v", ErrInvalidHeader, err)
		}
		return nil, fmt.Errorf("%w: %v after the header object", ErrInvalidHeader, tok)
	}
	return h, nil
}

func expectDelim(dec *json.Decoder, want json.Delim, where string) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidHeader, where, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: %s: want %q, got %v", ErrInvalidHeader, where, want, tok)
	}
	return nil
}

func stringToken(dec *json.Decoder, where string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalidHeader, where, err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: want a string, got %v", ErrInvalidHeader, where, tok)
	}
	return s, nil
}

// parseMetadata reads the "__metadata__" value: null or an object of strings.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidHeader, metadataKey, err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: %s must be an object of strings, got %v", ErrInvalidHeader, metadataKey, tok)
	}
	m := make(map[string]string)
	for dec.More() {
		k, err := stringToken(dec, metadataKey+" key")
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: %s key %q appears twice", ErrInvalidHeader, metadataKey, k)
		}
		v, err := stringToken(dec, fmt.Sprintf("%s value of %q", metadataKey, k))
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	if err := expectDelim(dec, '}', metadataKey); err != nil {
		return nil, err
	}
	return m, nil
}

// parseEntry reads {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for
// tensor name and checks it on its own (dtype known, shape valid, e − b equal to
// the shape's byte size); the layout across tensors is checked by tile.
func parseEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	where := fmt.Sprintf("tensor %q", name)
	if err := expectDelim(dec, '{', where); err != nil {
		return e, err
	}
	var haveDType, haveShape, haveOffsets bool
	for dec.More() {
		key, err := stringToken(dec, where+" key")
		if err != nil {
			return e, err
		}
		switch key {
		case "dtype":
			if haveDType {
				return e, fmt.Errorf("%w: %s: dtype appears twice", ErrInvalidHeader, where)
			}
			haveDType = true
			s, err := stringToken(dec, where+" dtype")
			if err != nil {
				return e, err
			}
			if e.dtype = DType(s); !e.dtype.Valid() {
				return e, fmt.Errorf("%w: %s has dtype %q", ErrUnknownDType, where, s)
			}
		case "shape":
			if haveShape {
				return e, fmt.Errorf("%w: %s: shape appears twice", ErrInvalidHeader, where)
			}
			haveShape = true
			if e.shape, err = parseShape(dec, where); err != nil {
				return e, err
			}
		case "data_offsets":
			if haveOffsets {
				return e, fmt.Errorf("%w: %s: data_offsets appears twice", ErrInvalidHeader, where)
			}
			haveOffsets = true
			if e.begin, e.end, err = parseOffsets(dec, where); err != nil {
				return e, err
			}
		default:
			return e, fmt.Errorf("%w: %s: unknown field %q", ErrInvalidHeader, where, key)
		}
	}
	if err := expectDelim(dec, '}', where); err != nil {
		return e, err
	}
	if !haveDType || !haveShape || !haveOffsets {
		return e, fmt.Errorf("%w: %s needs dtype, shape and data_offsets", ErrInvalidHeader, where)
	}
	size, err := byteSize(name, e.dtype, e.shape)
	if err != nil {
		return e, err
	}
	if e.begin > e.end {
		return e, fmt.Errorf("%w: %s: begin %d > end %d", ErrInvalidOffsets, where, e.begin, e.end)
	}
	if e.end-e.begin != uint64(size) {
		return e, fmt.Errorf("%w: %s: data_offsets [%d, %d] span %d bytes, %s%v needs %d", ErrInvalidOffsets, where, e.begin, e.end, e.end-e.begin, e.dtype, e.shape, size)
	}
	return e, nil
}

// nonNegativeInteger parses a JSON number that must be a plain non-negative
// integer no larger than math.MaxInt64.
func nonNegativeInteger(n json.Number) (uint64, bool) {
	s := string(n)
	if strings.ContainsAny(s, "-.eE") {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, false
	}
	return v, true
}

func parseShape(dec *json.Decoder, where string) ([]int, error) {
	if err := expectDelim(dec, '[', where+" shape"); err != nil {
		return nil, err
	}
	shape := []int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %s shape: %v", ErrInvalidHeader, where, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: %s shape: dimension %v is not a number", ErrInvalidShape, where, tok)
		}
		d, ok := nonNegativeInteger(num)
		if !ok {
			return nil, fmt.Errorf("%w: %s shape: dimension %s is not a non-negative integer", ErrInvalidShape, where, num)
		}
		if len(shape) == MaxDims {
			return nil, fmt.Errorf("%w: %s shape: more than %d dimensions", ErrInvalidShape, where, MaxDims)
		}
		shape = append(shape, int(d))
	}
	if err := expectDelim(dec, ']', where+" shape"); err != nil {
		return nil, err
	}
	return shape, nil
}

func parseOffsets(dec *json.Decoder, where string) (begin, end uint64, err error) {
	if err := expectDelim(dec, '[', where+" data_offsets"); err != nil {
		return 0, 0, err
	}
	var v []uint64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %s data_offsets: %v", ErrInvalidHeader, where, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return 0, 0, fmt.Errorf("%w: %s data_offsets: %v is not a number", ErrInvalidOffsets, where, tok)
		}
		x, ok := nonNegativeInteger(num)
		if !ok {
			return 0, 0, fmt.Errorf("%w: %s data_offsets: %s is not a non-negative integer", ErrInvalidOffsets, where, num)
		}
		if len(v) == 2 {
			return 0, 0, fmt.Errorf("%w: %s data_offsets: more than two numbers", ErrInvalidOffsets, where)
		}
		v = append(v, x)
	}
	if err := expectDelim(dec, ']', where+" data_offsets"); err != nil {
		return 0, 0, err
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("%w: %s data_offsets: want [begin, end], got %d numbers", ErrInvalidOffsets, where, len(v))
	}
	return v[0], v[1], nil
}
