package main

import (
	"bytes"
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

func longSweeps() bool { return os.Getenv("FP4INDEXER_LONG") == "1" }

func sweepCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mainRun(append([]string{"sweep"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSweepUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"e2m1", "ue8m0"},
		{"fp8"},
		{"-shard", "1/0", "e2m1"},
		{"-shard", "2/2", "e2m1"},
		{"-shard", "x", "e2m1"},
		{"-shard", "1/16777217", "quant"},
		{"-workers", "0", "e2m1"},
		{"-modes", "round-up", "e2m1"},
		{"-modes", "threshold/max", "e2m1"},
		{"-modes", "cuda", "quant"},
		{"-diff", "threshold", "e2m1"},
		{"-diff", "threshold,rne,rne/zero", "e2m1"},
		{"-diff", "cuda,floor", "ue8m0"},
		{"-diff", "threshold,rne", "-modes", "rne", "e2m1"},
	} {
		if code, _, errs := sweepCLI(t, args...); code != 2 || errs == "" {
			t.Errorf("sweep %q: exit %d, stderr %q; want a usage error (2)", args, code, errs)
		}
	}
}

// wantRow checks that a table row of out starts with name and holds cells.
func wantRow(t *testing.T, out, name string, cells ...string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			if strings.Join(f[1:], " ") != strings.Join(cells, " ") {
				t.Errorf("row %s = %q, want %q", name, f[1:], cells)
			}
			return
		}
	}
	t.Errorf("no row %s in:\n%s", name, out)
}

func TestParseShard(t *testing.T) {
	for _, space := range []uint64{1 << 32, 1 << 24} {
		for _, n := range []uint64{1, 2, 3, 7, 256, 65536, 1<<24 - 1, 1 << 24} {
			prev := uint64(0)
			for _, i := range []uint64{0, 1, 2, n / 3, n/3 + 1, n - 2, n - 1} {
				if i >= n {
					continue
				}
				sh, err := parseShard(strconv.FormatUint(i, 10)+"/"+strconv.FormatUint(n, 10), space)
				if err != nil {
					t.Fatalf("%d/%d: %v", i, n, err)
				}
				// Part i is [⌊i·space/n⌋, ⌊(i+1)·space/n⌋), in math/big.
				at := func(k uint64) uint64 {
					x := new(big.Int).Mul(new(big.Int).SetUint64(k), new(big.Int).SetUint64(space))
					return x.Div(x, new(big.Int).SetUint64(n)).Uint64()
				}
				if sh.lo != at(i) || sh.hi != at(i+1) {
					t.Errorf("%d/%d of %#x = [%#x, %#x), want [%#x, %#x)", i, n, space, sh.lo, sh.hi, at(i), at(i+1))
				}
				if i > 0 && i == prev+1 {
					p, _ := parseShard(strconv.FormatUint(prev, 10)+"/"+strconv.FormatUint(n, 10), space)
					if p.hi != sh.lo {
						t.Errorf("%d/%d ends at %#x, %d/%d starts at %#x", prev, n, p.hi, i, n, sh.lo)
					}
				}
				prev = i
			}
		}
	}
	for _, bad := range []string{"", "1", "1/0", "3/3", "-1/2", "a/b", "1/4294967297"} {
		if _, err := parseShard(bad, 1<<32); err == nil {
			t.Errorf("parseShard(%q) accepted", bad)
		}
	}
}

// TestSpans checks the class partitions: the spans of the whole space are
// contiguous, every span has one class (at its ends and at random points
// inside), and the classes hold the expected numbers of inputs.
func TestSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tg := range []*sweepTarget{e2m1Target(), ue8m0Target()} {
		spans := tg.spans(0, tg.space)
		count := make(map[string]uint64)
		at := uint64(0)
		for _, s := range spans {
			if s.lo != at || s.hi <= s.lo || s.hi-s.lo > unitSize {
				t.Fatalf("%s: span [%#x, %#x) after %#x", tg.name, s.lo, s.hi, at)
			}
			at = s.hi
			for _, u := range []uint64{s.lo, s.hi - 1, s.lo + rng.Uint64N(s.hi-s.lo)} {
				if c := tg.classify(u); c != s.class {
					t.Fatalf("%s: %#x is %s inside a %s span [%#x, %#x)", tg.name, u, tg.classes[c], tg.classes[s.class], s.lo, s.hi)
				}
			}
			count[tg.classes[s.class]] += s.hi - s.lo
		}
		if at != tg.space {
			t.Fatalf("%s: spans end at %#x", tg.name, at)
		}
		want := map[string]map[string]uint64{
			"e2m1": {"zero": 2, "tie": 14, "inf": 2, "nan": 2 * (1<<23 - 1), "subnormal": 2 * (1<<23 - 1),
				"saturation": 2 * (0x7F800000 - 0x40C00001)},
			// pow2: amax = 1.5·2^k above 6·2^−14 (exponent fields 0x74 … 0xFE).
			"ue8m0": {"zero": 2, "inf": 2, "nan": 2 * (1<<23 - 1), "subnormal": 1<<23 - 1, "pow2": 0xFE - 0x74 + 1,
				"floor": 0x39C00000 - 0x00800000 + 1, "negative": 0x7F800000 - 1},
		}[tg.name]
		for class, n := range want {
			if count[class] != n {
				t.Errorf("%s: class %s holds %d inputs, want %d", tg.name, class, count[class], n)
			}
		}
	}
}

