//go:build !amd64 || purego

package hadamard

const useAVX = false

func transform128AVX(x *[128]float32) { transform128Go(x) }

func rotate128AVX(x *[128]float32, scale float32) { rotate128Go(x, scale) }
