package mqa

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/fp8"
	"github.com/fp4indexer/fp4indexer/pagedcache"
)

// InputError reports a bad argument; Arg names it as the Input field (or the
// DeepGEMM argument) it comes from.
type InputError struct {
	Arg string
	Msg string
}

func (e *InputError) Error() string { return "mqa: " + e.Arg + ": " + e.Msg }

func argErr(arg, format string, a ...any) error {
	return &InputError{Arg: arg, Msg: fmt.Sprintf(format, a...)}
}

// Input holds the arguments of DeepGEMM's fp8_fp4_paged_mqa_logits, row-major,
// with the shapes of its Python API. Exactly one of QFP4 and QFP8 is set: QFP4
// (with QSF) selects the FP4 kernel, QFP8 the FP8 one, as DeepGEMM selects FP4
// when q_sf is given.
//
// The head dimension D comes from the cache layout: PayloadBytes = D/2 for FP4
// (D ∈ {64, 128}; for D = 64 scale bytes 2 and 3 are padding and never read) and
// PayloadBytes = D for FP8 (D ∈ {32, 64, 128}); ScaleBytes must be 4. The page
// order of the layout does not matter to the model (it reads tokens through
// pagedcache.Cache.Token); DeepGEMM itself reads only payloads-then-scales pages.
type Input struct {
	B     int // batch size (requests)
	NextN int // query tokens per request (MTP), ≥ 1
	H     int // heads: 8, 16, 32 or 64 (sm90: 32 or 64)

	// FP4 query: packed E2M1 [B, NextN, H, D/2] (byte i = element 2i in the low
	// nibble, 2i+1 in the high one) and UE8M0 scales [B, NextN, H], byte g of
	// each int32 (little-endian) being the exponent of elements [32g, 32g+32).
	QFP4 []byte
	QSF  []int32
	// FP8 query: E4M3 [B, NextN, H, D], no scale (it is folded into Weights).
	QFP8 []fp8.E4M3

	Cache *pagedcache.Cache // the paged K cache (SPEC §5)

	Weights     []float32 // [B·NextN, H]
	ContextLens []int32   // [B, NextN]: row (b, t) sees keys j < ContextLens[b·NextN+t]
	BlockTable  []int32   // [B, MaxBlocks]: key j of request b is in page BlockTable[b·MaxBlocks + j/P], slot j%P
	MaxBlocks   int
	// MaxContextLen is the width of the output, ≥ every context length.
	MaxContextLen int
}

// Format reports which kernel the input selects.
func (in *Input) Format() Format {
	if in.QFP4 != nil || in.QSF != nil {
		return FP4
	}
	return FP8
}

// HeadDim returns D as the cache layout and the format define it.
func (in *Input) HeadDim() int {
	if in.Cache == nil {
		return 0
	}
	if in.Format() == FP4 {
		return 2 * in.Cache.Layout.PayloadBytes
	}
	return in.Cache.Layout.PayloadBytes
}

// Rows is B·NextN, the number of output rows.
func (in *Input) Rows() int { return in.B * in.NextN }

// maxInt32 bounds every size so that the index arithmetic of the model cannot
// overflow on any platform.
const maxInt32 = 1<<31 - 1

// maxOutputElements caps the logits tensor (256 GiB of fp32) so that a bad
// shape is an error rather than a failed allocation.
const maxOutputElements = min(1<<36, math.MaxInt)

