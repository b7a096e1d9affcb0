package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rawFile assembles a file from a header given verbatim (no padding added) and
// a buffer, so tests control every byte.
func rawFile(header string, buf []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

// must fails the test on a constructor error: must(t)(FromInt8s(...)).
func must(t *testing.T) func(Tensor, error) Tensor {
	return func(tensor Tensor, err error) Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return tensor
	}
}

func TestDTypeSize(t *testing.T) {
	want := map[DType]int{
		BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1,
		I16: 2, U16: 2, F16: 2, BF16: 2,
		I32: 4, U32: 4, F32: 4,
		I64: 8, U64: 8, F64: 8,
	}
	if len(DTypes()) != len(want) {
		t.Fatalf("DTypes() has %d entries, want %d", len(DTypes()), len(want))
	}
	for _, d := range DTypes() {
		got, err := d.Size()
		if err != nil || got != want[d] {
			t.Errorf("%s.Size() = %d, %v; want %d", d, got, err, want[d])
		}
		if p, err := ParseDType(string(d)); err != nil || p != d {
			t.Errorf("ParseDType(%q) = %q, %v", d, p, err)
		}
	}
	// Real safetensors dtypes this package does not support, and misspellings.
	for _, s := range []string{"", "F4", "F6_E2M3", "C64", "F8_E4M3FNUZ", "f32", "F32 ", "float32"} {
		if _, err := DType(s).Size(); !errors.Is(err, ErrUnknownDType) {
			t.Errorf("DType(%q).Size() error = %v, want ErrUnknownDType", s, err)
		}
		if _, err := ParseDType(s); !errors.Is(err, ErrUnknownDType) {
			t.Errorf("ParseDType(%q) error = %v, want ErrUnknownDType", s, err)
		}
	}
}

// goldenFile is a file built by hand, byte by byte, from the format's
// definition and the reference writer's conventions (descending dtype rank then
// name; no-space JSON; "__metadata__" first with sorted keys; space padding to a
// multiple of 8). Header length 0x198 = 401 JSON bytes + 7 spaces.
var goldenFile = slices.Concat(
	[]byte{0x98, 0x01, 0, 0, 0, 0, 0, 0},
	[]byte(`{"__metadata__":{"eps":"1e-6","page_size":"64"},`+
		`"loc":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},`+
		`"norm":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},`+
		`"x_sf":{"dtype":"I32","shape":[1],"data_offsets":[20,24]},`+
		`"weight":{"dtype":"BF16","shape":[2],"data_offsets":[24,28]},`+
		`"sf":{"dtype":"F8_E8M0","shape":[],"data_offsets":[28,29]},`+
		`"q":{"dtype":"F8_E4M3","shape":[1,2],"data_offsets":[29,31]}}`+
		"       "),
	[]byte{
		0x01, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // loc = 1, -1
		0x00, 0x00, 0x80, 0x3F, // norm = 1.0f
		0x04, 0x03, 0x02, 0x01, // x_sf = 0x01020304
		0x80, 0x3F, 0x00, 0xC0, // weight = bf16 1.0, -2.0
		0x7F,       // sf = 2^0
		0x38, 0xB8, // q = e4m3 1.0, -1.0
	},
)

// goldenTensors lists the golden file's tensors in a scrambled order: Write must
// not depend on it.
func goldenTensors(t *testing.T) *File {
	return &File{
		Metadata: map[string]string{"page_size": "64", "eps": "1e-6"},
		Tensors: []Tensor{
			must(t)(FromF8Bits("q", F8_E4M3, []int{1, 2}, []uint8{0x38, 0xB8})),
			must(t)(FromBF16Bits("weight", []int{2}, []uint16{0x3F80, 0xC000})),
			must(t)(FromF8Bits("sf", F8_E8M0, []int{}, []uint8{0x7F})),
			must(t)(FromInt32s("x_sf", []int{1}, []int32{0x01020304})),
			must(t)(FromInt64s("loc", []int{2}, []int64{1, -1})),
			must(t)(FromFloat32s("norm", []int{1}, []float32{1})),
		},
	}
}

