package main

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// run calls the CLI as a user would and returns its exit status and output.
func goldenCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainRun(args, &out, &errb)
	return code, out.String(), errb.String()
}

func goldenCLIOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errb := goldenCLI(t, args...)
	if code != 0 {
		t.Fatalf("fp4indexer %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errb)
	}
	return out
}

func TestGoldenCommand(t *testing.T) {
	dir := t.TempDir()
	out := goldenCLIOK(t, "golden", "-o", dir, "-suite", "pr26209,edges", "-path", "k_v1_store,q_fp4", "-format", "safetensors,npy")
	for _, want := range []string{"k_v1_store/pr26209_n7", "q_fp4/edges", "wrote 10 cases", "fp4indexer verify -expected", "check_golden.py"} {
		if !strings.Contains(out, want) {
			t.Errorf("golden output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"inputs.safetensors", "expected.safetensors", "manifest.json", "npy/expected/x_fp4.npy"} {
		if _, err := os.Stat(filepath.Join(dir, "k_v1_store", "pr26209_n7", f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "k_v2_fused")); err == nil {
		t.Error("-path k_v1_store,q_fp4 wrote k_v2_fused")
	}
	for _, bad := range [][]string{
		{"golden", "-suite", "nope"},
		{"golden", "-path", "k_v9"},
		{"golden", "-rows", "0"},
		{"golden", "-format", "csv"},
		{"golden", "-profile", "v3"},
		{"golden", "-bogus"},
		{"golden", "extra"},
	} {
		if code, _, _ := goldenCLI(t, append(bad, "-o", dir)...); code != 2 {
			t.Errorf("fp4indexer %s: exit %d, want 2", strings.Join(bad, " "), code)
		}
	}
	if code, _, _ := goldenCLI(t, "golden", "-h"); code != 0 {
		t.Errorf("golden -h: exit %d", code)
	}
}

// TestRunGroundTruth is CI's ground-truth step through the CLI: run over every
// H100 case, then verify against its expected file.
func TestRunGroundTruth(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "conformance", "h100", "*", "*"))
	if len(dirs) == 0 {
		t.Fatal("no ground truth")
	}
	tmp := t.TempDir()
	for _, d := range dirs {
		out := filepath.Join(tmp, "out.safetensors")
		goldenCLIOK(t, "run", "-case", d, "-o", out)
		text := goldenCLIOK(t, "verify", "-expected", filepath.Join(d, "expected.safetensors"), "-actual", out)
		if !strings.Contains(text, "verify: OK") {
			t.Errorf("%s: %s", d, text)
		}
	}
}

func TestRunAndVerify(t *testing.T) {
	dir := t.TempDir()
	goldenCLIOK(t, "golden", "-o", dir, "-suite", "pr26209,logits", "-path", "k_v1_store,logits")
	caseDir := filepath.Join(dir, "k_v1_store", "pr26209_n7")
	exp := filepath.Join(caseDir, "expected.safetensors")
	out := filepath.Join(dir, "out.safetensors")

	// -in with -kernel and -case give the golden bytes.
	goldenCLIOK(t, "run", "-kernel", "store_fp4_index_k_cache", "-in", filepath.Join(caseDir, "inputs.safetensors"), "-o", out)
	goldenCLIOK(t, "verify", "-expected", exp, "-actual", out)
	goldenCLIOK(t, "run", "-case", caseDir, "-o", out)
	if text := goldenCLIOK(t, "verify", "-expected", exp, "-actual", exp); !strings.Contains(text, "3 tensors match") {
		t.Errorf("verify of a file against itself:\n%s", text)
	}

	// One flipped nibble: exit 1, and the report names row, byte and nibble.
	f, err := st.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.Get("x_fp4")
	x.Data[3*64+21] ^= 0x40 // row 3, byte 21, high nibble
	bad := filepath.Join(dir, "bad.safetensors")
	if err := st.WriteFile(bad, f); err != nil {
		t.Fatal(err)
	}
	code, text, errb := goldenCLI(t, "verify", "-expected", exp, "-actual", bad)
	if code != 1 {
		t.Errorf("verify of a flipped nibble: exit %d, want 1", code)
	}
	for _, want := range []string{"x_fp4: MISMATCH", "row 3", "byte 21", "high nibble (element 43, group 1)", "scale bytes", "by class: payload 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(errb, "1 of 3 tensors differ") {
		t.Errorf("stderr: %q", errb)
	}
	// FILE:TENSOR on both sides, and one tensor against the other side's name.
	if code, _, _ := goldenCLI(t, "verify", "-expected", exp+":x_sf", "-actual", bad+":x_sf"); code != 0 {
		t.Errorf("x_sf alone: exit %d, want 0", code)
	}
	if code, _, _ := goldenCLI(t, "verify", "-expected", exp+":x_fp4", "-actual", bad); code != 1 {
		t.Errorf("x_fp4 alone: exit %d, want 1", code)
	}

	// .npy on the actual side (as numpy.save writes x_fp4: int8).
	npyDir := t.TempDir()
	goldenCLIOK(t, "golden", "-o", npyDir, "-suite", "pr26209", "-path", "k_v1_store", "-format", "safetensors,npy")
	npyFile := filepath.Join(npyDir, "k_v1_store", "pr26209_n7", "npy", "expected", "x_fp4.npy")
	if text := goldenCLIOK(t, "verify", "-expected", exp+":x_fp4", "-actual", npyFile); !strings.Contains(text, "x_fp4: ok") {
		t.Errorf("npy verify:\n%s", text)
	}

	// Logits: bytes, then -bound.
	lc := filepath.Join(dir, "logits", "fp4_next2")
	lexp := filepath.Join(lc, "expected.safetensors")
	goldenCLIOK(t, "run", "-case", lc, "-o", out)
	goldenCLIOK(t, "verify", "-expected", lexp, "-actual", out)
	lf, _ := st.ReadFile(lexp)
	lt, _ := lf.Get("logits")
	for i := 0; i+4 <= len(lt.Data); i += 4 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(lt.Data[i:]))
		if !math.IsInf(float64(v), 0) {
			binary.LittleEndian.PutUint32(lt.Data[i:], math.Float32bits(math.Nextafter32(v, float32(math.Inf(1)))))
		}
	}
	near := filepath.Join(dir, "near.safetensors")
	if err := st.WriteFile(near, lf); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := goldenCLI(t, "verify", "-expected", lexp, "-actual", near); code != 1 {
		t.Errorf("logits one ulp off, bytes: exit %d, want 1", code)
	}
	if code, text, _ := goldenCLI(t, "verify", "-bound", "-expected", lexp, "-actual", near); code != 0 || !strings.Contains(text, "calc_diff") {
		t.Errorf("logits one ulp off, -bound: exit %d\n%s", code, text)
	}

	// Usage errors exit 2; failures exit 1.
	for _, args := range [][]string{
		{"run", "-case", caseDir},
		{"run", "-o", out},
		{"run", "-in", exp, "-o", out},
		{"run", "-kernel", "k_v9", "-in", exp, "-o", out},
		{"run", "-case", caseDir, "-in", exp, "-o", out},
		{"verify", "-expected", exp},
		{"verify", "-expected", exp, "-actual", out, "-n", "0"},
		{"verify", "-expected", exp + ":x_fp4", "-actual", lexp},
	} {
		if code, _, errb := goldenCLI(t, args...); code != 2 && !(args[0] == "verify" && code == 1) {
			t.Errorf("fp4indexer %s: exit %d, want 2\n%s", strings.Join(args, " "), code, errb)
		}
	}
	if code, _, _ := goldenCLI(t, "run", "-kernel", "q_fp4", "-in", filepath.Join(caseDir, "inputs.safetensors"), "-o", out); code != 1 {
		t.Errorf("run with another kernel's inputs: exit %d, want 1", code)
	}
	if code, _, _ := goldenCLI(t, "verify", "-expected", filepath.Join(dir, "missing.safetensors"), "-actual", out); code != 1 {
		t.Errorf("verify of a missing file: exit %d, want 1", code)
	}
}
