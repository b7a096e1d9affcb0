package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fp4indexer/fp4indexer/pagedcache"
)

const layoutUsage = `usage: fp4indexer layout [-format fp4|fp8] [-page P] [-loc N] [-size N] [-dump FILE [-page-index N] [-all]]

Shows where a token of the C4 indexer's paged key cache lives (SPEC §5): page
loc/P, slot loc%P, its payload and scale bytes inside the page and in the whole
buffer. With -dump, prints one page of a cache file as hex with the payload and
scale regions marked and the values decoded (FP4: one E2M1 value per nibble, even
element in the low nibble; UE8M0 scales as 2^(e-127); FP8: E4M3 values and the
fp32 scale). FILE is a raw buffer (the bytes of a uint8 [pages, P*bytes_per_token]
tensor) or a .safetensors file with a U8 tensor named cache, kvcache or kv_cache.

`

func runLayout(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("layout", stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), layoutUsage)
		fs.PrintDefaults()
	}
	format := fs.String("format", "fp4", "cache format: fp4 (68 B/token) or fp8 (132 B/token)")
	pageSize := fs.Int("page", pagedcache.DefaultPageSize, "page size P in tokens, a power of two")
	loc := fs.Int64("loc", 0, "token slot index (out_loc) to locate")
	size := fs.Int("size", 0, "pool size in tokens, as SGLang's pool gets it: (size+P+1)/P pages; checks -loc")
	dump := fs.String("dump", "", "cache file to dump one page of (raw or .safetensors)")
	pageIndex := fs.Int("page-index", 0, "page to dump (default: the page of -loc, else 0)")
	all := fs.Bool("all", false, "with -dump, also print the slots that are all zero")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var l pagedcache.Layout
	var err error
	switch *format {
	case "fp4":
		l, err = pagedcache.FP4(*pageSize)
	case "fp8":
		l, err = pagedcache.FP8(*pageSize)
	default:
		return usagef("-format %q: want fp4 or fp8", *format)
	}
	if err != nil {
		return usagef("-page %d: %v", *pageSize, err)
	}
	if set["size"] && *size < 0 {
		return usagef("-size %d: a pool size is at least 0", *size)
	}
	if set["loc"] && *loc < 0 {
		return usagef("-loc %d is negative: valid locs are [0, pages·%d)", *loc, l.PageSize)
	}

	w := bufio.NewWriter(stdout)
	printLayout(w, l, *format)
	if set["size"] {
		pages, err := l.PagesFor(*size)
		if err != nil {
			return usagef("-size %d: %v", *size, err)
		}
		fmt.Fprintf(w, "pool of %d tokens: (%d + %d + 1) / %d = %d pages, %d bytes, locs [0, %d)\n",
			*size, *size, l.PageSize, l.PageSize, pages, int64(pages)*int64(l.PageBytes()), int64(pages)*int64(l.PageSize))
		if set["loc"] && *loc >= int64(pages)*int64(l.PageSize) {
			w.Flush()
			return usagef("-loc %d not in [0, %d) (%d pages × %d slots)", *loc, int64(pages)*int64(l.PageSize), pages, l.PageSize)
		}
	}
	if set["loc"] {
		if err := printLoc(w, l, *format, *loc); err != nil {
			w.Flush()
			return usagef("-loc %d: %v", *loc, err)
		}
	}
	if *dump != "" {
		index := *pageIndex
		if !set["page-index"] && set["loc"] {
			index = int(*loc / int64(l.PageSize))
		}
		var mark int64 = -1
		if set["loc"] {
			mark = *loc
		}
		if err := dumpPage(w, l, *dump, index, mark, *all); err != nil {
			w.Flush()
			return err
		}
	} else if set["page-index"] || set["all"] {
		return usagef("-page-index and -all need -dump FILE")
	}
	return w.Flush()
}

