package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// npyFile spells out a version 1.0 file: header length, dict, the number of
// padding spaces before the final '\n', data.
func npyFile(hlen uint16, dict string, spaces int, data []byte) []byte {
	out := []byte("\x93NUMPY\x01\x00")
	out = binary.LittleEndian.AppendUint16(out, hlen)
	out = append(out, dict...)
	out = append(out, strings.Repeat(" ", spaces)...)
	out = append(out, '\n')
	return append(out, data...)
}

// numpyGolden holds files written by numpy.save (NumPy 1.24.2): header length
// field, dict text and padding counted from its output. Each header ends on a
// 64-byte boundary; the last case shows NumPy's padding rule when the header
// would already be aligned (64 more spaces, never 0).
var numpyGolden = []struct {
	name  string
	descr string
	shape []int
	data  []byte
	file  []byte
}{
	{"np.arange(1, 7, dtype='<f4').reshape(2, 3)", "<f4", []int{2, 3},
		[]byte{0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xA0, 0x40, 0, 0, 0xC0, 0x40},
		npyFile(0x76, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58,
			[]byte{0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xA0, 0x40, 0, 0, 0xC0, 0x40})},
	{"np.array(7, 'u1')", "|u1", []int{}, []byte{7},
		npyFile(0x76, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 62, []byte{7})},
	{"np.zeros((0,), 'i8')", "<i8", []int{0}, nil,
		npyFile(0x76, "{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }", 60, nil)},
	{"np.array([-1, 0, 1, -128, 127], 'i1')", "|i1", []int{5}, []byte{0xFF, 0, 1, 0x80, 0x7F},
		npyFile(0x76, "{'descr': '|i1', 'fortran_order': False, 'shape': (5,), }", 60, []byte{0xFF, 0, 1, 0x80, 0x7F})},
	{"np.zeros((1,)*13, 'u2')", "<u2", slices.Repeat([]int{1}, 13), []byte{0, 0},
		npyFile(0x76, "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1), }", 25, []byte{0, 0})},
	{"np.array([True, False])", "|b1", []int{2}, []byte{1, 0},
		npyFile(0x76, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 60, []byte{1, 0})},
	{"np.array([[1.5]])", "<f8", []int{1, 1}, []byte{0, 0, 0, 0, 0, 0, 0xF8, 0x3F},
		npyFile(0x76, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", 58, []byte{0, 0, 0, 0, 0, 0, 0xF8, 0x3F})},
	{"np.zeros((12345678901, 0), 'u4')", "<u4", []int{12345678901, 0}, nil,
		npyFile(0x76, "{'descr': '<u4', 'fortran_order': False, 'shape': (12345678901, 0), }", 48, nil)},
	{"header already aligned: shape (1,)*13 + (100,), '<f4'", "<f4", append(slices.Repeat([]int{1}, 13), 100), make([]byte, 400),
		npyFile(0xB6, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100), }", 84, make([]byte, 400))},
}

func TestWriteMatchesNumPy(t *testing.T) {
	for _, c := range numpyGolden {
		var buf bytes.Buffer
		if err := Write(&buf, c.descr, c.shape, c.data); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(buf.Bytes(), c.file) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, buf.Bytes(), c.file)
		}
		if (len(c.file)-len(c.data))%64 != 0 {
			t.Errorf("%s: golden header is %d bytes, not a multiple of 64", c.name, len(c.file)-len(c.data))
		}
	}
}

func TestReadNumPyFiles(t *testing.T) {
	for _, c := range numpyGolden {
		descr, shape, data, err := Read(bytes.NewReader(c.file))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if descr != c.descr || !slices.Equal(shape, c.shape) || !bytes.Equal(data, c.data) {
			t.Errorf("%s: Read = %q %v %x", c.name, descr, shape, data)
		}
	}
}

