package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// driveFault fails operations of one kind on the chosen drives once `after`
// such operations have succeeded there (counted per drive), while armed.
type driveFault struct {
	drives []string // drive roots
	kind   errorfs.OpKind
	after  int64
	armed  atomic.Bool
	counts []atomic.Int64
	hits   atomic.Int64
}

func newDriveFault(drives []string, kind errorfs.OpKind, after int64) *driveFault {
	f := &driveFault{drives: drives, kind: kind, after: after, counts: make([]atomic.Int64, len(drives))}
	f.armed.Store(true)
	return f
}

func (f *driveFault) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || op.Kind != f.kind {
		return nil
	}
	for i, d := range f.drives {
		if strings.HasPrefix(op.Path, d+string(filepath.Separator)) || op.Path == d {
			if f.counts[i].Add(1) > f.after {
				f.hits.Add(1)
				return errorfs.ErrInjected
			}
		}
	}
	return nil
}

func (f *driveFault) String() string {
	return fmt.Sprintf("fail %v after %d on %v", f.kind, f.after, f.drives)
}

// openFaultyStore opens a 4+2 store over six temp drives behind errorfs with
// the given injector.
func openFaultyStore(t *testing.T, inj func(drives []string) errorfs.Injector, bs int) (*Store, []string, *damageLog) {
	t.Helper()
	root := t.TempDir()
	drives := make([]string, 6)
	for i := range drives {
		drives[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
	}
	dl := &damageLog{}
	s, err := Open(Options{
		FS: errorfs.Wrap(vfs.Default, inj(drives)), Drives: drives,
		DataShards: 4, ParityShards: 2, BlockSize: bs, OnDamage: dl.hook,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, drives, dl
}

// TestWriteSurvivesDriveFaults fails writes, syncs, creates or directory
// syncs on one drive in the middle of a write: the write still succeeds, the
// failed shard's file is gone, the owner is told, and the stream reads back.
func TestWriteSurvivesDriveFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		kind  errorfs.OpKind
		after int64
	}{
		{"write-mid-stream", errorfs.OpFileWrite, 5},
		{"first-write", errorfs.OpFileWrite, 0},
		{"sync", errorfs.OpFileSync, 0},
		{"create", errorfs.OpCreate, 0},
		{"dir-sync", errorfs.OpOpenDir, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := seeded(t)
			var fault *driveFault
			const bs = 1000
			s, drives, dl := openFaultyStore(t, func(drives []string) errorfs.Injector {
				fault = newDriveFault(drives[2:3], tc.kind, 0)
				fault.armed.Store(false) // let Open through
				return fault
			}, bs)
			fault.after = tc.after
			fault.armed.Store(true)
			data := randBytes(r, 7*bs+11)
			// With 4+2 on six drives every stream has a shard on drive 2.
			id := randID(r)
			l, size := writeStream(t, r, s, id, data, []byte("t"))
			if fault.hits.Load() == 0 {
				t.Fatalf("fault never fired")
			}
			shard := slices.Index(l.Drives, 2)
			if got := dl.shards(); !slices.Equal(got, []int{shard}) {
				t.Fatalf("damage reported for shards %v, want [%d]", got, shard)
			}
			if _, err := os.Stat(s.shardPath(2, id, shard)); !os.IsNotExist(err) {
				t.Fatalf("failed shard file still exists: %v", err)
			}
			if n := countShardFiles(t, drives); n != 5 {
				t.Fatalf("%d shard files, want 5", n)
			}
			fault.armed.Store(false)
			checkRange(t, s, id, l, data, 0, size)
			checkRange(t, s, id, l, data, 3*bs-5, 2*bs)
		})
	}
}

// TestWriteQuorumLost fails m+1 drives: the write fails with ErrWriteQuorum
// and leaves no file behind.
func TestWriteQuorumLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		kind  errorfs.OpKind
		after int64
	}{
		{"write-mid-stream", errorfs.OpFileWrite, 4},
		{"sync", errorfs.OpFileSync, 0},
		{"create", errorfs.OpCreate, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := seeded(t)
			var fault *driveFault
			s, drives, _ := openFaultyStore(t, func(drives []string) errorfs.Injector {
				fault = newDriveFault([]string{drives[0], drives[3], drives[5]}, tc.kind, tc.after)
				fault.armed.Store(false)
				return fault
			}, 1000)
			fault.armed.Store(true)
			w, err := s.Create(randID(r))
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for i := 0; i < 20 && werr == nil; i++ {
				_, werr = w.Write(randBytes(r, 1000))
			}
			_, _, ferr := w.Finish([]byte("t"))
			if !errors.Is(ferr, ErrWriteQuorum) {
				t.Fatalf("Finish = %v, want ErrWriteQuorum", ferr)
			}
			if werr != nil && !errors.Is(werr, ErrWriteQuorum) {
				t.Fatalf("Write = %v, want nil or ErrWriteQuorum", werr)
			}
			if !errors.Is(ferr, errorfs.ErrInjected) {
				t.Fatalf("Finish error does not carry the drive errors: %v", ferr)
			}
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			fault.armed.Store(false)
			if n := countShardFiles(t, drives); n != 0 {
				t.Fatalf("%d shard files left after a failed write", n)
			}
		})
	}
}

