package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fp4indexer/fp4indexer/bf16"
	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

const sweepUsage = `usage: fp4indexer sweep [-modes LIST] [-shard i/n] [-workers N] [-o FILE] TARGET
       fp4indexer sweep -diff A,B [-shard i/n] [-workers N] [-o FILE] TARGET

Exhaustive sweeps of the number formats against independent oracles, on all
cores. TARGET is one of:

  e2m1   all 2^32 float32 bit patterns through the E2M1 encoder (SPEC §2), each
         mode against e2m1.OracleEncode. Modes: threshold, rne (= rne/max),
         rne/signed-zero, rne/zero, or all. Default: threshold,rne.
  ue8m0  all 2^32 float32 bit patterns as a group maximum through the scale
         rule (SPEC §3), each variant against ue8m0.OracleFromAmax. Variants:
         cuda, triton, ocp-floor, rp, rz, or all. Default: all.
  quant  all 2^16 bf16 values x 2^8 forced scale bytes through the block
         quantizer (ue8m0.Quantizer.GroupForced; input bits = scale<<16 | bf16),
         each VARIANT/MODE (e.g. cuda/threshold, triton/rne/signed-zero) against
         the exact quotient x·2^(127−e) (each variant's literal arithmetic at
         the ends) fed to e2m1.OracleEncode; every value is encoded twice, in a
         NaN-free group (the packed kernel) and in a group holding NaNs (the
         general path). Default: all 20 combinations.

The summary counts inputs and disagreements by class (zero, subnormal, normal,
tie, saturation, inf, nan, and per target floor, pow2, negative, scale-end) and
prints the elapsed time; the exit status is 1 on any disagreement.

-shard i/n sweeps only the i-th (0-based) of n contiguous parts of the input
space, for batch schedulers (Kubernetes indexed jobs: JOB_COMPLETION_INDEX,
Slurm arrays: SLURM_ARRAY_TASK_ID). A progress bar goes to stderr when stderr
is a terminal.

-diff A,B compares two modes, variants or VARIANT/MODEs of TARGET with each
other (no oracle) and reports where they disagree as ranges of consecutive bit
patterns with one class and one pair of results, and a count per class. -o
FILE writes the report (sweep or diff) as deterministic JSON, a golden artifact.

`

func runSweep(args []string, stdout, stderr io.Writer) error {
	return sweepMain(args, stdout, stderr, sweepTargets())
}

// sweepMain is runSweep over a given set of targets (tests pass broken ones).
func sweepMain(args []string, stdout, stderr io.Writer, targets map[string]*sweepTarget) error {
	fs := newFlagSet("sweep", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), sweepUsage)
		fs.PrintDefaults()
	}
	modes := fs.String("modes", "", "comma-separated modes, variants or VARIANT/MODEs to sweep (default: see above)")
	shardFlag := fs.String("shard", "0/1", "sweep part i of n (0 ≤ i < n) of the input space")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines")
	diff := fs.String("diff", "", "A,B: report where two modes or variants disagree instead of checking the oracle")
	out := fs.String("o", "", "write the report as JSON to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one TARGET (e2m1, ue8m0 or quant), got %d arguments", fs.NArg())
	}
	tg, ok := targets[fs.Arg(0)]
	if !ok {
		return usagef("unknown target %q (want e2m1, ue8m0 or quant)", fs.Arg(0))
	}
	if *workers < 1 {
		return usagef("-workers %d: want at least 1", *workers)
	}
	sh, err := parseShard(*shardFlag, tg.space)
	if err != nil {
		return usagef("-shard %q: %v", *shardFlag, err)
	}
	if *diff != "" && *modes != "" {
		return usagef("-diff names its two modes itself; drop -modes")
	}
	var prog *progress
	if isTerminal(stderr) {
		prog = newProgress(stderr)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	if *diff != "" {
		names := strings.Split(*diff, ",")
		if len(names) != 2 {
			return usagef("-diff %q: want two names A,B", *diff)
		}
		a, err := tg.parse(names[0])
		if err != nil {
			return usagef("-diff: %v", err)
		}
		b, err := tg.parse(names[1])
		if err != nil {
			return usagef("-diff: %v", err)
		}
		start := time.Now()
		rep := runDiff(tg, a, b, sh, *workers, prog)
		printDiff(w, rep, time.Since(start))
		return writeReport(w, *out, rep)
	}
	list := *modes
	if list == "" {
		list = tg.defaults
	}
	var items []sweepItem
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		names := []string{n}
		if n == "all" {
			names = tg.all
		}
		for _, n := range names {
			it, err := tg.parse(n)
			if err != nil {
				return usagef("-modes: %v", err)
			}
			if !seen[it.name] {
				seen[it.name] = true
				items = append(items, it)
			}
		}
	}
	start := time.Now()
	rep := runCheck(tg, items, sh, *workers, prog)
	printCheck(w, rep, *workers, time.Since(start))
	if err := writeReport(w, *out, rep); err != nil {
		return err
	}
	if rep.Disagreements > 0 {
		return fmt.Errorf("%d disagreements with the oracle", rep.Disagreements)
	}
	return nil
}

