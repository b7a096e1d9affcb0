package ue8m0_test

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/e2m1"
	"github.com/fp4indexer/fp4indexer/ue8m0"
)

// The worked example of SPEC §2–§3: group 0 of a row holds
// [−8, −6, −3, −1.5, 0, 0.5, 2, 8] and zeros. amax = 8, 8/6 rounds up to the
// scale 2 (byte 0x80) in both kernel variants; the halved values encode to
// DE 9B 00 62, or DE AB 00 62 with RNE (the tie −0.75 goes to −1). The other
// three groups are all zero: CUDA gives them 112, Triton 114.
func Example() {
	row := make([]float32, ue8m0.RowSize)
	copy(row, []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8})
	payload := make([]byte, ue8m0.RowBytes)

	for _, q := range []ue8m0.Quantizer{
		{},                    // CUDA scale, threshold codes: the fused Q and K kernels
		{Scale: ue8m0.Triton}, // the Triton K store
		{Element: e2m1.Encoder{Mode: e2m1.RNE}},
	} {
		sf, err := q.Row(payload, row)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-14v bytes % X  sf 0x%08X\n", q, payload[:4], sf)
	}
	// Output:
	// cuda/threshold bytes DE 9B 00 62  sf 0x70707080
	// triton/threshold bytes DE 9B 00 62  sf 0x72727280
	// cuda/rne/max   bytes DE AB 00 62  sf 0x70707080
}

// rz(amax/6) is not the OCP floor rule: for amax = 8 they pick different scales.
func ExampleVariant_FromAmax() {
	for _, v := range ue8m0.Variants() {
		fmt.Println(v, v.FromAmax(8))
	}
	// Output:
	// cuda 0x80(2^1)
	// triton 0x80(2^1)
	// ocp-floor 0x80(2^1)
	// rp 0x80(2^1)
	// rz 0x7F(2^0)
}
