package media

// G.722 (ITU-T G.722, 64 kbit/s mode): sub-band ADPCM of 16 kHz audio, carried with an RTP clock rate of
// 8000 for historical reasons (RFC 3551 §4.5.2), so one payload byte holds two samples but advances the
// timestamp by one. This is a straight port of the public-domain reference structure (Bellcore/CMU,
// as later maintained in spandsp): transmit and receive QMF, a 6-bit low band and a 2-bit high band ADPCM
// with the standard block names kept in comments so the code can be checked against the Recommendation.

func init() { registerCodec(g722Codec{}, 30) }

type g722Codec struct{}

func (g722Codec) Format() Format {
	return Format{PT: 9, Name: "G722", ClockRate: 8000, Channels: 1}
}
func (g722Codec) SampleRate() int                    { return 16000 }
func (g722Codec) NewDecoder(Format) (Decoder, error) { return &g722Decoder{}, nil }
func (g722Codec) NewEncoder(Format) (Encoder, error) { return newG722Encoder(), nil }

var (
	g722qmf  = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}
	g722q6   = [32]int32{0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0}
	g722iln  = [32]int32{0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0}
	g722ilp  = [32]int32{0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0}
	g722wl   = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}
	g722rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}
	g722ilb  = [32]int32{2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008}
	g722qm4  = [16]int32{0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0}
	g722qm2  = [4]int32{-7408, -1616, 7408, 1616}
	g722qm6  = [64]int32{
		-136, -136, -136, -136, -24808, -21904, -19008, -16704,
		-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
		-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
		-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
		24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
		10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
		4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
		1688, 1360, 1040, 728, 432, 136, -432, -136,
	}
	g722ihn = [3]int32{0, 1, 0}
	g722ihp = [3]int32{0, 3, 2}
	g722wh  = [3]int32{0, -214, 798}
	g722rh2 = [4]int32{2, 1, 2, 1}
)

func sat16(v int32) int32 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return v
}

// g722Band is the adaptive predictor state of one sub-band.
type g722Band struct {
	s, sp, sz int32
	r, a, ap  [3]int32
	p         [3]int32
	d, b, bp  [7]int32
	sg        [7]int32
	nb, det   int32
}

// block4 updates the pole/zero predictor with the quantised difference d (G.722 Block 4).
func (bd *g722Band) block4(d int32) {
	bd.d[0] = d
	bd.r[0] = sat16(bd.s + d)  // RECONS
	bd.p[0] = sat16(bd.sz + d) // PARREC
	// UPPOL2
	for i := 0; i < 3; i++ {
		bd.sg[i] = bd.p[i] >> 15
	}
	wd1 := sat16(bd.a[1] << 2)
	wd2 := wd1
	if bd.sg[0] == bd.sg[1] {
		wd2 = -wd1
	}
	wd2 = min(wd2, 32767)
	wd3 := wd2 >> 7
	if bd.sg[0] == bd.sg[2] {
		wd3 += 128
	} else {
		wd3 -= 128
	}
	wd3 += (bd.a[2] * 32512) >> 15
	bd.ap[2] = min(max(wd3, -12288), 12288)
	// UPPOL1
	bd.sg[0], bd.sg[1] = bd.p[0]>>15, bd.p[1]>>15
	wd1 = -192
	if bd.sg[0] == bd.sg[1] {
		wd1 = 192
	}
	wd2 = (bd.a[1] * 32640) >> 15
	bd.ap[1] = sat16(wd1 + wd2)
	wd3 = sat16(15360 - bd.ap[2])
	bd.ap[1] = min(max(bd.ap[1], -wd3), wd3)
	// UPZERO
	wd1 = 128
	if d == 0 {
		wd1 = 0
	}
	bd.sg[0] = d >> 15
	for i := 1; i < 7; i++ {
		bd.sg[i] = bd.d[i] >> 15
		wd2 = -wd1
		if bd.sg[i] == bd.sg[0] {
			wd2 = wd1
		}
		wd3 = (bd.b[i] * 32640) >> 15
		bd.bp[i] = sat16(wd2 + wd3)
	}
	// DELAYA
	for i := 6; i > 0; i-- {
		bd.d[i] = bd.d[i-1]
		bd.b[i] = bd.bp[i]
	}
	for i := 2; i > 0; i-- {
		bd.r[i] = bd.r[i-1]
		bd.p[i] = bd.p[i-1]
		bd.a[i] = bd.ap[i]
	}
	// FILTEP
	wd1 = sat16(bd.r[1] + bd.r[1])
	wd1 = (bd.a[1] * wd1) >> 15
	wd2 = sat16(bd.r[2] + bd.r[2])
	wd2 = (bd.a[2] * wd2) >> 15
	bd.sp = sat16(wd1 + wd2)
	// FILTEZ
	bd.sz = 0
	for i := 6; i > 0; i-- {
		wd1 = sat16(bd.d[i] + bd.d[i])
		bd.sz += (bd.b[i] * wd1) >> 15
	}
	bd.sz = sat16(bd.sz)
	// PREDIC
	bd.s = sat16(bd.sp + bd.sz)
}

