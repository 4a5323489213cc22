package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mrcpd/mrcpd/mrcp/server"
)

// Config is mrcpd's whole configuration. Every key is documented in docs/configuration.md; unknown
// keys are rejected so that a typo never silently falls back to a default.
type Config struct {
	SIP       SIPConfig       `yaml:"sip"`
	MRCP      MRCPConfig      `yaml:"mrcp"`
	RTP       RTPConfig       `yaml:"rtp"`
	HTTP      HTTPConfig      `yaml:"http"`
	Log       LogConfig       `yaml:"log"`
	Recorder  RecorderConfig  `yaml:"recorder"`
	Waveforms WaveformsConfig `yaml:"waveforms"`
	Records   RecordsConfig   `yaml:"records"`
	Engines   EnginesConfig   `yaml:"engines"`
}

type SIPConfig struct {
	Addr           string   `yaml:"addr"`
	Transports     []string `yaml:"transports"` // udp, tcp, tls
	TLSAddr        string   `yaml:"tls_addr"`
	TLSCert        string   `yaml:"tls_cert"`
	TLSKey         string   `yaml:"tls_key"`
	SessionExpires Duration `yaml:"session_expires"`
	MaxSessions    int      `yaml:"max_sessions"`
	// MaxSessionsPerSource caps one source host's sessions; MaxOfferMedia an offer's m-lines.
	MaxSessionsPerSource int `yaml:"max_sessions_per_source"`
	MaxOfferMedia        int `yaml:"max_offer_media"`
	// DrainTimeout bounds how long SIGTERM waits for live sessions before exiting.
	DrainTimeout Duration `yaml:"drain_timeout"`
}

type MRCPConfig struct {
	Addr           string   `yaml:"addr"`
	TLSAddr        string   `yaml:"tls_addr"`
	TLSCert        string   `yaml:"tls_cert"`
	TLSKey         string   `yaml:"tls_key"`
	MaxMessageSize int      `yaml:"max_message_size"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// What one channel may store, bytes (docs/security.md).
	MaxChannelParams   int `yaml:"max_channel_params"`
	MaxChannelGrammars int `yaml:"max_channel_grammars"`
	// Control connection limits (docs/security.md).
	MaxConnections        int      `yaml:"max_connections"`
	MaxConnectionsPerHost int      `yaml:"max_connections_per_host"`
	MessageTimeout        Duration `yaml:"message_timeout"`
	IdleTimeout           Duration `yaml:"idle_timeout"`
	WriteTimeout          Duration `yaml:"write_timeout"`
	// FinalizeTimeout bounds the wait for an engine's result after end of speech.
	FinalizeTimeout Duration `yaml:"finalize_timeout"`
	// FreeText keeps transcripts no grammar accepts, as a request's free-text=true does.
	FreeText bool `yaml:"free_text"`
}

type RTPConfig struct {
	IP           string    `yaml:"ip"`
	Ports        PortRange `yaml:"ports"`
	MediaTimeout Duration  `yaml:"media_timeout"`
	Symmetric    bool      `yaml:"symmetric"`
	// SRTP is off, optional or required (docs/security.md).
	SRTP       string       `yaml:"srtp"`
	InbandDTMF bool         `yaml:"inband_dtmf"`
	Jitter     JitterConfig `yaml:"jitter"`
	Codecs     []string     `yaml:"codecs"`
	Workers    int          `yaml:"workers"`
	// SharedPort puts every stream's RTP on one port per media worker (0: a port of Ports each).
	SharedPort int `yaml:"shared_port"`
}

type JitterConfig struct {
	Initial Duration `yaml:"initial"`
	Min     Duration `yaml:"min"`
	Max     Duration `yaml:"max"`
}

type HTTPConfig struct {
	Addr string `yaml:"addr"`
	// PProf serves net/http/pprof under /debug/pprof/ (off: it exposes heap contents and
	// lets a caller spend CPU on profiles).
	PProf bool `yaml:"pprof"`
}

type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"` // text or json
}

