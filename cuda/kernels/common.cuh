// fp4indexer GPU harness: shared device helpers.
//
// Self-contained on purpose: NVRTC compiles these sources with no CUDA headers on
// the include path, so every format helper (bf16, E2M1, UE8M0, E4M3) is written as
// bit manipulation here. Every rounding the models care about is spelled with an
// explicit intrinsic (__fmaf_rn, __fmul_rn, __fadd_rn, __fsub_rn, __fdiv_rn) and the
// program is compiled with --fmad=false, so no result depends on the compiler's
// contraction decisions.

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long long i64;
typedef unsigned long long u64;

#define FULL_MASK 0xffffffffu

// Flags word shared by the FP4 paths (must match cuda/kernels.go).
#define FLAG_SCALE_MASK 0x0fu      // ScaleVariant
#define FLAG_ELEM_SHIFT 4          // ElementMode in bits 4..5
#define FLAG_NO_ROPE_BF16 0x100u   // Q path: skip the bf16 round trip after RoPE
#define FLAG_NO_HAD_BF16 0x200u    // Q path: skip the bf16 round trip after the Hadamard
#define FLAG_ROPE_UNFUSED 0x400u   // RoPE without FMA: re = fl(fl(xr*c) - fl(xi*s)), im = fl(fl(xr*s) + fl(xi*c))
#define FLAG_RSQRT_CR 0x800u       // K paths: correctly rounded rsqrt instead of the device rsqrtf

#define SCALE_CUDA 0
#define SCALE_TRITON 1
#define SCALE_RP 2
#define SCALE_RZ 3
#define SCALE_OCP_FLOOR 4

#define ELEM_THRESHOLD 0
#define ELEM_RNE 1

// Hardware FP4/UE8M0 conversions exist only on the arch-specific Blackwell targets
// (sm_100a and relatives). Elsewhere the software paths below run.
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 1000) && !defined(FP4IDX_FORCE_SOFTWARE) && \
    (defined(__CUDA_ARCH_FEAT_SM100_ALL) || defined(__CUDA_ARCH_FEAT_SM101_ALL) || \
     defined(__CUDA_ARCH_FEAT_SM103_ALL) || defined(__CUDA_ARCH_FEAT_SM110_ALL) || \
     defined(__CUDA_ARCH_FEAT_SM120_ALL) || defined(__CUDA_ARCH_FEAT_SM121_ALL) || \
     defined(__CUDA_ARCH_SPECIFIC__) || defined(__CUDA_ARCH_FAMILY_SPECIFIC__))
#define FP4IDX_HW_FP4 1
#else
#define FP4IDX_HW_FP4 0
#endif

// cvt.rn.satfinite.e4m3x2.f32 exists from sm_89 on.
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 890) && !defined(FP4IDX_FORCE_SOFTWARE)
#define FP4IDX_HW_E4M3 1
#else
#define FP4IDX_HW_E4M3 0
#endif

// 1/sqrt(128) rounded to fp32 (0x3DB504F3): the constant the PR's source writes as
// rsqrtf(128.0f) and nvcc folds; spelled as bits so no run-time MUFU can replace it.
#define HADAMARD_SCALE_BITS 0x3DB504F3u

__device__ __forceinline__ float f_from_bits(u32 b) { return __uint_as_float(b); }
__device__ __forceinline__ u32 bits_of(float f) { return __float_as_uint(f); }

// ---- bf16 ----
__device__ __forceinline__ float bf16_to_f(u16 h) { return __uint_as_float(((u32)h) << 16); }
// RNE on the fp32 bits; every NaN becomes 0x7FFF (what __float2bfloat16_rn writes).
__device__ __forceinline__ u16 f_to_bf16(float f) {
  u32 u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)0x7fffu;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (u16)(u >> 16);
}
__device__ __forceinline__ float bf16_round(float f) { return bf16_to_f(f_to_bf16(f)); }

