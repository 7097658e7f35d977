package crypto

import "io"

// SpanReader is a source that lends its next bytes from its own buffer
// instead of copying them into the caller's. A DecryptReader whose source
// is a SpanReader opens each chunk straight out of the source's buffer,
// saving one copy of every byte.
type SpanReader interface {
	io.Reader
	// ReadSpan returns the next 1 to max bytes of the source (max > 0) and
	// advances past them, or nil and an error: io.EOF at the end. The
	// bytes belong to the source: the caller must not modify them, and
	// they stay valid only until the next call of any method.
	ReadSpan(max int) ([]byte, error)
}

// DecryptReader opens a plaintext range of a version-1 sealed stream. It
// reads the whole chunks the Range names from its source, authenticates each
// chunk completely before releasing any byte of it, and returns exactly
// Range.Length plaintext bytes, then io.EOF.
//
// Errors: a chunk that fails authentication gives a *ChunkError wrapping
// ErrAuth; a source that ends early gives one wrapping ErrTruncated. Either
// is sticky, and no byte of the failing chunk is ever returned. Bytes of
// earlier chunks were authentic and may already have been returned.
//
// Buffers: the reader takes one sealed-chunk buffer from a pool, reuses it
// for every chunk, and clears and returns it on Close. When src is a
// SpanReader, sealed chunks are opened straight out of src's buffer and the
// chunk buffer receives only the plaintext (and the rare chunk that spans
// two of src's buffers). Read and WriteTo do
// not allocate per chunk. WriteTo hands w slices of that buffer, which w
// must not retain (the io.Writer contract).
//
// Concurrency: a DecryptReader is not safe for concurrent use and shares no
// mutable state with any other stage.
type DecryptReader struct {
	src   io.Reader
	spans SpanReader // src, when it lends its buffer
	s     stream
	buf   *chunkBuf
	index int64  // next chunk to read
	last  int64  // last chunk of the range
	final int64  // final chunk of the stream
	size  int64  // plaintext size of the stream
	skip  int64  // bytes to drop from the next chunk opened
	left  int64  // plaintext bytes still to release
	plain []byte // opened bytes ready to release (aliases buf or batch)
	err   error  // sticky

	// Parallel opening (WriteTo from a SpanReader; parallel.go).
	pending []byte      // lent by spans, not consumed yet
	batch   *plainBatch // plaintext of a batch
	helper  *opener     // opens half of each batch
	jobs    [2]openJob
}

// NewDecryptReader returns a reader of the plaintext range r of the stream
// sealed for key and id. src must be positioned at r.SealedOffset; the
// reader consumes exactly r.SealedLength bytes from it and never reads
// further. r must come from MapRange. key is not retained, so the caller may
// Zero it once this returns.
func NewDecryptReader(src io.Reader, key *Key, id Identity, r Range) (*DecryptReader, error) {
	want, err := MapRange(r.PlainSize, r.Offset, r.Length)
	if err != nil || want != r {
		return nil, ErrRange
	}
	d := &DecryptReader{
		src:   src,
		index: r.FirstChunk,
		last:  r.lastChunk(),
		final: numChunks(r.PlainSize) - 1,
		size:  r.PlainSize,
		skip:  r.Skip,
		left:  r.Length,
	}
	if err := d.s.init(key, id); err != nil {
		return nil, err
	}
	d.spans, _ = src.(SpanReader)
	d.buf = getChunk()
	return d, nil
}

// chunkLen returns the plaintext length of the chunk at d.index.
func (d *DecryptReader) chunkLen() int {
	if d.index == d.final {
		return int(d.size - d.index*ChunkSize)
	}
	return ChunkSize
}

