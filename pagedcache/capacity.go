package pagedcache

import (
	"fmt"
	"math"
)

// GiB is 2^30 bytes.
const GiB = 1 << 30

// CompressRatio is the number of raw tokens per compressed key of a C4 layer: a
// capacity in compressed keys times CompressRatio is a context length in tokens.
const CompressRatio = 4

// MaxKeys bounds the context of the decode model so no product overflows int64.
const MaxKeys = 1 << 40

// Layer counts of the two DeepSeek V4 models: the number of decoder layers whose
// compress ratio is 4, each of which owns one indexer cache (ratio-128 and ratio-0
// layers have no indexer). The MTP layer is excluded: its ratio is 0.
//
// V4-Pro: the config's compress_ratios is [128,128] + [4,128]×29 + [4,0], 62 entries
// for 61 decoder layers plus the MTP layer; the 4s are 29 + 1 = 30 (source: the
// V4-Pro model code and config, a third-party copy; see the reference note on
// DeepGEMM's MQA logits, §9).
//
// V4-Flash: 43 decoder layers, compress_ratios [0,0] + [4,128]×20 + [4,0] (44
// entries with MTP): layers 0 and 1 are ratio 0, then even layers 2..42 are ratio
// 4 and odd layers 3..41 ratio 128, so 21 ratio-4 layers. Less certain than Pro:
// it rests on secondary sources only (the same note's "[0,0,4,128,…,4,0]", and a
// model-card synopsis of an independent V4-Flash runtime listing "even layers from
// 2 onward" as ratio 4), not on a config we read ourselves.
const (
	V4FlashLayers   = 43
	V4FlashC4Layers = 21
	V4ProLayers     = 61
	V4ProC4Layers   = 30
)

// Model is the part of a model's configuration the indexer cache depends on.
type Model struct {
	Name       string
	Layers     int // decoder layers, MTP excluded
	C4Layers   int // layers with an indexer cache (compress ratio 4)
	IndexHeads int
	IndexTopK  int
}

// V4Flash is DeepSeek-V4-Flash: 21 indexer layers of 43, top-k 512.
func V4Flash() Model {
	return Model{Name: "DeepSeek-V4-Flash", Layers: V4FlashLayers, C4Layers: V4FlashC4Layers, IndexHeads: 64, IndexTopK: 512}
}

// V4Pro is DeepSeek-V4-Pro: 30 indexer layers of 61, top-k 1024.
func V4Pro() Model {
	return Model{Name: "DeepSeek-V4-Pro", Layers: V4ProLayers, C4Layers: V4ProC4Layers, IndexHeads: 64, IndexTopK: 1024}
}

// Bandwidth is a memory bandwidth in bytes per second.
type Bandwidth float64

// Peak HBM bandwidths from the vendors' data sheets (decimal terabytes).
const (
	BandwidthH100 Bandwidth = 3.35e12 // H100 SXM, HBM3
	BandwidthB200 Bandwidth = 8e12    // B200, HBM3e
)

// Seconds is the time to move bytes at b, bytes / b: the memory-bound lower bound
// of a kernel that reads them once.
func (b Bandwidth) Seconds(bytes int64) float64 { return float64(bytes) / float64(b) }

// TokensPerGiB is the number of compressed keys one GiB holds in one layer's cache
// (GiB / BytesPerToken, rounded down): 15790320 FP4, 8134407 FP8.
func (l Layout) TokensPerGiB() int64 { return GiB / int64(l.BytesPerToken()) }

// PagesPerGiB is the number of whole pages one GiB holds in one layer's cache:
// 246723 FP4, 127100 FP8 at P = 64.
func (l Layout) PagesPerGiB() int64 { return GiB / int64(l.PageBytes()) }

// PoolBytes is the size of SGLang's buffer for a pool of size tokens,
// (size + P + 1) / P pages of PageBytes.
func (l Layout) PoolBytes(size int) (int64, error) {
	pages, err := l.PagesFor(size)
	if err != nil {
		return 0, err
	}
	return int64(pages) * int64(l.PageBytes()), nil
}

