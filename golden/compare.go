package golden

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/fp8"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
	"github.com/fp4indexer/fp4indexer/pagedcache"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// Kind says how Compare decodes a tensor's bytes to explain a difference.
type Kind uint8

const (
	KindBytes     Kind = iota // raw bytes
	KindFP4                   // packed E2M1 rows of 64 bytes (x_fp4, q_fp4, FP4 q)
	KindScaleWord             // int32 of 4 UE8M0 bytes, byte g = group g (x_sf, q_sf)
	KindFP4Cache              // paged FP4 cache [pages, P·68]
	KindFP8Cache              // paged FP8 cache [pages, P·132]
	KindE4M3                  // F8_E4M3 elements
	KindF32                   // fp32 values
	KindInt                   // integers
)

func (k Kind) String() string {
	switch k {
	case KindFP4:
		return "fp4 payload"
	case KindScaleWord:
		return "ue8m0 scale words"
	case KindFP4Cache:
		return "fp4 paged cache"
	case KindFP8Cache:
		return "fp8 paged cache"
	case KindE4M3:
		return "e4m3"
	case KindF32:
		return "f32"
	case KindInt:
		return "integers"
	}
	return "bytes"
}

// Class sorts differences for the summary.
type Class uint8

const (
	ClassPayload Class = iota // an element code or value of a quantized payload
	ClassScale                // a UE8M0 scale byte or an FP8 row scale
	ClassNaN                  // either side is NaN (a float, an E4M3 NaN, scale byte 0xFF)
	ClassValue                // any other value (fp32 outputs, integers, bytes)
	numClasses
)

func (c Class) String() string {
	return [...]string{"payload", "scale", "NaN", "value"}[c]
}

// KindOf guesses how to decode a tensor from its name (SPEC §8) and dtype.
func KindOf(t st.Tensor) Kind {
	last := 0
	if len(t.Shape) > 0 {
		last = t.Shape[len(t.Shape)-1]
	}
	switch {
	case (t.Name == tXFP4 || t.Name == tQFP4 || t.Name == tQ) && (t.DType == st.I8 || t.DType == st.U8) && last == 64:
		return KindFP4
	case (t.Name == tXSF || t.Name == tQSF) && (t.DType == st.I32 || t.DType == st.U32):
		return KindScaleWord
	case (t.Name == tCache || t.Name == tKVCache || t.Name == tKVCacheDG) && t.DType == st.U8 && len(t.Shape) >= 2:
		width := 1
		for _, d := range t.Shape[1:] {
			width *= d
		}
		if p := width / pagedcache.BytesPerTokenFP4; p*pagedcache.BytesPerTokenFP4 == width && isPow2(p) {
			return KindFP4Cache
		}
		if p := width / pagedcache.BytesPerTokenFP8; p*pagedcache.BytesPerTokenFP8 == width && isPow2(p) {
			return KindFP8Cache
		}
	case t.DType == st.F8_E4M3 || t.Name == tQFP8 && t.DType == st.U8:
		return KindE4M3
	case t.DType == st.F32:
		return KindF32
	case t.DType == st.I8 || t.DType == st.U8 || t.DType == st.I16 || t.DType == st.U16 ||
		t.DType == st.I32 || t.DType == st.U32 || t.DType == st.I64 || t.DType == st.U64:
		return KindInt
	}
	return KindBytes
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

// scaleCompanion names the scale-word tensor that goes with a payload tensor.
func scaleCompanion(name string) string {
	switch name {
	case tXFP4:
		return tXSF
	case tQFP4:
		return tQSF
	case tQ:
		return tQSF
	}
	return ""
}

// CompareOptions tunes Compare.
type CompareOptions struct {
	// Kind overrides KindOf.
	Kind *Kind
	// ExpectedScales and ActualScales are the scale words of a KindFP4 tensor's
	// rows ([rows] int32), shown beside a payload difference when given.
	ExpectedScales, ActualScales []uint32
	// MaxReport bounds the differences listed (0 means 20); all are counted.
	MaxReport int
}

// Mismatch is one listed difference.
type Mismatch struct {
	Class Class
	Text  string // where it is and what both sides decode to
}

// Report is the outcome of comparing one tensor.
type Report struct {
	Name     string
	Kind     Kind
	Units    int    // elements (or bytes) compared
	Unit     string // what a unit is
	Problem  string // shape or dtype problem that stopped the comparison
	Note     string // e.g. dtypes that differ but were compared as bytes
	Counts   [numClasses]int
	Total    int // units that differ
	Rows     int // rows (or cache tokens) with at least one difference
	Listed   []Mismatch
	maxList  int
	rowsSeen map[int]struct{}
}

// OK reports whether the tensors are identical.
func (r *Report) OK() bool { return r.Problem == "" && r.Total == 0 }

func (r *Report) add(row int, c Class, text string) {
	r.Total++
	r.Counts[c]++
	if _, ok := r.rowsSeen[row]; !ok {
		r.rowsSeen[row] = struct{}{}
		r.Rows++
	}
	if len(r.Listed) < r.maxList {
		r.Listed = append(r.Listed, Mismatch{c, text})
	}
}

// Write prints the report: a verdict line, the first differences, and the count
// per class.
func (r *Report) Write(w io.Writer) {
	if r.Problem != "" {
		fmt.Fprintf(w, "%s: MISMATCH: %s\n", r.Name, r.Problem)
		return
	}
	if r.Note != "" {
		fmt.Fprintf(w, "%s: note: %s\n", r.Name, r.Note)
	}
	if r.Total == 0 {
		fmt.Fprintf(w, "%s: ok (%d %s identical, %s)\n", r.Name, r.Units, r.Unit, r.Kind)
		return
	}
	fmt.Fprintf(w, "%s: MISMATCH: %d of %d %s differ in %d rows (%s)\n", r.Name, r.Total, r.Units, r.Unit, r.Rows, r.Kind)
	for _, m := range r.Listed {
		fmt.Fprintf(w, "  [%s] %s\n", m.Class, m.Text)
	}
	if r.Total > len(r.Listed) {
		fmt.Fprintf(w, "  … %d more\n", r.Total-len(r.Listed))
	}
	var parts []string
	for c := Class(0); c < numClasses; c++ {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.Counts[c]))
	}
	fmt.Fprintf(w, "  by class: %s\n", strings.Join(parts, ", "))
}

