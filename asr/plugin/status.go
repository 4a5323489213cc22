package plugin

import (
	"context"
	"errors"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mrcpd/mrcpd/asr"
)

// Unary RPC errors carry the asr.Error kind in the status message, "kind|retryable|message", so
// that a typed error survives the boundary without a details proto.
func toStatus(err error) error {
	e, ok := asError(err)
	if !ok {
		e = &asr.Error{Kind: asr.ErrInternal, Message: err.Error()}
	}
	r := "0"
	if e.Retryable {
		r = "1"
	}
	code := codes.Unknown
	switch e.Kind {
	case asr.ErrUnavailable:
		code = codes.Unavailable
	case asr.ErrAuth:
		code = codes.Unauthenticated
	case asr.ErrQuota:
		code = codes.ResourceExhausted
	case asr.ErrBadParameter, asr.ErrBadGrammar, asr.ErrLanguage:
		code = codes.InvalidArgument
	}
	return status.Error(code, e.Kind.String()+"|"+r+"|"+e.Message)
}

// fromRPC turns an error of a gRPC call into what the asr contract promises: the caller's own
// ctx.Err() when it cancelled, an *asr.Error otherwise (the process being gone is ErrUnavailable).
func fromRPC(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	if e, ok := asError(err); ok {
		return e
	}
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
			if e, ok := asError(cause); ok {
				return e
			}
		}
		return ctx.Err()
	}
	st, _ := status.FromError(err)
	if parts := strings.SplitN(st.Message(), "|", 3); len(parts) == 3 && (parts[1] == "0" || parts[1] == "1") {
		return &asr.Error{Kind: kindFromString(parts[0]), Retryable: parts[1] == "1", Message: parts[2]}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled, codes.Aborted, codes.DeadlineExceeded:
		return asr.Errorf(asr.ErrUnavailable, true, "plugin: %s", st.Message())
	case codes.Unimplemented:
		return asr.Errorf(asr.ErrUnavailable, false, "plugin does not implement it: %s", st.Message())
	}
	return asr.Errorf(asr.ErrInternal, false, "plugin: %v", err)
}
