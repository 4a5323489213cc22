package synthkit

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

func TestLevels(t *testing.T) {
	l := Levels[int]{1, 2, 3, 4, 5}
	for _, tc := range []struct {
		fn     func(string) (int, bool)
		in     string
		want   int
		wantOK bool
	}{
		{l.Rate, "x-slow", 1, true}, {l.Rate, " Fast ", 4, true}, {l.Rate, "", 3, true}, {l.Rate, "default", 3, true},
		{l.Rate, "loud", 0, false}, {l.Rate, "silent", 0, false}, {l.Rate, "1.5", 0, false},
		{l.Pitch, "x-high", 5, true}, {l.Pitch, "LOW", 2, true}, {l.Pitch, "medium", 3, true}, {l.Pitch, "slow", 0, false},
		{l.Volume, "silent", 0, true}, {l.Volume, "x-soft", 1, true}, {l.Volume, "x-loud", 5, true}, {l.Volume, "50", 0, false},
	} {
		if got, ok := tc.fn(tc.in); got != tc.want || ok != tc.wantOK {
			t.Errorf("%q -> %d %v, want %d %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestRelativeAndAbsolute(t *testing.T) {
	for _, tc := range []struct {
		in       string
		rel      float64
		abs      float64
		absolute bool
	}{
		{"1.5", 1.5, 1.5, true}, {"+20%", 1.2, 0, false}, {"-10%", 0.9, 0, false}, {"0", 1, 0, true},
		{"-2", 1, 0, false}, {"fast", 1, 0, false}, {" 2 ", 2, 0, false}, {"x%", 1, 0, false},
	} {
		if got := Relative(tc.in); got != tc.rel {
			t.Errorf("Relative(%q) = %v, want %v", tc.in, got, tc.rel)
		}
		if got, ok := AbsoluteVolume(tc.in); got != tc.abs || ok != tc.absolute {
			t.Errorf("AbsoluteVolume(%q) = %v %v, want %v %v", tc.in, got, ok, tc.abs, tc.absolute)
		}
	}
}

func TestOutputRate(t *testing.T) {
	for _, tc := range []struct {
		in, want int
		bad      bool
	}{{0, 8000, false}, {-1, 8000, false}, {16000, 16000, false}, {48000, 48000, false}, {48001, 0, true}} {
		got, err := OutputRate("x", tc.in)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("OutputRate(%d) = %d, %v", tc.in, got, err)
		}
		if tc.bad && asr.KindOf(err) != asr.ErrBadParameter {
			t.Errorf("OutputRate(%d): %v is not ErrBadParameter", tc.in, err)
		}
	}
}

func TestPipe(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		fail   error
		cancel bool
		want   error
	}{{"eof", nil, false, io.EOF}, {"failed", boom, false, boom}, {"cancelled", nil, true, context.Canceled}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := NewPipe[int](ctx, 1)
			if !p.Send(7) {
				t.Fatal("Send on an open pipe failed")
			}
			if v, err := p.Recv(); v != 7 || err != nil {
				t.Fatalf("Recv = %d, %v", v, err)
			}
			if tc.cancel {
				cancel()
				if p.Send(8) && p.Send(9) {
					t.Fatal("Send kept succeeding after cancel")
				}
			}
			p.Fail(tc.fail)
			p.Close()
			for {
				_, err := p.Recv()
				if err == nil {
					continue // a piece buffered before the cancel
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("Recv at end = %v, want %v", err, tc.want)
				}
				break
			}
		})
	}
}