// Compare compares two tensors byte for byte and, where they differ, explains
// each difference in the tensor's own terms: for FP4 payloads the row, byte,
// nibble (low = even element, high = odd), both E2M1 codes and values and the
// row's scale bytes; for scale words the group bytes; for caches the page, slot,
// loc and region; for floats the bits and values.
func Compare(expected, actual st.Tensor, o CompareOptions) *Report {
	r := &Report{Name: expected.Name, maxList: o.MaxReport, rowsSeen: map[int]struct{}{}}
	if r.maxList <= 0 {
		r.maxList = 20
	}
	if actual.Name != "" && actual.Name != expected.Name {
		r.Name = expected.Name + " vs " + actual.Name
	}
	r.Kind = KindOf(expected)
	if o.Kind != nil {
		r.Kind = *o.Kind
	}
	if !slices.Equal(expected.Shape, actual.Shape) {
		r.Problem = fmt.Sprintf("shape %v expected, %v actual", expected.Shape, actual.Shape)
		return r
	}
	es, err1 := expected.DType.Size()
	as, err2 := actual.DType.Size()
	switch {
	case err1 != nil || err2 != nil:
		r.Problem = fmt.Sprintf("dtype %s expected, %s actual", expected.DType, actual.DType)
		return r
	case es != as:
		r.Problem = fmt.Sprintf("dtype %s expected, %s actual (element sizes differ)", expected.DType, actual.DType)
		return r
	case expected.DType != actual.DType:
		r.Note = fmt.Sprintf("dtype %s expected, %s actual: same size, compared as %s bit patterns", expected.DType, actual.DType, expected.DType)
	}
	if len(expected.Data) != len(actual.Data) {
		r.Problem = fmt.Sprintf("%d bytes expected, %d actual", len(expected.Data), len(actual.Data))
		return r
	}
	e, a := expected.Data, actual.Data
	switch r.Kind {
	case KindFP4:
		compareFP4(r, expected.Shape, e, a, o)
	case KindScaleWord:
		compareScaleWords(r, expected.Shape, e, a)
	case KindFP4Cache, KindFP8Cache:
		compareCache(r, expected.Shape, e, a, r.Kind == KindFP8Cache)
	case KindE4M3:
		compareE4M3(r, expected.Shape, e, a)
	case KindF32:
		compareF32(r, expected.Shape, e, a)
	case KindInt:
		compareInts(r, expected.Shape, e, a, es, expected.DType)
	default:
		r.Unit = "bytes"
		r.Units = len(e)
		for i := range e {
			if e[i] != a[i] {
				r.add(i, ClassValue, fmt.Sprintf("byte %d: expected 0x%02X, actual 0x%02X", i, e[i], a[i]))
			}
		}
	}
	return r
}