func TestRoundTripEveryDescr(t *testing.T) {
	dir := t.TempDir()
	for _, descr := range Descrs() {
		size, err := ItemSize(descr)
		if err != nil {
			t.Fatal(err)
		}
		for _, shape := range [][]int{{}, {3}, {2, 3}, {4, 0, 5}, {1, 2, 1, 3}} {
			n := 1
			for _, d := range shape {
				n *= d
			}
			data := make([]byte, n*size)
			for i := range data {
				data[i] = byte(i*29 + size)
				if descr == "|b1" {
					data[i] &= 1
				}
			}
			path := filepath.Join(dir, "a.npy")
			if err := WriteFile(path, descr, shape, data); err != nil {
				t.Fatalf("%s%v: %v", descr, shape, err)
			}
			gotDescr, gotShape, gotData, err := ReadFile(path)
			if err != nil {
				t.Fatalf("%s%v: %v", descr, shape, err)
			}
			if gotDescr != descr || !slices.Equal(gotShape, shape) || !bytes.Equal(gotData, data) {
				t.Errorf("%s%v: read back %q %v %x", descr, shape, gotDescr, gotShape, gotData)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1 (no temp files)", len(entries))
	}
	if st, err := os.Stat(filepath.Join(dir, "a.npy")); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v; want 0644", st.Mode().Perm(), err)
	}
}

func TestDescrFor(t *testing.T) {
	want := map[safetensors.DType]struct {
		descr string
		view  bool
	}{
		safetensors.BOOL: {"|b1", false}, safetensors.U8: {"|u1", false}, safetensors.I8: {"|i1", false},
		safetensors.I16: {"<i2", false}, safetensors.U16: {"<u2", false}, safetensors.F16: {"<f2", false},
		safetensors.I32: {"<i4", false}, safetensors.U32: {"<u4", false}, safetensors.F32: {"<f4", false},
		safetensors.I64: {"<i8", false}, safetensors.U64: {"<u8", false}, safetensors.F64: {"<f8", false},
		safetensors.BF16: {"<u2", true}, safetensors.F8_E4M3: {"|u1", true},
		safetensors.F8_E5M2: {"|u1", true}, safetensors.F8_E8M0: {"|u1", true},
	}
	for _, d := range safetensors.DTypes() {
		descr, view, err := DescrFor(d)
		w, ok := want[d]
		if !ok || err != nil || descr != w.descr || view != w.view {
			t.Errorf("DescrFor(%s) = %q, %v, %v; want %q, %v", d, descr, view, err, w.descr, w.view)
		}
		// Element sizes agree, so a tensor's bytes go to .npy unchanged.
		ds, _ := d.Size()
		if ns, err := ItemSize(descr); err != nil || ns != ds {
			t.Errorf("%s: item size %d (%v), safetensors size %d", d, ns, err, ds)
		}
	}
	if _, _, err := DescrFor("F4"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("DescrFor(F4) error = %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name  string
		descr string
		shape []int
		data  []byte
		want  error
	}{
		{"data too short", "<f4", []int{2}, make([]byte, 7), ErrSizeMismatch},
		{"data too long", "|u1", []int{2}, make([]byte, 3), ErrSizeMismatch},
		{"negative dimension", "|u1", []int{-1}, nil, ErrInvalidShape},
		{"overflowing shape", "<f8", []int{1 << 62, 4}, nil, ErrInvalidShape},
		{"big-endian descr", ">f4", []int{1}, make([]byte, 4), ErrUnsupported},
		{"non-canonical one-byte descr", "<u1", []int{1}, make([]byte, 1), ErrUnsupported},
		{"python type name", "float32", []int{1}, make([]byte, 4), ErrUnsupported},
		{"quote in descr", "<f4', 'x': '", []int{1}, make([]byte, 4), ErrUnsupported},
		{"65 dimensions", "|u1", slices.Repeat([]int{1}, 65), []byte{0}, ErrInvalidShape},
	}
	dir := t.TempDir()
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.descr, c.shape, c.data); !errors.Is(err, c.want) || buf.Len() != 0 {
			t.Errorf("%s: Write error %v after %d bytes; want %v and nothing written", c.name, err, buf.Len(), c.want)
		}
		if err := WriteFile(filepath.Join(dir, "x.npy"), c.descr, c.shape, c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: WriteFile error %v, want %v", c.name, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed WriteFile calls left %d files", len(entries))
	}
}

