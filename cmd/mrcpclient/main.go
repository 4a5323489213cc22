// Command mrcpclient is a real MRCPv2 client for people and tests: recognize a WAV file or DTMF
// against a grammar, synthesize text to a WAV file, or run a load of new sessions per second.
// Real SIP (shaped like FreeSWITCH mod_unimrcp), real TCP control, real RTP paced at 20 ms.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/mrcpd/mrcpd/media/audio"
	"github.com/mrcpd/mrcpd/mrcp"
	"github.com/mrcpd/mrcpd/mrcp/client"
)

const usage = `usage:
  mrcpclient recognize --server HOST:PORT --grammar G [--dtmf DIGITS [--inband] | AUDIO.wav]
  mrcpclient speak     --server HOST:PORT --text T [--ssml] --out OUT.wav
  mrcpclient load      --server HOST:PORT -n N [--rate R] [--hold D | --turns T]
                       [--grammar G (--dtmf DIGITS [--inband] | AUDIO.wav)] [--speak TEXT] [--json]
                       (mrcpclient load -h lists every option)
`

func main() {
	// sipgo logs some internal bookkeeping through its package default logger; only its errors
	// are worth a user's attention.
	sip.SetDefaultLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit status: 0 success, 1 failure (or no match), 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "recognize":
		err = recognize(ctx, args[1:], stdout, stderr)
	case "speak":
		err = speak(ctx, args[1:], stdout, stderr)
	case "load":
		err = runLoad(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "mrcpclient: %v\n%s", err, usage)
		return 2
	default:
		fmt.Fprintln(stderr, "mrcpclient:", err)
		return 1
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// headerFlags collects repeated --header "Name: value" flags.
type headerFlags []mrcp.Field

func (h *headerFlags) String() string { return fmt.Sprint(*h) }

func (h *headerFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want \"Name: value\", got %q", v)
	}
	*h = append(*h, mrcp.Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	return nil
}

// common are the flags of every subcommand.
type common struct {
	server, transport, localIP, logLevel string
	timeout                              time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "127.0.0.1:8060", "SIP address of the MRCP server")
	fs.StringVar(&c.transport, "transport", "udp", "SIP transport: udp or tcp")
	fs.StringVar(&c.localIP, "local-ip", "127.0.0.1", "our address for SIP, RTP and the SDP")
	fs.StringVar(&c.logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "give up after this long")
}

func (c *common) client(stderr io.Writer) (*client.Client, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level: %v", err)}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return client.New(client.Config{Server: c.server, Transport: c.transport, LocalIP: c.localIP, Logger: log})
}

func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	// Allow flags after the positional WAV file too.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

func recognize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var grammar, dtmf string
	var inband bool
	var headers headerFlags
	fs := flag.NewFlagSet("recognize", flag.ContinueOnError)
	c.register(fs)
	fs.Var(&headers, "header", "extra RECOGNIZE header \"Name: value\" (repeatable), e.g. \"No-Input-Timeout: 3000\"")
	fs.StringVar(&grammar, "grammar", "", "grammar file (sent with DEFINE-GRAMMAR) or URI such as builtin:dtmf/digits?length=4")
	fs.StringVar(&dtmf, "dtmf", "", "send these digits instead of audio (RFC 4733 events)")
	fs.BoolVar(&inband, "inband", false, "send --dtmf as in-band tones in the audio")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if grammar == "" {
		return usageError{"--grammar is required"}
	}
	req := client.RecognizeRequest{Grammar: grammar, DTMF: dtmf, Inband: inband, Headers: headers}
	switch {
	case dtmf != "" && fs.NArg() > 0:
		return usageError{"give --dtmf or an audio file, not both"}
	case dtmf == "" && fs.NArg() != 1:
		return usageError{"give one audio file (WAV) or --dtmf"}
	case dtmf == "":
		var err error
		if req.Audio, req.AudioRate, err = readAudio(fs.Arg(0)); err != nil {
			return err
		}
	}
	var err error
	if req.GrammarBody, req.GrammarType, err = readGrammar(grammar); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := c.client(stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := cl.Open(ctx, "speechrecog")
	if err != nil {
		return err
	}
	res, err := s.Recognize(ctx, req)
	err = errors.Join(err, s.Close(context.WithoutCancel(ctx)))
	if res != nil {
		fmt.Fprintf(stderr, "Completion-Cause: %s\n", res.Cause)
		stdout.Write(res.NLSML)
		if len(res.NLSML) > 0 && res.NLSML[len(res.NLSML)-1] != '\n' {
			fmt.Fprintln(stdout)
		}
		if err == nil && !res.Success() {
			err = fmt.Errorf("recognition ended with %s", res.Cause)
		}
	}
	return err
}

