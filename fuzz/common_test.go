package fuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// u32 is the unit roundoff of float32 round to nearest, 2^−24.
const u32 = 0x1p-24

func f32(b uint32) float32 { return math.Float32frombits(b) }

func bitsOf(v float32) uint32 { return math.Float32bits(v) }

func sameBits(a, b float32) bool { return bitsOf(a) == bitsOf(b) }

// desc formats a float32 as its bits and value, the form every failure uses.
func desc(v float32) string { return fmt.Sprintf("0x%08X (%g)", bitsOf(v), v) }

func nextUp(v float32) float32   { return math.Nextafter32(v, float32(math.Inf(1))) }
func nextDown(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(-1))) }

// words reads data as little-endian float32 bit patterns; a trailing partial
// word is padded with zero bytes, so every input byte reaches some value.
func words(data []byte) []float32 {
	n := (len(data) + 3) / 4
	x := make([]float32, n)
	var w [4]byte
	for i := range x {
		clear(w[:])
		copy(w[:], data[4*i:])
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(w[:]))
	}
	return x
}

// fixedWords reads exactly n float32 values from data, zero-padded.
func fixedWords(data []byte, n int) []float32 {
	x := make([]float32, n)
	copy(x, words(data))
	return x
}

// le encodes values as little-endian float32 bytes (the inverse of words).
func le(values ...float32) []byte {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// leBits is le for bit patterns.
func leBits(bits ...uint32) []byte {
	b := make([]byte, 4*len(bits))
	for i, v := range bits {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// The seed corpus file format of go test fuzz: a header line, then one Go
// literal per argument of the fuzz function (all targets here take one []byte).
const corpusHeader = "go test fuzz v1\n"

func encodeCorpusFile(data []byte) []byte {
	return []byte(corpusHeader + "[]byte(" + strconv.Quote(string(data)) + ")\n")
}

func decodeCorpusFile(b []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(string(b), corpusHeader)
	if !ok {
		return nil, fmt.Errorf("missing header %q", corpusHeader)
	}
	s = strings.TrimSpace(s)
	lit, ok := strings.CutPrefix(s, "[]byte(")
	if !ok || !strings.HasSuffix(lit, ")") {
		return nil, fmt.Errorf("want one []byte(...) literal, got %.40q", s)
	}
	v, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}

// corpusDir is where go test finds the seeds of a target.
func corpusDir(target string) string { return filepath.Join("testdata", "fuzz", target) }

// readCorpus returns the seed inputs of target by file name, sorted.
func readCorpus(target string) ([]string, map[string][]byte, error) {
	entries, err := os.ReadDir(corpusDir(target))
	if err != nil {
		return nil, nil, err
	}
	data := make(map[string][]byte)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(corpusDir(target), e.Name()))
		if err != nil {
			return nil, nil, err
		}
		v, err := decodeCorpusFile(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/%s: %v", target, e.Name(), err)
		}
		data[e.Name()] = v
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, data, nil
}