func TestWriteGolden(t *testing.T) {
	got, err := Encode(goldenTensors(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, goldenFile) {
		t.Fatalf("Encode:\n got %q\nwant %q", got, goldenFile)
	}
}

func TestDecodeGolden(t *testing.T) {
	f, err := Decode(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"eps": "1e-6", "page_size": "64"}, f.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"loc", "norm", "x_sf", "weight", "sf", "q"}, f.Names()); diff != "" {
		t.Errorf("names in buffer order (-want +got):\n%s", diff)
	}
	loc, _ := f.Get("loc")
	if v, err := loc.Int64s(); err != nil || !slices.Equal(v, []int64{1, -1}) {
		t.Errorf("loc = %v, %v", v, err)
	}
	norm, _ := f.Get("norm")
	if v, err := norm.Float32s(); err != nil || len(v) != 1 || math.Float32bits(v[0]) != 0x3F800000 {
		t.Errorf("norm = %v, %v", v, err)
	}
	xsf, _ := f.Get("x_sf")
	if v, err := xsf.Int32s(); err != nil || !slices.Equal(v, []int32{0x01020304}) {
		t.Errorf("x_sf = %v, %v", v, err)
	}
	w, _ := f.Get("weight")
	if v, err := w.Uint16s(); err != nil || !slices.Equal(v, []uint16{0x3F80, 0xC000}) {
		t.Errorf("weight = %#x, %v", v, err)
	}
	sf, _ := f.Get("sf")
	if v, err := sf.Uint8s(); err != nil || !slices.Equal(v, []uint8{0x7F}) || sf.NumElements() != 1 || len(sf.Shape) != 0 {
		t.Errorf("sf = %#x (shape %v), %v", v, sf.Shape, err)
	}
	q, _ := f.Get("q")
	if v, err := q.Uint8s(); err != nil || !slices.Equal(v, []uint8{0x38, 0xB8}) || !slices.Equal(q.Shape, []int{1, 2}) {
		t.Errorf("q = %#x (shape %v), %v", v, q.Shape, err)
	}
	if _, ok := f.Get("missing"); ok {
		t.Error(`Get("missing") found a tensor`)
	}
}

// The reference crate's own serialization tests (safetensors/src/tensor.rs:
// test_serialization, test_empty, test_serialization_forced_alignement) pin its
// exact output; ours must match byte for byte.
func TestWriteReferenceVectors(t *testing.T) {
	data := []byte{0, 0, 0, 0, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xA0, 0x40}
	cases := []struct {
		name string
		f    *File
		want []byte
	}{
		{"attn.0", &File{Tensors: []Tensor{{Name: "attn.0", DType: F32, Shape: []int{1, 2, 3}, Data: data}}},
			slices.Concat([]byte{64, 0, 0, 0, 0, 0, 0, 0},
				[]byte(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`), data)},
		{"attn0 padded", &File{Tensors: []Tensor{{Name: "attn0", DType: F32, Shape: []int{1, 1, 2, 3}, Data: data}}},
			slices.Concat([]byte{72, 0, 0, 0, 0, 0, 0, 0},
				[]byte(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `), data)},
		{"empty", &File{}, []byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '}},
		{"empty with metadata", &File{Metadata: map[string]string{"framework": "pt"}},
			slices.Concat([]byte{40, 0, 0, 0, 0, 0, 0, 0}, []byte(`{"__metadata__":{"framework":"pt"}}     `))},
	}
	for _, c := range cases {
		got, err := Encode(c.f)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if _, err := Decode(got); err != nil {
			t.Errorf("%s: Decode: %v", c.name, err)
		}
	}
}

// Files from other writers (like the GPU ground truth: metadata first, tensors
// in neither name nor dtype order, padding) decode in buffer order.
func TestDecodeForeignLayout(t *testing.T) {
	header := `{"__metadata__":{"page_size":"64","scale_variant":"triton"},` +
		`"x_fp4":{"dtype":"I8","shape":[1,2],"data_offsets":[0,2]},` +
		`"cache":{"dtype":"U8","shape":[1,3],"data_offsets":[6,9]},` +
		`"x_sf":{"dtype":"I32","shape":[1],"data_offsets":[2,6]}}   `
	buf := []byte{0xF9, 0x07, 0x70, 0x00, 0x00, 0x00, 1, 2, 3}
	f, err := Decode(rawFile(header, buf))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"x_fp4", "x_sf", "cache"}, f.Names()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	x, _ := f.Get("x_fp4")
	if v, _ := x.Int8s(); !slices.Equal(v, []int8{-7, 7}) {
		t.Errorf("x_fp4 = %v", v)
	}
	sf, _ := f.Get("x_sf")
	if v, _ := sf.Int32s(); !slices.Equal(v, []int32{112}) {
		t.Errorf("x_sf = %v", v)
	}
	c, _ := f.Get("cache")
	if v, _ := c.Uint8s(); !slices.Equal(v, []uint8{1, 2, 3}) {
		t.Errorf("cache = %v", v)
	}
	// Appending to one tensor's Data must not overwrite its neighbour.
	_ = append(x.Data, 0xAA)
	if sf.Data[0] != 0x70 {
		t.Error("append to x_fp4 overwrote x_sf")
	}
}

