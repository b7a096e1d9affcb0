#!/usr/bin/env python3
"""Time a NumPy reference of the `triton` FP4 row quantizer on one thread, beside Go.

The reference is what a test author writes (SGLang's test_fp4_indexer.py style):
per-32 group amax, scale = 2^ceil_exp(max(amax/6, 1e-4)) clamped to [1, 254],
threshold codes by counting exceeded thresholds, even element in the low nibble.
It is a timing baseline; the bit-for-bit check of such a NumPy quantizer against
the Go models is examples/python/check_golden.py.

Usage: python3 scripts/bench_numpy_quantizer.py [--rows N] [--go]
With --go it also runs BenchmarkRow/triton/threshold of package ue8m0 with
GOMAXPROCS=1 and prints rows/s of both and the ratio.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

THRESHOLDS = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0], dtype=np.float32)


def quantize_triton(x):
    """x: float32 [N, 128] -> (packed uint8 [N, 64], scale words uint32 [N])."""
    g = x.reshape(-1, 4, 32)
    amax = np.max(np.abs(g), axis=2)
    raw = np.maximum(amax / np.float32(6), np.float32(1e-4)).astype(np.float32)
    bits = raw.view(np.uint32)
    e = (bits >> 23) + ((bits & 0x7FFFFF) != 0)
    e = np.clip(e, 1, 254).astype(np.uint32)
    scale = (e << 23).view(np.float32)
    v = g / scale[:, :, None]
    a = np.minimum(np.abs(v), np.float32(6))
    idx = (a[..., None] > THRESHOLDS).sum(axis=-1).astype(np.uint8)
    code = idx | (((v < 0) & (idx != 0)).astype(np.uint8) << 3)
    code = code.reshape(x.shape[0], 128)
    packed = code[:, 0::2] | (code[:, 1::2] << 4)
    sf = e[:, 0] | (e[:, 1] << 8) | (e[:, 2] << 16) | (e[:, 3] << 24)
    return packed, sf


def numpy_rows_per_s(rows, repeat):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((rows, 128)) * 2.0 ** rng.integers(-20, 20, (rows, 1))).astype(np.float32)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        quantize_triton(x)
        best = min(best, time.perf_counter() - t0)
    return rows / best


def go_rows_per_s():
    out = subprocess.run(
        ["go", "test", "-run", "^$", "-bench", "BenchmarkRow/triton/threshold$", "-benchtime", "200000x", "./ue8m0"],
        env=dict(os.environ, GOMAXPROCS="1"), capture_output=True, text=True, check=True).stdout
    m = re.search(r"([\d.]+) rows/s", out)
    return float(m.group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=65536)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--go", action="store_true")
    a = p.parse_args()
    np_rate = numpy_rows_per_s(a.rows, a.repeat)
    print(f"NumPy {np.__version__}, 1 thread: {np_rate:,.0f} rows/s ({1e9 / np_rate / 128:.1f} ns/element)")
    if a.go:
        go_rate = go_rows_per_s()
        print(f"Go ue8m0 Row triton/threshold, GOMAXPROCS=1: {go_rate:,.0f} rows/s ({1e9 / go_rate / 128:.2f} ns/element)")
        print(f"ratio Go/NumPy: {go_rate / np_rate:.1f}x")


if __name__ == "__main__":
    main()
