package cuda

// A scalar reference written from the SPEC for the GPU tests: plain loops in the
// SPEC's own formulation (the Hadamard as butterflies over an array, E2M1 RNE and
// E4M3 by searching every code), independent of the kernels' warp structure. Every
// fused multiply-add goes through fma.FMA32 and every other product is a float32
// operation of its own.

import (
	"math"

	"github.com/fp4indexer/fp4indexer/internal/fma"
)

func f32(b uint32) float32 { return math.Float32frombits(b) }
func u32(f float32) uint32 { return math.Float32bits(f) }

func refBF16Round(f float32) float32 {
	u := u32(f)
	if u&0x7fffffff > 0x7f800000 {
		return f32(0x7fff << 16)
	}
	u += 0x7fff + (u>>16)&1
	return f32(u &^ 0xffff)
}

func refBF16(h uint16) float32 { return f32(uint32(h) << 16) }

var e2m1Mag = [8]float32{0, 0.5, 1, 1.5, 2, 3, 4, 6}

func refE2M1Threshold(v float32) uint8 {
	a := float32(math.Abs(float64(v)))
	if a != a || a > 6 {
		a = 6 // fminf(NaN, 6) = 6
	}
	var idx uint8
	for _, t := range []float32{0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5} {
		if a > t {
			idx++
		}
	}
	if v < 0 && idx != 0 {
		idx |= 8
	}
	return idx
}

// refE2M1RNE: the nearest magnitude by search, ties to the even index, saturation
// at 6, the sign bit of v kept, NaN -> 0x7.
func refE2M1RNE(v float32) uint8 {
	if v != v {
		return 7
	}
	a := math.Abs(float64(v))
	best, bestD := 0, math.Inf(1)
	for i, m := range e2m1Mag {
		d := math.Abs(a - float64(m))
		if d < bestD || (d == bestD && i%2 == 0) {
			best, bestD = i, d
		}
	}
	if a > 6 { // saturate (float64 distances to 4 and 6 tie for huge a)
		best = 7
	}
	code := uint8(best)
	if math.Signbit(float64(v)) {
		code |= 8
	}
	return code
}

func refCeilExp(f float32) uint32 {
	b := u32(f)
	e := b >> 23 & 0xff
	if b&0x7fffff != 0 {
		e++
	}
	return e
}

func refAmax(x []float32) float32 {
	var m float32
	for _, v := range x {
		a := float32(math.Abs(float64(v)))
		if a > m { // NaN compares false: ignored, as fmaxf
			m = a
		}
	}
	return m
}

func refScale(amax float32, v ScaleVariant) uint32 {
	switch v {
	case ScaleTriton:
		raw := amax / 6
		if !(raw >= 1e-4) {
			raw = 1e-4
		}
		return min(max(refCeilExp(raw), 1), 254)
	case ScaleRP, ScaleRZ:
		raw := float64(amax / 6)
		if math.IsNaN(raw) {
			return 255
		}
		if math.IsInf(raw, 1) {
			return 254
		}
		if raw == 0 {
			return 0
		}
		fl := math.Floor(math.Log2(raw))
		for math.Ldexp(1, int(fl)) > raw { // exact floor of log2 via powers of two
			fl--
		}
		for math.Ldexp(1, int(fl)+1) <= raw {
			fl++
		}
		e := fl
		if v == ScaleRP && math.Ldexp(1, int(fl)) != raw {
			e++
		}
		return uint32(min(max(e+127, 0), 254))
	case ScaleOCPFloor:
		if math.IsInf(float64(amax), 0) || amax != amax {
			return 255
		}
		if amax == 0 {
			return 0
		}
		_, exp := math.Frexp(float64(amax)) // amax = frac * 2^exp, frac in [0.5, 1)
		return uint32(min(max(exp-1-2+127, 0), 254))
	default:
		raw := amax // fmaxf(1e-4f, amax); refAmax never returns NaN
		if lo := float32(1e-4); !(raw > lo) {
			raw = lo
		}
		raw = raw / 6
		return refCeilExp(raw) & 0xff
	}
}

