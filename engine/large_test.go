package engine

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"testing"
)

// patternReader yields n deterministic pseudo-random bytes without
// holding them.
type patternReader struct {
	r *rand.ChaCha8
	n int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	p.r.Read(b)
	p.n -= int64(len(b))
	return len(b), nil
}

func newPattern(n int64) *patternReader {
	return &patternReader{r: rand.NewChaCha8([32]byte{1, 2, 3}), n: n}
}

// TestOneGiBStreamed writes and reads back 1 GiB through the engine
// without ever holding it: the put streams from a generator of unknown
// length, the get streams into a hash, and a range deep inside is checked.
func TestOneGiBStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB")
	}
	const size = 1 << 30
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2}
	e := open(t, o)
	defer e.Close()
	mustBucket(t, e, "bkt")
	want := sha256.New()
	io.Copy(want, newPattern(size))
	info, err := e.PutObject(ctx, "bkt", "big", newPattern(size), nil)
	if err != nil || info.Size != size {
		t.Fatalf("put: %+v %v", info, err)
	}
	obj, err := e.GetObject(ctx, "bkt", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := obj.WriteTo(got)
	obj.Close()
	if err != nil || n != size || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("read back %d bytes, err %v, hash equal %v", n, err, string(got.Sum(nil)) == string(want.Sum(nil)))
	}
	// A range 700 MiB in, across a stripe and a chunk boundary.
	off := int64(700<<20) - 100
	ref := newPattern(size)
	io.CopyN(io.Discard, ref, off)
	wantRange := make([]byte, 300)
	io.ReadFull(ref, wantRange)
	gotRange, err := get(t, e, "bkt", "big", &GetOptions{Range: ByteRange(off, off+299)})
	if err != nil || string(gotRange) != string(wantRange) {
		t.Fatalf("range: %v", err)
	}
}
