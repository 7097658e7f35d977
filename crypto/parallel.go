package crypto

import (
	"io"
	"sync"
)

// batchChunks is how many chunks DecryptReader.WriteTo opens at once, split
// between the calling goroutine and one helper, when its source lends its
// buffer (SpanReader). 16 chunks are 1 MiB of plaintext: a stripe of the
// chunk store, and well inside the CPU cache.
const batchChunks = 16

// plainBatch holds the plaintext of one batch.
type plainBatch [batchChunks * ChunkSize]byte

var batchPool = sync.Pool{New: func() any { return new(plainBatch) }}

// putBatch clears b, which holds plaintext, and returns it to the pool.
func putBatch(b *plainBatch) {
	clear(b[:])
	batchPool.Put(b)
}

// openJob is a run of whole sealed chunks to open into plain.
type openJob struct {
	plain, sealed []byte
	first         int64 // index of the first chunk
	n             int   // chunks
	final         int64 // index of the stream's final chunk
	bad           int64 // set by openRun: first chunk that failed, or -1
}

// opener is the helper goroutine of one DecryptReader: it opens the second
// half of each batch while the reader's goroutine opens the first. It has
// its own nonce and associated-data state and shares only the AEAD, which
// does not change after init.
type opener struct {
	s    stream
	jobs chan *openJob
	done chan struct{}
}

func startOpener(s *stream) *opener {
	o := &opener{s: *s, jobs: make(chan *openJob), done: make(chan struct{})}
	go func() {
		for j := range o.jobs {
			j.bad = openRun(&o.s, j)
			o.done <- struct{}{}
		}
	}()
	return o
}

// stop ends the helper goroutine. The opener must be idle.
func (o *opener) stop() {
	close(o.jobs)
	o.s.release()
}

// openRun opens j's chunks in order and returns the index of the first
// that fails, or -1. Every chunk is full except the stream's final one,
// which can only be the last of j.
func openRun(s *stream, j *openJob) int64 {
	sealed, plain := j.sealed, j.plain[:0]
	for i := range j.n {
		idx := j.first + int64(i)
		n := min(SealedChunkSize, len(sealed))
		out, err := s.open(plain[len(plain):], sealed[:n], uint64(idx), idx == j.final)
		if err != nil {
			return idx
		}
		plain = plain[:len(plain)+len(out)]
		sealed = sealed[n:]
	}
	return -1
}

// writeBatches is WriteTo for a SpanReader source: it takes up to
// batchChunks whole chunks at a time straight from the source's buffer and
// opens them on two goroutines. A batch that does not hold two whole chunks
// (the range's last chunk, or chunks that straddle the source's buffers)
// goes through next. Bytes are released in order and only up to the first
// chunk that fails.
func (d *DecryptReader) writeBatches(w io.Writer) (int64, error) {
	var total int64
	write := func() error {
		n, err := w.Write(d.plain)
		total += int64(n)
		d.left -= int64(n)
		d.plain = d.plain[n:]
		if err == nil && len(d.plain) > 0 {
			err = io.ErrShortWrite
		}
		return err
	}
	for {
		if d.err != nil {
			return total, d.err
		}
		if len(d.plain) > 0 {
			if err := write(); err != nil {
				return total, err
			}
		}
		if !d.more() {
			d.stopOpener()
			return total, nil
		}
		if len(d.pending) > 0 {
			// Finish the chunk whose head the last batch left, before
			// asking the source for more invalidates it.
			if err := d.next(); err != nil {
				return total, err
			}
			continue
		}
		// The sealed bytes of the next whole chunks, up to a batch.
		count := min(int64(batchChunks), d.last-d.index+1)
		want := count * SealedChunkSize
		if d.index+count-1 == d.final {
			want -= int64(ChunkSize) - (d.size - d.final*ChunkSize)
		}
		span, err := d.spans.ReadSpan(int(want))
		if err != nil {
			if err == io.EOF {
				err = &ChunkError{Chunk: d.index, Err: ErrTruncated}
			}
			d.err = err
			return total, err
		}
		whole := int64(len(span) / SealedChunkSize)
		if int64(len(span)) == want {
			whole = count // the final chunk may be short
		}
		if whole < 2 {
			d.pending = span
			if err := d.next(); err != nil {
				return total, err
			}
			continue
		}
		used := min(int64(len(span)), whole*SealedChunkSize)
		d.pending = span[used:] // the head of a chunk that straddles, if any
		if err := d.openBatch(span[:used], whole); err != nil {
			// Release the authentic chunks before the bad one, then fail.
			if len(d.plain) > 0 {
				if werr := write(); werr != nil {
					return total, werr
				}
			}
			return total, err
		}
	}
}

// openBatch opens n whole chunks from sealed, starting at d.index, into
// the batch buffer, the first half on this goroutine and the rest on the
// opener, and sets d.plain to the wanted part. On failure it sets d.plain
// to the wanted part of the chunks before the first bad one, clears the
// rest, and returns (and keeps) the error.
func (d *DecryptReader) openBatch(sealed []byte, n int64) error {
	if d.batch == nil {
		d.batch = batchPool.Get().(*plainBatch)
	}
	if d.helper == nil {
		d.helper = startOpener(&d.s)
	}
	h := n / 2
	mine := &d.jobs[0]
	theirs := &d.jobs[1]
	*mine = openJob{plain: d.batch[:h*ChunkSize], sealed: sealed[:h*SealedChunkSize], first: d.index, n: int(h), final: d.final}
	*theirs = openJob{plain: d.batch[h*ChunkSize : n*ChunkSize], sealed: sealed[h*SealedChunkSize:], first: d.index + h, n: int(n - h), final: d.final}
	d.helper.jobs <- theirs
	mine.bad = openRun(&d.s, mine)
	<-d.helper.done

	bad := mine.bad
	if bad < 0 {
		bad = theirs.bad
	}
	good := n // chunks opened before the first failure
	if bad >= 0 {
		good = bad - d.index
	}
	plainLen := good * ChunkSize
	if good == n && d.index+n-1 == d.final {
		plainLen = d.size - d.index*ChunkSize
	}
	plain := d.batch[:plainLen]
	if bad >= 0 {
		clear(d.batch[plainLen:])
	}
	d.index += good
	if int64(len(plain)) > d.skip {
		plain = plain[d.skip:]
		d.skip = 0
	} else {
		d.skip -= int64(len(plain))
		plain = nil
	}
	if int64(len(plain)) > d.left {
		plain = plain[:d.left]
	}
	d.plain = plain
	if bad >= 0 {
		d.err = &ChunkError{Chunk: bad, Err: ErrAuth}
		return d.err
	}
	return nil
}

// stopOpener ends the helper goroutine and returns the batch buffer.
func (d *DecryptReader) stopOpener() {
	if d.helper != nil {
		d.helper.stop()
		d.helper = nil
	}
	if d.batch != nil {
		putBatch(d.batch)
		d.batch = nil
		d.plain = nil
	}
}