// fetch returns the next sealed chunk: a span of the source's buffer, or
// d.buf filled from the source. Either stays valid until the next fetch.
func (d *DecryptReader) fetch() ([]byte, error) {
	sealed := d.buf[:d.chunkLen()+TagSize]
	var err error
	if d.spans != nil {
		span := d.pending
		d.pending = nil
		if len(span) == 0 {
			span, err = d.spans.ReadSpan(len(sealed))
		}
		if len(span) >= len(sealed) {
			d.pending = span[len(sealed):]
			return span[:len(sealed)], nil
		}
		// The chunk straddles two of the source's buffers: gather it.
		n := copy(sealed, span)
		for err == nil && n < len(sealed) {
			span, err = d.spans.ReadSpan(len(sealed) - n)
			if len(span) == 0 && err == nil {
				err = io.ErrNoProgress
			}
			n += copy(sealed[n:], span)
		}
		if err == nil && n < len(sealed) {
			err = io.ErrUnexpectedEOF
		}
	} else {
		_, err = io.ReadFull(d.src, sealed)
	}
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = &ChunkError{Chunk: d.index, Err: ErrTruncated}
		}
		d.err = err
		return nil, err
	}
	return sealed, nil
}

// next opens the next chunk in place and sets d.plain to its wanted part.
func (d *DecryptReader) next() error {
	sealed, err := d.fetch()
	if err != nil {
		return err
	}
	// In place when sealed is d.buf; out of the source's buffer otherwise.
	plain, err := d.s.open(d.buf[:0], sealed, uint64(d.index), d.index == d.final)
	if err != nil {
		d.err = &ChunkError{Chunk: d.index, Err: ErrAuth}
		return d.err
	}
	d.index++
	plain = plain[d.skip:]
	d.skip = 0
	if int64(len(plain)) > d.left {
		plain = plain[:d.left]
	}
	d.plain = plain
	return nil
}

// more reports whether chunks of the range remain unread.
func (d *DecryptReader) more() bool { return d.index <= d.last }

// Read implements io.Reader. When p can take a whole wanted chunk, the
// chunk is opened straight into p; on failure that region of p is cleared
// and 0 is returned.
func (d *DecryptReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(d.plain) == 0 {
		if !d.more() {
			return 0, io.EOF
		}
		if n := d.chunkLen(); d.skip == 0 && int64(n) <= d.left && n <= len(p) && n > 0 {
			return d.readDirect(p[:n:n])
		}
		if err := d.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, d.plain)
	d.plain = d.plain[n:]
	d.left -= int64(n)
	return n, nil
}

// readDirect opens the next chunk, which is wanted whole, into p.
func (d *DecryptReader) readDirect(p []byte) (int, error) {
	sealed, err := d.fetch()
	if err != nil {
		return 0, err
	}
	plain, err := d.s.open(p[:0], sealed, uint64(d.index), d.index == d.final)
	if err != nil {
		clear(p)
		d.err = &ChunkError{Chunk: d.index, Err: ErrAuth}
		return 0, d.err
	}
	d.index++
	d.left -= int64(len(plain))
	return len(plain), nil
}

// WriteTo implements io.WriterTo: it writes the range's plaintext to w
// straight from the chunk buffer, one authenticated chunk at a time. From a
// SpanReader source it opens batches of chunks on two goroutines instead
// (parallel.go); bytes are still released in order, and only those of
// chunks before the first one that fails.
func (d *DecryptReader) WriteTo(w io.Writer) (int64, error) {
	if d.spans != nil {
		return d.writeBatches(w)
	}
	var total int64
	for {
		if d.err != nil {
			return total, d.err
		}
		if len(d.plain) > 0 {
			n, err := w.Write(d.plain)
			total += int64(n)
			d.plain = d.plain[n:]
			d.left -= int64(n)
			if err == nil && len(d.plain) > 0 {
				err = io.ErrShortWrite
			}
			if err != nil {
				return total, err
			}
		}
		if !d.more() {
			return total, nil
		}
		if err := d.next(); err != nil {
			return total, err
		}
	}
}

// Close clears and releases the chunk buffer. It does not close the source.
// Reads after Close fail with ErrClosed.
func (d *DecryptReader) Close() error {
	d.stopOpener()
	d.pending = nil
	if d.buf != nil {
		putChunk(d.buf)
		d.buf = nil
		d.plain = nil
		d.s.release()
	}
	if d.err == nil {
		d.err = ErrClosed
	}
	return nil
}