func refScaleElement(x float32, e uint32, v ScaleVariant) float32 {
	switch v {
	case ScaleCUDA:
		return x * f32((254-e)<<23)
	case ScaleTriton:
		return x / f32(e<<23)
	}
	switch e {
	case 255:
		return float32(math.NaN())
	case 0:
		return x / f32(0x00400000)
	}
	return x / f32(e<<23)
}

// refQuantGroups: 16 bytes and one scale byte per 32-group.
func refQuantGroups(x []float32, q Quant) (codes, scales []byte) {
	groups := len(x) / 32
	codes, scales = make([]byte, groups*16), make([]byte, groups)
	for g := 0; g < groups; g++ {
		xs := x[32*g : 32*g+32]
		e := refScale(refAmax(xs), q.Scale)
		scales[g] = byte(e)
		for i := 0; i < 32; i += 2 {
			var c [2]uint8
			for k := 0; k < 2; k++ {
				v := refScaleElement(xs[i+k], e, q.Scale)
				if q.Element == ElementRNE {
					c[k] = refE2M1RNE(v)
				} else {
					c[k] = refE2M1Threshold(v)
				}
			}
			codes[16*g+i/2] = c[0] | c[1]<<4
		}
	}
	return codes, scales
}

func refRoPE(x []float32, freqRow []float32, unfused bool) {
	for k := 0; k < 32; k++ {
		xr, xi := x[64+2*k], x[65+2*k]
		c, s := freqRow[2*k], freqRow[2*k+1]
		if unfused {
			x[64+2*k] = float32(xr*c) - float32(xi*s)
			x[65+2*k] = float32(xr*s) + float32(xi*c)
		} else {
			x[64+2*k] = fma.FMA32(xr, c, -float32(xi*s))
			x[65+2*k] = fma.FMA32(xi, c, float32(xr*s))
		}
	}
}

func refHadamard(x []float32) {
	for h := 1; h < len(x); h <<= 1 {
		for i := range x {
			if i&h == 0 {
				a, b := x[i], x[i+h]
				x[i], x[i+h] = a+b, a-b
			}
		}
	}
	s := f32(0x3DB504F3)
	for i := range x {
		x[i] = float32(x[i] * s)
	}
}

func refQFP4Row(q []uint16, freqRow []float32, o QOptions) []float32 {
	x := make([]float32, 128)
	for i := range x {
		x[i] = refBF16(q[i])
	}
	refRoPE(x, freqRow, o.RoPEUnfused)
	if !o.NoRoPEBF16 {
		for i := 64; i < 128; i++ {
			x[i] = refBF16Round(x[i])
		}
	}
	refHadamard(x)
	if !o.NoHadamardBF16 {
		for i := range x {
			x[i] = refBF16Round(x[i])
		}
	}
	return x
}

// refSumSquares: 32 lanes of fma chains, then the xor butterfly.
func refSumSquares(x []float32) float32 {
	var s [32]float32
	for l := range s {
		for i := 0; i < 4; i++ {
			s[l] = fma.FMA32(x[4*l+i], x[4*l+i], s[l])
		}
	}
	for m := 16; m >= 1; m >>= 1 {
		var n [32]float32
		for l := range s {
			n[l] = s[l] + s[l^m]
		}
		s = n
	}
	return s[0]
}

// refKRow: RMSNorm with the given norm factor, RoPE, Hadamard (fp32 throughout).
func refKRow(kv, w, freqRow []float32, nf float32, unfused bool) []float32 {
	x := make([]float32, 128)
	for i := range x {
		x[i] = float32(float32(kv[i]*nf) * w[i])
	}
	refRoPE(x, freqRow, unfused)
	refHadamard(x)
	return x
}

