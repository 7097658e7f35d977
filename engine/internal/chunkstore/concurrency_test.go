package chunkstore

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
)

// TestConcurrentWritersAndReaders runs writers, readers, removals and a walk
// at once on one store (run it with -race). One drive's shards of the first
// streams are deleted so that reconstruction runs concurrently too.
func TestConcurrentWritersAndReaders(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 4096, noSync: true})
	type stream struct {
		id   ID
		l    Layout
		data []byte
	}
	var mu sync.Mutex
	var streams []stream
	for range 4 {
		id := randID(r)
		data := randBytes(r, 3*4096+100)
		l, _ := writeStream(t, r, s, id, data, nil)
		if err := os.Remove(s.shardPath(l.Drives[1], id, 1)); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, stream{id, l, data})
	}
	pick := func(rr *rand.Rand) stream {
		mu.Lock()
		defer mu.Unlock()
		return streams[rr.IntN(len(streams))]
	}

	var wg sync.WaitGroup
	errc := make(chan error, 16)
	for g := range 4 {
		seed := r.Uint64()
		wg.Add(1)
		go func() { // writer
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, uint64(g)))
			for range 8 {
				id := randID(rr)
				data := randBytes(rr, rr.IntN(6*4096))
				w, err := s.Create(id)
				if err != nil {
					errc <- err
					return
				}
				if _, err := w.ReadFrom(bytes.NewReader(data)); err != nil {
					errc <- err
					return
				}
				l, _, err := w.Finish(id[:])
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				streams = append(streams, stream{id, l, data})
				mu.Unlock()
			}
		}()
		wg.Add(1)
		go func() { // reader
			defer wg.Done()
			rr := rand.New(rand.NewPCG(seed, uint64(g)+100))
			for range 30 {
				st := pick(rr)
				size := int64(len(st.data))
				off := rr.Int64N(size + 1)
				n := rr.Int64N(size - off + 1)
				rc, err := s.NewReader(st.id, st.l, size, off, n)
				if err != nil {
					errc <- err
					return
				}
				var got bytes.Buffer
				if rr.IntN(2) == 0 {
					_, err = io.Copy(&got, rc)
				} else {
					_, err = io.CopyBuffer(&got, struct{ io.Reader }{rc}, make([]byte, 1000))
				}
				rc.Close()
				if err != nil || !bytes.Equal(got.Bytes(), st.data[off:off+n]) {
					errc <- fmt.Errorf("read %s [%d,+%d): %v", st.id, off, n, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 2 {
			if err := s.Walk(func(ID, []byte) error { return nil }); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
