package crypto_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/cofferdb/coffer/crypto"
)

var boundarySizes = []int{0, 1, 15, 16, 17, C - 1, C, C + 1, 2*C - 1, 2 * C, 2*C + 1, 5*C + 123}

// writeVia seals plain through one of the writer's entry points.
func writeVia(t *testing.T, how string, w *crypto.EncryptWriter, plain []byte) {
	t.Helper()
	var err error
	switch how {
	case "Write-all":
		_, err = w.Write(plain)
	case "Write-1000":
		for p := plain; len(p) > 0 && err == nil; {
			n := min(1000, len(p))
			_, err = w.Write(p[:n])
			p = p[n:]
		}
	case "Write-chunk":
		for p := plain; len(p) > 0 && err == nil; {
			n := min(C, len(p))
			_, err = w.Write(p[:n])
			p = p[n:]
		}
	case "ReadFrom":
		var n int64
		n, err = w.ReadFrom(bytes.NewReader(plain))
		if err == nil && n != int64(len(plain)) {
			err = fmt.Errorf("ReadFrom read %d of %d", n, len(plain))
		}
	case "ReadFrom-onebyte":
		_, err = w.ReadFrom(iotest.OneByteReader(bytes.NewReader(plain)))
	case "ReadFrom-half":
		_, err = w.ReadFrom(iotest.HalfReader(bytes.NewReader(plain)))
	case "ReadFrom-dataerr":
		_, err = w.ReadFrom(iotest.DataErrReader(bytes.NewReader(plain)))
	case "io.Copy":
		_, err = io.Copy(w, iotest.HalfReader(bytes.NewReader(plain)))
	case "Write-then-ReadFrom":
		h := len(plain) / 3
		if _, err = w.Write(plain[:h]); err == nil {
			_, err = w.ReadFrom(bytes.NewReader(plain[h:]))
		}
	default:
		t.Fatalf("unknown mode %q", how)
	}
	if err != nil {
		t.Fatalf("%s: %v", how, err)
	}
}

var writeModes = []string{"Write-all", "Write-1000", "Write-chunk", "ReadFrom", "ReadFrom-onebyte",
	"ReadFrom-half", "ReadFrom-dataerr", "io.Copy", "Write-then-ReadFrom"}

// TestRoundTripAllWriteModes checks that every way of feeding the writer
// produces the same sealed bytes, and that they open to the plaintext.
func TestRoundTripAllWriteModes(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 0)
	for _, size := range boundarySizes {
		if testing.Short() && size > 2*C+1 {
			continue
		}
		plain := randBytes(r, size)
		want := sealStream(t, key, id, plain)
		for _, how := range writeModes {
			if how == "ReadFrom-onebyte" && size > 2*C+1 {
				continue
			}
			var buf bytes.Buffer
			w, err := crypto.NewEncryptWriter(&buf, key, id)
			if err != nil {
				t.Fatal(err)
			}
			writeVia(t, how, w, plain)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("size %d via %s: sealed bytes differ from a single Write", size, how)
			}
		}
		for _, mode := range readModes {
			rec, consumed, err := openRange(t, want, key, id, int64(size), 0, int64(size), mode)
			if err != nil || !bytes.Equal(rec.got, plain) {
				t.Fatalf("size %d %v: round trip failed: %v", size, mode, err)
			}
			if consumed != int64(len(want)) {
				t.Fatalf("size %d %v: consumed %d of %d sealed bytes", size, mode, consumed, len(want))
			}
		}
	}
}

