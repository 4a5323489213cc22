package plugin

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"time"

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
	p := &pluginSession{ctx: ctx, impl: s.impl, srv: srv, codec: s.codec, streams: map[uint64]*pluginStream{},
		out: outbox{signal: make(chan struct{}, 1)}, ended: make(chan error, 1), token: 1}
	sent := make(chan error, 1)
	go func() { sent <- p.sendLoop(srv) }()
	p.dog = time.AfterFunc(time.Hour, p.watch)
	p.dog.Stop()
	p.wg.Add(1)
	go p.dispatch(1, nil, 0)
	err := <-p.ended
	cancel()
	p.dmu.Lock()
	p.closed = true
	p.dmu.Unlock()
	p.dog.Stop()
	p.wg.Wait()
	if serr := <-sent; err == nil {
		err = serr
	}
	return err
}

// pluginSession hands inputs to engines from the goroutine that receives them, which costs far
// less than waking a goroutine per stream per batch. An engine whose Send blocks must not hold up
// the other streams, so a watchdog, armed while a batch is delivered, hands the rest of the work
// to a new dispatcher when one Send lasts a whole tick; that stream's inputs then go through a
// goroutine of their own.
type pluginSession struct {
	ctx   context.Context
	impl  asr.Recognizer
	codec *codec
	srv   pb.Recognizer_StreamsServer
	wg    sync.WaitGroup
	out   outbox
	ended chan error // the dispatcher's receive failed; nil when the host ended the RPC

	mu      sync.Mutex
	streams map[uint64]*pluginStream

	dmu        sync.Mutex // guards the dispatcher's state below, shared with the watchdog
	token      uint64     // the current dispatcher's; a stuck one finds it changed
	inSend     bool       // the dispatcher is in an engine's Send
	sends      uint64     // Sends begun, so the watchdog tells a stuck one from the next
	rest       []delivery // what is left of the batch after the current Send
	curr       *pluginStream
	seen       uint64      // sends at the watchdog's last look
	dog        *time.Timer // the watchdog, armed while a batch is delivered
	closed     bool
	delivering bool // a dispatcher is in deliver
}

// watchdogTick bounds how long a blocking engine holds up the other streams' audio, once: after
// that its inputs go through their own goroutine.
const watchdogTick = 5 * time.Millisecond

type delivery struct {
	st *pluginStream
	in asr.Input
}

type pluginStream struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	engine asr.RecognitionStream // nil until the engine's Recognize returned
	queue  []asr.Input           // inputs waiting for the engine or for a goroutine in its Send
	busy   bool                  // a goroutine is in the engine's Send or drains queue
	slow   bool                  // a Send blocked the dispatcher: inputs go through drain
	dead   bool                  // the stream ended: inputs are dropped
}

// dispatch receives batches and delivers them, starting with what a stuck predecessor left.
// The batch message and the decoded audio are the dispatcher's own and serve every batch: an
// engine copies what it keeps of an asr.Audio once Send returns, and deliver copies what it
// queues. A dispatcher the watchdog replaced leaves them to the deliveries it handed over.
func (p *pluginSession) dispatch(token uint64, list []delivery, pos int) {
	defer p.wg.Done()
	var b pb.InputBatch
	var a arena
	for {
		if !p.deliver(token, list, pos) {
			return
		}
		clear(list)
		a.reset()
		if err := p.srv.RecvMsg(&b); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			p.ended <- err
			return
		}
		list, pos = p.flatten(&b, list[:0], &a), 0
	}
}

// arena holds the samples and asr.Audio inputs of one batch, reused for the next.
type arena struct {
	pcm   []int16
	audio []asr.Audio
}

func (a *arena) reset() {
	clear(a.audio)
	a.pcm, a.audio = a.pcm[:0], a.audio[:0]
}

