// Package safetensors reads and writes the safetensors container, the file
// format of the golden cases (SPEC §8: inputs.safetensors, expected.safetensors)
// and of the GPU ground truth the models are checked against.
//
// No maintained Go package handles BF16, F8_E4M3 and F8_E8M0 together, so this
// one is written from the format's definition, standard library only:
//
//	8 bytes   N, little-endian uint64: the header length
//	N bytes   UTF-8 JSON object: {"__metadata__": {"k": "v", ...},
//	          "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
//	          optionally padded with spaces
//	rest      the byte buffer; [b, e) is relative to its start
//
// Tensor data is little-endian and row-major. The package moves bytes, it never
// rounds: typed views (Float32s, Uint16s, ...) reinterpret bits exactly, NaN
// payloads included, and BF16/F8 tensors are exposed as raw bit patterns for the
// format packages (bf16, fp8, ue8m0) to interpret.
//
// Writing follows the reference implementation (huggingface/safetensors, whose
// serializer Python's safetensors.numpy.save and safetensors.torch.save call):
// tensors sorted by descending dtype alignment (the crate's Dtype enum order),
// then by name; header JSON without spaces, "__metadata__" first, each entry's
// keys in the order dtype, shape, data_offsets; header padded with spaces to a
// multiple of 8 bytes; buffer offsets contiguous from 0. Metadata keys are sorted
// (the reference keeps them in a hash map, so its order is arbitrary). The output
// is therefore deterministic, and byte-identical to the reference writer's for
// files without metadata; the tests pin it with hand-spelled byte vectors,
// including the reference crate's own serialization test vectors.
//
// Reading treats input as hostile. A length is never used to allocate before it
// is checked: the header length against MaxHeaderSize and the input; the header
// must be valid UTF-8 holding exactly one JSON object (spaces may follow it),
// with no duplicate names or keys, known dtypes, non-negative integer shape
// dimensions whose byte size does not overflow, and data_offsets [b, e] with
// e − b equal to that size. Like the reference loader, the offsets must tile the
// buffer exactly: sorted by offset, every tensor starts where the previous one
// ended, the first at 0 and the last ending at the end of the input. Gaps,
// overlaps and trailing bytes are errors, so every file this package accepts
// loads in Python too. Unknown keys inside a tensor entry are rejected as well
// (the reference ignores them), because a golden file is expected to contain only
// what its writer meant. Read(io.Reader) grows its buffers only as bytes
// actually arrive, so a short input claiming a huge size costs nothing.
//
// Errors wrap one of the Err* sentinels, so callers and tests can tell the
// classes apart with errors.Is.
package safetensors

import "errors"

// MaxHeaderSize is the largest header accepted, in bytes: the reference
// loader's limit (100,000,000).
const MaxHeaderSize = 100_000_000

// Error classes. Every error returned for a malformed file wraps exactly one.
var (
	// ErrTruncated: the input ends before the header length, the header or the
	// buffer the offsets describe.
	ErrTruncated = errors.New("safetensors: truncated input")
	// ErrHeaderTooLarge: the header length exceeds MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("safetensors: header too large")
	// ErrInvalidHeader: the header is not valid UTF-8, not a single JSON object,
	// or an entry has a missing, unknown, repeated or mistyped field.
	ErrInvalidHeader = errors.New("safetensors: invalid header")
	// ErrUnknownDType: a dtype this package does not support.
	ErrUnknownDType = errors.New("safetensors: unknown dtype")
	// ErrInvalidShape: a negative or non-integer dimension, or a byte size that
	// overflows.
	ErrInvalidShape = errors.New("safetensors: invalid shape")
	// ErrInvalidOffsets: data_offsets out of range, reversed, not matching the
	// shape's byte size, overlapping, leaving a gap, or not covering the buffer.
	ErrInvalidOffsets = errors.New("safetensors: invalid data offsets")
	// ErrDuplicateName: two tensors with the same name.
	ErrDuplicateName = errors.New("safetensors: duplicate tensor name")
	// ErrInvalidTensor: a Tensor handed to Write or a typed view is inconsistent
	// (data length does not match shape and dtype, reserved or invalid name,
	// wrong dtype for the view).
	ErrInvalidTensor = errors.New("safetensors: invalid tensor")
)