// refE4M3: nearest finite E4M3 by search over every code, ties to the even code,
// satfinite, NaN -> 0x7F, sign kept (zero included).
func refE4M3(f float32) uint8 {
	if f != f {
		return 0x7f
	}
	a := math.Abs(float64(f))
	best, bestD := 0, math.Inf(1)
	for c := 0; c < 0x7f; c++ {
		d := math.Abs(a - float64(refE4M3Value(uint8(c))))
		if d < bestD || (d == bestD && c%2 == 0) {
			best, bestD = c, d
		}
	}
	if a > 448 {
		best = 0x7e
	}
	code := uint8(best)
	if math.Signbit(float64(f)) {
		code |= 0x80
	}
	return code
}

func refE4M3Value(c uint8) float32 {
	e, m := int(c>>3&0xf), int(c&7)
	var v float64
	switch {
	case e == 15 && m == 7:
		v = math.NaN()
	case e == 0:
		v = math.Ldexp(float64(m), -9)
	default:
		v = math.Ldexp(1+float64(m)/8, e-7)
	}
	if c&0x80 != 0 {
		v = -v
	}
	return float32(v)
}

// refFP8Row: scale = fmaxf(1e-4, amax)/448, bytes = E4M3(x * (1/scale)).
func refFP8Row(x []float32) (codes []byte, scale float32) {
	amax := refAmax(x)
	if amax < 1e-4 {
		amax = 1e-4
	}
	scale = amax / 448
	inv := 1 / scale
	codes = make([]byte, len(x))
	for i, v := range x {
		codes[i] = refE4M3(float32(v * inv))
	}
	return codes, scale
}

func refUE8M0(e byte) float32 {
	switch e {
	case 255:
		return float32(math.NaN())
	case 0:
		return f32(0x00400000)
	}
	return f32(uint32(e) << 23)
}

// refLogits: the fp32-fma dot product and the sequential epilogue.
func refLogits(in LogitsInput) []float32 {
	P := in.PageSize
	if P == 0 {
		P = 64
	}
	rows := in.B * in.NextN
	out := make([]float32, rows*in.MaxContextLen)
	k := make([]float32, 128)
	for r := 0; r < rows; r++ {
		b := r / in.NextN
		for j := 0; j < in.MaxContextLen; j++ {
			if j >= int(in.ContextLens[r]) {
				out[r*in.MaxContextLen+j] = float32(math.Inf(-1))
				continue
			}
			page := int(in.BlockTable[b*in.MaxBlocks+j/P])
			slot := j % P
			var sk float32 = 1
			if in.FP8 {
				base := page * P * 132
				for d := 0; d < 128; d++ {
					k[d] = refE4M3Value(in.Cache[base+slot*128+d])
				}
				o := base + P*128 + slot*4
				sk = f32(uint32(in.Cache[o]) | uint32(in.Cache[o+1])<<8 | uint32(in.Cache[o+2])<<16 | uint32(in.Cache[o+3])<<24)
			} else {
				base := page * P * 68
				for d := 0; d < 128; d++ {
					bt := in.Cache[base+slot*64+d/2]
					code := bt & 0xf
					if d%2 == 1 {
						code = bt >> 4
					}
					k[d] = refE2M1Val(code) * refUE8M0(in.Cache[base+P*64+slot*4+d/32])
				}
			}
			var L float32
			for h := 0; h < in.H; h++ {
				qr := r*in.H + h
				var a float32
				for d := 0; d < 128; d++ {
					var qv float32
					if in.FP8 {
						qv = refE4M3Value(in.Q[qr*128+d])
					} else {
						bt := in.Q[qr*64+d/2]
						code := bt & 0xf
						if d%2 == 1 {
							code = bt >> 4
						}
						qv = refE2M1Val(code) * refUE8M0(byte(uint32(in.QSF[qr])>>(8*(d/32))))
					}
					a = fma.FMA32(qv, k[d], a)
				}
				var relu float32
				if a > 0 || a != a {
					relu = a
				}
				L = fma.FMA32(relu, in.Weights[qr], L)
			}
			if in.FP8 {
				L = float32(L * sk)
			}
			out[r*in.MaxContextLen+j] = L
		}
	}
	return out
}

func refE2M1Val(code uint8) float32 {
	v := e2m1Mag[code&7]
	if code&8 != 0 {
		return -v
	}
	return v
}
