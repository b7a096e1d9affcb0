package bf16_test

import (
	"fmt"
	"math"

	"github.com/fp4indexer/fp4indexer/bf16"
)

func Example() {
	x := []float32{
		1 + 1.0/256,         // exactly halfway between 1 and 1+2^-7: ties to even (1)
		1 + 3.0/256,         // halfway between 1+2^-7 and 1+2^-6: ties to even (up)
		3.14159265,          // rounds down to 3.140625
		float32(math.NaN()), // every NaN becomes 0x7FFF
	}
	for _, f := range x {
		b := bf16.Fromfloat32(f)
		fmt.Printf("%-10.8g -> %#04x = %g\n", f, b.Bits(), b.Float32())
	}
	bf16.RoundSlice(x) // the kernels' cast<float>(cast<bf16>(x)), in place
	fmt.Println(x)
	// Output:
	// 1.0039062  -> 0x3f80 = 1
	// 1.0117188  -> 0x3f82 = 1.015625
	// 3.1415927  -> 0x4049 = 3.140625
	// NaN        -> 0x7fff = NaN
	// [1 1.015625 3.140625 NaN]
}
