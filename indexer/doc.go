// Package indexer composes the stage models into the producer paths of the
// DeepSeek V4 FP4 indexer (SPEC §4) and runs the indexer end to end.
//
// The paths, each one function over whole row-major tensors:
//
//   - QuantizeQ models fused_q_indexer_rope_hadamard_fp4_quant (SGLang
//     main_norm_rope.cuh): bf16 q → RoPE on the last 64 dims → bf16 → Hadamard-128
//     ×0x3DB504F3 → bf16 → UE8M0 `cuda` scale, E2M1 `threshold` codes; weights_out =
//     fl(weight · 0x3C3504F3).
//   - StoreKV2 models fused_norm_rope_indexer_fp4 (fused_norm_rope_v2.cuh), the
//     default K writer: RMSNorm → RoPE → Hadamard, all fp32, `cuda` scale, paged store.
//   - StoreKV1 models store_fp4_index_k_cache (the Triton quantizer and store of the
//     legacy compressor): `triton` scale, paged store.
//   - QuantizeQFP8 and StoreKFP8 model the FP8 kernels the FP4 path replaces
//     (fused_q_indexer_rope_hadamard_quant, fused_norm_rope_indexer): one fp32 scale
//     per row, fmaxf(1e-4, amax)/448, E4M3 RNE with saturation.
//
// Every rounding point is an option whose zero value is the PR's deployment; the
// options structs are the named profile. The defaults reproduce, byte for byte,
// what an NVIDIA H100 wrote (testdata/conformance/h100: the SGLang Triton kernels
// for K v1, an independent CUDA replica for Q and K v2); the tests prove it.
//
// Simulate runs the indexer end to end (SimConfig, SimReport): a stream of key
// rows through the K paths into a paged cache, queries through the Q paths, logits
// by package mqa and top-k, FP8 and FP4 beside a float64 reference on the
// unquantized values; Synthesize documents the synthetic generator.
//
// What rests on a GPU fact rather than on the source alone: the fused multiply-add
// pattern of RoPE (re = fma(xr, c, −fl(xi·s)), im = fma(xi, c, fl(xr·s)), read from
// nvcc's SASS), the constant folding of rsqrtf(128) to 0x3DB504F3, and the device
// rsqrtf of RMSNorm, which is not correctly rounded: StoreKV2 takes the device
// value per row (KInput.NormFactor) or a pluggable rmsnorm.Rsqrt.
package indexer
