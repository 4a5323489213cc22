package client

import (
	"fmt"
	"math"
	"time"
)

// dtmfFreqs are the ITU-T Q.23 row and column frequencies of each key.
var dtmfFreqs = map[rune][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

// DTMFTones renders digits as in-band tone pairs (each tone on, then a pause) at rate: what a
// phone sends when it does not use RFC 4733. Levels are -10 dBm0-ish per tone, well inside the
// Q.24 acceptance range.
func DTMFTones(digits string, rate int, on, off time.Duration) ([]int16, error) {
	onN, offN := int(int64(rate)*int64(on)/int64(time.Second)), int(int64(rate)*int64(off)/int64(time.Second))
	out := make([]int16, 0, len(digits)*(onN+offN))
	const amp = 0.25 * 32767
	for _, d := range digits {
		f, ok := dtmfFreqs[d]
		if !ok {
			return nil, fmt.Errorf("client: %q is not a DTMF key", d)
		}
		for i := range onN {
			t := float64(i) / float64(rate)
			v := amp * (math.Sin(2*math.Pi*f[0]*t) + math.Sin(2*math.Pi*f[1]*t))
			out = append(out, int16(v))
		}
		out = append(out, make([]int16, offN)...)
	}
	return out, nil
}