// rawV1 builds a v1.0 file whose header is exactly h.
func rawV1(h string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint16([]byte("\x93NUMPY\x01\x00"), uint16(len(h)))
	return append(append(out, h...), data...)
}

// withHeader builds a file around an arbitrary header text (v1.0).
func withHeader(header string, data []byte) []byte {
	return npyFile(uint16(len(header)+1), header, 0, data)
}

func TestReadRejects(t *testing.T) {
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	eight := make([]byte, 8)
	v2 := func(hlen uint32, rest string) []byte {
		return append(binary.LittleEndian.AppendUint32([]byte("\x93NUMPY\x02\x00"), hlen), rest...)
	}
	cases := []struct {
		name string
		file []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"magic only", []byte("\x93NUMPY"), ErrTruncated},
		{"no header length", []byte("\x93NUMPY\x01\x00\x10"), ErrTruncated},
		{"header cut short", withHeader(good, eight)[:40], ErrTruncated},
		{"data cut short", withHeader(good, eight[:7]), ErrTruncated},
		{"trailing data", withHeader(good, make([]byte, 9)), ErrSizeMismatch},
		{"bad magic", append([]byte("\x93NUMPX\x01\x00"), withHeader(good, eight)[8:]...), ErrInvalidHeader},
		{"version 1.1", append([]byte("\x93NUMPY\x01\x01"), withHeader(good, eight)[8:]...), ErrUnsupported},
		{"version 4.0", append([]byte("\x93NUMPY\x04\x00"), withHeader(good, eight)[8:]...), ErrUnsupported},
		{"v2 header length 4 GiB", v2(0xFFFFFFFF, good), ErrHeaderTooLarge},
		{"v2 header length just over the cap", v2(MaxHeaderSize+1, good), ErrHeaderTooLarge},
		{"not a dict", withHeader("['descr']", eight), ErrInvalidHeader},
		{"missing key", withHeader("{'descr': '<f4', 'shape': (2,), }", eight), ErrInvalidHeader},
		{"extra key", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", eight), ErrInvalidHeader},
		{"duplicate key", withHeader("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", eight), ErrInvalidHeader},
		{"unquoted key", withHeader("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}", eight), ErrInvalidHeader},
		{"unterminated string", withHeader("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", eight), ErrInvalidHeader},
		{"escape in string", withHeader(`{'descr': '<f\4', 'fortran_order': False, 'shape': (2,)}`, eight), ErrInvalidHeader},
		{"fortran_order 0", withHeader("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", eight), ErrInvalidHeader},
		{"fortran order", withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", eight), ErrUnsupported},
		{"structured dtype", withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", eight), ErrUnsupported},
		{"big-endian", withHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", eight), ErrUnsupported},
		{"object dtype", withHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,)}", eight), ErrUnsupported},
		{"shape (2) is an int", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", eight), ErrInvalidHeader},
		{"shape a list", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", eight), ErrInvalidHeader},
		{"negative dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", eight), ErrInvalidShape},
		{"leading zero", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}", eight), ErrInvalidHeader},
		{"float dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}", eight), ErrInvalidHeader},
		{"empty dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", eight), ErrInvalidHeader},
		{"double comma", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", eight), ErrInvalidHeader},
		{"dimension overflows int", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", eight), ErrInvalidShape},
		{"size overflows", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 2)}", eight), ErrInvalidShape},
		{"65 dimensions", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': ("+strings.Repeat("1, ", 65)+")}", make([]byte, 4)), ErrInvalidShape},
		{"garbage after dict", withHeader(good+" x", eight), ErrInvalidHeader},
		{"non-ASCII header", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'é': 1}", eight), ErrInvalidHeader},
		{"unclosed dict", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", eight), ErrInvalidHeader},
	}
	for _, c := range cases {
		descr, shape, data, err := Read(bytes.NewReader(c.file))
		if !errors.Is(err, c.want) || descr != "" || shape != nil || data != nil {
			t.Errorf("%s: Read = %q %v %d bytes, %v; want error %v", c.name, descr, shape, len(data), err, c.want)
		}
	}
}

func TestReadAccepts(t *testing.T) {
	cases := []struct {
		name   string
		file   []byte
		descr  string
		shape  []int
		nbytes int
	}{
		{"double quotes, no trailing comma, other key order",
			withHeader(`{"shape": (2, 3),"fortran_order":False ,"descr":"<i2"}`, make([]byte, 12)), "<i2", []int{2, 3}, 12},
		{"no padding, no newline", rawV1("{'descr': '|u1', 'fortran_order': False, 'shape': ()}", []byte{5}), "|u1", []int{}, 1},
		{"version 2.0", append(append(binary.LittleEndian.AppendUint32([]byte("\x93NUMPY\x02\x00"), 58), "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }\n"...), make([]byte, 8)...), "<u8", []int{1}, 8},
		{"trailing comma in a long tuple", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2,)}", make([]byte, 8)), "<f4", []int{1, 2}, 8},
		{"64 dimensions", withHeader("{'descr': '|u1', 'fortran_order': False, 'shape': ("+strings.Repeat("1, ", 64)+")}", []byte{9}), "|u1", slices.Repeat([]int{1}, 64), 1},
		{"zero-size with huge dimension", withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (0, 9223372036854775807)}", nil), "<f8", []int{0, 9223372036854775807}, 0},
	}
	for _, c := range cases {
		descr, shape, data, err := Read(bytes.NewReader(c.file))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if descr != c.descr || !slices.Equal(shape, c.shape) || len(data) != c.nbytes {
			t.Errorf("%s: Read = %q %v %d bytes", c.name, descr, shape, len(data))
		}
	}
}

// A header claiming a huge array over a few bytes of data must fail at the
// data's real size, not allocate what the shape claims.
func TestReadBoundedAllocation(t *testing.T) {
	file := withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,)}", make([]byte, 16))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, _, _, err := Read(bytes.NewReader(file))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("Read error = %v, want ErrTruncated", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte input", alloc, len(file))
	}
}