type RecorderConfig struct {
	Dir string `yaml:"dir"`
	// MaxBytes is the disk quota of Dir: RECORD is refused, and a recording in progress ends,
	// once the WAV files there reach it.
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// WaveformsConfig keeps the utterances of Save-Waveform, served over HTTP.
type WaveformsConfig struct {
	Dir      string   `yaml:"dir"`
	MaxBytes ByteSize `yaml:"max_bytes"`
	MaxAge   Duration `yaml:"max_age"`
	// URL is the base of Waveform-URIs; by default http://<http.addr>/waveforms/ (rtp.ip when
	// http.addr binds every address).
	URL string `yaml:"url"`
}

// RecordsConfig is where detail records go: a file rotated by size, "-" for stdout, "" for none.
type RecordsConfig struct {
	Path     string   `yaml:"path"`
	MaxBytes ByteSize `yaml:"max_bytes"`
	Keep     int      `yaml:"keep"`
}

// EnginesConfig names the backends and which serves a request by default.
type EnginesConfig struct {
	Recognizer  string         `yaml:"recognizer"`
	Synthesizer string         `yaml:"synthesizer"`
	Plugins     []PluginConfig `yaml:"plugins"`
}

// PluginConfig starts one plugin binary (one process, or Pool processes for engines that are
// single-threaded by nature).
type PluginConfig struct {
	Name     string            `yaml:"name"`
	Kind     string            `yaml:"kind"` // recognizer or synthesizer
	Path     string            `yaml:"path"`
	Args     []string          `yaml:"args"`
	Pool     int               `yaml:"pool"`
	Settings map[string]string `yaml:"settings"`
}

// Defaults are chosen so that mrcpd shares a host with FreeSWITCH without a clash: FreeSWITCH's
// RTP range is 16384-32768 and Linux's ephemeral range starts at 32768.
func DefaultConfig() Config {
	return Config{
		SIP: SIPConfig{Addr: "127.0.0.1:8060", Transports: []string{"udp", "tcp"},
			SessionExpires: Duration(600 * time.Second), MaxSessions: 1000, MaxSessionsPerSource: 1000, MaxOfferMedia: 8,
			DrainTimeout: Duration(30 * time.Second)},
		MRCP: MRCPConfig{Addr: "127.0.0.1:1544", MaxMessageSize: 1 << 20,
			ConnectTimeout: Duration(10 * time.Second), FinalizeTimeout: Duration(10 * time.Second),
			MaxChannelParams: 64 << 10, MaxChannelGrammars: 1 << 20, MaxConnections: 2000, MaxConnectionsPerHost: 1000, MessageTimeout: Duration(10 * time.Second),
			IdleTimeout: Duration(30 * time.Second), WriteTimeout: Duration(30 * time.Second)},
		RTP: RTPConfig{IP: "127.0.0.1", Ports: PortRange{Min: 10000, Max: 14999},
			MediaTimeout: Duration(60 * time.Second), InbandDTMF: true,
			Jitter: JitterConfig{Initial: Duration(50 * time.Millisecond),
				Min: Duration(20 * time.Millisecond), Max: Duration(600 * time.Millisecond)}},
		HTTP:     HTTPConfig{Addr: "127.0.0.1:8061"},
		Log:      LogConfig{Level: "info", Format: "text"},
		Recorder: RecorderConfig{Dir: "var/recordings", MaxBytes: 10 << 30},
		Waveforms: WaveformsConfig{Dir: "var/waveforms", MaxBytes: 1 << 30,
			MaxAge: Duration(7 * 24 * time.Hour)},
		Records: RecordsConfig{MaxBytes: 100 << 20, Keep: 5},
	}
}

// LoadConfig reads path over the defaults. Errors name the file and, where it is known, the key.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, cfg.Validate("")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate(path)
}

