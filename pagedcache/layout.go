package pagedcache

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Geometry of the PR's two token formats (SPEC §1) and the C4 page size (SPEC §5).
const (
	DefaultPageSize = 64 // c4 page: 64 compressed tokens = 256 raw tokens

	FP4PayloadBytes = 64 // 128 E2M1 codes, two per byte, even element in the low nibble
	FP4ScaleBytes   = 4  // one UE8M0 exponent per group of 32, byte g = group g
	FP8PayloadBytes = 128
	FP8ScaleBytes   = 4 // one fp32, little-endian

	BytesPerTokenFP4 = FP4PayloadBytes + FP4ScaleBytes // 68
	BytesPerTokenFP8 = FP8PayloadBytes + FP8ScaleBytes // 132
)

// Limits that keep every offset of a page inside an int32, so the model computes
// the same offsets on every platform. They are far above any deployed value.
const (
	MaxPageSize     = 1 << 16
	MaxTokenBytes   = 1 << 16
	maxPageBytes    = math.MaxInt32
	minPayloadBytes = 1
)

// Errors a caller can test with errors.Is; the returned errors wrap them with the
// offending value and the valid range.
var (
	ErrLayout     = errors.New("pagedcache: invalid layout")
	ErrLoc        = errors.New("pagedcache: loc out of range")
	ErrLength     = errors.New("pagedcache: wrong length")
	ErrBufferSize = errors.New("pagedcache: wrong buffer size")
)

// Order is the arrangement of payloads and scales in a page.
type Order uint8

const (
	// PayloadsThenScales: all P payloads slot-major, then all P scales (SGLang's
	// DeepSeekV4IndexerPool and DeepGEMM's paged kv_cache).
	PayloadsThenScales Order = iota
	// ScalesThenPayloads: all P scales, then all P payloads.
	ScalesThenPayloads
	// InterleavedPayloadScale: one [payload | scale] record per token.
	InterleavedPayloadScale
	// InterleavedScalePayload: one [scale | payload] record per token.
	InterleavedScalePayload
)

func (o Order) String() string {
	switch o {
	case PayloadsThenScales:
		return "payloads then scales"
	case ScalesThenPayloads:
		return "scales then payloads"
	case InterleavedPayloadScale:
		return "interleaved [payload|scale]"
	case InterleavedScalePayload:
		return "interleaved [scale|payload]"
	}
	return fmt.Sprintf("Order(%d)", uint8(o))
}

// Layout describes one page of the cache. The zero value is not valid (PageSize
// 0); FP4, FP8 and Custom build valid ones. ScalesFirst and Interleaved together
// select the Order; both false is SGLang's layout.
type Layout struct {
	PageSize     int  // tokens per page, a power of two
	PayloadBytes int  // bytes of one token's payload (≥ 1)
	ScaleBytes   int  // bytes of one token's scales (≥ 0)
	ScalesFirst  bool // the scale region (or record part) precedes the payload
	Interleaved  bool // per-token records instead of two regions per page
}

// FP4 is the layout of the FP4 indexer cache: 64 payload bytes and 4 UE8M0 scale
// bytes per token, payloads first (SPEC §5).
func FP4(pageSize int) (Layout, error) {
	return Custom(pageSize, FP4PayloadBytes, FP4ScaleBytes, PayloadsThenScales)
}

// FP8 is the layout of the FP8 indexer cache the PR's FP4 path replaces: 128 E4M3
// bytes and one little-endian fp32 scale per token, values first (SPEC §5).
func FP8(pageSize int) (Layout, error) {
	return Custom(pageSize, FP8PayloadBytes, FP8ScaleBytes, PayloadsThenScales)
}

// Custom is a layout of another stack: any payload and scale byte counts in any
// Order.
func Custom(pageSize, payloadBytes, scaleBytes int, order Order) (Layout, error) {
	l := Layout{PageSize: pageSize, PayloadBytes: payloadBytes, ScaleBytes: scaleBytes}
	switch order {
	case PayloadsThenScales:
	case ScalesThenPayloads:
		l.ScalesFirst = true
	case InterleavedPayloadScale:
		l.Interleaved = true
	case InterleavedScalePayload:
		l.Interleaved, l.ScalesFirst = true, true
	default:
		return Layout{}, fmt.Errorf("%w: order %d is not one of 0..3", ErrLayout, uint8(order))
	}
	if err := l.Validate(); err != nil {
		return Layout{}, err
	}
	return l, nil
}

// Validate reports whether the page size is a power of two in [1, MaxPageSize],
// the byte counts are in range and a page fits in an int32.
func (l Layout) Validate() error {
	if l.PageSize < 1 || l.PageSize > MaxPageSize || l.PageSize&(l.PageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d is not a power of two in [1, %d]", ErrLayout, l.PageSize, MaxPageSize)
	}
	if l.PayloadBytes < minPayloadBytes || l.PayloadBytes > MaxTokenBytes {
		return fmt.Errorf("%w: payload bytes %d not in [%d, %d]", ErrLayout, l.PayloadBytes, minPayloadBytes, MaxTokenBytes)
	}
	if l.ScaleBytes < 0 || l.ScaleBytes > MaxTokenBytes {
		return fmt.Errorf("%w: scale bytes %d not in [0, %d]", ErrLayout, l.ScaleBytes, MaxTokenBytes)
	}
	if pb := int64(l.PageSize) * int64(l.PayloadBytes+l.ScaleBytes); pb > maxPageBytes {
		return fmt.Errorf("%w: page of %d bytes exceeds %d", ErrLayout, pb, int64(maxPageBytes))
	}
	return nil
}

