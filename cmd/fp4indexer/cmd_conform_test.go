package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/cuda"
)

func TestConformUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainRun([]string{"conform", "-ptx", "k.ptx"}, &out, &errb); code != 2 {
		t.Fatalf("exit %d, want 2 (stderr %q)", code, errb.String())
	}
}

// Without a GPU, conform fails with one line that says what is missing.
func TestConformWithoutGPU(t *testing.T) {
	if d, err := cuda.Open(); err == nil {
		d.Close()
		t.Skip("a GPU is present: conform runs for real in docs/CONFORMANCE.md")
	}
	var out, errb bytes.Buffer
	if code := mainRun([]string{"conform", "-rows", "16"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "no GPU to run on") || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("stderr %q", errb.String())
	}
}