func readAudio(path string) ([]int16, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	pcm, rate, err := audio.ReadWAV(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return pcm, rate, nil
}

// readGrammar reads a grammar file; a URI (builtin:..., http:...) has no body.
func readGrammar(grammar string) (body []byte, typ string, err error) {
	body, err = os.ReadFile(grammar)
	switch {
	case err == nil:
		return body, grammarType(grammar, body), nil
	case errors.Is(err, os.ErrNotExist) && strings.Contains(grammar, ":"):
		return nil, "", nil
	}
	return nil, "", fmt.Errorf("grammar %q is neither a readable file nor a URI: %w", grammar, err)
}

// grammarType picks the Content-Type of a grammar file: SRGS XML or ABNF (RFC 6787 §9.5).
func grammarType(name string, body []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".grxml", ".xml", ".srgs":
		return "application/srgs+xml"
	case ".abnf":
		return "application/srgs"
	}
	if strings.HasPrefix(strings.TrimSpace(string(body)), "<") {
		return "application/srgs+xml"
	}
	return "application/srgs"
}

func speak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	var text, out, voice string
	var ssml bool
	var headers headerFlags
	fs := flag.NewFlagSet("speak", flag.ContinueOnError)
	c.register(fs)
	fs.Var(&headers, "header", "extra SPEAK header \"Name: value\" (repeatable), e.g. \"Prosody-Rate: fast\"")
	fs.StringVar(&text, "text", "", "text to speak (or SSML with --ssml)")
	fs.BoolVar(&ssml, "ssml", false, "send --text as application/ssml+xml")
	fs.StringVar(&voice, "voice", "default", "Voice-Name")
	fs.StringVar(&out, "out", "", "WAV file to write the received audio to")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if text == "" || out == "" {
		return usageError{"--text and --out are required"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cl, err := c.client(stderr)
	if err != nil {
		return err
	}
	defer cl.Close()
	s, err := cl.Open(ctx, "speechsynth")
	if err != nil {
		return err
	}
	req := client.SpeakRequest{Text: text, Voice: voice, Headers: headers}
	if ssml {
		req.ContentType = "application/ssml+xml"
	}
	res, err := s.Speak(ctx, req)
	err = errors.Join(err, s.Close(context.WithoutCancel(ctx)))
	if res == nil {
		return err
	}
	f, ferr := os.Create(out)
	if ferr != nil {
		return errors.Join(err, ferr)
	}
	werr := audio.WriteWAV(f, res.Audio, res.Rate)
	err = errors.Join(err, werr, f.Close())
	fmt.Fprintf(stdout, "Completion-Cause: %s\npackets: %d\naudio: %v\nlast RTP packet -> SPEAK-COMPLETE: %v\n",
		res.Cause, res.Packets, time.Duration(len(res.Audio))*time.Second/time.Duration(res.Rate), res.CompleteAfterLastRTP())
	if err == nil && !strings.HasPrefix(res.Cause, "000") {
		err = fmt.Errorf("SPEAK ended with %s", res.Cause)
	}
	return err
}
