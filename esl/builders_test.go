package esl_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/mrcpd/mrcpd/mrcp/nlsml"
)

func TestOriginateCommand(t *testing.T) {
	tests := []struct {
		name string
		req  esl.OriginateRequest
		want string
		err  error
	}{
		{"plain", esl.OriginateRequest{UUID: "u1", Dial: "sofia/gateway/pstn/15551234"},
			"{origination_uuid=u1}sofia/gateway/pstn/15551234 &park()", nil},
		{"timeout and caller id escaped", esl.OriginateRequest{UUID: "u1", Dial: "loopback/9999/default",
			Timeout: 1500 * time.Millisecond, CallerIDName: "Acme, Inc", CallerIDNumber: "100"},
			"{originate_timeout=2,origination_caller_id_name='Acme\\, Inc',origination_caller_id_number=100,origination_uuid=u1}loopback/9999/default &park()", nil},
		{"leg vars and app", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", LegVars: map[string]string{"leg_timeout": "10"},
			App: "9999 XML default"}, "{origination_uuid=u1}[leg_timeout=10]user/1000 9999 XML default", nil},
		{"quote in value", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", Vars: map[string]string{"x": "O'Brien"}}, "", esl.ErrInvalidValue},
		{"brace in value", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", Vars: map[string]string{"x": "a}b"}}, "", esl.ErrInvalidValue},
		{"newline in value", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", Vars: map[string]string{"x": "a\nbgapi"}}, "", esl.ErrInvalidValue},
		{"bad var name", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", Vars: map[string]string{"a=b": "c"}}, "", esl.ErrInvalidValue},
		{"space in dial", esl.OriginateRequest{UUID: "u1", Dial: "user/1000 &hangup()"}, "", esl.ErrInvalidValue},
		{"bad app", esl.OriginateRequest{UUID: "u1", Dial: "user/1000", App: "&system(rm -rf /)\n"}, "", esl.ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.req.Command()
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestValidateDigits(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"1234#", "1234#", true},
		{"*9wW12abcd", "*9wW12ABCD", true},
		{"", "", false},
		{"12e", "", false},
		{"1 2", "", false},
		{strings.Repeat("1", 99), strings.Repeat("1", 99), true},
		{strings.Repeat("1", 100), "", false},
	}
	for _, tt := range tests {
		got, err := esl.ValidateDigits(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ValidateDigits(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, esl.ErrInvalidDigits) {
			t.Errorf("error %v does not wrap ErrInvalidDigits", err)
		}
	}
}

// TestSendDTMFPausesInGo: "12w3W4" sends 12, waits 0.5 s on our clock, sends 3,
// waits 1 s, sends 4; the channel never sees a 'w'.
func TestSendDTMFPausesInGo(t *testing.T) {
	s := startFake(t, esltest.Options{})
	c := dial(t, s, nil)
	ctx := testCtx(t)
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer call.Release()
	clk := clock.NewFake()
	done := make(chan error, 1)
	go func() {
		done <- call.SendDTMF(ctx, esl.DTMFRequest{Digits: "12w3W4", Duration: 80 * time.Millisecond}, clk)
	}()
	clk.Await(t, "first pause", func(c *clock.Fake) bool { return c.Pending() == 1 })
	clk.Advance(499 * time.Millisecond)
	if clk.Pending() != 1 {
		t.Fatal("pause ended early")
	}
	clk.Advance(time.Millisecond)
	clk.Await(t, "second pause", func(c *clock.Fake) bool { return c.Pending() == 1 })
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep, _ := s.Channel(call.UUID)
	var args []string
	for _, a := range rep.Apps {
		args = append(args, a.App+" "+a.Arg)
	}
	if got := strings.Join(args, ","); got != "send_dtmf 12@80,send_dtmf 3@80,send_dtmf 4@80" {
		t.Fatalf("apps %s", got)
	}
	if err := call.SendDTMF(ctx, esl.DTMFRequest{Digits: "1", Duration: 10 * time.Millisecond}, clk); !errors.Is(err, esl.ErrInvalidDigits) {
		t.Fatalf("short duration: %v", err)
	}
}

func TestParseNLSML(t *testing.T) {
	raw, err := os.ReadFile("testdata/RECOGNITION-COMPLETE-nlsml.mrcp")
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw[strings.Index(string(raw), "<?xml"):])
	rec, err := esl.ParseNLSML(body)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Matched() || rec.Text() != "one" || rec.Interpretations[0].Confidence != 0.97 ||
		rec.Interpretations[0].Grammar != "session:request1@form-level.store" {
		t.Fatalf("%+v", rec)
	}
	for _, tc := range []struct{ in, cause string }{
		{"<result><interpretation><input><noinput/></input></interpretation></result>", "no-input"},
		{"<result><interpretation><input><nomatch/></input></interpretation></result>", "no-match"},
		{"Completion-Cause: 002 no-input-timeout", "002 no-input-timeout"},
		{"", "no result"},
	} {
		rec, err := esl.ParseNLSML(tc.in)
		if err != nil || rec.Matched() || rec.Cause != tc.cause {
			t.Errorf("%q: %+v %v", tc.in, rec, err)
		}
	}
	if _, err := esl.ParseNLSML("<result><interpretation>"); err == nil {
		t.Error("truncated NLSML accepted")
	}
	for _, bad := range []string{`<result><interpretation confidence="high"><input>x</input></interpretation></result>`,
		`<nlsml><interpretation><input>x</input></interpretation></nlsml>`} {
		if _, err := esl.ParseNLSML(bad); !errors.Is(err, nlsml.ErrNotNLSML) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestParseNLSMLSISRAndOrder: an SISR object instance (issue 11's billing
// grammar) becomes its text for branch matching; 0-100 confidences are
// scaled; interpretations come best first; DTMF input stays as written.
func TestParseNLSMLSISRAndOrder(t *testing.T) {
	rec, err := esl.ParseNLSML(`<?xml version="1.0"?>
<result>
  <interpretation grammar="session:a" confidence="40">
    <instance><department>sales &amp; support</department></instance>
    <input mode="speech">sales</input>
  </interpretation>
  <interpretation grammar="session:b" confidence="0.9">
    <instance>R&amp;D</instance>
    <input mode="dtmf">1 2</input>
  </interpretation>
</result>`)
	if err != nil {
		t.Fatal(err)
	}
	got := rec.Interpretations
	if len(got) != 2 || got[0].Grammar != "session:b" || got[0].Instance != "R&D" || got[0].Input != "1 2" ||
		got[0].Mode != "dtmf" || got[1].Confidence != 0.4 || got[1].Instance != "sales & support" {
		t.Fatalf("%+v", got)
	}
}

func TestDetectArg(t *testing.T) {
	arg, err := esl.DetectRequest{Prompt: "ivr/welcome.wav", Profile: "mrcpd", Grammar: "builtin:grammar/boolean",
		Params: map[string]string{"start-input-timers": "true", "no-input-timeout": "8000"}}.Arg()
	want := "ivr/welcome.wav detect:unimrcp:mrcpd {no-input-timeout=8000,start-input-timers=true}builtin:grammar/boolean"
	if err != nil || arg != want {
		t.Fatalf("got %q %v", arg, err)
	}
	if _, err := (esl.DetectRequest{Profile: "a b", Grammar: "g"}).Arg(); !errors.Is(err, esl.ErrInvalidValue) {
		t.Fatalf("bad profile accepted: %v", err)
	}
}

func TestSilenceWatchArg(t *testing.T) {
	w := esl.SilenceWatch{Path: "/tmp/p.wav", Silence: time.Second, NoInput: 8 * time.Second, Threshold: 200,
		Limit: 29500 * time.Millisecond}
	arg, err := w.Arg()
	want := "/tmp/p.wav +30 {RECORD_READ_ONLY=true,RECORD_INITIAL_TIMEOUT_MS=8000,RECORD_FINAL_TIMEOUT_MS=1000," +
		"RECORD_SILENCE_THRESHOLD=200,RECORD_MIN_SEC=31}"
	if err != nil || arg != want {
		t.Fatalf("got %q %v\nwant %q", arg, err, want)
	}
	for _, bad := range []func(*esl.SilenceWatch){
		func(w *esl.SilenceWatch) { w.Path = "/tmp/a b.wav" },
		func(w *esl.SilenceWatch) { w.Path = "/tmp/{x}.wav" },
		func(w *esl.SilenceWatch) { w.Silence = 0 },
		func(w *esl.SilenceWatch) { w.Threshold = 0 },
		func(w *esl.SilenceWatch) { w.Limit = 500 * time.Millisecond },
	} {
		b := w
		bad(&b)
		if _, err := b.Arg(); !errors.Is(err, esl.ErrInvalidValue) {
			t.Errorf("%+v accepted: %v", b, err)
		}
	}
}

// TestOutboundSession plays FreeSWITCH's side of the socket application:
// connect, myevents, linger, events, then a lingering disconnect notice.
func TestOutboundSession(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	got := make(chan string, 4)
	srv := &esl.OutboundServer{Handler: func(ctx context.Context, s *esl.OutboundSession) {
		got <- s.Channel.Var("caller_id_name")
		if err := s.Call.Answer(ctx); err != nil {
			got <- "answer: " + err.Error()
			return
		}
		ev := nextNamed(t, ctx, s.Call, esl.EventChannelHangupComplete)
		got <- ev.HangupCause()
	}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(ctx, ln)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	var cmds []string
	read := func() *esltest.Command {
		c, err := esltest.ReadCommand(br)
		if err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c.Line)
		return c
	}
	read() // connect
	_, _ = nc.Write([]byte("Content-Type: command/reply\nReply-Text: +OK\nUnique-ID: out-1\nvariable_caller_id_name: Jane%20Doe\n\n"))
	read() // myevents
	_, _ = nc.Write(esltest.Reply("+OK Events Enabled"))
	read() // linger
	_, _ = nc.Write(esltest.Reply("+OK will linger"))
	ex := read()
	_, _ = nc.Write(esltest.Reply("+OK"))
	ch := []esl.Header{{Name: "Unique-ID", Value: "out-1"}}
	_, _ = nc.Write(esltest.EncodePlainEvent(append([]esl.Header{{Name: "Event-Name", Value: "CHANNEL_EXECUTE_COMPLETE"},
		{Name: "Application-UUID", Value: ex.Get("Event-UUID")}}, ch...), ""))
	_, _ = nc.Write([]byte("Content-Type: text/disconnect-notice\nController-Type: outbound\nContent-Disposition: linger\nContent-Length: 0\n\n"))
	_, _ = nc.Write(esltest.EncodePlainEvent(append([]esl.Header{{Name: "Event-Name", Value: "CHANNEL_HANGUP_COMPLETE"},
		{Name: "Hangup-Cause", Value: "NORMAL_CLEARING"}}, ch...), ""))
	read() // exit
	_, _ = nc.Write(esltest.Reply("+OK bye"))
	_ = nc.Close()
	for _, want := range []string{"Jane Doe", "NORMAL_CLEARING"} {
		if g := <-got; g != want {
			t.Fatalf("got %q want %q", g, want)
		}
	}
	cancel()
	wg.Wait()
	if strings.Join(cmds, ",") != "connect,myevents plain,linger,sendmsg out-1,exit" {
		t.Fatalf("commands %v", cmds)
	}
}
