package engine

import (
	"io"
	"sync"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// pins keeps released streams on the drives while readers still read
// them: a GET that began before a DELETE or overwrite committed finishes
// with the bytes it started with, as in S3, instead of failing halfway.
type pins struct {
	mu       sync.Mutex
	readers  map[chunkstore.ID]int
	deferred map[chunkstore.ID][]byte // releases waiting for their readers
}

// pin marks streams as being read.
func (p *pins) pin(rs []release) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers == nil {
		p.readers = map[chunkstore.ID]int{}
	}
	for _, r := range rs {
		p.readers[r.id]++
	}
}

// unpin ends a read and returns the releases that were waiting for it.
func (p *pins) unpin(rs []release) []release {
	p.mu.Lock()
	defer p.mu.Unlock()
	var due []release
	for _, r := range rs {
		if p.readers[r.id]--; p.readers[r.id] > 0 {
			continue
		}
		delete(p.readers, r.id)
		if layout, ok := p.deferred[r.id]; ok {
			delete(p.deferred, r.id)
			due = append(due, release{id: r.id, layout: layout})
		}
	}
	return due
}

// hold defers a release while its stream is read, reporting whether it
// did.
func (p *pins) hold(r release) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.readers[r.id] == 0 {
		return false
	}
	if p.deferred == nil {
		p.deferred = map[chunkstore.ID][]byte{}
	}
	p.deferred[r.id] = r.layout
	return true
}

// pinnedLookup returns the record of bucket/key with its streams pinned:
// it pins what it found and checks the index still says so (a release
// only follows the commit that replaced the record), retrying otherwise.
// The caller unpins with e.unpin.
func (e *Engine) pinnedLookup(bucket, key string) (index.Object, []release, error) {
	for {
		rec, err := e.lookup(bucket, key)
		if err != nil {
			return rec, nil, err
		}
		rs := streams(&rec)
		if len(rs) == 0 {
			return rec, nil, nil
		}
		e.pins.pin(rs)
		if e.stillCurrent(index.ObjectKey(bucket, key), rec.DataID) {
			return rec, rs, nil
		}
		e.unpin(rs)
	}
}

// unpin ends a read of streams and finishes the releases that waited for
// it (on the caller's goroutine: they are rare).
func (e *Engine) unpin(rs []release) {
	for _, r := range e.pins.unpin(rs) {
		e.finishRelease(r)
	}
}

// pinnedBody unpins its streams when closed.
type pinnedBody struct {
	io.ReadCloser
	e    *Engine
	rs   []release
	once sync.Once
}

func (b *pinnedBody) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := b.ReadCloser.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{b.ReadCloser})
}

func (b *pinnedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.e.unpin(b.rs) })
	return err
}
