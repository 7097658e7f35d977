package chunkstore

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/cofferdb/coffer/erasure"
)

// patternReader yields n bytes cycling through src, without allocating.
type patternReader struct {
	src []byte
	pos int
	n   int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	done := 0
	for done < len(b) {
		c := copy(b[done:], p.src[p.pos:])
		done += c
		p.pos = (p.pos + c) % len(p.src)
	}
	p.n -= int64(done)
	return done, nil
}

func benchSource() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	return randBytes(r, 1<<20+13)
}

// writeOnce writes one stream of size bytes from src and returns its layout.
func writeOnce(tb testing.TB, s *Store, id ID, src []byte, size int64) Layout {
	w, err := s.Create(id)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.ReadFrom(&patternReader{src: src, n: size}); err != nil {
		tb.Fatal(err)
	}
	l, _, err := w.Finish([]byte("trailer"))
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// BenchmarkWrite writes streams on 4+2 over six directories of the real
// file system, durable (fsync) and not.
func BenchmarkWrite(b *testing.B) {
	src := benchSource()
	for _, size := range []int64{1 << 20, 64 << 20} {
		for _, noSync := range []bool{false, true} {
			name := fmt.Sprintf("4+2/%dMiB/durable", size>>20)
			if noSync {
				name = fmt.Sprintf("4+2/%dMiB/nosync", size>>20)
			}
			b.Run(name, func(b *testing.B) {
				s, _, _ := openTestStore(b, storeConfig{drives: 6, k: 4, m: 2, noSync: noSync})
				b.SetBytes(size)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					id := ID{byte(i), byte(i >> 8), 1}
					i++
					l := writeOnce(b, s, id, src, size)
					b.StopTimer()
					if err := s.Remove(id, l); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkRead reads a 64 MiB stream through WriteTo, healthy and with two
// of six shards lost (reconstructing every stripe).
func BenchmarkRead(b *testing.B) {
	src := benchSource()
	const size = 64 << 20
	for _, lost := range []int{0, 2} {
		b.Run(fmt.Sprintf("4+2/64MiB/lost%d", lost), func(b *testing.B) {
			s, _, _ := openTestStore(b, storeConfig{drives: 6, k: 4, m: 2, noSync: true})
			id := ID{42}
			l := writeOnce(b, s, id, src, size)
			for i := 0; i < lost; i++ {
				if err := os.Remove(s.shardPath(l.Drives[i], id, i)); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				rc, err := s.NewReader(id, l, size, 0, size)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rc.(io.WriterTo).WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// TestSteadyStateAllocs checks that writing and reading more stripes does
// not allocate more, beyond what the Reed-Solomon library itself allocates
// per encoded stripe (nothing on GFNI CPUs).
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MiB")
	}
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	src := benchSource()
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, noSync: true})
	ce, err := s.codec(4, 2, DefaultBlockSize)
	if err != nil {
		t.Fatal(err)
	}
	stripe := make([]byte, DefaultBlockSize, ce.c.StripeBufferSize())
	shards := make([][]byte, 6)
	parity := erasure.AllocAligned(2, ce.c.ShardBlockSize())
	lib := testing.AllocsPerRun(10, func() {
		copy(shards[4:], parity)
		if err := ce.c.Encode(stripe, shards); err != nil {
			t.Fatal(err)
		}
	})

	const small, large = 2, 34 // stripes
	i := 0
	write := func(stripes int64) float64 {
		return testing.AllocsPerRun(3, func() {
			id := ID{byte(i), byte(i >> 8), 2}
			i++
			l := writeOnce(t, s, id, src, stripes<<20)
			if err := s.Remove(id, l); err != nil {
				t.Fatal(err)
			}
		})
	}
	write(small) // warm the pools
	perStripe := (write(large) - write(small)) / (large - small)
	t.Logf("write: %.2f allocations per extra stripe; the library's Encode: %.2f", perStripe, lib)
	if perStripe > lib+0.25 {
		t.Errorf("write allocates %.2f times per stripe, the library alone %.2f", perStripe, lib)
	}

	id := ID{0xee}
	l := writeOnce(t, s, id, src, large<<20)
	read := func(stripes int64) float64 {
		return testing.AllocsPerRun(3, func() {
			rc, err := s.NewReader(id, l, large<<20, 0, stripes<<20)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rc.(io.WriterTo).WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
			rc.Close()
		})
	}
	read(small)
	perStripe = (read(large) - read(small)) / (large - small)
	t.Logf("read: %.2f allocations per extra stripe", perStripe)
	if perStripe > 0.25 {
		t.Errorf("healthy read allocates %.2f times per stripe", perStripe)
	}
}

// BenchmarkWriteOverlap shows that the caller's own work (MD5 of every
// chunk, as the engine does for ETags) overlaps with encoding and shard
// writes: "md5+write" should approach "md5-only", not the sum of both.
func BenchmarkWriteOverlap(b *testing.B) {
	src := benchSource()
	const size = 64 << 20
	chunk := src[:256<<10]
	b.Run("md5-only", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			h := md5.New()
			for n := 0; n < size; n += len(chunk) {
				h.Write(chunk)
			}
			_ = h.Sum(nil)
		}
	})
	b.Run("md5+write/nosync", func(b *testing.B) {
		s, _, _ := openTestStore(b, storeConfig{drives: 6, k: 4, m: 2, noSync: true})
		b.SetBytes(size)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := ID{byte(i), byte(i >> 8), 3}
			i++
			w, err := s.Create(id)
			if err != nil {
				b.Fatal(err)
			}
			h := md5.New()
			for n := 0; n < size; n += len(chunk) {
				h.Write(chunk)
				if _, err := w.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			_ = h.Sum(nil)
			l, _, err := w.Finish(nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if err := s.Remove(id, l); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

// BenchmarkReadOverlap reads a 64 MiB stream into a consumer that hashes it
// (SHA-256, standing in for decryption): with prefetching, "read+sha256"
// should approach "sha256-only".
func BenchmarkReadOverlap(b *testing.B) {
	src := benchSource()
	const size = 64 << 20
	b.Run("sha256-only", func(b *testing.B) {
		chunk := src[:1<<20]
		b.SetBytes(size)
		for b.Loop() {
			h := sha256.New()
			for n := 0; n < size; n += len(chunk) {
				h.Write(chunk)
			}
			_ = h.Sum(nil)
		}
	})
	b.Run("read+sha256", func(b *testing.B) {
		s, _, _ := openTestStore(b, storeConfig{drives: 6, k: 4, m: 2, noSync: true})
		id := ID{43}
		l := writeOnce(b, s, id, src, size)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			rc, err := s.NewReader(id, l, size, 0, size)
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			if _, err := rc.(io.WriterTo).WriteTo(h); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	})
}