// index spells the multi-dimensional index of flat element i of shape.
func index(shape []int, i int) string {
	if len(shape) <= 1 {
		return strconv.Itoa(i)
	}
	idx := make([]string, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		n := shape[d]
		if n == 0 {
			return strconv.Itoa(i)
		}
		idx[d] = strconv.Itoa(i % n)
		i /= n
	}
	return strings.Join(idx, ",")
}

// rowIndex spells a row's multi-dimensional index, " [b,h]", when the rows
// have more than one dimension.
func rowIndex(shape []int, row int) string {
	if len(shape) <= 1 {
		return ""
	}
	return " [" + index(shape, row) + "]"
}

func fmtF32(f float32) string {
	switch {
	case math.IsNaN(float64(f)):
		return "NaN"
	case math.IsInf(float64(f), 1):
		return "+Inf"
	case math.IsInf(float64(f), -1):
		return "-Inf"
	case f == 0 && math.Signbit(float64(f)):
		return "-0"
	}
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

func fmtCode(n byte) string {
	c := e2m1.Frombits(n)
	v := c.Float32()
	s := fmtF32(v)
	if !math.Signbit(float64(v)) {
		s = "+" + s
	}
	return fmt.Sprintf("0x%X (%s)", n, s)
}

// scaleBytes formats a row's 4 scale bytes.
func scaleBytes(word uint32) string {
	parts := make([]string, 4)
	for g := range 4 {
		parts[g] = ue8m0.Frombits(byte(word >> (8 * g))).String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func compareFP4(r *Report, shape []int, e, a []byte, o CompareOptions) {
	r.Unit = "nibbles"
	r.Units = 2 * len(e)
	rowBytes := 64
	rowShape := shape[:len(shape)-1]
	for i := range e {
		if e[i] == a[i] {
			continue
		}
		row, b := i/rowBytes, i%rowBytes
		for half := 0; half < 2; half++ {
			en, an := (e[i]>>(4*half))&0xF, (a[i]>>(4*half))&0xF
			if en == an {
				continue
			}
			elem := 2*b + half
			g := elem / 32
			class := ClassPayload
			nib := "low"
			if half == 1 {
				nib = "high"
			}
			text := fmt.Sprintf("row %d%s, byte %d, %s nibble (element %d, group %d): expected %s, actual %s",
				row, rowIndex(rowShape, row), b, nib, elem, g, fmtCode(en), fmtCode(an))
			if row < len(o.ExpectedScales) && row < len(o.ActualScales) {
				ew, aw := o.ExpectedScales[row], o.ActualScales[row]
				text += fmt.Sprintf("; scale bytes expected %s, actual %s", scaleBytes(ew), scaleBytes(aw))
				if byte(ew>>(8*g)) == 0xFF || byte(aw>>(8*g)) == 0xFF {
					class = ClassNaN
				}
			}
			r.add(row, class, text)
		}
	}
}

func compareScaleWords(r *Report, shape []int, e, a []byte) {
	r.Unit = "scale bytes"
	r.Units = len(e)
	for i := 0; i+4 <= len(e); i += 4 {
		row := i / 4
		for g := range 4 {
			eb, ab := e[i+g], a[i+g]
			if eb == ab {
				continue
			}
			class := ClassScale
			if eb == 0xFF || ab == 0xFF {
				class = ClassNaN
			}
			r.add(row, class, fmt.Sprintf("row %d%s, group %d (byte %d of the word): expected %s, actual %s; words expected 0x%08X, actual 0x%08X",
				row, rowIndex(shape, row), g, g, ue8m0.Frombits(eb), ue8m0.Frombits(ab),
				binary.LittleEndian.Uint32(e[i:]), binary.LittleEndian.Uint32(a[i:])))
		}
	}
}

func compareCache(r *Report, shape []int, e, a []byte, fp8Cache bool) {
	width := len(e)
	if shape[0] > 0 {
		width = len(e) / shape[0]
	}
	l, _ := pagedcache.FP4(width / pagedcache.BytesPerTokenFP4)
	if fp8Cache {
		l, _ = pagedcache.FP8(width / pagedcache.BytesPerTokenFP8)
	}
	P, pb, sb := l.PageSize, l.PayloadBytes, l.ScaleBytes
	r.Unit = "bytes"
	r.Units = len(e)
	tokenScale := func(buf []byte, page, slot int) []byte {
		s := page*width + P*pb + slot*sb
		return buf[s : s+sb]
	}
	for i := range e {
		if e[i] == a[i] {
			continue
		}
		page, off := i/width, i%width
		var slot int
		var text string
		class := ClassPayload
		if off < P*pb {
			slot = off / pb
			b := off % pb
			es, as := tokenScale(e, page, slot), tokenScale(a, page, slot)
			where := fmt.Sprintf("page %d, slot %d (loc %d), payload byte %d", page, slot, page*P+slot, b)
			if fp8Cache {
				ev, av := fp8.Frombits(e[i]), fp8.Frombits(a[i])
				if ev.IsNaN() || av.IsNaN() {
					class = ClassNaN
				}
				text = fmt.Sprintf("%s (element %d): expected 0x%02X (%s), actual 0x%02X (%s); row scale expected %s, actual %s",
					where, b, e[i], fmtF32(ev.Float32()), a[i], fmtF32(av.Float32()),
					fmtF32(math.Float32frombits(binary.LittleEndian.Uint32(es))), fmtF32(math.Float32frombits(binary.LittleEndian.Uint32(as))))
				r.add(page*P+slot, class, text)
				continue
			}
			ew, aw := binary.LittleEndian.Uint32(es), binary.LittleEndian.Uint32(as)
			for half := 0; half < 2; half++ {
				en, an := (e[i]>>(4*half))&0xF, (a[i]>>(4*half))&0xF
				if en == an {
					continue
				}
				elem := 2*b + half
				g := elem / 32
				nib := "low"
				if half == 1 {
					nib = "high"
				}
				class := ClassPayload
				if byte(ew>>(8*g)) == 0xFF || byte(aw>>(8*g)) == 0xFF {
					class = ClassNaN
				}
				r.add(page*P+slot, class, fmt.Sprintf("%s, %s nibble (element %d, group %d): expected %s, actual %s; scale bytes expected %s, actual %s",
					where, nib, elem, g, fmtCode(en), fmtCode(an), scaleBytes(ew), scaleBytes(aw)))
			}
			continue
		}
		so := off - P*pb
		slot = so / sb
		b := so % sb
		where := fmt.Sprintf("page %d, slot %d (loc %d), scale byte %d", page, slot, page*P+slot, b)
		if fp8Cache {
			s := page*width + P*pb + slot*sb
			ev := math.Float32frombits(binary.LittleEndian.Uint32(e[s:]))
			av := math.Float32frombits(binary.LittleEndian.Uint32(a[s:]))
			if math.IsNaN(float64(ev)) || math.IsNaN(float64(av)) {
				class = ClassNaN
			} else {
				class = ClassScale
			}
			text = fmt.Sprintf("%s: expected 0x%02X, actual 0x%02X; fp32 row scale expected %s (0x%08X), actual %s (0x%08X)",
				where, e[i], a[i], fmtF32(ev), math.Float32bits(ev), fmtF32(av), math.Float32bits(av))
		} else {
			class = ClassScale
			if e[i] == 0xFF || a[i] == 0xFF {
				class = ClassNaN
			}
			text = fmt.Sprintf("%s (group %d): expected %s, actual %s", where, b, ue8m0.Frombits(e[i]), ue8m0.Frombits(a[i]))
		}
		r.add(page*P+slot, class, text)
	}
}

func compareE4M3(r *Report, shape []int, e, a []byte) {
	r.Unit = "elements"
	r.Units = len(e)
	last := 1
	if len(shape) > 0 && shape[len(shape)-1] > 0 {
		last = shape[len(shape)-1]
	}
	for i := range e {
		if e[i] == a[i] {
			continue
		}
		ev, av := fp8.Frombits(e[i]), fp8.Frombits(a[i])
		class := ClassPayload
		if ev.IsNaN() || av.IsNaN() {
			class = ClassNaN
		}
		r.add(i/last, class, fmt.Sprintf("[%s]: expected 0x%02X (%s), actual 0x%02X (%s)",
			index(shape, i), e[i], fmtF32(ev.Float32()), a[i], fmtF32(av.Float32())))
	}
}

func compareF32(r *Report, shape []int, e, a []byte) {
	r.Unit = "elements"
	r.Units = len(e) / 4
	last := 1
	if len(shape) > 0 && shape[len(shape)-1] > 0 {
		last = shape[len(shape)-1]
	}
	for i := 0; i+4 <= len(e); i += 4 {
		eb, ab := binary.LittleEndian.Uint32(e[i:]), binary.LittleEndian.Uint32(a[i:])
		if eb == ab {
			continue
		}
		ev, av := math.Float32frombits(eb), math.Float32frombits(ab)
		class := ClassValue
		if math.IsNaN(float64(ev)) || math.IsNaN(float64(av)) {
			class = ClassNaN
		}
		text := fmt.Sprintf("[%s]: expected %s (0x%08X), actual %s (0x%08X)",
			index(shape, i/4), fmtF32(ev), eb, fmtF32(av), ab)
		if class == ClassValue && isFinite32(ev) && isFinite32(av) {
			text += fmt.Sprintf(", %d ulp", ulpDistance(eb, ab))
		}
		r.add(i/4/last, class, text)
	}
}

// ulpDistance counts the fp32 values between two finite floats' bit patterns.
func ulpDistance(a, b uint32) uint64 {
	ord := func(u uint32) int64 {
		if u&0x80000000 != 0 {
			return -int64(u & 0x7FFFFFFF)
		}
		return int64(u)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return uint64(d)
}

func compareInts(r *Report, shape []int, e, a []byte, size int, dt st.DType) {
	r.Unit = "elements"
	r.Units = len(e) / size
	signed := dt == st.I8 || dt == st.I16 || dt == st.I32 || dt == st.I64
	read := func(b []byte) string {
		var u uint64
		for k := size - 1; k >= 0; k-- {
			u = u<<8 | uint64(b[k])
		}
		if signed {
			shift := 64 - 8*size
			return strconv.FormatInt(int64(u<<shift)>>shift, 10)
		}
		return strconv.FormatUint(u, 10)
	}
	last := 1
	if len(shape) > 0 && shape[len(shape)-1] > 0 {
		last = shape[len(shape)-1]
	}
	for i := 0; i+size <= len(e); i += size {
		if string(e[i:i+size]) == string(a[i:i+size]) {
			continue
		}
		r.add(i/size/last, ClassValue, fmt.Sprintf("[%s]: expected %s, actual %s", index(shape, i/size), read(e[i:i+size]), read(a[i:i+size])))
	}
}

// CompareFiles compares every tensor of expected with the tensor of the same
// name in actual, in expected's order; FP4 payload rows get their scale words
// from the x_sf / q_sf tensor of the same file. A tensor missing from actual is
// a problem; tensors only in actual are ignored.
func CompareFiles(expected, actual *st.File, maxReport int) []*Report {
	var out []*Report
	for _, et := range expected.Tensors {
		at, ok := actual.Get(et.Name)
		if !ok {
			out = append(out, &Report{Name: et.Name, Kind: KindOf(et), Problem: "missing from the actual file"})
			continue
		}
		o := CompareOptions{MaxReport: maxReport}
		if KindOf(et) == KindFP4 {
			o.ExpectedScales = scaleWords(expected, scaleCompanion(et.Name))
			o.ActualScales = scaleWords(actual, scaleCompanion(et.Name))
		}
		out = append(out, Compare(et, at, o))
	}
	return out
}

// ScaleWords returns the scale words of the FP4 payload tensor called payload
// (x_sf for x_fp4, q_sf for q_fp4 and q) from f, nil when f has none.
func ScaleWords(f *st.File, payload string) []uint32 {
	return scaleWords(f, scaleCompanion(payload))
}

// scaleWords reads a scale-word tensor as uint32s, nil when absent or malformed.
func scaleWords(f *st.File, name string) []uint32 {
	t, ok := f.Get(name)
	if !ok || len(t.Data)%4 != 0 || (t.DType != st.I32 && t.DType != st.U32) {
		return nil
	}
	w := make([]uint32, len(t.Data)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(t.Data[4*i:])
	}
	return w
}

// BoundReport is the outcome of a tolerance comparison of logits, the way
// DeepGEMM's tests compare them (SPEC §6): tensor-core accumulation order is
// unspecified, so a GPU's logits are held to a bound, not to bytes.
type BoundReport struct {
	Name string
	// Valid counts entries finite in expected (j < context_lens; the −Inf
	// entries past a row's context are not compared: DeepGEMM leaves them
	// unwritten unless clean_logits is set).
	Valid int
	// NonFinite counts valid entries where actual is NaN or ±Inf.
	NonFinite int
	// CalcDiff is DeepGEMM's calc_diff, 1 − 2Σxy / Σ(x² + y²) in float64 over the
	// valid entries (0 when both sides are all zero).
	CalcDiff float64
	// MaxAbs is the largest |expected − actual| over valid entries, at Worst.
	MaxAbs float64
	Worst  string
	// Threshold is the pass bound on CalcDiff.
	Threshold float64
	Problem   string
}

// OK reports whether the actual logits are within the bound.
func (b BoundReport) OK() bool {
	return b.Problem == "" && b.NonFinite == 0 && b.CalcDiff < b.Threshold
}

// DefaultBound is DeepGEMM's threshold for paged MQA logits against a reference
// computed from the dequantized inputs (SPEC §6: calc_diff < 5e-6), which is
// what the model's expected logits are.
const DefaultBound = 5e-6

// Bound compares two F32 tensors with DeepGEMM's calc_diff.
func Bound(expected, actual st.Tensor, threshold float64) BoundReport {
	b := BoundReport{Name: expected.Name, Threshold: threshold}
	if !slices.Equal(expected.Shape, actual.Shape) {
		b.Problem = fmt.Sprintf("shape %v expected, %v actual", expected.Shape, actual.Shape)
		return b
	}
	e, err := expected.Float32s()
	if err != nil {
		b.Problem = fmt.Sprintf("expected: %v", err)
		return b
	}
	a, err := actual.Float32s()
	if err != nil {
		b.Problem = fmt.Sprintf("actual: %v", err)
		return b
	}
	var sxy, sxx float64
	for i, x := range e {
		if !isFinite32(x) {
			continue
		}
		b.Valid++
		y := a[i]
		if !isFinite32(y) {
			b.NonFinite++
			if b.Worst == "" || !math.IsInf(b.MaxAbs, 1) {
				b.MaxAbs = math.Inf(1)
				b.Worst = fmt.Sprintf("[%s]: expected %s, actual %s", index(expected.Shape, i), fmtF32(x), fmtF32(y))
			}
			continue
		}
		xf, yf := float64(x), float64(y)
		sxy += xf * yf
		sxx += xf*xf + yf*yf
		if d := math.Abs(xf - yf); d > b.MaxAbs && !math.IsInf(b.MaxAbs, 1) {
			b.MaxAbs = d
			b.Worst = fmt.Sprintf("[%s]: expected %s, actual %s", index(expected.Shape, i), fmtF32(x), fmtF32(y))
		}
	}
	if sxx > 0 {
		b.CalcDiff = 1 - 2*sxy/sxx
	}
	return b
}

// Write prints the bound verdict.
func (b BoundReport) Write(w io.Writer) {
	if b.Problem != "" {
		fmt.Fprintf(w, "%s: MISMATCH: %s\n", b.Name, b.Problem)
		return
	}
	verdict := "ok"
	if !b.OK() {
		verdict = "MISMATCH"
	}
	fmt.Fprintf(w, "%s: %s: calc_diff %.3g (bound %.3g) over %d valid entries; max |error| %.6g", b.Name, verdict, b.CalcDiff, b.Threshold, b.Valid, b.MaxAbs)
	if b.Worst != "" {
		fmt.Fprintf(w, " at %s", b.Worst)
	}
	fmt.Fprintln(w)
	if b.NonFinite > 0 {
		fmt.Fprintf(w, "  %d valid entries are NaN or ±Inf in actual\n", b.NonFinite)
	}
}
