package golden

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fp4indexer/fp4indexer/internal/npy"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// Generator names this package's case generator in every manifest. It changes
// only when the bytes of some case change: a constant, so the default set is the
// same file for file on every machine.
const Generator = "fp4indexer-golden/1"

// File names inside a case folder.
const (
	InputsFile   = "inputs.safetensors"
	ExpectedFile = "expected.safetensors"
	ManifestFile = "manifest.json"
	npyDir       = "npy" // npy/inputs/NAME.npy, npy/expected/NAME.npy
)

// Case is one golden case: a kernel's inputs and the exact outputs the model
// computes from them, with what it was made with.
type Case struct {
	Kernel Kernel
	Suite  string // pr26209, edges, random, logits; "" for a case not made here
	Name   string // the case folder, unique within the kernel's path folder
	// Description says in one sentence what the case exercises.
	Description string
	// Seed is the math/rand/v2 PCG seed of the case's random data (0: none).
	Seed uint64
	// Options are the profile options and case scalars (Profile.Options plus
	// max_context_len, next_n), written to the manifest and to both files'
	// __metadata__.
	Options  map[string]string
	Inputs   *st.File
	Expected *st.File
	// ProducedBy is the ground truth's "produced_by" (kept when read; written
	// as this generator's own line).
	ProducedBy string
}

// Dir returns the case folder relative to a golden root: <path>/<name>.
func (c Case) Dir() string { return filepath.Join(c.Kernel.Path(), c.Name) }

// Formats selects the files WriteCase writes besides the two safetensors files
// and the manifest, which it always writes.
type Formats struct {
	// NPY adds one NumPy .npy file per tensor, npy/inputs/NAME.npy and
	// npy/expected/NAME.npy. BF16 and F8 tensors are stored as their bits
	// (<u2, |u1); the manifest's "tensors" keeps the logical dtype.
	NPY bool
}

// ParseFormats reads a comma-separated list of "safetensors" and "npy".
// safetensors files are always written; the list may add npy.
func ParseFormats(s string) (Formats, error) {
	var f Formats
	for _, part := range strings.Split(s, ",") {
		switch strings.TrimSpace(part) {
		case "safetensors", "":
		case "npy":
			f.NPY = true
		default:
			return Formats{}, fmt.Errorf("golden: unknown format %q (want safetensors, npy or safetensors,npy; safetensors is always written)", part)
		}
	}
	return f, nil
}

// The manifest is written from maps, so encoding/json sorts every key; it is
// indented by one space, as the H100 ground truth's manifests are.

// optionJSON writes a decimal integer option as a JSON number (page_size: 64,
// as the ground truth has it) and everything else as a string.
func optionJSON(v string) json.RawMessage {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
		return json.RawMessage(v)
	}
	b, _ := marshalNoEscape(v)
	return b
}

