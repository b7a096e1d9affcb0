package ue8m0

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

// Block geometry (SPEC §1, §2).
const (
	GroupSize  = 32            // values sharing one scale byte
	GroupBytes = GroupSize / 2 // packed E2M1 bytes per group
	RowSize    = 128           // values per indexer row (head_dim)
	RowGroups  = RowSize / GroupSize
	RowBytes   = RowSize / 2
)

// Quantizer turns float32 values into packed E2M1 codes and UE8M0 scales.
// The zero value is the PR's fused CUDA kernels: CUDA scale, threshold codes.
type Quantizer struct {
	Scale   Variant
	Element e2m1.Encoder
}

// String formats q as "<variant>/<element encoder>", e.g. "cuda/threshold".
func (q Quantizer) String() string { return q.Scale.String() + "/" + q.Element.String() }

// Validate reports whether both fields hold known values.
func (q Quantizer) Validate() error {
	if err := q.Scale.Validate(); err != nil {
		return err
	}
	return q.Element.Validate()
}

// Group quantizes one group of GroupSize values into GroupBytes bytes (even
// element in the low nibble) and returns its scale.
func (q Quantizer) Group(dst []byte, x []float32) (Scale, error) {
	if err := q.check("Group", dst, x, GroupSize); err != nil {
		return 0, err
	}
	return q.group(dst, x), nil
}

// GroupForced encodes one group of GroupSize values under the given scale
// byte, through the variant's own element arithmetic (ScaleElement), ends
// included. It is how a sweep forces scale bytes that FromAmax never yields.
func (q Quantizer) GroupForced(dst []byte, x []float32, s Scale) error {
	if err := q.check("GroupForced", dst, x, GroupSize); err != nil {
		return err
	}
	xa := (*[GroupSize]float32)(x)
	q.encode((*[GroupBytes]byte)(dst), xa, s, amaxBits32(xa) > infBits)
	return nil
}

// Row quantizes one indexer row of RowSize values into RowBytes bytes and the
// row's scale word, byte g = scale of group g (little-endian e0 | e1<<8 |
// e2<<16 | e3<<24, SPEC §3).
func (q Quantizer) Row(dst []byte, x []float32) (sf uint32, err error) {
	if err := q.check("Row", dst, x, RowSize); err != nil {
		return 0, err
	}
	return q.row((*[RowBytes]byte)(dst), (*[RowSize]float32)(x)), nil
}

// row quantizes one validated row: group maxima in one pass, then per group
// the scale and, inline for the common case, the element kernel.
func (q Quantizer) row(dst *[RowBytes]byte, x *[RowSize]float32) (sf uint32) {
	amax := amaxRow(x)
	for g := range RowGroups {
		xg := (*[GroupSize]float32)(x[g*GroupSize:])
		dg := (*[GroupBytes]byte)(dst[g*GroupBytes:])
		s, hasNaN := q.scale(xg, amax[g])
		sf |= uint32(s) << (8 * g)
		f, ok := q.Scale.multiplier(s)
		switch { // the same choice as encode makes
		case ok && !hasNaN && q.Element.Mode == e2m1.RNE:
			packGroupRNE(dg, xg, f, &fast.rne)
		case ok && !hasNaN:
			packGroupThreshold(dg, xg, f, &fast.threshold)
		default:
			q.encode(dg, xg, s, hasNaN)
		}
	}
	return sf
}

// RowScales quantizes any whole number of groups: len(x) a multiple of
// GroupSize, len(dst) = len(x)/2, len(scales) = len(x)/GroupSize.
func (q Quantizer) RowScales(dst []byte, scales []Scale, x []float32) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if len(x)%GroupSize != 0 {
		return fmt.Errorf("ue8m0: RowScales: len(x) = %d is not a multiple of %d", len(x), GroupSize)
	}
	n := len(x) / GroupSize
	if len(dst) != n*GroupBytes || len(scales) != n {
		return fmt.Errorf("ue8m0: RowScales: len(dst) = %d, len(scales) = %d, want %d and %d",
			len(dst), len(scales), n*GroupBytes, n)
	}
	for g := range n {
		scales[g] = q.group(dst[g*GroupBytes:(g+1)*GroupBytes], x[g*GroupSize:(g+1)*GroupSize])
	}
	return nil
}

// Rows quantizes len(x)/RowSize rows: row r's bytes go to
// dst[r·RowBytes:(r+1)·RowBytes] and its scale word to sf[r].
func (q Quantizer) Rows(dst []byte, sf []uint32, x []float32) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if len(x)%RowSize != 0 {
		return fmt.Errorf("ue8m0: Rows: len(x) = %d is not a multiple of %d", len(x), RowSize)
	}
	n := len(x) / RowSize
	if len(dst) != n*RowBytes || len(sf) != n {
		return fmt.Errorf("ue8m0: Rows: len(dst) = %d, len(sf) = %d, want %d and %d",
			len(dst), len(sf), n*RowBytes, n)
	}
	for r := range n {
		sf[r] = q.row((*[RowBytes]byte)(dst[r*RowBytes:]), (*[RowSize]float32)(x[r*RowSize:]))
	}
	return nil
}