// scale is LOGSCL/SCALEL (low band: limit 18432, shift 8) or LOGSCH/SCALEH (high: 22528, 10).
func (bd *g722Band) scale(w, limit, shift int32) {
	nb := (bd.nb*127)>>7 + w
	bd.nb = min(max(nb, 0), limit)
	wd1 := (bd.nb >> 6) & 31
	wd2 := shift - (bd.nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = g722ilb[wd1] << -wd2
	} else {
		wd3 = g722ilb[wd1] >> wd2
	}
	bd.det = wd3 << 2
}

type g722Encoder struct {
	band [2]g722Band
	x    [24]int32
}

func newG722Encoder() *g722Encoder {
	e := &g722Encoder{}
	e.band[0].det, e.band[1].det = 32, 8
	return e
}

// Encode appends one byte per two 16 kHz samples (an odd trailing sample is dropped).
func (e *g722Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	for j := 0; j+1 < len(pcm); j += 2 {
		copy(e.x[:22], e.x[2:])
		e.x[22], e.x[23] = int32(pcm[j]), int32(pcm[j+1])
		var sumOdd, sumEven int32
		for i := 0; i < 12; i++ {
			sumOdd += e.x[2*i] * g722qmf[i]
			sumEven += e.x[2*i+1] * g722qmf[11-i]
		}
		xlow := (sumEven + sumOdd) >> 14
		xhigh := (sumEven - sumOdd) >> 14
		lo, hi := &e.band[0], &e.band[1]
		// Block 1L: SUBTRA, QUANTL
		el := sat16(xlow - lo.s)
		wd := el
		if el < 0 {
			wd = -(el + 1)
		}
		i := int32(1)
		for ; i < 30; i++ {
			if wd < (g722q6[i]*lo.det)>>12 {
				break
			}
		}
		ilow := g722ilp[i]
		if el < 0 {
			ilow = g722iln[i]
		}
		// Block 2L INVQAL, 3L LOGSCL/SCALEL, 4L
		ril := ilow >> 2
		dlow := (lo.det * g722qm4[ril]) >> 15
		lo.scale(g722wl[g722rl42[ril]], 18432, 8)
		lo.block4(dlow)
		// Block 1H: SUBTRA, QUANTH
		eh := sat16(xhigh - hi.s)
		wd = eh
		if eh < 0 {
			wd = -(eh + 1)
		}
		mih := int32(1)
		if wd >= (564*hi.det)>>12 {
			mih = 2
		}
		ihigh := g722ihp[mih]
		if eh < 0 {
			ihigh = g722ihn[mih]
		}
		// Block 2H INVQAH, 3H LOGSCH/SCALEH, 4H
		dhigh := (hi.det * g722qm2[ihigh]) >> 15
		hi.scale(g722wh[g722rh2[ihigh]], 22528, 10)
		hi.block4(dhigh)
		dst = append(dst, byte(ihigh<<6|ilow))
	}
	return dst, nil
}

type g722Decoder struct {
	band  [2]g722Band
	x     [24]int32
	ready bool
}

// Decode appends two 16 kHz samples per payload byte.
func (d *g722Decoder) Decode(dst []int16, p []byte) ([]int16, error) {
	if !d.ready {
		d.band[0].det, d.band[1].det, d.ready = 32, 8, true
	}
	for _, code := range p {
		lo, hi := &d.band[0], &d.band[1]
		wd1 := int32(code & 0x3f)
		ihigh := int32(code>>6) & 3
		// Block 5L INVQBL, RECONS, 6L LIMIT
		rlow := lo.s + (lo.det*g722qm6[wd1])>>15
		rlow = min(max(rlow, -16384), 16383)
		// Block 2L INVQAL, 3L, 4L
		wd1 >>= 2
		dlow := (lo.det * g722qm4[wd1]) >> 15
		lo.scale(g722wl[g722rl42[wd1]], 18432, 8)
		lo.block4(dlow)
		// Block 2H INVQAH, 5H RECONS, 6H LIMIT, 3H, 4H
		dhigh := (hi.det * g722qm2[ihigh]) >> 15
		rhigh := min(max(dhigh+hi.s, -16384), 16383)
		hi.scale(g722wh[g722rh2[ihigh]], 22528, 10)
		hi.block4(dhigh)
		// Receive QMF
		copy(d.x[:22], d.x[2:])
		d.x[22], d.x[23] = rlow+rhigh, rlow-rhigh
		var out1, out2 int32
		for i := 0; i < 12; i++ {
			out2 += d.x[2*i] * g722qmf[i]
			out1 += d.x[2*i+1] * g722qmf[11-i]
		}
		dst = append(dst, int16(sat16(out1>>11)), int16(sat16(out2>>11)))
	}
	return dst, nil
}

func (d *g722Decoder) String() string { return "G722" }
