package mqa

import "math"

// The exact FP4 kernel. All H heads of a query row meet the same key (MQA), so
// for every key element d the H products q[h,d]·k[d] are one scalar k[d] times
// a column of the query. The column is stored packed: four heads per int64 as
// 16-bit lanes, word = Σ_l y_l·2^(16l) with y_l = 2·q[4w+l, d] ∈ [−12, 12].
// Multiplying a word by the integer 2·k[d] ∈ [−12, 12] advances four lane
// products at once, and since a key element has only 16 codes, the row's
// setup multiplies every column by all 16 code values once (a table of
// D·16·H/4 words, 256 KiB for H = 64, D = 128); scoring a key is then a table
// lookup and an add per word: 2048 integer adds per key instead of 8192
// multiply-adds. Lanes are signed, so a negative lane borrows from the next
// one, but the word is at every step exactly the integer Σ_l S_l·2^(16l), and
// since each group sum satisfies |S_l| ≤ 32·144 = 4608 < 2^15 the lanes are
// recovered exactly, lowest first: S_0 = int16(word), word = (word − S_0) >> 16,
// and so on. The group sums of each head are then combined with their scales
// and rounded once (see combineExact).

type fp4Exact struct {
	kernelBase
	nw      int       // words per key element: H/4
	words   []int64   // [D][nw] packed 2·q columns of the current row
	lut     []int64   // [D][16][nw]: column d times 2·value(code), for every code
	qpow    []float64 // [H][groups] 2^(eq−128)
	qspread []int     // [H] max − min of the head's scale exponents
	qnan    []bool    // [H] a query scale byte is NaN
	codes   []uint8   // [D] the E2M1 codes of the current key
	acc     []int64   // [nw]
	sums    []int32   // [groups][H] the exact group sums in units of 1/4
}

func newFP4Exact(base kernelBase) *fp4Exact {
	nw := base.h / 4
	return &fp4Exact{
		kernelBase: base,
		nw:         nw,
		words:      make([]int64, base.d*nw),
		lut:        make([]int64, base.d*16*nw),
		qpow:       make([]float64, base.h*base.groups),
		qspread:    make([]int, base.h),
		qnan:       make([]bool, base.h),
		codes:      make([]uint8, base.d),
		acc:        make([]int64, nw),
		sums:       make([]int32, base.h*base.groups),
	}
}

func (k *fp4Exact) loadRow(row int) {
	d, h, g, nw := k.d, k.h, k.groups, k.nw
	q := k.in.QFP4[row*h*d/2 : (row+1)*h*d/2]
	sf := k.in.QSF[row*h : (row+1)*h]
	clear(k.words)
	for hh := 0; hh < h; hh++ {
		w, shift := hh/4, uint(16*(hh%4))
		for i := 0; i < d/2; i++ {
			p := e2m1PairTwice[q[hh*d/2+i]]
			k.words[(2*i)*nw+w] += int64(p[0]) << shift
			k.words[(2*i+1)*nw+w] += int64(p[1]) << shift
		}
		k.qnan[hh] = false
		lo, hi := 255, 0
		for gg := 0; gg < g; gg++ {
			e := int(uint32(sf[hh]) >> (8 * uint(gg)) & 0xFF)
			lo, hi = min(lo, e), max(hi, e)
			if e == nanScale {
				k.qnan[hh] = true
			} else {
				k.qpow[hh*g+gg] = pow2(e - 128)
			}
		}
		k.qspread[hh] = hi - lo
	}
	for e := 0; e < d; e++ {
		col := k.words[e*nw : (e+1)*nw]
		for c := 0; c < 16; c++ {
			v := int64(e2m1Twice[c])
			dst := k.lut[(e*16+c)*nw : (e*16+c+1)*nw]
			for w, x := range col {
				dst[w] = x * v
			}
		}
	}
}

func (k *fp4Exact) score(dst []float32, row, j0 int) {
	if k.setRow(row) {
		k.loadRow(row)
	}
	g := k.groups
	var kpow [4]float64
	nan := math.Float32frombits(canonicalNaN)
	for i := range dst {
		payload, scale := k.key(j0 + i)
		codes := k.codes[:k.d]
		for n := 0; n < k.d/2; n++ {
			codes[2*n], codes[2*n+1] = payload[n]&0xF, payload[n]>>4
		}
		knan := false
		lo, hi := 255, 0
		for gg := 0; gg < g; gg++ {
			ek := int(scale[gg])
			lo, hi = min(lo, ek), max(hi, ek)
			knan = knan || ek == nanScale
			kpow[gg] = pow2(ek - 128)
		}
		kspread := hi - lo
		for gg := 0; gg < g; gg++ {
			k.groupSums(gg)
		}
		if knan {
			for h := range k.a {
				k.a[h] = nan
			}
		} else if g == 4 {
			k.combine4(&kpow, kspread, scale)
		} else {
			k.combine(kpow[:g], kspread, scale)
		}
		dst[i] = k.finish(1)
	}
}