func TestSweepShards(t *testing.T) {
	for _, args := range [][]string{
		{"-shard", "16192/65536", "e2m1"},                                        // [0.75, 0.75 + 2^16 ulp): a tie
		{"-shard", "32767/32768", "-modes", "all", "e2m1"},                       // the negative NaNs
		{"-shard", "115/65536", "-workers", "1", "ue8m0"},                        // amax near the 1e-4 floors
		{"-shard", "255/256", "quant"},                                           // scale byte 255
		{"-shard", "0/256", "-modes", "triton/rne/zero,cuda/threshold", "quant"}, // scale byte 0
	} {
		code, out, errs := sweepCLI(t, args...)
		if code != 0 {
			t.Fatalf("sweep %q: exit %d\n%s%s", args, code, out, errs)
		}
		if !strings.Contains(out, "\n0 disagreements with the oracle in ") || !strings.Contains(out, "elapsed") {
			t.Errorf("sweep %q: no summary line:\n%s", args, out)
		}
		if errs != "" {
			t.Errorf("sweep %q: wrote to a non-terminal stderr: %q", args, errs)
		}
	}
	path := filepath.Join(t.TempDir(), "report.json")
	code, out, _ := sweepCLI(t, "-shard", "16192/65536", "-o", path, "e2m1")
	if code != 0 {
		t.Fatal(code)
	}
	var rep checkReport
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	if rep.Count != 1<<16 || rep.Comparisons != 2<<16 || rep.Disagreements != 0 || rep.First != "0x3F400000" ||
		len(rep.Modes) != 2 || rep.Classes[3].Class != "tie" || rep.Classes[3].Inputs != 1 {
		t.Errorf("report %+v", rep)
	}
	// The class table: the shard holds 0.75 itself and 2^16 − 1 normal values.
	wantRow(t, out, "tie", "1", "0", "0")
	wantRow(t, out, "normal", "65535", "0", "0")
	wantRow(t, out, "total", "65536", "0", "0")
}

// TestSweepReportsDisagreements runs the CLI over a target whose model is
// broken (threshold ties rounding up): exit status 1, the class of the
// failures, and the failing inputs.
func TestSweepReportsDisagreements(t *testing.T) {
	broken := e2m1Target()
	real := broken.check
	broken.check = func(it sweepItem, lo, hi uint64) checkResult {
		r := real(it, lo, hi)
		for u := lo; u < hi; u++ {
			if it.enc.Mode == e2m1.Threshold && classifyE2M1(u) == 3 { // a tie
				r.bad++
				r.first = append(r.first, mismatch{u, "broken tie"})
			}
		}
		return r
	}
	var out, errs bytes.Buffer
	err := sweepMain([]string{"-shard", "16192/65536", "e2m1"}, &out, &errs, map[string]*sweepTarget{"e2m1": broken})
	if err == nil || isUsage(err) {
		t.Fatalf("err = %v, want a failure", err)
	}
	wantRow(t, out.String(), "tie", "1", "1", "0")
	wantContains(t, "broken sweep", out.String(), "threshold: broken tie", "1 disagreements with the oracle")
}

// specRange is one range of the SPEC §2 set of inputs on which threshold and
// rne codes differ, with its class and the two codes, written by hand from the
// SPEC: the ties ±0.75, ±1.75, ±3.5, the negatives that round to zero (−0 …
// −0.25, by class), and NaN as the rne policy decides.
type specRange struct {
	first, last uint64
	class, a, b string
}

