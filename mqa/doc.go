// Package mqa models DeepGEMM's paged MQA logits kernel,
// fp8_fp4_paged_mqa_logits (SPEC §6), the scorer of the DeepSeek V4 indexer,
// over the paged caches of package pagedcache:
//
//	logit[r, j] = Σ_h w[r,h] · relu(q̂[r,h,:] · k̂[j,:])   for j < context_lens[r], −Inf elsewhere
//
// with q̂, k̂ E2M1 values times their UE8M0 group scales 2^(e−127) (FP4), or
// E4M3 values with the key's fp32 scale s_k applied after the head sum (FP8).
// Row r = b·next_n + t is query token t of request b; key j of request b lives in
// page block_table[b, j/P], slot j%P.
//
// # Stages and options
//
// The kernel has two stages, each a named option ([Options]; the zero value is
// the deployment: Exact dot, SM100 epilogue):
//
//   - The per-head dot product a[h] ([Dot]). On the GPU it runs on tensor cores
//     (tcgen05 mxf4 block-scaled MMA for FP4 on SM100, f8f6f4 or wgmma for FP8),
//     whose accumulation order and precision NVIDIA does not specify. The model
//     therefore offers the ideal, [Exact] (the true value rounded once to fp32,
//     computed with exact integer group sums, float64 where that is exact and
//     math/big where it is not), and [FP32FMA] (a sequential fp32 FMA chain,
//     what a plain GPU kernel computes). A DeepGEMM result is never assumed to
//     equal the model in bytes: compare it with [CalcDiff] (DeepGEMM's own
//     metric) and with the per-element bound of [Bound] / [WithinBound].
//   - The head-sum epilogue ([Epilogue]): [SM100], [Sequential] and [SM90]
//     (FP8 only). Given the H dot products it is deterministic, and the model
//     performs the kernel's fp32 operations one by one: every fused
//     multiply-add through fma.FMA32, every other product or sum rounded on its
//     own. A GPU kernel of our own that uses FP32FMA + Sequential must match the
//     model bit for bit.
//
// relu differs per epilogue: sm100 computes a + |a| (DeepGEMM's source; the
// doubled sum is halved at the end), so NaN propagates, −0 and negatives give +0
// and −Inf gives NaN; sequential maps NaN to NaN and everything ≤ 0 (−0, −Inf)
// to +0; sm90 uses fmaxf(a, 0), so NaN gives +0. A NaN weight gives a NaN logit
// in all three. Every NaN the model returns is the canonical 0x7FFFFFFF.
//
// # Inputs and errors
//
// [Input] mirrors DeepGEMM's arguments (q, q_sf, kv_cache, weights,
// context_lens [B, next_n], block_table [B, max_blocks], max_context_len);
// schedule_meta only balances work and does not change a single bit, so it is
// not modelled. [Logits] returns [B·next_n, max_context_len] fp32. Shape
// mismatches, next_n < 1, unsupported H (8, 16, 32, 64; sm90 32, 64) or D (FP4
// 64, 128; FP8 32, 64, 128), context lengths beyond max_context_len or beyond
// what the block table covers, and block-table entries outside the cache return
// an [*InputError] naming the argument.
//
// # Accuracy tools
//
// [Reference] is the unquantized reference of DeepGEMM's test (bf16 inputs,
// float64 math here; its optional bf16 rounding of q·k is DeepGEMM's).
// [CalcDiff] is DeepGEMM's calc_diff; DeepGEMM requires < 0.02 for FP4 and
// < 1e-3 for FP8 against the unquantized reference. [TopK] selects the attended
// keys (ties to the lower index) and [Overlap] / [Recall] compare two
// selections.
//
// # Speed
//
// The Exact FP4 path does not dequantize: it packs four heads of 2·q (integers
// in [−12, 12]) into 16-bit lanes of an int64 and tabulates each packed column
// times the 16 possible key codes once per query row, so one 64-bit add
// advances four exact integer group sums (see fp4fast.go); Logits splits rows
// and key ranges over all cores.
//
// # Verification
//
// The Exact dot is compared with a math/big recomputation written separately
// in the tests (exact rational sum of the 128 dequantized products, then a
// round-to-nearest-even check against the neighbouring fp32 values) on random
// inputs and on adversarial ones: wide scale spreads that defeat float64,
// cancellation, fp32 overflow and subnormal results, NaN scales. The fast FP4
// kernel is compared with the per-pair DotFP4 and with that oracle for every H
// and D; the FP32FMA dot with an FMA chain built on math/big; each epilogue with
// a math/big re-implementation of its operation list and with hand-computed
// cases that separate the orders; masking, errors, worker-count independence,
// TopK against a sort-based oracle, and CalcDiff against a hand-computed case.
// The accuracy acceptance of DeepGEMM's test (calc_diff < 0.02 FP4, < 1e-3 FP8
// against the unquantized reference on quantized random bf16 inputs) is a test.
// The decode tables are built from, and tested against, packages e2m1, ue8m0
// and fp8.
package mqa