func printLayout(w io.Writer, l pagedcache.Layout, format string) {
	fmt.Fprintf(w, "layout %s: page size %d, %d B/token (%d payload + %d scale), %d B/page, %v\n",
		format, l.PageSize, l.BytesPerToken(), l.PayloadBytes, l.ScaleBytes, l.PageBytes(), l.Order())
	pr, sr, err := l.Regions()
	if err != nil {
		return
	}
	fmt.Fprintf(w, "  payload region: page bytes [%d, %d), slot s at [%d·s, %d·s+%d)\n",
		pr[0], pr[1], l.PayloadBytes, l.PayloadBytes, l.PayloadBytes)
	fmt.Fprintf(w, "  scale region:   page bytes [%d, %d), slot s at [%d+%d·s, %d+%d·s+%d)\n",
		sr[0], sr[1], sr[0], l.ScaleBytes, sr[0], l.ScaleBytes, l.ScaleBytes)
}

func printLoc(w io.Writer, l pagedcache.Layout, format string, loc int64) error {
	page, slot, p, s, err := l.Locate(loc)
	if err != nil {
		return err
	}
	ap, as, err := l.AbsoluteRanges(loc)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "loc %d: page %d, slot %d (page %d starts at buffer byte %d)\n",
		loc, page, slot, page, int64(page)*int64(l.PageBytes()))
	fmt.Fprintf(w, "  payload bytes [%d, %d) of the page; buffer bytes [%d, %d)\n", p[0], p[1], ap[0], ap[1])
	fmt.Fprintf(w, "  scale bytes [%d, %d) of the page; buffer bytes [%d, %d)\n", s[0], s[1], as[0], as[1])
	switch format {
	case "fp4":
		fmt.Fprintf(w, "  payload byte i holds element 2i in bits 3..0 and element 2i+1 in bits 7..4 (E2M1: sign<<3 | idx)\n")
		fmt.Fprintf(w, "  scale byte g (buffer byte %d+g) is the UE8M0 exponent e of elements [32g, 32g+32): scale 2^(e-127)\n", as[0])
	case "fp8":
		fmt.Fprintf(w, "  payload byte d is E4M3 element d; the 4 scale bytes are one fp32, little-endian\n")
	}
	return nil
}

// cacheFile is where the cache tensor's bytes lie in a file.
type cacheFile struct {
	kind   string // "raw" or "safetensors tensor NAME"
	offset int64  // of page 0
	pages  int
}

func openCache(f *os.File, l pagedcache.Layout) (cacheFile, error) {
	st, err := f.Stat()
	if err != nil {
		return cacheFile{}, err
	}
	if strings.HasSuffix(strings.ToLower(f.Name()), ".safetensors") {
		return findSafetensors(f, st.Size(), l)
	}
	pages, err := l.CheckBufferSize(st.Size())
	if err != nil {
		return cacheFile{}, fmt.Errorf("%s: %w%s", f.Name(), err, otherFormatHint(st.Size(), l))
	}
	return cacheFile{kind: "raw", offset: 0, pages: pages}, nil
}

// otherFormatHint names the other format when the size fits it instead.
func otherFormatHint(n int64, l pagedcache.Layout) string {
	for _, o := range []struct {
		name string
		mk   func(int) (pagedcache.Layout, error)
	}{{"fp4", pagedcache.FP4}, {"fp8", pagedcache.FP8}} {
		ol, err := o.mk(l.PageSize)
		if err == nil && ol != l {
			if _, err := ol.CheckBufferSize(n); err == nil {
				return fmt.Sprintf(" (the size fits -format %s)", o.name)
			}
		}
	}
	return ""
}

// maxHeader bounds the JSON header of a safetensors file, as its readers do.
const maxHeader = 100 << 20

