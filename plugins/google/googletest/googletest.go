// Package googletest is an in-process stand-in for Google Cloud Speech-to-Text v1: a real gRPC
// server implementing speechpb.SpeechServer's StreamingRecognize on a loopback port, message for
// message as Google documents it (config first, then audio; interim and final results; speech
// activity events; END_OF_SINGLE_UTTERANCE; the 305-second stream cap and the audio timeout as
// OUT_OF_RANGE statuses). Its "recognition" is a rule tests control: whatever speech it hears is
// the configured Script's transcript.
package googletest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/speech/apiv1/speechpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/mrcpd/mrcpd/plugins/internal/vendorkit"
)

// Script is what the stand-in answers when it hears speech.
type Script = vendorkit.Script

// Failure is a vendor failure the stand-in can be told to produce on its next stream.
type Failure int

const (
	FailNone        Failure = iota
	FailAuth                // UNAUTHENTICATED at the start of the call, as for bad credentials
	FailQuota               // RESOURCE_EXHAUSTED at the start of the call
	FailDrop                // the TCP connection is cut when speech begins, mid-utterance
	FailStreamLimit         // this stream's cap is 1 s of audio instead of the configured one
)

// Server is the stand-in.
type Server struct {
	speechpb.UnimplementedSpeechServer
	lis  *trackingListener
	grpc *grpc.Server

	mu          sync.Mutex
	script      Script
	fails       []Failure
	streamLimit time.Duration
	idleTimeout time.Duration
	configs     []*speechpb.StreamingRecognitionConfig
	streams     int
}

// Start runs a stand-in on 127.0.0.1 and returns it with its endpoint (host:port), stopped when the
// test ends. This is the helper end-to-end tests use to point the plugin's `endpoint` setting at.
func Start(t testing.TB, script Script) (*Server, string) {
	t.Helper()
	s, err := Listen("127.0.0.1:0", script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s, s.Addr()
}

// Listen starts a stand-in on addr (loopback only, for tests and demos).
func Listen(addr string, script Script) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{lis: &trackingListener{Listener: l, conns: map[net.Conn]bool{}}, script: script,
		streamLimit: 305 * time.Second, idleTimeout: 10 * time.Second}
	s.grpc = grpc.NewServer()
	speechpb.RegisterSpeechServer(s.grpc, s)
	go s.grpc.Serve(s.lis)
	return s, nil
}

// Addr is the endpoint, host:port.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Stop ends the server and every call.
func (s *Server) Stop() { s.grpc.Stop() }

// SetScript changes what later streams recognise.
func (s *Server) SetScript(sc Script) { s.mu.Lock(); s.script = sc; s.mu.Unlock() }

// Fail queues failures for the next streams, one each.
func (s *Server) Fail(f ...Failure) { s.mu.Lock(); s.fails = append(s.fails, f...); s.mu.Unlock() }

// SetLimits sets the stream cap (audio received) and the audio timeout (wall time without audio);
// Google's are 305 s and about 10 s.
func (s *Server) SetLimits(stream, idle time.Duration) {
	s.mu.Lock()
	s.streamLimit, s.idleTimeout = stream, idle
	s.mu.Unlock()
}

// Configs returns the streaming configs received so far, in order.
func (s *Server) Configs() []*speechpb.StreamingRecognitionConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*speechpb.StreamingRecognitionConfig, len(s.configs))
	for i, c := range s.configs {
		out[i] = proto.Clone(c).(*speechpb.StreamingRecognitionConfig)
	}
	return out
}

// Streams is the number of StreamingRecognize calls accepted.
func (s *Server) Streams() int { s.mu.Lock(); defer s.mu.Unlock(); return s.streams }

func (s *Server) next() (Script, Failure, time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streams++
	f := FailNone
	if len(s.fails) > 0 {
		f, s.fails = s.fails[0], s.fails[1:]
	}
	return s.script, f, s.streamLimit, s.idleTimeout
}

