package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/mrcpd/mrcpd/asr"
)

// A recognition whose start is too large for the process's shared stream (gRPC refuses messages
// over 4 MB, and a refused message ends the Streams RPC of every session on that process) fails
// alone with ErrBadParameter; a recognition running beside it is untouched (issue 12, item 6).
func TestOversizeStartFailsAlone(t *testing.T) {
	h := startNoop(t, nil)
	rec := h.Recognizer()
	ctx := context.Background()
	other, err := rec.Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Recv(); err != nil { // Ready: the process's stream is up
		t.Fatal(err)
	}
	big := map[string]string{}
	for i := range 5000 {
		big[fmt.Sprintf("k%d", i)] = strings.Repeat("v", 1000)
	}
	s, err := rec.Recognize(ctx, asr.RecognizeRequest{SampleRate: 8000, Params: big})
	if err == nil {
		s.Close()
		t.Fatal("a 5 MB start was sent")
	}
	if asr.KindOf(err) != asr.ErrBadParameter {
		t.Fatalf("got %v, want ErrBadParameter", err)
	}
	other.Send(&asr.DTMF{Digit: '7'})
	other.Send(&asr.FinalizeInput{})
	evs, err := recvAll(t, other)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("the other recognition: %v", err)
	}
	if f, ok := evs[0].(*asr.Final); !ok || f.Alternatives[0].Text != "7" {
		t.Fatalf("the other recognition: %#v", evs)
	}
}
