package plugin

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mrcpd/mrcpd/asr"
	"github.com/mrcpd/mrcpd/asr/asrtest"
	"github.com/mrcpd/mrcpd/media"
	"github.com/mrcpd/mrcpd/media/audio"
)

// The process-boundary cost target: 500 concurrent real-time recognition streams through the
// external no-op plugin cost at most 1.5x the CPU (host + plugin process) of the same 500
// streams through the in-process no-op, and no frame waits more than 40 ms to cross.
// cmd/mrcpd's BenchmarkRecognize500 measures the CPU part on mrcpd's real recognition streams
// (SIP, RTP, endpointing: 1.2x). These micro-benchmarks isolate the boundary: against an empty
// loop it costs about 2x, with the host's per-frame media work 1.3x; they also measure the wait.
//
//	go test -run '^$' -bench 'Streams500' -benchtime 1x ./asr/plugin/
//
// Each op is 500 streams x 2 s of 8 kHz audio in 20 ms frames, paced in real time like the RTP
// receiver does; cpu-ms/op is user+system time of this process plus the plugin's.

const (
	benchStreams = 500
	benchFrames  = 100 // 2 s
)

func BenchmarkInProcessStreams500(b *testing.B) {
	runStreams(b, &asrtest.Noop{}, nil, false)
}

// The ...Media twins add the per-frame work the host does for every recognition anyway (the
// fallback VAD, and resampling 8 kHz telephone audio to the engine's 16 kHz), so the ratio is of
// the boundary against a realistic session rather than against an empty loop.
func BenchmarkInProcessStreams500Media(b *testing.B) {
	runStreams(b, &asrtest.Noop{}, nil, true)
}

func BenchmarkPluginStreams500(b *testing.B)      { benchPlugin(b, false) }
func BenchmarkPluginStreams500Media(b *testing.B) { benchPlugin(b, true) }

func benchPlugin(b *testing.B, media bool) {
	var mu sync.Mutex
	var waits []time.Duration
	h := startNoop(b, func(c *HostConfig) {
		c.PingTimeout = 5 * time.Second
		c.waitHook = func(d time.Duration) {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
		}
	})
	runStreams(b, h.Recognizer(), h.PIDs(), media)
	// The oldest frame of each flush; a loaded machine's scheduling delays show in the tail.
	slices.Sort(waits)
	if len(waits) > 0 {
		b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds())/1000, "p99-wait-ms")
		b.ReportMetric(float64(waits[len(waits)-1].Microseconds())/1000, "max-wait-ms")
		b.ReportMetric(float64(len(waits))/float64(b.N), "batches/op")
	}
}

func runStreams(b *testing.B, rec asr.Recognizer, pids []int, media bool) {
	frame := make([]int16, 160)
	var cpu, child time.Duration
	for b.Loop() {
		before, childBefore := cpuTime(b, pids), cpuTime(b, pids)-cpuTime(b, nil)
		var wg sync.WaitGroup
		errs := make(chan error, benchStreams)
		for i := 0; i < benchStreams; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- oneStream(rec, frame, media)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		after := cpuTime(b, pids)
		cpu += after - before
		child += after - cpuTime(b, nil) - childBefore
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	if len(pids) > 0 {
		b.ReportMetric(float64(child.Milliseconds())/float64(b.N), "plugin-cpu-ms/op")
	}
}

func oneStream(rec asr.Recognizer, frame []int16, withMedia bool) error {
	rate := 8000
	var rs *audio.Resampler
	var vad *media.VAD
	if withMedia {
		rate = 16000
		rs = audio.NewResampler(8000, 16000)
		vad = media.NewVAD(media.VADConfig{SampleRate: 16000, Sensitivity: 0.5})
	}
	s, err := rec.Recognize(context.Background(), asr.RecognizeRequest{SampleRate: rate})
	if err != nil {
		return err
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for i := 0; i < benchFrames; i++ {
		<-t.C
		pcm := frame
		if withMedia {
			pcm = rs.Process(make([]int16, 0, 2*len(frame)), frame)
			vad.Process(pcm)
		}
		if err := s.Send(&asr.Audio{PCM: pcm}); err != nil {
			return err
		}
	}
	if err := s.Send(&asr.FinalizeInput{}); err != nil {
		return err
	}
	return <-done
}

// cpuTime is user+system CPU of this process and the given children so far.
func cpuTime(b *testing.B, pids []int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the parenthesised command name; utime and stime are the 14th and 15th
		// fields overall, in clock ticks (USER_HZ, 100 on Linux).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		d += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return d
}