// Validate checks every shape and every value the kernel would trust: sizes,
// head count and dimension, the cache geometry, context lengths against the
// output width and the block table, and every block-table entry a valid key
// position reads (entries past a request's last needed page are not read and not
// checked; DeepGEMM reads page 0 there and the consumer masks the result).
func (in *Input) Validate() error {
	if in.B < 0 || in.B > maxInt32 {
		return argErr("B", "%d not in [0, 2^31)", in.B)
	}
	if in.NextN < 1 || in.NextN > maxInt32 {
		return argErr("NextN", "%d is not ≥ 1", in.NextN)
	}
	switch in.H {
	case 8, 16, 32, 64:
	default:
		return argErr("H", "%d not supported (want 8, 16, 32 or 64)", in.H)
	}
	if in.Cache == nil {
		return argErr("Cache", "nil")
	}
	l := in.Cache.Layout
	if err := l.Validate(); err != nil {
		return argErr("Cache", "%v", err)
	}
	if in.Cache.Pages < 1 || int64(len(in.Cache.Data)) != int64(in.Cache.Pages)*int64(l.PageBytes()) {
		return argErr("Cache", "%d bytes for %d pages of %d bytes", len(in.Cache.Data), in.Cache.Pages, l.PageBytes())
	}
	if l.ScaleBytes != 4 {
		return argErr("Cache", "%d scale bytes per token (want 4)", l.ScaleBytes)
	}
	f := in.Format()
	d := in.HeadDim()
	rows := int64(in.B) * int64(in.NextN)
	if rows > maxInt32 {
		return argErr("B", "B·NextN = %d rows is too large", rows)
	}
	heads := rows * int64(in.H)
	switch f {
	case FP4:
		if d != 64 && d != 128 {
			return argErr("Cache", "FP4 payload of %d bytes means D = %d (want 64 or 128)", l.PayloadBytes, d)
		}
		if in.QFP8 != nil {
			return argErr("QFP8", "set together with QFP4/QSF (give one query format)")
		}
		if int64(len(in.QFP4)) != heads*int64(d/2) {
			return argErr("QFP4", "length %d, want B·NextN·H·D/2 = %d", len(in.QFP4), heads*int64(d/2))
		}
		if int64(len(in.QSF)) != heads {
			return argErr("QSF", "length %d, want B·NextN·H = %d", len(in.QSF), heads)
		}
	case FP8:
		if d != 32 && d != 64 && d != 128 {
			return argErr("Cache", "FP8 payload of %d bytes means D = %d (want 32, 64 or 128)", l.PayloadBytes, d)
		}
		if int64(len(in.QFP8)) != heads*int64(d) {
			return argErr("QFP8", "length %d, want B·NextN·H·D = %d", len(in.QFP8), heads*int64(d))
		}
	}
	if int64(len(in.Weights)) != heads {
		return argErr("Weights", "length %d, want B·NextN·H = %d", len(in.Weights), heads)
	}
	if int64(len(in.ContextLens)) != rows {
		return argErr("ContextLens", "length %d, want B·NextN = %d", len(in.ContextLens), rows)
	}
	if in.MaxBlocks < 0 || in.MaxBlocks > maxInt32 {
		return argErr("MaxBlocks", "%d not in [0, 2^31)", in.MaxBlocks)
	}
	if int64(len(in.BlockTable)) != int64(in.B)*int64(in.MaxBlocks) {
		return argErr("BlockTable", "length %d, want B·MaxBlocks = %d", len(in.BlockTable), int64(in.B)*int64(in.MaxBlocks))
	}
	if in.MaxContextLen < 0 || in.MaxContextLen > maxInt32 {
		return argErr("MaxContextLen", "%d not in [0, 2^31)", in.MaxContextLen)
	}
	if rows*int64(in.MaxContextLen) > maxOutputElements {
		return argErr("MaxContextLen", "output of %d × %d logits is larger than %d", rows, in.MaxContextLen, int64(maxOutputElements))
	}
	p := int64(l.PageSize)
	covered := int64(in.MaxBlocks) * p
	for b := 0; b < in.B; b++ {
		longest := int64(0)
		for t := 0; t < in.NextN; t++ {
			r := b*in.NextN + t
			n := int64(in.ContextLens[r])
			switch {
			case n < 0:
				return argErr("ContextLens", "[%d, %d] = %d is negative", b, t, n)
			case n > int64(in.MaxContextLen):
				return argErr("ContextLens", "[%d, %d] = %d exceeds MaxContextLen %d", b, t, n, in.MaxContextLen)
			case n > covered:
				return argErr("ContextLens", "[%d, %d] = %d exceeds the %d keys the block table covers (MaxBlocks %d × page size %d)", b, t, n, covered, in.MaxBlocks, p)
			}
			longest = max(longest, n)
		}
		pages := (longest + p - 1) / p
		for k := int64(0); k < pages; k++ {
			e := in.BlockTable[int64(b)*int64(in.MaxBlocks)+k]
			if e < 0 || int(e) >= in.Cache.Pages {
				return argErr("BlockTable", "[%d, %d] = %d is outside the cache's %d pages", b, k, e, in.Cache.Pages)
			}
		}
	}
	return nil
}

// Key returns views (no copies) of the payload and scale bytes of key position
// j of request b: page BlockTable[b][j/P], slot j%P (SPEC §6), the lookup the
// kernel makes. It checks b, j and the block-table entry.
func (in *Input) Key(b, j int) (payload, scale []byte, err error) {
	if in.Cache == nil {
		return nil, nil, argErr("Cache", "nil")
	}
	p := in.Cache.Layout.PageSize
	if b < 0 || b >= in.B {
		return nil, nil, argErr("b", "%d not in [0, %d)", b, in.B)
	}
	if p < 1 || j < 0 || j/p >= in.MaxBlocks {
		return nil, nil, argErr("j", "%d not in [0, %d)", j, in.MaxBlocks*p)
	}
	if len(in.BlockTable) != in.B*in.MaxBlocks {
		return nil, nil, argErr("BlockTable", "length %d, want B·MaxBlocks = %d", len(in.BlockTable), in.B*in.MaxBlocks)
	}
	page := in.BlockTable[b*in.MaxBlocks+j/p]
	payload, scale = in.Cache.Token(int(page), j%p)
	if payload == nil {
		return nil, nil, argErr("BlockTable", "[%d, %d] = %d is outside the cache's %d pages", b, j/p, page, in.Cache.Pages)
	}
	return payload, scale, nil
}
