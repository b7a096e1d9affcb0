// FP8 twins of the producer paths (SPEC §4 "FP8 counterparts"): one fp32 scale per
// 128-value row, scale = fmaxf(1e-4, amax)/448, elements fl(x * fl(1/scale)) to E4M3
// (RNE, satfinite; the hardware cvt.rn.satfinite.e4m3x2.f32 from sm_89 on).

__device__ __forceinline__ float row_amax(const float x[4]) {
  float a = fmaxf(fmaxf(fmaxf(fabsf(x[0]), fabsf(x[1])), fabsf(x[2])), fabsf(x[3]));
#pragma unroll
  for (int m = 16; m >= 1; m >>= 1) a = fmaxf(a, __shfl_xor_sync(FULL_MASK, a, m));
  return a;
}

// Returns the row scale and writes the lane's 4 E4M3 bytes (element 4L in the low byte).
__device__ __forceinline__ float quant_fp8_lane(const float x[4], u32 &bytes4) {
  float scale = __fdiv_rn(fmaxf(1e-4f, row_amax(x)), 448.0f);
  float inv = __fdiv_rn(1.0f, scale);
  u32 lo = e4m3_pair(__fmul_rn(x[0], inv), __fmul_rn(x[1], inv));
  u32 hi = e4m3_pair(__fmul_rn(x[2], inv), __fmul_rn(x[3], inv));
  bytes4 = lo | (hi << 16);
  return scale;
}

// fused_q_indexer_rope_hadamard_quant: as q_fp4 with no bf16 round trips;
// weights_out = fl(fl(weight * weight_scale) * scale) (left to right).
extern "C" __global__ void __launch_bounds__(128) q_fp8(const u16 *__restrict__ q, const u16 *__restrict__ weight,
                                                        const float *__restrict__ freqs,
                                                        const i64 *__restrict__ positions, i64 rows, int heads,
                                                        float weight_scale, u32 flags, u8 *__restrict__ q_fp8,
                                                        float *__restrict__ weights_out) {
  int lane = threadIdx.x & 31;
  i64 work = (i64)blockIdx.x * 4 + (threadIdx.x >> 5);
  if (work >= rows) return;
  i64 token = work / heads;
  float x[4];
  const u16 *p = q + work * 128 + lane * 4;
#pragma unroll
  for (int i = 0; i < 4; i++) x[i] = bf16_to_f(p[i]);
  rope_lane(x, freqs, positions[token], lane, flags);
  hadamard128(x, lane);
  hadamard_scale(x);
  u32 bytes4;
  float scale = quant_fp8_lane(x, bytes4);
  store_u32_le(q_fp8 + work * 128 + lane * 4, bytes4);
  if (lane == 0) weights_out[work] = __fmul_rn(__fmul_rn(bf16_to_f(weight[work]), weight_scale), scale);
}

// fused_norm_rope_indexer (FP8 K): RMSNorm/RoPE/Hadamard as kv2_fp4, then the row
// scale; 128 E4M3 bytes at slot*128 and the fp32 scale at 128*P + 4*slot of the
// 132-byte-per-token page.
extern "C" __global__ void __launch_bounds__(256) k_fp8(const float *__restrict__ kv,
                                                        const float *__restrict__ norm_weight,
                                                        const float *__restrict__ freqs,
                                                        const i64 *__restrict__ positions,
                                                        const i64 *__restrict__ out_loc, const float *nf_in, float eps,
                                                        i64 n, int log2_page, u32 flags, u8 *__restrict__ cache,
                                                        float *__restrict__ nf_out) {
  int lane = threadIdx.x & 31;
  i64 row = (i64)blockIdx.x * 8 + (threadIdx.x >> 5);
  if (row >= n) return;
  float x[4];
  const float *p = kv + row * 128 + lane * 4;
#pragma unroll
  for (int i = 0; i < 4; i++) x[i] = p[i];
  float nf = rms_norm_lane(x, norm_weight, nf_in, row, eps, flags, lane);
  rope_lane(x, freqs, positions[row], lane, flags);
  hadamard128(x, lane);
  hadamard_scale(x);
  u32 bytes4;
  float scale = quant_fp8_lane(x, bytes4);
  i64 l = out_loc[row];
  i64 page = l >> log2_page, slot = l & ((1LL << log2_page) - 1);
  u8 *base = cache + page * (132LL << log2_page);
  store_u32_le(base + slot * 128 + lane * 4, bytes4);
  if (lane == 0) {
    store_u32_le(base + (128LL << log2_page) + slot * 4, __float_as_uint(scale));
    nf_out[row] = nf;
  }
}

// E4M3 conversion probe: out_hw from the path the kernels use (hardware on sm_89+),
// out_sw from the software path, for every input.
extern "C" __global__ void e4m3_probe(const float *__restrict__ x, i64 n, u8 *__restrict__ out_hw,
                                      u8 *__restrict__ out_sw) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out_hw[i] = (u8)(e4m3_pair(x[i], 0.0f) & 0xffu);
  out_sw[i] = (u8)e4m3_sw(x[i]);
}

// E2M1 pair probe: codes of (lo, hi) pairs in the given element mode, through the
// path the kernels use (hardware cvt on sm_100a for rne).
extern "C" __global__ void e2m1_probe(const float *__restrict__ x, i64 pairs, u32 mode, u8 *__restrict__ out) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= pairs) return;
  out[i] = (u8)e2m1_pair(x[2 * i], x[2 * i + 1], mode);
}