// ---- E2M1 ----
// SPEC §2 threshold mode: strict thresholds, ties to the smaller magnitude, fminf
// clamp (NaN -> 6), sign only for v < 0 with a non-zero index.
__device__ __forceinline__ u32 e2m1_threshold(float v) {
  float a = fminf(fabsf(v), 6.0f);
  u32 idx = (u32)(a > 0.25f) + (u32)(a > 0.75f) + (u32)(a > 1.25f) + (u32)(a > 1.75f) +
            (u32)(a > 2.5f) + (u32)(a > 3.5f) + (u32)(a > 5.0f);
  u32 sign = (v < 0.0f && idx != 0u) ? 8u : 0u;
  return sign | idx;
}

// SPEC §2 rne mode in software: nearest, ties to the even code, finite overflow and
// ±Inf saturate to ±6, the sign is kept for values that round to zero (-0 -> 0x8),
// NaN -> 0x7 (e2m1.NaNMax, the model's default NaN policy).
__device__ __forceinline__ u32 e2m1_rne_sw(float v) {
  if (v != v) return 0x7u;
  float a = fabsf(v);
  u32 idx = (u32)(a > 0.25f) + (u32)(a >= 0.75f) + (u32)(a > 1.25f) + (u32)(a >= 1.75f) +
            (u32)(a > 2.5f) + (u32)(a >= 3.5f) + (u32)(a > 5.0f);
  return ((__float_as_uint(v) >> 31) << 3) | idx;
}

// Two codes packed SPEC §2 style: lo in bits 3..0, hi in bits 7..4.
__device__ __forceinline__ u32 e2m1_pair(float lo, float hi, u32 mode) {
  if (mode == ELEM_RNE) {
#if FP4IDX_HW_FP4
    // The FIRST cvt operand lands in the HIGH nibble, so pass (hi, lo).
    u32 r;
    asm("{\n\t.reg .b8 b0;\n\t"
        "cvt.rn.satfinite.e2m1x2.f32 b0, %1, %2;\n\t"
        "mov.b32 %0, {b0, b0, b0, b0};\n\t}"
        : "=r"(r) : "f"(hi), "f"(lo));
    return r & 0xffu;
#else
    return e2m1_rne_sw(lo) | (e2m1_rne_sw(hi) << 4);
#endif
  }
  return e2m1_threshold(lo) | (e2m1_threshold(hi) << 4);
}

__constant__ float kE2M1Value[16] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
                                     -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// ---- UE8M0 ----
__device__ __forceinline__ u32 ceil_exp(float f) {
  u32 b = __float_as_uint(f);
  return ((b >> 23) & 0xffu) + ((b & 0x7fffffu) != 0u ? 1u : 0u);
}
// 2^(e-127); e = 0 is the subnormal 2^-127 (bits 0x00400000), e = 255 is NaN.
__device__ __forceinline__ float ue8m0_decode(u32 e) {
  if (e == 255u) return __uint_as_float(0x7fffffffu);
  if (e == 0u) return __uint_as_float(0x00400000u);
  return __uint_as_float(e << 23);
}

// cvt.rp.satfinite.ue8m0x2.f32 semantics in software: round up to a power of two,
// saturate to 0..254, NaN -> 0xFF.
__device__ __forceinline__ u32 ue8m0_rp_sw(float raw) {
  if (raw != raw) return 255u;
  u32 b = __float_as_uint(raw) & 0x7fffffffu;
  if (b <= 0x00400000u) return 0u;  // at or below 2^-127 (zero included)
  u32 e = ceil_exp(__uint_as_float(b));
  return e > 254u ? 254u : e;
}
// cvt.rz.satfinite.ue8m0x2.f32 in software: round down to a power of two, saturate.
__device__ __forceinline__ u32 ue8m0_rz_sw(float raw) {
  if (raw != raw) return 255u;
  u32 b = __float_as_uint(raw) & 0x7fffffffu;
  if (b >= 0x7f800000u) return 254u;
  if (b < 0x00800000u) return 0u;  // zero and subnormals: 2^-127 at most
  return b >> 23;
}