// sweepItem is one model configuration: an E2M1 encoder, a scale variant, or
// both (a block quantizer).
type sweepItem struct {
	name    string
	enc     e2m1.Encoder
	variant ue8m0.Variant
}

// span is a run [lo, hi) of inputs of one class.
type span struct {
	lo, hi uint64
	class  int
}

// sweepTarget describes an input space, its classes, its models and their
// oracle.
type sweepTarget struct {
	name     string
	inputs   string // what one bit pattern of the space is
	oracle   string
	space    uint64
	classes  []string
	classify func(u uint64) int // index into classes
	breaks   []uint64           // every class boundary, or nil: classify each input
	defaults string
	all      []string
	parse    func(name string) (sweepItem, error)
	// check compares the model with the oracle on [lo, hi).
	check func(it sweepItem, lo, hi uint64) checkResult
	// eval writes the model's result for inputs lo, lo+1, … into out.
	eval  func(it sweepItem, lo uint64, out []uint32)
	value func(r uint32) string
}

type mismatch struct {
	bits uint64
	text string
}

type checkResult struct {
	checked, bad uint64
	first        []mismatch // up to maxMismatches, lowest bits first
}

const maxMismatches = 16

func sweepTargets() map[string]*sweepTarget {
	return map[string]*sweepTarget{"e2m1": e2m1Target(), "ue8m0": ue8m0Target(), "quant": quantTarget()}
}

// e2m1Classes partition the float32 bit patterns for the E2M1 encoder.
var e2m1Classes = []string{"zero", "subnormal", "normal", "tie", "saturation", "inf", "nan"}

// e2m1Ties are the bit patterns of SPEC §2's seven thresholds 0.25 … 5.
var e2m1Ties = [7]uint32{0x3E800000, 0x3F400000, 0x3FA00000, 0x3FE00000, 0x40200000, 0x40600000, 0x40A00000}

const (
	absMask32 = 0x7FFFFFFF
	infBits   = 0x7F800000
	minNormal = 0x00800000
	sixBits   = 0x40C00000 // 6.0
)

func classifyE2M1(u uint64) int {
	abs := uint32(u) & absMask32
	switch {
	case abs > infBits:
		return 6
	case abs == infBits:
		return 5
	case abs == 0:
		return 0
	case abs < minNormal:
		return 1
	case slices.Contains(e2m1Ties[:], abs):
		return 3
	case abs > sixBits:
		return 4
	}
	return 2
}

// bothSigns returns each magnitude boundary b as b and 2^31 + b.
func bothSigns(magnitudes ...uint64) []uint64 {
	var out []uint64
	for _, m := range magnitudes {
		out = append(out, m, 1<<31+m)
	}
	return out
}