// patterned returns n bytes that differ from tensor to tensor.
func patterned(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*37)
	}
	return b
}

func TestRoundTripEveryDType(t *testing.T) {
	var tensors []Tensor
	for k, d := range DTypes() {
		size, _ := d.Size()
		data := patterned(6*size, byte(k))
		if d == BOOL {
			data = []byte{0, 1, 1, 0, 1, 0}
		}
		name := "t_" + strings.ToLower(string(d))
		tensors = append(tensors,
			must(t)(New(name, d, []int{2, 3}, data)),
			must(t)(New(name+"_scalar", d, nil, data[:size])),
			must(t)(New(name+"_empty", d, []int{0, 4}, nil)))
	}
	in := &File{Tensors: tensors, Metadata: map[string]string{"k": "v \"quoted\" \\ \n\t\x01 é"}}
	encoded, err := Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	fromDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(fromDisk, encoded) {
		t.Fatalf("WriteFile bytes differ from Encode (err %v)", err)
	}
	decoders := map[string]func() (*File, error){
		"Decode":   func() (*File, error) { return Decode(encoded) },
		"Read":     func() (*File, error) { return Read(bytes.NewReader(encoded)) },
		"ReadFile": func() (*File, error) { return ReadFile(path) },
	}
	for how, decode := range decoders {
		out, err := decode()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if diff := cmp.Diff(in.Metadata, out.Metadata); diff != "" {
			t.Errorf("%s metadata (-want +got):\n%s", how, diff)
		}
		if len(out.Tensors) != len(in.Tensors) {
			t.Fatalf("%s: %d tensors, want %d", how, len(out.Tensors), len(in.Tensors))
		}
		for _, want := range in.Tensors {
			got, ok := out.Get(want.Name)
			if !ok {
				t.Errorf("%s: %q missing", how, want.Name)
				continue
			}
			if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
				t.Errorf("%s: %q = %s%v %x, want %s%v %x", how, want.Name, got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Data)
			}
		}
		// Buffer offsets: every tensor aligned to its element size.
		off := 0
		for _, tt := range out.Tensors {
			size, _ := tt.DType.Size()
			if off%size != 0 {
				t.Errorf("%s: %q (%s) at buffer offset %d, not aligned", how, tt.Name, tt.DType, off)
			}
			off += len(tt.Data)
		}
	}
}

func TestWriteIsOrderIndependent(t *testing.T) {
	f := goldenTensors(t)
	for i := range 10 {
		perm := slices.Clone(f.Tensors)
		for j := range perm {
			k := (j*7 + i*3) % len(perm)
			perm[j], perm[k] = perm[k], perm[j]
		}
		got, err := Encode(&File{Tensors: perm, Metadata: f.Metadata})
		if err != nil || !bytes.Equal(got, goldenFile) {
			t.Fatalf("permutation %d: bytes differ (err %v)", i, err)
		}
	}
}

