package pagedcache

import (
	"fmt"
	"math"
	"math/bits"
)

// Cache is one layer's buffer: Data is [Pages][Layout.PageBytes()] bytes, row-major,
// the uint8 tensor SGLang allocates and DeepGEMM views as [Pages, P, 1, bytes].
type Cache struct {
	Layout Layout
	Pages  int
	Data   []byte
}

// NewCache allocates SGLang's buffer for a pool of size tokens: (size + P + 1) / P
// zero-filled pages.
func NewCache(l Layout, size int) (*Cache, error) {
	pages, err := l.PagesFor(size)
	if err != nil {
		return nil, err
	}
	n := int64(pages) * int64(l.PageBytes())
	if pages > math.MaxInt32 || n > math.MaxInt {
		return nil, fmt.Errorf("%w: pool size %d needs %d pages (%d bytes), past the limit of %d int32 page ids", ErrBufferSize, size, pages, n, math.MaxInt32)
	}
	return &Cache{Layout: l, Pages: pages, Data: make([]byte, n)}, nil
}

// NewCachePages allocates a zero-filled cache of exactly pages pages (≥ 1), for a
// buffer whose page count is known (a ground-truth file) rather than its pool
// size. No pool size gives 1 page at P = 1, and at P > 1 sizes 0..P-2 all give 1.
func NewCachePages(l Layout, pages int) (*Cache, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if pages < 1 || pages > math.MaxInt32 || int64(pages)*int64(l.PageBytes()) > math.MaxInt {
		return nil, fmt.Errorf("%w: %d pages not in [1, %d]", ErrBufferSize, pages, math.MaxInt32)
	}
	return &Cache{Layout: l, Pages: pages, Data: make([]byte, pages*l.PageBytes())}, nil
}

// FromBytes wraps an existing buffer (a cache read from a file or a GPU copy)
// without copying: the Cache aliases data. len(data) must be a positive multiple
// of the page size.
func FromBytes(l Layout, data []byte) (*Cache, error) {
	pages, err := l.CheckBufferSize(int64(len(data)))
	if err != nil {
		return nil, err
	}
	return &Cache{Layout: l, Pages: pages, Data: data}, nil
}

// Tokens is the number of locs the buffer holds, Pages · P.
func (c *Cache) Tokens() int64 { return int64(c.Pages) * int64(c.Layout.PageSize) }

// check guards against a Cache built by hand with inconsistent fields, so the
// methods return an error instead of slicing out of bounds.
func (c *Cache) check() error {
	if c == nil {
		return fmt.Errorf("%w: nil cache", ErrBufferSize)
	}
	if err := c.Layout.Validate(); err != nil {
		return err
	}
	if c.Pages < 1 || int64(len(c.Data)) != int64(c.Pages)*int64(c.Layout.PageBytes()) {
		return fmt.Errorf("%w: %d bytes for %d pages of %d B (want %d)", ErrBufferSize,
			len(c.Data), c.Pages, c.Layout.PageBytes(), int64(c.Pages)*int64(c.Layout.PageBytes()))
	}
	return nil
}

// Locate is Layout.Locate with the pool's upper bound: loc must be in
// [0, Pages · P).
func (c *Cache) Locate(loc int64) (page, slot int, payload, scale [2]int, err error) {
	if err = c.check(); err != nil {
		return 0, 0, payload, scale, err
	}
	if loc < 0 || loc >= c.Tokens() {
		return 0, 0, payload, scale, c.locError(loc)
	}
	return c.Layout.Locate(loc)
}

// offsets are the absolute payload and scale offsets of loc in a checked cache.
func (c *Cache) offsets(loc int64) (p, s int, err error) {
	if loc < 0 || loc >= c.Tokens() {
		return 0, 0, c.locError(loc)
	}
	l := c.Layout
	shift := uint(bits.TrailingZeros(uint(l.PageSize)))
	base := int(loc>>shift) * l.PageBytes()
	pr, sr := l.slotRanges(int(loc & int64(l.PageSize-1)))
	return base + pr[0], base + sr[0], nil
}

func (c *Cache) locError(loc int64) error {
	return fmt.Errorf("%w: loc %d not in [0, %d) (%d pages × %d slots)",
		ErrLoc, loc, c.Tokens(), c.Pages, c.Layout.PageSize)
}

func (c *Cache) checkRow(payload, scale []byte) error {
	if len(payload) != c.Layout.PayloadBytes {
		return fmt.Errorf("%w: payload has %d bytes, want %d (%v)", ErrLength, len(payload), c.Layout.PayloadBytes, c.Layout)
	}
	if len(scale) != c.Layout.ScaleBytes {
		return fmt.Errorf("%w: scale has %d bytes, want %d (%v)", ErrLength, len(scale), c.Layout.ScaleBytes, c.Layout)
	}
	return nil
}

// Store writes one token's payload and scale bytes at loc, as the paged store of
// both K kernels does.
func (c *Cache) Store(loc int64, payload, scale []byte) error {
	if err := c.check(); err != nil {
		return err
	}
	if err := c.checkRow(payload, scale); err != nil {
		return err
	}
	p, s, err := c.offsets(loc)
	if err != nil {
		return err
	}
	copy(c.Data[p:], payload)
	copy(c.Data[s:], scale)
	return nil
}

