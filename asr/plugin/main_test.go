package plugin

import (
	"os"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr/asrtest"
)

// The test binary doubles as a no-op plugin: Start runs os.Args[0] with this variable set.
const envServeNoop = "MRCPD_TEST_SERVE_NOOP"

// envPluginProfile names a file for a CPU profile of the no-op plugin process, written after
// envPluginProfileSecs (default 10) seconds: the host kills the process, so it cannot be written
// at exit. Benchmarks pass it on to the child with the rest of the environment.
const (
	envPluginProfile     = "MRCPD_TEST_PLUGIN_CPUPROFILE"
	envPluginProfileSecs = "MRCPD_TEST_PLUGIN_CPUPROFILE_SECS"
)

func TestMain(m *testing.M) {
	if os.Getenv(envServeNoop) != "" {
		if path := os.Getenv(envPluginProfile); path != "" {
			profilePlugin(path)
		}
		settings, err := Settings()
		if err != nil {
			panic(err)
		}
		Serve(ServeConfig{Recognizer: &asrtest.Noop{LimitStreams: 1, Settings: settings}, Synthesizer: asrtest.NoopSynth{}})
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func profilePlugin(path string) {
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	secs, _ := strconv.Atoi(os.Getenv(envPluginProfileSecs))
	if secs <= 0 {
		secs = 10
	}
	time.AfterFunc(time.Duration(secs)*time.Second, func() {
		pprof.StopCPUProfile()
		f.Close()
	})
}
