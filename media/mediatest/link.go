package mediatest

import (
	"net/netip"
	"time"

	"github.com/mrcpd/mrcpd/media"
)

// Recorder is a media.Sink that keeps everything.
type Recorder struct {
	PCM    []int16
	Digits []media.DTMFEvent
}

func (r *Recorder) Audio(pcm []int16)       { r.PCM = append(r.PCM, pcm...) }
func (r *Recorder) DTMF(ev media.DTMFEvent) { r.Digits = append(r.Digits, ev) }
func (r *Recorder) DigitString() string {
	b := make([]rune, 0, len(r.Digits))
	for _, d := range r.Digits {
		b = append(b, d.Digit)
	}
	return string(b)
}

// Link drives a sender, an impaired network and a receiver in virtual time, 20 ms per step, without
// goroutines: the sender's pacer, the network and the receiver all see the same clock.
type Link struct {
	Now      time.Time
	Sender   *media.Sender
	SendConn *Conn
	Net      *Network
	Receiver *media.Receiver
	Sink     media.Sink
	// Tap, when set, sees (and may rewrite or drop, by returning nil) each packet the sender emits.
	Tap func(pkt []byte) []byte
}

var linkFrom = netip.MustParseAddrPort("127.0.0.1:40002")

// Run advances d in 20 ms steps.
func (l *Link) Run(d time.Duration) {
	for t := time.Duration(0); t < d; t += media.FrameDuration {
		l.Step()
	}
}

// Step advances one 20 ms step.
func (l *Link) Step() {
	l.Now = l.Now.Add(media.FrameDuration)
	if l.Sender != nil {
		if err := l.Sender.PaceAt(l.Now); err != nil {
			panic(err)
		}
	drain:
		for {
			select {
			case p := <-l.SendConn.Written:
				if l.Tap != nil {
					p = l.Tap(p)
				}
				if p != nil {
					l.Net.Send(p, l.Now)
				}
			default:
				break drain
			}
		}
	}
	for _, d := range l.Net.Due(l.Now) {
		l.Receiver.ReceiveAt(d.Pkt, linkFrom, d.At, l.Sink)
	}
	l.Receiver.TickAt(l.Now, l.Sink)
}
