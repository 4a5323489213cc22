package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means success
	}{
		{"empty file keeps defaults", "", ""},
		{"shipped keys", "sip:\n  addr: 127.0.0.1:9000\nrtp:\n  ports: 20000-20100\n", ""},
		{"unknown top-level key", "sipp:\n  addr: x\n", "field sipp not found"},
		{"unknown nested key", "rtp:\n  jitter:\n    maximum: 1s\n", "field maximum not found"},
		{"bad duration", "mrcp:\n  connect_timeout: soon\n", "not a duration"},
		{"bad port range", "rtp:\n  ports: 5000\n", "not a port range"},
		{"inverted port range", "rtp:\n  ports: 6000-5000\n", "key rtp.ports"},
		{"bad address", "sip:\n  addr: nowhere\n", "key sip.addr"},
		{"tls without cert", "sip:\n  transports: [udp, tls]\n", "key sip.transports"},
		{"srtp unknown", "rtp:\n  srtp: on\n", "key rtp.srtp"},
		{"srtp required", "rtp:\n  srtp: required\n", ""},
		{"shared port", "rtp:\n  shared_port: 9000\n  workers: 2\n", ""},
		{"shared port odd", "rtp:\n  shared_port: 9001\n", "key rtp.shared_port"},
		{"shared port in range", "rtp:\n  shared_port: 10100\n", "key rtp.shared_port"},
		{"shared ports reach the range", "rtp:\n  shared_port: 9996\n  workers: 3\n", "key rtp.shared_port"},
		{"shared port past 65535", "rtp:\n  shared_port: 65534\n  workers: 2\n", "key rtp.shared_port"},
		{"no connections", "mrcp:\n  max_connections_per_host: 0\n", "key mrcp.max_connections_per_host"},
		{"zero idle timeout", "mrcp:\n  idle_timeout: 0s\n", "key mrcp.idle_timeout"},
		{"capture keys", "recorder:\n  max_bytes: 2GiB\nwaveforms:\n  max_age: 24h\n  max_bytes: 500MB\n  url: https://mrcpd.example/w/\nrecords:\n  path: \"-\"\n", ""},
		{"bad size", "recorder:\n  max_bytes: lots\n", "not a size"},
		{"bad waveform url", "waveforms:\n  url: ftp://x/\n", "key waveforms.url"},
		{"plugin without kind", "engines:\n  plugins:\n    - {name: x, path: /bin/true}\n", "engines.plugins[0].kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mrcpd.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("want error containing %q, got none", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), path):
				t.Fatalf("error %q does not name the file %s", err, path)
			}
		})
	}
}

func TestFlagsOverrideConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mrcpd.yaml")
	os.WriteFile(path, []byte("sip:\n  addr: 127.0.0.1:9000\n"), 0o600)
	o, err := parseFlags([]string{"--config", path, "--sip-addr", "127.0.0.1:9100", "--rtp-ports", "30000-30010"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SIP.Addr != "127.0.0.1:9100" || cfg.RTP.Ports != (PortRange{30000, 30010}) {
		t.Fatalf("flags did not override: %+v %+v", cfg.SIP, cfg.RTP.Ports)
	}
	if cfg.MRCP.Addr != "127.0.0.1:1544" {
		t.Fatalf("default lost: %s", cfg.MRCP.Addr)
	}
}

func TestDefaultRTPRangeAvoidsFreeSWITCH(t *testing.T) {
	r := DefaultConfig().RTP.Ports
	if r.Max >= 16384 && r.Min <= 32768 {
		t.Fatalf("default RTP range %s overlaps FreeSWITCH's 16384-32768", r)
	}
}

// The configuration `make run` uses must load.
func TestShippedConfig(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("..", "..", "conf", "mrcpd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Engines.Plugins) < 2 || cfg.Engines.Synthesizer == "" || cfg.Engines.Recognizer == "" {
		t.Fatalf("shipped config runs no engine: %+v", cfg.Engines)
	}
}
