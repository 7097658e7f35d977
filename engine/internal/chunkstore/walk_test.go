package chunkstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWalk(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, drives, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000, noSync: true})
	type stream struct {
		l       Layout
		size    int64
		trailer []byte
	}
	want := map[ID]*stream{}
	for i := range 40 {
		id := randID(r)
		size := []int{0, 1, 999, 1000, 1001, 4321}[i%6]
		trailer := randBytes(r, r.IntN(300))
		if i%7 == 0 {
			trailer = nil
		}
		l, n := writeStream(t, r, s, id, randBytes(r, size), trailer)
		want[id] = &stream{l, n, trailer}
	}
	ids := make([]ID, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b ID) int { return bytes.Compare(a[:], b[:]) })

	corruptTrailer := func(id ID, shard int) {
		st := want[id]
		p := s.shardPath(st.l.Drives[shard], id, shard)
		b := readFile(t, p)
		ll := len(st.l.AppendBinary(nil))
		at := len(b) - tailSize - ll - len(st.trailer)
		if len(st.trailer) == 0 {
			at = len(b) - tailSize - ll // the layout's version byte
		}
		b[at] ^= 0x40
		writeFile(t, p, b)
	}
	removeShard := func(id ID, shard int) {
		st := want[id]
		if err := os.Remove(s.shardPath(st.l.Drives[shard], id, shard)); err != nil {
			t.Fatal(err)
		}
	}
	// ids[0]: the first two footers are corrupt, the third one is used.
	corruptTrailer(ids[0], 0)
	corruptTrailer(ids[0], 1)
	// ids[1]: every footer is corrupt: found, without a trailer.
	for i := range 6 {
		corruptTrailer(ids[1], i)
	}
	// ids[2]: only shard 5 is left.
	for i := range 5 {
		removeShard(ids[2], i)
	}
	// ids[3]: shard 0 truncated by one byte, shard 1 gone.
	{
		st := want[ids[3]]
		p := s.shardPath(st.l.Drives[0], ids[3], 0)
		b := readFile(t, p)
		writeFile(t, p, b[:len(b)-1])
		removeShard(ids[3], 1)
	}
	// Files that are not shards, or are in the wrong fan-out directory,
	// are ignored.
	writeFile(t, filepath.Join(drives[0], "shards", "00", "README"), []byte("x"))
	writeFile(t, filepath.Join(drives[1], "shards", "00", "ff"+ids[4].String()[2:]+".0"), []byte("x"))
	writeFile(t, filepath.Join(drives[1], "shards", "ab", "ab"+ids[4].String()[2:]+".0007"), []byte("x"))

	var got []Stream
	if err := s.WalkStreams(func(st Stream) error {
		got = append(got, st)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("walk found %d streams, want %d", len(got), len(ids))
	}
	for i, st := range got {
		if st.ID != ids[i] {
			t.Fatalf("walk order: %d-th stream is %s, want %s", i, st.ID, ids[i])
		}
		w := want[st.ID]
		switch i {
		case 1:
			if st.Trailer != nil || st.Size != -1 || len(st.Files) != 6 {
				t.Fatalf("stream with corrupt footers: trailer %q size %d files %v", st.Trailer, st.Size, st.Files)
			}
			continue
		case 2:
			if !slices.Equal(st.Files, []ShardFile{{5, w.l.Drives[5]}}) {
				t.Fatalf("files %v", st.Files)
			}
		case 3:
			if len(st.Files) != 5 {
				t.Fatalf("files %v", st.Files)
			}
		}
		if !bytes.Equal(st.Trailer, w.trailer) || st.Trailer == nil || st.Size != w.size ||
			!slices.Equal(st.Layout.Drives, w.l.Drives) || st.Layout.BlockSize != 1000 {
			t.Fatalf("stream %d: trailer %q size %d layout %+v; want %q %d %+v", i, st.Trailer, st.Size, st.Layout, w.trailer, w.size, w.l)
		}
	}

	// Walk gives the same ids and trailers.
	n := 0
	if err := s.Walk(func(id ID, trailer []byte) error {
		if id != ids[n] || (n != 1 && !bytes.Equal(trailer, want[id].trailer)) {
			t.Fatalf("Walk: %d-th id %s trailer %q", n, id, trailer)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// An error from fn stops the walk.
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(func(ID, []byte) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Walk = %v after %d calls, want stop after 1", err, calls)
	}

	// RemoveAny removes an id from every drive, layout unknown.
	before := countShardFiles(t, drives)
	if err := s.RemoveAny(ids[5]); err != nil {
		t.Fatal(err)
	}
	if d := before - countShardFiles(t, drives); d != 6 {
		t.Fatalf("RemoveAny removed %d files, want 6", d)
	}
	if err := s.RemoveAny(ids[5]); err != nil {
		t.Fatal(err)
	}
}