// BytesPerToken is the indexer cache one compressed key costs over all the
// model's C4 layers.
func (m Model) BytesPerToken(l Layout) int64 { return int64(m.C4Layers) * int64(l.BytesPerToken()) }

// TokensPerGiB is the number of compressed keys one GiB holds across all C4
// layers; times CompressRatio it is raw context tokens.
func (m Model) TokensPerGiB(l Layout) int64 {
	if m.C4Layers <= 0 {
		return 0
	}
	return GiB / m.BytesPerToken(l)
}

// PagesPerGiB is the number of pages one GiB holds when each page number is
// allocated in every C4 layer, as SGLang allocates one loc for all layers.
func (m Model) PagesPerGiB(l Layout) int64 {
	if m.C4Layers <= 0 {
		return 0
	}
	return GiB / (int64(m.C4Layers) * int64(l.PageBytes()))
}

// PoolBytes is the indexer cache of a pool of size tokens over all C4 layers.
func (m Model) PoolBytes(l Layout, size int) (int64, error) {
	b, err := l.PoolBytes(size)
	if err != nil {
		return 0, err
	}
	return int64(m.C4Layers) * b, nil
}

// DecodeRead is what the paged MQA logits kernel reads from the key cache for one
// decode step of a request. Not counted: the query (H·(D/2+4) bytes FP4, H·D
// FP8), the weights (H·4), the block table, and the reads of page 0 that DeepGEMM's
// SM100 kernel makes for page slots between ceil(Keys/P) and its 256-key split
// (the same page over and over, served by L2).
type DecodeRead struct {
	Keys       int64 // compressed keys in the context (context_lens)
	Pages      int64 // pages touched: ceil(Keys / P), per layer, times layers
	PageBytes  int64 // Pages · page size: a kernel that loads whole pages (DeepGEMM's TMA)
	TokenBytes int64 // Keys · BytesPerToken: the bytes that hold the keys
}

// DecodeRead is one layer's read for a context of keys compressed keys.
func (l Layout) DecodeRead(keys int64) (DecodeRead, error) {
	if err := l.Validate(); err != nil {
		return DecodeRead{}, err
	}
	if keys < 0 || keys > MaxKeys {
		return DecodeRead{}, fmt.Errorf("%w: context of %d keys not in [0, %d]", ErrLength, keys, int64(MaxKeys))
	}
	p := int64(l.PageSize)
	pages := (keys + p - 1) / p
	return DecodeRead{
		Keys:       keys,
		Pages:      pages,
		PageBytes:  pages * int64(l.PageBytes()),
		TokenBytes: keys * int64(l.BytesPerToken()),
	}, nil
}

// DecodeRead is the read over all C4 layers for one decode step (Keys stays the
// per-layer context; Pages and bytes are summed over the layers).
func (m Model) DecodeRead(l Layout, keys int64) (DecodeRead, error) {
	if m.C4Layers < 0 || m.C4Layers > math.MaxInt16 {
		return DecodeRead{}, fmt.Errorf("%w: %d C4 layers not in [0, %d]", ErrLength, m.C4Layers, math.MaxInt16)
	}
	d, err := l.DecodeRead(keys)
	if err != nil {
		return DecodeRead{}, err
	}
	n := int64(m.C4Layers)
	d.Pages *= n
	d.PageBytes *= n
	d.TokenBytes *= n
	return d, nil
}

// Seconds is the memory-bound time of the read at b, counting whole pages.
func (d DecodeRead) Seconds(b Bandwidth) float64 { return b.Seconds(d.PageBytes) }

// ReadRatio is a.PageBytes / b.PageBytes: FP4 over FP8 it is 68/132 = 17/33 at any
// context and page size, the bandwidth (and memory-bound time) FP4 saves.
func ReadRatio(a, b DecodeRead) float64 {
	if b.PageBytes == 0 {
		return math.NaN()
	}
	return float64(a.PageBytes) / float64(b.PageBytes)
}