func (q Quantizer) check(op string, dst []byte, x []float32, n int) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if len(x) != n || len(dst) != n/2 {
		return fmt.Errorf("ue8m0: %s: len(x) = %d, len(dst) = %d, want %d and %d", op, len(x), len(dst), n, n/2)
	}
	return nil
}

// group quantizes one validated group: scale from the variant's maximum, then
// the elements.
func (q Quantizer) group(dst []byte, x []float32) Scale {
	xa, da := (*[GroupSize]float32)(x), (*[GroupBytes]byte)(dst)
	s, hasNaN := q.scale(xa, amaxBits32(xa))
	q.encode(da, xa, s, hasNaN)
	return s
}

// scale returns the group's scale from amax, the NaN-propagating maximum of
// its magnitude bits, and whether the group holds a NaN.
func (q Quantizer) scale(x *[GroupSize]float32, amax uint32) (Scale, bool) {
	hasNaN := amax > infBits
	if hasNaN && (q.Scale == CUDA || q.Scale == Triton) {
		amax = amaxBitsIgnoreNaN(x[:])
	}
	switch q.Scale {
	case CUDA:
		return cudaFromAmax(math.Float32frombits(amax)), hasNaN
	case Triton:
		return tritonFromAmax(math.Float32frombits(amax)), hasNaN
	}
	return q.Scale.FromAmax(math.Float32frombits(amax)), hasNaN
}

// encode writes the codes of x under scale s. A NaN-free group under a scale
// with an exact multiplier takes the table kernel of fast.go; everything else
// (NaN elements, the literal ends) goes through e2m1's general encoder.
func (q Quantizer) encode(dst *[GroupBytes]byte, x *[GroupSize]float32, s Scale, hasNaN bool) {
	f, ok := q.Scale.multiplier(s)
	switch {
	case ok && !hasNaN && q.Element.Mode == e2m1.RNE:
		packGroupRNE(dst, x, f, &fast.rne)
	case ok && !hasNaN:
		packGroupThreshold(dst, x, f, &fast.threshold)
	case ok:
		_ = q.Element.PackScaled(dst[:], x[:], f) // q is validated and the lengths match
	default:
		for i := range dst {
			lo := q.Element.Encode(q.Scale.ScaleElement(x[2*i], s))
			hi := q.Element.Encode(q.Scale.ScaleElement(x[2*i+1], s))
			dst[i] = byte(lo) | byte(hi)<<4
		}
	}
}

// amaxRow returns amaxBits32 of each group of a row.
func amaxRow(x *[RowSize]float32) (m [RowGroups]uint32) {
	for g := range RowGroups {
		xg := (*[GroupSize]float32)(x[g*GroupSize:])
		var m0, m1, m2, m3 uint32
		for i := 0; i < GroupSize; i += 4 {
			m0 = max(m0, math.Float32bits(xg[i])&absMask)
			m1 = max(m1, math.Float32bits(xg[i+1])&absMask)
			m2 = max(m2, math.Float32bits(xg[i+2])&absMask)
			m3 = max(m3, math.Float32bits(xg[i+3])&absMask)
		}
		m[g] = max(m0, m1, m2, m3)
	}
	return m
}

// amaxBits32 is the NaN-propagating maximum of the magnitude bits of a group.
func amaxBits32(x *[GroupSize]float32) uint32 {
	var m0, m1, m2, m3 uint32
	for i := 0; i < GroupSize; i += 4 {
		m0 = max(m0, math.Float32bits(x[i])&absMask)
		m1 = max(m1, math.Float32bits(x[i+1])&absMask)
		m2 = max(m2, math.Float32bits(x[i+2])&absMask)
		m3 = max(m3, math.Float32bits(x[i+3])&absMask)
	}
	return max(m0, m1, m2, m3)
}

// Dequantize writes the value of every packed code times its group's scale:
// dst[i] = code.Float32() · scales[i/GroupSize], each product rounded to
// float32 (exact, except that 6·2^127 overflows to Inf; a NaN scale gives NaN).
// len(dst) = 2·len(src) = GroupSize·len(scales).
func Dequantize(dst []float32, src []byte, scales []Scale) error {
	if len(dst) != 2*len(src) || len(dst) != GroupSize*len(scales) {
		return fmt.Errorf("ue8m0: Dequantize: len(dst) = %d, len(src) = %d, len(scales) = %d, want 2·len(src) = %d·len(scales)",
			len(dst), len(src), len(scales), GroupSize)
	}
	for i, b := range src {
		f := scales[i/GroupBytes].Float32()
		dst[2*i] = float32(e2m1.Code(b&0xF).Float32() * f)
		dst[2*i+1] = float32(e2m1.Code(b>>4).Float32() * f)
	}
	return nil
}