func specDiff(policy e2m1.NaNPolicy) []specRange {
	r := []specRange{
		{0x3F400000, 0x3F400000, "tie", "0x1", "0x2"},
		{0x3FE00000, 0x3FE00000, "tie", "0x3", "0x4"},
		{0x40600000, 0x40600000, "tie", "0x5", "0x6"},
	}
	switch policy {
	case e2m1.NaNSignedZero:
		r = append(r, specRange{0x7F800001, 0x7FFFFFFF, "nan", "0x7", "0x8"})
	case e2m1.NaNZero:
		r = append(r, specRange{0x7F800001, 0x7FFFFFFF, "nan", "0x7", "0x0"})
	}
	r = append(r,
		specRange{0x80000000, 0x80000000, "zero", "0x0", "0x8"},
		specRange{0x80000001, 0x807FFFFF, "subnormal", "0x0", "0x8"},
		specRange{0x80800000, 0xBE7FFFFF, "normal", "0x0", "0x8"},
		specRange{0xBE800000, 0xBE800000, "tie", "0x0", "0x8"}, // −0.25 ties to zero in both modes
		specRange{0xBF400000, 0xBF400000, "tie", "0x9", "0xA"},
		specRange{0xBFE00000, 0xBFE00000, "tie", "0xB", "0xC"},
		specRange{0xC0600000, 0xC0600000, "tie", "0xD", "0xE"},
	)
	if policy != e2m1.NaNMax {
		r = append(r, specRange{0xFF800001, 0xFFFFFFFF, "nan", "0x7", "0x0"})
	}
	return r
}

// clip restricts ranges to [lo, hi] and maps each bit pattern through f (for
// the bf16-sized space, u → u>>16), dropping empty results.
func clip(rs []specRange, lo, hi uint64) []specRange {
	var out []specRange
	for _, r := range rs {
		a, b := max(r.first, lo), min(r.last, hi)
		if a <= b {
			r.first, r.last = a, b
			out = append(out, r)
		}
	}
	return out
}

// checkRanges compares a diff report with the expected ranges: the same
// ranges, classes and codes, and counts per class and in total that add up.
func checkRanges(t *testing.T, what string, rep diffReport, want []specRange, hex func(uint64) string) {
	t.Helper()
	var total uint64
	perClass := map[string]uint64{}
	for _, w := range want {
		total += w.last - w.first + 1
		perClass[w.class] += w.last - w.first + 1
	}
	if len(rep.Ranges) != len(want) {
		t.Errorf("%s: %d ranges, want %d:\n got %+v\nwant %+v", what, len(rep.Ranges), len(want), rep.Ranges, want)
		return
	}
	for i, w := range want {
		g := rep.Ranges[i]
		if g.First != hex(w.first) || g.Last != hex(w.last) || g.Count != w.last-w.first+1 || g.Class != w.class || g.A != w.a || g.B != w.b {
			t.Errorf("%s: range %d = %+v, want %s … %s (%d) %s %s → %s", what, i, g, hex(w.first), hex(w.last), w.last-w.first+1, w.class, w.a, w.b)
		}
	}
	if rep.Differ != total {
		t.Errorf("%s: %d inputs differ, want %d", what, rep.Differ, total)
	}
	var inputs uint64
	for _, c := range rep.Classes {
		inputs += c.Inputs
		if c.Differ != perClass[c.Class] {
			t.Errorf("%s: class %s: %d differ, want %d", what, c.Class, c.Differ, perClass[c.Class])
		}
	}
	if inputs != rep.Count {
		t.Errorf("%s: the classes hold %d inputs, the report covers %d", what, inputs, rep.Count)
	}
}

var policies = []e2m1.NaNPolicy{e2m1.NaNMax, e2m1.NaNSignedZero, e2m1.NaNZero}

func rneItem(p e2m1.NaNPolicy) sweepItem {
	e := e2m1.Encoder{Mode: e2m1.RNE, NaN: p}
	return sweepItem{name: e.String(), enc: e}
}

// TestDiffThresholdRNEBF16 runs the diff engine over the bf16-sized space of
// the float32 patterns whose low 16 bits are zero (u ↦ u<<16) and compares it
// with SPEC §2's set, for every RNE NaN policy.
func TestDiffThresholdRNEBF16(t *testing.T) {
	tg := e2m1Target()
	tg.space, tg.breaks = 1<<16, nil
	tg.inputs = "float32 bit patterns u<<16"
	tg.classify = func(u uint64) int { return classifyE2M1(u << 16) }
	eval := tg.eval
	tg.eval = func(it sweepItem, lo uint64, out []uint32) {
		for i := range out {
			eval(it, (lo+uint64(i))<<16, out[i:i+1])
		}
	}
	th, _ := parseEncoder("threshold")
	for _, p := range policies {
		var want []specRange
		for _, r := range specDiff(p) {
			// The patterns u<<16 inside [first, last].
			a, b := (r.first+0xFFFF)>>16, r.last>>16
			if a <= b {
				r.first, r.last = a, b
				want = append(want, r)
			}
		}
		rep := runDiff(tg, th, rneItem(p), shard{0, 1, 0, 1 << 16}, 2, nil)
		checkRanges(t, "bf16 space, rne/"+p.String(), rep, want, func(u uint64) string { return tg.hex(u) })
	}
}

