package engine

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mrcpd/mrcpd/asr"
)

// mapError classifies a gRPC status from Google (or a broken connection) as an *asr.Error. The
// messages matched are Google's own: "Exceeded maximum allowed stream duration of 305 seconds." and
// "Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time."
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return asr.Errorf(asr.ErrUnavailable, true, "google: %v", err)
	}
	msg := st.Message()
	low := strings.ToLower(msg)
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		return asr.Errorf(asr.ErrAuth, false, "google: %s: %s", st.Code(), msg)
	case codes.ResourceExhausted:
		return asr.Errorf(asr.ErrQuota, true, "google: %s", msg)
	case codes.OutOfRange:
		if strings.Contains(low, "audio timeout") || strings.Contains(low, "without audio") {
			return asr.Errorf(asr.ErrIdleTimeout, true, "google: %s", msg)
		}
		return asr.Errorf(asr.ErrStreamLimit, true, "google: %s", msg)
	case codes.InvalidArgument:
		switch {
		case strings.Contains(low, "language"):
			return asr.Errorf(asr.ErrLanguage, false, "google: %s", msg)
		case strings.Contains(low, "phrase") || strings.Contains(low, "speech_context"):
			return asr.Errorf(asr.ErrBadGrammar, false, "google: %s", msg)
		}
		return asr.Errorf(asr.ErrBadParameter, false, "google: %s", msg)
	case codes.Unavailable, codes.Aborted, codes.Unknown:
		return asr.Errorf(asr.ErrUnavailable, true, "google: %s: %s", st.Code(), msg)
	case codes.DeadlineExceeded:
		return asr.Errorf(asr.ErrUnavailable, true, "google: %s", msg)
	case codes.Canceled:
		return context.Canceled
	}
	return asr.Errorf(asr.ErrInternal, false, "google: %s: %s", st.Code(), msg)
}

// mapStatusProto classifies the google.rpc.Status a response carries in its error field.
func mapStatusProto(code int32, msg string) error {
	return mapError(status.Error(codes.Code(code), msg))
}
