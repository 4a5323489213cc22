package client

import (
	"github.com/google/uuid"

	"github.com/mrcpd/mrcpd/mrcp"
)

// The requests below are shaped as FreeSWITCH's mod_unimrcp sends them, so that a run of this
// client (one request or a load test) measures what a server's real callers get.

// DefineGrammarMessage is a DEFINE-GRAMMAR (RFC 6787 §9.8) of body under a fresh Content-Id, and
// the session: URI a RECOGNIZE names it by.
func (s *Session) DefineGrammarMessage(contentType string, body []byte) (*mrcp.Message, string) {
	id := uuid.NewString()
	def := s.NewRequest(mrcp.MethodDefineGrammar)
	def.Header.Set(mrcp.HeaderContentType, contentType)
	def.Header.Set(mrcp.HeaderContentID, id)
	def.Body = body
	return def, "session:" + id
}

// RecognizeMessage is a RECOGNIZE (§9.9) of the grammar uri with mod_unimrcp's header fields,
// which extra overrides or adds to.
func (s *Session) RecognizeMessage(uri string, extra []mrcp.Field) *mrcp.Message {
	req := s.NewRequest(mrcp.MethodRecognize)
	req.Header.Set(mrcp.HeaderContentType, "text/uri-list")
	req.Header.Set(mrcp.HeaderCancelIfQueue, "false")
	req.Header.Set(mrcp.HeaderStartInputTimers, "true")
	req.Header.Set(mrcp.HeaderNoInputTimeout, "8000")
	setAll(req, extra)
	req.Body = []byte(uri)
	return req
}

// SpeakMessage is a SPEAK (§8.4) of text: text/plain and Voice-Name default, as mod_unimrcp
// sends, unless contentType or voice is given; extra overrides or adds header fields.
func (s *Session) SpeakMessage(contentType, voice, text string, extra []mrcp.Field) *mrcp.Message {
	if contentType == "" {
		contentType = "text/plain"
	}
	if voice == "" {
		voice = "default"
	}
	req := s.NewRequest(mrcp.MethodSpeak)
	req.Header.Set(mrcp.HeaderContentType, contentType)
	req.Header.Set(mrcp.HeaderVoiceName, voice)
	setAll(req, extra)
	req.Body = []byte(text)
	return req
}

func setAll(m *mrcp.Message, fields []mrcp.Field) {
	for _, f := range fields {
		m.Header.Set(f.Name, f.Value)
	}
}