// StreamingRecognize implements Google's bidirectional call.
func (s *Server) StreamingRecognize(call speechpb.Speech_StreamingRecognizeServer) error {
	script, fail, limit, idle := s.next()
	switch fail {
	case FailAuth:
		return status.Error(codes.Unauthenticated, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
	}
	if fail == FailStreamLimit {
		limit = time.Second
	}
	first, err := call.Recv()
	if err != nil {
		return err
	}
	if fail == FailQuota {
		// Checked once the call has started, so the client has already sent its config.
		return status.Error(codes.ResourceExhausted, "Quota exceeded for quota metric 'Streaming requests' and limit 'Streaming requests per minute'.")
	}
	sc := first.GetStreamingConfig()
	if err := validate(sc); err != nil {
		return err
	}
	s.mu.Lock()
	s.configs = append(s.configs, proto.Clone(sc).(*speechpb.StreamingRecognitionConfig))
	s.mu.Unlock()
	u := &utterance{call: call, sc: sc, script: script, l: vendorkit.Listener{Rate: int(sc.GetConfig().GetSampleRateHertz())}}
	return u.run(limit, idle, func() {
		if fail == FailDrop {
			s.lis.cutAll()
		}
	})
}

func validate(sc *speechpb.StreamingRecognitionConfig) error {
	if sc == nil || sc.GetConfig() == nil {
		return status.Error(codes.InvalidArgument, "Invalid recognition 'config': the first StreamingRecognizeRequest must contain a streaming_config.")
	}
	c := sc.GetConfig()
	switch {
	case c.GetEncoding() != speechpb.RecognitionConfig_LINEAR16:
		return status.Error(codes.InvalidArgument, "Invalid recognition 'config': this stand-in takes LINEAR16.")
	case c.GetSampleRateHertz() < 8000 || c.GetSampleRateHertz() > 48000:
		return status.Errorf(codes.InvalidArgument, "Invalid recognition 'config': sample_rate_hertz %d out of 8000..48000.", c.GetSampleRateHertz())
	case c.GetLanguageCode() == "" || c.GetLanguageCode() == "xx-XX":
		return status.Errorf(codes.InvalidArgument, "Invalid recognition 'config': bad language code %q.", c.GetLanguageCode())
	case c.GetMaxAlternatives() < 0 || c.GetMaxAlternatives() > 30:
		return status.Error(codes.InvalidArgument, "Invalid recognition 'config': max_alternatives out of 0..30.")
	}
	n := 0
	for _, ctx := range c.GetSpeechContexts() {
		n += len(ctx.GetPhrases())
	}
	if n > 5000 {
		return status.Error(codes.InvalidArgument, "Invalid recognition 'config': too many speech_context phrases.")
	}
	return nil
}

type utterance struct {
	call    speechpb.Speech_StreamingRecognizeServer
	sc      *speechpb.StreamingRecognitionConfig
	script  Script
	l       vendorkit.Listener
	partial string
	samples int
}

// run reads audio until the client half-closes (then it sends the final result), the single
// utterance ends, or a limit is hit.
func (u *utterance) run(limit, idle time.Duration, onSpeech func()) error {
	type msg struct {
		req *speechpb.StreamingRecognizeRequest
		err error
	}
	in := make(chan msg)
	ctx := u.call.Context()
	go func() {
		for {
			r, err := u.call.Recv()
			select {
			case in <- msg{r, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return status.Error(codes.OutOfRange, "Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time.")
		case m := <-in:
			if errors.Is(m.err, io.EOF) {
				return u.final()
			}
			if m.err != nil {
				return m.err
			}
			if m.req.GetStreamingConfig() != nil {
				return status.Error(codes.InvalidArgument, "streaming_config may only be sent in the first request.")
			}
			audio := m.req.GetAudioContent()
			timer.Reset(idle)
			u.samples += len(audio) / 2
			if time.Duration(u.samples)*time.Second/time.Duration(u.l.Rate) > limit {
				return status.Errorf(codes.OutOfRange, "Exceeded maximum allowed stream duration of %d seconds.", int(limit.Seconds()))
			}
			done, err := u.audio(vendorkit.DecodePCM(audio), onSpeech)
			if err != nil || done {
				return err
			}
		}
	}
}

func (u *utterance) send(r *speechpb.StreamingRecognizeResponse) error { return u.call.Send(r) }

func (u *utterance) event(t speechpb.StreamingRecognizeResponse_SpeechEventType, at time.Duration) error {
	return u.send(&speechpb.StreamingRecognizeResponse{SpeechEventType: t, SpeechEventTime: durationpb.New(at)})
}

// audio advances the listener; it returns done when the single utterance is over.
func (u *utterance) audio(pcm []int16, onSpeech func()) (bool, error) {
	for _, ev := range u.l.Feed(pcm) {
		switch ev {
		case vendorkit.SpeechBegin:
			start, _ := u.l.Span()
			if u.sc.GetEnableVoiceActivityEvents() {
				if err := u.event(speechpb.StreamingRecognizeResponse_SPEECH_ACTIVITY_BEGIN, start); err != nil {
					return false, err
				}
			}
			onSpeech()
		case vendorkit.SpeechEnd:
			_, end := u.l.Span()
			if u.sc.GetEnableVoiceActivityEvents() {
				if err := u.event(speechpb.StreamingRecognizeResponse_SPEECH_ACTIVITY_END, end); err != nil {
					return false, err
				}
			}
			if u.sc.GetSingleUtterance() {
				if err := u.event(speechpb.StreamingRecognizeResponse_END_OF_SINGLE_UTTERANCE, u.l.Now()); err != nil {
					return false, err
				}
				return true, u.final()
			}
		}
	}
	if !u.sc.GetInterimResults() || !u.l.Heard() {
		return false, nil
	}
	if p := u.l.Partial(u.script.Transcript); p != "" && p != u.partial {
		u.partial = p
		return false, u.send(&speechpb.StreamingRecognizeResponse{Results: []*speechpb.StreamingRecognitionResult{{
			Alternatives:  []*speechpb.SpeechRecognitionAlternative{{Transcript: p}},
			Stability:     0.8,
			ResultEndTime: durationpb.New(u.l.Now()),
		}}})
	}
	return false, nil
}

// final sends the is_final result for what was heard (nothing if there was no speech).
func (u *utterance) final() error {
	billed := durationpb.New(time.Duration(u.samples) * time.Second / time.Duration(u.l.Rate))
	if !u.l.Heard() || u.script.Transcript == "" {
		return u.send(&speechpb.StreamingRecognizeResponse{TotalBilledTime: billed})
	}
	c := u.sc.GetConfig()
	texts := append([]string{u.script.Transcript}, u.script.Alternatives...)
	n := max(int(c.GetMaxAlternatives()), 1)
	var alts []*speechpb.SpeechRecognitionAlternative
	for i, t := range texts[:min(n, len(texts))] {
		a := &speechpb.SpeechRecognitionAlternative{Transcript: t}
		if i == 0 {
			a.Confidence = float32(u.script.Conf()) // Google sets confidence on the top alternative only
		}
		if c.GetEnableWordTimeOffsets() {
			for _, w := range u.l.Words(t) {
				wi := &speechpb.WordInfo{Word: w.Word, StartTime: durationpb.New(w.Start), EndTime: durationpb.New(w.End)}
				if c.GetEnableWordConfidence() {
					wi.Confidence = float32(u.script.Conf())
				}
				a.Words = append(a.Words, wi)
			}
		}
		alts = append(alts, a)
	}
	return u.send(&speechpb.StreamingRecognizeResponse{
		Results: []*speechpb.StreamingRecognitionResult{{Alternatives: alts, IsFinal: true,
			ResultEndTime: durationpb.New(u.l.Now()), LanguageCode: c.GetLanguageCode()}},
		TotalBilledTime: billed,
	})
}

// trackingListener remembers its connections so that FailDrop can cut them as a network would.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = true
	l.mu.Unlock()
	return c, nil
}

func (l *trackingListener) cutAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, not a polite close
		}
		c.Close()
		delete(l.conns, c)
	}
}

// PluginSettings are the google plugin's settings (engines.plugins[].settings) that point it at a
// stand-in's endpoint.
func PluginSettings(endpoint string) map[string]string {
	return map[string]string{"endpoint": endpoint, "insecure": "true"}
}