func e2m1Target() *sweepTarget {
	breaks := bothSigns(0, 1, minNormal, sixBits+1, infBits, infBits+1)
	for _, t := range e2m1Ties {
		breaks = append(breaks, bothSigns(uint64(t), uint64(t)+1)...)
	}
	return &sweepTarget{
		name: "e2m1", inputs: "float32 bit patterns", oracle: "e2m1.OracleEncode",
		space: 1 << 32, classes: e2m1Classes, classify: classifyE2M1, breaks: breaks,
		defaults: "threshold,rne", all: []string{"threshold", "rne/max", "rne/signed-zero", "rne/zero"},
		parse: parseEncoder,
		check: func(it sweepItem, lo, hi uint64) checkResult {
			r, err := e2m1.Sweep(it.enc, lo, hi, 1)
			if err != nil { // a validated encoder and an in-range span cannot fail
				panic(err)
			}
			res := checkResult{checked: r.Checked, bad: r.Mismatches}
			for _, m := range r.First {
				res.first = append(res.first, mismatch{uint64(m.Bits), m.String()})
			}
			return res
		},
		eval: func(it sweepItem, lo uint64, out []uint32) {
			for i := range out {
				out[i] = uint32(it.enc.Encode(math.Float32frombits(uint32(lo) + uint32(i))))
			}
		},
		value: func(r uint32) string { return fmt.Sprintf("0x%X", r) },
	}
}

// parseEncoder accepts threshold, rne (NaN policy max), rne/max,
// rne/signed-zero and rne/zero.
func parseEncoder(name string) (sweepItem, error) {
	mode, policy, hasPolicy := strings.Cut(name, "/")
	m, err := e2m1.ParseMode(mode)
	if err != nil {
		return sweepItem{}, err
	}
	e := e2m1.Encoder{Mode: m}
	if hasPolicy {
		if m != e2m1.RNE {
			return sweepItem{}, fmt.Errorf("mode %q: only rne takes a NaN policy", name)
		}
		if e.NaN, err = e2m1.ParseNaNPolicy(policy); err != nil {
			return sweepItem{}, err
		}
	}
	return sweepItem{name: e.String(), enc: e}, nil
}

// ue8m0Classes partition the float32 bit patterns as group maxima.
var ue8m0Classes = []string{"zero", "subnormal", "floor", "pow2", "normal", "inf", "nan", "negative"}

// floorEnd is 6·2^−14: at and below it the 1e-4 floors decide, and the cuda and
// triton rules differ (SPEC §3).
const floorEnd = 0x39C00000

func classifyUE8M0(u uint64) int {
	abs := uint32(u) & absMask32
	switch {
	case abs > infBits:
		return 6
	case abs == infBits:
		return 5
	case abs == 0:
		return 0
	case u>>31 != 0:
		return 7
	case abs < minNormal:
		return 1
	case abs <= floorEnd:
		return 2
	case abs&0x7FFFFF == 0x400000: // amax = 3·2^k: amax/6 is a power of two
		return 3
	}
	return 4
}

func ue8m0Target() *sweepTarget {
	breaks := bothSigns(0, 1, minNormal, floorEnd+1, infBits, infBits+1)
	for e := uint64(floorEnd>>23 + 1); e < 0xFF; e++ {
		p := e<<23 | 0x400000
		breaks = append(breaks, p, p+1)
	}
	var all []string
	for _, v := range ue8m0.Variants() {
		all = append(all, v.String())
	}
	return &sweepTarget{
		name: "ue8m0", inputs: "float32 bit patterns (group maxima)", oracle: "ue8m0.OracleFromAmax",
		space: 1 << 32, classes: ue8m0Classes, classify: classifyUE8M0, breaks: breaks,
		defaults: "all", all: all,
		parse: func(name string) (sweepItem, error) {
			v, err := ue8m0.ParseVariant(name)
			return sweepItem{name: v.String(), variant: v}, err
		},
		check: func(it sweepItem, lo, hi uint64) checkResult {
			r, err := ue8m0.SweepAmax(it.variant, lo, hi, 1)
			if err != nil {
				panic(err)
			}
			res := checkResult{checked: r.Checked, bad: r.Mismatches}
			for _, m := range r.First {
				res.first = append(res.first, mismatch{uint64(m.Bits), m.String()})
			}
			return res
		},
		eval: func(it sweepItem, lo uint64, out []uint32) {
			for i := range out {
				out[i] = uint32(it.variant.FromAmax(math.Float32frombits(uint32(lo) + uint32(i))))
			}
		},
		value: func(r uint32) string { return strconv.Itoa(int(r)) },
	}
}

