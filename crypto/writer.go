package crypto

import "io"

// EncryptWriter seals the plaintext written to it into a version-1 sealed
// stream on dst. Close writes the final chunk; until then the stream is not
// complete and a reader rejects it.
//
// Buffers: the writer takes one sealed-chunk buffer from a pool at
// construction (and a second on the first ReadFrom that needs it), reuses
// it for every chunk, clears it and returns it on Close or Abort. Write and
// ReadFrom do not allocate per chunk. Every call to dst.Write passes exactly
// one sealed chunk, in the writer's buffer, which dst must not retain (the
// io.Writer contract).
//
// Concurrency: an EncryptWriter is not safe for concurrent use; it shares no
// mutable state with any other stage, so writers for different streams may
// run on different goroutines.
type EncryptWriter struct {
	dst    io.Writer
	s      stream
	buf    *chunkBuf // plaintext being gathered; sealed in place
	spare  *chunkBuf // ReadFrom's look-ahead buffer
	fill   int       // plaintext bytes in buf
	index  uint64    // index of the chunk in buf
	err    error     // sticky error from sealing or dst
	closed bool
}

// NewEncryptWriter returns a writer that seals a stream for key and id onto
// dst. key must be used for no other stream (FORMAT.md, "Key uniqueness");
// it is not retained, so the caller may Zero it once this returns.
func NewEncryptWriter(dst io.Writer, key *Key, id Identity) (*EncryptWriter, error) {
	w := &EncryptWriter{dst: dst}
	if err := w.s.init(key, id); err != nil {
		return nil, err
	}
	w.buf = getChunk()
	return w, nil
}

func (w *EncryptWriter) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

// emit seals plain (which may alias w.buf) as chunk w.index into w.buf and
// writes it to dst.
func (w *EncryptWriter) emit(plain []byte, final bool) error {
	if w.index >= MaxChunks || (!final && w.index >= MaxChunks-1) {
		w.err = ErrTooLarge
		return w.err
	}
	sealed := w.s.seal(w.buf[:0], plain, w.index, final)
	n, err := w.dst.Write(sealed)
	if err == nil && n != len(sealed) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = err
		return err
	}
	w.index++
	w.fill = 0
	return nil
}

// Write seals p. A full chunk is held back until more data or Close shows
// whether it is the final one. Writes longer than a chunk are sealed
// straight from p without an extra copy.
func (w *EncryptWriter) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		if w.fill == ChunkSize {
			if err := w.emit(w.buf[:ChunkSize], false); err != nil {
				return n, err
			}
		}
		if w.fill == 0 && len(p) > ChunkSize {
			if err := w.emit(p[:ChunkSize], false); err != nil {
				return n, err
			}
			p = p[ChunkSize:]
			n += ChunkSize
			continue
		}
		c := copy(w.buf[w.fill:ChunkSize], p)
		w.fill += c
		p = p[c:]
		n += c
	}
	return n, nil
}

// ReadFrom seals everything read from r until io.EOF, reading straight into
// the chunk buffer so that no copy is made. It returns the plaintext bytes
// read. An error from r is returned as is and leaves the writer usable; the
// caller decides whether to Close or Abort.
func (w *EncryptWriter) ReadFrom(r io.Reader) (int64, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	var total int64
	for {
		if w.fill == ChunkSize {
			// A full chunk is final unless r has more: look ahead.
			if w.spare == nil {
				w.spare = getChunk()
			}
			m, err := r.Read(w.spare[:ChunkSize])
			if m > 0 {
				if werr := w.emit(w.buf[:ChunkSize], false); werr != nil {
					return total, werr
				}
				w.buf, w.spare = w.spare, w.buf
				w.fill = m
				total += int64(m)
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			continue
		}
		m, err := r.Read(w.buf[w.fill:ChunkSize])
		w.fill += m
		total += int64(m)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close seals the buffered plaintext as the final chunk (an empty stream
// gets an empty final chunk), writes it, and releases the buffers. It does
// not close dst. Close must succeed for the stream to be complete; calling
// it again returns the first result.
func (w *EncryptWriter) Close() error {
	if w.closed {
		return w.err
	}
	if w.err == nil {
		_ = w.emit(w.buf[:w.fill], true)
	}
	w.release()
	return w.err
}

// Abort releases the buffers without writing the final chunk, leaving an
// incomplete stream that no reader accepts. Use it when the upload fails;
// Close would make a cut-short stream look complete. Abort after Close is a
// no-op.
func (w *EncryptWriter) Abort() {
	if !w.closed && w.err == nil {
		w.err = ErrClosed
	}
	w.release()
}

func (w *EncryptWriter) release() {
	w.closed = true
	putChunk(w.buf)
	putChunk(w.spare)
	w.buf, w.spare = nil, nil
	w.fill = 0
	w.s.release()
}
