#!/usr/bin/env python3
"""Check a golden set written by `fp4indexer golden`, with NumPy and nothing else.

    python3 check_golden.py GOLDEN_DIR

For every case folder GOLDEN_DIR/<path>/<case>/ it checks the manifest's SHA-256
of every file and the dtype and shape of every tensor, then recomputes the
expected outputs from the inputs with an independent NumPy version of each
kernel (SPEC §2-§6), bit for bit, wherever the case uses the PR's deployment
profile (pr26209):

  k_v1_store   Triton quantizer (scale variant `triton`, threshold codes) and
               the paged store (every loc's bytes, every other byte zero)
  q_fp4        RoPE with the GPU's FMA pattern, bf16, Hadamard, bf16, `cuda`
               quantizer; weights_out
  q_fp8        the same front without bf16, E4M3 with one fp32 scale per row
  k_v2_fused   RMSNorm (lane FMA chains and butterfly, correctly rounded rsqrt,
               or the norm_factor input), RoPE, Hadamard, `cuda`, paged store
  k_fp8        the same front, E4M3, 132-byte pages
  logits       paged MQA logits, exact dot products and the sm100 epilogue

A fused multiply-add is emulated exactly: the float64 sum of the exact product
and the addend rounded to odd, then to float32 (correct because 53 >= 24 + 2).
Prints one line per case and a summary; exits 1 on any mismatch.
"""

import hashlib
import json
import os
import struct
import sys
from fractions import Fraction

import numpy as np

# --- a safetensors reader: 8-byte header length, JSON header, raw buffer ---

DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2",
          "I32": "<i4", "U32": "<u4", "I64": "<i8", "U64": "<u8", "F16": "<f2",
          "F32": "<f4", "F64": "<f8", "BF16": "<u2", "F8_E4M3": "|u1",
          "F8_E5M2": "|u1", "F8_E8M0": "|u1"}  # bf16 and fp8 as their bits


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    buf = memoryview(data)[8 + n:]
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        arr = np.frombuffer(buf[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = (e["dtype"], arr)
    return out


# --- float32 arithmetic, bit-exact ---

F32 = np.float32
U32 = np.uint32


def f32bits(u):
    return np.asarray(u, dtype=U32).view(F32)


def bits(x):
    return np.asarray(x, dtype=F32).view(U32)


def bf16_widen(u16):
    return (np.asarray(u16, dtype=np.uint32) << 16).view(F32)


def bf16_round(x):
    """Round float32 to bf16 (nearest even on the bits; any NaN -> 0x7FFF)."""
    u = bits(x).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    r = np.where(np.isnan(x), 0x7FFF, r)
    return bf16_widen(r.astype(np.uint16))


def fma32(a, b, c):
    """fl32(a*b + c) rounded once: the product is exact in float64; the sum is
    rounded to odd in float64 (TwoSum gives its error), then to float32."""
    with np.errstate(all="ignore"):
        a, b, c = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(a, b, c))
        p = a * b
        s = p + c
        bb = s - p
        err = (p - (s - bb)) + (c - bb)
        odd = s.view(np.uint64) & 1
        fix = np.isfinite(s) & (err != 0) & (odd == 0)
        s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
        return s.astype(F32)


HADAMARD_SCALE = f32bits(0x3DB504F3)  # fl32(1/sqrt(128))
WEIGHT_SCALE = f32bits(0x3C3504F3)    # 128^-0.5 * 64^-0.5
THRESHOLDS = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5], dtype=F32)


def rope(x, table, pos):
    """RoPE on dims 64..127 as adjacent pairs: re = fma(xr, c, -fl(xi*s)),
    im = fma(xi, c, fl(xr*s)). x [rows, 128], pos [rows]."""
    y = x.copy()
    xr, xi = x[:, 64::2], x[:, 65::2]
    c, s = table[pos, 0::2], table[pos, 1::2]
    with np.errstate(invalid="ignore", over="ignore"):
        y[:, 64::2] = fma32(xr, c, -(xi * s))
        y[:, 65::2] = fma32(xi, c, xr * s)
    return y


