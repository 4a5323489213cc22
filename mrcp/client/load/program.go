package load

import (
	"fmt"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

// Input is what every recognition sends after RECOGNIZE is IN-PROGRESS: recorded audio (speech,
// or DTMF tones), or digits as RFC 4733 events or in-band tones.
type Input struct {
	PCM    []int16
	Rate   int    // of PCM; 0: 8000
	Digits string // instead of PCM
	Inband bool   // send Digits as tones in the audio
}

func (in Input) empty() bool { return len(in.PCM) == 0 && in.Digits == "" }

// Program is an input encoded once for a negotiated codec, shared by every stream that uses
// that codec: each tick a stream sends the next frame (or silence) behind its own header.
type Program struct {
	PT, TEPT uint8
	Clock    int    // RTP clock rate
	TSPerPkt uint32 // RTP timestamp units per packet
	Silence  []byte
	Frames   []Frame
	End      int // index of the frame that ends the input: its last sound or last digit; -1 if none
}

// Frame is one packet of a program.
type Frame struct {
	Payload []byte
	Marker  bool
	Event   bool   // an RFC 4733 packet: payload type TEPT, timestamp of its event's start
	Back    uint16 // packets since that start (0: the event starts)
}

// Digit timing as a keypad gives it (and as mrcpclient recognize sends): 100 ms key, 100 ms gap.
const (
	digitPackets = 5 // 100 ms
	gapPackets   = 5
	endCopies    = 3 // RFC 4733 §2.5.1.4: the end packet is sent three times
)

// speechFloor is the mean square level (about -45 dBFS) above which a frame of the input counts
// as sound; the input ends with the last such frame, not with trailing silence.
const speechFloor = 184 * 184

// programs builds each codec's program once.
type programs struct {
	in Input
	mu sync.Mutex
	m  map[string]*Program
}

func newPrograms(in Input) *programs { return &programs{in: in, m: map[string]*Program{}} }

func (ps *programs) get(codec media.Format, te *media.Format) (*Program, error) {
	key := fmt.Sprintf("%d %s", codec.PT, codec)
	if te != nil {
		key += fmt.Sprint(" ", te.PT)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.m[key]; p != nil {
		return p, nil
	}
	p, err := buildProgram(ps.in, codec, te)
	if err != nil {
		return nil, err
	}
	ps.m[key] = p
	return p, nil
}

func buildProgram(in Input, codec media.Format, te *media.Format) (*Program, error) {
	c, err := media.LookupCodec(codec)
	if err != nil {
		return nil, err
	}
	enc, err := c.NewEncoder(codec)
	if err != nil {
		return nil, err
	}
	rate := c.SampleRate()
	n := rate * int(ptime) / int(time.Second)
	p := &Program{PT: codec.PT, Clock: codec.ClockRate, TSPerPkt: uint32(codec.ClockRate * int(ptime) / int(time.Second)), End: -1}
	if p.Silence, err = enc.Encode(nil, make([]int16, n)); err != nil {
		return nil, fmt.Errorf("load: encoding %s: %w", codec, err)
	}
	pcm, inRate := in.PCM, in.Rate
	if inRate <= 0 {
		inRate = 8000
	}
	switch {
	case in.Digits != "" && !in.Inband:
		if te == nil {
			return nil, fmt.Errorf("load: the server answered no telephone-event for RFC 4733 digits")
		}
		return p, p.addDigits(in.Digits, te.PT)
	case in.Digits != "":
		if pcm, err = client.DTMFTones(in.Digits, rate, digitPackets*ptime, gapPackets*ptime); err != nil {
			return nil, err
		}
		inRate = rate
	}
	if inRate != rate {
		pcm = audio.NewResampler(inRate, rate).Process(nil, pcm)
	}
	for i := 0; i < len(pcm); i += n {
		frame := make([]int16, n)
		copy(frame, pcm[i:min(i+n, len(pcm))])
		payload, err := enc.Encode(nil, frame)
		if err != nil {
			return nil, fmt.Errorf("load: encoding %s: %w", codec, err)
		}
		if meanSquare(frame) > speechFloor {
			p.End = len(p.Frames)
		}
		p.Frames = append(p.Frames, Frame{Payload: payload, Marker: i == 0})
	}
	if p.End < 0 && len(p.Frames) > 0 {
		p.End = len(p.Frames) - 1
	}
	return p, nil
}

// addDigits appends RFC 4733 §2.5 events: updates of a growing duration, the first with the
// marker bit, the last three with the end bit, all stamped with the event's start; then a gap
// of silence.
func (p *Program) addDigits(digits string, tePT uint8) error {
	p.TEPT = tePT
	for _, d := range digits {
		code, err := media.DigitEvent(d)
		if err != nil {
			return err
		}
		for i := range digitPackets + endCopies - 1 {
			dur := min(i+1, digitPackets) * int(p.TSPerPkt)
			ev := media.TelephoneEvent{Event: code, End: i >= digitPackets-1, Volume: 10, Duration: uint16(dur)}
			if ev.End && !p.Frames[len(p.Frames)-1].end() {
				p.End = len(p.Frames) // the first end packet: a receiver reports the digit on it
			}
			p.Frames = append(p.Frames, Frame{Payload: ev.Append(nil), Marker: i == 0, Event: true, Back: uint16(i)})
		}
		for range gapPackets {
			p.Frames = append(p.Frames, Frame{Payload: p.Silence})
		}
	}
	return nil
}

// end reports an RFC 4733 end packet.
func (f Frame) end() bool { return f.Event && f.Payload[1]&0x80 != 0 }

func meanSquare(x []int16) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s / float64(len(x))
}
