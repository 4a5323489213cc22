package engine

import (
	"context"
	"sync"
)

// Bounds on what one pooled decoder accumulates before it is rebuilt from scratch: every grammar
// adds words to the dictionary and a compiled search.
const (
	maxDecoderWords    = 2000
	maxDecoderSearches = 16
)

// pool hands out decoders exclusively (ps_decoder_t is not thread-safe) and keeps a few idle ones
// loaded, preferring one that already compiled the wanted search.
type pool struct {
	create func(kind decoderKind) (*decoder, error)
	slots  chan struct{} // one token per decoder in use

	mu      sync.Mutex
	idle    []*decoder // most recently used last
	maxIdle int        // 0 once closed
}

func newPool(size, maxIdle int, create func(kind decoderKind) (*decoder, error)) *pool {
	return &pool{create: create, slots: make(chan struct{}, size), maxIdle: maxIdle}
}

// get waits for a free slot and returns a decoder of the wanted kind: never one loaded with
// another kind's dictionary, language model or means.
func (p *pool) get(ctx context.Context, kind decoderKind, search string) (*decoder, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if d := p.takeIdle(kind, search); d != nil {
		return d, nil
	}
	d, err := p.create(kind)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return d, nil
}

func (p *pool) takeIdle(kind decoderKind, search string) *decoder {
	p.mu.Lock()
	defer p.mu.Unlock()
	pick := -1
	for i := len(p.idle) - 1; i >= 0; i-- {
		d := p.idle[i]
		if d.kind != kind {
			continue
		}
		if d.searches[search] {
			pick = i
			break
		}
		if pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		return nil
	}
	d := p.idle[pick]
	p.idle = append(p.idle[:pick], p.idle[pick+1:]...)
	return d
}

// put returns a decoder; a broken or overgrown one is freed instead of kept.
func (p *pool) put(d *decoder, healthy bool) {
	defer func() { <-p.slots }()
	if !healthy || len(d.words) > maxDecoderWords || len(d.searches) > maxDecoderSearches {
		d.free()
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, d)
	var evict *decoder
	if len(p.idle) > p.maxIdle {
		evict = p.idle[0]
		p.idle = p.idle[1:]
	}
	p.mu.Unlock()
	if evict != nil {
		evict.free()
	}
}

// close frees the idle decoders; decoders in use are freed when they come back.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.maxIdle = 0
	p.mu.Unlock()
	for _, d := range idle {
		d.free()
	}
}