__device__ __forceinline__ u32 ue8m0_rp(float raw) {
#if FP4IDX_HW_FP4
  u16 r;
  asm("cvt.rp.satfinite.ue8m0x2.f32 %0, %1, %2;" : "=h"(r) : "f"(0.0f), "f"(raw));
  return (u32)r & 0xffu;
#else
  return ue8m0_rp_sw(raw);
#endif
}
__device__ __forceinline__ u32 ue8m0_rz(float raw) {
#if FP4IDX_HW_FP4
  u16 r;
  asm("cvt.rz.satfinite.ue8m0x2.f32 %0, %1, %2;" : "=h"(r) : "f"(0.0f), "f"(raw));
  return (u32)r & 0xffu;
#else
  return ue8m0_rz_sw(raw);
#endif
}

// Scale byte of a 32-group from its fmaxf-reduced |x| maximum (NaN ignored).
__device__ __forceinline__ u32 group_scale(float amax, u32 variant) {
  switch (variant) {
    case SCALE_TRITON: {  // floor AFTER the divide, clamp to 1..254
      float raw = fmaxf(__fdiv_rn(amax, 6.0f), 1e-4f);
      u32 e = ceil_exp(raw);
      return e < 1u ? 1u : (e > 254u ? 254u : e);
    }
    case SCALE_RP:
      return ue8m0_rp(__fdiv_rn(amax, 6.0f));
    case SCALE_RZ:
      return ue8m0_rz(__fdiv_rn(amax, 6.0f));
    case SCALE_OCP_FLOOR: {  // floor(log2 amax) - 2 + 127, clamp 0..254; NaN/Inf -> 0xFF
      u32 b = __float_as_uint(amax) & 0x7fffffffu;
      if (b >= 0x7f800000u) return 255u;
      u32 ef = b >> 23;
      return ef >= 2u ? ef - 2u : 0u;
    }
    default: {  // SCALE_CUDA: floor BEFORE the divide, byte truncation, no clamp
      float raw = __fdiv_rn(fmaxf(1e-4f, amax), 6.0f);
      return ceil_exp(raw) & 0xffu;
    }
  }
}

// The scaled element each variant's own arithmetic produces (SPEC §3).
__device__ __forceinline__ float scale_element(float x, u32 e, u32 variant) {
  switch (variant) {
    case SCALE_CUDA:
      return __fmul_rn(x, __uint_as_float((254u - e) << 23));  // e = 255 gives -Inf, as the PR's kernel
    case SCALE_TRITON:
      return __fdiv_rn(x, __uint_as_float(e << 23));
    default:
      return __fdiv_rn(x, ue8m0_decode(e));
  }
}

// One lane's part of a 128-value row: lanes 8g..8g+7 hold group g, 4 values each.
// All 32 lanes must call it (the amax reduction shuffles across 8 lanes).
__device__ __forceinline__ void quant_lane(const float x[4], u32 flags, u32 &payload16, u32 &scale_byte) {
  u32 variant = flags & FLAG_SCALE_MASK;
  u32 mode = (flags >> FLAG_ELEM_SHIFT) & 3u;
  float amax = fmaxf(fmaxf(fmaxf(fabsf(x[0]), fabsf(x[1])), fabsf(x[2])), fabsf(x[3]));
  amax = fmaxf(amax, __shfl_xor_sync(FULL_MASK, amax, 4));
  amax = fmaxf(amax, __shfl_xor_sync(FULL_MASK, amax, 2));
  amax = fmaxf(amax, __shfl_xor_sync(FULL_MASK, amax, 1));
  u32 e = group_scale(amax, variant);
  float v0 = scale_element(x[0], e, variant), v1 = scale_element(x[1], e, variant);
  float v2 = scale_element(x[2], e, variant), v3 = scale_element(x[3], e, variant);
  payload16 = e2m1_pair(v0, v1, mode) | (e2m1_pair(v2, v3, mode) << 8);
  scale_byte = e;
}

