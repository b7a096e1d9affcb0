package cuda

import (
	"errors"
	"fmt"
	"math"
)

// Rsqrt evaluates the device rsqrtf (compiled exactly as the K kernels call it) and
// the correctly rounded 1/sqrt on the GPU, for arbitrary inputs.
func (d *Device) Rsqrt(x []float32) (device, correct []float32, err error) {
	device, correct = make([]float32, len(x)), make([]float32, len(x))
	if len(x) == 0 {
		return device, correct, nil
	}
	r, done, err := d.begin()
	if err != nil {
		return nil, nil, err
	}
	defer done()
	dx := input(r, x)
	dd, dc := r.output(uint64(len(x)*4), poison), r.output(uint64(len(x)*4), poison)
	r.launch("rsqrt_probe", uint32(ceilDiv(len(x), 256)), 256, dx, int64(len(x)), dd, dc)
	fetch(r, device, dd)
	fetch(r, correct, dc)
	return device, correct, r.err
}

// RsqrtTableEntries is the size of the rsqrt error table: exponent parity x 2^23
// fractions.
const RsqrtTableEntries = 1 << 24

// RsqrtIndex is the table index of a positive finite float32 with bits b: the parity
// of its biased exponent in bit 23 and its 23 fraction bits below. A subnormal is
// normalised first (leading 1 shifted to bit 23; its exponent 1 - shift, possibly
// negative, taken mod 2).
func RsqrtIndex(b uint32) uint32 {
	ef := b >> 23
	if ef != 0 {
		return (ef&1)<<23 | b&0x7fffff
	}
	s := uint32(0)
	for b<<s&0x800000 == 0 {
		s++
	}
	e := 1 - int32(s)
	return uint32(e&1)<<23 | (b<<s)&0x7fffff
}

// RsqrtExponent holds the sweep's counters for one biased exponent field.
type RsqrtExponent struct {
	Field      int            `json:"field"`
	Inputs     uint64         `json:"inputs"`
	Errors     map[int]uint64 `json:"errors"`           // ulp error -> count (|err| > 8 folded into ±9)
	Mismatches uint64         `json:"table_mismatches"` // error differs from the base table entry
	Quad       uint64         `json:"quad_violations"`  // rsqrtf(4x) != rsqrtf(x)/2 (fields <= 252)
	Fixups     uint64         `json:"reference_fixups"` // double-rounding fixes in the reference
}

// RsqrtSpecial is one probe of a special input.
type RsqrtSpecial struct {
	Input   uint32 `json:"input"`
	Device  uint32 `json:"device"`
	Correct uint32 `json:"correct"`
}

// RsqrtReport is what the exhaustive characterisation found.
type RsqrtReport struct {
	Inputs          uint64          `json:"inputs"` // positive finite float32 swept
	Errors          map[int]uint64  `json:"errors"` // over all of them
	MinErr, MaxErr  int             `json:"-"`
	ErrRange        [2]int          `json:"err_range"`        // min, max ulp error
	TableMismatches uint64          `json:"table_mismatches"` // over all positive finite inputs
	NormalMismatch  uint64          `json:"normal_table_mismatches"`
	SubnormalMism   uint64          `json:"subnormal_table_mismatches"`
	QuadViolations  uint64          `json:"quad_violations"`
	Fixups          uint64          `json:"reference_fixups"`
	BaseFixups      uint64          `json:"base_reference_fixups"`
	FirstMismatches [][3]int64      `json:"first_mismatches"` // (bits, err, table err)
	Exponents       []RsqrtExponent `json:"exponents"`
	Specials        []RsqrtSpecial  `json:"specials"`
}

const (
	rsqBins     = 16
	rsqLow      = 16
	rsqHigh     = 17
	rsqMismatch = 18
	rsqQuad     = 19
	rsqFixup    = 20
	rsqCount    = 21
	rsqCols     = 22
	rsqLog      = 256
)