// quantClasses partition scale<<16 | bf16 pairs.
var quantClasses = []string{"zero", "subnormal", "normal", "tie", "saturation", "inf", "nan", "scale-end"}

// classifyQuant classes a (scale byte, bf16) pair: scale-end for the bytes where
// a variant's literal arithmetic departs from the exact quotient (0, 254, 255),
// else by the value and the exact quotient q = |x|·2^(127−e): tie (q one of
// SPEC §2's thresholds), saturation (q > 6), subnormal (q below 2^−126).
func classifyQuant(u uint64) int {
	s := int(u >> 16)
	x := float64(bf16.Frombits(uint16(u)).Float32())
	switch {
	case s == 0 || s >= 254:
		return 7
	case math.IsNaN(x):
		return 6
	case math.IsInf(x, 0):
		return 5
	case x == 0:
		return 0
	}
	q := math.Abs(x) * math.Ldexp(1, 127-s)
	switch q {
	case 0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5:
		return 3
	}
	switch {
	case q > 6:
		return 4
	case q < 0x1p-126:
		return 1
	}
	return 2
}

// quantScaled is SPEC §3's element scaling in float64, each variant's literal
// formula: triton x / f (f = +0 for e = 0, +Inf for e = 255, else 2^(e−127)),
// cuda x · g (g = +0 for e = 254, −Inf for e = 255, else 2^(127−e)), the others
// x / 2^(e−127) (NaN for 255). Products and quotients by powers of two are exact
// in float64; float32() rounds once. A NaN x keeps its sign; a NaN the operation
// creates is the GPU's canonical positive NaN (its sign matters to the
// signed-zero NaN policy).
func quantScaled(v ue8m0.Variant, x float32, e int) float32 {
	xf := float64(x)
	var r float64
	switch {
	case v == ue8m0.Triton && e == 0:
		r = xf / 0
	case v == ue8m0.Triton && e == 255:
		r = xf / math.Inf(1)
	case v == ue8m0.CUDA && e == 254:
		r = xf * 0
	case v == ue8m0.CUDA && e == 255:
		r = xf * math.Inf(-1)
	case e == 255:
		r = math.NaN()
	default:
		r = xf * math.Ldexp(1, 127-e)
	}
	if r != r {
		if xf != xf {
			return x
		}
		return math.Float32frombits(0x7FFFFFFF)
	}
	return float32(r)
}

func quantTarget() *sweepTarget {
	var all []string
	for _, v := range ue8m0.Variants() {
		for _, m := range []string{"threshold", "rne/max", "rne/signed-zero", "rne/zero"} {
			all = append(all, v.String()+"/"+m)
		}
	}
	return &sweepTarget{
		name: "quant", inputs: "scale<<16 | bf16 bit patterns", oracle: "x·2^(127−e) (literal ends) → e2m1.OracleEncode",
		space: 1 << 24, classes: quantClasses, classify: classifyQuant,
		defaults: "all", all: all,
		parse: func(name string) (sweepItem, error) {
			vname, mode, ok := strings.Cut(name, "/")
			if !ok {
				return sweepItem{}, fmt.Errorf("%q: want VARIANT/MODE, e.g. cuda/threshold", name)
			}
			v, err := ue8m0.ParseVariant(vname)
			if err != nil {
				return sweepItem{}, err
			}
			it, err := parseEncoder(mode)
			if err != nil {
				return sweepItem{}, err
			}
			return sweepItem{name: v.String() + "/" + it.name, enc: it.enc, variant: v}, nil
		},
		check: checkQuant,
		eval: func(it sweepItem, lo uint64, out []uint32) {
			q := ue8m0.Quantizer{Scale: it.variant, Element: it.enc}
			var x [ue8m0.GroupSize]float32
			var dst [ue8m0.GroupBytes]byte
			end := lo + uint64(len(out))
			for g := lo &^ (ue8m0.GroupSize - 1); g < end; g += ue8m0.GroupSize {
				for i := range x {
					x[i] = bf16.Frombits(uint16(g) + uint16(i)).Float32()
				}
				if err := q.GroupForced(dst[:], x[:], ue8m0.Scale(g>>16)); err != nil {
					panic(err)
				}
				for i := range x {
					if u := g + uint64(i); u >= lo && u < end {
						out[u-lo] = uint32(dst[i/2] >> (4 * (i % 2)) & 0xF)
					}
				}
			}
		},
		value: func(r uint32) string { return fmt.Sprintf("0x%X", r) },
	}
}

