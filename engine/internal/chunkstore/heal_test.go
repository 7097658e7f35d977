package chunkstore

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
)

func TestHealRewritesDamagedShards(t *testing.T) {
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 64 << 10})
	data := bytes.Repeat([]byte("heal me "), 300000)
	id := NewID()
	w, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	l, size, err := w.Finish([]byte("trailer"))
	if err != nil {
		t.Fatal(err)
	}
	path := func(shard int) string { return s.shardPath(l.Drives[shard], id, shard) }
	os.Remove(path(0))
	b, _ := os.ReadFile(path(5))
	b[100] ^= 1
	os.WriteFile(path(5), b, 0o644)

	res, err := s.Heal(id)
	if err != nil || len(res.Damaged) != 2 || len(res.Healed) != 2 || res.Size != size {
		t.Fatalf("heal: %+v %v", res, err)
	}
	// With the healed shards, any other two may go.
	os.Remove(path(1))
	os.Remove(path(2))
	r, err := s.NewReader(id, l, size, 0, size)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after heal: %v", err)
	}
	if tr, err := s.Trailer(id); err != nil || string(tr) != "trailer" {
		t.Fatalf("trailer %q %v", tr, err)
	}
	// Three gone: beyond repair, and nothing is written.
	os.Remove(path(3))
	if _, err := s.Heal(id); !errors.Is(err, ErrReadQuorum) {
		t.Fatalf("heal beyond parity: %v", err)
	}
}