// add returns an input for pcm[lo:hi]. Should a.audio or a.pcm grow, what was handed out
// stays in the old arrays, valid until the batch is delivered.
func (a *arena) add(lo, hi int) *asr.Audio {
	a.audio = append(a.audio, asr.Audio{PCM: a.pcm[lo:hi:hi]})
	return &a.audio[len(a.audio)-1]
}

// flatten turns a batch into deliveries in each stream's order, starting and cancelling streams
// on the way: first the audio field, then the inputs (see InputBatch).
func (p *pluginSession) flatten(b *pb.InputBatch, list []delivery, a *arena) []delivery {
	var audio [][]byte
	if p.codec != nil {
		audio = p.codec.audio(b)
		defer p.codec.release(b) // the audio, in the received buffers, is decoded into a below
	} else if b.Audio != nil {
		audio = [][]byte{b.Audio} // the stock codec's
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := min(len(b.AudioStreams), len(b.AudioLengths)); n > 0 {
		a.pcm = appendDecodedPieces(a.pcm, audio)
		a.audio = slices.Grow(a.audio, n)
		size := 2 * len(a.pcm)
		off := 0
		for i, id := range b.AudioStreams[:n] {
			l := int(b.AudioLengths[i])
			if l%2 != 0 || off+l > size {
				break // not from a host of this protocol
			}
			lo, hi := off/2, (off+l)/2
			off += l
			if st := p.streams[id]; st != nil {
				list = append(list, delivery{st, a.add(lo, hi)})
			}
		}
	}
	for _, e := range b.Inputs {
		if start := e.Input.GetStart(); start != nil {
			p.start(e.StreamId, start)
			continue
		}
		st := p.streams[e.StreamId]
		switch {
		case st == nil:
			// The stream has ended: its late inputs have no reader.
		case e.Input == nil:
			lo := len(a.pcm)
			a.pcm = appendDecodedPCM(a.pcm, e.Pcm)
			list = append(list, delivery{st, a.add(lo, len(a.pcm))})
		case e.Input.GetCancel() != nil:
			st.cancel()
		default:
			if in := inputFromPB(e.Input); in != nil {
				list = append(list, delivery{st, in})
			}
		}
	}
	return list
}

// deliver calls the engines' Send for list[pos:], and reports false when the watchdog handed the
// rest to another dispatcher while this one was stuck.
func (p *pluginSession) deliver(token uint64, list []delivery, pos int) bool {
	if pos >= len(list) {
		return true
	}
	p.dmu.Lock()
	p.seen, p.delivering = p.sends, true
	p.dog.Reset(watchdogTick)
	p.dmu.Unlock()
	for i := pos; i < len(list); i++ {
		st, in := list[i].st, list[i].in
		st.mu.Lock()
		if st.dead || st.engine == nil || st.busy || st.slow || len(st.queue) > 0 {
			p.enqueue(st, in)
			st.mu.Unlock()
			continue
		}
		st.busy = true
		st.mu.Unlock()

		p.dmu.Lock()
		p.inSend, p.rest, p.curr = true, list[i+1:], st
		p.sends++
		p.dmu.Unlock()
		// A failed Send is the engine's to report through Recv.
		_ = st.engine.Send(in)
		p.dmu.Lock()
		owner := p.token == token
		if owner {
			p.inSend, p.rest, p.curr = false, nil, nil
		}
		p.dmu.Unlock()
		if !owner {
			p.drain(st)
			return false
		}
		st.mu.Lock()
		st.busy = false
		if len(st.queue) > 0 {
			p.startDrain(st)
		}
		st.mu.Unlock()
	}
	p.dmu.Lock()
	if p.token == token {
		p.delivering = false
		p.dog.Stop()
	}
	p.dmu.Unlock()
	return true
}

// enqueue queues an input for drain; st.mu is held. Audio is copied: the batch's buffers serve
// the next batch once this one is delivered.
func (p *pluginSession) enqueue(st *pluginStream, in asr.Input) {
	if st.dead {
		return
	}
	if a, ok := in.(*asr.Audio); ok {
		in = &asr.Audio{PCM: slices.Clone(a.PCM)}
	}
	st.queue = append(st.queue, in)
	if st.engine != nil && !st.busy {
		p.startDrain(st)
	}
}

// startDrain starts a goroutine that sends st's queue; st.mu is held.
func (p *pluginSession) startDrain(st *pluginStream) {
	st.busy = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.drain(st)
	}()
}

