// Package media is mrcpd's RTP media path: receive (RTP parsing, adaptive jitter buffer, packet-loss
// concealment, decoding, resampling, DTMF detection) and send (resampling, encoding, packetising and a
// drift-free pacer), plus the helpers around them (VAD, port pool). Sample-level code that plugins need
// too (resampler, WAV files) lives in media/audio, which links no RTP code.
//
// Each stage is a small type with a String method, so a whole pipeline prints on one line:
//
//	RTP(PCMU/8000) -> Jitter(50ms) -> PLC(G.711-I) -> Decode(PCMU) -> Resample(8k->16k) -> DTMF(rfc4733+inband)
//
// The package knows nothing of MRCP or SIP. Time is always read from an injected Clock so that tests drive it.
package media