// checkQuant encodes every input of [lo, hi) twice: in its natural group of 32
// consecutive bf16 patterns (NaN-free groups take the packed kernel), and
// with a NaN beside it in every other slot (the general path).
func checkQuant(it sweepItem, lo, hi uint64) checkResult {
	q := ue8m0.Quantizer{Scale: it.variant, Element: it.enc}
	var res checkResult
	var x, y [ue8m0.GroupSize]float32
	var dst [ue8m0.GroupBytes]byte
	nan := math.Float32frombits(0x7FC00000)
	compare := func(u uint64, v float32, got byte, path string) {
		res.checked++
		want := e2m1.OracleEncode(quantScaled(it.variant, v, int(u>>16)), it.enc)
		if e2m1.Code(got) != want {
			res.bad++
			if len(res.first) < maxMismatches {
				res.first = append(res.first, mismatch{u, fmt.Sprintf("scale %d, bf16 0x%04X (%s path): code 0x%X, oracle %v",
					u>>16, uint16(u), path, got, want)})
			}
		}
	}
	for g := lo &^ (ue8m0.GroupSize - 1); g < hi; g += ue8m0.GroupSize {
		s := ue8m0.Scale(g >> 16)
		for i := range x {
			x[i] = bf16.Frombits(uint16(g) + uint16(i)).Float32()
		}
		if err := q.GroupForced(dst[:], x[:], s); err != nil {
			panic(err)
		}
		for i := range x {
			if u := g + uint64(i); u >= lo && u < hi {
				compare(u, x[i], dst[i/2]>>(4*(i%2))&0xF, "group")
			}
		}
		for half := 0; half < 2; half++ {
			for i := 0; i < ue8m0.GroupSize/2; i++ {
				y[2*i], y[2*i+1] = x[half*16+i], nan
			}
			if err := q.GroupForced(dst[:], y[:], s); err != nil {
				panic(err)
			}
			for i := 0; i < ue8m0.GroupSize/2; i++ {
				if u := g + uint64(half*16+i); u >= lo && u < hi {
					compare(u, y[2*i], dst[i]&0xF, "NaN-group")
				}
			}
		}
	}
	return res
}

// shard is a contiguous part [lo, hi) of an input space.
type shard struct {
	i, n   uint64
	lo, hi uint64
}

// parseShard parses "i/n" and returns part i of n of [0, space): [i·space/n,
// (i+1)·space/n).
func parseShard(s string, space uint64) (shard, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return shard{}, fmt.Errorf("want i/n")
	}
	i, err1 := strconv.ParseUint(a, 10, 64)
	n, err2 := strconv.ParseUint(b, 10, 64)
	switch {
	case err1 != nil || err2 != nil:
		return shard{}, fmt.Errorf("want two non-negative integers i/n")
	case n == 0 || n > space:
		return shard{}, fmt.Errorf("n = %d: want 1 ≤ n ≤ %d", n, space)
	case i >= n:
		return shard{}, fmt.Errorf("i = %d: want 0 ≤ i < n = %d (i is 0-based)", i, n)
	}
	at := func(k uint64) uint64 {
		hi, lo := bits.Mul64(k, space)
		q, _ := bits.Div64(hi, lo, n)
		return q
	}
	return shard{i: i, n: n, lo: at(i), hi: at(i + 1)}, nil
}

func (s shard) String() string { return fmt.Sprintf("%d/%d", s.i, s.n) }

// unitSize bounds one unit of work, so that the progress bar moves and the
// cores stay balanced.
const unitSize = 1 << 20

