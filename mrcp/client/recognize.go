package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
)

// RecognizeRequest is one recognition: a grammar and what to send as the caller's input.
type RecognizeRequest struct {
	Grammar     string // grammar URI (builtin:..., session:..., http:...), used when GrammarBody is empty
	GrammarBody []byte // inline grammar, sent with DEFINE-GRAMMAR and recognized as session:<Content-Id>
	GrammarType string // Content-Type of GrammarBody (application/srgs+xml, application/srgs)

	Audio     []int16 // speech to stream as RTP (paced at 20 ms)
	AudioRate int     // rate of Audio; 0: 8000
	DTMF      string  // digits to send instead of Audio
	Inband    bool    // send DTMF as tones in the audio rather than RFC 4733 events

	Headers []mrcp.Field // extra RECOGNIZE header fields (override the defaults below)
}

// RecognizeResult is the RECOGNITION-COMPLETE event.
type RecognizeResult struct {
	Complete *mrcp.Message
	Cause    string // Completion-Cause, e.g. "000 success"
	NLSML    []byte
}

// Success reports Completion-Cause 000.
func (r *RecognizeResult) Success() bool { return len(r.Cause) >= 3 && r.Cause[:3] == "000" }

// Recognize runs DEFINE-GRAMMAR (for an inline grammar), RECOGNIZE, the media, and waits for
// RECOGNITION-COMPLETE (RFC 6787 §9). The media stream starts before RECOGNIZE and carries
// silence around the input, as a phone line does.
func (s *Session) Recognize(ctx context.Context, r RecognizeRequest) (*RecognizeResult, error) {
	uri := r.Grammar
	if len(r.GrammarBody) > 0 {
		def, ref := s.DefineGrammarMessage(r.GrammarType, r.GrammarBody)
		res, err := s.Send(ctx, def)
		if err != nil {
			return nil, err
		}
		if !mrcp.IsSuccess(res.StatusCode) {
			return nil, fmt.Errorf("client: DEFINE-GRAMMAR answered %s", describe(res))
		}
		uri = ref
	}
	rate := r.AudioRate
	if rate <= 0 {
		rate = 8000
	}
	tx, err := s.startSending(ctx, rate)
	if err != nil {
		return nil, err
	}
	defer tx.stop()

	req := s.RecognizeMessage(uri, r.Headers)
	res, err := s.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != mrcp.Status200 || res.State != mrcp.StateInProgress {
		return nil, fmt.Errorf("client: RECOGNIZE answered %s", describe(res))
	}
	if err := tx.feed(ctx, r, rate); err != nil {
		return nil, err
	}
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: waiting for RECOGNITION-COMPLETE: %w", err)
		}
		if ev.Kind == mrcp.KindEvent && ev.Name == mrcp.EventRecognitionComplete && ev.RequestID == req.RequestID {
			return &RecognizeResult{Complete: ev, Cause: ev.Header.Value(mrcp.HeaderCompletionCause), NLSML: ev.Body}, tx.err()
		}
	}
}

// sending is the outgoing RTP of a recognition: the pacer, a silence filler and the feeder.
type sending struct {
	sender *media.Sender
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	failed error
}

func (s *Session) startSending(ctx context.Context, rate int) (*sending, error) {
	snd, err := media.NewSender(s.mediaConn(), s.RemoteRTP, media.SenderConfig{Format: s.Codec, TelephoneEvent: s.DTMF, InputRate: rate})
	if err != nil {
		return nil, fmt.Errorf("client: RTP sender: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	tx := &sending{sender: snd, cancel: cancel}
	tx.wg.Go(func() { tx.fail(snd.Run(ctx)) })
	tx.wg.Go(func() { fillSilence(ctx, snd, rate) })
	return tx, nil
}

// fillSilence keeps about 60 ms queued so the line never goes quiet between inputs.
func fillSilence(ctx context.Context, snd *media.Sender, rate int) {
	frame := make([]int16, rate/50)
	t := time.NewTicker(media.FrameDuration)
	defer t.Stop()
	for {
		if snd.Queued() < 3*media.FrameDuration {
			_ = snd.Write(frame)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// feed queues the input: audio as is, DTMF as tones or as RFC 4733 events between silences.
func (tx *sending) feed(ctx context.Context, r RecognizeRequest, rate int) error {
	switch {
	case r.DTMF != "" && r.Inband:
		tones, err := DTMFTones(r.DTMF, rate, 100*time.Millisecond, 100*time.Millisecond)
		if err != nil {
			return err
		}
		return tx.sender.Write(tones)
	case r.DTMF != "":
		for _, d := range r.DTMF {
			if _, err := media.DigitEvent(d); err != nil {
				return fmt.Errorf("client: %w", err)
			}
		}
		tx.wg.Go(func() {
			for _, d := range r.DTMF {
				// QueueDTMF, not SendDTMF: the pacer goroutine may not have started yet.
				sent, err := tx.sender.QueueDTMF(d, 100*time.Millisecond)
				if err != nil {
					tx.fail(err)
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-sent:
				}
				gap := time.NewTimer(100 * time.Millisecond) // inter-digit pause, as a keypad gives
				select {
				case <-ctx.Done():
					gap.Stop()
					return
				case <-gap.C:
				}
			}
		})
		return nil
	default:
		return tx.sender.Write(r.Audio)
	}
}

func (tx *sending) fail(err error) {
	if err == nil {
		return
	}
	tx.mu.Lock()
	if tx.failed == nil {
		tx.failed = err
	}
	tx.mu.Unlock()
}

func (tx *sending) err() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.failed
}

func (tx *sending) stop() {
	tx.cancel()
	tx.wg.Wait()
}