// TestRangesAtEveryBoundary opens every range between interesting offsets of
// several stream sizes, in every read mode, and checks the exact bytes and
// that no more sealed bytes than MapRange says were read.
func TestRangesAtEveryBoundary(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 7)
	for _, size := range []int{0, 1, C - 1, C, C + 1, 3*C + 9} {
		plain := randBytes(r, size)
		sealed := sealStream(t, key, id, plain)
		points := []int{0, 1, C - 1, C, C + 1, 2*C - 1, 2 * C, 2*C + 1, 3 * C, size - 1, size}
		for _, off := range points {
			for _, end := range points {
				if off < 0 || end > size || end < off {
					continue
				}
				for _, mode := range readModes {
					rec, consumed, err := openRange(t, sealed, key, id, int64(size), int64(off), int64(end-off), mode)
					if err != nil {
						t.Fatalf("size %d [%d,%d) %v: %v", size, off, end, mode, err)
					}
					if !bytes.Equal(rec.got, plain[off:end]) {
						t.Fatalf("size %d [%d,%d) %v: wrong bytes", size, off, end, mode)
					}
					rg, _ := crypto.MapRange(int64(size), int64(off), int64(end-off))
					if consumed != rg.SealedLength {
						t.Fatalf("size %d [%d,%d) %v: consumed %d sealed bytes, want %d", size, off, end, mode, consumed, rg.SealedLength)
					}
				}
			}
		}
	}
}

// TestRandomRanges opens seeded random ranges of random streams.
func TestRandomRanges(t *testing.T) {
	r := newRand(t)
	for range 40 {
		size := r.IntN(6 * C)
		key := randKey(t, r)
		id := randID(r, r.Uint32())
		plain := randBytes(r, size)
		sealed := sealStream(t, key, id, plain)
		for range 10 {
			off := r.IntN(size + 1)
			n := r.IntN(size - off + 1)
			mode := readModes[r.IntN(len(readModes))]
			rec, _, err := openRange(t, sealed, key, id, int64(size), int64(off), int64(n), mode)
			if err != nil || !bytes.Equal(rec.got, plain[off:off+n]) {
				t.Fatalf("size %d [%d,+%d) %v: %v", size, off, n, mode, err)
			}
		}
	}
}