def hadamard(x):
    """Unnormalised Sylvester butterflies h = 1, 2, ..., 64 in float32, then
    times fl32(1/sqrt(128))."""
    y = x.copy()
    rows = y.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):
        h = 1
        while h < 128:
            v = y.reshape(rows, 128 // (2 * h), 2, h)
            a, b = v[:, :, 0, :].copy(), v[:, :, 1, :].copy()
            v[:, :, 0, :], v[:, :, 1, :] = a + b, a - b
            h *= 2
        return y * HADAMARD_SCALE


def canon(x):
    """NVIDIA GPUs return the NaN 0x7FFFFFFF from every fp32 operation; so does
    the model, for every fp32 result (weights_out, norm_factor, logits)."""
    x = np.asarray(x, dtype=F32)
    return np.where(np.isnan(x), f32bits(0x7FFFFFFF), x)


def ceil_exp(f):
    u = bits(f) & 0x7FFFFFFF
    return (u >> 23) + ((u & 0x7FFFFF) != 0)


def codes(v):
    """E2M1 threshold codes: idx = #thresholds |v| exceeds (NaN counts as 6),
    sign only when v < 0 and idx != 0."""
    with np.errstate(invalid="ignore"):
        a = np.fmin(np.abs(v), F32(6))
        idx = (a[..., None] > THRESHOLDS).sum(-1).astype(np.uint8)
        neg = (v < 0) & (idx != 0)
    return idx | (neg.astype(np.uint8) << 3)


def pack(c):
    c = c.reshape(c.shape[0], 64, 2)
    return (c[:, :, 0] | (c[:, :, 1] << 4)).astype(np.uint8)


def group_amax(x):
    """Largest |x| per group of 32, NaN ignored (an all-NaN group gives 0)."""
    with np.errstate(invalid="ignore"):
        m = np.fmax.reduce(np.abs(x.reshape(x.shape[0], 4, 32)), axis=2)
    return np.where(np.isnan(m), F32(0), m)


def quant_triton(x):
    amax = group_amax(x)
    raw = np.fmax(amax / F32(6), F32(1e-4))
    e = np.clip(ceil_exp(raw), 1, 254).astype(U32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = x.reshape(-1, 4, 32) / f32bits(e << 23)[:, :, None]
    return pack(codes(v).reshape(-1, 128)), e


def quant_cuda(x):
    amax = group_amax(x)
    raw = np.fmax(F32(1e-4), amax) / F32(6)
    e = ceil_exp(raw).astype(np.int64) & 0xFF
    inv = f32bits(((254 - e) << 23) & 0xFFFFFFFF)  # e = 255 gives -Inf, as on the GPU
    with np.errstate(invalid="ignore", over="ignore"):
        v = x.reshape(-1, 4, 32) * inv[:, :, None]
    return pack(codes(v).reshape(-1, 128)), e.astype(U32)


def scale_words(e):
    return (e[:, 0] | (e[:, 1] << 8) | (e[:, 2] << 16) | (e[:, 3] << 24)).astype(U32)


E4M3_VALUES = np.array([(1 + (b & 7) / 8) * 2.0 ** ((b >> 3) - 7) if b >> 3 else (b & 7) * 2.0 ** -9
                        for b in range(127)])  # codes 0x00..0x7E


def e4m3(x):
    """cvt.rn.satfinite.e4m3: nearest, ties to the even code, |x| > 448 -> 448,
    NaN -> 0x7F, sign kept (-0 -> 0x80)."""
    x = np.asarray(x, dtype=F32)
    with np.errstate(invalid="ignore"):
        a = np.minimum(np.abs(x).astype(np.float64), 448.0)
    a = np.where(np.isnan(x), 0.0, a)
    hi = np.clip(np.searchsorted(E4M3_VALUES, a, side="left"), 0, 126)
    lo = np.maximum(hi - 1, 0)
    dhi, dlo = E4M3_VALUES[hi] - a, a - E4M3_VALUES[lo]
    code = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = code.astype(np.uint8) | ((bits(x) >> 24) & 0x80).astype(np.uint8)
    return np.where(np.isnan(x), np.uint8(0x7F), code)


def e4m3_decode(b):
    b = np.asarray(b, dtype=np.uint8)
    mag = np.append(E4M3_VALUES, np.nan)[b & 0x7F]
    return np.where(b & 0x80, -mag, mag)


def quant_fp8(x):
    with np.errstate(invalid="ignore"):
        amax = np.fmax.reduce(np.abs(x), axis=1)
    amax = np.where(np.isnan(amax), F32(0), amax)
    scale = np.fmax(F32(1e-4), amax) / F32(448)
    inv = F32(1) / scale
    with np.errstate(invalid="ignore", over="ignore"):
        return e4m3(x * inv[:, None]), scale


def rsqrt_correct(t):
    """Correctly rounded float32 1/sqrt(t) for float32 t (exact check near ties)."""
    t64 = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r64 = 1 / np.sqrt(t64)
    r = r64.astype(F32)
    for i in np.flatnonzero(np.isfinite(r64) & (r64 > 0)):
        c = r.flat[i]
        lo, hi = np.nextafter(c, F32(0)), np.nextafter(c, F32(np.inf))
        tf = Fraction(float(t64.flat[i]))
        # the true 1/sqrt(t) lies in (m1, m2) iff m^2 t compares with 1
        for cand in (lo, c, hi):
            m1 = (Fraction(float(cand)) + Fraction(float(np.nextafter(cand, F32(0))))) / 2
            m2 = (Fraction(float(cand)) + Fraction(float(np.nextafter(cand, F32(np.inf))))) / 2
            above_m1 = m1 * m1 * tf < 1 or (m1 * m1 * tf == 1 and bits(cand) % 2 == 0)
            below_m2 = m2 * m2 * tf > 1 or (m2 * m2 * tf == 1 and bits(cand) % 2 == 0)
            if above_m1 and below_m2:
                r.flat[i] = cand
                break
    return r


def norm_factor(x, eps):
    """The fused K kernels' nf = rsqrt(fma(s, 2^-7, eps)) with s the lane FMA
    chains (4 elements per lane) and the xor butterfly 16, 8, 4, 2, 1."""
    lanes = x.reshape(x.shape[0], 32, 4)
    acc = np.zeros(lanes.shape[:2], dtype=F32)
    for i in range(4):
        acc = fma32(lanes[:, :, i], lanes[:, :, i], acc)
    m = 16
    with np.errstate(invalid="ignore", over="ignore"):
        while m >= 1:
            acc = acc[:, :m] + acc[:, m:2 * m]
            m //= 2
    return rsqrt_correct(fma32(acc[:, 0], F32(2.0 ** -7), eps))


# --- per-path checks; each returns a list of problems ---

def same(name, got, want):
    got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
    if got.shape != want.shape:
        return ["%s: shape %s, NumPy %s" % (name, want.shape, got.shape)]
    g, w = got.view(np.uint8).ravel(), want.view(np.uint8).ravel()
    bad = np.flatnonzero(g != w)
    if bad.size:
        return ["%s: %d bytes differ from the NumPy recomputation, first at byte %d" % (name, bad.size, bad[0])]
    return []


def cache_tokens(cache, locs, page_size, payload):
    """The payload and scale bytes each loc holds, and a mask of the bytes no
    loc covers."""
    cache = cache.reshape(cache.shape[0], -1)
    page, slot = locs // page_size, locs % page_size
    pl = np.stack([cache[p, s * payload:(s + 1) * payload] for p, s in zip(page, slot)]) if len(locs) else None
    base = page_size * payload
    sc = np.stack([cache[p, base + 4 * s:base + 4 * s + 4] for p, s in zip(page, slot)]) if len(locs) else None
    covered = np.zeros(cache.shape, dtype=bool)
    for p, s in zip(page, slot):
        covered[p, s * payload:(s + 1) * payload] = True
        covered[p, base + 4 * s:base + 4 * s + 4] = True
    return pl, sc, covered


def check_store(cache, locs, page_size, payload, want_pl, want_sc, name):
    # repeated locs: the last row wins
    last = {}
    for i, loc in enumerate(locs):
        last[int(loc)] = i
    idx = np.array(sorted(last.values()), dtype=np.int64)
    pl, sc, covered = cache_tokens(cache, locs[idx], page_size, payload)
    out = []
    if len(idx):
        out += same(name + " payloads at loc", pl, want_pl[idx])
        out += same(name + " scales at loc", sc, want_sc[idx])
    if np.any(cache.reshape(cache.shape[0], -1)[~covered]):
        out.append(name + ": bytes outside the stored tokens are not zero")
    return out


def opt(m, key, default):
    return str(m["options"].get(key, default))


def deployed(m, **expect):
    return all(opt(m, k, v) == v for k, v in expect.items()) and opt(m, "profile", "pr26209") == "pr26209"


ROPE = "interleaved, last 64 dims, re=fma(xr,c,-fl(xi*s)), im=fma(xi,c,fl(xr*s))"


def check_k_v1(m, inp, exp):
    if not deployed(m, scale_variant="triton", element_mode="threshold"):
        return None
    dt, x = inp["input"]
    x = bf16_widen(x) if dt == "BF16" else x.astype(F32)
    fp4, e = quant_triton(x)
    out = same("x_fp4", fp4.view(np.int8), exp["x_fp4"][1])
    out += same("x_sf", scale_words(e).view(np.int32), exp["x_sf"][1])
    scales = scale_words(e).view(np.uint8).reshape(-1, 4)
    out += check_store(exp["cache"][1], inp["loc"][1].astype(np.int64), int(opt(m, "page_size", 64)), 64, fp4, scales, "cache")
    return out


def q_front(inp, bf):
    q = bf16_widen(inp["q_input"][1])
    b, h = q.shape[:2]
    x = q.reshape(b * h, 128)
    pos = np.repeat(inp["positions"][1].astype(np.int64), h)
    y = rope(x, inp["freqs_cis"][1], pos)
    if bf:
        y[:, 64:] = bf16_round(y[:, 64:])
    y = hadamard(y)
    if bf:
        y = bf16_round(y)
    w = bf16_widen(inp["weight"][1]).reshape(-1) * WEIGHT_SCALE
    return y, w, (b, h)


def check_q_fp4(m, inp, exp):
    if not deployed(m, scale_variant="cuda", element_mode="threshold", rope=ROPE, rope_bf16="true",
                    hadamard_bf16="true", weight_scale_bits="0x3C3504F3"):
        return None
    y, w, (b, h) = q_front(inp, True)
    fp4, e = quant_cuda(y)
    out = same("q_fp4", fp4.view(np.int8).reshape(b, h, 64), exp["q_fp4"][1])
    out += same("q_sf", scale_words(e).view(np.int32).reshape(b, h), exp["q_sf"][1])
    out += same("weights_out", canon(w).reshape(b, h, 1), exp["weights_out"][1])
    return out


def check_q_fp8(m, inp, exp):
    if not deployed(m, rope=ROPE, weight_scale_bits="0x3C3504F3", fp8_overflow="satfinite"):
        return None
    y, w, (b, h) = q_front(inp, False)
    q8, scale = quant_fp8(y)
    out = same("q_fp8", q8.reshape(b, h, 128), exp["q_fp8"][1])
    with np.errstate(invalid="ignore"):
        out += same("weights_out", canon(w * scale).reshape(b, h, 1), exp["weights_out"][1])
    return out


def check_k_fused(m, inp, exp, fp8):
    if fp8 and not deployed(m, rope=ROPE, fp8_overflow="satfinite"):
        return None
    if not fp8 and not deployed(m, rope=ROPE, scale_variant="cuda", element_mode="threshold"):
        return None
    x = inp["kv"][1].astype(F32) if inp["kv"][0] == "F32" else bf16_widen(inp["kv"][1])
    wt = inp["norm_weight"][1].astype(F32) if inp["norm_weight"][0] == "F32" else bf16_widen(inp["norm_weight"][1])
    out = []
    if "norm_factor" in inp:
        nf = inp["norm_factor"][1].astype(F32)
    elif opt(m, "rsqrt", "correctly rounded 1/sqrt") == "correctly rounded 1/sqrt":
        nf = canon(norm_factor(x, F32(float(opt(m, "eps", "1e-6")))))
    else:
        # a measured device rsqrtf: not reproduced here; the rest is checked given it
        nf = exp["norm_factor"][1].astype(F32)
    out += same("norm_factor", nf, exp["norm_factor"][1])
    with np.errstate(invalid="ignore", over="ignore"):
        y = (x * nf[:, None]) * wt[None, :]
    y = hadamard(rope(y, inp["freqs_cis"][1], inp["positions"][1].astype(np.int64)))
    P = int(opt(m, "page_size", 64))
    if fp8:
        payload, scale = quant_fp8(y)
        sc = scale.astype("<f4").view(np.uint8).reshape(-1, 4)
        out += check_store(exp["kvcache"][1], inp["out_loc"][1].astype(np.int64), P, 128, payload, sc, "kvcache")
    else:
        payload, e = quant_cuda(y)
        sc = scale_words(e).view(np.uint8).reshape(-1, 4)
        out += check_store(exp["kvcache"][1], inp["out_loc"][1].astype(np.int64), P, 64, payload, sc, "kvcache")
    return out


E2M1_TWICE = np.array([0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12], dtype=np.int64)


def to_f32_exact(n, lo):
    """fl32(n * 2^lo) for an integer n != 0, rounded once (nearest even),
    subnormals and overflow included."""
    neg, n = n < 0, abs(n)
    e = n.bit_length() - 1 + lo  # 2^e <= |x| < 2^(e+1)
    qe = max(e - 23, -149)       # the exponent of one fp32 ulp at |x|
    if lo >= qe:
        m = n << (lo - qe)
    else:
        shift = qe - lo
        m, r = n >> shift, n & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if r > half or (r == half and m & 1):
            m += 1
    with np.errstate(over="ignore"):
        v = np.float32(np.ldexp(np.float64(m), qe))  # m <= 2^24: exact, or Inf past the range
    return -v if neg else v


def logits_reference(m, inp):
    fp4 = "q_sf" in inp
    q = inp["q"][1]
    b, n, h = q.shape[:3]
    rows = b * n
    kv = inp["kv_cache"][1].reshape(inp["kv_cache"][1].shape[0], -1)
    P = int(opt(m, "page_size", 64))
    pb = 64 if fp4 else 128
    w = inp["weights"][1].astype(F32).reshape(rows, h)
    ctx = inp["context_lens"][1].astype(np.int64).reshape(rows)
    table = inp["block_table"][1].astype(np.int64)
    width = int(m["options"].get("max_context_len", ctx.max() if rows else 0))
    out = np.full((rows, width), -np.inf, dtype=F32)
    for r in range(rows):
        L = int(ctx[r])
        if L == 0:
            continue
        j = np.arange(L)
        page, slot = table[r // n, j // P], j % P
        kpl = kv[page[:, None], slot[:, None] * pb + np.arange(pb)]
        ksc = kv[page[:, None], P * pb + slot[:, None] * 4 + np.arange(4)]
        if fp4:
            qb = q.reshape(rows, h, 64)[r].view(np.uint8)
            q2 = np.stack([E2M1_TWICE[qb & 15], E2M1_TWICE[qb >> 4]], -1).reshape(h, 4, 32)
            k2 = np.stack([E2M1_TWICE[kpl & 15], E2M1_TWICE[kpl >> 4]], -1).reshape(L, 4, 32)
            S = np.einsum("hgd,jgd->hjg", q2, k2)
            eq = inp["q_sf"][1].reshape(rows, h).view(np.uint32)[r]
            eq = np.stack([(eq >> (8 * g)) & 0xFF for g in range(4)], -1).astype(np.int64)
            ek = ksc.astype(np.int64)
            E = eq[:, None, :] + ek[None, :, :] - 256
            nan = (eq == 255).any(-1)[:, None] | (ek == 255).any(-1)[None, :]
            Snz = S != 0
            big = np.where(Snz, E, -10**6).max(-1) - np.where(Snz, E, 10**6).min(-1) > 38
            with np.errstate(over="ignore"):
                a = np.ldexp(S.astype(np.float64), E).sum(-1).astype(F32)
            for hh, jj in zip(*np.nonzero(big & ~nan)):
                lo = int(E[hh, jj][S[hh, jj] != 0].min())
                tot = sum(int(S[hh, jj, g]) << int(E[hh, jj, g] - lo) for g in range(4) if S[hh, jj, g])
                a[hh, jj] = to_f32_exact(tot, lo)
            a = np.where(nan, F32(np.nan), a)
            sk = None
        else:
            qv = e4m3_decode(q.reshape(rows, h, 128)[r])
            kvv = e4m3_decode(kpl)
            with np.errstate(invalid="ignore"):
                a = np.einsum("hd,jd->hj", qv, kvv).astype(F32)
            sk = ksc.copy().view("<f4").reshape(L)
        # sm100 epilogue: four chains, head h into chain h mod 4
        chains = [np.zeros(L, dtype=F32) for _ in range(4)]
        with np.errstate(invalid="ignore", over="ignore"):
            for hh in range(h):
                relu2 = a[hh] + np.abs(a[hh])
                chains[hh % 4] = fma32(relu2, w[r, hh], chains[hh % 4])
            red = ((chains[0] + chains[2]) + (chains[1] + chains[3])) / F32(2)
            if sk is not None:
                red = red * sk
        out[r, :L] = red
    return out


def check_logits(m, inp, exp):
    if not deployed(m, dot="exact", epilogue="sm100"):
        return None
    got = logits_reference(m, inp)
    want = exp["logits"][1]
    if got.shape != want.shape:
        return ["logits: shape %s, NumPy %s" % (want.shape, got.shape)]
    bad = np.flatnonzero(bits(canon(got)) != bits(want))
    if bad.size:
        r, c = divmod(int(bad[0]), want.shape[1])
        return ["logits: %d entries differ from the NumPy recomputation, first [%d, %d]: %r vs %r"
                % (bad.size, r, c, float(want[r, c]), float(got[r, c]))]
    return []


CHECKS = {
    "k_v1_store": check_k_v1,
    "q_fp4": check_q_fp4,
    "q_fp8": check_q_fp8,
    "k_v2_fused": lambda m, i, e: check_k_fused(m, i, e, False),
    "k_fp8": lambda m, i, e: check_k_fused(m, i, e, True),
    "logits": check_logits,
}


def check_case(d):
    with open(os.path.join(d, "manifest.json")) as f:
        m = json.load(f)
    problems = []
    for name, want in sorted(m["sha256"].items()):
        with open(os.path.join(d, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != want:
                problems.append("%s: SHA-256 differs from the manifest" % name)
    files = {}
    for part in ("inputs", "expected"):
        files[part] = load_safetensors(os.path.join(d, part + ".safetensors"))
        for name, (dtype, shape) in m["tensors"][part].items():
            got = files[part].get(name)
            if got is None:
                problems.append("%s %s: missing" % (part, name))
            elif got[0] != dtype or list(got[1].shape) != list(shape):
                problems.append("%s %s: %s%s, manifest %s%s" % (part, name, got[0], list(got[1].shape), dtype, shape))
    path = m.get("path") or os.path.basename(os.path.dirname(os.path.normpath(d)))
    check = CHECKS.get(path)
    result = None
    if check is not None and not problems:
        result = check(m, files["inputs"], files["expected"])
        if result:
            problems += result
    return problems, result is not None


def main(argv):
    if len(argv) != 2:
        print("usage: check_golden.py GOLDEN_DIR", file=sys.stderr)
        return 2
    root = argv[1]
    cases = sorted(os.path.join(root, p, c) for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))
                   for c in os.listdir(os.path.join(root, p))
                   if os.path.isfile(os.path.join(root, p, c, "manifest.json")))
    if not cases:
        print("no case folders (<path>/<case>/manifest.json) under %s" % root, file=sys.stderr)
        return 1
    failed = recomputed = 0
    for d in cases:
        try:
            problems, done = check_case(d)
        except Exception as e:  # a malformed file is a failure, not a crash
            problems, done = ["%s: %s" % (type(e).__name__, e)], False
        recomputed += done
        name = os.path.relpath(d, root)
        if problems:
            failed += 1
            print("FAIL %s" % name)
            for p in problems:
                print("     " + p)
        else:
            print("ok   %s%s" % (name, "" if done else " (checksums, dtypes and shapes only)"))
    print("%d cases: %d ok, %d failed; %d recomputed bit for bit with NumPy"
          % (len(cases), len(cases) - failed, failed, recomputed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