func findSafetensors(f *os.File, size int64, l pagedcache.Layout) (cacheFile, error) {
	cacheTensorNames := []string{"cache", "kvcache", "kv_cache"}
	var n [8]byte
	if _, err := f.ReadAt(n[:], 0); err != nil {
		return cacheFile{}, fmt.Errorf("%s: safetensors header length: %w", f.Name(), err)
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	if hlen > maxHeader || int64(hlen) > size-8 {
		return cacheFile{}, fmt.Errorf("%s: safetensors header of %d bytes does not fit a %d-byte file", f.Name(), hlen, size)
	}
	head := make([]byte, hlen)
	if _, err := f.ReadAt(head, 8); err != nil {
		return cacheFile{}, fmt.Errorf("%s: safetensors header: %w", f.Name(), err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(head, &entries); err != nil {
		return cacheFile{}, fmt.Errorf("%s: safetensors header: %w", f.Name(), err)
	}
	for _, name := range cacheTensorNames {
		raw, ok := entries[name]
		if !ok {
			continue
		}
		var t struct {
			Dtype       string  `json:"dtype"`
			Shape       []int64 `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return cacheFile{}, fmt.Errorf("%s: tensor %q: %w", f.Name(), name, err)
		}
		if t.Dtype != "U8" {
			return cacheFile{}, fmt.Errorf("%s: tensor %q has dtype %s, want U8", f.Name(), name, t.Dtype)
		}
		if len(t.Shape) < 2 || len(t.DataOffsets) != 2 {
			return cacheFile{}, fmt.Errorf("%s: tensor %q has shape %v, want [pages, %d]", f.Name(), name, t.Shape, l.PageBytes())
		}
		row := int64(1)
		for _, d := range t.Shape[1:] {
			if d < 0 || d > math.MaxInt32 {
				return cacheFile{}, fmt.Errorf("%s: tensor %q has shape %v", f.Name(), name, t.Shape)
			}
			row *= d
		}
		if row != int64(l.PageBytes()) {
			return cacheFile{}, fmt.Errorf("%s: tensor %q has shape %v: %d bytes per page, want %d (%v)%s",
				f.Name(), name, t.Shape, row, l.PageBytes(), l, otherFormatHint(row, l))
		}
		begin, end := t.DataOffsets[0], t.DataOffsets[1]
		dataStart := 8 + int64(hlen)
		if begin < 0 || end < begin || dataStart+end > size {
			return cacheFile{}, fmt.Errorf("%s: tensor %q has data offsets [%d, %d) outside the %d data bytes", f.Name(), name, begin, end, size-dataStart)
		}
		if t.Shape[0] < 0 || t.Shape[0] > math.MaxInt32 || t.Shape[0]*row != end-begin {
			return cacheFile{}, fmt.Errorf("%s: tensor %q has shape %v but %d data bytes", f.Name(), name, t.Shape, end-begin)
		}
		pages, err := l.CheckBufferSize(end - begin)
		if err != nil {
			return cacheFile{}, fmt.Errorf("%s: tensor %q: %w", f.Name(), name, err)
		}
		return cacheFile{kind: "safetensors tensor " + name, offset: dataStart + begin, pages: pages}, nil
	}
	var names []string
	for k := range entries {
		if k != "__metadata__" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return cacheFile{}, fmt.Errorf("%s: no tensor named %s (the file has %s)", f.Name(),
		strings.Join(cacheTensorNames, ", "), strings.Join(names, ", "))
}

func dumpPage(w io.Writer, l pagedcache.Layout, path string, index int, mark int64, all bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cf, err := openCache(f, l)
	if err != nil {
		return err
	}
	if index < 0 || index >= cf.pages {
		return usagef("page index %d not in [0, %d) (%s has %d pages of %d B)", index, cf.pages, path, cf.pages, l.PageBytes())
	}
	pb := l.PageBytes()
	buf := make([]byte, pb)
	start := cf.offset + int64(index)*int64(pb)
	if _, err := f.ReadAt(buf, start); err != nil {
		return fmt.Errorf("%s: page %d: %w", path, index, err)
	}
	one, err := pagedcache.FromBytes(l, buf)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s (%s): %d pages; page %d at file bytes [%d, %d)\n", path, cf.kind, cf.pages, index, start, start+int64(pb))
	pr, sr, err := l.Regions()
	if err != nil {
		return err
	}
	first := int64(index) * int64(l.PageSize)
	zero := func(s int) bool {
		if first+int64(s) == mark {
			return false
		}
		p, sc := one.Token(0, s)
		return isZero(p) && isZero(sc)
	}
	slots := func(region string, body func(s int)) {
		run := -1
		flush := func(end int) {
			switch {
			case run < 0:
				return
			case run == end-1:
				fmt.Fprintf(w, "  slot %d (loc %d): %s all zero\n", run, first+int64(run), region)
			default:
				fmt.Fprintf(w, "  slots %d..%d (locs %d..%d): %s all zero\n", run, end-1, first+int64(run), first+int64(end-1), region)
			}
			run = -1
		}
		for s := range l.PageSize {
			if !all && zero(s) {
				if run < 0 {
					run = s
				}
				continue
			}
			flush(s)
			body(s)
		}
		flush(l.PageSize)
	}
	note := func(s int) string {
		if first+int64(s) == mark {
			return fmt.Sprintf("   <- loc %d", mark)
		}
		return ""
	}

	fmt.Fprintf(w, "== payload region: page bytes [%d, %d), %d slots × %d B ==\n", pr[0], pr[1], l.PageSize, l.PayloadBytes)
	slots("payload", func(s int) {
		_, _, p, _, _ := l.Locate(int64(s))
		payload, scale := one.Token(0, s)
		fmt.Fprintf(w, "slot %d (loc %d): page bytes [%d, %d)%s\n", s, first+int64(s), p[0], p[1], note(s))
		for off := 0; off < len(payload); off += 16 {
			line := payload[off:min(off+16, len(payload))]
			fmt.Fprintf(w, "  %04x  %s\n", p[0]+off, hexBytes(line))
			switch l.PayloadBytes {
			case pagedcache.FP4PayloadBytes:
				g := off / 16 // 16 bytes = 32 elements = one scale group
				fmt.Fprintf(w, "        g%d %-7s %s\n", g, ue8m0String(scale[g])+":", e2m1Values(line))
			case pagedcache.FP8PayloadBytes:
				fmt.Fprintf(w, "        e4m3: %s\n", e4m3Values(line))
			}
		}
	})

	fmt.Fprintf(w, "== scale region: page bytes [%d, %d), %d slots × %d B ==\n", sr[0], sr[1], l.PageSize, l.ScaleBytes)
	slots("scale", func(s int) {
		_, _, _, sc, _ := l.Locate(int64(s))
		_, scale := one.Token(0, s)
		var dec string
		switch l.PayloadBytes {
		case pagedcache.FP4PayloadBytes:
			parts := make([]string, len(scale))
			for g, e := range scale {
				parts[g] = ue8m0String(e)
			}
			dec = strings.Join(parts, " ")
		case pagedcache.FP8PayloadBytes:
			u := binary.LittleEndian.Uint32(scale)
			dec = fmt.Sprintf("fp32 0x%08x = %s", u, strconv.FormatFloat(float64(math.Float32frombits(u)), 'g', -1, 32))
		}
		fmt.Fprintf(w, "slot %d (loc %d): page bytes [%d, %d)  %s  = %s%s\n", s, first+int64(s), sc[0], sc[1], hexBytes(scale), dec, note(s))
	})
	return nil
}

func isZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, x := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}

// e2m1String decodes one code with SPEC §2's table: magnitudes {0, 0.5, 1, 1.5,
// 2, 3, 4, 6} by the 3 low bits, bit 3 the sign (0x8 is -0). Display only: the
// number formats live in their own packages.
func e2m1String(code byte) string {
	const magnitudes = "0   0.5 1   1.5 2   3   4   6   "
	v := strings.TrimSpace(magnitudes[4*(code&7) : 4*(code&7)+4])
	if code&8 != 0 {
		return "-" + v
	}
	return v
}

// e2m1Values decodes each byte's low nibble (the even element) then its high one.
func e2m1Values(b []byte) string {
	parts := make([]string, 0, 2*len(b))
	for _, x := range b {
		parts = append(parts, fmt.Sprintf("%4s", e2m1String(x&0xF)), fmt.Sprintf("%4s", e2m1String(x>>4)))
	}
	return strings.Join(parts, " ")
}

// ue8m0String is 2^(e-127); 0xFF is NaN (SPEC §3).
func ue8m0String(e byte) string {
	if e == 0xFF {
		return "NaN"
	}
	return fmt.Sprintf("2^%d", int(e)-127)
}

// e4m3String decodes OCP E4M3 "fn": bias 7, no infinities, S.1111.111 NaN.
func e4m3String(x byte) string {
	exp, man := int(x>>3)&0xF, float64(x&7)
	var v float64
	switch {
	case exp == 15 && x&7 == 7:
		return "NaN"
	case exp == 0:
		v = math.Ldexp(man, -9)
	default:
		v = math.Ldexp(8+man, exp-10)
	}
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if x&0x80 != 0 {
		s = "-" + s
	}
	return s
}

func e4m3Values(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = e4m3String(x)
	}
	return strings.Join(parts, " ")
}