// spans returns [lo, hi) cut into pieces of one class, each at most unitSize
// long.
func (t *sweepTarget) spans(lo, hi uint64) []span {
	var out []span
	add := func(a, b uint64, class int) {
		for ; a < b; a += unitSize {
			out = append(out, span{a, min(a+unitSize, b), class})
		}
	}
	if t.breaks == nil {
		for a := lo; a < hi; {
			c := t.classify(a)
			b := a + 1
			for b < hi && b-a < unitSize && t.classify(b) == c {
				b++
			}
			out = append(out, span{a, b, c})
			a = b
		}
		return out
	}
	cuts := append([]uint64{lo, hi}, t.breaks...)
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	for k := 0; k+1 < len(cuts); k++ {
		a, b := cuts[k], cuts[k+1]
		if a < lo || b > hi {
			continue
		}
		add(a, b, t.classify(a))
	}
	return out
}

// parallel runs fn(worker, i) for i in [0, n) on workers goroutines,
// reporting each unit's size to the progress bar.
func parallel(n, workers int, size func(i int) uint64, prog *progress, fn func(worker, i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(w, i)
				prog.add(size(i))
			}
		})
	}
	wg.Wait()
}

// checkReport is the result of an oracle sweep; it is also the JSON report.
type checkReport struct {
	Command       string     `json:"command"`
	Target        string     `json:"target"`
	Inputs        string     `json:"inputs"`
	Oracle        string     `json:"oracle"`
	Shard         string     `json:"shard"`
	First         string     `json:"first"`
	Last          string     `json:"last"`
	Count         uint64     `json:"count"`
	Modes         []string   `json:"modes"`
	Classes       []classRow `json:"classes"`
	Comparisons   uint64     `json:"comparisons"`
	Disagreements uint64     `json:"disagreements"`
	Mismatches    []string   `json:"mismatches,omitempty"` // the first ones of each mode
}

type classRow struct {
	Class         string   `json:"class"`
	Inputs        uint64   `json:"inputs"`
	Disagreements []uint64 `json:"disagreements"` // per mode, in the order of Modes
}

func (t *sweepTarget) hex(u uint64) string {
	if t.space > 1<<24 {
		return fmt.Sprintf("0x%08X", u)
	}
	return fmt.Sprintf("0x%06X", u)
}

func runCheck(t *sweepTarget, items []sweepItem, sh shard, workers int, prog *progress) checkReport {
	spans := t.spans(sh.lo, sh.hi)
	results := make([]checkResult, len(items)*len(spans))
	prog.start(uint64(len(items)) * (sh.hi - sh.lo))
	parallel(len(results), workers, func(i int) uint64 { s := spans[i%len(spans)]; return s.hi - s.lo }, prog, func(_, i int) {
		s := spans[i%len(spans)]
		results[i] = t.check(items[i/len(spans)], s.lo, s.hi)
	})
	prog.done()
	rep := checkReport{Command: "sweep", Target: t.name, Inputs: t.inputs, Oracle: t.oracle, Shard: sh.String(),
		First: t.hex(sh.lo), Last: t.hex(sh.hi - 1), Count: sh.hi - sh.lo}
	rows := make([]classRow, len(t.classes))
	for c := range rows {
		rows[c] = classRow{Class: t.classes[c], Disagreements: make([]uint64, len(items))}
	}
	for _, s := range spans {
		rows[s.class].Inputs += s.hi - s.lo
	}
	for k, it := range items {
		rep.Modes = append(rep.Modes, it.name)
		var first []mismatch
		for j, s := range spans {
			r := results[k*len(spans)+j]
			rows[s.class].Disagreements[k] += r.bad
			rep.Comparisons += r.checked
			rep.Disagreements += r.bad
			first = append(first, r.first...)
		}
		slices.SortFunc(first, func(a, b mismatch) int { return cmp.Compare(a.bits, b.bits) })
		for _, m := range first[:min(len(first), maxMismatches)] {
			rep.Mismatches = append(rep.Mismatches, it.name+": "+m.text)
		}
	}
	rep.Classes = rows
	return rep
}

