package golden

import (
	"fmt"
	"strings"
)

// Kernel names one producer or consumer path by the Python function that runs it
// on the GPU (SGLang PR #26209, DeepGEMM). The manifest's "kernel" field holds it.
type Kernel string

// The six paths of SPEC §8, in the order the default set writes them.
const (
	KV1Store Kernel = "store_fp4_index_k_cache"                 // folder k_v1_store
	QFP4     Kernel = "fused_q_indexer_rope_hadamard_fp4_quant" // folder q_fp4
	KV2Fused Kernel = "fused_norm_rope_indexer_fp4"             // folder k_v2_fused
	QFP8     Kernel = "fused_q_indexer_rope_hadamard_quant"     // folder q_fp8
	KFP8     Kernel = "fused_norm_rope_indexer"                 // folder k_fp8
	Logits   Kernel = "fp8_fp4_paged_mqa_logits"                // folder logits
)

// Kernels returns every path in the default set's order.
func Kernels() []Kernel { return []Kernel{KV1Store, QFP4, KV2Fused, QFP8, KFP8, Logits} }

// Path returns the case folder of k (SPEC §8), "" for an unknown kernel.
func (k Kernel) Path() string {
	switch k {
	case KV1Store:
		return "k_v1_store"
	case QFP4:
		return "q_fp4"
	case KV2Fused:
		return "k_v2_fused"
	case QFP8:
		return "q_fp8"
	case KFP8:
		return "k_fp8"
	case Logits:
		return "logits"
	}
	return ""
}

// Valid reports whether k is one of the six paths.
func (k Kernel) Valid() bool { return k.Path() != "" }

// aliases are other names of a path that people and files use: the Triton
// quantizer that store_fp4_index_k_cache calls first, and the FP8-only wrapper of
// the logits kernel.
var aliases = map[string]Kernel{
	"quantize_fp4_indexer_tensor": KV1Store,
	"fp8_paged_mqa_logits":        Logits,
}

// ParseKernel returns the path named s: a function name (the constants above and
// their aliases), a case folder name (k_v1_store, q_fp4, k_v2_fused, q_fp8, k_fp8,
// logits), or a free-form manifest value whose first identifier is one of those,
// such as the H100 ground truth's "store_fp4_index_k_cache +
// quantize_fp4_indexer_tensor" and "fused_norm_rope_indexer_fp4
// (compress_norm_rope_store, use_fp4=True)".
func ParseKernel(s string) (Kernel, error) {
	s = strings.TrimSpace(s)
	if k, ok := lookupKernel(s); ok {
		return k, nil
	}
	first := s
	if i := strings.IndexFunc(s, func(r rune) bool { return !isIdentRune(r) }); i >= 0 {
		first = s[:i]
	}
	if k, ok := lookupKernel(first); ok {
		return k, nil
	}
	return "", fmt.Errorf("golden: unknown kernel %q (want one of %s)", s, kernelNames())
}

func lookupKernel(s string) (Kernel, bool) {
	for _, k := range Kernels() {
		if s == string(k) || s == k.Path() {
			return k, true
		}
	}
	k, ok := aliases[s]
	return k, ok
}

func isIdentRune(r rune) bool {
	return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func kernelNames() string {
	var b strings.Builder
	for i, k := range Kernels() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", k, k.Path())
	}
	return b.String()
}
