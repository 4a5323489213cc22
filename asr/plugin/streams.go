package plugin

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/mrcpd/mrcpd/asr"
	pb "github.com/mrcpd/mrcpd/asr/pluginpb"
)

// This file is the plugin end of the Streams RPC: every recognition of the connection, each a
// logical stream with its own context, engine stream and goroutines, multiplexed over one gRPC
// stream whose messages batch many streams' inputs and events.

// Streams runs recognitions until the host ends the RPC or the connection breaks, which cancels
// every stream still running.
func (s *recognizerServer) Streams(srv pb.Recognizer_StreamsServer) error {
	ctx, cancel := context.WithCancel(srv.Context())
	p := &pluginSession{ctx: ctx, impl: s.impl, streams: map[uint64]*pluginStream{},
		out: outbox{signal: make(chan struct{}, 1)}}
	sent := make(chan error, 1)
	go func() { sent <- p.sendLoop(srv) }()
	err := p.recvLoop(srv)
	cancel()
	p.wg.Wait()
	if serr := <-sent; err == nil {
		err = serr
	}
	return err
}

type pluginSession struct {
	ctx  context.Context
	impl asr.Recognizer
	wg   sync.WaitGroup
	out  outbox

	mu      sync.Mutex
	streams map[uint64]*pluginStream
}

type pluginStream struct {
	cancel context.CancelFunc
	box    *inbox
}

func (p *pluginSession) recvLoop(srv pb.Recognizer_StreamsServer) error {
	for {
		b, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p.dispatch(b)
	}
}

// dispatch hands each input to its stream's inbox, starting and cancelling streams on the way.
func (p *pluginSession) dispatch(b *pb.InputBatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range b.Inputs {
		if start := e.Input.GetStart(); start != nil {
			p.start(e.StreamId, start)
			continue
		}
		st := p.streams[e.StreamId]
		if st == nil {
			continue // the stream has ended: its late inputs have no reader
		}
		if e.Input == nil {
			st.box.push(&asr.Audio{PCM: decodePCM(e.Pcm)})
			continue
		}
		if e.Input.GetCancel() != nil {
			st.cancel()
			continue
		}
		if in := inputFromPB(e.Input); in != nil {
			st.box.push(in)
		}
	}
}

// start registers the stream before its engine exists, so that its inputs queue while the
// engine prepares (loading a grammar may take a while) without holding up the other streams.
func (p *pluginSession) start(id uint64, start *pb.RecognizeStart) {
	if p.streams[id] != nil {
		return // a host never reuses an id on a connection
	}
	ctx, cancel := context.WithCancel(p.ctx)
	st := &pluginStream{cancel: cancel, box: &inbox{signal: make(chan struct{}, 1)}}
	p.streams[id] = st
	p.wg.Add(1)
	go p.run(ctx, id, st, start)
}

// run is one recognition: the engine's events go out from here, its inputs go in from feed.
func (p *pluginSession) run(ctx context.Context, id uint64, st *pluginStream, start *pb.RecognizeStart) {
	defer p.wg.Done()
	defer func() {
		st.cancel()
		p.mu.Lock()
		delete(p.streams, id)
		p.mu.Unlock()
		p.out.push(&pb.StreamEvent{StreamId: id, End: true})
	}()
	stream, err := p.impl.Recognize(ctx, startFromPB(start))
	if err != nil {
		p.out.push(&pb.StreamEvent{StreamId: id, Event: errorEvent(err)})
		return
	}
	defer stream.Close()
	fed := make(chan struct{})
	defer func() {
		st.cancel()
		<-fed
	}()
	go func() {
		defer close(fed)
		feed(ctx, st.box, stream)
	}()
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				p.out.push(&pb.StreamEvent{StreamId: id, Event: errorEvent(err)})
			}
			return
		}
		if m := eventToPB(ev); m != nil {
			p.out.push(&pb.StreamEvent{StreamId: id, Event: m})
		}
	}
}

func errorEvent(err error) *pb.RecognizeEvent {
	return &pb.RecognizeEvent{Event: &pb.RecognizeEvent_Error{Error: errorToPB(err)}}
}

// sendLoop sends whatever events queued up since its last send as one message: under load
// many streams' events share a message, and a lone event goes out at once.
func (p *pluginSession) sendLoop(srv pb.Recognizer_StreamsServer) error {
	var msg pb.EventBatch
	var batch []*pb.StreamEvent
	for {
		select {
		case <-p.ctx.Done():
			return nil
		case <-p.out.signal:
		}
		batch = p.out.take(batch)
		msg.Events = batch
		if err := srv.Send(&msg); err != nil {
			return err
		}
		clear(batch)
	}
}

// outbox queues events of every stream for sendLoop; pushing never blocks an engine.
type outbox struct {
	mu     sync.Mutex
	queue  []*pb.StreamEvent
	signal chan struct{}
}

func (o *outbox) push(e *pb.StreamEvent) {
	o.mu.Lock()
	o.queue = append(o.queue, e)
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

func (o *outbox) take(dst []*pb.StreamEvent) []*pb.StreamEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	dst = append(dst[:0], o.queue...)
	clear(o.queue)
	o.queue = o.queue[:0]
	return dst
}

// inbox queues one stream's inputs. It never blocks the dispatch: one slow engine must not hold
// up the other streams' audio.
type inbox struct {
	mu     sync.Mutex
	queue  []asr.Input
	signal chan struct{}
}

func (b *inbox) push(in asr.Input) {
	b.mu.Lock()
	b.queue = append(b.queue, in)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

func (b *inbox) take(dst []asr.Input) []asr.Input {
	b.mu.Lock()
	defer b.mu.Unlock()
	dst = append(dst[:0], b.queue...)
	clear(b.queue)
	b.queue = b.queue[:0]
	return dst
}

// feed passes queued inputs to the engine in order until the stream ends.
func feed(ctx context.Context, box *inbox, stream asr.RecognitionStream) {
	var batch []asr.Input
	for {
		select {
		case <-ctx.Done():
			stream.Close()
			return
		case <-box.signal:
		}
		batch = box.take(batch)
		for _, in := range batch {
			// A failed Send is the engine's to report through Recv; keep draining.
			_ = stream.Send(in)
		}
		clear(batch)
	}
}