func printCheck(w io.Writer, rep checkReport, workers int, elapsed time.Duration) {
	fmt.Fprintf(w, "sweep %s: %s [%s, %s] (%d inputs), shard %s, %d workers\n",
		rep.Target, rep.Inputs, rep.First, rep.Last, rep.Count, rep.Shard, workers)
	fmt.Fprintf(w, "oracle: %s\n\n", rep.Oracle)
	// One column per mode; with many modes, one total column and a table of
	// modes instead.
	wide := len(rep.Modes) <= 6
	head := []string{"class", "inputs"}
	if wide {
		head = append(head, rep.Modes...)
	} else {
		head = append(head, "disagreements (all modes)")
	}
	rows := [][]string{head}
	total := make([]uint64, len(rep.Modes))
	row := func(name string, inputs uint64, d []uint64) []string {
		r := []string{name, strconv.FormatUint(inputs, 10)}
		var sum uint64
		for _, v := range d {
			if wide {
				r = append(r, strconv.FormatUint(v, 10))
			}
			sum += v
		}
		if !wide {
			r = append(r, strconv.FormatUint(sum, 10))
		}
		return r
	}
	for _, r := range rep.Classes {
		rows = append(rows, row(r.Class, r.Inputs, r.Disagreements))
		for k, d := range r.Disagreements {
			total[k] += d
		}
	}
	printTable(w, append(rows, row("total", rep.Count, total)))
	if wide {
		fmt.Fprintln(w, "(columns after inputs: disagreements with the oracle per mode)")
	} else {
		fmt.Fprintln(w)
		modes := [][]string{{"mode", "disagreements"}}
		for k, m := range rep.Modes {
			modes = append(modes, []string{m, strconv.FormatUint(total[k], 10)})
		}
		printTable(w, modes)
	}
	for _, m := range rep.Mismatches {
		fmt.Fprintf(w, "  %s\n", m)
	}
	fmt.Fprintf(w, "\n%d disagreements with the oracle in %d comparisons; elapsed %s (%.2f ns of wall-clock time per comparison on %d workers)\n",
		rep.Disagreements, rep.Comparisons, elapsed.Round(time.Millisecond),
		float64(elapsed.Nanoseconds())/float64(max(rep.Comparisons, 1)), workers)
}

// diffReport is where two models disagree; it is also the JSON report.
type diffReport struct {
	Command string      `json:"command"`
	Target  string      `json:"target"`
	Inputs  string      `json:"inputs"`
	A       string      `json:"a"`
	B       string      `json:"b"`
	Shard   string      `json:"shard"`
	First   string      `json:"first"`
	Last    string      `json:"last"`
	Count   uint64      `json:"count"`
	Differ  uint64      `json:"differ"`
	Classes []diffClass `json:"classes"`
	// Ranges are maximal runs of consecutive inputs of one class on which A
	// and B disagree with the same pair of results, lowest first.
	Ranges []diffRange `json:"ranges"`
}

type diffClass struct {
	Class  string `json:"class"`
	Inputs uint64 `json:"inputs"`
	Differ uint64 `json:"differ"`
}

type diffRange struct {
	First string `json:"first"`
	Last  string `json:"last"`
	Count uint64 `json:"count"`
	Class string `json:"class"`
	A     string `json:"a"`
	B     string `json:"b"`
}

// run is a diffRange before formatting.
type run struct {
	first, last uint64
	class       int
	a, b        uint32
}

func runDiff(t *sweepTarget, a, b sweepItem, sh shard, workers int, prog *progress) diffReport {
	spans := t.spans(sh.lo, sh.hi)
	runs := make([][]run, len(spans))
	prog.start(sh.hi - sh.lo)
	bufs := make([][2][unitSize]uint32, workers)
	parallel(len(spans), workers, func(i int) uint64 { return spans[i].hi - spans[i].lo }, prog, func(w, i int) {
		s := spans[i]
		n := s.hi - s.lo
		ra, rb := bufs[w][0][:n], bufs[w][1][:n]
		t.eval(a, s.lo, ra)
		t.eval(b, s.lo, rb)
		var out []run
		for k := range ra {
			if ra[k] == rb[k] {
				continue
			}
			u := s.lo + uint64(k)
			if l := len(out) - 1; l >= 0 && out[l].last+1 == u && out[l].a == ra[k] && out[l].b == rb[k] {
				out[l].last = u
				continue
			}
			out = append(out, run{u, u, s.class, ra[k], rb[k]})
		}
		runs[i] = out
	})
	prog.done()
	rep := diffReport{Command: "diff", Target: t.name, Inputs: t.inputs, A: a.name, B: b.name, Shard: sh.String(),
		First: t.hex(sh.lo), Last: t.hex(sh.hi - 1), Count: sh.hi - sh.lo}
	classes := make([]diffClass, len(t.classes))
	for c := range classes {
		classes[c].Class = t.classes[c]
	}
	for _, s := range spans {
		classes[s.class].Inputs += s.hi - s.lo
	}
	var merged []run
	for _, rs := range runs { // spans are in order, so runs are too
		for _, r := range rs {
			classes[r.class].Differ += r.last - r.first + 1
			rep.Differ += r.last - r.first + 1
			if l := len(merged) - 1; l >= 0 && merged[l].last+1 == r.first && merged[l].class == r.class && merged[l].a == r.a && merged[l].b == r.b {
				merged[l].last = r.last
				continue
			}
			merged = append(merged, r)
		}
	}
	rep.Classes = classes
	rep.Ranges = []diffRange{}
	for _, r := range merged {
		rep.Ranges = append(rep.Ranges, diffRange{First: t.hex(r.first), Last: t.hex(r.last), Count: r.last - r.first + 1,
			Class: t.classes[r.class], A: t.value(r.a), B: t.value(r.b)})
	}
	return rep
}