// TestDiffThresholdRNEWindows runs the diff on windows of 2^16 patterns around
// every boundary of SPEC §2's set in the full float32 space, and checks the
// JSON artifact of one window byte for byte against a second run with one
// worker.
func TestDiffThresholdRNEWindows(t *testing.T) {
	tg := e2m1Target()
	th, _ := parseEncoder("threshold")
	var centers []uint64
	for _, r := range specDiff(e2m1.NaNSignedZero) {
		centers = append(centers, r.first, r.last+1)
	}
	for _, p := range policies {
		for _, c := range centers {
			lo := min(max(c, 1<<15)-1<<15, 1<<32-1<<16)
			sh := shard{0, 1, lo, lo + 1<<16}
			rep := runDiff(tg, th, rneItem(p), sh, 2, nil)
			checkRanges(t, "window "+tg.hex(lo)+" rne/"+p.String(), rep, clip(specDiff(p), sh.lo, sh.hi-1), tg.hex)
		}
	}
	dir := t.TempDir()
	var outs [2][]byte
	for k, workers := range []string{"1", "2"} {
		path := filepath.Join(dir, "diff"+workers+".json")
		code, out, errs := sweepCLI(t, "-diff", "threshold,rne/zero", "-shard", "32767/32768", "-workers", workers, "-o", path, "e2m1")
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errs)
		}
		wantContains(t, "diff -shard 32767/32768", out, "0xFFFE0000 … 0xFFFFFFFF  131072  nan: 0x7 → 0x0", "131072 of 131072 inputs differ")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		outs[k] = b
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("the -diff artifact depends on the number of workers")
	}
}

// TestDiffGoldenArtifacts checks the committed full-space artifacts of
// threshold vs rne (NaN policy max and signed-zero): exactly SPEC §2's set, by
// range, class and count. With FP4INDEXER_LONG=1 it regenerates them over all
// 2^32 patterns through the CLI and compares the bytes.
func TestDiffGoldenArtifacts(t *testing.T) {
	tg := e2m1Target()
	for _, g := range []struct {
		file   string
		b      string
		policy e2m1.NaNPolicy
		differ uint64
	}{
		{"diff-e2m1-threshold-rne.json", "rne", e2m1.NaNMax, 6 + 0x3E800001},
		{"diff-e2m1-threshold-rne-signed-zero.json", "rne/signed-zero", e2m1.NaNSignedZero, 6 + 0x3E800001 + 2*(1<<23-1)},
	} {
		path := filepath.Join("testdata", "sweep", g.file)
		golden, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rep diffReport
		if err := json.Unmarshal(golden, &rep); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if rep.Count != 1<<32 || rep.A != "threshold" || rep.B != "rne/"+g.policy.String() || rep.Differ != g.differ {
			t.Errorf("%s: covers %d inputs, %s vs %s, %d differ; want 2^32, threshold vs rne/%v, %d", path, rep.Count, rep.A, rep.B, rep.Differ, g.policy, g.differ)
		}
		checkRanges(t, path, rep, specDiff(g.policy), tg.hex)
		if !longSweeps() {
			continue
		}
		out := filepath.Join(t.TempDir(), g.file)
		start := time.Now()
		code, stdout, errs := sweepCLI(t, "-diff", "threshold,"+g.b, "-o", out, "e2m1")
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, stdout, errs)
		}
		t.Logf("-diff threshold,%s over 2^32 in %v:\n%s", g.b, time.Since(start), stdout)
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, golden) {
			t.Errorf("-diff threshold,%s over all 2^32 patterns differs from %s", g.b, path)
		}
	}
	if !longSweeps() {
		t.Log("set FP4INDEXER_LONG=1 to regenerate the artifacts over all 2^32 patterns")
	}
}

// TestSweepFullE2M1 is the acceptance run: all 2^32 float32 in both modes
// against the oracle, 0 disagreements.
func TestSweepFullE2M1(t *testing.T) {
	if !longSweeps() {
		t.Skip("set FP4INDEXER_LONG=1 to sweep all 2^32 float32 through e2m1 in both modes")
	}
	start := time.Now()
	code, out, errs := sweepCLI(t, "e2m1")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	t.Logf("%v:\n%s", time.Since(start), out)
	wantRow(t, out, "total", "4294967296", "0", "0")
	wantContains(t, "sweep e2m1", out, "\n0 disagreements with the oracle in 8589934592 comparisons")
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Error("a regular file or a buffer counts as a terminal")
	}
}

// TestProgressBar draws the bar into a buffer: it shows a percentage and
// clears its line when done.
func TestProgressBar(t *testing.T) {
	var b syncBuffer
	p := newProgress(&b)
	p.start(100)
	p.add(50)
	p.draw()
	p.done()
	s := b.String()
	if !strings.Contains(s, " 50.0%") || !strings.HasSuffix(s, "\r") {
		t.Errorf("progress output %q", s)
	}
	var nilBar *progress
	nilBar.start(1)
	nilBar.add(1)
	nilBar.done()
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
