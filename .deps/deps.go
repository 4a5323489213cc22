//go:build deps

// Package deps pins the chosen dependencies in go.mod until code imports them. Removed once all are used.
package deps

import (
	_ "github.com/emiago/sipgo"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/percipia/eslgo"
	_ "github.com/pion/rtp"
	_ "github.com/pion/sdp/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/zaf/g711"
	_ "go.uber.org/goleak"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
	_ "gopkg.in/hraban/opus.v2"
)
