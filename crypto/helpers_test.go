package crypto_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cofferdb/coffer/crypto"
)

var seedFlag = flag.Uint64("seed", 0, "seed for randomized tests (0: from the clock)")

// newRand returns a seeded generator and prints the seed if the test fails.
func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reproduce with -seed=%d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// randBytes returns n random bytes from r.
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randKey(t testing.TB, r *rand.Rand) *crypto.Key {
	t.Helper()
	k, err := crypto.NewKey(randBytes(r, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randID(r *rand.Rand, part uint32) crypto.Identity {
	var id crypto.Identity
	copy(id.ID[:], randBytes(r, 16))
	id.Part = part
	return id
}

// sealStream seals plain in one Write and returns the sealed stream.
func sealStream(t testing.TB, key *crypto.Key, id crypto.Identity, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := crypto.NewEncryptWriter(&buf, key, id)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(plain); err != nil || n != len(plain) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(buf.Len()), crypto.SealedSize(int64(len(plain))); got != want {
		t.Fatalf("sealed %d bytes, SealedSize says %d", got, want)
	}
	return buf.Bytes()
}

// readMode is how a test drains a DecryptReader.
type readMode int

const (
	readSmall   readMode = iota // Read with 1000-byte buffers (copy path)
	readLarge                   // Read with 3-chunk buffers (direct path)
	readWriteTo                 // WriteTo
	spanLarge                   // readLarge from a SpanReader source
	spanWriteTo                 // WriteTo from a SpanReader source lending 1.5 chunks
	spanBatches                 // WriteTo from a SpanReader source lending 3 chunks and a bit (parallel batches)
)

var readModes = []readMode{readSmall, readLarge, readWriteTo, spanLarge, spanWriteTo, spanBatches}

func (m readMode) String() string {
	return [...]string{"Read1000", "ReadLarge", "WriteTo", "SpanReadLarge", "SpanWriteTo", "SpanBatches"}[m]
}

// spans reports whether the mode reads from a SpanReader source.
func (m readMode) spans() bool { return m >= spanLarge }

// writesTo reports whether the mode drains with WriteTo.
func (m readMode) writesTo() bool { return m == readWriteTo || m == spanWriteTo || m == spanBatches }

// spanSource is a SpanReader over b that lends at most piece bytes at a
// time, so sealed chunks straddle its "buffers". It scribbles over the span
// it lent before lending the next one, as a source reusing its buffer would,
// and counts the bytes it lent.
type spanSource struct {
	b     []byte
	piece int
	last  []byte
	n     int64
}

func (s *spanSource) ReadSpan(max int) ([]byte, error) {
	for i := range s.last {
		s.last[i] ^= 0xff
	}
	s.last = nil
	if len(s.b) == 0 {
		return nil, io.EOF
	}
	n := min(max, s.piece, len(s.b))
	span := append([]byte(nil), s.b[:n]...)
	s.b = s.b[n:]
	s.n += int64(n)
	s.last = span
	return span, nil
}

func (s *spanSource) Read(p []byte) (int, error) {
	span, err := s.ReadSpan(len(p))
	return copy(p, span), err
}

// recorder keeps every byte a reader handed out, and every caller buffer the
// reader could have written into, so tests can look for leaked plaintext.
type recorder struct {
	got     []byte
	touched [][]byte
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.got = append(rec.got, p...)
	rec.touched = append(rec.touched, append([]byte(nil), p...))
	return len(p), nil
}

// drain reads d to the end in the given mode.
func drain(d *crypto.DecryptReader, mode readMode) (*recorder, error) {
	rec := new(recorder)
	if mode.writesTo() {
		_, err := d.WriteTo(rec)
		return rec, err
	}
	size := 1000
	if mode == readLarge || mode == spanLarge {
		size = 3 * crypto.ChunkSize
	}
	for {
		p := make([]byte, size)
		n, err := d.Read(p)
		rec.got = append(rec.got, p[:n]...)
		rec.touched = append(rec.touched, p)
		if err == io.EOF {
			return rec, nil
		}
		if err != nil {
			return rec, err
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// openRange maps [off, off+n) and drains a DecryptReader over sealed, which
// is the whole stored stream (possibly tampered). It returns what the reader
// released and how many sealed bytes it consumed.
func openRange(t testing.TB, sealed []byte, key *crypto.Key, id crypto.Identity, plainSize, off, n int64, mode readMode) (*recorder, int64, error) {
	t.Helper()
	r, err := crypto.MapRange(plainSize, off, n)
	if err != nil {
		t.Fatalf("MapRange(%d, %d, %d): %v", plainSize, off, n, err)
	}
	var rest []byte
	if r.SealedOffset <= int64(len(sealed)) {
		rest = sealed[r.SealedOffset:]
	}
	if mode.spans() {
		// An odd piece size makes most chunks straddle two spans.
		src := &spanSource{b: rest, piece: crypto.SealedChunkSize*3/2 + 7}
		if mode == spanBatches {
			src.piece = crypto.SealedChunkSize*3 + 11
		}
		d, err := crypto.NewDecryptReader(src, key, id, r)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		rec, err := drain(d, mode)
		return rec, src.n, err
	}
	cr := &countingReader{r: bytes.NewReader(rest)}
	d, err := crypto.NewDecryptReader(cr, key, id, r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rec, err := drain(d, mode)
	return rec, cr.n, err
}

// chunkErr returns the *ChunkError in err, or nil.
func chunkErr(err error) *crypto.ChunkError {
	var ce *crypto.ChunkError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}
