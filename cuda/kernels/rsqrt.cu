// Characterisation of the device rsqrtf (MUFU.RSQ plus the compiler's subnormal
// handling, exactly as the K kernels call it) against the correctly rounded value.

// rsqrt_probe: device rsqrtf and the correctly rounded value for arbitrary inputs.
extern "C" __global__ void rsqrt_probe(const float *__restrict__ x, i64 n, float *__restrict__ dev,
                                       float *__restrict__ cr) {
  i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  u32 fix = 0;
  dev[i] = rsqrtf(x[i]);
  cr[i] = rsqrt_cr(x[i], &fix);
}

// Error in ulps (float bit steps; every output here is a positive normal float) of
// rsqrtf against the correctly rounded value, for positive finite x.
__device__ __forceinline__ int rsqrt_err(float x, u32 *fix) {
  return (int)(__float_as_uint(rsqrtf(x)) - __float_as_uint(rsqrt_cr(x, fix)));
}

// Table index of a positive finite x: parity of the (normalised) biased exponent in
// bit 23, the 23 fraction bits of the normalised significand below it. Subnormals
// are normalised first (their exponent can go negative; parity is taken mod 2).
__device__ __forceinline__ u32 rsqrt_index(u32 b) {
  u32 ef = b >> 23;
  if (ef != 0u) return ((ef & 1u) << 23) | (b & 0x7fffffu);
  u32 s = (u32)__clz((int)b) - 8u;  // shift that brings the leading 1 to bit 23
  u32 mant = (b << s) & 0x7fffffu;
  int e = 1 - (int)s;
  return (((u32)e & 1u) << 23) | mant;
}

// rsqrt_base: err for the two base binades [0.5, 1) (even exponent field 126) and
// [1, 2) (odd field 127), indexed as rsqrt_index: 2^24 signed bytes.
extern "C" __global__ void rsqrt_base(signed char *__restrict__ table, u64 *__restrict__ fixups) {
  u32 i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= (1u << 24)) return;
  u32 parity = i >> 23;
  u32 b = ((126u + parity) << 23) | (i & 0x7fffffu);
  u32 fix = 0;
  int e = rsqrt_err(__uint_as_float(b), &fix);
  table[i] = (signed char)(e < -128 ? -128 : (e > 127 ? 127 : e));
  if (fix) atomicAdd(fixups, (u64)fix);
}

#define RSQ_BINS 16      // err -8..7
#define RSQ_LOW 16       // err < -8
#define RSQ_HIGH 17      // err > 7
#define RSQ_MISMATCH 18  // err differs from the base-binade table entry
#define RSQ_QUAD 19      // rsqrtf(4x) != rsqrtf(x)/2 (exponent fields <= 252)
#define RSQ_FIXUP 20     // double-rounding fixes in the correctly rounded reference
#define RSQ_COUNT 21     // inputs seen
#define RSQ_COLS 22
#define RSQ_LOG 256      // first mismatches kept: (bits, err, table err) triples

// rsqrt_sweep: every positive finite input with bits in [start, start+count),
// statistics per exponent field (255 rows of RSQ_COLS u64 counters).
extern "C" __global__ void __launch_bounds__(256) rsqrt_sweep(const signed char *__restrict__ table, u32 start,
                                                              u32 count, u64 *__restrict__ stats,
                                                              u32 *__restrict__ log_n, int *__restrict__ log) {
  __shared__ u32 hist[255 * RSQ_COLS];
  for (int i = threadIdx.x; i < 255 * RSQ_COLS; i += blockDim.x) hist[i] = 0u;
  __syncthreads();
  u64 stride = (u64)gridDim.x * blockDim.x;
  for (u64 k = (u64)blockIdx.x * blockDim.x + threadIdx.x; k < count; k += stride) {
    u32 b = start + (u32)k;
    if (b == 0u || b >= 0x7f800000u) continue;
    float x = __uint_as_float(b);
    u32 fix = 0;
    float dev = rsqrtf(x);
    int e = (int)(__float_as_uint(dev) - __float_as_uint(rsqrt_cr(x, &fix)));
    u32 ef = b >> 23;
    u32 *row = hist + ef * RSQ_COLS;
    if (e < -8) atomicAdd(row + RSQ_LOW, 1u);
    else if (e > 7) atomicAdd(row + RSQ_HIGH, 1u);
    else atomicAdd(row + (e + 8), 1u);
    int t = table[rsqrt_index(b)];
    if (t != e) {
      atomicAdd(row + RSQ_MISMATCH, 1u);
      u32 slot = atomicAdd(log_n, 1u);
      if (slot < RSQ_LOG) {
        log[3 * slot] = (int)b;
        log[3 * slot + 1] = e;
        log[3 * slot + 2] = t;
      }
    }
    if (ef <= 252u) {
      float dev4 = rsqrtf(__fmul_rn(x, 4.0f));
      if (__float_as_uint(dev4) != __float_as_uint(dev) - (1u << 23)) atomicAdd(row + RSQ_QUAD, 1u);
    }
    if (fix) atomicAdd(row + RSQ_FIXUP, fix);
    atomicAdd(row + RSQ_COUNT, 1u);
  }
  __syncthreads();
  for (int i = threadIdx.x; i < 255 * RSQ_COLS; i += blockDim.x)
    if (hist[i]) atomicAdd(stats + i, (u64)hist[i]);
}