// ---- E4M3 (OCP fn) ----
// RNE, satfinite (finite overflow and ±Inf -> ±448), NaN -> 0x7F, sign kept on zero.
__device__ __forceinline__ u32 e4m3_sw(float f) {
  u32 u = __float_as_uint(f);
  u32 sign = (u >> 24) & 0x80u;
  u32 a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7fu;
  if (a > 0x43e00000u) return sign | 0x7eu;  // above 448: satfinite
  if (a < 0x3c800000u) {                      // below 2^-6: subnormal grid m * 2^-9
    u32 m = __float2uint_rn(__fmul_rn(__uint_as_float(a), 512.0f));
    return sign | m;
  }
  u32 r = (a + 0x7ffffu + ((a >> 20) & 1u)) >> 20;  // RNE to 3 mantissa bits, carry into the exponent
  u32 code = r - (120u << 3);
  return sign | (code > 0x7eu ? 0x7eu : code);
}

__device__ __forceinline__ u32 e4m3_pair(float lo, float hi) {
#if FP4IDX_HW_E4M3
  u16 r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(hi), "f"(lo));
  return (u32)r;
#else
  return e4m3_sw(lo) | (e4m3_sw(hi) << 8);
#endif
}

__device__ __forceinline__ float e4m3_decode(u32 c) {
  u32 e = (c >> 3) & 0xfu, m = c & 7u;
  float v;
  if (e == 15u && m == 7u) {
    v = __uint_as_float(0x7fffffffu);
  } else if (e == 0u) {
    v = __fmul_rn((float)m, 0.001953125f);  // m * 2^-9, exact
  } else {
    v = __uint_as_float(((e + 120u) << 23) | (m << 20));
  }
  return (c & 0x80u) ? -v : v;
}

// ---- the shared stages of SPEC §4 ----
// RoPE pair with the FMA pattern nvcc 13.0 produced for the PR's expression.
__device__ __forceinline__ void rope_pair(float &xr, float &xi, float c, float s, u32 flags) {
  float re, im;
  if (flags & FLAG_ROPE_UNFUSED) {
    re = __fsub_rn(__fmul_rn(xr, c), __fmul_rn(xi, s));
    im = __fadd_rn(__fmul_rn(xr, s), __fmul_rn(xi, c));
  } else {
    re = __fmaf_rn(xr, c, -__fmul_rn(xi, s));
    im = __fmaf_rn(xi, c, __fmul_rn(xr, s));
  }
  xr = re;
  xi = im;
}

// Lanes 16..31 hold elements 64..127: pairs (4L', 4L'+1) and (4L'+2, 4L'+3) of the
// rope slice use table entries 4(L-16)..4(L-16)+3 of the position's row.
__device__ __forceinline__ void rope_lane(float x[4], const float *freqs, i64 pos, int lane, u32 flags) {
  if (lane < 16) return;
  const float *f = freqs + pos * 64 + (i64)(lane - 16) * 4;
  float c0 = f[0], s0 = f[1], c1 = f[2], s1 = f[3];
  rope_pair(x[0], x[1], c0, s0, flags);
  rope_pair(x[2], x[3], c1, s1, flags);
}