// Order is the arrangement the two flags select.
func (l Layout) Order() Order {
	switch {
	case l.Interleaved && l.ScalesFirst:
		return InterleavedScalePayload
	case l.Interleaved:
		return InterleavedPayloadScale
	case l.ScalesFirst:
		return ScalesThenPayloads
	}
	return PayloadsThenScales
}

// BytesPerToken is SGLang's get_bytes_per_token: 68 for FP4, 132 for FP8.
func (l Layout) BytesPerToken() int { return l.PayloadBytes + l.ScaleBytes }

// PageBytes is the page stride: PageSize · BytesPerToken (4352 FP4, 8448 FP8 at
// P = 64).
func (l Layout) PageBytes() int { return l.PageSize * l.BytesPerToken() }

// String names the layout: "fp4", "fp8" or "custom", then its geometry.
func (l Layout) String() string {
	name := "custom"
	if l.Order() == PayloadsThenScales && l.ScaleBytes == 4 {
		switch l.PayloadBytes {
		case FP4PayloadBytes:
			name = "fp4"
		case FP8PayloadBytes:
			name = "fp8"
		}
	}
	return fmt.Sprintf("%s: P=%d, %d+%d B/token, %d B/page, %v",
		name, l.PageSize, l.PayloadBytes, l.ScaleBytes, l.PageBytes(), l.Order())
}

// PagesFor is the number of pages SGLang allocates for a pool of size tokens:
// (size + P + 1) / P.
func (l Layout) PagesFor(size int) (int, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	p := l.PageSize
	if size < 0 || size > math.MaxInt-p-1 {
		return 0, fmt.Errorf("%w: pool size %d not in [0, %d]", ErrLength, size, math.MaxInt-p-1)
	}
	return (size + p + 1) / p, nil
}

// Locate splits loc into page = loc / P and slot = loc % P and gives the byte
// ranges [start, end) of the token's payload and scales inside that page. It knows
// no pool size, so it rejects only a negative loc; Cache.Locate also checks the
// upper bound.
func (l Layout) Locate(loc int64) (page, slot int, payload, scale [2]int, err error) {
	if err = l.Validate(); err != nil {
		return 0, 0, payload, scale, err
	}
	if loc < 0 {
		return 0, 0, payload, scale, fmt.Errorf("%w: loc %d is negative; valid locs are [0, pages·%d)", ErrLoc, loc, l.PageSize)
	}
	shift := uint(bits.TrailingZeros(uint(l.PageSize)))
	if loc>>shift > math.MaxInt32 {
		return 0, 0, payload, scale, fmt.Errorf("%w: loc %d gives page %d, past the int32 page ids of a block table; valid locs are [0, %d)",
			ErrLoc, loc, loc>>shift, (int64(math.MaxInt32)+1)<<shift)
	}
	page = int(loc >> shift)
	slot = int(loc & int64(l.PageSize-1))
	payload, scale = l.slotRanges(slot)
	return page, slot, payload, scale, nil
}

// slotRanges are the in-page byte ranges of slot s of a valid layout.
func (l Layout) slotRanges(s int) (payload, scale [2]int) {
	pb, sb, p := l.PayloadBytes, l.ScaleBytes, l.PageSize
	var ps, ss int
	switch l.Order() {
	case PayloadsThenScales:
		ps, ss = pb*s, pb*p+sb*s
	case ScalesThenPayloads:
		ss, ps = sb*s, sb*p+pb*s
	case InterleavedPayloadScale:
		ps = s * (pb + sb)
		ss = ps + pb
	case InterleavedScalePayload:
		ss = s * (pb + sb)
		ps = ss + sb
	}
	return [2]int{ps, ps + pb}, [2]int{ss, ss + sb}
}

// AbsoluteRanges are Locate's ranges as offsets into the whole layer buffer
// (page · PageBytes added).
func (l Layout) AbsoluteRanges(loc int64) (payload, scale [2]int64, err error) {
	page, _, p, s, err := l.Locate(loc)
	if err != nil {
		return payload, scale, err
	}
	base := int64(page) * int64(l.PageBytes())
	return [2]int64{base + int64(p[0]), base + int64(p[1])}, [2]int64{base + int64(s[0]), base + int64(s[1])}, nil
}

// Regions are the in-page byte ranges of the payload region and the scale region
// of a segregated layout (FP4: [0, 64P) and [64P, 68P)). An interleaved layout has
// no such regions and returns an error.
func (l Layout) Regions() (payloads, scales [2]int, err error) {
	if err = l.Validate(); err != nil {
		return payloads, scales, err
	}
	if l.Interleaved {
		return payloads, scales, fmt.Errorf("%w: %v has no payload and scale regions", ErrLayout, l.Order())
	}
	pr := l.PageSize * l.PayloadBytes
	sr := l.PageSize * l.ScaleBytes
	if l.ScalesFirst {
		return [2]int{sr, sr + pr}, [2]int{0, sr}, nil
	}
	return [2]int{0, pr}, [2]int{pr, pr + sr}, nil
}

// CheckBufferSize checks that n bytes are a whole, positive number of pages of l
// and returns that number.
func (l Layout) CheckBufferSize(n int64) (pages int, err error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	pb := int64(l.PageBytes())
	if n <= 0 || n%pb != 0 {
		return 0, fmt.Errorf("%w: %d bytes is not a positive multiple of the page size %d B (%v)", ErrBufferSize, n, pb, l)
	}
	if n/pb > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %d pages exceed the int32 page ids of a block table (max %d)", ErrBufferSize, n/pb, math.MaxInt32)
	}
	return int(n / pb), nil
}
