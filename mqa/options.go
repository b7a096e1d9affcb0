package mqa

import (
	"fmt"
	"runtime"
)

// Dot selects how the per-head dot product a[h] = q̂[h,:]·k̂[j,:] is rounded
// (SPEC §6, "Per-head dot product").
type Dot uint8

const (
	// Exact is the true dot product rounded once to fp32 (round to nearest
	// even, subnormals kept, overflow to ±Inf). It is the ideal a tensor core
	// approaches; an exact zero is +0.
	Exact Dot = iota
	// FP32FMA is what a plain (non-tensor-core) GPU kernel computes:
	// acc = +0; for d = 0..D−1: acc = fma(q̂[d], k̂[d], acc) in fp32. For FP4,
	// q̂ = fl(e2m1 · 2^(e−127)) with the scale decoded as an fp32 (2^−127 is
	// the subnormal 0x00400000; 0xFF is NaN), so q̂ is exact except that
	// |q̂| ≥ 2^128 overflows to ±Inf. For FP8, q̂ and k̂ are the E4M3 values
	// and the per-key scale is applied by the epilogue.
	FP32FMA
)

var dotNames = [...]string{Exact: "exact", FP32FMA: "fp32-fma"}

// String returns the CLI name of d: "exact" or "fp32-fma".
func (d Dot) String() string {
	if int(d) < len(dotNames) {
		return dotNames[d]
	}
	return fmt.Sprintf("Dot(%d)", uint8(d))
}

// ParseDot is the inverse of Dot.String.
func ParseDot(s string) (Dot, error) {
	for i, n := range dotNames {
		if s == n {
			return Dot(i), nil
		}
	}
	return 0, fmt.Errorf("mqa: unknown dot %q (want exact or fp32-fma)", s)
}

// Epilogue selects the head-sum reduction that turns the H dot products of one
// (query row, key) pair into a logit (SPEC §6, "Head-sum epilogue"). Every
// variant is modelled operation by operation in fp32; each fused multiply-add
// is fma.FMA32 and each other operation is rounded on its own.
type Epilogue uint8

const (
	// SM100 is DeepGEMM's SM100 kernel with fp32 weights (the deployment's GPU),
	// as the reference note describes its HEAD and as read in
	// deep_gemm/include/deep_gemm/impls/sm100_mqa_logits.cuh at commit
	// 0185f6beb7319f7beae31d03fd3ac3f34e8b3b4b (older commits of the FP4 paged
	// kernel used fmaxf(a, 0) and no doubling). In the source each head contributes fma(a + |a|, w, L[c]) to one of four chains
	// c = h mod 4 (two paired __ffma2_rn), then
	// R = fl(fl(L0 + L2) + fl(L1 + L3)), reduced = R / 2; FP4: out = reduced,
	// FP8: out = fl(reduced · s_k). The model performs exactly these operations.
	// a + |a| = 2·relu(a) exactly for finite a ≤ MaxFloat32/2, so this equals
	// SPEC §6's fma(relu(a), w, L) form except where a doubled partial sum
	// overflows or R/2 is a subnormal that loses its last bit. The relu is
	// a + |a|: NaN stays NaN, −0 and every negative give +0, +Inf gives +Inf
	// and −Inf gives NaN (−Inf + Inf).
	SM100 Epilogue = iota
	// Sequential is one fp32 chain in head order, the epilogue of a plain GPU
	// kernel: L = +0; for h = 0..H−1: L = fma(relu(a[h]), w[h], L);
	// FP4: out = L, FP8: out = fl(L · s_k). relu(a) is a for a > 0, NaN for
	// NaN (propagates) and +0 otherwise (−0, negatives and −Inf).
	Sequential
	// SM90 is DeepGEMM's SM90 FP8 kernel (H100/H200; FP8 only, H ∈ {32, 64}):
	// for c = 0..3, A_c starts as fl(relu(a[2c])·w[2c]) and takes
	// fma(relu(a[8m+2c]), w[8m+2c], A_c) for m = 1..H/8−1, B_c the same over
	// heads 8m+2c+1; P_c = fl(fl(A_c + B_c) · s_k);
	// out = fl(fl(P0 + P1) + fl(P2 + P3)). relu is fmaxf(a, 0): NaN gives +0,
	// −0 gives +0 (PTX max.f32 orders −0 below +0; not measured here).
	SM90
)

var epilogueNames = [...]string{SM100: "sm100", Sequential: "sequential", SM90: "sm90"}

// String returns the CLI name of e: "sm100", "sequential" or "sm90".
func (e Epilogue) String() string {
	if int(e) < len(epilogueNames) {
		return epilogueNames[e]
	}
	return fmt.Sprintf("Epilogue(%d)", uint8(e))
}

// ParseEpilogue is the inverse of Epilogue.String.
func ParseEpilogue(s string) (Epilogue, error) {
	for i, n := range epilogueNames {
		if s == n {
			return Epilogue(i), nil
		}
	}
	return 0, fmt.Errorf("mqa: unknown epilogue %q (want sm100, sequential or sm90)", s)
}

// Format is the operand format of the kernel: DeepGEMM selects FP4 when q comes
// with its scale factors (q_sf) and FP8 otherwise.
type Format uint8

const (
	// FP4: q and k are packed E2M1 with one UE8M0 scale per 32 elements.
	FP4 Format = iota
	// FP8: q and k are E4M3; k has one fp32 scale per token, q none (it is
	// folded into the weights).
	FP8
)

// String returns "fp4" or "fp8".
func (f Format) String() string {
	switch f {
	case FP4:
		return "fp4"
	case FP8:
		return "fp8"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Options selects the model's arithmetic. The zero value is the deployment:
// exact dot products (the ideal the tensor core approaches) and the SM100 epilogue.
type Options struct {
	Dot      Dot
	Epilogue Epilogue
	// Workers is the number of goroutines; 0 means runtime.GOMAXPROCS(0). The
	// logits do not depend on it.
	Workers int
}

func (o Options) validate(f Format, h int) error {
	if int(o.Dot) >= len(dotNames) {
		return &InputError{Arg: "Options.Dot", Msg: fmt.Sprintf("unknown value %d", uint8(o.Dot))}
	}
	if int(o.Epilogue) >= len(epilogueNames) {
		return &InputError{Arg: "Options.Epilogue", Msg: fmt.Sprintf("unknown value %d", uint8(o.Epilogue))}
	}
	if o.Epilogue == SM90 {
		if f == FP4 {
			return &InputError{Arg: "Options.Epilogue", Msg: "sm90 has no FP4 kernel (FP4 logits run on SM100 only)"}
		}
		if h != 32 && h != 64 {
			return &InputError{Arg: "H", Msg: fmt.Sprintf("%d not supported by the sm90 epilogue (want 32 or 64)", h)}
		}
	}
	if o.Workers < 0 {
		return &InputError{Arg: "Options.Workers", Msg: fmt.Sprintf("%d is negative", o.Workers)}
	}
	return nil
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}
