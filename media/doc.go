// Package media is mrcpd's RTP media path: receive (RTP parsing, adaptive jitter buffer, packet-loss
// concealment, decoding, resampling, DTMF detection) and send (resampling, encoding, packetising and a
// drift-free pacer), plus the helpers around them (VAD, port pool).
//
// Each stage is a small type with a String method, so a whole pipeline prints on one line:
//
//	RTP(PCMU/8000) -> Jitter(50ms) -> PLC(G.711-I) -> Decode(PCMU) -> Resample(8k->16k) -> DTMF(rfc4733+inband) -> Taps
//
// In mrcpd the stages run on an Engine: a fixed set of workers (one per core by default), each owning
// many streams' non-blocking sockets. Every 20 ms a worker reads what arrived on its sockets in batches
// (epoll, recvmmsg, kernel arrival timestamps) and runs every stream's tick: one frame through the
// receive stages into the stream's Taps (a recognition's engine writer, a recording, each with its
// VAD) and one packet time of the pacer. There is no goroutine and no timer per stream; a session hears
// of its media through Events only (digits, speech start and end). Receiver.Run and Sender.Run drive
// the same stages with goroutines of their own, for clients and tests.
//
// The package knows nothing of MRCP or SIP. Time is always read from an injected Clock so that tests drive it.
package media