// maxPrintedRanges bounds the ranges printed to stdout; -o writes all.
const maxPrintedRanges = 64

func printDiff(w io.Writer, rep diffReport, elapsed time.Duration) {
	fmt.Fprintf(w, "diff %s: %s vs %s on %s [%s, %s] (%d inputs), shard %s\n\n",
		rep.Target, rep.A, rep.B, rep.Inputs, rep.First, rep.Last, rep.Count, rep.Shard)
	rows := [][]string{{"class", "inputs", "differ"}}
	for _, c := range rep.Classes {
		rows = append(rows, []string{c.Class, strconv.FormatUint(c.Inputs, 10), strconv.FormatUint(c.Differ, 10)})
	}
	printTable(w, append(rows, []string{"total", strconv.FormatUint(rep.Count, 10), strconv.FormatUint(rep.Differ, 10)}))
	fmt.Fprintf(w, "\n%d ranges (first … last, count, class: %s → %s):\n", len(rep.Ranges), rep.A, rep.B)
	for i, r := range rep.Ranges {
		if i == maxPrintedRanges {
			fmt.Fprintf(w, "  … %d more (write them all with -o FILE)\n", len(rep.Ranges)-i)
			break
		}
		fmt.Fprintf(w, "  %s … %s  %d  %s: %s → %s\n", r.First, r.Last, r.Count, r.Class, r.A, r.B)
	}
	fmt.Fprintf(w, "\n%d of %d inputs differ; elapsed %s\n", rep.Differ, rep.Count, elapsed.Round(time.Millisecond))
}

// printTable prints rows with the first column left-aligned and the others
// right-aligned.
func printTable(w io.Writer, rows [][]string) {
	var width []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 {
				b.WriteString(c + pad)
			} else {
				b.WriteString("  " + pad + c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

// writeReport writes rep as indented JSON to path (nothing for "").
func writeReport(w io.Writer, path string, rep any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", path)
	return nil
}

// isTerminal reports whether w is a character device (a terminal), by its
// file mode; the standard library only.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line bar on a terminal; a nil *progress does nothing.
type progress struct {
	w     io.Writer
	total uint64
	count atomic.Uint64
	begin time.Time
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newProgress(w io.Writer) *progress { return &progress{w: w} }

func (p *progress) start(total uint64) {
	if p == nil {
		return
	}
	p.total, p.begin, p.stop = total, time.Now(), make(chan struct{})
	p.count.Store(0)
	p.wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprintf(p.w, "\r%*s\r", 78, "")
				return
			case <-tick.C:
				p.draw()
			}
		}
	})
}

func (p *progress) add(n uint64) {
	if p != nil {
		p.count.Add(n)
	}
}

func (p *progress) draw() {
	const width = 30
	d := p.count.Load()
	frac := float64(d) / float64(max(p.total, 1))
	filled := int(frac * width)
	el := time.Since(p.begin)
	eta := "?"
	if frac > 0 {
		eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %s elapsed, %s left ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), 100*frac, el.Round(time.Second), eta)
}

func (p *progress) done() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
}
