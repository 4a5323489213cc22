package sdp

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

var update = flag.Bool("update", false, "rewrite testdata/answers golden files")

// supported mirrors what mrcpd's media package offers; the test must not depend on it.
var supported = []Format{
	{PT: 0, Name: "PCMU", ClockRate: 8000, Channels: 1},
	{PT: 8, Name: "PCMA", ClockRate: 8000, Channels: 1},
	{PT: 96, Name: "L16", ClockRate: 8000, Channels: 1},
	{PT: 101, Name: "telephone-event", ClockRate: 8000, Channels: 1},
}

// splitSIP returns the lower-cased header map and the body of a captured SIP message.
func splitSIP(t *testing.T, b []byte) (map[string]string, []byte) {
	t.Helper()
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("no header/body separator")
	}
	h := map[string]string{}
	for _, l := range strings.Split(string(head), "\r\n")[1:] {
		k, v, _ := strings.Cut(l, ":")
		h[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	return h, body
}

// answerFor answers o the way the server does, with the given ports and channel.
func answerFor(t *testing.T, o *Offer, ctlPort, audioPort int, channel string) *Answer {
	t.Helper()
	a := &Answer{SessionID: 1, Version: 1, Addr: "127.0.0.1"}
	for range o.Control {
		a.Control = append(a.Control, AnswerControl{Port: ctlPort, Channel: channel})
	}
	for _, au := range o.Audio {
		codec, te, err := NegotiateAudio(au, supported)
		if err != nil {
			t.Fatalf("NegotiateAudio: %v", err)
		}
		a.Audio = append(a.Audio, AnswerAudio{Port: audioPort, Format: codec, TelephoneEvent: te})
	}
	return a
}

var (
	reAppPort   = regexp.MustCompile(`(?m)^m=application (\d+) `)
	reAudioPort = regexp.MustCompile(`(?m)^m=audio (\d+) `)
	reChannel   = regexp.MustCompile(`(?m)^a=channel:(\S+)\r$`)
)

func submatchInt(t *testing.T, re *regexp.Regexp, b []byte) int {
	t.Helper()
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s not found in\n%s", re, b)
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// withoutOrigin drops the o= line: its username, ids and host address are the server's own.
func withoutOrigin(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\r\n"), "\r\n") {
		if !strings.HasPrefix(l, "o=") {
			out = append(out, l)
		}
	}
	return out
}

// TestGoldenAnswers answers every INVITE captured from real clients and compares the SDP line
// by line with UniMRCP 1.8's answer to the same INVITE (ports and channel id taken from it), or
// with our golden file where the capture has no reference answer.
func TestGoldenAnswers(t *testing.T) {
	dir := mrcptest.Fixtures(t)
	refs := map[string][]byte{} // Call-ID -> reference answer SDP
	refFiles, _ := filepath.Glob(filepath.Join(dir, "unimrcp-server-1.8", "*.sip"))
	for _, f := range refFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		h, body := splitSIP(t, b)
		refs[h["call-id"]] = body
	}
	if len(refs) < 3 {
		t.Fatalf("found %d reference answers, want >= 3", len(refs))
	}
	invites, _ := filepath.Glob(filepath.Join(dir, "*", "*INVITE*.sip"))
	if len(invites) < 5 {
		t.Fatalf("found %d INVITE fixtures, want >= 5", len(invites))
	}
	compared := 0
	for _, f := range invites {
		name := filepath.Base(filepath.Dir(f)) + "_" + strings.TrimSuffix(filepath.Base(f), ".sip")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h, body := splitSIP(t, b)
			o, err := ParseOffer(body)
			if err != nil {
				t.Fatalf("ParseOffer: %v", err)
			}
			if got := o.Audio[0].ConnAddr; got != "127.0.0.1" {
				t.Errorf("media address %q, want the c= address 127.0.0.1 (not the o= one)", got)
			}
			golden := filepath.Join("testdata", "answers", name+".sdp")
			ref, haveRef := refs[h["call-id"]]
			if !haveRef && !*update {
				if ref, err = os.ReadFile(golden); err != nil {
					t.Fatalf("no reference answer: %v (run with -update)", err)
				}
			}
			ctl, aud, ch := 1544, 5000, "0123456789abcdef@"+o.Control[0].Resource
			if ref != nil {
				ctl, aud = submatchInt(t, reAppPort, ref), submatchInt(t, reAudioPort, ref)
				ch = string(reChannel.FindSubmatch(ref)[1])
			}
			got, err := BuildAnswer(o, answerFor(t, o, ctl, aud, ch))
			if err != nil {
				t.Fatalf("BuildAnswer: %v", err)
			}
			if !haveRef && *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, have := withoutOrigin(ref), withoutOrigin(got)
			if strings.Join(want, "\n") != strings.Join(have, "\n") {
				t.Errorf("answer differs from reference\n--- got\n%s\n--- want\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
			}
			if !bytes.HasPrefix(got, []byte("v=0\r\no=mrcpd 1 1 IN IP4 127.0.0.1\r\n")) {
				t.Errorf("answer does not start with v= and our o= line:\n%s", got)
			}
			compared++
		})
	}
	if !*update && compared != len(invites) {
		t.Errorf("compared %d of %d INVITEs", compared, len(invites))
	}
}