// FuzzRead: no input panics; an accepted file's data fits in it, has the size
// its shape implies, and Write then Read reproduces descr, shape and data.
func FuzzRead(f *testing.F) {
	for _, c := range numpyGolden {
		f.Add(c.file)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		descr, shape, data, err := Read(bytes.NewReader(file))
		if err != nil {
			for _, class := range []error{ErrTruncated, ErrInvalidHeader, ErrHeaderTooLarge, ErrUnsupported, ErrInvalidShape, ErrSizeMismatch} {
				if errors.Is(err, class) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		if len(data) > len(file) {
			t.Fatalf("%d data bytes from a %d-byte file", len(data), len(file))
		}
		size, err := ItemSize(descr)
		if err != nil {
			t.Fatalf("accepted descr %q: %v", descr, err)
		}
		if want, err := dataSize(shape, size); err != nil || want != len(data) {
			t.Fatalf("%s%v with %d bytes (%v)", descr, shape, len(data), err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, descr, shape, data); err != nil {
			t.Fatalf("Write of an accepted array: %v", err)
		}
		d2, s2, data2, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil || d2 != descr || !slices.Equal(s2, shape) || !bytes.Equal(data2, data) {
			t.Fatalf("round trip: %q %v %v, want %q %v (%v)", d2, s2, len(data2), descr, shape, err)
		}
		if (buf.Len()-len(data))%64 != 0 {
			t.Fatalf("written header of %d bytes is not 64-byte aligned", buf.Len()-len(data))
		}
	})
}

func BenchmarkWrite(b *testing.B) {
	data := make([]byte, 4<<20)
	var buf bytes.Buffer
	buf.Grow(len(data) + 128)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, "<f4", []int{8192, 128}, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, "<f4", []int{8192, 128}, make([]byte, 4<<20)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, _, _, err := Read(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}
