package esl_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/esltest"
)

func transcriptMessage(b *testing.B, contentType, contains string) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/inbound-session-transcript.txt")
	if err != nil {
		b.Fatal(err)
	}
	tr, err := esltest.ParseTranscript(data)
	if err != nil {
		b.Fatal(err)
	}
	all := tr.ServerBytes()
	br := bufio.NewReader(bytes.NewReader(all))
	for {
		m, err := esl.ReadMessage(br)
		if err != nil {
			b.Fatalf("no %s with %q", contentType, contains)
		}
		if m.ContentType() == contentType && strings.Contains(string(m.Body), contains) {
			return reframe(m)
		}
	}
}

func reframe(m *esl.Message) []byte { return m.Encode() }

// BenchmarkReadPlainEvent: the socket reader's cost per CHANNEL_EXECUTE_COMPLETE
// (2.8 kB, ~70 headers, percent-encoded) from the real transcript.
func BenchmarkReadPlainEvent(b *testing.B) {
	benchReadEvent(b, esl.TypeEventPlain, "CHANNEL_EXECUTE_COMPLETE")
}

func BenchmarkReadJSONEvent(b *testing.B) {
	benchReadEvent(b, esl.TypeEventJSON, "CHANNEL_HANGUP")
}

// benchReadEvent reads and parses one event of the real transcript, as the socket reader does.
func benchReadEvent(b *testing.B, typ, name string) {
	msg := transcriptMessage(b, typ, name)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	r := bytes.NewReader(msg)
	br := bufio.NewReader(r)
	for b.Loop() {
		r.Reset(msg)
		br.Reset(r)
		m, err := esl.ReadMessage(br)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := esl.ParseEvent(m.ContentType(), m.Body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecuteRoundTrip: one application on a call through the fake over
// loopback TCP: sendmsg, reply, CHANNEL_EXECUTE, CHANNEL_EXECUTE_COMPLETE.
func BenchmarkExecuteRoundTrip(b *testing.B) {
	s, err := esltest.Start(esltest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c, err := esl.Dial(ctx, esl.Config{Addr: s.Addr(), Password: "ClueCon", HeartbeatInterval: -1, MailboxSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	call, err := c.Originate(ctx, esl.OriginateRequest{Dial: "loopback/1/default"})
	if err != nil {
		b.Fatal(err)
	}
	defer call.Release()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := call.Execute(ctx, "playback", "silence_stream://20"); err != nil {
			b.Fatal(err)
		}
		for call.Poll() != nil {
		}
	}
}
