package cuda

import (
	"path/filepath"
	"testing"
)

func TestUseKernel(t *testing.T) {
	d := testDevice(t)
	defer d.ResetKernels()
	dir := filepath.Join(conformanceDir, "q_fp4", "random")
	in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
	ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
	q := in.get(t, "q_input")
	qi := QInput{B: q.Shape[0], H: q.Shape[1], Q: leU16(q.Data), Weight: leU16(in.get(t, "weight").Data),
		Freqs: leF32(in.get(t, "freqs_cis").Data), Positions: leI64(in.get(t, "positions").Data)}
	check := func(what string, wantSame bool) {
		t.Helper()
		qfp4, _, _, err := d.QFP4(qi, QOptions{})
		if err != nil {
			t.Fatal(err)
		}
		same := string(qfp4) == string(ex.get(t, "q_fp4").Data)
		if same != wantSame {
			t.Errorf("%s: output equals the H100 bytes = %v, want %v", what, same, wantSame)
		}
	}

	// The harness's own PTX, loaded as a user image, reproduces the ground truth.
	if err := d.UseKernel("q_fp4", d.Build().PTX, "q_fp4"); err != nil {
		t.Fatal(err)
	}
	check("own PTX as a user kernel", true)

	// A kernel that writes only weights_out leaves the poisoned payload visible.
	src := `extern "C" __global__ void lazy_q(const unsigned short *q, const unsigned short *weight, const float *freqs,
	    const long long *positions, long long rows, int heads, float weight_scale, unsigned int flags,
	    unsigned char *q_fp4, unsigned char *q_sf, float *weights_out) {
	  long long work = (long long)blockIdx.x * 4 + (threadIdx.x >> 5);
	  if (work < rows && (threadIdx.x & 31) == 0) weights_out[work] = 0.0f;
	}`
	if err := d.UseKernelSource("q_fp4", src, "lazy_q"); err != nil {
		t.Fatal(err)
	}
	qfp4, _, _, err := d.QFP4(qi, QOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if qfp4[0] != poison || qfp4[len(qfp4)-1] != poison {
		t.Errorf("unwritten output is %#02x..%#02x, want the poison %#02x", qfp4[0], qfp4[len(qfp4)-1], poison)
	}

	d.ResetKernels()
	check("after ResetKernels", true)

	if err := d.UseKernel("no_such_path", d.Build().PTX, "q_fp4"); err == nil {
		t.Error("UseKernel accepted an unknown path")
	}
	if err := d.UseKernel("q_fp4", d.Build().PTX, "no_such_entry"); err == nil {
		t.Error("UseKernel accepted a missing entry point")
	}
}
