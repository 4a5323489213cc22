package client

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/sdp"
	"github.com/mrcpd/mrcpd/mrcp/sip"
)

// fakeServer is a small MRCP server for the client's tests: the real SIP agent (mrcp/sip), a
// TCP control listener and media's RTP pipeline. RECOGNIZE collects DTMF (RFC 4733 or in-band)
// until the builtin grammar's length; SPEAK sends a 440 Hz tone of toneDur, then SPEAK-COMPLETE.
type fakeServer struct {
	t     *testing.T
	sip   *sip.Server
	ctl   net.Listener
	wg    sync.WaitGroup
	ctx   context.Context
	mu    sync.Mutex
	chans map[string]*fakeChannel // by channel id
	ended chan string
}

type fakeChannel struct {
	rtp    *net.UDPConn
	remote *net.UDPAddr
	codec  media.Format
	te     *media.Format
}

const toneDur = 400 * time.Millisecond

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeServer{t: t, ctx: ctx, chans: map[string]*fakeChannel{}, ended: make(chan string, 64)}
	var err error
	if f.ctl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if f.sip, err = sip.NewServer(sip.Config{Addr: "127.0.0.1:0"}, f, discard()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.sip.Run(ctx) }()
	f.wg.Go(f.accept)
	t.Cleanup(func() {
		cancel()
		f.ctl.Close()
		if err := <-done; err != nil {
			t.Errorf("sip Run: %v", err)
		}
		f.wg.Wait()
		f.mu.Lock()
		for _, ch := range f.chans {
			ch.rtp.Close()
		}
		f.mu.Unlock()
	})
	return f
}

func (f *fakeServer) Offer(_ context.Context, _ *sip.Call, body []byte, _ bool) ([]byte, error) {
	o, err := sdp.ParseOffer(body)
	if err != nil {
		return nil, err
	}
	if len(o.Control) != 1 || len(o.Audio) != 1 {
		return nil, &sdp.Error{Code: 488, Warning: "one channel please"}
	}
	codec, te, err := sdp.NegotiateAudio(o.Audio[0], []sdp.Format{{Name: "PCMU", ClockRate: 8000}, {Name: "telephone-event", ClockRate: 8000}})
	if err != nil {
		return nil, err
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	ch := &fakeChannel{rtp: rtp, remote: &net.UDPAddr{IP: net.ParseIP(o.Audio[0].ConnAddr), Port: o.Audio[0].Port},
		codec: media.Format(codec)}
	if te != nil {
		mte := media.Format(*te)
		ch.te = &mte
	}
	id := sdp.NewChannelID(o.Control[0].Resource)
	f.mu.Lock()
	f.chans[id] = ch
	f.mu.Unlock()
	return sdp.BuildAnswer(o, &sdp.Answer{Addr: "127.0.0.1",
		Control: []sdp.AnswerControl{{Port: f.ctl.Addr().(*net.TCPAddr).Port, Channel: id}},
		Audio:   []sdp.AnswerAudio{{Port: rtp.LocalAddr().(*net.UDPAddr).Port, Format: codec, TelephoneEvent: te}}})
}

func (f *fakeServer) Ended(callID, _ string) { f.ended <- callID }

func (f *fakeServer) accept() {
	for {
		c, err := f.ctl.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() { f.serve(c) })
	}
}

func (f *fakeServer) serve(c net.Conn) {
	defer c.Close()
	stop := context.AfterFunc(f.ctx, func() { c.Close() })
	defer stop()
	dec := mrcp.NewDecoder(c, 0)
	var wmu sync.Mutex
	write := func(m *mrcp.Message) {
		wmu.Lock()
		defer wmu.Unlock()
		_, _ = c.Write(m.Append(nil))
	}
	var work sync.WaitGroup
	defer work.Wait()
	for {
		req, err := dec.Decode()
		if err != nil {
			return
		}
		f.mu.Lock()
		ch := f.chans[req.ChannelID()]
		f.mu.Unlock()
		if ch == nil {
			write(req.NewResponse(mrcp.Status405, mrcp.StateComplete))
			continue
		}
		switch req.Name {
		case mrcp.MethodDefineGrammar:
			write(req.NewResponse(mrcp.Status200, mrcp.StateComplete))
		case mrcp.MethodRecognize:
			write(req.NewResponse(mrcp.Status200, mrcp.StateInProgress))
			n := 4
			fmt.Sscanf(string(req.Body[strings.LastIndex(string(req.Body), "=")+1:]), "%d", &n)
			work.Go(func() { write(f.recognize(req, ch, n)) })
		case mrcp.MethodSpeak:
			write(req.NewResponse(mrcp.Status200, mrcp.StateInProgress))
			work.Go(func() { write(f.speak(req, ch)) })
		default:
			write(req.NewResponse(mrcp.Status405, mrcp.StateComplete))
		}
	}
}

type digitSink struct {
	digits chan rune
}

func (d *digitSink) Audio([]int16)           {}
func (d *digitSink) DTMF(ev media.DTMFEvent) { d.digits <- ev.Digit }

func (f *fakeServer) recognize(req *mrcp.Message, ch *fakeChannel, n int) *mrcp.Message {
	formats := []media.Format{ch.codec}
	if ch.te != nil {
		formats = append(formats, *ch.te)
	}
	rx, err := media.NewReceiver(ch.rtp, media.ReceiverConfig{Formats: formats, InbandDTMF: true})
	if err != nil {
		f.t.Error(err)
		return nil
	}
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	sink := &digitSink{digits: make(chan rune, 16)}
	done := make(chan struct{})
	go func() { _ = rx.Run(ctx, sink); close(done) }()
	var got []rune
	for len(got) < n && ctx.Err() == nil {
		select {
		case d := <-sink.digits:
			got = append(got, d)
		case <-ctx.Done():
		}
	}
	cancel()
	<-done
	ev := mrcp.NewEvent(mrcp.EventRecognitionComplete, req.RequestID, mrcp.StateComplete, req.ChannelID())
	if len(got) < n {
		ev.Header.Set(mrcp.HeaderCompletionCause, "002 no-input-timeout")
		return ev
	}
	ev.Header.Set(mrcp.HeaderCompletionCause, "000 success")
	ev.Header.Set(mrcp.HeaderContentType, "application/nlsml+xml")
	ev.Body = []byte(`<?xml version="1.0"?><result><interpretation grammar="g" confidence="1.0"><instance>` + string(got) +
		`</instance><input mode="dtmf">` + string(got) + `</input></interpretation></result>`)
	return ev
}

func (f *fakeServer) speak(req *mrcp.Message, ch *fakeChannel) *mrcp.Message {
	snd, err := media.NewSender(ch.rtp, ch.remote, media.SenderConfig{Format: ch.codec})
	if err != nil {
		f.t.Error(err)
		return nil
	}
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { _ = snd.Run(ctx); close(done) }()
	tone := make([]int16, int(toneDur/time.Second*8000)+int(toneDur%time.Second)*8000/int(time.Second))
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	_ = snd.Write(tone)
	<-snd.End()
	cancel()
	<-done
	ev := mrcp.NewEvent(mrcp.EventSpeakComplete, req.RequestID, mrcp.StateComplete, req.ChannelID())
	ev.Header.Set(mrcp.HeaderCompletionCause, "000 normal")
	return ev
}