// StoreRow stores a token given as one record, payload then scales
// (BytesPerToken bytes: the per-token row of DeepGEMM's [.., P, 1, D/2+4] view).
func (c *Cache) StoreRow(loc int64, row []byte) error {
	if err := c.check(); err != nil {
		return err
	}
	if len(row) != c.Layout.BytesPerToken() {
		return fmt.Errorf("%w: row has %d bytes, want %d (%v)", ErrLength, len(row), c.Layout.BytesPerToken(), c.Layout)
	}
	return c.Store(loc, row[:c.Layout.PayloadBytes], row[c.Layout.PayloadBytes:])
}

// StoreBatch stores token i's payloads[i·PayloadBytes:][:PayloadBytes] and
// scales[i·ScaleBytes:][:ScaleBytes] at locs[i], all or nothing: every loc and
// both lengths are checked before the first byte is written. Repeated locs are
// written in index order, so the last one wins; the GPU kernels write tokens in
// parallel and leave that order unspecified (SGLang points every padded token at
// slot 0, whose content nothing reads).
func (c *Cache) StoreBatch(locs []int64, payloads, scales []byte) error {
	if err := c.check(); err != nil {
		return err
	}
	n := len(locs)
	pb, sb := c.Layout.PayloadBytes, c.Layout.ScaleBytes
	if int64(len(payloads)) != int64(n)*int64(pb) {
		return fmt.Errorf("%w: payloads have %d bytes, want %d locs × %d = %d", ErrLength, len(payloads), n, pb, int64(n)*int64(pb))
	}
	if int64(len(scales)) != int64(n)*int64(sb) {
		return fmt.Errorf("%w: scales have %d bytes, want %d locs × %d = %d", ErrLength, len(scales), n, sb, int64(n)*int64(sb))
	}
	limit := c.Tokens()
	for i, loc := range locs {
		if loc < 0 || loc >= limit {
			return fmt.Errorf("locs[%d]: %w; nothing was written", i, c.locError(loc))
		}
	}
	for i, loc := range locs {
		p, s, _ := c.offsets(loc) // every loc was checked above
		copy(c.Data[p:p+pb], payloads[i*pb:])
		copy(c.Data[s:s+sb], scales[i*sb:])
	}
	return nil
}

// Load returns copies of the payload and scale bytes at loc.
func (c *Cache) Load(loc int64) (payload, scale []byte, err error) {
	if err := c.check(); err != nil {
		return nil, nil, err
	}
	p, s, err := c.offsets(loc)
	if err != nil {
		return nil, nil, err
	}
	payload = append([]byte(nil), c.Data[p:p+c.Layout.PayloadBytes]...)
	scale = append(make([]byte, 0, c.Layout.ScaleBytes), c.Data[s:s+c.Layout.ScaleBytes]...)
	return payload, scale, nil
}

// LoadRow returns a copy of the token at loc as one record, payload then scales.
func (c *Cache) LoadRow(loc int64) ([]byte, error) {
	p, s, err := c.Load(loc)
	if err != nil {
		return nil, err
	}
	return append(p, s...), nil
}

// Token returns views (no copy) of the payload and scales of slot of page, for the
// scorer's hot path, which walks pages it got from a checked block table. The
// views' capacity ends with the token, so an append cannot overwrite a neighbour.
// An out-of-range page or slot, or an inconsistent Cache, gives nil, nil; use View
// for an error instead.
func (c *Cache) Token(page, slot int) (payload, scale []byte) {
	if c == nil {
		return nil, nil
	}
	l := c.Layout
	if page < 0 || page >= c.Pages || slot < 0 || slot >= l.PageSize ||
		l.Validate() != nil || len(c.Data) != c.Pages*l.PageBytes() {
		return nil, nil
	}
	base := page * l.PageBytes()
	pr, sr := l.slotRanges(slot)
	return c.Data[base+pr[0] : base+pr[1] : base+pr[1]], c.Data[base+sr[0] : base+sr[1] : base+sr[1]]
}

// View is Token addressed by loc, with an error for a bad loc.
func (c *Cache) View(loc int64) (payload, scale []byte, err error) {
	page, slot, _, _, err := c.Locate(loc)
	if err != nil {
		return nil, nil, err
	}
	payload, scale = c.Token(page, slot)
	return payload, scale, nil
}

// Page returns a view of page i, PageBytes long.
func (c *Cache) Page(i int) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if i < 0 || i >= c.Pages {
		return nil, fmt.Errorf("%w: page %d not in [0, %d)", ErrLoc, i, c.Pages)
	}
	pb := c.Layout.PageBytes()
	return c.Data[i*pb : (i+1)*pb : (i+1)*pb], nil
}

// PageRegions returns views of page i's payload region (P payloads, slot-major)
// and scale region (P scales), the two blocks a DeepGEMM-style kernel loads. An
// interleaved layout has no regions and returns an error.
func (c *Cache) PageRegions(i int) (payloads, scales []byte, err error) {
	pg, err := c.Page(i)
	if err != nil {
		return nil, nil, err
	}
	pr, sr, err := c.Layout.Regions()
	if err != nil {
		return nil, nil, err
	}
	return pg[pr[0]:pr[1]:pr[1]], pg[sr[0]:sr[1]:sr[1]], nil
}
