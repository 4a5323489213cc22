package esl_test

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/mrcpd/mrcpd/esl"
)

// FuzzReadMessage feeds arbitrary bytes to the socket reader's parser: framing,
// Content-Length bodies, plain and JSON events. It must never panic or hang,
// and whatever parses must be internally consistent. Seeds in
// testdata/fuzz/FuzzReadMessage are messages from the FreeSWITCH transcript.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte("Content-Type: auth/request\n\n"))
	f.Add([]byte("Content-Type: api/response\nContent-Length: 4\n\n+OK\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		for i := 0; i < 64; i++ {
			m, err := esl.ReadMessage(br)
			if err != nil {
				return
			}
			if len(m.Headers) == 0 {
				t.Fatal("message without headers")
			}
			switch ct := m.ContentType(); ct {
			case esl.TypeEventPlain, esl.TypeEventJSON:
				ev, err := esl.ParseEvent(ct, m.Body)
				if err != nil {
					continue
				}
				if ev.Name == "" {
					t.Fatal("event without name parsed")
				}
			}
		}
	})
}

// FuzzParseNLSML: detect_speech_result comes from the network via mod_unimrcp.
func FuzzParseNLSML(f *testing.F) {
	f.Add(`<?xml version="1.0"?><result><interpretation grammar="g" confidence="0.9"><instance>yes</instance><input mode="speech">yes</input></interpretation></result>`)
	f.Add("Completion-Cause: 002 no-input-timeout")
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := esl.ParseNLSML(s)
		if err == nil && rec.Matched() && rec.Cause != "" && len(rec.Interpretations) == 0 {
			t.Fatal("inconsistent recognition")
		}
	})
}
