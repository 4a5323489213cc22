package sip

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// allowed is our Allow header: what mrcpd handles (RFC 3261 §20.5).
const allowed = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"

// minSE is the Min-SE we announce (RFC 4028 §5, the minimum it allows is 90 s; UniMRCP uses 120).
const minSE = 120 * time.Second

// warningHeader is a Warning with code 399 (miscellaneous, RFC 3261 §20.43) and our agent name.
func warningHeader(text string) sip.Header {
	text = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return '\''
		}
		return r
	}, text)
	return sip.NewHeader("Warning", `399 mrcpd "`+text+`"`)
}

// sessionTimer is the negotiated RFC 4028 session timer of a dialog; zero interval: none.
type sessionTimer struct {
	interval time.Duration
}

// negotiateTimer applies RFC 4028 §9 to a request: the smaller of the client's Session-Expires
// and ours, refresher=uac. A request below our Min-SE gets 422 (§9); a client that does not
// support timers gets none (we never refresh: the client does, so it must know the timer).
func negotiateTimer(req *sip.Request, ours time.Duration) (sessionTimer, error) {
	if ours <= 0 || !supportsTimer(req) {
		return sessionTimer{}, nil
	}
	floor := min(minSE, ours)
	se := ours
	if h := req.GetHeader("Session-Expires"); h != nil {
		v, _, _ := strings.Cut(h.Value(), ";")
		secs, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return sessionTimer{}, &StatusError{Code: 400, Warning: "bad Session-Expires " + strconv.Quote(h.Value())}
		}
		asked := time.Duration(secs) * time.Second
		if asked < floor {
			return sessionTimer{}, &StatusError{Code: 422, Warning: "Session-Expires below Min-SE"}
		}
		se = min(se, asked)
	}
	return sessionTimer{interval: se}, nil
}

func supportsTimer(req *sip.Request) bool {
	for _, name := range []string{"Supported", "Require", "k"} {
		for _, h := range req.GetHeaders(name) {
			for _, opt := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "timer") {
					return true
				}
			}
		}
	}
	return false
}

// addTimerHeaders adds the session timer headers the reference server sends (RFC 4028 §9).
func (st sessionTimer) addTimerHeaders(res *sip.Response, ours time.Duration) {
	res.AppendHeader(sip.NewHeader("Require", "timer"))
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(st.interval/time.Second))+";refresher=uac"))
	res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(min(minSE, ours)/time.Second))))
}

// expiry is when the UAS gives up on a refresh: RFC 4028 §10, the interval minus the smaller of
// 32 s and a third of it.
func (st sessionTimer) expiry() time.Duration {
	return st.interval - min(32*time.Second, st.interval/3)
}

func fromTag(req *sip.Request) string {
	if f := req.From(); f != nil {
		t, _ := f.Params.Get("tag")
		return t
	}
	return ""
}

func toTag(req *sip.Request) string {
	if t := req.To(); t != nil {
		tag, _ := t.Params.Get("tag")
		return tag
	}
	return ""
}

func callID(req *sip.Request) string {
	if c := req.CallID(); c != nil {
		return c.Value()
	}
	return ""
}

// contactFor is our Contact: the address the client reached us on (the Request-URI host when we
// listen on an unspecified address), with transport= for stream transports (RFC 3261 §8.1.1.8).
func contactFor(req *sip.Request, local net.Addr, transport string) *sip.ContactHeader {
	host, portS, _ := net.SplitHostPort(local.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = req.Recipient.Host
	}
	port, _ := strconv.Atoi(portS)
	c := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: host, Port: port}}
	if transport != "udp" {
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", transport)
	}
	return c
}
