package mediatest

import (
	"github.com/pion/rtp"
)

// Stream builds RTP packets for a sender: sequence numbers and timestamps continue (and wrap) across
// packets; set Seq and TS near their maximum to test wrap-around.
type Stream struct {
	PT     uint8
	SSRC   uint32
	Seq    uint16
	TS     uint32
	Marker bool // next packet starts a talkspurt
}

// Next returns a marshalled packet carrying payload and advances by samples timestamp units.
func (s *Stream) Next(payload []byte, samples int) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: s.PT, SequenceNumber: s.Seq,
		Timestamp: s.TS, SSRC: s.SSRC, Marker: s.Marker}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	s.Seq++
	s.TS += uint32(samples)
	s.Marker = false
	return b
}

// Event returns a telephone-event packet with timestamp ts (the event start); it takes a sequence number
// but does not advance the timestamp.
func (s *Stream) Event(pt uint8, ts uint32, payload []byte, marker bool) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.Seq,
		Timestamp: ts, SSRC: s.SSRC, Marker: marker}, Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		panic(err)
	}
	s.Seq++
	return b
}
