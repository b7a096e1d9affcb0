package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/pagedcache"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = mainRun(append([]string{"layout"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func wantContains(t *testing.T, what, text string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(text, s) {
			t.Errorf("%s lacks %q:\n%s", what, s, text)
		}
	}
}

func TestLayoutLocate(t *testing.T) {
	code, out, errs := runCLI(t, "-format", "fp4", "-page", "64", "-loc", "65")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// The acceptance, and the absolute offsets: page 1 starts at 4352.
	wantContains(t, "fp4 -loc 65", out, "page 1", "slot 1", "payload bytes [64, 128)", "scale bytes [4100, 4104)",
		"buffer bytes [4416, 4480)", "buffer bytes [8452, 8456)", "4352 B/page")

	code, out, _ = runCLI(t, "-format", "fp8", "-loc", "65")
	if code != 0 {
		t.Fatalf("fp8 exit %d", code)
	}
	wantContains(t, "fp8 -loc 65", out, "page 1, slot 1", "payload bytes [128, 256)", "scale bytes [8196, 8200)",
		"buffer bytes [8576, 8704)", "buffer bytes [16644, 16648)", "8448 B/page")

	code, out, _ = runCLI(t, "-page", "32", "-loc", "65", "-size", "100")
	if code != 0 {
		t.Fatalf("P=32 exit %d", code)
	}
	// (100 + 32 + 1) / 32 = 4 pages; 65 = 2·32 + 1.
	wantContains(t, "P=32", out, "4 pages, 8704 bytes, locs [0, 128)", "page 2, slot 1", "scale bytes [2052, 2056)")
}

func TestLayoutUsageErrors(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "c.bin")
	if err := os.WriteFile(raw, make([]byte, 3*4352), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		says []string
	}{
		{[]string{"-page", "48"}, []string{"48", "power of two"}},
		{[]string{"-page", "0"}, []string{"page size 0"}},
		{[]string{"-format", "fp16"}, []string{"fp16", "fp4 or fp8"}},
		{[]string{"-loc", "-1"}, []string{"-1", "[0, pages·64)"}},
		{[]string{"-size", "100", "-loc", "128"}, []string{"128", "[0, 128)"}},
		{[]string{"-size", "-3"}, []string{"-3"}},
		{[]string{"extra"}, []string{"extra"}},
		{[]string{"-page-index", "1"}, []string{"need -dump"}},
		{[]string{"-bogus"}, []string{"bogus"}},
		{[]string{"-dump", raw, "-page-index", "3"}, []string{"page index 3 not in [0, 3)"}},
		{[]string{"-dump", raw, "-loc", "192"}, []string{"page index 3 not in [0, 3)"}},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", tc.args, code, errs)
		}
		wantContains(t, strings.Join(tc.args, " "), errs, tc.says...)
	}
}

func TestLayoutFailures(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.bin")
	if err := os.WriteFile(short, make([]byte, 4351), 0o644); err != nil {
		t.Fatal(err)
	}
	fp8ish := filepath.Join(dir, "fp8.bin")
	if err := os.WriteFile(fp8ish, make([]byte, 8448), 0o644); err != nil {
		t.Fatal(err)
	}
	noCache := writeSafetensors(t, dir, "other.safetensors", "weights", "U8", []int64{1, 4352}, make([]byte, 4352))
	badType := writeSafetensors(t, dir, "f32.safetensors", "cache", "F32", []int64{1, 1088}, make([]byte, 4352))
	badRow := writeSafetensors(t, dir, "row.safetensors", "cache", "U8", []int64{2, 4351}, make([]byte, 8702))
	for _, tc := range []struct {
		args []string
		says []string
	}{
		{[]string{"-dump", filepath.Join(dir, "missing.bin")}, []string{"missing.bin"}},
		{[]string{"-dump", short}, []string{"4351 bytes", "4352"}},
		{[]string{"-dump", fp8ish}, []string{"8448 bytes", "fits -format fp8"}},
		{[]string{"-dump", noCache}, []string{"no tensor named cache, kvcache, kv_cache", "weights"}},
		{[]string{"-dump", badType}, []string{"dtype F32", "U8"}},
		{[]string{"-dump", badRow}, []string{"4351 bytes per page", "4352"}},
	} {
		code, _, errs := runCLI(t, tc.args...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 (%s)", tc.args, code, errs)
		}
		wantContains(t, strings.Join(tc.args, " "), errs, tc.says...)
	}
}

