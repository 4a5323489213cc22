package server

import (
	"log/slog"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/mrcp"
)

// resource is one resource state machine; every method runs on the session goroutine.
type resource interface {
	request(m *mrcp.Message) (*mrcp.Message, error)
	dtmf(d rune)
	// inputSince reports whether the resource consumes caller input, and since when.
	inputSince() (since time.Time, active bool)
	// stop ends everything in flight without sending events (the session is going away).
	stop()
}

// channel is one MRCP control channel "<id>@<resource>" of a session.
type channel struct {
	se       *session
	id       string
	resource string
	cmid     string
	tls      bool  // negotiated as TCP/TLS/MRCPv2
	conn     *conn // the connection that owns the channel: the first to use it (RFC 6787 §4.2)
	log      *slog.Logger
	res      resource
	audio    *endpoint
	lastID   uint32
	// params are the SET-PARAMS values of this channel (RFC 6787 §6.1), canonical name -> value.
	params map[string]string
}

func (ch *channel) bindMedia() {
	if ch.audio == nil {
		ch.audio = ch.se.mediaByMid(ch.cmid, -1)
	}
}

// input is the channel's receiving media stream, nil without one.
func (ch *channel) input() media.Stream {
	if ch.audio == nil || ch.audio.stream == nil || !ch.audio.receives() {
		return nil
	}
	return ch.audio.stream
}

func (ch *channel) send(m *mrcp.Message) {
	ch.se.srv.cfg.Metrics.message(ch.resource, m)
	ch.se.send(ch.conn, m)
}

// event builds an event on this channel.
func (ch *channel) event(name string, id uint32, state mrcp.RequestState) *mrcp.Message {
	return mrcp.NewEvent(name, id, state, ch.id)
}

// request validates m against RFC 6787 §5.4 and runs it: 401 for a method of another resource,
// 410 for a request-id that goes backwards, 403 for a header this resource does not know, then
// the resource's own checks (402 wrong state, 404 bad value, 406 missing header).
func (ch *channel) request(m *mrcp.Message) {
	resp, err := ch.validate(m)
	if err == nil {
		switch m.Name {
		case mrcp.MethodSetParams:
			resp, err = ch.setParams(m)
		case mrcp.MethodGetParams:
			resp, err = ch.getParams(m)
		default:
			resp, err = ch.res.request(m)
		}
	}
	if err != nil {
		resp = ch.failure(m, err)
	}
	if resp != nil {
		ch.send(resp)
	}
}

func (ch *channel) validate(m *mrcp.Message) (*mrcp.Message, error) {
	if !mrcp.MethodAllowed(mrcp.Resource(ch.resource), m.Name) {
		return nil, &mrcp.StatusError{Code: mrcp.Status401, Reason: m.Name + " is not a " + ch.resource + " method"}
	}
	if m.RequestID <= ch.lastID && ch.lastID != 0 {
		return nil, &mrcp.StatusError{Code: mrcp.Status410, Reason: "request-id not increasing"}
	}
	ch.lastID = m.RequestID
	// 403 for a header of another resource, 404 for a value of the wrong syntax; extension
	// headers pass and are ignored.
	return nil, m.Validate()
}

// failure turns err into the response to m, naming the offending header (§5.4).
func (ch *channel) failure(m *mrcp.Message, err error) *mrcp.Message {
	code, header := mrcp.StatusOf(err)
	ch.log.Info("request failed", "method", m.Name, "request-id", m.RequestID, "status", code, "err", err)
	return errorResponse(m, code, header, err.Error())
}

// setParams stores session defaults (RFC 6787 §6.1, §8.4, §9.4): later requests on this channel
// use them unless they carry the header themselves.
func (ch *channel) setParams(m *mrcp.Message) (*mrcp.Message, error) {
	if ch.params == nil {
		ch.params = map[string]string{}
	}
	staged := map[string]string{} // all or nothing: Validate has checked every value with the
	// parsers requests read it with, so a stored value is always one a request can run with
	for _, f := range m.Header.Fields {
		c := canonical(f.Name)
		if !settable(c) {
			continue
		}
		staged[c] = f.Value
		if old, ok := ch.params[c]; ok && c == mrcp.HeaderVendorSpecificParameters {
			// Pairs accumulate across SET-PARAMS (later ones win when read): a client setting
			// one vendor parameter does not lose the others.
			staged[c] = old + ";" + f.Value
		}
	}
	if err := ch.fits(staged); err != nil {
		return nil, err
	}
	for k, v := range staged {
		ch.params[k] = v
	}
	return m.NewResponse(mrcp.Status200, mrcp.StateComplete), nil
}

// getParams returns the asked-for parameters, or all set ones when none is named (§6.1).
func (ch *channel) getParams(m *mrcp.Message) (*mrcp.Message, error) {
	resp := m.NewResponse(mrcp.Status200, mrcp.StateComplete)
	asked := false
	for _, f := range m.Header.Fields {
		c := canonical(f.Name)
		if !settable(c) {
			continue
		}
		asked = true
		if v, ok := ch.params[c]; ok {
			resp.Header.Set(c, v)
		} else if v, ok := defaultParams[c]; ok {
			resp.Header.Set(c, v)
		}
	}
	if !asked {
		for _, k := range sortedKeys(ch.params) {
			resp.Header.Set(k, ch.params[k])
		}
	}
	return resp, nil
}

// param is the value in force for a request: its own header, else SET-PARAMS, else "".
func (ch *channel) param(m *mrcp.Message, name string) (string, bool) {
	if v, ok := m.Header.Get(name); ok {
		return v, true
	}
	v, ok := ch.params[name]
	return v, ok
}

func settable(name string) bool {
	switch name {
	case mrcp.HeaderChannelIdentifier, mrcp.HeaderContentType, mrcp.HeaderContentLength,
		mrcp.HeaderContentID, mrcp.HeaderContentBase, mrcp.HeaderContentEncoding,
		mrcp.HeaderContentLocation, mrcp.HeaderActiveRequestIDList, mrcp.HeaderCompletionCause,
		mrcp.HeaderCompletionReason, mrcp.HeaderProxySyncID:
		return false
	}
	return true
}

// canonical maps a header name to the form of the mrcp constants ("no-input-timeout" ->
// "No-Input-Timeout"), so that maps can be keyed by it.
func canonical(name string) string {
	if spec, ok := mrcp.LookupHeader(name); ok {
		return spec.Name
	}
	return name
}

func equalName(a, b string) bool { return strings.EqualFold(a, b) }
