package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/mrcp"
)

// A value SET-PARAMS accepts is one a request can run with: SET-PARAMS No-Input-Timeout
// 99999999999 was answered 200, after which every RECOGNIZE on the channel failed with 404 and an
// empty No-Input-Timeout. Whatever SET-PARAMS answers now, a refused value changes nothing and an
// accepted one never makes the next RECOGNIZE fail (issue 12, item 9).
func TestSetParamsStoresOnlyUsableValues(t *testing.T) {
	h := newHarness(t, nil)
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	id := uint32(0)
	for _, kv := range [][2]string{
		{mrcp.HeaderNoInputTimeout, "99999999999"},
		{mrcp.HeaderNoInputTimeout, "9999999999999999999"},
		{mrcp.HeaderRecognitionTimeout, "99999999999"},
		{mrcp.HeaderNBestListLength, "99999999999"},
		{mrcp.HeaderConfidenceThreshold, "1.5"},
	} {
		id++
		cl.send(setParams(id, ids[0], kv[0], kv[1]))
		m := cl.next()
		if _, named := m.Header.Get(kv[0]); m.StatusCode != 200 && (m.StatusCode != 404 || !named) {
			t.Fatalf("SET-PARAMS %s: %s", kv[0], m)
		}
		id++
		cl.send(dtmfRecognize(id, ids[0], "builtin:dtmf/digits?length=2"))
		if r := cl.next(); r.StatusCode != 200 {
			t.Fatalf("RECOGNIZE after SET-PARAMS %s: %s (answered %d): %s", kv[0], kv[1], m.StatusCode, r)
		}
		id++
		cl.send(mrcp.NewRequest(mrcp.MethodStop, id, ids[0]))
		if r := cl.next(); r.StatusCode != 200 {
			t.Fatalf("STOP: %s", r)
		}
	}
}

// What a channel stores is capped: Vendor-Specific-Parameters accumulating over SET-PARAMS stop
// at mrcp.max_channel_params with 409, the request that would pass it changes nothing, and
// GET-PARAMS stays that small; DEFINE-GRAMMAR likewise at mrcp.max_channel_grammars (issue 12,
// item 6).
func TestChannelStorageCapped(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxChannelParams = 8 << 10
		c.MaxChannelGrammars = 8 << 10
		c.MaxMessageSize = 64 << 10
	})
	ids, _ := h.offer("call-1", sdpBody(t, modRecogInvite))
	cl := h.dial()
	id := uint32(0)
	pairs := func(k int) string {
		var b strings.Builder
		for i := range 100 {
			fmt.Fprintf(&b, "k%d_%d=%s;", k, i, "vvvvvvvvvv")
		}
		return strings.TrimSuffix(b.String(), ";")
	}
	refused := 0
	for k := range 10 { // 10 x ~2 KB: the cap is passed on the way
		id++
		cl.send(setParams(id, ids[0], mrcp.HeaderVendorSpecificParameters, pairs(k)))
		switch m := cl.next(); m.StatusCode {
		case 200:
			if refused > 0 {
				t.Fatalf("SET-PARAMS %d accepted after a refusal", k)
			}
		case mrcp.Status409:
			if _, named := m.Header.Get(mrcp.HeaderVendorSpecificParameters); !named {
				t.Fatalf("409 does not name the header: %s", m)
			}
			refused++
		default:
			t.Fatalf("SET-PARAMS %d: %d", k, m.StatusCode)
		}
	}
	if refused == 0 {
		t.Fatal("no SET-PARAMS refused")
	}
	id++
	cl.send(mrcp.NewRequest(mrcp.MethodGetParams, id, ids[0]))
	m := cl.next()
	if n := len(m.Append(nil)); m.StatusCode != 200 || n > 9<<10 {
		t.Fatalf("GET-PARAMS: %d, %d bytes", m.StatusCode, n)
	}
	if v := m.Header.Value(mrcp.HeaderVendorSpecificParameters); strings.Contains(v, "k9_") {
		t.Fatal("a refused SET-PARAMS was stored")
	}

	srgs := func(pad int) []byte {
		return []byte(`<?xml version="1.0"?><grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" root="r" mode="dtmf">` +
			`<!--` + strings.Repeat("x", pad) + `--><rule id="r"><item>1</item></rule></grammar>`)
	}
	define := func(cid string, body []byte) int {
		id++
		m := mrcp.NewRequest(mrcp.MethodDefineGrammar, id, ids[0])
		m.Header.Set(mrcp.HeaderContentType, "application/srgs+xml")
		m.Header.Set(mrcp.HeaderContentID, cid)
		m.Body = body
		cl.send(m)
		return cl.next().StatusCode
	}
	if c := define("a", srgs(5000)); c != 200 {
		t.Fatalf("first grammar: %d", c)
	}
	if c := define("b", srgs(5000)); c != mrcp.Status409 {
		t.Fatalf("grammar past the cap: %d", c)
	}
	if c := define("a", srgs(7000)); c != 200 {
		t.Fatalf("redefining within the cap: %d", c)
	}
}
