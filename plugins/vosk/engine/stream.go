package engine

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit/wsstream"
)

// msgEOF must be byte for byte what vosk-server compares the message with.
var msgEOF = []byte(`{"eof" : 1}`)

type voskWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
	Conf  float64 `json:"conf"`
}

// response is the union of vosk-server's answers: partial, result (text + words), alternatives.
type response struct {
	Partial      *string    `json:"partial"`
	Text         *string    `json:"text"`
	Result       []voskWord `json:"result"`
	Alternatives []struct {
		Text       string     `json:"text"`
		Confidence float64    `json:"confidence"`
		Result     []voskWord `json:"result"`
	} `json:"alternatives"`
}

type stream struct {
	wsstream.Socket
	cfg  Config
	rate int
	gs   *vendorkit.Grammars

	writeMu sync.Mutex
	eofSent bool

	// Recv side only.
	results [][]asr.Alternative // non-empty results of the utterance, in order
	spoke   bool
	final   bool
}

func newStream(ctx context.Context, conn *websocket.Conn, cfg Config, req asr.RecognizeRequest, gs *vendorkit.Grammars, vc voskConfig) *stream {
	s := &stream{Socket: wsstream.New(ctx, "vosk", conn), cfg: cfg, rate: req.SampleRate, gs: gs}
	s.Queue = append(s.Queue, &asr.Ready{Params: map[string]string{
		"sample_rate": strconv.Itoa(vc.Config.SampleRate), "max_alternatives": strconv.Itoa(vc.Config.MaxAlternatives),
		"phrase_list": strconv.Itoa(len(vc.Config.PhraseList)),
	}})
	return s
}

func (s *stream) Send(in asr.Input) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.eofSent {
		return nil
	}
	var pcm []int16
	switch x := in.(type) {
	case *asr.Audio:
		pcm = x.PCM
	case *asr.KeepAlive:
		pcm = vendorkit.KeepAliveSilence(s.rate) // vosk-server has no keep-alive message; silence keeps a proxy in front of it from timing out
	case *asr.FinalizeInput:
		return s.sendEOF()
	default:
		return nil
	}
	if len(pcm) == 0 {
		return nil
	}
	for _, c := range vendorkit.Chunks(pcm, s.rate/10) {
		if err := s.Write(websocket.MessageBinary, vendorkit.AppendPCM(nil, c)); err != nil {
			return err
		}
	}
	return nil
}

func (s *stream) sendEOF() error {
	s.eofSent = true
	return s.Write(websocket.MessageText, msgEOF)
}

func (s *stream) Recv() (asr.Event, error) {
	return s.Socket.Recv(func(b []byte) error {
		var r response
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		s.handle(&r)
		return nil
	}, s.closed)
}

func (s *stream) handle(r *response) {
	if s.final {
		return
	}
	if r.Partial != nil {
		if p := strings.TrimSpace(*r.Partial); p != "" {
			s.started()
			if s.cfg.Interim {
				s.Queue = append(s.Queue, &asr.Partial{Text: strings.TrimSpace(s.joined() + " " + p)})
			}
		}
		return
	}
	// Results accumulate until the server closes after {"eof" : 1}: the answer to eof is the last
	// message, but results for audio sent before it may still be on their way.
	if alts := alternatives(r); len(alts) > 0 && alts[0].Text != "" {
		s.started()
		s.results = append(s.results, alts)
		if s.cfg.VoskEndpoint {
			s.emitFinal()
		}
	}
}

func (s *stream) started() {
	if !s.spoke {
		s.spoke = true
		s.Queue = append(s.Queue, &asr.SpeechStarted{})
	}
}

func (s *stream) joined() string {
	var parts []string
	for _, r := range s.results {
		parts = append(parts, r[0].Text)
	}
	return strings.Join(parts, " ")
}

// emitFinal ends the utterance; when Vosk's endpoint ended it, eof asks the server to close.
func (s *stream) emitFinal() {
	s.final = true
	f := &asr.Final{}
	switch len(s.results) {
	case 0:
	case 1:
		f.Alternatives = s.results[0]
	default:
		best := make([]asr.Alternative, 0, len(s.results))
		for _, r := range s.results {
			best = append(best, r[0])
		}
		f.Alternatives = []asr.Alternative{vendorkit.Concat(best)}
	}
	f.Alternatives = s.gs.Apply(f.Alternatives)
	s.Queue = append(s.Queue, f)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if !s.eofSent {
		if err := s.sendEOF(); err != nil {
			s.End(io.EOF) // the result is out
		}
	}
}

// alternatives reads either result form. Vosk's n-best confidences are lattice scores, not
// probabilities, so they are turned into a distribution over the list.
func alternatives(r *response) []asr.Alternative {
	if len(r.Alternatives) > 0 {
		out := make([]asr.Alternative, 0, len(r.Alternatives))
		top := r.Alternatives[0].Confidence
		var sum float64
		probs := make([]float64, len(r.Alternatives))
		for i, a := range r.Alternatives {
			top = math.Max(top, a.Confidence)
			probs[i] = a.Confidence
		}
		scores := false
		for _, p := range probs {
			scores = scores || p > 1 || p < 0
		}
		if scores {
			for i := range probs {
				probs[i] = math.Exp(probs[i] - top)
				sum += probs[i]
			}
			for i := range probs {
				probs[i] /= sum
			}
		}
		for i, a := range r.Alternatives {
			alt := asr.Alternative{Text: clean(a.Text), Confidence: probs[i], Mode: "speech", Words: words(a.Result)}
			out = append(out, alt)
		}
		return out
	}
	if r.Text == nil {
		return nil
	}
	alt := asr.Alternative{Text: clean(*r.Text), Mode: "speech", Words: words(r.Result), Confidence: 1}
	if len(r.Result) > 0 {
		var sum float64
		for _, w := range r.Result {
			sum += w.Conf
		}
		alt.Confidence = sum / float64(len(r.Result))
	}
	return []asr.Alternative{alt}
}

// clean drops the [unk] markers a grammar with "[unk]" leaves in the text.
func clean(text string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(text, "[unk]", "")), " ")
}

func words(ws []voskWord) []asr.Word {
	var out []asr.Word
	for _, w := range ws {
		out = append(out, asr.Word{Text: w.Word, Start: secs(w.Start), End: secs(w.End), Confidence: w.Conf})
	}
	return out
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// closed handles the end of the socket: after {"eof" : 1} vosk-server sends the final result and
// closes normally. Otherwise: 1011 with a timeout reason (a proxy's or the websockets library's
// keepalive timeout), 1001 with a limit reason (a session cap in front of the server), 1009 (a
// frame over the server's max_size), or no close frame at all (the connection dropped).
func (s *stream) closed(err error) {
	s.Closed(err, s.final, s.emitFinal, closeError)
}

// closeError is what vosk-server's (or its proxy's) close codes mean; nil for the rest.
func closeError(code websocket.StatusCode, reason string) error {
	reason = strings.ToLower(reason)
	switch {
	case code == websocket.StatusInternalError && strings.Contains(reason, "timeout"):
		return asr.Errorf(asr.ErrIdleTimeout, true, "vosk: closed %d: %s", code, reason)
	case code == websocket.StatusGoingAway && strings.Contains(reason, "limit"):
		return asr.Errorf(asr.ErrStreamLimit, true, "vosk: closed %d: %s", code, reason)
	case code == websocket.StatusMessageTooBig:
		return asr.Errorf(asr.ErrBadParameter, false, "vosk: closed %d: %s", code, reason)
	}
	return nil
}