// Unnormalised Sylvester Hadamard over the warp's 128 values, natural order:
// in-lane stages h = 1, 2, then cross-lane h = 4..64 (lower lane a+b, upper a-b).
__device__ __forceinline__ void hadamard128(float x[4], int lane) {
  float a0 = __fadd_rn(x[0], x[1]), a1 = __fsub_rn(x[0], x[1]);
  float a2 = __fadd_rn(x[2], x[3]), a3 = __fsub_rn(x[2], x[3]);
  x[0] = __fadd_rn(a0, a2);
  x[2] = __fsub_rn(a0, a2);
  x[1] = __fadd_rn(a1, a3);
  x[3] = __fsub_rn(a1, a3);
#pragma unroll
  for (int m = 1; m < 32; m <<= 1) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float o = __shfl_xor_sync(FULL_MASK, x[i], m);
      x[i] = (lane & m) ? __fsub_rn(o, x[i]) : __fadd_rn(x[i], o);
    }
  }
}

__device__ __forceinline__ void hadamard_scale(float x[4]) {
  float s = __uint_as_float(HADAMARD_SCALE_BITS);
#pragma unroll
  for (int i = 0; i < 4; i++) x[i] = __fmul_rn(x[i], s);
}

// ---- rsqrt ----
// Sign of m*m*x - 1, exactly: m*m is exact in double (m has at most 25 significant
// bits), p + e = m*m*x exactly (FMA error term), and p - 1 is exact (Sterbenz).
__device__ __forceinline__ int cmp_inv_square(double m, double x) {
  double m2 = __dmul_rn(m, m);
  double p = __dmul_rn(m2, x);
  double e = __fma_rn(m2, x, -p);
  double d = __dadd_rn(__dsub_rn(p, 1.0), e);
  return (d > 0.0) - (d < 0.0);
}

// Correctly rounded 1/sqrt(x) in fp32 for every x (specials as IEEE: +0 -> +Inf,
// -0 -> -Inf, +Inf -> +0, NaN and x < 0 -> NaN). The double estimate can be off by
// one ulp after its second rounding; the exact midpoint test fixes it. A midpoint can
// never equal 1/sqrt(x) exactly, so the test always decides. *fixups counts fixes.
__device__ __forceinline__ float rsqrt_cr(float x, u32 *fixups) {
  u32 b = __float_as_uint(x);
  if (b == 0u) return __uint_as_float(0x7f800000u);
  if (b == 0x80000000u) return __uint_as_float(0xff800000u);
  if (b == 0x7f800000u) return 0.0f;
  if (b > 0x7f800000u) return __uint_as_float(0x7fffffffu);
  double xd = (double)x;
  float y = __double2float_rn(__drcp_rn(__dsqrt_rn(xd)));
  for (int k = 0; k < 4; k++) {
    u32 yb = __float_as_uint(y);
    double yv = (double)y;
    double mu = __dmul_rn(__dadd_rn(yv, (double)__uint_as_float(yb + 1u)), 0.5);
    double md = __dmul_rn(__dadd_rn(yv, (double)__uint_as_float(yb - 1u)), 0.5);
    if (cmp_inv_square(mu, xd) <= 0) {  // 1/sqrt(x) >= upper midpoint
      y = __uint_as_float(yb + 1u);
      (*fixups)++;
      continue;
    }
    if (cmp_inv_square(md, xd) >= 0) {  // 1/sqrt(x) <= lower midpoint
      y = __uint_as_float(yb - 1u);
      (*fixups)++;
      continue;
    }
    break;
  }
  return y;
}

// Little-endian byte stores: the cache and scale buffers are byte arrays with no
// alignment promise beyond what the layout gives.
__device__ __forceinline__ void store_u16_le(u8 *p, u32 v) {
  p[0] = (u8)(v & 0xffu);
  p[1] = (u8)((v >> 8) & 0xffu);
}
__device__ __forceinline__ void store_u32_le(u8 *p, u32 v) {
  p[0] = (u8)(v & 0xffu);
  p[1] = (u8)((v >> 8) & 0xffu);
  p[2] = (u8)((v >> 16) & 0xffu);
  p[3] = (u8)(v >> 24);
}
__device__ __forceinline__ u32 load_u32_le(const u8 *p) {
  return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}
