package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mrcpd/mrcpd/mrcp/client/load"
)

// loadFlags are `mrcpclient load`'s options beyond the common ones.
type loadFlags struct {
	cfg                   load.Config
	grammar, dtmf, expect string
	inband, loop          bool
	headers, speakHeaders headerFlags
	speak, voice          string
	ssml, asJSON          bool
	progress              time.Duration
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	c := &l.cfg
	fs.IntVar(&c.Sessions, "n", 10, "sessions open at once once the ramp is over")
	fs.IntVar(&c.Total, "total", 0, "sessions to run in all, ended ones replaced at --rate (0: -n)")
	fs.Float64Var(&c.Rate, "rate", 20, "new sessions per second (the ramp)")
	fs.DurationVar(&c.Hold, "hold", 0, "keep each session this long after its 200 OK, repeating turns unless --turns is given")
	fs.IntVar(&c.Turns, "turns", 0, "RECOGNIZEs or SPEAKs per session (0: 1, or as many as --hold allows)")
	fs.StringVar(&l.grammar, "grammar", "", "recognize against this grammar file (DEFINE-GRAMMAR) or URI, e.g. builtin:dtmf/digits?length=4")
	fs.StringVar(&l.dtmf, "dtmf", "", "send these digits as RFC 4733 events instead of an audio file")
	fs.BoolVar(&l.inband, "inband", false, "send --dtmf as in-band tones in the audio")
	fs.BoolVar(&c.Idle, "idle", false, "stream the audio over and over for --hold with no RECOGNIZE (the control channel stays idle)")
	fs.BoolVar(&l.loop, "loop", false, "repeat the audio until the recognition completes")
	fs.StringVar(&l.expect, "expect", "", "the right result, for the accuracy figure (default: the --dtmf digits)")
	fs.Var(&l.headers, "header", "extra RECOGNIZE header \"Name: value\" (repeatable)")
	fs.StringVar(&l.speak, "speak", "", "SPEAK this text (or SSML with --ssml)")
	fs.BoolVar(&l.ssml, "ssml", false, "send --speak as application/ssml+xml")
	fs.StringVar(&l.voice, "voice", "default", "Voice-Name of each SPEAK")
	fs.Var(&l.speakHeaders, "speak-header", "extra SPEAK header \"Name: value\" (repeatable)")
	fs.Float64Var(&c.SpeakShare, "speak-share", 0, "with both --grammar and --speak: the fraction of sessions that speak (0: half)")
	fs.Float64Var(&c.Impairment.Loss, "loss", 0, "drop this fraction of the RTP packets sent (0..1)")
	fs.DurationVar(&c.Impairment.Jitter, "jitter", 0, "delay each RTP packet sent by up to this much")
	fs.IntVar(&c.Workers, "workers", 2, "RTP worker goroutines")
	fs.IntVar(&c.MeasurePID, "measure-pid", 0, "measure this server process's CPU and RSS once all -n sessions are open")
	fs.DurationVar(&c.MeasureWindow, "measure", 20*time.Second, "for this long")
	fs.BoolVar(&l.asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&l.progress, "progress", time.Second, "progress line interval on stderr (0: none)")
}

// config completes the run's configuration from the flags and the positional audio file.
func (l *loadFlags) config(c common, args []string) (load.Config, error) {
	cfg := l.cfg
	cfg.Server, cfg.LocalIP, cfg.Timeout = c.server, c.localIP, c.timeout
	if l.grammar == "" && l.speak == "" && !cfg.Idle {
		return cfg, usageError{"give --grammar (to recognize) or --speak, or both (or --idle)"}
	}
	if l.speak != "" {
		cfg.Speak = &load.SpeakTurn{Text: l.speak, Voice: l.voice, Headers: l.speakHeaders}
		if l.ssml {
			cfg.Speak.ContentType = "application/ssml+xml"
		}
	}
	if l.grammar == "" && !cfg.Idle {
		if l.dtmf != "" || len(args) > 0 {
			return cfg, usageError{"audio or --dtmf without --grammar"}
		}
		return cfg, nil
	}
	rc := &load.RecognizeTurn{Grammar: l.grammar, Loop: l.loop, Headers: l.headers, Expect: l.expect,
		Input: load.Input{Digits: l.dtmf, Inband: l.inband}}
	switch {
	case l.dtmf != "" && len(args) > 0:
		return cfg, usageError{"give --dtmf or an audio file, not both"}
	case l.dtmf == "" && len(args) != 1:
		return cfg, usageError{"give one audio file (WAV) or --dtmf to recognize"}
	case l.dtmf == "":
		var err error
		if rc.Input.PCM, rc.Input.Rate, err = readAudio(args[0]); err != nil {
			return cfg, err
		}
	case rc.Expect == "":
		rc.Expect = l.dtmf
	}
	if l.grammar != "" {
		var err error
		if rc.GrammarBody, rc.GrammarType, err = readGrammar(l.grammar); err != nil {
			return cfg, err
		}
	}
	cfg.Recognize = rc
	return cfg, nil
}

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var l loadFlags
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	c.register(fs)
	fs.Lookup("timeout").Usage = "give up on an INVITE or a turn after this long"
	fs.Lookup("timeout").DefValue = "30s"
	c.timeout = 30 * time.Second
	l.register(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := l.config(c, fs.Args())
	if err != nil {
		return err
	}
	if l.progress > 0 {
		cfg.Progress, cfg.ProgressEvery = progressLine(stderr), l.progress
	}
	cl, err := c.client(stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	rep, err := load.Run(ctx, cl, cfg)
	if errors.Is(err, load.ErrConfig) {
		return usageError{err.Error()}
	}
	if err != nil {
		return err
	}
	if cfg.Progress != nil && isTerminal(stderr) {
		fmt.Fprintln(stderr)
	}
	if l.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, rep)
	}
	if rep.Sessions.Failed > 0 {
		return fmt.Errorf("%d of %d sessions failed", rep.Sessions.Failed, rep.Sessions.Attempted)
	}
	return nil
}

// progressLine rewrites one line on a terminal and prints one line per interval elsewhere.
func progressLine(w io.Writer) func(load.Progress) {
	term := isTerminal(w)
	var lastTx uint64
	var last time.Duration
	return func(p load.Progress) {
		rate := 0.0
		if d := (p.Elapsed - last).Seconds(); d > 0 {
			rate = float64(p.SentPackets-lastTx) / d
		}
		lastTx, last = p.SentPackets, p.Elapsed
		line := fmt.Sprintf("%6.1fs open %d started %d ok %d failed %d | recognitions %d speaks %d | RTP out %.0f/s (late %d skipped %d) in %d",
			p.Elapsed.Seconds(), p.Open, p.Started, p.OK, p.Failed, p.Recognitions, p.Speaks, rate, p.SendLate, p.SendSkipped, p.ReceivedPackets)
		if term {
			fmt.Fprintf(w, "\r%s%s", line, strings.Repeat(" ", max(0, 110-len(line))))
		} else {
			fmt.Fprintln(w, line)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
