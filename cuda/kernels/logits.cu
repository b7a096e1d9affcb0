// Paged MQA logits, plain fp32 (SPEC §6 with the `fp32-fma` dot product and the
// `sequential` head epilogue). One thread per (row, key):
//   a[h] = 0; for d in 0..127: a[h] = fma(q̂[d], k̂[d], a[h])
//   L = 0;    for h in 0..H-1: L = fma(relu(a[h]), w[h], L),  relu(x) = x > 0 || x is NaN ? x : 0
// FP4: q̂, k̂ = E2M1 value x 2^(e-127) (exact in fp32; e = 255 decodes to NaN).
// FP8: q̂, k̂ = E4M3 values; out = fl(L * s_k). Keys j >= context_len give -Inf.
// relu keeps a NaN head sum (as mqa's sequential epilogue and DeepGEMM's sm100
// relu a+|a| do) so a corrupt cache row is visible in the logits; -0 becomes +0.

__device__ __forceinline__ float fp4_value(const u8 *packed, const u8 *sf, int d) {
  u32 b = packed[d >> 1];
  u32 code = (d & 1) ? (b >> 4) : (b & 0xfu);
  return __fmul_rn(kE2M1Value[code], ue8m0_decode(sf[d >> 5]));
}

extern "C" __global__ void __launch_bounds__(128) paged_logits(const u8 *__restrict__ q, const u8 *__restrict__ q_sf,
                                                               const u8 *__restrict__ cache,
                                                               const float *__restrict__ weights,
                                                               const int *__restrict__ context_lens,
                                                               const int *__restrict__ block_table, i64 rows,
                                                               int next_n, int heads, int max_blocks, int log2_page,
                                                               int max_ctx, int fp8, float *__restrict__ out) {
  i64 idx = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * (i64)max_ctx) return;
  i64 r = idx / max_ctx;
  int j = (int)(idx - r * max_ctx);
  i64 b = r / next_n;
  if (j >= context_lens[r]) {
    out[idx] = __uint_as_float(0xff800000u);
    return;
  }
  i64 page = block_table[b * max_blocks + (j >> log2_page)];
  i64 slot = j & ((1 << log2_page) - 1);
  float k[128];
  float sk = 1.0f;
  if (fp8) {
    const u8 *base = cache + page * (132LL << log2_page);
    const u8 *kb = base + slot * 128;
#pragma unroll 1
    for (int d = 0; d < 128; d++) k[d] = e4m3_decode(kb[d]);
    sk = __uint_as_float(load_u32_le(base + (128LL << log2_page) + slot * 4));
  } else {
    const u8 *base = cache + page * (68LL << log2_page);
    const u8 *kb = base + slot * 64;
    const u8 *ks = base + (64LL << log2_page) + slot * 4;
#pragma unroll 1
    for (int d = 0; d < 128; d++) k[d] = fp4_value(kb, ks, d);
  }
  float L = 0.0f;
  for (int h = 0; h < heads; h++) {
    i64 qrow = r * heads + h;
    float a = 0.0f;
    if (fp8) {
      const u8 *qb = q + qrow * 128;
#pragma unroll 1
      for (int d = 0; d < 128; d++) a = __fmaf_rn(e4m3_decode(qb[d]), k[d], a);
    } else {
      const u8 *qb = q + qrow * 64;
      const u8 *qs = q_sf + qrow * 4;
#pragma unroll 1
      for (int d = 0; d < 128; d++) a = __fmaf_rn(fp4_value(qb, qs, d), k[d], a);
    }
    float relu = (a > 0.0f || a != a) ? a : 0.0f;
    L = __fmaf_rn(relu, weights[qrow], L);
  }
  out[idx] = fp8 ? __fmul_rn(L, sk) : L;
}