// CharacteriseRsqrt measures rsqrtf over every positive finite float32 (2^31 - 2^23
// inputs) against the correctly rounded value. It returns the error table of the two
// base binades [0.5, 2) (RsqrtTableEntries signed ulp errors, indexed by RsqrtIndex)
// and a report that says, exponent by exponent, whether that table predicts the
// error everywhere else (subnormals normalised) and whether rsqrtf(4x) = rsqrtf(x)/2.
func (d *Device) CharacteriseRsqrt() (table []int8, rep RsqrtReport, err error) {
	table = make([]int8, RsqrtTableEntries)
	r, done, err := d.begin()
	if err != nil {
		return nil, rep, err
	}
	defer done()
	dt := r.output(RsqrtTableEntries, 0x7f)
	dfix := r.output(8, 0)
	r.launch("rsqrt_base", RsqrtTableEntries/256, 256, dt, dfix)
	fetch(r, table, dt)
	baseFix := make([]uint64, 1)
	fetch(r, baseFix, dfix)
	dstats := r.output(255*rsqCols*8, 0)
	dlogn := r.output(4, 0)
	dlog := r.output(rsqLog*3*4, 0)
	const end = 0x7f800000
	const chunk = 1 << 28
	blocks := uint32(d.info.SMs * 16)
	if blocks == 0 {
		blocks = 1024
	}
	for start := uint32(0); start < end; start += chunk {
		count := uint32(chunk)
		if end-start < count {
			count = end - start
		}
		r.launch("rsqrt_sweep", blocks, 256, dt, start, count, dstats, dlogn, dlog)
	}
	stats := make([]uint64, 255*rsqCols)
	fetch(r, stats, dstats)
	logn := make([]uint32, 1)
	fetch(r, logn, dlogn)
	logs := make([]int32, rsqLog*3)
	fetch(r, logs, dlog)
	if r.err != nil {
		return nil, rep, r.err
	}
	for i, v := range table {
		if v == 0x7f {
			return nil, rep, fmt.Errorf("cuda: rsqrt_base left entry %d unwritten", i)
		}
	}
	rep.BaseFixups = baseFix[0]
	rep.Errors = map[int]uint64{}
	rep.MinErr, rep.MaxErr = math.MaxInt, math.MinInt
	for f := 0; f < 255; f++ {
		row := stats[f*rsqCols : (f+1)*rsqCols]
		e := RsqrtExponent{Field: f, Errors: map[int]uint64{}, Inputs: row[rsqCount], Mismatches: row[rsqMismatch], Quad: row[rsqQuad], Fixups: row[rsqFixup]}
		for k := 0; k < rsqBins; k++ {
			if row[k] != 0 {
				e.Errors[k-8] = row[k]
			}
		}
		if row[rsqLow] != 0 {
			e.Errors[-9] = row[rsqLow]
		}
		if row[rsqHigh] != 0 {
			e.Errors[9] = row[rsqHigh]
		}
		for k, v := range e.Errors {
			rep.Errors[k] += v
			rep.MinErr, rep.MaxErr = min(rep.MinErr, k), max(rep.MaxErr, k)
		}
		rep.Inputs += e.Inputs
		rep.TableMismatches += e.Mismatches
		if f == 0 {
			rep.SubnormalMism += e.Mismatches
		} else {
			rep.NormalMismatch += e.Mismatches
		}
		rep.QuadViolations += e.Quad
		rep.Fixups += e.Fixups
		rep.Exponents = append(rep.Exponents, e)
	}
	rep.ErrRange = [2]int{rep.MinErr, rep.MaxErr}
	for i := 0; i < int(min(logn[0], rsqLog)); i++ {
		rep.FirstMismatches = append(rep.FirstMismatches, [3]int64{int64(uint32(logs[3*i])), int64(logs[3*i+1]), int64(logs[3*i+2])})
	}
	return table, rep, nil
}

// RsqrtSpecials probes rsqrtf on zeros, infinities, NaN, negative values, the
// subnormal and normal extremes, and powers of two.
func (d *Device) RsqrtSpecials() ([]RsqrtSpecial, error) {
	in := []uint32{0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000, 0xffc00000,
		0xbf800000, 0x80000001, 0x00000001, 0x00000002, 0x00000003, 0x00400000, 0x007fffff, 0x00800000,
		0x00800001, 0x3f000000, 0x3f800000, 0x40000000, 0x40800000, 0x43000000, 0x7e800000, 0x7f000000,
		0x7f7fffff, 0x358637bd}
	x := make([]float32, len(in))
	for i, b := range in {
		x[i] = math.Float32frombits(b)
	}
	dev, cr, err := d.Rsqrt(x)
	if err != nil {
		return nil, err
	}
	out := make([]RsqrtSpecial, len(in))
	for i := range in {
		out[i] = RsqrtSpecial{Input: in[i], Device: math.Float32bits(dev[i]), Correct: math.Float32bits(cr[i])}
	}
	return out, nil
}

// PackRsqrtTable packs signed ulp errors in -2..+1 in the rmsnorm table format:
// 2-bit two's complement (0b00 = 0, 0b01 = +1, 0b10 = -2, 0b11 = -1), entry i at
// bits 2*(i%4) of byte i/4 (least significant first).
func PackRsqrtTable(errs []int8) ([]byte, error) {
	if len(errs)%4 != 0 {
		return nil, errors.New("cuda: PackRsqrtTable: length is not a multiple of 4")
	}
	out := make([]byte, len(errs)/4)
	for i, e := range errs {
		if e < -2 || e > 1 {
			return nil, fmt.Errorf("cuda: PackRsqrtTable: entry %d has error %d, outside -2..+1", i, e)
		}
		out[i/4] |= byte(e&3) << (2 * (i % 4))
	}
	return out, nil
}

// UnpackRsqrtTable is PackRsqrtTable's inverse.
func UnpackRsqrtTable(packed []byte) []int8 {
	out := make([]int8, len(packed)*4)
	for i := range out {
		out[i] = int8(packed[i/4]>>(2*(i%4))<<6) >> 6
	}
	return out
}
