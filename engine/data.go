package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	ccrypto "github.com/cofferdb/coffer/crypto"
	"github.com/cofferdb/coffer/engine/internal/chunkstore"
)

// pending is a stream written but not yet finished: either inline bytes
// or an open shard writer.
type pending struct {
	e      *Engine
	id     chunkstore.ID
	size   int64  // plaintext bytes read
	stored int64  // bytes stored (sealed size when encrypted)
	md5    []byte // MD5 of the plaintext, when asked for
	inline []byte // the stored stream, for a small object
	w      *chunkstore.Writer
}

// abort drops the stream.
func (p *pending) abort() {
	if p.w != nil {
		p.e.abort(p.w)
		p.w = nil
	}
}

// finish makes the stream durable with its self-description and returns
// its encoded layout (nil for inline data).
func (p *pending) finish(trailer []byte) ([]byte, error) {
	if p.w == nil {
		return nil, nil
	}
	l, _, err := p.w.Finish(trailer)
	p.w = nil
	if err != nil {
		// The writer removed its files without syncing their folders: after
		// a power cut they may come back, so have the next open look.
		p.e.dirty.Store(true)
		return nil, p.e.storeErr(err)
	}
	return l.AppendBinary(nil), nil
}

// countingWriter counts what passes to the stored stream.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeData reads a body from r and stores it: encrypted under ks (nil
// for plain data) with identity ident, erasure-coded under id, or kept
// inline when inline allows and the body is small. size > 0 is the
// declared length; a body that does not match it fails with
// ErrIncompleteBody. The MD5 of the plaintext is computed only if wantMD5.
func (e *Engine) writeData(ctx context.Context, id [16]byte, ident ccrypto.Identity, r io.Reader, size int64, ks *keySet, wantMD5, inline bool) (*pending, error) {
	// One PUT or part holds at most 5 GiB (S3's limit); larger objects
	// are multipart. The limit holds for bodies of unknown length too.
	if size > MaxPutPartSize {
		return nil, ErrEntityTooLarge
	}
	p := &pending{e: e, id: chunkstore.ID(id)}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp

	// Read the head of the body: if it ends within the inline threshold,
	// the stream is stored in the index.
	thr := e.opts.InlineThreshold
	n := 0
	if inline && thr >= 0 {
		var err error
		n, err = io.ReadFull(r, buf[:thr+1])
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			if size > 0 && int64(n) != size {
				return nil, fmt.Errorf("%w: got %d of %d bytes", ErrIncompleteBody, n, size)
			}
			if wantMD5 {
				sum := md5.Sum(buf[:n])
				p.md5 = sum[:]
			}
			var out bytes.Buffer
			cw, closeFn, abort, err := encryptChain(&out, ks, ident)
			if err != nil {
				return nil, err
			}
			if _, err := cw.Write(buf[:n]); err != nil {
				abort()
				return nil, err
			}
			if err := closeFn(); err != nil {
				return nil, err
			}
			p.size, p.inline, p.stored = int64(n), out.Bytes(), int64(out.Len())
			if p.inline == nil {
				p.inline = []byte{}
			}
			return p, nil
		default:
			return nil, fmt.Errorf("engine: reading body: %w", err)
		}
	}
	w, err := e.store.Create(p.id)
	if err != nil {
		return nil, e.storeErr(err)
	}
	p.w = w
	// A streamed body's MD5 runs on a helper goroutine, beside the
	// encryption and encoding of the same bytes on this one.
	var sum *md5Beside
	if wantMD5 {
		sum = newMD5Beside()
		defer sum.stop()
	}
	counter := &countingWriter{w: w}
	cw, closeFn, abort, err := encryptChain(counter, ks, ident)
	if err != nil {
		p.abort()
		return nil, err
	}
	fail := func(err error) (*pending, error) {
		abort()
		p.abort()
		return nil, err
	}
	// write hashes and stores one piece of the body; both only read p,
	// and the hash is done with p before write returns.
	write := func(p []byte) error {
		if sum != nil {
			sum.start(p)
		}
		_, err := cw.Write(p)
		if sum != nil {
			sum.wait()
		}
		return err
	}
	written := int64(0)
	for {
		if n > 0 {
			if err := write(buf[:n]); err != nil {
				return fail(e.storeErr(err))
			}
			written += int64(n)
			if written > MaxPutPartSize {
				return fail(ErrEntityTooLarge)
			}
			if size > 0 && written > size {
				return fail(fmt.Errorf("%w: body longer than declared", ErrIncompleteBody))
			}
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		var rerr error
		n, rerr = io.ReadFull(r, buf)
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			if n > 0 {
				if err := write(buf[:n]); err != nil {
					return fail(e.storeErr(err))
				}
				written += int64(n)
			}
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("engine: reading body: %w", rerr))
		}
	}
	if written > MaxPutPartSize {
		return fail(ErrEntityTooLarge)
	}
	if size > 0 && written != size {
		return fail(fmt.Errorf("%w: got %d of %d bytes", ErrIncompleteBody, written, size))
	}
	if err := closeFn(); err != nil {
		return fail(e.storeErr(err))
	}
	p.size, p.stored = written, counter.n
	if sum != nil {
		p.md5 = sum.sum()
	}
	return p, nil
}

