package plugin

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/mrcpd/mrcpd/asr/asrtest"
)

// The test binary doubles as a no-op plugin: Start runs os.Args[0] with this variable set.
const envServeNoop = "MRCPD_TEST_SERVE_NOOP"

func TestMain(m *testing.M) {
	if os.Getenv(envServeNoop) != "" {
		settings, err := Settings()
		if err != nil {
			panic(err)
		}
		Serve(ServeConfig{Recognizer: &asrtest.Noop{LimitStreams: 1, Settings: settings}, Synthesizer: asrtest.NoopSynth{}})
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
