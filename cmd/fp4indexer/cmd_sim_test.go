package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/indexer"
	"github.com/fp4indexer/fp4indexer/internal/safetensors"
)

func simCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = mainRun(append([]string{"sim"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

var tinySim = []string{"-context", "4096", "-steps", "4", "-heads", "8", "-topk", "64", "-seed", "5"}

func TestSimCommand(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "sim.json")
	pngPath := filepath.Join(dir, "sim.png")
	code, out, errs := simCLI(append(tinySim, "-json", jsonPath, "-plot", pngPath)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantContains(t, "stdout", out, "top-k recall, mean", "calc_diff", "Spearman", "attention mass kept by top-k",
		"bytes per compressed key, one layer                           132           68",
		"page of 64 keys, bytes                                       8448         4352",
		"memory-bound time, H100", "B200", "recall against context length",
		"GSM8K                      0.980 → 0.965", "0.835227 → 0.833333")
	wantContains(t, "stderr", errs, "simulated in")
	if strings.Contains(errs, "\r") {
		t.Error("progress bar drawn on a non-terminal")
	}

	// The JSON is the library's report for the same configuration.
	got, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := indexer.Simulate(indexer.SimConfig{Context: 4096, Steps: 4, Heads: 8, TopK: 64, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.MarshalIndent(rep, "", "  ")
	if !bytes.Equal(got, append(want, '\n')) {
		t.Error("-json differs from indexer.Simulate's report")
	}

	// The PNG has two panels; the left one (recall) shows both curves' colours.
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 300 {
		t.Errorf("image %v", b)
	}
	for _, half := range []image.Rectangle{
		image.Rect(b.Min.X, b.Min.Y, b.Min.X+b.Dx()/2, b.Max.Y),
		image.Rect(b.Min.X+b.Dx()/2, b.Min.Y, b.Max.X, b.Max.Y),
	} {
		n8, n4 := 0, 0
		for y := half.Min.Y; y < half.Max.Y; y++ {
			for x := half.Min.X; x < half.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				switch [3]uint32{r >> 8, g >> 8, bl >> 8} {
				case [3]uint32{0x1f, 0x77, 0xb4}:
					n8++
				case [3]uint32{0xd6, 0x27, 0x28}:
					n4++
				}
			}
		}
		if n8 < 50 || n4 < 50 {
			t.Errorf("panel %v: %d FP8 and %d FP4 pixels", half, n8, n4)
		}
	}
}

func TestSimCommandInput(t *testing.T) {
	const keys, steps, heads = 700, 3, 8
	positions := []int64{1000, 2000, 2799}
	in, err := indexer.SynthParams{}.Synthesize(2, keys, heads, positions)
	if err != nil {
		t.Fatal(err)
	}
	q := make([]uint16, len(in.Q))
	for i, v := range in.Q {
		q[i] = v.Bits()
	}
	w := make([]float32, len(in.Weights))
	for i, v := range in.Weights {
		w[i] = v.Float32() // F32 weights are rounded back to the same bf16
	}
	var tensors []safetensors.Tensor
	add := func(t0 safetensors.Tensor, err error) {
		if err != nil {
			t.Fatal(err)
		}
		tensors = append(tensors, t0)
	}
	add(safetensors.FromFloat32s("kv", []int{keys, 128}, in.KV))
	add(safetensors.FromBF16Bits("q", []int{steps, heads, 128}, q))
	add(safetensors.FromFloat32s("weights", []int{steps, heads, 1}, w))
	add(safetensors.FromFloat32s("norm_weight", []int{128}, in.NormWeight))
	add(safetensors.FromInt64s("positions", []int{steps}, positions))
	path := filepath.Join(t.TempDir(), "in.safetensors")
	if err := safetensors.WriteFile(path, &safetensors.File{Tensors: tensors}); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(t.TempDir(), "r.json")
	code, out, errs := simCLI("-in", path, "-topk", "32", "-json", jsonPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantContains(t, "stdout", out, "user-supplied tensors", "3 decode steps")
	rep, err := indexer.Simulate(indexer.SimConfig{TopK: 32, Input: &in, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got indexer.SimReport
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got.Steps)
	c, _ := json.Marshal(rep.Steps)
	if !bytes.Equal(a, c) {
		t.Errorf("rows from the file differ from the library's:\n%s\n%s", a, c)
	}
	if len(got.Steps) != 3 || got.Steps[2].Keys != 700 {
		t.Errorf("steps %+v", got.Steps)
	}

	// A file without q.
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := safetensors.WriteFile(bad, &safetensors.File{Tensors: tensors[:1]}); err != nil {
		t.Fatal(err)
	}
	code, _, errs = simCLI("-in", bad)
	if code != 1 || !strings.Contains(errs, "no tensor q") {
		t.Errorf("no q: exit %d, %s", code, errs)
	}
}

func TestSimUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-heads", "12"},
		{"-model", "huge"},
		{"-steps", "0"},
		{"-topk", "-1"},
		{"-context", "-5"},
		{"-probes", "5"},
		{"-temperature", "0"},
		{"-plot", "x.jpg"},
		{"-workers", "-1"},
		{"extra"},
		{"-nosuchflag"},
	} {
		code, _, errs := simCLI(args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
	code, _, errs := simCLI("-in", filepath.Join(t.TempDir(), "missing.safetensors"))
	if code != 1 {
		t.Errorf("missing -in file: exit %d, want 1 (%s)", code, errs)
	}
	if code, _, _ := simCLI("-h"); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}
