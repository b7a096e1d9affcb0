package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"github.com/fp4indexer/fp4indexer/internal/atomicfile"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// headerAlign is the reference writer's header padding: the buffer, and with
// the sort order every tensor in it, starts 8-byte aligned in the file.
const headerAlign = 8

// Encode returns the bytes Write would write.
func Encode(f *File) ([]byte, error) {
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write serializes f deterministically: the same tensors and metadata give the
// same bytes whatever the order of f.Tensors (see the package doc for the
// layout). It checks every tensor first and writes nothing if one is invalid.
func Write(w io.Writer, f *File) error {
	order, err := writeOrder(f)
	if err != nil {
		return err
	}
	header, err := encodeHeader(f, order)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, i := range order {
		if _, err := w.Write(f.Tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes f to path atomically: a temporary file in the same
// directory, fsync, rename over path, then a best-effort fsync of the
// directory. Readers see the old file or the complete new one, never a partial
// one. The file gets mode 0644.
func WriteFile(path string, f *File) error {
	// Validate before touching the file system.
	if _, err := writeOrder(f); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, f) })
}

// writeOrder validates the tensors and returns their indices in the reference
// writer's order: descending dtype rank, then name.
func writeOrder(f *File) ([]int, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil File", ErrInvalidTensor)
	}
	seen := make(map[string]bool, len(f.Tensors))
	for _, t := range f.Tensors {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if t.Name == metadataKey {
			return nil, fmt.Errorf("%w: %q is the reserved metadata key", ErrInvalidTensor, t.Name)
		}
		if !utf8.ValidString(t.Name) {
			return nil, fmt.Errorf("%w: tensor name %q is not valid UTF-8", ErrInvalidTensor, t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateName, t.Name)
		}
		seen[t.Name] = true
	}
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("%w: metadata %q: %q is not valid UTF-8", ErrInvalidTensor, k, v)
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := &f.Tensors[a], &f.Tensors[b]
		return cmp.Or(cmp.Compare(tb.DType.rank(), ta.DType.rank()), cmp.Compare(ta.Name, tb.Name))
	})
	return order, nil
}

// encodeHeader builds the JSON header the way serde_json prints the reference
// writer's: no whitespace, "__metadata__" first, then the tensors in order,
// padded with spaces to a multiple of headerAlign.
func encodeHeader(f *File, order []int) ([]byte, error) {
	var b []byte
	b = append(b, '{')
	if len(f.Metadata) > 0 {
		b = appendJSONString(b, metadataKey)
		b = append(b, ':', '{')
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, f.Metadata[k])
		}
		b = append(b, '}')
	}
	var offset uint64
	for k, i := range order {
		t := &f.Tensors[i]
		if k > 0 || len(f.Metadata) > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendJSONString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendUint(b, offset, 10)
		offset += uint64(len(t.Data))
		b = append(b, ',')
		b = strconv.AppendUint(b, offset, 10)
		b = append(b, ']', '}')
	}
	b = append(b, '}')
	for len(b)%headerAlign != 0 {
		b = append(b, ' ')
	}
	if len(b) > MaxHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrHeaderTooLarge, len(b), MaxHeaderSize)
	}
	return b, nil
}

// appendJSONString quotes s as serde_json does: `"` and `\` escaped, the
// control characters \b \f \n \r \t by their short forms and the others as
// \u00xx (lowercase hex), everything else (DEL, non-ASCII) as raw UTF-8.
// encoding/json differs (it also escapes <, >, &, U+2028 and U+2029), which
// would change the bytes without changing the meaning.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}
