// Package flow runs IVR flows written in YAML against FreeSWITCH through the
// esl client: originate, wait for answer and media, wait for a remote prompt to
// end, send DTMF, speak, listen through mrcpd, call webhooks, transfer, bridge.
package flow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalidFlow wraps every validation error.
var ErrInvalidFlow = errors.New("flow: invalid flow")

// Duration is a time.Duration written as "4s", "1500ms".
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// D is the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Flow is one YAML file.
type Flow struct {
	Name string            `yaml:"name"`
	Vars map[string]string `yaml:"vars"`
	// Profile is the mod_unimrcp profile pointing at mrcpd; TTS is the speak
	// engine ("unimrcp:mrcpd").
	Profile string `yaml:"profile"`
	TTS     string `yaml:"tts"`
	Steps   []Step `yaml:"steps"`
}

// Step is one action plus its control flow. Exactly one action field is set.
type Step struct {
	ID      string   `yaml:"id"`
	Timeout Duration `yaml:"timeout"`
	// Retries re-runs the step (or from RetryFrom) when it fails.
	Retries   int    `yaml:"retries"`
	RetryFrom string `yaml:"retry_from"`
	// Branches are checked in order after the step; the first match decides.
	Branches []Branch `yaml:"branches"`
	Next     string   `yaml:"next"`

	Originate     *Originate        `yaml:"originate"`
	Answer        *struct{}         `yaml:"answer"`
	WaitAnswer    *WaitAnswer       `yaml:"wait_answer"`
	WaitMedia     *WaitMedia        `yaml:"wait_media"`
	WaitPromptEnd *WaitPromptEnd    `yaml:"wait_prompt_end"`
	SendDTMF      *SendDTMF         `yaml:"send_dtmf"`
	Playback      *Playback         `yaml:"playback"`
	Speak         *Speak            `yaml:"speak"`
	DetectSpeech  *DetectSpeech     `yaml:"detect_speech"`
	CollectDTMF   *CollectDTMF      `yaml:"collect_dtmf"`
	Record        *Record           `yaml:"record"`
	Webhook       *Webhook          `yaml:"webhook"`
	Transfer      *Transfer         `yaml:"transfer"`
	Bridge        *Bridge           `yaml:"bridge"`
	Hangup        *Hangup           `yaml:"hangup"`
	Set           map[string]string `yaml:"set"`
}

// Branch: when every condition given holds, go to Goto ("end" finishes the
// flow successfully) or fail with Fail as the reason.
type Branch struct {
	Contains []string `yaml:"contains"` // any of these words in the last result (case-insensitive)
	Equals   string   `yaml:"equals"`
	Matched  *bool    `yaml:"matched"`
	Var      string   `yaml:"var"` // with Value: a variable's value
	Value    string   `yaml:"value"`
	Goto     string   `yaml:"goto"`
	Fail     string   `yaml:"fail"`
}

type Originate struct {
	Dial           string            `yaml:"dial"`
	CallerIDNumber string            `yaml:"caller_id_number"`
	CallerIDName   string            `yaml:"caller_id_name"`
	Timeout        Duration          `yaml:"timeout"`
	Vars           map[string]string `yaml:"vars"`
}

// WaitAnswer: EarlyMedia "wait" (default) waits for a real answer and
// originates with ignore_early_media=true; "accept" treats early media
// (183 with SDP) as good enough to proceed.
type WaitAnswer struct {
	EarlyMedia string `yaml:"early_media"`
}

type WaitMedia struct{}

// WaitPromptEnd modes:
//   - fixed: sleep Delay on the leg (what most scripts do, and wrong for one
//     prompt length or another),
//   - silence: quiet on what the leg receives after audio, timed by a
//     record_session media bug (no packets, comfort noise and low-energy
//     audio are all quiet),
//   - speech: mrcpd's end-of-speech via play_and_detect_speech,
//   - keyword: listen through mrcpd until a Keyword is heard, then until that
//     utterance ends.
type WaitPromptEnd struct {
	Mode       string   `yaml:"mode"`
	Delay      Duration `yaml:"delay"`
	Keywords   []string `yaml:"keywords"`
	SilenceMS  int      `yaml:"silence_ms"`  // silence that ends the prompt, default 1000
	Threshold  int      `yaml:"threshold"`   // energy below which a frame is quiet, default 200
	CompleteMS int      `yaml:"complete_ms"` // speech-complete-timeout, default 800
	NoInputMS  int      `yaml:"no_input_ms"` // nothing heard at all for this long fails, default 8000
	RecordDir  string   `yaml:"record_dir"`  // silence: scratch directory on the FreeSWITCH host, default /tmp
	Grammar    string   `yaml:"grammar"`     // default builtin:speech/transcribe
	MaxListens int      `yaml:"max_listens"` // keyword mode, default 6
}

// SendDTMF stops local playback, checks the leg's dtmf_type once, and sends.
type SendDTMF struct {
	Digits   string   `yaml:"digits"`
	Duration Duration `yaml:"duration"`
	// InbandFallback (default true) turns on in-band generation when the
	// leg's dtmf_type would send digits as SIP INFO or not at all.
	InbandFallback *bool  `yaml:"inband_fallback"`
	Method         string `yaml:"method"` // execute (default) or api
}

type Playback struct {
	File string `yaml:"file"`
}

type Speak struct {
	Text  string `yaml:"text"`
	Voice string `yaml:"voice"`
}