// Validate checks values that parse but make no sense, naming file and key.
func (c *Config) Validate(file string) error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config %s: key %s: %s", orFlags(file), key, fmt.Sprintf(format, args...))
	}
	for key, addr := range map[string]string{"sip.addr": c.SIP.Addr, "mrcp.addr": c.MRCP.Addr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return bad(key, "%q is not host:port", addr)
		}
	}
	for _, t := range c.SIP.Transports {
		switch t {
		case "udp", "tcp":
		case "tls":
			if c.SIP.TLSCert == "" || c.SIP.TLSKey == "" {
				return bad("sip.transports", "tls needs sip.tls_cert and sip.tls_key")
			}
		default:
			return bad("sip.transports", "unknown transport %q (udp, tcp, tls)", t)
		}
	}
	if c.RTP.Ports.Min <= 0 || c.RTP.Ports.Max > 65535 || c.RTP.Ports.Min >= c.RTP.Ports.Max {
		return bad("rtp.ports", "%s is not a port range lo-hi", c.RTP.Ports)
	}
	if _, err := server.ParseSRTPPolicy(c.RTP.SRTP); err != nil {
		return bad("rtp.srtp", "%v", err)
	}
	if c.RTP.Workers < 0 {
		return bad("rtp.workers", "%d: want 0 (one per core) or more", c.RTP.Workers)
	}
	if p := c.RTP.SharedPort; p != 0 {
		workers := c.RTP.Workers
		if workers == 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		last := p + 2*workers - 1 // worker i takes p+2i for RTP and the port above for RTCP
		switch {
		case p < 1024 || last > 65535 || p%2 != 0:
			return bad("rtp.shared_port", "%d: want an even port from 1024, with the %d ports above it to 65535 (two for each of %d workers)", p, 2*workers-1, workers)
		case last >= c.RTP.Ports.Min && p <= c.RTP.Ports.Max:
			return bad("rtp.shared_port", "%d-%d overlaps rtp.ports %s", p, last, c.RTP.Ports)
		}
	}
	if ip := net.ParseIP(c.RTP.IP); ip == nil {
		return bad("rtp.ip", "%q is not an IP address", c.RTP.IP)
	}
	if c.MRCP.TLSAddr != "" && (c.MRCP.TLSCert == "" || c.MRCP.TLSKey == "") {
		return bad("mrcp.tls_addr", "TLS needs mrcp.tls_cert and mrcp.tls_key")
	}
	for key, v := range map[string]int{"sip.max_sessions": c.SIP.MaxSessions,
		"sip.max_sessions_per_source": c.SIP.MaxSessionsPerSource, "sip.max_offer_media": c.SIP.MaxOfferMedia} {
		if v < 1 {
			return bad(key, "%d is not a positive number", v)
		}
	}
	if c.SIP.MaxOfferMedia < 2 {
		return bad("sip.max_offer_media", "%d cannot carry a control channel and its audio", c.SIP.MaxOfferMedia)
	}
	if c.MRCP.MaxMessageSize < 1024 {
		return bad("mrcp.max_message_size", "%d is below 1024 bytes", c.MRCP.MaxMessageSize)
	}
	for key, n := range map[string]int{"mrcp.max_channel_params": c.MRCP.MaxChannelParams,
		"mrcp.max_channel_grammars": c.MRCP.MaxChannelGrammars} {
		if n < 1024 {
			return bad(key, "%d is below 1024 bytes", n)
		}
	}
	for key, n := range map[string]int{"mrcp.max_connections": c.MRCP.MaxConnections,
		"mrcp.max_connections_per_host": c.MRCP.MaxConnectionsPerHost} {
		if n < 1 {
			return bad(key, "%d: at least one connection is needed", n)
		}
	}
	for key, d := range map[string]Duration{"mrcp.message_timeout": c.MRCP.MessageTimeout,
		"mrcp.idle_timeout": c.MRCP.IdleTimeout, "mrcp.write_timeout": c.MRCP.WriteTimeout} {
		if d <= 0 {
			return bad(key, "%v is not a positive duration", d.D())
		}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	if err := c.validateCapture(bad); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, p := range c.Engines.Plugins {
		key := fmt.Sprintf("engines.plugins[%d]", i)
		if p.Name == "" || p.Path == "" {
			return bad(key, "name and path are required")
		}
		if p.Kind != "recognizer" && p.Kind != "synthesizer" {
			return bad(key+".kind", "%q is not recognizer or synthesizer", p.Kind)
		}
		if names[p.Name] {
			return bad(key+".name", "%q is defined twice", p.Name)
		}
		names[p.Name] = true
	}
	return nil
}

func orFlags(file string) string {
	if file == "" {
		return "(flags)"
	}
	return file
}

// Duration accepts Go durations ("250ms", "10s") in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 250ms or 10s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) D() time.Duration { return time.Duration(d) }

// PortRange is "lo-hi" in YAML and on the command line.
type PortRange struct{ Min, Max int }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Min, r.Max) }

// Set parses "lo-hi"; it makes PortRange a flag.Value.
func (r *PortRange) Set(s string) error {
	lo, hi, ok := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not a port range like 10000-14999", s)
	}
	r.Min, r.Max = a, b
	return nil
}

func (r *PortRange) UnmarshalYAML(n *yaml.Node) error {
	if err := r.Set(n.Value); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

func (c *Config) validateCapture(bad func(key, format string, args ...any) error) error {
	if c.Recorder.MaxBytes < 0 || c.Waveforms.MaxBytes < 0 || c.Records.MaxBytes < 0 {
		return bad("max_bytes", "negative size")
	}
	if c.Waveforms.MaxAge < 0 {
		return bad("waveforms.max_age", "negative duration")
	}
	if c.Records.Keep < 0 || c.Records.Keep > 1000 {
		return bad("records.keep", "%d is not 0-1000", c.Records.Keep)
	}
	if u := c.Waveforms.URL; u != "" {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || !strings.HasSuffix(p.Path, "/") {
			return bad("waveforms.url", "%q is not an http(s) URL ending in /", u)
		}
	}
	return nil
}

// ByteSize is a size in bytes: a plain number, or one with KiB, MiB, GiB, TiB (or KB, MB, GB, TB).
type ByteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}

// ParseByteSize reads "512MiB", "10GB", "1048576".
func ParseByteSize(s string) (ByteSize, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size like 512MiB or 10GB", s)
	}
	return ByteSize(n * mult), nil
}

func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}