func TestTypedViews(t *testing.T) {
	f32 := []float32{math.Float32frombits(0x7FC00001), math.Float32frombits(0xFF800000), math.Float32frombits(0x80000000), math.Float32frombits(0x00000001)}
	tt := must(t)(FromFloat32s("f", []int{4}, f32))
	if !bytes.Equal(tt.Data, []byte{1, 0, 0xC0, 0x7F, 0, 0, 0x80, 0xFF, 0, 0, 0, 0x80, 1, 0, 0, 0}) {
		t.Errorf("F32 bytes = %x", tt.Data)
	}
	back, _ := tt.Float32s()
	for i := range f32 {
		if math.Float32bits(back[i]) != math.Float32bits(f32[i]) {
			t.Errorf("F32[%d] = %#08x, want %#08x", i, math.Float32bits(back[i]), math.Float32bits(f32[i]))
		}
	}
	f64 := []float64{math.Float64frombits(0x7FF8000000000001), math.Copysign(0, -1)}
	back64, _ := must(t)(FromFloat64s("d", []int{2}, f64)).Float64s()
	for i := range f64 {
		if math.Float64bits(back64[i]) != math.Float64bits(f64[i]) {
			t.Errorf("F64[%d] bits differ", i)
		}
	}
	add := func(name string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s round trip failed", name)
		}
	}
	i64, _ := must(t)(FromInt64s("a", []int{2}, []int64{math.MinInt64, math.MaxInt64})).Int64s()
	add("Int64s", slices.Equal(i64, []int64{math.MinInt64, math.MaxInt64}))
	u64, _ := must(t)(FromUint64s("a", []int{1}, []uint64{math.MaxUint64})).Uint64s()
	add("Uint64s", slices.Equal(u64, []uint64{math.MaxUint64}))
	i32, _ := must(t)(FromInt32s("a", []int{2}, []int32{math.MinInt32, -1})).Int32s()
	add("Int32s", slices.Equal(i32, []int32{math.MinInt32, -1}))
	u32, _ := must(t)(FromUint32s("a", []int{1}, []uint32{0xDEADBEEF})).Uint32s()
	add("Uint32s", slices.Equal(u32, []uint32{0xDEADBEEF}))
	i16, _ := must(t)(FromInt16s("a", []int{2}, []int16{math.MinInt16, 5})).Int16s()
	add("Int16s", slices.Equal(i16, []int16{math.MinInt16, 5}))
	u16, _ := must(t)(FromUint16s("a", []int{1}, []uint16{0xFFFF})).Uint16s()
	add("Uint16s", slices.Equal(u16, []uint16{0xFFFF}))
	h16, _ := must(t)(FromF16Bits("a", []int{1}, []uint16{0x7E01})).Uint16s()
	add("F16 bits", slices.Equal(h16, []uint16{0x7E01}))
	i8, _ := must(t)(FromInt8s("a", []int{3}, []int8{-128, -1, 127})).Int8s()
	add("Int8s", slices.Equal(i8, []int8{-128, -1, 127}))
	u8, _ := must(t)(FromUint8s("a", []int{1}, []uint8{0xFF})).Uint8s()
	add("Uint8s", slices.Equal(u8, []uint8{0xFF}))
	e5, _ := must(t)(FromF8Bits("a", F8_E5M2, []int{1}, []uint8{0x7F})).Uint8s()
	add("F8_E5M2 bits", slices.Equal(e5, []uint8{0x7F}))
	bs, _ := must(t)(FromBools("a", []int{2}, []bool{true, false})).Bools()
	add("Bools", slices.Equal(bs, []bool{true, false}))

	// Views check the dtype and the data length.
	if _, err := tt.Int32s(); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("Int32s on F32: %v", err)
	}
	if _, err := must(t)(FromInt8s("a", []int{1}, []int8{1})).Uint8s(); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("Uint8s on I8: %v", err)
	}
	short := Tensor{Name: "s", DType: F32, Shape: []int{2}, Data: make([]byte, 7)}
	if _, err := short.Float32s(); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("Float32s on 7 bytes: %v", err)
	}
	if _, err := (Tensor{Name: "b", DType: BOOL, Shape: []int{1}, Data: []byte{2}}).Bools(); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("Bools on byte 2: %v", err)
	}
	// Constructors check the element count and dtype.
	if _, err := FromFloat32s("a", []int{2, 2}, make([]float32, 3)); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("FromFloat32s with 3 values for [2 2]: %v", err)
	}
	if _, err := FromF8Bits("a", U8, []int{1}, []uint8{0}); !errors.Is(err, ErrInvalidTensor) {
		t.Errorf("FromF8Bits(U8): %v", err)
	}
	if _, err := FromInt64s("a", []int{-1}, nil); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("FromInt64s shape [-1]: %v", err)
	}
	if _, err := New("a", "F4", []int{1}, []byte{0}); !errors.Is(err, ErrUnknownDType) {
		t.Errorf("New with F4: %v", err)
	}
	if n := (Tensor{Shape: []int{math.MaxInt / 2, 3}}).NumElements(); n != -1 {
		t.Errorf("NumElements of an overflowing shape = %d, want -1", n)
	}
	if n := (Tensor{Shape: []int{math.MaxInt, math.MaxInt, 0}}).NumElements(); n != 0 {
		t.Errorf("NumElements with a zero dimension = %d, want 0", n)
	}
}

