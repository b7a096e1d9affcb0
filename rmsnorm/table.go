package rmsnorm

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// Device rsqrt table: the measured difference between the GPU's rsqrtf
// (MUFU.RSQ) and CorrectlyRounded, stored as a file the GPU work produces and
// this package will embed once it exists.
//
// File format (exactly TableBytes = 4 MiB, no header):
//
//   - One entry per (exponent parity, mantissa) of a positive normal float32 x:
//     index(x) = (E & 1)<<23 | m, where E = bits(x)>>23 is the biased exponent
//     field and m = bits(x) & 0x7FFFFF the mantissa field. 2^24 entries.
//     (MUFU.RSQ's error pattern repeats with period 4 in x, i.e. depends only on
//     E's parity and m; the GPU work must confirm this over all normal inputs.)
//   - Entry value d = bits(rsqrtf(x)) − bits(CorrectlyRounded(x)) as a signed
//     integer: the device result in ulps from the correctly rounded one (the
//     results are positive normal floats, so consecutive bit patterns are
//     consecutive values). d ∈ {−2, −1, 0, +1}, stored as 2-bit two's
//     complement: 0b00 = 0, 0b01 = +1, 0b10 = −2, 0b11 = −1.
//   - Entry i is in byte i/4 at bits 2·(i%4) … 2·(i%4)+1 (first entry in the low
//     bits).
//
// Inputs outside the table (zero, subnormal, negative, Inf, NaN) use
// CorrectlyRounded: rows whose mean square is subnormal or zero cannot occur
// with eps = 1e-6 added, and the device's handling of such inputs is not measured.
const (
	TableEntries = 1 << 24
	TableBytes   = TableEntries / 4
)

// Table is a device rsqrt table; its Rsqrt applies the stored correction.
type Table struct {
	packed []byte // TableBytes
	// device marks a measured table whose specials (zeros, subnormals, Inf, NaN,
	// negatives) follow the measured device instead of CorrectlyRounded.
	device bool
}

// TableIndex returns the table entry of x and whether x is a positive normal
// float32 (the only inputs the table covers).
func TableIndex(x float32) (index uint32, ok bool) {
	b := math.Float32bits(x)
	exp := b >> 23 // sign bit included: negative x gives exp ≥ 256
	if exp == 0 || exp >= 0xFF {
		return 0, false
	}
	return (exp&1)<<23 | b&0x7FFFFF, true
}

// NewTable builds a table from one correction per entry (len TableEntries,
// each in [−2, 1]), e.g. from device measurements.
func NewTable(corrections []int8) (*Table, error) {
	if len(corrections) != TableEntries {
		return nil, fmt.Errorf("rmsnorm: len(corrections) = %d, want [%d]", len(corrections), TableEntries)
	}
	packed := make([]byte, TableBytes)
	for i, d := range corrections {
		if d < -2 || d > 1 {
			return nil, fmt.Errorf("rmsnorm: corrections[%d] = %d, want a value in [-2, 1]", i, d)
		}
		packed[i/4] |= byte(d&3) << (2 * (i % 4))
	}
	return &Table{packed: packed}, nil
}

// LoadTable reads a table file (exactly TableBytes bytes, format above).
func LoadTable(r io.Reader) (*Table, error) {
	packed := make([]byte, TableBytes)
	if n, err := io.ReadFull(r, packed); err != nil {
		return nil, fmt.Errorf("rmsnorm: table file has %d bytes, want %d: %w", n, TableBytes, err)
	}
	var extra [1]byte
	switch n, err := io.ReadFull(r, extra[:]); {
	case n > 0:
		return nil, fmt.Errorf("rmsnorm: table file is longer than %d bytes", TableBytes)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("rmsnorm: reading table file: %w", err)
	}
	return &Table{packed: packed}, nil
}

// WriteTo writes the table in the file format.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(t.packed)
	return int64(n), err
}

// Correction returns the stored ulp difference for x (0 outside the table).
func (t *Table) Correction(x float32) int {
	i, ok := TableIndex(x)
	if !ok {
		return 0
	}
	code := t.packed[i/4] >> (2 * (i % 4)) & 3
	return int(int8(code<<6) >> 6) // sign-extend the 2-bit field
}

// Rsqrt returns CorrectlyRounded(x) moved by the stored number of ulps for
// positive normal x. Elsewhere a measured device table (DeviceSM90) gives what
// the device gives, and any other table CorrectlyRounded(x).
func (t *Table) Rsqrt(x float32) float32 {
	if t.device {
		if r, ok := t.deviceSpecials(x); ok {
			return r
		}
	}
	r := CorrectlyRounded{}.Rsqrt(x)
	if d := t.Correction(x); d != 0 {
		r = math.Float32frombits(uint32(int32(math.Float32bits(r)) + int32(d)))
	}
	return r
}
