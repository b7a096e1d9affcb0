package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/fp4indexer/fp4indexer/golden"
	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

const runHelp = `usage: fp4indexer run -kernel NAME -in INPUTS.safetensors -o OUT.safetensors [-profile P]
       fp4indexer run -case DIR -o OUT.safetensors [-kernel NAME] [-profile P]

Computes the exact expected outputs of a kernel for inputs you bring
(activations captured from a model, your own edge cases), with the tensor names
and dtypes of SPEC §8 (the kernels' Python argument names):

  k_v1_store  store_fp4_index_k_cache                  input, loc, [cache]          -> x_fp4, x_sf, cache
  q_fp4       fused_q_indexer_rope_hadamard_fp4_quant  q_input, weight, freqs_cis, positions -> q_fp4, q_sf, weights_out
  k_v2_fused  fused_norm_rope_indexer_fp4              kv, norm_weight, freqs_cis, positions, out_loc, [norm_factor], [kvcache]
                                                       -> kvcache, norm_factor
  q_fp8       fused_q_indexer_rope_hadamard_quant      as q_fp4 -> q_fp8, weights_out
  k_fp8       fused_norm_rope_indexer                  as k_v2_fused -> kvcache (132-byte layout), norm_factor
  logits      fp8_fp4_paged_mqa_logits                 q, [q_sf], kv_cache, weights, context_lens, block_table -> logits

-case DIR reads DIR/manifest.json (kernel and options) and DIR/inputs.safetensors,
as the golden cases and the H100 ground truth store them. The fused K paths take
each row's norm factor from a norm_factor input when there is one (a GPU's own
rsqrtf), so a captured run reproduces exactly.

Flags:
`

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	kernelName := fs.String("kernel", "", "kernel: function or path folder name (default with -case: the manifest's)")
	in := fs.String("in", "", "inputs safetensors file")
	caseDir := fs.String("case", "", "case folder with manifest.json and inputs.safetensors")
	out := fs.String("o", "", "output safetensors file (written atomically)")
	profile := fs.String("profile", "", "model profile: pr26209, optionally with ,KEY=VALUE overrides (default: the case's options with -case, else pr26209)")
	fs.Usage = func() {
		fmt.Fprint(stderr, runHelp)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return usagef("-o OUT.safetensors is required")
	}
	if (*in == "") == (*caseDir == "") {
		return usagef("give exactly one of -in FILE (with -kernel) and -case DIR")
	}
	var (
		kernel golden.Kernel
		inputs *st.File
		prof   golden.Profile
		err    error
	)
	if *kernelName != "" {
		if kernel, err = golden.ParseKernel(*kernelName); err != nil {
			return usagef("-kernel: %v", err)
		}
	}
	if *profile != "" {
		if prof, err = golden.ParseProfile(*profile); err != nil {
			return usagef("-profile: %v", err)
		}
	}
	if *caseDir != "" {
		c, err := golden.ReadInputs(*caseDir)
		if err != nil {
			return err
		}
		if kernel == "" {
			kernel = c.Kernel
		}
		if *profile == "" {
			if prof, err = golden.ProfileFromOptions(kernel, c.Options); err != nil {
				return fmt.Errorf("%s: %w", *caseDir, err)
			}
		}
		inputs = c.Inputs
	} else {
		if kernel == "" {
			return usagef("-in needs -kernel NAME")
		}
		if inputs, err = st.ReadFile(*in); err != nil {
			return err
		}
	}
	result, err := golden.Compute(kernel, inputs, prof)
	if err != nil {
		return err
	}
	if err := st.WriteFile(*out, result); err != nil {
		return err
	}
	var parts []string
	for _, t := range result.Tensors {
		parts = append(parts, fmt.Sprintf("%s %s%v", t.Name, t.DType, t.Shape))
	}
	fmt.Fprintf(stdout, "%s (%s): wrote %s: %s\n", kernel, kernel.Path(), *out, strings.Join(parts, ", "))
	return nil
}
