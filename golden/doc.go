// Package golden writes and reads the golden cases of the FP4 indexer: each
// kernel's inputs and the exact outputs the models compute from them (SPEC §4–§6),
// in the file schema of SPEC §8, which the H100 ground truth in
// testdata/conformance uses as well. It is the library behind `fp4indexer
// golden`, `run` and `verify`.
//
// # Paths and files
//
// A Kernel names a path by the Python function that runs it on the GPU; its
// Path is the case folder:
//
//	k_v1_store  store_fp4_index_k_cache                  input, loc -> x_fp4, x_sf, cache
//	q_fp4       fused_q_indexer_rope_hadamard_fp4_quant  q_input, weight, freqs_cis, positions -> q_fp4, q_sf, weights_out
//	k_v2_fused  fused_norm_rope_indexer_fp4              kv, norm_weight, freqs_cis, positions, out_loc [, norm_factor] -> kvcache, norm_factor
//	q_fp8       fused_q_indexer_rope_hadamard_quant      as q_fp4 -> q_fp8, weights_out
//	k_fp8       fused_norm_rope_indexer                  as k_v2_fused -> kvcache (132-byte layout), norm_factor
//	logits      fp8_fp4_paged_mqa_logits                 q [, q_sf], kv_cache, weights, context_lens, block_table -> logits
//
// One case is a folder <path>/<case>/ holding inputs.safetensors,
// expected.safetensors and manifest.json (optionally npy/inputs/*.npy and
// npy/expected/*.npy). The manifest is JSON with sorted keys: case, description,
// generator (the constant Generator), kernel, options (every profile option and
// the case's scalars, also in each file's __metadata__), path, produced_by, seed,
// sha256 (of every other file), suite, and tensors (dtype and shape of each
// input and expected tensor).
//
// Compute is the heart of `run`: it maps the named tensors of a kernel call onto
// the indexer and mqa models and back, checking dtypes and shapes with errors
// that name the tensor. The suites build their inputs and then call Compute, so a
// golden case is by construction what `run` gives on its inputs.
//
// # Suites
//
// pr26209: the shapes of the PR's own tests (test_fp4_indexer.py): quantizer and
// store tokens {1, 7, 16, 96} with the forced row [−8, −6, −3, −1.5, 0, 0.5, 2, 8],
// fused Q batches {1, 5, 17} × 8 heads at RoPE positions (7·i) mod 63, fused K
// tokens {1, 16, 96} with seq_lens 4·(1..n) (RoPE positions 4·i), and the PR
// benchmark's logits settings (64 heads, block 64, next_n 1) at a small size.
//
// edges: every E2M1 threshold t·2^k with its ±1 ulp neighbours, amax = 3·2^k and
// 6·2^k ± 1 ulp, the 1e-4 ≤ amax < 6e-4 region, all-zero and −0 groups, NaNs,
// ±Inf, subnormals, the largest finite values, in bf16 and fp32; for the fused
// paths also one-hot rows and rows whose Hadamard sums overflow; for the logits,
// scale bytes 0, 1, 254 and 255 forced into the cache and the queries (no
// quantizer writes 0 or 1: its floor is 1e-4).
//
// random: Config.Rows rows, magnitudes 2^−40 … 2^40 per row, bf16 and fp32.
//
// logits: paged MQA logits with ragged context lengths, next_n 1 and 2, FP4 and
// FP8, keys stored by the K producer through a scattered page table from the
// pagedcache allocator, queries from the Q producer.
//
// # Determinism
//
// Every random value comes from math/rand/v2's PCG, seeded with Config.Seed
// (DefaultSeed 26209) and the FNV-1a hash of "<path>/<case>" (the large random
// cases: one stream per block of 1024 rows, the hash mixed with the block index).
// Values are built from integers and powers of two only, never from
// transcendental functions; the RoPE tables come from rope.Plain. Outputs never
// depend on map order, time or the number of goroutines, and the manifest is
// written with sorted keys and no floats. The default set is byte-identical on
// amd64 (GOAMD64=v1 and v3) and arm64; CI compares the SHA-256 of every file.
//
// # Verification
//
// Compute reproduces every expected tensor of the H100 ground truth byte for
// byte (tests). examples/python/check_golden.py recomputes every default case
// bit for bit with an independent NumPy implementation of each kernel.
package golden
