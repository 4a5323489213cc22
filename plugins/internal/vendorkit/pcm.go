package vendorkit

import "encoding/binary"

// AppendPCM appends samples as 16-bit little-endian PCM (LINEAR16, linear16, Vosk's format).
func AppendPCM(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s))
	}
	return dst
}

// DecodePCM reads 16-bit little-endian PCM; an odd trailing byte is ignored.
func DecodePCM(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// Chunks splits pcm into pieces of at most n samples. Vendors want audio in frames of 20-100 ms
// (Google caps a streaming request's audio, Deepgram and vosk-server cap a WebSocket message),
// while the host may hand over a larger batch at once.
func Chunks(pcm []int16, n int) [][]int16 {
	n = max(n, 1)
	var out [][]int16
	for len(pcm) > 0 {
		k := min(n, len(pcm))
		out = append(out, pcm[:k])
		pcm = pcm[k:]
	}
	return out
}