type DetectSpeech struct {
	Prompt  string            `yaml:"prompt"`
	Grammar string            `yaml:"grammar"`
	Params  map[string]string `yaml:"params"`
}

type CollectDTMF struct {
	Max        int    `yaml:"max"`
	Terminator string `yaml:"terminator"`
	Var        string `yaml:"var"`
}

type Record struct {
	Path string `yaml:"path"`
}

// Webhook posts the call's variables and last result; the JSON reply may say
// text to speak, the next step, a transfer target, or hang up.
type Webhook struct {
	URL string `yaml:"url"`
}

type Transfer struct {
	Extension string `yaml:"extension"`
	Dialplan  string `yaml:"dialplan"`
	Context   string `yaml:"context"`
}

type Bridge struct {
	Dial string `yaml:"dial"`
}

type Hangup struct {
	Cause string `yaml:"cause"`
}

// Parse reads and validates a flow; unknown keys are errors.
func Parse(r io.Reader) (*Flow, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f Flow
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFlow, err)
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Load parses a flow file.
func Load(path string) (*Flow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks ids, references and that each step has one action.
func (f *Flow) Validate() error {
	bad := func(i int, format string, a ...any) error {
		return fmt.Errorf("%w: step %d: %s", ErrInvalidFlow, i+1, fmt.Sprintf(format, a...))
	}
	if len(f.Steps) == 0 {
		return fmt.Errorf("%w: no steps", ErrInvalidFlow)
	}
	ids := map[string]bool{}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.ID == "" {
			s.ID = fmt.Sprintf("step%d", i+1)
		}
		if !idRE.MatchString(s.ID) || s.ID == "end" {
			return bad(i, "id %q must be lower_case and not \"end\"", s.ID)
		}
		if ids[s.ID] {
			return bad(i, "duplicate id %q", s.ID)
		}
		ids[s.ID] = true
		if n := s.actions(); n != 1 {
			return bad(i, "%q has %d actions, want exactly one", s.ID, n)
		}
		if p := s.WaitPromptEnd; p != nil {
			switch p.Mode {
			case "fixed":
				if p.Delay <= 0 {
					return bad(i, "fixed mode needs delay")
				}
			case "silence":
				if p.SilenceMS < 0 || p.Threshold < 0 || p.NoInputMS < 0 {
					return bad(i, "silence_ms, threshold and no_input_ms must not be negative")
				}
				if strings.ContainsAny(p.RecordDir, " \t{}") {
					return bad(i, "record_dir %q must not contain spaces or braces", p.RecordDir)
				}
			case "speech":
			case "keyword":
				if len(p.Keywords) == 0 {
					return bad(i, "keyword mode needs keywords")
				}
			default:
				return bad(i, "wait_prompt_end mode %q (fixed, silence, speech, keyword)", p.Mode)
			}
		}
		if w := s.WaitAnswer; w != nil && w.EarlyMedia != "" && w.EarlyMedia != "wait" && w.EarlyMedia != "accept" {
			return bad(i, "early_media %q (wait, accept)", w.EarlyMedia)
		}
	}
	ref := func(i int, what, id string) error {
		if id != "" && id != "end" && !ids[id] {
			return bad(i, "%s refers to unknown step %q", what, id)
		}
		return nil
	}
	for i, s := range f.Steps {
		if err := ref(i, "next", s.Next); err != nil {
			return err
		}
		if err := ref(i, "retry_from", s.RetryFrom); err != nil {
			return err
		}
		for _, b := range s.Branches {
			if err := ref(i, "branch goto", b.Goto); err != nil {
				return err
			}
			if (b.Goto == "") == (b.Fail == "") {
				return bad(i, "a branch needs exactly one of goto or fail")
			}
		}
	}
	return nil
}

func (s *Step) actions() int {
	n := 0
	for _, set := range []bool{s.Originate != nil, s.Answer != nil, s.WaitAnswer != nil, s.WaitMedia != nil, s.WaitPromptEnd != nil,
		s.SendDTMF != nil, s.Playback != nil, s.Speak != nil, s.DetectSpeech != nil, s.CollectDTMF != nil,
		s.Record != nil, s.Webhook != nil, s.Transfer != nil, s.Bridge != nil, s.Hangup != nil, s.Set != nil} {
		if set {
			n++
		}
	}
	return n
}

// Kind names the step's action (for reports and logs).
func (s *Step) Kind() string {
	switch {
	case s.Originate != nil:
		return "originate"
	case s.Answer != nil:
		return "answer"
	case s.WaitAnswer != nil:
		return "wait_answer"
	case s.WaitMedia != nil:
		return "wait_media"
	case s.WaitPromptEnd != nil:
		return "wait_prompt_end"
	case s.SendDTMF != nil:
		return "send_dtmf"
	case s.Playback != nil:
		return "playback"
	case s.Speak != nil:
		return "speak"
	case s.DetectSpeech != nil:
		return "detect_speech"
	case s.CollectDTMF != nil:
		return "collect_dtmf"
	case s.Record != nil:
		return "record"
	case s.Webhook != nil:
		return "webhook"
	case s.Transfer != nil:
		return "transfer"
	case s.Bridge != nil:
		return "bridge"
	case s.Hangup != nil:
		return "hangup"
	case s.Set != nil:
		return "set"
	}
	return "?"
}

// expand substitutes ${name} from vars; unknown names expand to "".
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return os.Expand(s, func(k string) string { return vars[k] })
}
