package media

import (
	"context"
	"fmt"
	"time"
)

// SendDTMF sends digit as RFC 4733 events lasting dur (at least 40 ms), in place of audio, and returns
// once the last end packet has been sent. Run must be running.
func (s *Sender) SendDTMF(ctx context.Context, digit rune, dur time.Duration) error {
	s.mu.Lock()
	running := s.running
	s.mu.Unlock()
	if !running {
		return ErrNotRunning
	}
	j, err := s.queueDTMF(digit, dur)
	if err != nil {
		return err
	}
	return s.waitDTMF(ctx, j)
}

// QueueDTMF queues digit like SendDTMF without waiting; the channel is closed once its last packet is sent.
// For callers that pace with PaceAt.
func (s *Sender) QueueDTMF(digit rune, dur time.Duration) (<-chan struct{}, error) {
	j, err := s.queueDTMF(digit, dur)
	if err != nil {
		return nil, err
	}
	return j.done, nil
}

func (s *Sender) queueDTMF(digit rune, dur time.Duration) (*dtmfJob, error) {
	ev, err := DigitEvent(digit)
	if err != nil {
		return nil, err
	}
	dur = max(dur, 40*time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.te == nil {
		return nil, fmt.Errorf("%w: telephone-event was not negotiated", ErrUnsupportedFormat)
	}
	j := &dtmfJob{event: ev, samples: int(int64(dur) * int64(s.format.ClockRate) / int64(time.Second)),
		done: make(chan struct{})}
	s.dtmfWait = append(s.dtmfWait, j)
	return j, nil
}

func (s *Sender) waitDTMF(ctx context.Context, j *dtmfJob) error {
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		j.cancel = true // the pacer ends the event now rather than leave the far end's key held
		s.mu.Unlock()
		<-j.done
		return ctx.Err()
	}
}

// stepDTMF sends the next packet of the current event (RFC 4733 §2.5.1): the first with the marker bit,
// updates every packet time with the growing duration, then the end packet three times; all with the
// event's start timestamp.
func (s *Sender) stepDTMF() error {
	j := s.dtmf
	marker := !j.started
	if !j.started {
		j.started, j.ts = true, s.ts
	}
	if j.ends == 0 {
		j.dur = min(j.dur+int(s.tsPerPkt), 0xffff)
		if j.dur >= j.samples || j.cancel || j.dur == 0xffff {
			j.ends = 1
		}
	} else {
		j.ends++
	}
	te := TelephoneEvent{Event: j.event, End: j.ends > 0, Volume: 10, Duration: uint16(j.dur)}
	s.payload = te.Append(s.payload[:0])
	err := s.send(s.te.PT, marker, j.ts, s.payload)
	if j.ends >= 3 {
		close(j.done)
		s.dtmf = nil
		s.talk = false
	}
	return err
}
