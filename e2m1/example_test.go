package e2m1_test

import (
	"fmt"

	"github.com/fp4indexer/fp4indexer/e2m1"
)

// The worked example of SPEC §2: a group whose scale is 2, so every value is
// halved before encoding: [−4, −3, −1.5, −0.75, 0, 0.25, 1, 4]. −0.75 is a tie:
// threshold mode takes the smaller magnitude (−0.5, code 0x9), RNE the even
// code (−1, 0xA).
func Example() {
	row := make([]float32, 32)
	copy(row, []float32{-8, -6, -3, -1.5, 0, 0.5, 2, 8})

	codes := make([]e2m1.Code, len(row))
	for i, x := range row {
		codes[i] = e2m1.Fromfloat32(x / 2)
	}
	fmt.Println("codes:", codes[:8])

	packed := make([]byte, len(row)/2)
	if err := e2m1.Pack(packed, codes); err != nil {
		panic(err)
	}
	fmt.Printf("threshold: % X\n", packed[:4])

	rne := e2m1.Encoder{Mode: e2m1.RNE}
	if err := rne.PackScaled(packed, row, 0.5); err != nil {
		panic(err)
	}
	fmt.Printf("rne:       % X\n", packed[:4])
	// Output:
	// codes: [0xE 0xD 0xB 0x9 0x0 0x0 0x2 0x6]
	// threshold: DE 9B 00 62
	// rne:       DE AB 00 62
}

func ExampleEncoder_Encode() {
	for _, v := range []float32{0.75, -0.75, -0.1, 3.5, 7} {
		fmt.Println(v, e2m1.Encoder{}.Encode(v), e2m1.Encoder{Mode: e2m1.RNE}.Encode(v))
	}
	// Output:
	// 0.75 0x1 0x2
	// -0.75 0x9 0xA
	// -0.1 0x0 0x8
	// 3.5 0x5 0x6
	// 7 0x7 0x7
}
