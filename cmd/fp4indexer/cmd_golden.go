package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fp4indexer/fp4indexer/golden"
)

const goldenHelp = `usage: fp4indexer golden [flags]

Writes golden cases: each kernel's inputs and the exact outputs the models
compute, one folder per case, <dir>/<path>/<case>/ with inputs.safetensors,
expected.safetensors and manifest.json (SPEC §8). With no flags it writes the
default set (every suite, every path) to ./golden in a few seconds; the same
flags give the same bytes on every machine.

Suites: pr26209 (the PR's test shapes), edges (quantizer and path edges),
random (-rows rows, magnitudes 2^-40 … 2^40), logits (paged MQA cases).
Paths: k_v1_store, q_fp4, k_v2_fused, q_fp8, k_fp8, logits (or the kernels'
function names).

Flags:
`

func runGolden(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("golden", stderr)
	out := fs.String("o", "golden", "output directory")
	suites := fs.String("suite", "all", "comma-separated suites: pr26209, edges, random, logits, or all")
	paths := fs.String("path", "all", "comma-separated paths (folder or kernel names), or all")
	rows := fs.Int("rows", golden.DefaultRows, "rows of each random case (Q: tokens × 8 heads; logits: keys, at most 65536)")
	seed := fs.Uint64("seed", golden.DefaultSeed, "seed of every random value (math/rand/v2 PCG)")
	format := fs.String("format", "safetensors", "files per tensor: safetensors, or safetensors,npy to add one .npy per tensor")
	profile := fs.String("profile", golden.DefaultProfile, "model profile: pr26209, optionally with ,KEY=VALUE overrides (manifest option keys)")
	quiet := fs.Bool("q", false, "print only the summary")
	fs.Usage = func() {
		fmt.Fprint(stderr, goldenHelp)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	suiteList, err := parseSuites(*suites)
	if err != nil {
		return err
	}
	kernels, err := parsePaths(*paths)
	if err != nil {
		return err
	}
	if *rows <= 0 {
		return usagef("-rows %d: want a positive count", *rows)
	}
	if *seed == 0 {
		return usagef("-seed 0: want a non-zero seed")
	}
	formats, err := golden.ParseFormats(*format)
	if err != nil {
		return usagef("-format: %v", err)
	}
	prof, err := golden.ParseProfile(*profile)
	if err != nil {
		return usagef("-profile: %v", err)
	}
	cfg := golden.Config{Rows: *rows, Seed: *seed, Kernels: kernels, Profile: prof}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	start := time.Now()
	var n int
	var bytes int64
	var first string
	for _, s := range suiteList {
		err := golden.Generate(s, cfg, func(c golden.Case) error {
			if err := golden.WriteCase(*out, c, formats); err != nil {
				return err
			}
			size := dirSize(filepath.Join(*out, c.Dir()))
			bytes += size
			n++
			if first == "" {
				first = c.Dir()
			}
			if !*quiet {
				fmt.Fprintf(stdout, "  %-28s %-8s %-40s %s\n", filepath.ToSlash(c.Dir()), c.Suite, c.Kernel, humanBytes(size))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("no case matches -suite %s -path %s", *suites, *paths)
	}
	fmt.Fprintf(stdout, "wrote %d cases (%s) to %s in %.1fs (seed %d, profile %s, generator %s)\n",
		n, humanBytes(bytes), *out, time.Since(start).Seconds(), *seed, *profile, golden.Generator)
	ex := filepath.ToSlash(filepath.Join(*out, first))
	fmt.Fprintf(stdout, `
Each case folder holds inputs.safetensors, expected.safetensors and manifest.json
(kernel, options, tensor dtypes and shapes, seed, SHA-256 of every file).
  check a kernel:     run it on the tensors of %[1]s/inputs.safetensors,
                      save its outputs under the same names in OUT.safetensors, then
                      fp4indexer verify -expected %[1]s/expected.safetensors -actual OUT.safetensors
  recompute a case:   fp4indexer run -case %[1]s -o OUT.safetensors
  your own inputs:    fp4indexer run -kernel KERNEL -in INPUTS.safetensors -o OUT.safetensors
  with NumPy only:    python3 examples/python/check_golden.py %[2]s
`, ex, filepath.ToSlash(*out))
	return nil
}

func parseSuites(s string) ([]string, error) {
	if s == "all" || s == "" {
		return golden.Suites(), nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		ok := false
		for _, known := range golden.Suites() {
			ok = ok || part == known
		}
		if !ok {
			return nil, usagef("-suite: unknown suite %q (want %s or all)", part, strings.Join(golden.Suites(), ", "))
		}
		out = append(out, part)
	}
	return out, nil
}

func parsePaths(s string) ([]golden.Kernel, error) {
	if s == "all" || s == "" {
		return nil, nil
	}
	var out []golden.Kernel
	for _, part := range strings.Split(s, ",") {
		k, err := golden.ParseKernel(part)
		if err != nil {
			return nil, usagef("-path: %v", err)
		}
		out = append(out, k)
	}
	return out, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