// drain sends st's queued inputs until none is left; the caller has set st.busy.
func (p *pluginSession) drain(st *pluginStream) {
	var batch []asr.Input
	for {
		st.mu.Lock()
		if len(st.queue) == 0 || st.dead || st.ctx.Err() != nil {
			clear(st.queue)
			st.queue = st.queue[:0]
			st.busy = false
			st.mu.Unlock()
			return
		}
		batch = append(batch[:0], st.queue...)
		clear(st.queue)
		st.queue = st.queue[:0]
		eng := st.engine
		st.mu.Unlock()
		for _, in := range batch {
			_ = eng.Send(in)
		}
		clear(batch)
	}
}

// watch runs when the watchdog fires: it replaces a dispatcher that has been in one engine's
// Send since the last look.
func (p *pluginSession) watch() {
	p.dmu.Lock()
	if p.closed || !p.delivering {
		p.dmu.Unlock()
		return
	}
	if !p.inSend || p.sends != p.seen {
		p.seen = p.sends
		p.dog.Reset(watchdogTick)
		p.dmu.Unlock()
		return
	}
	p.token++
	token, rest, st := p.token, p.rest, p.curr
	p.inSend, p.rest, p.curr = false, nil, nil
	p.wg.Add(1)
	p.dmu.Unlock()
	st.mu.Lock()
	st.slow = true
	st.mu.Unlock()
	go p.dispatch(token, rest, 0)
}

// start registers the stream before its engine exists, so that its inputs queue while the
// engine prepares (loading a grammar may take a while) without holding up the other streams;
// p.mu is held.
func (p *pluginSession) start(id uint64, start *pb.RecognizeStart) {
	if p.streams[id] != nil {
		return // a host never reuses an id on a connection
	}
	ctx, cancel := context.WithCancel(p.ctx)
	st := &pluginStream{ctx: ctx, cancel: cancel}
	p.streams[id] = st
	p.wg.Add(1)
	go p.run(id, st, start)
}

// run is one recognition: it creates the engine's stream and sends its events.
func (p *pluginSession) run(id uint64, st *pluginStream, start *pb.RecognizeStart) {
	defer p.wg.Done()
	defer func() {
		st.cancel()
		st.mu.Lock()
		st.dead = true
		st.mu.Unlock()
		p.mu.Lock()
		delete(p.streams, id)
		p.mu.Unlock()
		p.out.push(&pb.StreamEvent{StreamId: id, End: true})
	}()
	stream, err := p.impl.Recognize(st.ctx, startFromPB(start))
	if err != nil {
		p.out.push(&pb.StreamEvent{StreamId: id, Event: errorEvent(err)})
		return
	}
	defer stream.Close()
	// The host's Cancel, or the connection ending, stops the engine even if it ignores ctx.
	stop := context.AfterFunc(st.ctx, func() { stream.Close() })
	defer stop()
	st.mu.Lock()
	st.engine = stream
	if len(st.queue) > 0 && !st.busy {
		p.startDrain(st)
	}
	st.mu.Unlock()
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if st.ctx.Err() == nil {
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
	gap := newBurstGap()
	defer gap.stop()
	for {
		select {
		case <-p.ctx.Done():
			return nil
		case <-p.out.signal:
			if gap.wait() {
				continue
			}
		case <-gap.c:
		}
		gap.sent()
		batch = p.out.take(batch)
		if len(batch) == 0 {
			continue
		}
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
	fixUTF8(e.ProtoReflect()) // an engine's Latin-1 text must not stop every stream's events
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