// md5Beside computes an MD5 on its own goroutine: start hands it a piece,
// wait returns once the piece is hashed (the caller must not change or
// reuse the piece before). It is used by one goroutine; stop ends it.
type md5Beside struct {
	h    hash.Hash
	in   chan []byte
	done chan struct{}
}

func newMD5Beside() *md5Beside {
	m := &md5Beside{h: md5.New(), in: make(chan []byte), done: make(chan struct{})}
	go func() {
		for p := range m.in {
			m.h.Write(p)
			m.done <- struct{}{}
		}
	}()
	return m
}

func (m *md5Beside) start(p []byte) { m.in <- p }
func (m *md5Beside) wait()          { <-m.done }
func (m *md5Beside) sum() []byte    { return m.h.Sum(nil) }
func (m *md5Beside) stop()          { close(m.in) }

// openData opens the plaintext range [off, off+n) of a stored stream of
// plain bytes: inline bytes or shards, decrypted through ks when not nil.
func (e *Engine) openData(id [16]byte, layout, inline []byte, inlineSum uint32, plain, stored int64, ks *keySet, ident ccrypto.Identity, off, n int64) (io.ReadCloser, error) {
	layers := 0
	if ks != nil {
		layers = len(ks.layers)
	}
	var rs []ccrypto.Range
	soff, sn := off, n
	if layers > 0 {
		var err error
		if rs, soff, sn, err = storedRange(plain, off, n, layers); err != nil {
			return nil, err
		}
	}
	if soff+sn > stored {
		return nil, fmt.Errorf("%w: stored stream shorter than recorded", ErrCorrupt)
	}
	var src io.ReadCloser
	if layout == nil {
		if crc32.Checksum(inline, castagnoli) != inlineSum || int64(len(inline)) != stored {
			return nil, fmt.Errorf("%w: inline data checksum mismatch", ErrCorrupt)
		}
		src = io.NopCloser(bytes.NewReader(inline[soff : soff+sn]))
	} else {
		l, _, err := chunkstore.DecodeLayout(layout)
		if err != nil {
			return nil, fmt.Errorf("%w: layout: %w", ErrCorrupt, err)
		}
		rc, err := e.store.NewReader(chunkstore.ID(id), l, stored, soff, sn)
		if err != nil {
			return nil, e.storeErr(err)
		}
		src = &storeReader{rc: rc, e: e}
		if sr, ok := rc.(ccrypto.SpanReader); ok && layers > 0 {
			src = &spanStoreReader{storeReader{rc: rc, e: e}, sr}
		}
	}
	if layers == 0 {
		return src, nil
	}
	r, closers, err := decryptChain(src, ks, ident, rs)
	if err != nil {
		src.Close()
		return nil, err
	}
	return &chainReader{r: r, closers: append(closers, src), e: e}, nil
}

// chainReader reads through a decryption chain and closes every stage.
type chainReader struct {
	r       io.Reader
	closers []io.Closer
	e       *Engine
}

func (c *chainReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = decryptErr(c.e, err)
	}
	return n, err
}

func (c *chainReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	var err error
	if wt, ok := c.r.(io.WriterTo); ok {
		n, err = wt.WriteTo(w)
	} else {
		n, err = io.Copy(w, c.r)
	}
	if err != nil {
		err = decryptErr(c.e, err)
	}
	return n, err
}

func (c *chainReader) Close() error {
	var first error
	for _, cl := range c.closers {
		if err := cl.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// decryptErr marks authentication failures as corruption: wrong bytes are
// never released, and the read fails instead.
func decryptErr(e *Engine, err error) error {
	var ce *ccrypto.ChunkError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return e.storeErr(err)
}