// TestOfflineDrive makes one drive unusable at Open: the store opens, new
// streams avoid it when a spare drive exists, and otherwise lose that shard
// but still succeed and read back.
func TestOfflineDrive(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	for _, drivesN := range []int{6, 7} {
		root := t.TempDir()
		drives := make([]string, drivesN)
		for i := range drives {
			drives[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
		}
		// A regular file where drive 1 should be: it cannot hold directories.
		writeFile(t, drives[1], []byte("not a drive"))
		dl := &damageLog{}
		s, err := Open(Options{FS: vfs.Default, Drives: drives, DataShards: 4, ParityShards: 2, BlockSize: 500, NoSync: true, OnDamage: dl.hook})
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			id := randID(r)
			data := randBytes(r, 1234)
			l, size := writeStream(t, r, s, id, data, nil)
			onOffline := slices.Contains(l.Drives, 1)
			if drivesN == 7 && onOffline {
				t.Fatalf("layout %v uses the offline drive though a spare exists", l.Drives)
			}
			if drivesN == 6 && (!onOffline || len(dl.shards()) != 1) {
				t.Fatalf("layout %v, damage %v: want the offline drive's shard dropped", l.Drives, dl.shards())
			}
			checkRange(t, s, id, l, data, 0, size)
			dl.reset()
		}
		s.Close()
	}
	// Fewer than k usable drives: Open fails.
	root := t.TempDir()
	var drives []string
	for i := range 4 {
		drives = append(drives, filepath.Join(root, fmt.Sprintf("d%d", i)))
	}
	writeFile(t, drives[0], nil)
	if _, err := Open(Options{FS: vfs.Default, Drives: drives, DataShards: 4, ParityShards: 0}); !errors.Is(err, ErrTooFewDrives) {
		t.Fatalf("Open with 3 of 4 drives usable and k=4: %v", err)
	}
}

// TestCrash writes streams on a crashable memory file system and checks what
// survives a crash: every finished stream, byte-exact; unfinished ones are
// found by Walk and removable.
func TestCrash(t *testing.T) {
	t.Parallel()
	r := seeded(t)
	mem := vfs.NewCrashableMem()
	for i := range 6 {
		if err := mem.MkdirAll(fmt.Sprintf("/drives/d%d", i), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	syncDirs(t, mem, "/", "/drives")
	s, _, _ := openTestStore(t, storeConfig{drives: 6, k: 4, m: 2, blockSize: 1000, fs: mem})
	type stream struct {
		id   ID
		l    Layout
		data []byte
	}
	var done []stream
	for range 4 {
		id := randID(r)
		data := randBytes(r, r.IntN(5000))
		l, _ := writeStream(t, r, s, id, data, id[:])
		done = append(done, stream{id, l, data})
	}
	// One stream in flight at the crash.
	pending := randID(r)
	w, err := s.Create(pending)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(r, 3500)); err != nil {
		t.Fatal(err)
	}

	for _, pct := range []int{0, 50, 100} {
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(r.Uint64(), 1))})
		s2, err := Open(Options{FS: crashed, Drives: s.opts.Drives, DataShards: 4, ParityShards: 2, BlockSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range done {
			got, err := readRange(s2, st.id, st.l, int64(len(st.data)), 0, int64(len(st.data)), 4096)
			if err != nil || !bytes.Equal(got, st.data) {
				t.Fatalf("unsynced %d%%: finished stream lost after crash: %v", pct, err)
			}
		}
		seen := map[ID][]byte{}
		if err := s2.Walk(func(id ID, trailer []byte) error {
			seen[id] = trailer
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, st := range done {
			if !bytes.Equal(seen[st.id], st.id[:]) {
				t.Fatalf("unsynced %d%%: Walk trailer of a finished stream = %q", pct, seen[st.id])
			}
		}
		if tr, ok := seen[pending]; ok {
			if tr != nil {
				t.Fatalf("unfinished stream has a trailer")
			}
			if err := s2.RemoveAny(pending); err != nil {
				t.Fatal(err)
			}
		}
		s2.Close()
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
}

func syncDirs(t *testing.T, fs vfs.FS, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		f, err := fs.OpenDir(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