// optionString reads an option back: a JSON string's text or a number's literal.
func optionString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return "", fmt.Errorf("option value %s is neither a string nor a number", raw)
	}
	return n.String(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func tensorTable(f *st.File) map[string][2]any {
	m := make(map[string][2]any, len(f.Tensors))
	for _, t := range f.Tensors {
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		m[t.Name] = [2]any{string(t.DType), shape}
	}
	return m
}

// withMetadata returns a shallow copy of f whose __metadata__ is opts.
func withMetadata(f *st.File, opts map[string]string) *st.File {
	md := make(map[string]string, len(opts))
	for k, v := range opts {
		md[k] = v
	}
	return &st.File{Tensors: f.Tensors, Metadata: md}
}

// WriteCase writes c into root/<path>/<name>/: inputs.safetensors,
// expected.safetensors, the .npy files if asked, and manifest.json last, with
// the SHA-256 of every other file.
//
// The write is atomic per case: everything goes into a fresh temporary folder
// beside the final one (.<name>.tmp-*); then an existing
// folder is renamed aside (.<name>.old-*), the new one renamed into place, and
// the old one removed. A reader sees the old complete set or the new complete
// set; an interrupted run leaves at most a hidden temporary folder, which the
// next WriteCase of that case removes. A rerun over an existing directory thus
// replaces each case cleanly, files it no longer writes included.
func WriteCase(root string, c Case, formats Formats) error {
	if !c.Kernel.Valid() {
		return fmt.Errorf("golden: case %q: unknown kernel %q", c.Name, string(c.Kernel))
	}
	if c.Name == "" || c.Name != filepath.Base(c.Name) || strings.HasPrefix(c.Name, ".") {
		return fmt.Errorf("golden: case name %q is not a plain folder name", c.Name)
	}
	if c.Inputs == nil || c.Expected == nil {
		return fmt.Errorf("golden: case %s: inputs or expected missing", c.Dir())
	}
	parent := filepath.Join(root, c.Kernel.Path())
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	removeStale(parent, c.Name)
	tmp, err := os.MkdirTemp(parent, "."+c.Name+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	sums := map[string]string{}
	inputs := withMetadata(c.Inputs, c.Options)
	expected := withMetadata(c.Expected, c.Options)
	for _, f := range []struct {
		name string
		file *st.File
	}{{InputsFile, inputs}, {ExpectedFile, expected}} {
		sum, err := writeHashed(filepath.Join(tmp, f.name), func(w io.Writer) error { return st.Write(w, f.file) })
		if err != nil {
			return fmt.Errorf("golden: case %s: %s: %w", c.Dir(), f.name, err)
		}
		sums[f.name] = sum
	}
	if formats.NPY {
		for _, part := range []struct {
			dir  string
			file *st.File
		}{{"inputs", c.Inputs}, {"expected", c.Expected}} {
			dir := filepath.Join(tmp, npyDir, part.dir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, t := range part.file.Tensors {
				descr, _, err := npy.DescrFor(t.DType)
				if err != nil {
					return err
				}
				rel := npyDir + "/" + part.dir + "/" + t.Name + ".npy"
				sum, err := writeHashed(filepath.Join(dir, t.Name+".npy"), func(w io.Writer) error {
					return npy.Write(w, descr, t.Shape, t.Data)
				})
				if err != nil {
					return fmt.Errorf("golden: case %s: %s: %w", c.Dir(), rel, err)
				}
				sums[rel] = sum
			}
		}
	}
	m, err := buildManifest(c, inputs, expected, sums)
	if err != nil {
		return err
	}
	if _, err := writeHashed(filepath.Join(tmp, ManifestFile), func(w io.Writer) error {
		_, err := w.Write(m)
		return err
	}); err != nil {
		return err
	}
	final := filepath.Join(parent, c.Name)
	var old string
	if _, err := os.Lstat(final); err == nil {
		o, err := os.MkdirTemp(parent, "."+c.Name+".old-")
		if err != nil {
			return err
		}
		old = filepath.Join(o, c.Name)
		if err := os.Rename(final, old); err != nil {
			os.Remove(o)
			return err
		}
		defer os.RemoveAll(o)
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return err
	}
	return nil
}

// removeStale deletes what an interrupted WriteCase of the same case left.
func removeStale(parent, name string) {
	for _, pattern := range []string{"." + name + ".tmp-*", "." + name + ".old-*"} {
		matches, _ := filepath.Glob(filepath.Join(parent, pattern))
		for _, m := range matches {
			os.RemoveAll(m)
		}
	}
}

// writeHashed creates path, writes it through a buffer and returns its SHA-256
// in hex. It does not fsync: the rename protocol of WriteCase protects against
// an interrupted process, which is the failure that matters here, and syncing a
// gigabyte-sized random set would make it disk-bound (durability across a power
// loss is not promised).
func writeHashed(path string, write func(io.Writer) error) (sum string, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if err := write(bw); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func buildManifest(c Case, inputs, expected *st.File, sums map[string]string) ([]byte, error) {
	opts := make(map[string]json.RawMessage, len(c.Options))
	for k, v := range c.Options {
		opts[k] = optionJSON(v)
	}
	produced := c.ProducedBy
	if produced == "" {
		produced = "fp4indexer Go model (" + Generator + ")"
	}
	m := map[string]any{
		"case":        c.Kernel.Path() + "/" + c.Name,
		"generator":   Generator,
		"kernel":      string(c.Kernel),
		"options":     opts,
		"path":        c.Kernel.Path(),
		"produced_by": produced,
		"sha256":      sums,
		"tensors": map[string]any{
			"inputs":   tensorTable(inputs),
			"expected": tensorTable(expected),
		},
	}
	if c.Suite != "" {
		m["suite"] = c.Suite
	}
	if c.Description != "" {
		m["description"] = c.Description
	}
	if c.Seed != 0 {
		m["seed"] = c.Seed
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readManifest is the subset of manifest.json ReadCase needs; it reads both our
// manifests and the H100 ground truth's.
type readManifest struct {
	Case        string                     `json:"case"`
	Description string                     `json:"description"`
	Kernel      string                     `json:"kernel"`
	Options     map[string]json.RawMessage `json:"options"`
	ProducedBy  string                     `json:"produced_by"`
	Seed        uint64                     `json:"seed"`
	SHA256      map[string]string          `json:"sha256"`
	Suite       string                     `json:"suite"`
}

// ErrChecksum reports a file whose SHA-256 differs from its manifest's.
var ErrChecksum = errors.New("golden: checksum mismatch")

// ReadCase reads the case folder dir: its manifest (ours or the H100 ground
// truth's) and the two safetensors files, after checking the SHA-256 of every
// file the manifest lists. The kernel comes from the manifest's "kernel" field
// (see ParseKernel), or from the folder's parent name when that field is unknown.
func ReadCase(dir string) (Case, error) {
	c, sums, err := readManifestFile(dir)
	if err != nil {
		return Case{}, err
	}
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !filepath.IsLocal(filepath.FromSlash(name)) {
			return Case{}, fmt.Errorf("golden: %s: sha256 entry %q is not a file inside the case", dir, name)
		}
		if err := checkSum(filepath.Join(dir, filepath.FromSlash(name)), sums[name]); err != nil {
			return Case{}, err
		}
	}
	if c.Inputs, err = st.ReadFile(filepath.Join(dir, InputsFile)); err != nil {
		return Case{}, err
	}
	if c.Expected, err = st.ReadFile(filepath.Join(dir, ExpectedFile)); err != nil {
		return Case{}, err
	}
	return c, nil
}

// ReadInputs reads what `fp4indexer run -case` needs: the manifest and
// inputs.safetensors (its SHA-256 checked when the manifest lists it). The
// expected file need not exist; Case.Expected is nil.
func ReadInputs(dir string) (Case, error) {
	c, sums, err := readManifestFile(dir)
	if err != nil {
		return Case{}, err
	}
	path := filepath.Join(dir, InputsFile)
	if want, ok := sums[InputsFile]; ok {
		if err := checkSum(path, want); err != nil {
			return Case{}, err
		}
	}
	if c.Inputs, err = st.ReadFile(path); err != nil {
		return Case{}, err
	}
	return c, nil
}

func readManifestFile(dir string) (Case, map[string]string, error) {
	path := filepath.Join(dir, ManifestFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return Case{}, nil, err
	}
	var m readManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Case{}, nil, fmt.Errorf("golden: %s: %w", path, err)
	}
	k, err := ParseKernel(m.Kernel)
	if err != nil {
		var perr error
		if k, perr = ParseKernel(filepath.Base(filepath.Dir(filepath.Clean(dir)))); perr != nil {
			return Case{}, nil, fmt.Errorf("golden: %s: %w", path, err)
		}
	}
	opts := make(map[string]string, len(m.Options))
	for key, v := range m.Options {
		s, err := optionString(v)
		if err != nil {
			return Case{}, nil, fmt.Errorf("golden: %s: option %s: %w", path, key, err)
		}
		opts[key] = s
	}
	c := Case{Kernel: k, Suite: m.Suite, Description: m.Description, Seed: m.Seed, Options: opts, ProducedBy: m.ProducedBy}
	c.Name = filepath.Base(filepath.Clean(dir))
	if _, name, ok := strings.Cut(m.Case, "/"); ok && name != "" {
		c.Name = name
	}
	return c, m.SHA256, nil
}

func checkSum(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, want) {
		return fmt.Errorf("%w: %s has SHA-256 %s, the manifest says %s", ErrChecksum, path, got, want)
	}
	return nil
}