// TestTwoLayers stacks two writers and two readers the way DSSE does and
// checks whole-object and ranged reads, with the sizes composing as
// documented.
func TestTwoLayers(t *testing.T) {
	r := newRand(t)
	for _, size := range []int{0, 1, C - 17, C - 16, C - 1, C, C + 1, 4*C + 99} {
		inner, outer := randKey(t, r), randKey(t, r)
		id := randID(r, 3)
		plain := randBytes(r, size)

		var stored bytes.Buffer
		ow, err := crypto.NewEncryptWriter(&stored, outer, id)
		if err != nil {
			t.Fatal(err)
		}
		iw, err := crypto.NewEncryptWriter(ow, inner, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iw.ReadFrom(iotest.HalfReader(bytes.NewReader(plain))); err != nil {
			t.Fatal(err)
		}
		if err := iw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := ow.Close(); err != nil {
			t.Fatal(err)
		}
		p2 := crypto.SealedSize(int64(size))
		if got, want := int64(stored.Len()), crypto.SealedSize(p2); got != want {
			t.Fatalf("size %d: stored %d bytes, want SealedSize(SealedSize(P)) = %d", size, got, want)
		}

		ranges := [][2]int{{0, size}, {0, 0}, {size, 0}}
		for range 12 {
			off := r.IntN(size + 1)
			ranges = append(ranges, [2]int{off, r.IntN(size - off + 1)})
		}
		for _, rg := range ranges {
			off, n := int64(rg[0]), int64(rg[1])
			r1, err := crypto.MapRange(int64(size), off, n)
			if err != nil {
				t.Fatal(err)
			}
			r2, err := crypto.MapRange(p2, r1.SealedOffset, r1.SealedLength)
			if err != nil {
				t.Fatal(err)
			}
			src := bytes.NewReader(stored.Bytes()[r2.SealedOffset : r2.SealedOffset+r2.SealedLength])
			od, err := crypto.NewDecryptReader(src, outer, id, r2)
			if err != nil {
				t.Fatal(err)
			}
			id2, err := crypto.NewDecryptReader(od, inner, id, r1)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if _, err := id2.WriteTo(&got); err != nil {
				t.Fatalf("size %d range [%d,+%d): %v", size, off, n, err)
			}
			if !bytes.Equal(got.Bytes(), plain[off:off+n]) {
				t.Fatalf("size %d range [%d,+%d): wrong bytes", size, off, n)
			}
			id2.Close()
			od.Close()
		}

		// A flipped stored byte fails the outer layer, and the error comes
		// through the inner reader with nothing of the damaged chunk.
		bad := bytes.Clone(stored.Bytes())
		at := r.IntN(len(bad))
		bad[at] ^= 1
		r2, _ := crypto.MapRange(p2, 0, p2)
		r1, _ := crypto.MapRange(int64(size), 0, int64(size))
		od, _ := crypto.NewDecryptReader(bytes.NewReader(bad), outer, id, r2)
		id2, _ := crypto.NewDecryptReader(od, inner, id, r1)
		var got bytes.Buffer
		_, err = id2.WriteTo(&got)
		if !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("size %d: flipped stored byte %d: %v", size, at, err)
		}
		// The inner layer can only release whole inner chunks that the outer
		// layer fully delivered before the damaged outer chunk.
		outerGood := int64(at/crypto.SealedChunkSize) * C
		if int64(got.Len()) > outerGood || !bytes.Equal(got.Bytes(), plain[:got.Len()]) {
			t.Fatalf("size %d: released %d bytes past the damage at outer chunk %d", size, got.Len(), at/crypto.SealedChunkSize)
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 0)

	var buf bytes.Buffer
	w, _ := crypto.NewEncryptWriter(&buf, key, id)
	if _, err := w.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if buf.Len() != n {
		t.Fatal("second Close wrote again")
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, crypto.ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, err := w.ReadFrom(bytes.NewReader([]byte("x"))); !errors.Is(err, crypto.ErrClosed) {
		t.Fatalf("ReadFrom after Close: %v", err)
	}

	// Abort leaves a stream that no reader accepts, even one that looks
	// chunk-aligned.
	plain := randBytes(r, 2*C)
	buf.Reset()
	w, _ = crypto.NewEncryptWriter(&buf, key, id)
	if _, err := w.Write(append(plain, 1)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if err := w.Close(); !errors.Is(err, crypto.ErrClosed) {
		t.Fatalf("Close after Abort: %v", err)
	}
	for _, size := range []int64{C, 2 * C} {
		rec, _, err := openRange(t, buf.Bytes(), key, id, size, 0, size, readWriteTo)
		if err == nil {
			t.Fatalf("aborted stream opened as %d bytes", size)
		}
		if int64(len(rec.got)) >= size {
			t.Fatalf("aborted stream released %d bytes", len(rec.got))
		}
	}
	if _, err := crypto.NewEncryptWriter(&buf, nil, id); !errors.Is(err, crypto.ErrNilKey) {
		t.Fatalf("nil key: %v", err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after == 0 {
		return 0, errors.New("disk on fire")
	}
	f.after--
	return len(p), nil
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

func TestWriterDestinationErrors(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	plain := randBytes(r, 3*C+1)

	w, _ := crypto.NewEncryptWriter(&failWriter{after: 1}, key, crypto.Identity{})
	n, err := w.Write(plain)
	if err == nil || n >= len(plain) {
		t.Fatalf("Write = %d, %v; want the destination's error", n, err)
	}
	if _, err2 := w.Write([]byte("x")); err2 == nil {
		t.Fatal("error is not sticky")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write succeeded")
	}

	w, _ = crypto.NewEncryptWriter(shortWriter{}, key, crypto.Identity{})
	w.Write([]byte("abc"))
	if err := w.Close(); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short write: %v", err)
	}
}

type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReadFromSourceErrorKeepsWriterUsable(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 0)
	plain := randBytes(r, C+10)
	var buf bytes.Buffer
	w, _ := crypto.NewEncryptWriter(&buf, key, id)
	boom := errors.New("client went away")
	if _, err := w.ReadFrom(&errAfter{bytes.NewReader(plain[:C]), boom}); !errors.Is(err, boom) {
		t.Fatalf("ReadFrom: %v", err)
	}
	if _, err := w.ReadFrom(bytes.NewReader(plain[C:])); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rec, _, err := openRange(t, buf.Bytes(), key, id, int64(len(plain)), 0, int64(len(plain)), readSmall)
	if err != nil || !bytes.Equal(rec.got, plain) {
		t.Fatalf("round trip after a source error: %v", err)
	}
}

func TestReaderLifecycle(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	plain := randBytes(r, 100)
	sealed := sealStream(t, key, crypto.Identity{}, plain)
	rg, _ := crypto.MapRange(100, 0, 100)
	d, err := crypto.NewDecryptReader(bytes.NewReader(sealed), key, crypto.Identity{}, rg)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	got, err := io.ReadAll(d)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("ReadAll: %v", err)
	}
	if n, err := d.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(make([]byte, 10)); !errors.Is(err, crypto.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := crypto.NewDecryptReader(bytes.NewReader(sealed), nil, crypto.Identity{}, rg); !errors.Is(err, crypto.ErrNilKey) {
		t.Fatalf("nil key: %v", err)
	}
}

// TestReaderSourceError checks that an I/O error from the source is returned
// unchanged, not reported as tampering.
func TestReaderSourceError(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	plain := randBytes(r, 2*C)
	sealed := sealStream(t, key, crypto.Identity{}, plain)
	boom := errors.New("drive gone")
	src := io.MultiReader(bytes.NewReader(sealed[:crypto.SealedChunkSize+10]), iotest.ErrReader(boom))
	rg, _ := crypto.MapRange(2*C, 0, 2*C)
	d, _ := crypto.NewDecryptReader(src, key, crypto.Identity{}, rg)
	rec, err := drain(d, readSmall)
	if !errors.Is(err, boom) || errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("source error became %v", err)
	}
	if !bytes.Equal(rec.got, plain[:C]) {
		t.Fatalf("released %d bytes, want the first chunk only", len(rec.got))
	}
}

// TestReaderConformance runs testing/iotest.TestReader over ranges of a
// stream, with sources that return short reads and data with io.EOF.
func TestReaderConformance(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	id := randID(r, 2)
	size := 2*C + 77
	plain := randBytes(r, size)
	sealed := sealStream(t, key, id, plain)
	sources := map[string]func(io.Reader) io.Reader{
		"plain":    func(x io.Reader) io.Reader { return x },
		"onebyte":  iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for name, wrap := range sources {
		for _, rg := range [][2]int{{0, size}, {C - 3, 10}, {5, 0}, {C, C + 77}} {
			m, err := crypto.MapRange(int64(size), int64(rg[0]), int64(rg[1]))
			if err != nil {
				t.Fatal(err)
			}
			src := wrap(bytes.NewReader(sealed[m.SealedOffset : m.SealedOffset+m.SealedLength]))
			d, err := crypto.NewDecryptReader(src, key, id, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := iotest.TestReader(d, plain[rg[0]:rg[0]+rg[1]]); err != nil {
				t.Errorf("%s source, range %v: %v", name, rg, err)
			}
			d.Close()
		}
	}
}

// TestWriteToDestinationErrors checks that WriteTo reports a failing or
// short destination and stops.
func TestWriteToDestinationErrors(t *testing.T) {
	r := newRand(t)
	key := randKey(t, r)
	plain := randBytes(r, 2*C)
	sealed := sealStream(t, key, crypto.Identity{}, plain)
	rg, _ := crypto.MapRange(2*C, 0, 2*C)

	d, _ := crypto.NewDecryptReader(bytes.NewReader(sealed), key, crypto.Identity{}, rg)
	if _, err := d.WriteTo(shortWriter{}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("short destination: %v", err)
	}
	d.Close()

	d, _ = crypto.NewDecryptReader(bytes.NewReader(sealed), key, crypto.Identity{}, rg)
	n, err := d.WriteTo(&failWriter{after: 1})
	if err == nil || n != C {
		t.Fatalf("failing destination: wrote %d, %v", n, err)
	}
	d.Close()
}
