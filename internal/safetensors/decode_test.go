package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sentinels lists the error classes in a fixed order.
var sentinels = []error{ErrTruncated, ErrHeaderTooLarge, ErrInvalidHeader, ErrUnknownDType, ErrInvalidShape, ErrInvalidOffsets, ErrDuplicateName, ErrInvalidTensor}

// errorClass returns the sentinel err wraps, or nil.
func errorClass(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// u8 is the header entry of a U8 tensor with the given JSON shape and offsets.
func u8(name, shape, offsets string) string {
	return `"` + name + `":{"dtype":"U8","shape":` + shape + `,"data_offsets":` + offsets + `}`
}

func lengthPrefix(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

func TestDecodeRejects(t *testing.T) {
	valid := `{` + u8("a", "[2]", "[0,2]") + `}`
	two := []byte{1, 2}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		// Length prefix and header bounds.
		{"empty input", nil, ErrTruncated},
		{"7 bytes", []byte{1, 0, 0, 0, 0, 0, 0}, ErrTruncated},
		{"header length past the end", append(lengthPrefix(100), valid...), ErrTruncated},
		{"header length over the cap", append(lengthPrefix(MaxHeaderSize+1), valid...), ErrHeaderTooLarge},
		{"header length 2^64-1", append(lengthPrefix(1<<64-1), valid...), ErrHeaderTooLarge},
		// JSON structure.
		{"empty header", rawFile("", nil), ErrInvalidHeader},
		{"invalid UTF-8", rawFile(`{"\xff":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil), ErrInvalidHeader},
		{"not JSON", rawFile(`hello`, nil), ErrInvalidHeader},
		{"top level array", rawFile(`[]`, nil), ErrInvalidHeader},
		{"top level string", rawFile(`"a"`, nil), ErrInvalidHeader},
		{"unterminated object", rawFile(`{"a":{"dtype":"U8"`, nil), ErrInvalidHeader},
		{"trailing garbage", rawFile(valid+"x", two), ErrInvalidHeader},
		{"second object", rawFile(valid+"{}", two), ErrInvalidHeader},
		{"NUL padding", rawFile(valid+"\x00", two), ErrInvalidHeader},
		{"trailing comma", rawFile(`{`+u8("a", "[2]", "[0,2]")+`,}`, two), ErrInvalidHeader},
		{"entry not an object", rawFile(`{"a":[0,2]}`, two), ErrInvalidHeader},
		{"entry null", rawFile(`{"a":null}`, nil), ErrInvalidHeader},
		{"missing dtype", rawFile(`{"a":{"shape":[2],"data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"missing shape", rawFile(`{"a":{"dtype":"U8","data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"missing data_offsets", rawFile(`{"a":{"dtype":"U8","shape":[2]}}`, two), ErrInvalidHeader},
		{"unknown field", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"stride":[1]}}`, two), ErrInvalidHeader},
		{"field in other case", rawFile(`{"a":{"DTYPE":"U8","shape":[2],"data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"field twice", rawFile(`{"a":{"dtype":"U8","dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"dtype not a string", rawFile(`{"a":{"dtype":1,"shape":[2],"data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"shape not an array", rawFile(`{"a":{"dtype":"U8","shape":2,"data_offsets":[0,2]}}`, two), ErrInvalidHeader},
		{"data_offsets not an array", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":"0,2"}}`, two), ErrInvalidHeader},
		{"metadata an array", rawFile(`{"__metadata__":[],`+u8("a", "[2]", "[0,2]")+`}`, two), ErrInvalidHeader},
		{"metadata value a number", rawFile(`{"__metadata__":{"k":1},`+u8("a", "[2]", "[0,2]")+`}`, two), ErrInvalidHeader},
		{"metadata value an object", rawFile(`{"__metadata__":{"k":{}},`+u8("a", "[2]", "[0,2]")+`}`, two), ErrInvalidHeader},
		{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{},`+u8("a", "[2]", "[0,2]")+`}`, two), ErrInvalidHeader},
		{"metadata key twice", rawFile(`{"__metadata__":{"k":"1","k":"2"},`+u8("a", "[2]", "[0,2]")+`}`, two), ErrInvalidHeader},
		// Names and dtypes.
		{"duplicate name", rawFile(`{`+u8("a", "[1]", "[0,1]")+`,`+u8("a", "[1]", "[1,2]")+`}`, two), ErrDuplicateName},
		{"unsupported dtype F4", rawFile(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,2]}}`, two), ErrUnknownDType},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"u8","shape":[2],"data_offsets":[0,2]}}`, two), ErrUnknownDType},
		// Shapes.
		{"negative dimension", rawFile(`{`+u8("a", "[-2]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"minus zero", rawFile(`{`+u8("a", "[-0,2]", "[0,0]")+`}`, nil), ErrInvalidShape},
		{"fractional dimension", rawFile(`{`+u8("a", "[2.0]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"exponent dimension", rawFile(`{`+u8("a", "[2e0]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"string dimension", rawFile(`{`+u8("a", `["2"]`, "[0,2]")+`}`, two), ErrInvalidShape},
		{"null dimension", rawFile(`{`+u8("a", `[null]`, "[0,2]")+`}`, two), ErrInvalidShape},
		{"dimension over uint64", rawFile(`{`+u8("a", "[18446744073709551616]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"dimension over int64", rawFile(`{`+u8("a", "[9223372036854775808]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"element count overflows", rawFile(`{`+u8("a", "[4294967296,4294967296]", "[0,2]")+`}`, two), ErrInvalidShape},
		{"byte size overflows", rawFile(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,2]}}`, two), ErrInvalidShape},
		{"65 dimensions", rawFile(`{`+u8("a", "["+strings.Repeat("1,", 64)+"1]", "[0,1]")+`}`, two[:1]), ErrInvalidShape},
		// Offsets.
		{"begin after end", rawFile(`{`+u8("a", "[2]", "[2,0]")+`}`, two), ErrInvalidOffsets},
		{"span shorter than shape", rawFile(`{`+u8("a", "[2]", "[0,1]")+`}`, two), ErrInvalidOffsets},
		{"span longer than shape", rawFile(`{`+u8("a", "[1]", "[0,2]")+`}`, two), ErrInvalidOffsets},
		{"negative offset", rawFile(`{`+u8("a", "[2]", "[-1,1]")+`}`, two), ErrInvalidOffsets},
		{"fractional offset", rawFile(`{`+u8("a", "[2]", "[0,2.0]")+`}`, two), ErrInvalidOffsets},
		{"one offset", rawFile(`{`+u8("a", "[2]", "[2]")+`}`, two), ErrInvalidOffsets},
		{"three offsets", rawFile(`{`+u8("a", "[2]", "[0,2,4]")+`}`, two), ErrInvalidOffsets},
		{"offsets over int64", rawFile(`{`+u8("a", "[1]", "[18446744073709551614,18446744073709551615]")+`}`, two), ErrInvalidOffsets},
		{"offsets past the end", rawFile(valid, two[:1]), ErrTruncated},
		{"offsets far past the end", rawFile(`{`+u8("a", "[1]", "[0,1]")+`,`+u8("b", "[4611686018427387904]", "[1,4611686018427387905]")+`}`, two), ErrTruncated},
		{"trailing buffer bytes", rawFile(valid, []byte{1, 2, 3}), ErrInvalidOffsets},
		{"gap at the start", rawFile(`{`+u8("a", "[2]", "[1,3]")+`}`, []byte{1, 2, 3}), ErrInvalidOffsets},
		{"gap between tensors", rawFile(`{`+u8("a", "[1]", "[0,1]")+`,`+u8("b", "[1]", "[2,3]")+`}`, []byte{1, 2, 3}), ErrInvalidOffsets},
		{"overlapping tensors", rawFile(`{`+u8("a", "[2]", "[0,2]")+`,`+u8("b", "[2]", "[1,3]")+`}`, []byte{1, 2, 3}), ErrInvalidOffsets},
		{"identical ranges", rawFile(`{`+u8("a", "[2]", "[0,2]")+`,`+u8("b", "[2]", "[0,2]")+`}`, two), ErrInvalidOffsets},
		{"nested ranges", rawFile(`{`+u8("a", "[3]", "[0,3]")+`,`+u8("b", "[1]", "[1,2]")+`}`, []byte{1, 2, 3}), ErrInvalidOffsets},
		{"no tensors but a buffer", rawFile(`{}`, two), ErrInvalidOffsets},
	}
	for _, c := range cases {
		f, err := Decode(c.data)
		if !errors.Is(err, c.want) || f != nil {
			t.Errorf("%s: Decode = %v, %v; want error %v", c.name, f, err, c.want)
		}
		f, err = Read(bytes.NewReader(c.data))
		if !errors.Is(err, c.want) || f != nil {
			t.Errorf("%s: Read = %v, %v; want error %v", c.name, f, err, c.want)
		}
	}
}

func TestDecodeAccepts(t *testing.T) {
	cases := []struct {
		name   string
		data   []byte
		names  []string
		noMeta bool
	}{
		{"no tensors", rawFile(`{}`, nil), []string{}, true},
		{"whitespace everywhere", rawFile(" \n{ \"a\" : {\"data_offsets\" : [ 0 , 2 ] ,\"shape\":[ 2 ],\"dtype\":\"U8\"} }\t\r\n ", []byte{1, 2}), []string{"a"}, true},
		{"null metadata", rawFile(`{"__metadata__":null,`+u8("a", "[2]", "[0,2]")+`}`, []byte{1, 2}), []string{"a"}, true},
		{"metadata last", rawFile(`{`+u8("a", "[2]", "[0,2]")+`,"__metadata__":{"k":"v"}}`, []byte{1, 2}), []string{"a"}, false},
		{"zero-size tensors sharing offsets", rawFile(`{`+u8("z2", "[0]", "[1,1]")+`,`+u8("a", "[1]", "[0,1]")+`,`+u8("z1", "[3,0]", "[1,1]")+`,`+u8("b", "[1]", "[1,2]")+`}`, []byte{1, 2}), []string{"a", "z2", "z1", "b"}, true},
		{"zero dimension beside huge ones", rawFile(`{`+u8("a", "[9223372036854775807,9223372036854775807,0]", "[0,0]")+`}`, nil), []string{"a"}, true},
		{"escaped name", rawFile(`{"a\"\u00e9\n":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, []byte{7}), []string{"a\"é\n"}, true},
		{"64 dimensions", rawFile(`{`+u8("a", "["+strings.Repeat("1,", 63)+"1]", "[0,1]")+`}`, []byte{1}), []string{"a"}, true},
	}
	for _, c := range cases {
		for how, decode := range map[string]func([]byte) (*File, error){
			"Decode": Decode,
			"Read":   func(b []byte) (*File, error) { return Read(bytes.NewReader(b)) },
		} {
			f, err := decode(c.data)
			if err != nil {
				t.Errorf("%s: %s: %v", c.name, how, err)
				continue
			}
			if diff := cmp.Diff(c.names, f.Names()); diff != "" {
				t.Errorf("%s: %s names (-want +got):\n%s", c.name, how, diff)
			}
			if (f.Metadata == nil) != c.noMeta {
				t.Errorf("%s: %s metadata = %v", c.name, how, f.Metadata)
			}
		}
	}
}

// trickleReader returns at most one byte per Read, like a slow pipe.
type trickleReader struct{ r io.Reader }

func (t trickleReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return t.r.Read(p)
}

func TestReadTrickle(t *testing.T) {
	f, err := Read(trickleReader{bytes.NewReader(goldenFile)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 6 {
		t.Fatalf("%d tensors", len(f.Tensors))
	}
	for k := range len(goldenFile) {
		if _, err := Read(trickleReader{bytes.NewReader(goldenFile[:k])}); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d bytes: %v, want ErrTruncated", k, err)
		}
	}
}

// A few bytes claiming a 99 MB header or a 4 EB buffer must fail at the
// bytes' real size, without allocating what they claim.
func TestReadBoundedAllocation(t *testing.T) {
	hugeBuffer := rawFile(`{`+u8("a", "[4611686018427387904]", "[0,4611686018427387904]")+`}`, []byte{1, 2, 3})
	inputs := map[string][]byte{
		"99 MB header claim":  append(lengthPrefix(MaxHeaderSize-1), `{"a":`...),
		"4 EB buffer claim":   hugeBuffer,
		"header length claim": lengthPrefix(MaxHeaderSize),
	}
	for name, data := range inputs {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, errRead := Read(bytes.NewReader(data))
		_, errDecode := Decode(data)
		runtime.ReadMemStats(&after)
		if !errors.Is(errRead, ErrTruncated) || !errors.Is(errDecode, ErrTruncated) {
			t.Errorf("%s: Read %v, Decode %v; want ErrTruncated", name, errRead, errDecode)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte input", name, alloc, len(data))
		}
	}
}

// FuzzDecode: no input panics; Read and Decode agree on every input (same
// tensors, or errors of the same class); an accepted file's tensors fit in it
// and are valid; and re-encoding is a fixed point: Decode(Encode(f)) holds the
// same tensors and metadata, and encodes to the same bytes again.
func FuzzDecode(f *testing.F) {
	f.Add(goldenFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		fromReader, errRead := Read(bytes.NewReader(data))
		if (err == nil) != (errRead == nil) || errorClass(err) != errorClass(errRead) {
			t.Fatalf("Decode error %v, Read error %v", err, errRead)
		}
		if err != nil {
			if errorClass(err) == nil {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		total := 0
		for _, tt := range file.Tensors {
			if err := tt.Validate(); err != nil {
				t.Fatalf("decoded tensor invalid: %v", err)
			}
			total += len(tt.Data)
		}
		if total > len(data) {
			t.Fatalf("decoded %d data bytes from a %d-byte input", total, len(data))
		}
		if diff := cmp.Diff(file, fromReader); diff != "" {
			t.Fatalf("Decode and Read differ (-Decode +Read):\n%s", diff)
		}
		encoded, err := Encode(file)
		if err != nil {
			t.Fatalf("Encode of a decoded file: %v", err)
		}
		again, err := Decode(encoded)
		if err != nil {
			t.Fatalf("Decode of an encoded file: %v", err)
		}
		sortByName := func(ts []Tensor) []Tensor {
			ts = slices.Clone(ts)
			slices.SortFunc(ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
			return ts
		}
		if diff := cmp.Diff(sortByName(file.Tensors), sortByName(again.Tensors)); diff != "" {
			t.Fatalf("tensors changed by a round trip (-before +after):\n%s", diff)
		}
		if len(file.Metadata) > 0 || len(again.Metadata) > 0 {
			if diff := cmp.Diff(file.Metadata, again.Metadata); diff != "" {
				t.Fatalf("metadata changed by a round trip:\n%s", diff)
			}
		}
		reencoded, err := Encode(again)
		if err != nil || !bytes.Equal(reencoded, encoded) {
			t.Fatalf("encoding is not a fixed point (err %v)", err)
		}
	})
}

func benchmarkFile(b *testing.B) (*File, []byte) {
	v := make([]float32, 1<<20)
	for i := range v {
		v[i] = float32(i)
	}
	x, err := FromFloat32s("x", []int{1 << 13, 128}, v)
	if err != nil {
		b.Fatal(err)
	}
	loc, err := FromInt64s("loc", []int{1 << 13}, make([]int64, 1<<13))
	if err != nil {
		b.Fatal(err)
	}
	f := &File{Tensors: []Tensor{x, loc}, Metadata: map[string]string{"page_size": "64"}}
	data, err := Encode(f)
	if err != nil {
		b.Fatal(err)
	}
	return f, data
}

func BenchmarkDecode(b *testing.B) {
	_, data := benchmarkFile(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	_, data := benchmarkFile(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Read(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	f, data := benchmarkFile(b)
	var buf bytes.Buffer
	buf.Grow(len(data))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		buf.Reset()
		if err := Write(&buf, f); err != nil {
			b.Fatal(err)
		}
	}
}
