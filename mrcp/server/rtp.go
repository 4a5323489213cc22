package server

import (
	"context"
	"net"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
)

// RTPConfig tunes the production MediaFactory.
type RTPConfig struct {
	Jitter     media.JitterConfig
	InbandDTMF bool
	Symmetric  bool
	// Codecs restricts and orders the codecs offered to negotiation by name (PCMU, PCMA, L16,
	// ...); empty keeps media.SupportedFormats.
	Codecs []string
	Clock  media.Clock
}

// NewRTP is the MediaFactory on the media package: ports from pool, the receive pipeline
// (jitter buffer, PLC, decode, resample, RFC 4733 and in-band DTMF) and the paced sender.
func NewRTP(pool *media.PortPool, cfg RTPConfig) MediaFactory {
	if cfg.Clock == nil {
		cfg.Clock = media.RealClock{}
	}
	return &rtpFactory{pool: pool, cfg: cfg}
}

type rtpFactory struct {
	pool *media.PortPool
	cfg  RTPConfig
}

func (f *rtpFactory) Formats() []sdp.Format {
	var out []sdp.Format
	all := media.SupportedFormats()
	pick := func(m media.Format) {
		out = append(out, sdp.Format{PT: m.PT, Name: m.Name, ClockRate: m.ClockRate, Channels: m.Channels, Fmtp: m.Fmtp})
	}
	if len(f.cfg.Codecs) == 0 {
		for _, m := range all {
			pick(m)
		}
		return out
	}
	for _, name := range f.cfg.Codecs {
		for _, m := range all {
			if equalName(m.Name, name) && !m.IsTelephoneEvent() {
				pick(m)
			}
		}
	}
	for _, m := range all {
		if m.IsTelephoneEvent() {
			pick(m)
		}
	}
	return out
}

func (f *rtpFactory) Listen() (net.PacketConn, error) { return f.pool.Listen() }

func toMedia(s sdp.Format) media.Format {
	return media.Format{PT: s.PT, Name: s.Name, ClockRate: s.ClockRate, Channels: s.Channels, Fmtp: s.Fmtp}
}

func (f *rtpFactory) NewReceiver(conn net.PacketConn, p ReceiverParams) (Receiver, error) {
	formats := make([]media.Format, len(p.Formats))
	for i, s := range p.Formats {
		formats[i] = toMedia(s)
	}
	cfg := media.ReceiverConfig{Formats: formats, OutputRate: p.OutputRate,
		Jitter: f.cfg.Jitter, InbandDTMF: f.cfg.InbandDTMF, Clock: f.cfg.Clock, Logger: p.Logger,
		Symmetric: f.cfg.Symmetric}
	if f.cfg.Symmetric {
		cfg.OnLatch = p.OnLatch
	}
	// RTCP on the port above (RFC 3550 §11): receiver reports go out once the peer's RTCP is
	// heard. Without the port the stream still works, unreported.
	var rtcp *net.UDPConn
	if uc, ok := conn.(*net.UDPConn); ok {
		c, err := f.pool.ListenRTCP(uc)
		if err != nil {
			p.Logger.Debug("no RTCP socket", "err", err)
		} else {
			rtcp, cfg.RTCP = c, c
		}
	}
	r, err := media.NewReceiver(conn, cfg)
	if err != nil {
		if rtcp != nil {
			rtcp.Close()
		}
		return nil, err
	}
	p.Logger.Debug("media pipeline", "rx", r.String())
	return &rtpReceiver{r: r, rtcp: rtcp}, nil
}

type rtpReceiver struct {
	r    *media.Receiver
	rtcp *net.UDPConn
}

// Run receives until ctx ends, then frees the RTCP port.
func (x *rtpReceiver) Run(ctx context.Context, s Sink) error {
	if x.rtcp != nil {
		defer x.rtcp.Close()
	}
	return x.r.Run(ctx, sinkAdapter{s})
}

func (x *rtpReceiver) LastPacket() time.Time    { return x.r.LastPacket() }
func (x *rtpReceiver) Stats() media.JitterStats { return x.r.Stats() }

type sinkAdapter struct{ s Sink }

func (a sinkAdapter) Audio(pcm []int16)       { a.s.Audio(pcm) }
func (a sinkAdapter) DTMF(ev media.DTMFEvent) { a.s.DTMF(ev.Digit) }

func (f *rtpFactory) NewSender(conn net.PacketConn, p SenderParams) (Sender, error) {
	var te *media.Format
	if p.TelephoneEvent != nil {
		m := toMedia(*p.TelephoneEvent)
		te = &m
	}
	s, err := media.NewSender(conn, p.Remote, media.SenderConfig{Format: toMedia(p.Format), TelephoneEvent: te,
		Ptime: p.Ptime, InputRate: p.InputRate, Clock: f.cfg.Clock, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// NewVAD is the Endpointer on media.VAD.
func NewVAD(rate int, sensitivity float64) Endpointer {
	return &vadAdapter{media.NewVAD(media.VADConfig{SampleRate: rate, Sensitivity: sensitivity})}
}

type vadAdapter struct{ v *media.VAD }

func (a *vadAdapter) Process(pcm []int16) SpeechEvent {
	switch a.v.Process(pcm) {
	case media.SpeechStart:
		return SpeechStart
	case media.SpeechEnd:
		return SpeechEnd
	}
	return SpeechNone
}
