package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
)

// SpeakRequest is one SPEAK (RFC 6787 §8.4).
type SpeakRequest struct {
	Text        string
	ContentType string // text/plain (default), application/ssml+xml, application/synthesis+ssml
	Voice       string // Voice-Name; default "default" as mod_unimrcp sends
	Headers     []mrcp.Field
}

// SpeakResult is what arrived: the SPEAK-COMPLETE event and the audio received before it.
type SpeakResult struct {
	Complete   *mrcp.Message
	Cause      string
	Audio      []int16 // decoded at Rate, from the first RTP packet to the last
	Rate       int
	LastRTP    time.Time // arrival of the last RTP packet
	CompleteAt time.Time // arrival of SPEAK-COMPLETE
	Packets    uint64
}

// CompleteAfterLastRTP is SPEAK-COMPLETE's arrival minus the last packet's: positive when the
// server completed after its last audio, as RFC 6787 §8.4.2 wants.
func (r *SpeakResult) CompleteAfterLastRTP() time.Duration { return r.CompleteAt.Sub(r.LastRTP) }

// drainWait lets the jitter buffer play out after SPEAK-COMPLETE.
const drainWait = 200 * time.Millisecond

// Speak sends SPEAK, receives the RTP and waits for SPEAK-COMPLETE.
func (s *Session) Speak(ctx context.Context, r SpeakRequest) (*SpeakResult, error) {
	formats := []media.Format{s.Codec}
	if s.DTMF != nil {
		formats = append(formats, *s.DTMF)
	}
	rx, err := media.NewReceiver(s.mediaConn(), media.ReceiverConfig{Formats: formats, OutputRate: 8000})
	if err != nil {
		return nil, fmt.Errorf("client: RTP receiver: %w", err)
	}
	sink := &recording{rx: rx}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var rxErr error
	wg.Go(func() { rxErr = rx.Run(rctx, sink) })
	defer func() { stop(); wg.Wait() }()

	req := s.SpeakMessage(r.ContentType, r.Voice, r.Text, r.Headers)
	res, err := s.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != mrcp.Status200 || res.State != mrcp.StateInProgress {
		return nil, fmt.Errorf("client: SPEAK answered %s", describe(res))
	}
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: waiting for SPEAK-COMPLETE: %w", err)
		}
		if ev.Kind != mrcp.KindEvent || ev.Name != mrcp.EventSpeakComplete || ev.RequestID != req.RequestID {
			continue
		}
		out := &SpeakResult{Complete: ev, Cause: ev.Header.Value(mrcp.HeaderCompletionCause), CompleteAt: time.Now(), Rate: 8000}
		t := time.NewTimer(drainWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		stop()
		wg.Wait()
		out.LastRTP = rx.LastPacket()
		out.Packets = rx.Stats().Received
		out.Audio = sink.trimmed(out.LastRTP)
		return out, rxErr
	}
}

// recording keeps the frames a Receiver delivers once audio started arriving.
type recording struct {
	rx     *media.Receiver
	frames [][]int16
	at     []time.Time
}

func (r *recording) Audio(pcm []int16) {
	if r.rx.LastPacket().IsZero() {
		return
	}
	r.frames = append(r.frames, append([]int16(nil), pcm...))
	r.at = append(r.at, time.Now())
}

func (r *recording) DTMF(media.DTMFEvent) {}

// trimmed drops the concealment/silence frames played after the last packet had drained.
func (r *recording) trimmed(last time.Time) []int16 {
	var out []int16
	for i, f := range r.frames {
		if !last.IsZero() && r.at[i].After(last.Add(drainWait/2)) {
			break
		}
		out = append(out, f...)
	}
	return out
}