func TestWriteRejects(t *testing.T) {
	good := Tensor{Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}
	cases := []struct {
		name string
		f    *File
		want error
	}{
		{"nil file", nil, ErrInvalidTensor},
		{"short data", &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}, ErrInvalidTensor},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "a", DType: "F4", Shape: []int{1}, Data: []byte{0}}}}, ErrUnknownDType},
		{"negative dimension", &File{Tensors: []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}}, ErrInvalidShape},
		{"65 dimensions", &File{Tensors: []Tensor{{Name: "a", DType: U8, Shape: slices.Repeat([]int{1}, 65), Data: []byte{1}}}}, ErrInvalidShape},
		{"duplicate name", &File{Tensors: []Tensor{good, good}}, ErrDuplicateName},
		{"reserved name", &File{Tensors: []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: []byte{1}}}}, ErrInvalidTensor},
		{"invalid UTF-8 name", &File{Tensors: []Tensor{{Name: "\xff", DType: U8, Shape: []int{1}, Data: []byte{1}}}}, ErrInvalidTensor},
		{"invalid UTF-8 metadata", &File{Tensors: []Tensor{good}, Metadata: map[string]string{"k": "\xc3"}}, ErrInvalidTensor},
	}
	dir := t.TempDir()
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.f); !errors.Is(err, c.want) {
			t.Errorf("%s: Write error = %v, want %v", c.name, err, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: Write wrote %d bytes before failing", c.name, buf.Len())
		}
		if err := WriteFile(filepath.Join(dir, "x"), c.f); !errors.Is(err, c.want) {
			t.Errorf("%s: WriteFile error = %v, want %v", c.name, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed WriteFile calls left %d files behind", len(entries))
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "case.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, goldenTensors(t)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, goldenFile) {
		t.Fatalf("file after WriteFile differs from the golden bytes (err %v)", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after WriteFile, want 1 (no temp files)", len(entries))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", st.Mode().Perm(), err)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "dir"), goldenTensors(t)); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// Strings are escaped as serde_json (the reference writer) escapes them: only
// the quote, the backslash and C0 controls, with \b \f \n \r \t short forms and
// lowercase \u00xx; DEL, HTML characters, U+2028 and non-ASCII stay raw.
func TestHeaderStringEscapes(t *testing.T) {
	value := "a\"b\\c\b\f\n\r\t\x00\x1f\x7fé<>&\u2028"
	f := &File{Metadata: map[string]string{"k": value}}
	got, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	json := `{"__metadata__":{"k":"a\"b\\c\b\f\n\r\t\u0000\u001f` + "\x7f" + `é<>&` + "\u2028" + `"}}`
	want := slices.Concat(binary.LittleEndian.AppendUint64(nil, 64), []byte(json), []byte(" "))
	if len(json) != 63 || !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %q\nwant %q", got, want)
	}
	back, err := Decode(got)
	if err != nil || back.Metadata["k"] != value {
		t.Fatalf("Decode = %q, %v", back.Metadata["k"], err)
	}
}