// combine4 turns the four group sums of every head into the exact dot
// products, for D = 128.
func (k *fp4Exact) combine4(kpow *[4]float64, kspread int, scale []byte) {
	h := k.h
	s0, s1, s2, s3 := k.sums[:h], k.sums[h:2*h], k.sums[2*h:3*h], k.sums[3*h:4*h]
	a := k.a[:h]
	for hh := range a {
		if k.qnan[hh] {
			a[hh] = math.Float32frombits(canonicalNaN)
			continue
		}
		if k.qspread[hh]+kspread > maxExactSpread {
			a[hh] = k.combineWide(hh, scale)
			continue
		}
		// Every exponent eq+ek−256 lies within maxExactSpread of every other,
		// so the float64 sum is exact (see combineExact); 2^(eq−128)·2^(ek−128)
		// is an exact power of two.
		qp := (*[4]float64)(k.qpow[4*hh : 4*hh+4])
		x := float64(s0[hh])*(qp[0]*kpow[0]) + float64(s1[hh])*(qp[1]*kpow[1]) +
			float64(s2[hh])*(qp[2]*kpow[2]) + float64(s3[hh])*(qp[3]*kpow[3])
		a[hh] = float32(x)
	}
}

// combine is combine4 for any number of groups.
func (k *fp4Exact) combine(kpow []float64, kspread int, scale []byte) {
	g := len(kpow)
	for hh := range k.a {
		if k.qnan[hh] {
			k.a[hh] = math.Float32frombits(canonicalNaN)
			continue
		}
		if k.qspread[hh]+kspread > maxExactSpread {
			k.a[hh] = k.combineWide(hh, scale)
			continue
		}
		var x float64
		for gg := range kpow {
			x += float64(k.sums[gg*k.h+hh]) * (k.qpow[hh*g+gg] * kpow[gg])
		}
		k.a[hh] = float32(x)
	}
}

// combineWide handles a head whose scale exponents may span more binades
// than float64 holds exactly.
func (k *fp4Exact) combineWide(hh int, scale []byte) float32 {
	var s [4]int32
	var e [4]int
	sf := uint32(k.in.QSF[k.row*k.h+hh])
	for gg := 0; gg < k.groups; gg++ {
		s[gg] = k.sums[gg*k.h+hh]
		e[gg] = int(sf>>(8*uint(gg))&0xFF) + int(scale[gg]) - 256
	}
	return combineExact(s[:k.groups], e[:k.groups])
}

// groupSums computes the exact sums of group g for every head into k.sums.
func (k *fp4Exact) groupSums(g int) {
	nw := k.nw
	acc := k.acc[:nw]
	lo := g * GroupSize
	codes := (*[GroupSize]uint8)(k.codes[lo : lo+GroupSize])
	lut := k.lut[lo*16*nw : (lo+GroupSize)*16*nw]
	if nw == 16 {
		sum16((*[16]int64)(acc), (*[GroupSize * 16 * 16]int64)(lut), codes)
	} else {
		clear(acc)
		for d, c := range codes {
			row := lut[(d*16+int(c))*nw : (d*16+int(c)+1)*nw]
			for w := range acc {
				acc[w] += row[w]
			}
		}
	}
	out := k.sums[g*k.h : (g+1)*k.h]
	for w, v := range acc {
		o := (*[4]int32)(out[4*w : 4*w+4])
		s0 := int64(int16(v))
		v = (v - s0) >> 16
		s1 := int64(int16(v))
		v = (v - s1) >> 16
		s2 := int64(int16(v))
		v = (v - s2) >> 16
		o[0], o[1], o[2], o[3] = int32(s0), int32(s1), int32(s2), int32(v)
	}
}

// sum16 accumulates the 16 packed words of the products looked up for the 32
// codes of one group of an H = 64 row, in two passes of eight accumulators so
// that they stay in registers.
func sum16(acc *[16]int64, lut *[GroupSize * 16 * 16]int64, codes *[GroupSize]uint8) {
	var a0, a1, a2, a3, a4, a5, a6, a7 int64
	for d := 0; d < GroupSize; d++ {
		r := (*[8]int64)(lut[d*256+int(codes[d]&0xF)*16:])
		a0 += r[0]
		a1 += r[1]
		a2 += r[2]
		a3 += r[3]
		a4 += r[4]
		a5 += r[5]
		a6 += r[6]
		a7 += r[7]
	}
	acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7] = a0, a1, a2, a3, a4, a5, a6, a7
	a0, a1, a2, a3, a4, a5, a6, a7 = 0, 0, 0, 0, 0, 0, 0, 0
	for d := 0; d < GroupSize; d++ {
		r := (*[8]int64)(lut[d*256+int(codes[d]&0xF)*16+8:])
		a0 += r[0]
		a1 += r[1]
		a2 += r[2]
		a3 += r[3]
		a4 += r[4]
		a5 += r[5]
		a6 += r[6]
		a7 += r[7]
	}
	acc[8], acc[9], acc[10], acc[11], acc[12], acc[13], acc[14], acc[15] = a0, a1, a2, a3, a4, a5, a6, a7
}