func writeSafetensors(t *testing.T, dir, name, tensor, dtype string, shape []int64, data []byte) string {
	t.Helper()
	head, err := json.Marshal(map[string]any{
		"__metadata__": map[string]string{"format": "pt"},
		tensor:         map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{0, len(data)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(head)))
	b.Write(head)
	b.Write(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLayoutDumpFP4(t *testing.T) {
	l, _ := pagedcache.FP4(64)
	c, err := pagedcache.NewCache(l, 100) // 2 pages
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 64)
	// Byte 0: element 0 = 0x1 (0.5) low, element 1 = 0xF (-6) high. Byte 1: 0x8 (-0), 0x7 (6).
	payload[0], payload[1], payload[16] = 0xF1, 0x78, 0x2A
	if err := c.Store(65, payload, []byte{0x7F, 0x80, 0x7C, 0xFF}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "cache.bin")
	if err := os.WriteFile(raw, c.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "-loc", "65", "-dump", raw)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantContains(t, "fp4 dump", out,
		"2 pages; page 1 at file bytes [4352, 8704)",
		"== payload region: page bytes [0, 4096), 64 slots × 64 B ==",
		"slot 0 (loc 64): payload all zero",
		"slot 1 (loc 65): page bytes [64, 128)   <- loc 65",
		"  0040  f1 78 00",
		"g0 2^0:     0.5   -6   -0    6    0",
		"  0050  2a 00",
		"g1 2^1:      -1    1    0",
		"g3 NaN:",
		"slots 2..63 (locs 66..127): payload all zero",
		"== scale region: page bytes [4096, 4352), 64 slots × 4 B ==",
		"slot 1 (loc 65): page bytes [4100, 4104)  7f 80 7c ff  = 2^0 2^1 2^-3 NaN   <- loc 65",
	)

	// The same page through a safetensors file of SGLang's 4-D view.
	st := writeSafetensors(t, dir, "cache.safetensors", "kvcache", "U8", []int64{2, 64, 1, 68}, c.Data)
	code, out2, errs := runCLI(t, "-loc", "65", "-dump", st)
	if code != 0 {
		t.Fatalf("safetensors exit %d: %s", code, errs)
	}
	wantContains(t, "safetensors dump", out2, "(safetensors tensor kvcache): 2 pages")
	cut := func(s string) string { return s[strings.Index(s, "== payload"):] }
	if cut(out) != cut(out2) {
		t.Error("raw and safetensors dumps of the same page differ")
	}

	// -all prints every slot; page 0 is all zero.
	code, out, _ = runCLI(t, "-dump", raw, "-page-index", "0", "-all")
	if code != 0 || !strings.Contains(out, "slot 63 (loc 63): page bytes [4032, 4096)") {
		t.Errorf("-all: exit %d\n%s", code, out)
	}
}

func TestLayoutDumpFP8(t *testing.T) {
	l, _ := pagedcache.FP8(64)
	c, err := pagedcache.NewCache(l, 0) // 1 page
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 128)
	// E4M3: 0x38 = 1, 0x7E = 448, 0xFE = -448, 0x7F = NaN, 0x01 = 2^-9, 0x08 = 2^-6.
	copy(payload, []byte{0x38, 0x7E, 0xFE, 0x7F, 0x01, 0x08})
	if err := c.Store(3, payload, []byte{0x00, 0x00, 0xC0, 0x3F}); err != nil { // fp32 1.5
		t.Fatal(err)
	}
	raw := filepath.Join(t.TempDir(), "fp8.bin")
	if err := os.WriteFile(raw, c.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "-format", "fp8", "-dump", raw)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantContains(t, "fp8 dump", out,
		"slot 3 (loc 3): page bytes [384, 512)",
		"e4m3: 1 448 -448 NaN 0.001953125 0.015625 0",
		"slot 3 (loc 3): page bytes [8204, 8208)  00 00 c0 3f  = fp32 0x3fc00000 = 1.5",
	)
}

// The display decoders against SPEC §2/§3 and OCP E4M3, written out by hand.
func TestLayoutDecoders(t *testing.T) {
	want := []string{"0", "0.5", "1", "1.5", "2", "3", "4", "6", "-0", "-0.5", "-1", "-1.5", "-2", "-3", "-4", "-6"}
	for code, w := range want {
		if got := e2m1String(byte(code)); got != w {
			t.Errorf("e2m1String(%#x) = %q, want %q", code, got, w)
		}
	}
	for _, tc := range []struct {
		e    byte
		want string
	}{{0, "2^-127"}, {127, "2^0"}, {254, "2^127"}, {255, "NaN"}} {
		if got := ue8m0String(tc.e); got != tc.want {
			t.Errorf("ue8m0String(%d) = %q, want %q", tc.e, got, tc.want)
		}
	}
	for _, tc := range []struct {
		b    byte
		want string
	}{
		{0x00, "0"}, {0x80, "-0"}, {0x01, "0.001953125"}, {0x07, "0.013671875"}, {0x08, "0.015625"},
		{0x38, "1"}, {0x3C, "1.5"}, {0x7E, "448"}, {0xFE, "-448"}, {0x7F, "NaN"}, {0xFF, "NaN"}, {0x78, "256"},
	} {
		if got := e4m3String(tc.b); got != tc.want {
			t.Errorf("e4m3String(%#x) = %q, want %q", tc.b, got, tc.want)
		}
	}
}
