package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// seeded returns a random source and logs its seed if the test fails.
func seeded(t testing.TB) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: %d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randBytes(r *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func randID(r *rand.Rand) ID {
	var id ID
	for i := range id {
		id[i] = byte(r.Uint32())
	}
	return id
}

// damageLog collects OnDamage calls.
type damageLog struct {
	mu    sync.Mutex
	calls []ShardFile
}

func (d *damageLog) hook(id ID, shard, drive int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, ShardFile{Shard: shard, Drive: drive})
}

func (d *damageLog) shards() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []int
	for _, c := range d.calls {
		out = append(out, c.Shard)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (d *damageLog) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = nil
}

// testStore opens a store over n drive directories in a temp dir on the real
// file system (or on fs, if not nil, under /drives).
type storeConfig struct {
	drives, k, m, blockSize int
	fs                      vfs.FS
	noSync                  bool
}

func openTestStore(t testing.TB, cfg storeConfig) (*Store, []string, *damageLog) {
	t.Helper()
	fs := cfg.fs
	root := "/drives"
	if fs == nil {
		fs = vfs.Default
		root = t.TempDir()
	}
	drives := make([]string, cfg.drives)
	for i := range drives {
		drives[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
	}
	dl := &damageLog{}
	s, err := Open(Options{
		FS: fs, Drives: drives, DataShards: cfg.k, ParityShards: cfg.m,
		BlockSize: cfg.blockSize, NoSync: cfg.noSync, OnDamage: dl.hook,
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, drives, dl
}

// writeStream writes data in pieces of random size (mixing Write and
// ReadFrom) and finishes with trailer.
func writeStream(t testing.TB, r *rand.Rand, s *Store, id ID, data, trailer []byte) (Layout, int64) {
	t.Helper()
	w, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	rest := data
	for len(rest) > 0 {
		n := min(len(rest), 1+r.IntN(3*s.opts.BlockSize/2+1))
		if r.IntN(2) == 0 {
			if m, err := w.Write(rest[:n]); err != nil || m != n {
				t.Fatalf("Write = %d, %v", m, err)
			}
		} else {
			if m, err := w.ReadFrom(bytes.NewReader(rest[:n])); err != nil || m != int64(n) {
				t.Fatalf("ReadFrom = %d, %v", m, err)
			}
		}
		rest = rest[n:]
	}
	l, size, err := w.Finish(trailer)
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if size != int64(len(data)) {
		t.Fatalf("Finish size %d, wrote %d", size, len(data))
	}
	return l, size
}

// readRange reads [off, off+n) with small Reads.
func readRange(s *Store, id ID, l Layout, size, off, n int64, chunk int) ([]byte, error) {
	rc, err := s.NewReader(id, l, size, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []byte
	buf := make([]byte, chunk)
	for {
		m, err := rc.Read(buf)
		out = append(out, buf[:m]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// readRangeWriteTo reads [off, off+n) through io.WriterTo.
func readRangeWriteTo(s *Store, id ID, l Layout, size, off, n int64) ([]byte, error) {
	rc, err := s.NewReader(id, l, size, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out bytes.Buffer
	_, err = rc.(io.WriterTo).WriteTo(&out)
	return out.Bytes(), err
}

// readRangeSpans reads [off, off+n) through ReadSpan, asking for at most
// max bytes at a time.
func readRangeSpans(s *Store, id ID, l Layout, size, off, n int64, max int) ([]byte, error) {
	rc, err := s.NewReader(id, l, size, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sr := rc.(interface{ ReadSpan(int) ([]byte, error) })
	var out []byte
	for {
		p, err := sr.ReadSpan(max)
		if len(p) > max || (err == nil && len(p) == 0) {
			return out, fmt.Errorf("ReadSpan(%d) lent %d bytes, err %v", max, len(p), err)
		}
		out = append(out, p...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func checkRange(t *testing.T, s *Store, id ID, l Layout, data []byte, off, n int64) {
	t.Helper()
	want := data[off : off+n]
	got, err := readRangeSpans(s, id, l, int64(len(data)), off, n, 5+int(off%977))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadSpan [%d,+%d) of %d: err %v, equal %v (got %d bytes)", off, n, len(data), err, bytes.Equal(got, want), len(got))
	}
	got, err = readRange(s, id, l, int64(len(data)), off, n, 7+int(off%13))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Read [%d,+%d) of %d: err %v, equal %v (got %d bytes)", off, n, len(data), err, bytes.Equal(got, want), len(got))
	}
	got, err = readRangeWriteTo(s, id, l, int64(len(data)), off, n)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("WriteTo [%d,+%d) of %d: err %v, equal %v (got %d bytes)", off, n, len(data), err, bytes.Equal(got, want), len(got))
	}
}

// boundaries returns interesting offsets in a stream of size bytes striped
// in blocks of bs bytes with shard blocks of sl bytes.
func boundaries(size int64, bs, sl int) []int64 {
	set := map[int64]bool{0: true, 1: true, size: true, size - 1: true}
	for b := int64(0); b <= size; b += int64(bs) {
		for _, d := range []int64{-1, 0, 1} {
			set[b+d] = true
			for j := int64(1); j*int64(sl) < int64(bs); j++ {
				set[b+j*int64(sl)+d] = true
			}
		}
	}
	var out []int64
	for v := range set {
		if v >= 0 && v <= size {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	for _, cfg := range []storeConfig{
		{drives: 6, k: 4, m: 2, blockSize: 1000},
		{drives: 1, k: 1, m: 0, blockSize: 512},
		{drives: 5, k: 2, m: 1, blockSize: 333},
		{drives: 6, k: 3, m: 3, blockSize: 4096},
	} {
		s, _, dl := openTestStore(t, cfg)
		bs := cfg.blockSize
		for _, size := range []int{0, 1, bs - 1, bs, bs + 1, 3*bs + 17} {
			t.Run(fmt.Sprintf("%d+%d/bs%d/size%d", cfg.k, cfg.m, bs, size), func(t *testing.T) {
				data := randBytes(r, size)
				trailer := randBytes(r, r.IntN(100))
				id := randID(r)
				l, _ := writeStream(t, r, s, id, data, trailer)
				if l.DataShards != cfg.k || l.ParityShards != cfg.m || l.BlockSize != bs || len(l.Drives) != cfg.k+cfg.m {
					t.Fatalf("layout %+v", l)
				}
				sl := (bs + cfg.k - 1) / cfg.k
				pts := boundaries(int64(size), bs, sl)
				for _, off := range pts {
					for _, end := range pts {
						if end < off {
							continue
						}
						checkRange(t, s, id, l, data, off, end-off)
					}
				}
				// n == -1 reads to the end.
				got, err := readRange(s, id, l, int64(size), 0, -1, 4096)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read to end: %v", err)
				}
			})
		}
		if len(dl.calls) != 0 {
			t.Fatalf("damage reported on a healthy store: %v", dl.calls)
		}
	}
}

func TestBadRanges(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000})
	id := randID(r)
	l, size := writeStream(t, r, s, id, randBytes(r, 2500), nil)
	for _, c := range [][2]int64{{-1, 1}, {0, size + 1}, {size, 1}, {size + 1, 0}, {10, -2}, {1, size}} {
		if _, err := s.NewReader(id, l, size, c[0], c[1]); !errors.Is(err, ErrRange) {
			t.Errorf("NewReader(off %d, n %d) = %v, want ErrRange", c[0], c[1], err)
		}
	}
	bad := l
	bad.Drives = []int{0, 1, 2, 3, 4, 4}
	if _, err := s.NewReader(id, bad, size, 0, size); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("duplicate drive: %v", err)
	}
	bad.Drives = []int{0, 1, 2, 3, 4, 6}
	if _, err := s.NewReader(id, bad, size, 0, size); !errors.Is(err, ErrInvalidLayout) {
		t.Errorf("drive out of range: %v", err)
	}
}

func TestPlacementSpreadsParity(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	// Placement does no I/O: a memory file system will do.
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000, noSync: true, fs: vfs.NewMem()})
	parityOn := make([]int, 6)
	for range 600 {
		w, err := s.Create(randID(r))
		if err != nil {
			t.Fatal(err)
		}
		l := w.layout
		if err := l.validate(6); err != nil {
			t.Fatal(err)
		}
		for _, d := range l.Drives[4:] {
			parityOn[d]++
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
	}
	for d, n := range parityOn {
		// 1200 parity shards over 6 drives: 200 expected each.
		if n < 120 || n > 280 {
			t.Fatalf("drive %d holds %d of 1200 parity shards: %v", d, n, parityOn)
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, drives, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000})
	id := randID(r)

	// Abort after some stripes removes every file.
	w, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(r, 3500)); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if n := countShardFiles(t, drives); n != 0 {
		t.Fatalf("%d shard files left after Abort", n)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Abort = %v", err)
	}
	if _, _, err := w.Finish(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Finish after Abort = %v", err)
	}

	// A deferred Abort after Finish keeps the stream.
	data := randBytes(r, 2100)
	w, err = s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Finish(make([]byte, MaxTrailerSize+1)); !errors.Is(err, ErrTrailerTooLarge) {
		t.Fatalf("Finish with a huge trailer = %v", err)
	}
	l, size, err := w.Finish(make([]byte, MaxTrailerSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if n := countShardFiles(t, drives); n != 6 {
		t.Fatalf("%d shard files after Finish, want 6", n)
	}
	checkRange(t, s, id, l, data, 0, size)

	// Remove deletes them; removing again is fine.
	if err := s.Remove(id, l); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(id, l); err != nil {
		t.Fatal(err)
	}
	if n := countShardFiles(t, drives); n != 0 {
		t.Fatalf("%d shard files after Remove", n)
	}
	if _, err := readRange(s, id, l, size, 0, size, 100); !errors.Is(err, ErrReadQuorum) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("read after Remove = %v, want ErrReadQuorum wrapping ErrNotFound", err)
	}

	// A closed store refuses work.
	s.Close()
	if _, err := s.Create(id); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create after Close = %v", err)
	}
}

func TestReaderLifecycle(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000})
	id := randID(r)
	data := randBytes(r, 10000)
	l, size := writeStream(t, r, s, id, data, nil)
	// Close in the middle of a prefetching read, then again.
	rc, err := s.NewReader(id, l, size, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[:1500]) {
		t.Fatalf("first read: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(buf); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close = %v", err)
	}
	// Close without reading.
	rc, err = s.NewReader(id, l, size, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
}

func countShardFiles(t testing.TB, drives []string) int {
	t.Helper()
	n := 0
	for _, d := range drives {
		m, err := filepath.Glob(filepath.Join(d, "shards", "*", "*"))
		if err != nil {
			t.Fatal(err)
		}
		n += len(m)
	}
	return n
}
