package golden

import (
	"path/filepath"
	"strings"
	"testing"

	st "github.com/fp4indexer/fp4indexer/internal/safetensors"
)

// groundTruth is the H100 ground truth (testdata/conformance/h100): bytes a GPU
// wrote. Compute must reproduce every expected tensor of every case, byte for
// byte, from the case's inputs and the options in its manifest; this is the
// independent oracle of the run command.
var groundTruth = filepath.Join("..", "testdata", "conformance", "h100")

func groundTruthCases(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(groundTruth, "*", "*", ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no ground truth under %s", groundTruth)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func TestGroundTruth(t *testing.T) {
	for _, dir := range groundTruthCases(t) {
		name, _ := filepath.Rel(groundTruth, dir)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			c, err := ReadCase(dir)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ProfileFromOptions(c.Kernel, c.Options)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Compute(c.Kernel, c.Inputs, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range CompareFiles(c.Expected, got, 5) {
				if !r.OK() {
					var b strings.Builder
					r.Write(&b)
					t.Error(b.String())
				}
			}
		})
	}
}

// TestGroundTruthDeviceRsqrt: with the measured sm_90 rsqrtf, the K v2 model
// needs no injected norm factors: the ground truth's inputs without norm_factor
// give the H100's bytes, its norm factors included.
func TestGroundTruthDeviceRsqrt(t *testing.T) {
	for _, name := range []string{"edges", "random"} {
		c, err := ReadCase(filepath.Join(groundTruth, "k_v2_fused", name))
		if err != nil {
			t.Fatal(err)
		}
		in := &st.File{Metadata: c.Inputs.Metadata}
		for _, x := range c.Inputs.Tensors {
			if x.Name != tNormFactor {
				in.Tensors = append(in.Tensors, x)
			}
		}
		got, err := Compute(KV2Fused, in, Profile{Rsqrt: RsqrtDeviceSM90})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range CompareFiles(c.Expected, got, 5) {
			if !r.OK() {
				var b strings.Builder
				r.Write(&b)
				t.Errorf("k_v2_fused/%s: %s", name, b.String())
			}
		}
	}
}
