package sip

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/mrcpd/mrcpd/mrcp/mrcptest"
)

// FuzzRequest runs what a remote's SIP request goes through before it reaches a dialog or the
// Handler: sipgo's parser, then our own reading of it (the §8.2 checks, the session timer of
// RFC 4028, the tags and the offer check). Nothing may panic; a request checkRequest passes has
// the headers it promised. Seeds: the captured requests of mod_unimrcp and the UniMRCP client
// (testdata/fuzz/FuzzRequest has the edited shapes).
func FuzzRequest(f *testing.F) {
	for _, rel := range []string{"freeswitch-mod_unimrcp/01-INVITE-recog.sip", "freeswitch-mod_unimrcp/02-ACK.sip",
		"freeswitch-mod_unimrcp/04-BYE.sip", "unimrcp-client-1.8/01-INVITE-recog.sip"} {
		b, err := os.ReadFile(filepath.Join(mrcptest.Fixtures(f), rel))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := sip.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		if r := checkRequest(req); r == nil {
			if req.CallID() == nil || req.From() == nil || req.To() == nil {
				t.Fatalf("checkRequest passed a request without Call-ID, From or To:\n%s", b)
			}
		} else if r.code != 400 && r.code != 420 {
			t.Fatalf("checkRequest answered %d", r.code)
		}
		if st, err := negotiateTimer(req, 600*time.Second); err == nil && st.interval > 600*time.Second {
			t.Fatalf("session interval %v above ours", st.interval)
		}
		_, _, _ = fromTag(req), toTag(req), callID(req)
		if code, _ := checkOffer(req); code != 0 && code != 415 && code != 488 {
			t.Fatalf("checkOffer answered %d", code)
		}
	})
}
