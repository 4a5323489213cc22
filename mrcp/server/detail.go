package server

import (
	"cmp"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/asr/grammar"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
	"github.com/mrcpd/mrcpd/mrcp/records"
)

// Recognition ends: how, for the detail record.
const (
	endComplete = "complete"
	endStop     = "stop"
	endSession  = "session"
)

// finish closes what a recognition captured and writes its detail record; ev is its
// RECOGNITION-COMPLETE (nil when it was stopped, and then the capture is deleted: nobody gets
// its URI).
func (r *recognizer) finish(rec *recognition, ended, cause string, res *nlsml.Result, ev *mrcp.Message) {
	srv := r.ch.se.srv
	rec.detail.input.close()
	rec.detail.heard.stop()
	uri := ""
	if ev != nil && rec.detail.save {
		uri = rec.detail.waveformURI(srv)
		ev.Header.Set(mrcp.HeaderWaveformURI, uri)
	} else if w := rec.detail.wave; w != nil {
		rec.detail.wave = nil
		w.Discard()
	}
	if srv.cfg.Records == nil {
		return
	}
	now := srv.cfg.Clock.Now()
	rd := r.ch.newRecord("recognize", rec.id, ended, cause, now.Sub(rec.started))
	rd.Engine = "dtmf" // DTMF grammars are matched here
	for _, g := range rec.grammars {
		rd.Grammars = append(rd.Grammars, g.id)
		if g.mode != grammar.ModeDTMF || g.g == nil {
			rd.Engine = cmp.Or(rec.detail.engine, "default")
		}
	}
	if res != nil && len(res.Interpretations) > 0 {
		in := res.Interpretations[0]
		rd.Text, rd.Instance, rd.Mode, rd.Confidence = in.Input, in.Instance, in.Mode, &in.Confidence
	}
	rd.SetupMS = since(rec.started, rec.detail.opened)
	rd.FirstAudioMS = since(rec.started, rec.detail.heard.firstAudio())
	if ended == endComplete {
		rd.SpeechEndMS = since(rec.detail.speechEnd, now)
	}
	rd.InputWaveformURI = rec.detail.inputURI
	rd.WaveformURI = strings.TrimPrefix(strings.SplitN(uri, ">", 2)[0], "<")
	r.ch.writeRecord(rd)
}

// since is the time from a to b in ms, nil when either never happened.
func since(a, b time.Time) *float64 {
	if a.IsZero() || b.IsZero() {
		return nil
	}
	return records.Millis(b.Sub(a))
}

// newRecord starts a detail record of this channel's request id.
func (ch *channel) newRecord(kind string, id uint32, ended, cause string, took time.Duration) *records.Record {
	se := ch.se
	return &records.Record{Time: se.srv.cfg.Clock.Now().UTC(), Kind: kind, CallID: se.callID, Channel: ch.id,
		RequestID: id, Client: se.remoteHost, Ended: ended, Cause: cause,
		DurationMS: *records.Millis(took), RTP: se.rtpStats()}
}

func (ch *channel) writeRecord(rd *records.Record) {
	if err := ch.se.srv.cfg.Records.Write(rd); err != nil {
		ch.log.Warn("detail record not written", "err", err)
	}
}

// rtpStats sums the receive counters of the session's streams (nil without any that count).
func (se *session) rtpStats() *records.RTP {
	var sum media.JitterStats
	var jitter time.Duration
	counted := false
	for _, ep := range se.media {
		if ep.stream == nil || !ep.receives() {
			continue
		}
		s := ep.stream.Stats()
		sum, jitter, counted = sumStats(sum, s), max(jitter, s.Jitter), true
	}
	if !counted {
		return nil
	}
	return &records.RTP{Received: sum.Received, Lost: sum.Lost, Late: sum.Late, Reordered: sum.Reordered,
		Duplicated: sum.Duplicated, Malformed: sum.Malformed, Shed: sum.Dropped,
		JitterMS: float64(jitter.Microseconds()) / 1000}
}

// record writes the detail record of a SPEAK that ended.
func (s *synthesizer) record(u *utterance, ended, cause string) {
	srv := s.ch.se.srv
	if srv.cfg.Records == nil {
		return
	}
	rd := s.ch.newRecord("speak", u.id, ended, cause, srv.cfg.Clock.Now().Sub(u.began))
	p := &params{ch: s.ch, m: u.req}
	rd.Engine = cmp.Or(requestEngine(s.ch, u.req), "default")
	rd.Voice = p.raw(mrcp.HeaderVoiceName)
	if ns := u.first.Load(); ns != 0 {
		rd.FirstAudioMS = since(u.began, time.Unix(0, ns))
	}
	s.ch.writeRecord(rd)
}
