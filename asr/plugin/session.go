package plugin

import (
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// session is the host end of one process's Streams RPC: the mux sends every stream's inputs,
// recvLoop hands every stream's events to it.
type session struct {
	mux *mux

	mu      sync.Mutex
	streams map[uint64]*recStream
}

func (ss *session) add(s *recStream) {
	ss.mu.Lock()
	ss.streams[s.id] = s
	ss.mu.Unlock()
}

func (ss *session) remove(id uint64) {
	ss.mu.Lock()
	delete(ss.streams, id)
	ss.mu.Unlock()
}

// recvLoop delivers events until the RPC breaks, which means the process is gone: fail then
// cancels every stream of the process with ErrUnavailable.
func (ss *session) recvLoop(rpc pb.Recognizer_StreamsClient, fail func(error)) {
	for {
		b, err := rpc.Recv()
		if err != nil {
			fail(asr.Errorf(asr.ErrUnavailable, true, "plugin stream channel broke: %v", err))
			return
		}
		ss.mu.Lock()
		for _, e := range b.Events {
			s := ss.streams[e.StreamId]
			if s == nil {
				continue // cancelled by the host; its last events have no reader
			}
			if e.End {
				delete(ss.streams, e.StreamId)
			}
			s.deliver(e)
		}
		ss.mu.Unlock()
	}
}
