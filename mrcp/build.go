package mrcp

// NewRequest returns a request (§5.2) on channel channelID ("<id>@<resource>", §6.2.1).
func NewRequest(method string, id uint32, channelID string) *Message {
	a := &msgAlloc{}
	a.m = Message{Kind: KindRequest, Name: method, RequestID: id}
	a.m.Header.Fields = append(a.f[:0], Field{Name: HeaderChannelIdentifier, Value: channelID})
	return &a.m
}

// NewResponse returns the response (§5.3) to request m, on the same channel and request-id.
func (m *Message) NewResponse(code int, state RequestState) *Message {
	a := &msgAlloc{}
	a.m = Message{Kind: KindResponse, RequestID: m.RequestID, StatusCode: code, State: state}
	a.m.Header.Fields = append(a.f[:0], Field{Name: HeaderChannelIdentifier, Value: m.ChannelID()})
	return &a.m
}

// NewEvent returns an event (§5.5) for request id on channel channelID.
func NewEvent(name string, id uint32, state RequestState, channelID string) *Message {
	a := &msgAlloc{}
	a.m = Message{Kind: KindEvent, Name: name, RequestID: id, State: state}
	a.m.Header.Fields = append(a.f[:0], Field{Name: HeaderChannelIdentifier, Value: channelID})
	return &a.m
}

// ChannelID is the Channel-Identifier header (§6.2.1), "" when absent.
func (m *Message) ChannelID() string { return m.Header.Value(HeaderChannelIdentifier) }

// Resource is the resource part of the Channel-Identifier ("speechrecog" of "32AECB23433801@speechrecog").
func (m *Message) Resource() Resource {
	_, r, _ := SplitChannelID(m.ChannelID())
	return r
}

// SplitChannelID splits a Channel-Identifier into its session part and resource (§6.2.1).
func SplitChannelID(s string) (id string, r Resource, ok bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '@' {
			if i == 0 || i == len(s)-1 {
				return "", "", false
			}
			return s[:i], Resource(s[i+1:]), true
		}
	}
	return "", "", false
}
