package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
)

// A damage kind applied to the shard files of some shards.
type damageKind struct {
	name    string
	corrupt bool // reads see ErrCorrupt (rather than ErrNotFound)
	apply   func(t *testing.T, paths []string)
}

var damageKinds = []damageKind{
	{"delete", false, func(t *testing.T, paths []string) {
		for _, p := range paths {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"flip-block-byte", true, func(t *testing.T, paths []string) {
		for _, p := range paths {
			b := readFile(t, p)
			b[headerSize+(1000/4+4)+37] ^= 0x10 // stripe 1, inside the block
			writeFile(t, p, b)
		}
	}},
	{"flip-checksum-byte", true, func(t *testing.T, paths []string) {
		for _, p := range paths {
			b := readFile(t, p)
			b[headerSize+1000/4] ^= 0x01 // checksum of stripe 0
			writeFile(t, p, b)
		}
	}},
	{"truncate", true, func(t *testing.T, paths []string) {
		for _, p := range paths {
			if err := os.Truncate(p, headerSize+(1000/4+4)+100); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"zero", true, func(t *testing.T, paths []string) {
		for _, p := range paths {
			writeFile(t, p, make([]byte, len(readFile(t, p))))
		}
	}},
	{"header", true, func(t *testing.T, paths []string) {
		for _, p := range paths {
			b := readFile(t, p)
			b[17] ^= 0x01 // shard index, header checksum no longer matches
			writeFile(t, p, b)
		}
	}},
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func shardPaths(s *Store, id ID, l Layout, shards []int) []string {
	var out []string
	for _, i := range shards {
		out = append(out, s.shardPath(l.Drives[i], id, i))
	}
	return out
}

func subsets(n, size int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == size {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

// TestDegradedRead damages 1..m shard files of a 4+2 stream over six drives
// in every way a drive can and expects every read to stay byte-exact, and
// m+1 damaged shards to fail with ErrReadQuorum.
func TestDegradedRead(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	const bs = 1000
	s, _, dl := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: bs, noSync: true})
	data := randBytes(r, 4*bs+321) // five stripes, the last one short
	size := int64(len(data))
	for _, kind := range damageKinds {
		for n := 1; n <= 3; n++ {
			for _, shards := range subsets(6, n) {
				name := fmt.Sprintf("%s/%v", kind.name, shards)
				id := randID(r)
				l, _ := writeStream(t, r, s, id, data, []byte("trailer"))
				kind.apply(t, shardPaths(s, id, l, shards))
				dl.reset()
				got, err := readRange(s, id, l, size, 0, size, 333)
				if !bytes.Equal(got, data[:len(got)]) {
					t.Fatalf("%s: wrong bytes returned", name)
				}
				if n <= 2 {
					if err != nil || len(got) != len(data) {
						t.Fatalf("%s: full read: %v", name, err)
					}
					for _, c := range [][2]int64{{0, 1}, {bs - 1, 2}, {bs + 250, 250}, {bs + 300, 600}, {2*bs + 600, 300}, {3*bs + 999, bs}, {size - 1, 1}} {
						checkRange(t, s, id, l, data, c[0], min(c[1], size-c[0]))
					}
					for _, sh := range dl.shards() {
						if !slices.Contains(shards, sh) {
							t.Fatalf("%s: healthy shard %d reported damaged", name, sh)
						}
					}
					for _, sh := range shards {
						if sh < 4 && !slices.Contains(dl.shards(), sh) {
							t.Fatalf("%s: damaged data shard %d not reported (reported %v)", name, sh, dl.shards())
						}
					}
				} else {
					want := ErrNotFound
					if kind.corrupt {
						want = ErrCorrupt
					}
					if !errors.Is(err, ErrReadQuorum) || !errors.Is(err, want) {
						t.Fatalf("%s: full read = %v, want ErrReadQuorum wrapping %v", name, err, want)
					}
					var se *ShardError
					if !errors.As(err, &se) || !slices.Contains(shards, se.Shard) || se.Drive != l.Drives[se.Shard] {
						t.Fatalf("%s: error does not name a damaged shard: %v", name, err)
					}
				}
				if err := s.Remove(id, l); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestSwappedShardFiles swaps the files of two shards (and of two streams);
// both must be detected and reconstructed.
func TestSwappedShardFiles(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	s, _, dl := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000, noSync: true})
	data := randBytes(r, 3500)
	for _, pair := range subsets(6, 2) {
		id := randID(r)
		l, size := writeStream(t, r, s, id, data, nil)
		p := shardPaths(s, id, l, pair)
		a, b := readFile(t, p[0]), readFile(t, p[1])
		writeFile(t, p[0], b)
		writeFile(t, p[1], a)
		dl.reset()
		checkRange(t, s, id, l, data, 0, size)
		if err := s.Remove(id, l); err != nil {
			t.Fatal(err)
		}
	}
	// The same shard of two streams with identical content swapped: the
	// block checksums are bound to the stream id.
	idA, idB := randID(r), randID(r)
	lA, size := writeStream(t, r, s, idA, data, nil)
	lB, _ := writeStream(t, r, s, idB, data, nil)
	pa := shardPaths(s, idA, lA, []int{0, 1})
	pb := shardPaths(s, idB, lB, []int{0, 1})
	for i := range pa {
		fa := readFile(t, pa[i])
		fb := readFile(t, pb[i])
		copy(fa[headerSize:], fb[headerSize:]) // keep A's header, take B's blocks
		writeFile(t, pa[i], fa)
	}
	dl.reset()
	checkRange(t, s, idA, lA, data, 0, size)
	if got := dl.shards(); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("blocks from another stream: damaged shards reported %v, want [0 1]", got)
	}
}
