// Package pagedcache models the paged key cache of the C4 indexer (SPEC §5): the
// byte layout SGLang's DeepSeekV4IndexerPool allocates and DeepGEMM's
// fp8_fp4_paged_mqa_logits reads, a page allocator and block tables in the shape
// that kernel takes, and a capacity model of what the cache costs.
//
// # Layout (SPEC §5)
//
// One buffer per C4 layer holds ((size + P + 1) / P) pages of P·bytes_per_token
// bytes, zero-filled. Token loc lives in page loc / P, slot loc % P (P a power of
// two, so the kernels shift and mask). Inside a page all payloads come first, slot
// major, then all scales:
//
//	FP4: payload of slot s at [64s, 64s+64), 4 UE8M0 scale bytes at [64P + 4s, +4).
//	     68 B/token, 4352 B/page at P = 64.
//	FP8: 128 E4M3 bytes at [128s, +128), fp32 scale (little-endian) at
//	     [128P + 4s, +4). 132 B/token, 8448 B/page at P = 64.
//
// Layout is the descriptor; FP4 and FP8 give the two layouts of the PR and Custom
// gives other stacks' (any payload and scale byte counts, regions in either order
// or interleaved per token). The package moves bytes only: what the bytes mean
// (E2M1 nibbles, UE8M0 exponents, E4M3, fp32) is the business of the format
// packages, so nothing here rounds.
//
// # Bad input
//
// The GPU kernels do no bounds check; this model does. A negative loc, a loc at or
// past pages·P, a page size that is not a power of two, a row of the wrong length
// or a buffer of the wrong size returns an error that names the value and the valid
// range (errors.Is against ErrLayout, ErrLoc, ErrLength, ErrBufferSize, and for the
// allocator ErrOutOfPages, ErrRequest). A method that returns an error has written
// nothing: StoreBatch validates every loc and length before its first write.
//
// # Allocator and block tables
//
// Allocator hands pages to requests the way SGLang's paged token-to-KV allocator
// does, with one difference made on purpose: it is deterministic (the lowest free
// page first), where SGLang's free list is in release order unless it sorts. Page 0
// is reserved by default, as SGLang reserves it for the dummy writes of padded
// tokens; BlockTable pads with page 0 (PadPage), which is what DeepGEMM reads for
// page slots past a request's context.
//
// # How it was verified
//
// The byte offsets are table-tested against SPEC §5 written out by hand (4352 and
// 8448 B/page at P = 64, the offsets of locs 0, 1, 63, 64, 65, …). Store → Load is
// the identity at every loc of a pool for random rows, and the whole buffer is
// compared byte for byte with one built independently from the SPEC formula. The
// capacity numbers are checked against hand arithmetic and exact rationals
// (math/big).
package pagedcache
