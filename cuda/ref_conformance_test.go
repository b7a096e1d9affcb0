package cuda

import (
	"path/filepath"
	"testing"
)

// TestReferenceMatchesConformance checks the tests' own scalar reference against the
// H100 ground truth on the CPU, so a GPU run compares kernels with a reference that
// is itself known to reproduce the GPU bytes.
func TestReferenceMatchesConformance(t *testing.T) {
	for _, dir := range conformanceCases(t, "q_fp4") {
		in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
		ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
		q := in.get(t, "q_input")
		qs, w := leU16(q.Data), leU16(in.get(t, "weight").Data)
		freqs, pos := leF32(in.get(t, "freqs_cis").Data), leI64(in.get(t, "positions").Data)
		H := q.Shape[1]
		var gotP, gotS, gotW []byte
		for r := 0; r < q.Shape[0]*H; r++ {
			p := pos[r/H]
			x := refQFP4Row(qs[r*128:r*128+128], freqs[p*64:p*64+64], QOptions{})
			c, s := refQuantGroups(x, Quant{})
			gotP, gotS = append(gotP, c...), append(gotS, s...)
			gotW = append(gotW, f32Bytes([]float32{float32(refBF16(w[r]) * f32(defaultWeightScaleBits))})...)
		}
		diffBytes(t, dir+" q_fp4", gotP, ex.get(t, "q_fp4").Data, 64)
		diffBytes(t, dir+" q_sf", gotS, ex.get(t, "q_sf").Data, 4)
		diffBytes(t, dir+" weights_out", gotW, ex.get(t, "weights_out").Data, 4)
	}
	for _, dir := range conformanceCases(t, "k_v1_store") {
		in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
		ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
		var rows []float32
		for _, h := range leU16(in.get(t, "input").Data) {
			rows = append(rows, refBF16(h))
		}
		c, s := refQuantGroups(rows, DefaultKV1Quant())
		diffBytes(t, dir+" x_fp4", c, ex.get(t, "x_fp4").Data, 64)
		diffBytes(t, dir+" x_sf", s, ex.get(t, "x_sf").Data, 4)
	}
	for _, dir := range conformanceCases(t, "k_v2_fused") {
		in := readSafetensors(t, filepath.Join(dir, "inputs.safetensors"))
		ex := readSafetensors(t, filepath.Join(dir, "expected.safetensors"))
		kv, w := leF32(in.get(t, "kv").Data), leF32(in.get(t, "norm_weight").Data)
		freqs, pos, loc := leF32(in.get(t, "freqs_cis").Data), leI64(in.get(t, "positions").Data), leI64(in.get(t, "out_loc").Data)
		nf := leF32(in.get(t, "norm_factor").Data)
		want := ex.get(t, "kvcache").Data
		got := make([]byte, len(want))
		const P = 64
		for r := range nf {
			p := pos[r]
			x := refKRow(kv[r*128:r*128+128], w, freqs[p*64:p*64+64], nf[r], false)
			c, s := refQuantGroups(x, Quant{})
			page, slot := int(loc[r])/P, int(loc[r])%P
			copy(got[page*P*68+slot*64:], c)
			copy(got[page*P*68+P*64+slot*4:], s)
		}
		diffBytes(t, dir+" kvcache", got, want, P*68)
	}
}
