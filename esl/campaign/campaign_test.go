package campaign_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr/clock"
	"github.com/mrcpd/mrcpd/esl"
	"github.com/mrcpd/mrcpd/esl/campaign"
	"github.com/mrcpd/mrcpd/esl/esltest"
	"github.com/mrcpd/mrcpd/esl/flow"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const callFlow = `
name: survey
steps:
  - id: call
    originate: {dial: "loopback/${number}/default"}
  - id: answered
    wait_answer: {}
  - id: hello
    playback: {file: "silence_stream://500"}
  - id: ask
    detect_speech: {grammar: "builtin:grammar/boolean"}
  - id: bye
    hangup: {cause: NORMAL_CLEARING}
`

func entries(n int) []campaign.Entry {
	var b strings.Builder
	b.WriteString("number,name\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,customer %d\n", 5550000+i, i)
	}
	es, err := campaign.ReadCSV(strings.NewReader(b.String()))
	if err != nil {
		panic(err)
	}
	return es
}

type setup struct {
	fake   *esltest.Server
	client *esl.Client
	clock  *clock.Fake
	cfg    campaign.Config
}

func newSetup(t *testing.T, fakeOpts esltest.Options) *setup {
	t.Helper()
	clk := clock.NewAutoFake()
	fakeOpts.Clock = clk
	fake, err := esltest.Start(fakeOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esl.Dial(ctx, esl.Config{Addr: fake.Addr(), Password: "ClueCon", HeartbeatInterval: -1,
		BackoffMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	f, err := flow.Parse(strings.NewReader(callFlow))
	if err != nil {
		t.Fatal(err)
	}
	return &setup{fake: fake, client: c, clock: clk, cfg: campaign.Config{
		Flow: f, Runner: &flow.Runner{Client: c, Clock: clock.NewFake()}, Clock: clk,
		Concurrency: 20, CPS: 20, OutDir: t.TempDir()}}
}

func runCampaign(t *testing.T, s *setup, es []campaign.Entry) *campaign.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := campaign.Run(ctx, s.cfg, es)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// checkOnePerEntry: every entry has exactly one report, and no call UUID
// appears twice.
func checkOnePerEntry(t *testing.T, sum *campaign.Summary, es []campaign.Entry, outDir string) {
	t.Helper()
	if len(sum.Results) != len(es) {
		t.Fatalf("%d results for %d entries", len(sum.Results), len(es))
	}
	uuids := map[string]bool{}
	for i, r := range sum.Results {
		if r.Report == nil || r.Entry.Number != es[i].Number {
			t.Fatalf("entry %d: %+v", i, r)
		}
		if uuids[r.Report.UUID] {
			t.Fatalf("uuid %s reported twice", r.Report.UUID)
		}
		uuids[r.Report.UUID] = true
	}
	f, err := os.Open(filepath.Join(outDir, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != len(es)+1 {
		t.Fatalf("summary.csv: %d rows, %v", len(rows), err)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "calls", "*.json"))
	if len(files) != len(es) {
		t.Fatalf("%d timelines for %d entries", len(files), len(es))
	}
}

// maxPerSecond: the most originates FreeSWITCH received in any one-second window.
func maxPerSecond(recs []esltest.OriginateRecord) int {
	times := make([]time.Time, 0, len(recs))
	for _, r := range recs {
		times = append(times, r.At)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, lo := 0, 0
	for hi := range times {
		for times[hi].Sub(times[lo]) >= time.Second {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best = n
		}
	}
	return best
}

// TestCampaign200At20 is the campaign: 200 numbers, 20 at a time, 20
// calls per second, under the fake's (FreeSWITCH's default) 30 sps.
func TestCampaign200At20(t *testing.T) {
	s := newSetup(t, esltest.Options{Default: esltest.Behavior{Says: []string{"yes"}}})
	var progress bytes.Buffer
	s.cfg.Progress = &progress
	es := entries(200)
	start := s.clock.Now()
	sum := runCampaign(t, s, es)
	checkOnePerEntry(t, sum, es, s.cfg.OutDir)
	if sum.Succeeded != 200 || sum.Throttled != 0 {
		t.Fatalf("succeeded %d throttled %d; first failure %+v", sum.Succeeded, sum.Throttled, firstFailure(sum))
	}
	if peak := s.fake.PeakChannels(); peak > 20 {
		t.Fatalf("%d calls at once, cap is 20", peak)
	}
	if n := maxPerSecond(s.fake.Originates()); n > 21 {
		t.Fatalf("%d originates in one second, limit 20 (+1 burst)", n)
	}
	if el := s.clock.Now().Sub(start); el < 9*time.Second {
		t.Fatalf("200 calls at 20/s took %v of campaign time", el)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 200 || !strings.HasPrefix(lines[199], "campaign: 200/200 done, 200 ok, 0 failed") {
		t.Fatalf("progress: %d lines, last %q", len(lines), lines[len(lines)-1])
	}
	for _, r := range sum.Results {
		if r.Report.HangupCause != "NORMAL_CLEARING" || r.Attempts != 1 {
			t.Fatalf("%+v", r)
		}
		if _, ok := r.Report.Offset("answer"); !ok {
			t.Fatalf("no answer in timeline %+v", r.Report.Timeline)
		}
	}
}

// TestCampaignThrottled: FreeSWITCH (here configured to 5 sps) refuses
// sessions with SWITCH_CONGESTION; those numbers are retried after a pause and
// still end with exactly one report each.
func TestCampaignThrottled(t *testing.T) {
	s := newSetup(t, esltest.Options{MaxSPS: 5, Default: esltest.Behavior{Says: []string{"no"}}})
	es := entries(40)
	sum := runCampaign(t, s, es)
	checkOnePerEntry(t, sum, es, s.cfg.OutDir)
	if sum.Throttled == 0 {
		t.Fatal("the fake never throttled: test does not test anything")
	}
	if sum.Succeeded+sum.Failed != 40 {
		t.Fatalf("%+v", sum)
	}
	for _, r := range sum.Results {
		if r.Report.Result != "success" && !r.Report.Throttled {
			t.Fatalf("unexpected failure %+v", r.Report)
		}
	}
}

// TestCampaignReconnectMidway drops the Event Socket connection in the middle
// of a campaign: no entry is lost or reported twice, and no number is dialled
// twice unless FreeSWITCH never got the first originate.
func TestCampaignReconnectMidway(t *testing.T) {
	s := newSetup(t, esltest.Options{Default: esltest.Behavior{Says: []string{"yes"}}})
	var sendmsgs atomic.Int32
	s.fake.DropWhen(func(cmd string) bool {
		return strings.HasPrefix(cmd, "sendmsg") && sendmsgs.Add(1) == 60
	})
	es := entries(60)
	sum := runCampaign(t, s, es)
	checkOnePerEntry(t, sum, es, s.cfg.OutDir)
	if s.fake.Accepted() < 2 {
		t.Fatal("connection was never dropped")
	}
	dialled := map[string]int{}
	for _, o := range s.fake.Originates() {
		dialled[o.Dest]++
	}
	for _, e := range es {
		if dialled[e.Number] != 1 {
			t.Errorf("%s dialled %d times", e.Number, dialled[e.Number])
		}
	}
	if sum.Succeeded != 60 {
		t.Fatalf("succeeded %d; first failure %+v", sum.Succeeded, firstFailure(sum))
	}
}

func firstFailure(sum *campaign.Summary) *flow.Report {
	for _, r := range sum.Results {
		if r.Report.Result != "success" {
			return r.Report
		}
	}
	return nil
}

func TestConfigRejectsRateAboveFreeSWITCH(t *testing.T) {
	f, _ := flow.Parse(strings.NewReader(callFlow))
	_, err := campaign.Run(context.Background(), campaign.Config{Flow: f, Runner: &flow.Runner{}, CPS: 30}, nil)
	if !errors.Is(err, campaign.ErrConfig) {
		t.Fatalf("got %v", err)
	}
	if _, err := campaign.ReadCSV(strings.NewReader("phone\n123\n")); !errors.Is(err, campaign.ErrConfig) {
		t.Fatalf("csv without number column: %v", err)
	}
	if _, err := campaign.ReadCSV(strings.NewReader("number\n12 3\n")); !errors.Is(err, campaign.ErrConfig) {
		t.Fatalf("bad number: %v", err)
	}
}

// TestCampaignHangupCauses: busy and unanswered numbers are final results
// with their cause, not retried like throttling.
func TestCampaignHangupCauses(t *testing.T) {
	s := newSetup(t, esltest.Options{
		Default: esltest.Behavior{Says: []string{"yes"}},
		Numbers: map[string]esltest.Behavior{
			"5550001": {Reject: "USER_BUSY"},
			"5550002": {Reject: "NO_ANSWER", RingTime: 30 * time.Second},
			"5550003": {Reject: "UNALLOCATED_NUMBER"},
		}})
	es := entries(5)
	sum := runCampaign(t, s, es)
	checkOnePerEntry(t, sum, es, s.cfg.OutDir)
	want := []string{"NORMAL_CLEARING", "USER_BUSY", "NO_ANSWER", "UNALLOCATED_NUMBER", "NORMAL_CLEARING"}
	for i, r := range sum.Results {
		if r.Report.HangupCause != want[i] || r.Attempts != 1 || (r.Report.Result == "success") != (i == 0 || i == 4) {
			t.Errorf("%s: %s cause %s attempts %d (%s)", r.Entry.Number, r.Report.Result, r.Report.HangupCause, r.Attempts, r.Report.Reason)
		}
	}
	summary, _ := os.ReadFile(filepath.Join(s.cfg.OutDir, "summary.csv"))
	if !strings.Contains(string(summary), ",failed,") || !strings.Contains(string(summary), "USER_BUSY") {
		t.Fatalf("summary:\n%s", summary)
	}
}
