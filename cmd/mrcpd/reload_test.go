package main

import (
	"reflect"
	"testing"
	"time"
)

// changedKeys names each changed key by its YAML path, descending into sections but not into
// values such as port ranges or plugin lists.
func TestChangedKeys(t *testing.T) {
	a := DefaultConfig()
	b := DefaultConfig()
	b.Log.Level = "debug"
	b.RTP.Ports = PortRange{Min: 20000, Max: 20100}
	b.RTP.Jitter.Max = Duration(time.Second)
	b.Engines.Plugins = []PluginConfig{{Name: "x"}}
	got := changedKeys(reflect.ValueOf(a), reflect.ValueOf(b), "")
	want := []string{"rtp.ports", "rtp.jitter.max", "log.level", "engines.plugins"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changedKeys = %q, want %q", got, want)
	}
	for _, k := range got {
		if live := isLive(k); live != (k == "log.level" || k == "engines.plugins") {
			t.Errorf("isLive(%q) = %v", k, live)
		}
	}
}
