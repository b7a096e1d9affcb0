package fp8_test

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/fp8"
)

func Example() {
	for _, f := range []float32{1, 0.3, -0.0009, 464, 500} {
		sat := fp8.Fromfloat32(f) // the kernels' cvt.rn.satfinite
		nan := fp8.Encode(f, fp8.NaNOnOverflow)
		fmt.Printf("%-8g satfinite %#02x = %-6g ml_dtypes %#02x = %g\n", f, sat.Bits(), sat.Float32(), nan.Bits(), nan.Float32())
	}
	// Output:
	// 1        satfinite 0x38 = 1      ml_dtypes 0x38 = 1
	// 0.3      satfinite 0x2a = 0.3125 ml_dtypes 0x2a = 0.3125
	// -0.0009  satfinite 0x80 = -0     ml_dtypes 0x80 = -0
	// 464      satfinite 0x7e = 448    ml_dtypes 0x7e = 448
	// 500      satfinite 0x7e = 448    ml_dtypes 0x7f = NaN
}
