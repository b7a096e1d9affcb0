#!/usr/bin/env python3
"""Time a NumPy float32 reference of the FP4 paged MQA logits on one thread.

It is the baseline of the mqa package's speed target: exact FP4 logits for
H = 64, D = 128 at >= 2x this reference (and >= 250,000 keys/s per core).

The reference does what a straightforward NumPy port of DeepGEMM's scorer
does for one query row: dequantize the FP4 keys (E2M1 codes times their UE8M0
group scales) and the 64 query heads to float32, one matmul [keys, 128] x
[128, 64], relu, and the weighted sum over heads. BLAS and OpenMP are pinned
to one thread before numpy is imported.

Usage:
    python3 scripts/bench_numpy_logits.py [--keys N] [--repeat R] [--go]

With --go it also runs the Go benchmark BenchmarkLogitsFP4Exact/workers=1
(GOMAXPROCS=1) from the repository root, alternating with the NumPy timing,
and prints both figures and their ratio (best of each).
Only numpy is needed (Debian's python3-numpy works).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
            "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HEADS = 64
DIM = 128
GROUP = 32

# E2M1 code (sign<<3 | idx) -> value (SPEC section 2); 0x8 is -0.
E2M1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6],
                dtype=np.float32)
# UE8M0 byte -> 2^(e-127) as float32 (0 is the subnormal 2^-127, 0xFF NaN).
UE8M0 = np.append(np.ldexp(1.0, np.arange(255) - 127), np.nan).astype(np.float32)


def dequantize(packed, scales):
    """packed uint8 [n, 64] (element 2i in the low nibble), scales uint8 [n, 4]."""
    n = packed.shape[0]
    codes = np.empty((n, DIM), dtype=np.uint8)
    codes[:, 0::2] = packed & 0xF
    codes[:, 1::2] = packed >> 4
    vals = E2M1[codes].reshape(n, DIM // GROUP, GROUP)
    vals *= UE8M0[scales][:, :, None]
    return vals.reshape(n, DIM)


def logits(q_packed, q_scales, k_packed, k_scales, weights):
    q = dequantize(q_packed, q_scales)              # [64, 128]
    k = dequantize(k_packed, k_scales)              # [keys, 128]
    scores = k @ q.T                                # [keys, 64] float32
    np.maximum(scores, 0, out=scores)               # relu
    return scores @ weights                         # [keys]


def time_numpy(keys, repeat, rng):
    q_packed = rng.integers(0, 256, (HEADS, DIM // 2), dtype=np.uint8)
    k_packed = rng.integers(0, 256, (keys, DIM // 2), dtype=np.uint8)
    q_scales = rng.integers(120, 131, (HEADS, DIM // GROUP), dtype=np.uint8)
    k_scales = rng.integers(120, 131, (keys, DIM // GROUP), dtype=np.uint8)
    weights = rng.standard_normal(HEADS).astype(np.float32)
    logits(q_packed, q_scales, k_packed, k_scales, weights)  # warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = logits(q_packed, q_scales, k_packed, k_scales, weights)
        best = min(best, time.perf_counter() - t0)
    assert out.shape == (keys,) and out.dtype == np.float32
    return keys / best


def time_go(root):
    env = dict(os.environ, GOMAXPROCS="1")
    cmd = ["go", "test", "./mqa", "-run", "^$", "-bench", "^BenchmarkLogitsFP4Exact$/^workers=1$",
           "-benchtime", "10x", "-count", "3"]
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("go benchmark failed:\n" + res.stdout + res.stderr)
    rates = [float(m) for m in re.findall(r"([0-9.]+) keys/s", res.stdout)]
    if not rates:
        sys.exit("no keys/s in the go benchmark output:\n" + res.stdout)
    return max(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=32768, help="keys scored for one query row")
    ap.add_argument("--repeat", type=int, default=10, help="timed runs (best is kept)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds with --go")
    ap.add_argument("--go", action="store_true", help="also time the Go benchmark and print the ratio")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    numpy_best, go_best = 0.0, 0.0
    for _ in range(args.rounds if args.go else 1):
        numpy_best = max(numpy_best, time_numpy(args.keys, args.repeat, rng))
        if args.go:
            go_best = max(go_best, time_go(root))
    print(f"numpy {np.__version__} float32 reference, 1 thread, H={HEADS} D={DIM} "
          f"keys={args.keys}: {numpy_best:,.0f} keys/s")
    if args.go:
        print(f"go mqa.Logits FP4 exact (sm100), 1 goroutine, GOMAXPROCS=1: {go_best:,.0f} keys/s")
        print(f"ratio go/numpy: {go_best / numpy_best:.2f}")


if __name__ == "__main__":
    main()
