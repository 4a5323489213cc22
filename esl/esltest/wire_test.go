package esltest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/esl"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const transcriptPath = "testdata/inbound-session-transcript.txt"

func loadTranscript(t *testing.T) *Transcript {
	t.Helper()
	data, err := os.ReadFile(transcriptPath)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	tr, err := ParseTranscript(data)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParseTranscript(t *testing.T) {
	tr := loadTranscript(t)
	want := []string{
		"auth ClueCon",
		"event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CHANNEL_EXECUTE_COMPLETE BACKGROUND_JOB",
		"api status",
		"bgapi originate {origination_uuid=esl-fixture-a}loopback/9999/default &park()",
		"api uuid_send_dtmf esl-fixture-a 12#@100",
		"api uuid_kill esl-fixture-a",
		"event json CHANNEL_ANSWER CHANNEL_HANGUP DTMF",
		"noevents",
		"event json CHANNEL_ANSWER CHANNEL_HANGUP DTMF BACKGROUND_JOB",
		"bgapi originate {origination_uuid=esl-fixture-b}loopback/9999/default &park()",
		"api uuid_kill esl-fixture-b",
		"api no_such_command",
		"exit",
	}
	if len(tr.Steps) != len(want) {
		t.Fatalf("got %d steps, want %d", len(tr.Steps), len(want))
	}
	for i, s := range tr.Steps {
		if s.Command != want[i] {
			t.Errorf("step %d: %q, want %q", i, s.Command, want[i])
		}
	}
}

// TestReplayGolden sends the client's recorded commands to the replaying fake
// and compares every byte it sends with what FreeSWITCH 1.10.12 sent.
func TestReplayGolden(t *testing.T) {
	tr := loadTranscript(t)
	r, err := StartReplay(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(nc)
		got <- b
	}()
	for _, s := range tr.Steps {
		if _, err := io.WriteString(nc, s.Command+"\n\n"); err != nil {
			t.Fatal(err)
		}
	}
	b := <-got
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if want := tr.ServerBytes(); !bytes.Equal(b, want) {
		t.Fatalf("replayed bytes differ at offset %d", firstDiff(b, want))
	}
}

// TestEncodersMatchTranscript parses every message FreeSWITCH sent and
// re-encodes it with the fake's encoders; the bytes must be identical, which
// pins the framing, header order, percent-encoding and JSON layout the fake
// uses for its simulated calls.
func TestEncodersMatchTranscript(t *testing.T) {
	want := loadTranscript(t).ServerBytes()
	br := bufio.NewReader(bytes.NewReader(want))
	var got bytes.Buffer
	n := 0
	for {
		m, err := esl.ReadMessage(br)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		n++
		before := got.Len()
		got.Write(reencode(t, m))
		if !bytes.Equal(got.Bytes(), want[:got.Len()]) {
			t.Fatalf("message %d (%s) re-encodes differently at offset %d", n, m.ContentType(),
				before+firstDiff(got.Bytes()[before:], want[before:]))
		}
	}
	if n < 30 || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("re-encoded %d messages, %d of %d bytes", n, got.Len(), len(want))
	}
}

func reencode(t *testing.T, m *esl.Message) []byte {
	switch m.ContentType() {
	case esl.TypeAuthRequest:
		return AuthRequest()
	case esl.TypeReply:
		var extra []esl.Header
		for _, h := range m.Headers[2:] {
			extra = append(extra, h)
		}
		return Reply(m.Get("Reply-Text"), extra...)
	case esl.TypeAPIResponse:
		return APIResponse(string(m.Body))
	case esl.TypeDisconnect:
		return DisconnectNotice()
	case esl.TypeEventPlain:
		inner, err := esl.ReadMessage(bufio.NewReader(bytes.NewReader(m.Body)))
		if err != nil {
			t.Fatal(err)
		}
		var hs []esl.Header
		for _, h := range inner.Headers {
			if h.Name != "Content-Length" {
				hs = append(hs, esl.Header{Name: h.Name, Value: esl.URLDecode(h.Value)})
			}
		}
		return EncodePlainEvent(hs, string(inner.Body))
	case esl.TypeEventJSON:
		hs, body, err := DecodeJSONHeaders(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		return EncodeJSONEvent(hs, body)
	}
	t.Fatalf("unexpected content type %q", m.ContentType())
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range a {
		if i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return len(a)
}

// TestFakeSessionMatchesTranscriptShape runs the recorded command script
// against the simulating fake (not the replay) and checks it answers each
// command with the same kinds of messages FreeSWITCH did.
func TestFakeSessionMatchesTranscriptShape(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	expect := func(ct, text string) *esl.Message {
		t.Helper()
		for {
			m, err := esl.ReadMessage(br)
			if err != nil {
				t.Fatalf("waiting for %s %q: %v", ct, text, err)
			}
			if m.ContentType() == ct && strings.Contains(m.ReplyText()+string(m.Body), text) {
				return m
			}
		}
	}
	send := func(cmd string) { _, _ = io.WriteString(nc, cmd+"\n\n") }
	expect(esl.TypeAuthRequest, "")
	send("auth ClueCon")
	expect(esl.TypeReply, "+OK accepted")
	send("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF CHANNEL_EXECUTE_COMPLETE BACKGROUND_JOB")
	expect(esl.TypeReply, "+OK event listener enabled plain")
	send("api status")
	expect(esl.TypeAPIResponse, "is ready")
	send("bgapi originate {origination_uuid=esl-fixture-a}loopback/9999/default &park()")
	job := expect(esl.TypeReply, "+OK Job-UUID: ").Get("Job-UUID")
	ev := expect(esl.TypeEventPlain, "Event-Name: BACKGROUND_JOB")
	e, err := esl.ParseEvent(esl.TypeEventPlain, ev.Body)
	if err != nil || e.Get("Job-UUID") != job || e.Body != "+OK esl-fixture-a\n" {
		t.Fatalf("BACKGROUND_JOB %v %+v", err, e)
	}
	send("api uuid_send_dtmf esl-fixture-a 12#@100")
	expect(esl.TypeAPIResponse, "+OK esl-fixture-a sent DTMF 12#@100.")
	send("api uuid_kill esl-fixture-a")
	expect(esl.TypeAPIResponse, "+OK")
	expect(esl.TypeEventPlain, "CHANNEL_HANGUP_COMPLETE")
	send("event json CHANNEL_ANSWER CHANNEL_HANGUP DTMF")
	expect(esl.TypeReply, "+OK event listener enabled json")
	send("noevents")
	expect(esl.TypeReply, "+OK no longer listening for events")
	send("api no_such_command")
	m := expect(esl.TypeAPIResponse, "-ERR")
	if string(m.Body) != "-ERR no_such_command Command not found!\n" {
		t.Fatalf("unknown api: %q", m.Body)
	}
	send("exit")
	expect(esl.TypeReply, "+OK bye")
	expect(esl.TypeDisconnect, "")
}
