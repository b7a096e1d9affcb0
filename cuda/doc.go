// Package cuda is the GPU conformance harness: it runs the project's own CUDA C
// kernels for every producer path of SPEC §2–§6 on an NVIDIA GPU, so their bytes
// can be compared with the Go models and with the H100 ground truth.
//
// No cgo: the CUDA driver (libcuda.so.1) and NVRTC (libnvrtc.so.13, .12 or
// .11.2) are loaded at run time through purego, so CPU-only builds and CI need
// no CUDA. Open says exactly which library or device is missing (errors wrap
// ErrNoDriver or ErrNoNVRTC). The kernels are embedded CUDA C (kernels/*.cu, one
// translation unit, no #include), compiled by NVRTC for the GPU found (sm_90a on
// an H100) with --fmad=false --ftz=false --prec-div=true --prec-sqrt=true; every
// fused multiply-add the models fuse is written __fmaf_rn and every other
// rounding is an explicit __fmul_rn/__fadd_rn/__fsub_rn/__fdiv_rn, so no result
// depends on the compiler's contraction decisions.
//
// Kernels (one warp per 128-value row, lane L owns elements 4L..4L+3, warp
// shuffles for the Hadamard cross-lane stages, the group/row amax and the
// RMSNorm butterfly, as in the PR's kernels; SPEC §4):
//
//   - quantize_groups: the E2M1 group quantizer, scale variants cuda, triton,
//     rp, rz, ocp-floor (SPEC §3) × element modes threshold, rne (SPEC §2).
//   - kv1_store: store_fp4_index_k_cache (SPEC §4 K v1, §5 layout).
//   - q_fp4: fused_q_indexer_rope_hadamard_fp4_quant (SPEC §4 Q path).
//   - kv2_fp4: fused_norm_rope_indexer_fp4 (SPEC §4 K v2), device rsqrtf (or a
//     correctly rounded rsqrt, or injected norm factors), norm factor per row out.
//   - q_fp8, k_fp8: the FP8 twins: no bf16 round trips, scale =
//     fmaxf(1e-4, amax128)/448, elements fl(x·fl(1/scale)) → E4M3 RNE satfinite,
//     weights_out = fl(fl(weight·weight_scale)·scale) (left to right); K FP8 stores
//     128 E4M3 bytes + the fp32 scale in the 132-byte layout.
//   - paged_logits: SPEC §6 with the fp32-fma dot product and the sequential
//     epilogue; relu(x) = x for x > 0 or NaN, else +0 (as mqa.Sequential), so a NaN
//     head sum makes the logit NaN.
//   - rsqrt_probe, rsqrt_base, rsqrt_sweep: the exhaustive rsqrtf
//     characterisation behind rmsnorm's device table (CharacteriseRsqrt).
//
// On sm_100a and relatives the rne element mode and the rp/rz scales use the
// hardware cvt.rn.satfinite.e2m1x2.f32 / cvt.{rp,rz}.satfinite.ue8m0x2.f32 (first
// operand to the high nibble, so the kernels pass (x[2i+1], x[2i])); elsewhere a
// software path runs. E4M3 uses cvt.rn.satfinite.e4m3x2.f32 from sm_89 on.
//
// Verified on an NVIDIA H100 (driver 580.159.04 / CUDA 13.0, NVRTC 13.0): the Q,
// K v1 and K v2 kernels reproduce every byte of testdata/conformance/h100 (K v2's
// norm factor bit for bit), and every kernel matches an independent scalar
// reference written in the tests (plain loops in the SPEC's formulation, E2M1 and
// E4M3 by search over all codes, fma.FMA32). The sm_100a variants are compiled
// (PTX and CUBIN, SASS shows the F2FP E2M1/E8 conversions) but were not run. See
// README.md for the results and commands.
package cuda
