package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// Write and fsync failures (reliability-security.md §5.2, test 4).
//
// Each test fails chosen file operations with EIO through errorfs and
// checks what the caller is told, what is visible, and what a reopen
// finds. The failures follow the fsyncgate rule: a failed fsync may have
// dropped the dirty pages, so nothing may retry it and then acknowledge.
// The injector fails an operation once per file and lets any later one on
// that file through, so that an engine that retried would succeed, and be
// caught: the tests assert that nothing wrote or synced a failed file
// again. (Directories are synced anew by every later file created in
// them, so for a failed directory sync what is asserted is only that the
// put it belonged to dropped that shard or failed.)
//
// The tests run on Pebble's crashable memory filesystem: what a failed
// sync leaves behind depends on whether the machine keeps its page cache,
// and a crash clone tells the two apart (one keeping no unsynced data is
// a power cut right after the failure, one keeping all of it a restart of
// the process alone). Reopens after a failure happen on a power-cut clone,
// the harsher of the two, unless a test says otherwise. (On real files
// these tests spend seconds creating and syncing the drives' fan-out
// directories, and test nothing more.)
//
// The S3 facade maps ErrInsufficientDrives to 503 and ErrFailed and
// ErrCorrupt to 500 (s3facade/errtable.go); those are the errors asserted
// here for requests that must fail.

// eioOnce is an errorfs.Injector that fails with EIO the at-th operation
// on each file (by path) that match selects, while armed. Later selected
// operations on a file that already failed pass and are counted as
// retries, until the path is created again (a new file). Safe for
// concurrent use.
type eioOnce struct {
	at int // 1: the first selected operation of each file fails

	mu      sync.Mutex
	match   func(op errorfs.Op) bool // nil: disarmed
	seen    map[string]int           // selected operations per path
	failed  map[string]bool
	retried map[string]int
}

func newEIOOnce(at int) *eioOnce {
	return &eioOnce{at: at, seen: map[string]int{}, failed: map[string]bool{}, retried: map[string]int{}}
}

// arm selects the operations to fail from now on (nil disarms).
func (f *eioOnce) arm(match func(op errorfs.Op) bool) {
	f.mu.Lock()
	f.match = match
	f.mu.Unlock()
}

func (f *eioOnce) MaybeError(op errorfs.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op.Kind == errorfs.OpCreate {
		delete(f.seen, op.Path)
		delete(f.failed, op.Path)
		delete(f.retried, op.Path)
	}
	if f.match == nil || !f.match(op) {
		return nil
	}
	if f.failed[op.Path] {
		f.retried[op.Path]++
		return nil
	}
	f.seen[op.Path]++
	if f.seen[op.Path] < f.at {
		return nil
	}
	f.failed[op.Path] = true
	return &os.PathError{Op: fmt.Sprint("injected op ", int(op.Kind)), Path: op.Path, Err: syscall.EIO}
}

func (f *eioOnce) String() string { return fmt.Sprintf("EIO at selected op %d of each file", f.at) }

// injected returns the paths that failed, but for the temporary files of
// heals (which background heals may try while the fault is armed).
func (f *eioOnce) injected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for p := range f.failed {
		if !strings.HasSuffix(p, ".heal") {
			out = append(out, p)
		}
	}
	return out
}

// checkNoRetry fails the test if a failed file was touched again by an
// operation of the failed kind.
func (f *eioOnce) checkNoRetry(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, n := range f.retried {
		t.Errorf("%s failed, then was retried %d times: never retry a failed write or fsync", p, n)
	}
}

func isSync(k errorfs.OpKind) bool {
	return k == errorfs.OpFileSync || k == errorfs.OpFileSyncData || k == errorfs.OpFileSyncTo
}

// onShardsOf reports whether path lies in the shard tree of one of ds.
func onShardsOf(path string, ds []string) bool {
	for _, d := range ds {
		if strings.HasPrefix(path, filepath.Join(d, "shards")+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// isShardFile tells shard files ("<id>.<shard>", "<id>.<shard>.heal")
// from fan-out directories ("00".."ff") under a drive's shards folder.
func isShardFile(path string) bool { return strings.Contains(filepath.Base(path), ".") }

// streamFiles lists the shard files of stream id on the drives of fs,
// leaving out the temporary files of heals in progress.
func streamFiles(fs vfs.FS, drives []string, id [16]byte) []string {
	var out []string
	hex := chunkstore.ID(id).String()
	for _, d := range drives {
		dir := filepath.Join(d, "shards", hex[:2])
		names, _ := fs.List(dir)
		for _, n := range names {
			if strings.HasPrefix(n, hex+".") && !strings.HasSuffix(n, ".heal") {
				out = append(out, filepath.Join(dir, n))
			}
		}
	}
	return out
}

// allShardFiles lists every shard file on the drives of fs.
func allShardFiles(fs vfs.FS, drives []string) []string {
	var out []string
	for _, d := range drives {
		subs, _ := fs.List(filepath.Join(d, "shards"))
		for _, sub := range subs {
			names, _ := fs.List(filepath.Join(d, "shards", sub))
			for _, n := range names {
				out = append(out, filepath.Join(d, "shards", sub, n))
			}
		}
	}
	return out
}

// dataID returns the data id of the committed object bucket/key.
func dataID(t *testing.T, e *Engine, bucket, key string) [16]byte {
	t.Helper()
	rec, err := e.lookup(bucket, key)
	if err != nil {
		t.Fatalf("lookup %s/%s: %v", bucket, key, err)
	}
	return rec.DataID
}

// mustRead fails the test unless bucket/key reads back exactly want.
func mustRead(t *testing.T, e *Engine, bucket, key string, want []byte) {
	t.Helper()
	got, err := get(t, e, bucket, key, nil)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s/%s: %d bytes, equal %v, err %v", bucket, key, len(got), bytes.Equal(got, want), err)
	}
}

// mustBeAbsent fails the test unless bucket/key does not exist.
func mustBeAbsent(t *testing.T, e *Engine, bucket, key string) {
	t.Helper()
	if info, err := e.HeadObject(ctx, bucket, key, nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("%s/%s should not exist: %+v %v", bucket, key, info, err)
	}
}

// knownGap checks an expectation the engine does not meet yet; each gap
// is described where it is used and was reported with these tests. By
// default a miss is logged ("KNOWN GAP") and the test goes on; with
// COFFER_KNOWN_GAPS=1 it fails the test, so that a fix can be verified
// and the call then turned into a plain assertion.
// mustHold fails the test unless ok: a gap knownGap once logged, now fixed.
func mustHold(t *testing.T, what string, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Errorf("%s: %s", what, fmt.Sprintf(format, args...))
	}
}

func knownGap(t *testing.T, gap string, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("COFFER_KNOWN_GAPS") == "1" {
		t.Errorf("known gap %q: %s", gap, msg)
		return
	}
	t.Logf("KNOWN GAP %q (COFFER_KNOWN_GAPS=1 makes it fail): %s", gap, msg)
}

// checkOK reports whether Check without repair finds the store
// consistent and fully redundant with objects records.
func checkOK(t *testing.T, e *Engine, objects int) (bool, string) {
	t.Helper()
	rep, err := e.Check(ctx, false)
	return err == nil && rep.OK() && rep.Objects == objects, fmt.Sprintf("check: %+v %v, want OK with %d objects", rep, err, objects)
}

// mustCheckOK runs Check without repair and fails the test unless the
// store is consistent and fully redundant with objects records.
func mustCheckOK(t *testing.T, e *Engine, objects int) {
	t.Helper()
	if ok, msg := checkOK(t, e, objects); !ok {
		t.Fatal(msg)
	}
}

// reopenAfterPowerCut closes e, takes a power-cut clone of mem and opens
// the store on it without fault injection.
func reopenAfterPowerCut(t *testing.T, e *Engine, mem *vfs.MemFS, o *Options) (*Engine, *Options) {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	o2 := reopenOn(o, crashClone(mem, 0))
	return open(t, o2), o2
}

// TestFsyncShardFileFailure fails the fsync of the shard files of one
// object on 1..3 of six 4+2 drives. Up to m the put is acknowledged: the
// shards whose fsync failed are dropped (their files removed, not trusted)
// and reported for healing, reads reconstruct, a heal restores full
// redundancy, and the object survives a power cut. Beyond m the put fails
// with ErrInsufficientDrives, the old object stays, and no shard file of
// the failed put survives, then or after a power cut.
func TestFsyncShardFileFailure(t *testing.T) {
	for failing := 1; failing <= 3; failing++ {
		t.Run(fmt.Sprint(failing, "drives"), func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			inj := newEIOOnce(1)
			o := memOptions(mem, inj)
			e := open(t, o)
			defer func() { e.Close() }()
			mustBucket(t, e, "bkt")
			old, data := payload(1, 3*o.BlockSize+5), payload(2, 3*o.BlockSize+77)
			put(t, e, "bkt", "k", old)
			oldID := dataID(t, e, "bkt", "k")
			bad := o.Drives[:failing]
			queued := e.Stats().HealsQueued
			inj.arm(func(op errorfs.Op) bool {
				return isSync(op.Kind) && onShardsOf(op.Path, bad) && isShardFile(op.Path)
			})
			// Up to m, a new key (an overwrite would release the old
			// stream in the background, which Check counts as dangling
			// until it is gone); beyond, an overwrite that must fail.
			key := "k"
			if failing <= o.ParityShards {
				key = "new"
			}
			_, err := e.PutObject(ctx, "bkt", key, bytes.NewReader(data), nil)
			if n := len(inj.injected()); n != failing {
				t.Fatalf("%d shard fsyncs failed, want %d (one per failing drive): %v", n, failing, inj.injected())
			}
			if failing <= o.ParityShards {
				if err != nil {
					t.Fatalf("put with %d failed shard fsyncs: %v", failing, err)
				}
				if got := e.Stats().HealsQueued - queued; got < int64(failing) {
					t.Fatalf("%d dropped shards reported for healing, want %d", got, failing)
				}
				// A background heal while the fault is armed fails its
				// own fsync, so nothing can have rewritten the dropped
				// shards yet.
				if fs := streamFiles(mem, bad, dataID(t, e, "bkt", key)); len(fs) != 0 {
					t.Fatalf("shard files kept after their fsync failed: %v", fs)
				}
				mustRead(t, e, "bkt", key, data)
				rep, err := e.Check(ctx, false)
				if err != nil || rep.Damaged != 1 || len(rep.Unrecoverable) != 0 || rep.Dangling != 0 {
					t.Fatalf("check with dropped shards: %+v %v", rep, err)
				}
				// Acknowledged short of shards, it survives a power cut
				// before any heal.
				clone := crashClone(mem, 0)
				e2 := open(t, reopenOn(o, clone))
				mustRead(t, e2, "bkt", key, data)
				mustRead(t, e2, "bkt", "k", old)
				e2.Close()

				inj.arm(nil)
				if _, err := e.Heal(ctx, HealOptions{}); err != nil {
					t.Fatal(err)
				}
				mustCheckOK(t, e, 2)
				inj.checkNoRetry(t)
				e, _ = reopenAfterPowerCut(t, e, mem, o)
				mustRead(t, e, "bkt", key, data)
				mustRead(t, e, "bkt", "k", old)
				mustCheckOK(t, e, 2)
				return
			}
			if !errors.Is(err, ErrInsufficientDrives) {
				t.Fatalf("put with %d failed shard fsyncs: %v, want ErrInsufficientDrives", failing, err)
			}
			inj.arm(nil)
			inj.checkNoRetry(t)
			// The old object is untouched, and the failed put left nothing.
			if id := dataID(t, e, "bkt", "k"); id != oldID {
				t.Fatal("a failed put replaced the object")
			}
			mustRead(t, e, "bkt", "k", old)
			mustCheckOK(t, e, 1)
			if fs := allShardFiles(mem, o.Drives); len(fs) != 6 {
				t.Fatalf("%d shard files after a failed put, want the old object's 6: %v", len(fs), fs)
			}
			var o2 *Options
			e, o2 = reopenAfterPowerCut(t, e, mem, o)
			mustRead(t, e, "bkt", "k", old)
			// The shard files of the failed put were removed without a
			// sync of their directories, and Close then marked the
			// shutdown clean, so after a power cut they come back and
			// nothing collects them (Open collects orphans only after
			// an unclean shutdown).
			ok, msg := checkOK(t, e, 1)
			fs := allShardFiles(o2.FS, o.Drives)
			mustHold(t, "failed-put-orphans-survive-power-cut", ok && len(fs) == 6,
				"%s; %d shard files, want the old object's 6", msg, len(fs))
		})
	}
}

// TestFsyncShardDirFailure fails the fsync of the fan-out directory that
// holds a new shard file (the step that makes its directory entry
// durable): the shard is dropped like one whose file fsync failed.
func TestFsyncShardDirFailure(t *testing.T) {
	for _, failing := range []int{1, 3} {
		t.Run(fmt.Sprint(failing, "drives"), func(t *testing.T) {
			mem := vfs.NewCrashableMem()
			inj := newEIOOnce(1)
			o := memOptions(mem, inj)
			e := open(t, o)
			defer func() { e.Close() }()
			mustBucket(t, e, "bkt")
			data := payload(3, 2*o.BlockSize+1)
			bad := o.Drives[:failing]
			queued := e.Stats().HealsQueued
			inj.arm(func(op errorfs.Op) bool {
				return isSync(op.Kind) && onShardsOf(op.Path, bad) && !isShardFile(op.Path)
			})
			_, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil)
			if n := len(inj.injected()); n != failing {
				t.Fatalf("%d directory fsyncs failed, want %d: %v", n, failing, inj.injected())
			}
			if failing <= o.ParityShards {
				if err != nil {
					t.Fatalf("put with %d failed directory fsyncs: %v", failing, err)
				}
				// The dropped shards are reported for healing. (A
				// background heal may already have rewritten them: its
				// own directory fsync is not the one that failed.)
				if got := e.Stats().HealsQueued - queued; got < int64(failing) {
					t.Fatalf("%d dropped shards reported for healing, want %d", got, failing)
				}
				mustRead(t, e, "bkt", "k", data)
				inj.arm(nil)
				if _, err := e.Heal(ctx, HealOptions{}); err != nil {
					t.Fatal(err)
				}
				mustCheckOK(t, e, 1)
				e, _ = reopenAfterPowerCut(t, e, mem, o)
				mustRead(t, e, "bkt", "k", data)
				mustCheckOK(t, e, 1)
				return
			}
			if !errors.Is(err, ErrInsufficientDrives) {
				t.Fatalf("put with %d failed directory fsyncs: %v, want ErrInsufficientDrives", failing, err)
			}
			inj.arm(nil)
			mustBeAbsent(t, e, "bkt", "k")
			mustCheckOK(t, e, 0)
			if fs := allShardFiles(mem, o.Drives); len(fs) != 0 {
				t.Fatalf("a failed put left %v", fs)
			}
			var o2 *Options
			e, o2 = reopenAfterPowerCut(t, e, mem, o)
			mustBeAbsent(t, e, "bkt", "k")
			// As in TestFsyncShardFileFailure.
			ok, msg := checkOK(t, e, 0)
			fs := allShardFiles(o2.FS, o.Drives)
			mustHold(t, "failed-put-orphans-survive-power-cut", ok && len(fs) == 0,
				"%s; a failed put left %v after a power cut and reopen", msg, fs)
		})
	}
}

// TestFsyncWriteFailsMidStream fails a shard file write in the middle of
// a four-stripe object (the block of its second stripe) on m and on m+1
// drives.
func TestFsyncWriteFailsMidStream(t *testing.T) {
	for _, failing := range []int{2, 3} {
		t.Run(fmt.Sprint(failing, "drives"), func(t *testing.T) {
			// Writes of a shard file: header, then a block and its
			// checksum per stripe. The fourth is the second stripe's block.
			mem := vfs.NewCrashableMem()
			inj := newEIOOnce(4)
			o := memOptions(mem, inj)
			e := open(t, o)
			defer func() { e.Close() }()
			mustBucket(t, e, "bkt")
			old, data := payload(4, 500), payload(5, 4*o.BlockSize)
			put(t, e, "bkt", "k", old) // inline: lives in the index
			bad := o.Drives[:failing]
			inj.arm(func(op errorfs.Op) bool {
				return op.Kind == errorfs.OpFileWrite && onShardsOf(op.Path, bad) && isShardFile(op.Path)
			})
			_, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil)
			if n := len(inj.injected()); n != failing {
				t.Fatalf("%d shard writes failed, want %d: %v", n, failing, inj.injected())
			}
			inj.arm(nil)
			inj.checkNoRetry(t)
			if failing <= o.ParityShards {
				if err != nil {
					t.Fatalf("put with %d failed shard writes: %v", failing, err)
				}
				mustRead(t, e, "bkt", "k", data)
				e, _ = reopenAfterPowerCut(t, e, mem, o)
				mustRead(t, e, "bkt", "k", data)
				return
			}
			if !errors.Is(err, ErrInsufficientDrives) {
				t.Fatalf("put with %d failed shard writes: %v, want ErrInsufficientDrives", failing, err)
			}
			mustRead(t, e, "bkt", "k", old)
			mustCheckOK(t, e, 1)
			if fs := allShardFiles(mem, o.Drives); len(fs) != 0 {
				t.Fatalf("a put that failed mid-stream left %v", fs)
			}
			e, _ = reopenAfterPowerCut(t, e, mem, o)
			mustRead(t, e, "bkt", "k", old)
			mustCheckOK(t, e, 1)
		})
	}
}

// walSyncs selects the syncs of the index write-ahead logs of the given
// drives.
func walSyncs(ds []string) func(op errorfs.Op) bool {
	return func(op errorfs.Op) bool {
		if !isSync(op.Kind) || !strings.HasSuffix(op.Path, ".log") {
			return false
		}
		for _, d := range ds {
			if strings.HasPrefix(op.Path, filepath.Join(d, indexDir)+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
}

// memOptions is a 4+2 store over six drives of a crashable memory
// filesystem wrapped by inj; its index has three replicas, on d0..d2.
func memOptions(mem vfs.FS, inj errorfs.Injector) *Options {
	var ds []string
	for i := range 6 {
		ds = append(ds, fmt.Sprintf("/d%d", i))
	}
	return &Options{Drives: ds, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024,
		ScrubInterval: -1, FS: errorfs.Wrap(mem, inj)}
}

// reopenOn returns a copy of o on fs, with no fault injection.
func reopenOn(o *Options, fs vfs.FS) *Options {
	c := *o
	c.FS = fs
	return &c
}

// crashClone is mem as a machine finds it after a power cut (keep 0: only
// synced data) or after the process alone restarted (keep 100: the page
// cache kept everything written).
func crashClone(mem *vfs.MemFS, keep int) *vfs.MemFS {
	return mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: keep, RNG: rand.New(rand.NewPCG(uint64(keep), 7))})
}

// replicaHas opens the index replica of drive d on fs alone and reports
// its commit sequence and whether it holds bucket/key.
func replicaHas(t *testing.T, fs vfs.FS, d, bucket, key string) (uint64, bool) {
	t.Helper()
	db, err := index.Open(index.Options{FS: fs, Dirs: []string{filepath.Join(d, indexDir)}})
	if err != nil {
		t.Fatalf("open replica %s: %v", d, err)
	}
	defer db.Close()
	seq, err := db.Seq()
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Get(index.ObjectKey(bucket, key))
	if err != nil && !errors.Is(err, index.ErrNotFound) {
		t.Fatal(err)
	}
	return seq, err == nil
}

// TestFsyncIndexWALOneReplica fails the WAL sync of one of three index
// replicas during a put: the put is acknowledged (the other replicas
// have it, synced), that replica is dropped for the rest of the run, and
// after a power cut the next Open finds it behind and levels it.
func TestFsyncIndexWALOneReplica(t *testing.T) {
	mem := vfs.NewCrashableMem()
	inj := newEIOOnce(1)
	o := memOptions(mem, inj)
	e := open(t, o)
	mustBucket(t, e, "bkt")
	base := payload(6, 3*o.BlockSize)
	put(t, e, "bkt", "base", base)
	if n := e.idx.Replicas(); n != 3 {
		t.Fatalf("%d index replicas, want 3", n)
	}
	inj.arm(walSyncs(o.Drives[:1]))
	small, large := []byte("inline object"), payload(7, 2*o.BlockSize+3)
	put(t, e, "bkt", "small", small)
	put(t, e, "bkt", "large", large)
	if n := len(inj.injected()); n != 1 {
		t.Fatalf("%d WAL syncs failed, want 1", n)
	}
	if n := e.idx.Replicas(); n != 2 {
		t.Fatalf("%d healthy index replicas after a WAL sync failed in one, want 2", n)
	}
	mustRead(t, e, "bkt", "small", small)
	mustRead(t, e, "bkt", "large", large)
	inj.checkNoRetry(t)
	if err := e.Close(); err != nil {
		t.Fatalf("close with a dropped replica: %v", err)
	}

	clone := crashClone(mem, 0)
	seq0, has0 := replicaHas(t, clone, "/d0", "bkt", "small")
	seq1, has1 := replicaHas(t, clone, "/d1", "bkt", "small")
	if has0 || !has1 || seq0 >= seq1 {
		t.Fatalf("before levelling: failed replica seq %d has %v, healthy replica seq %d has %v", seq0, has0, seq1, has1)
	}
	o2 := reopenOn(o, clone)
	e = open(t, o2)
	if n := e.idx.Replicas(); n != 3 {
		t.Fatalf("%d index replicas after reopen, want 3", n)
	}
	mustRead(t, e, "bkt", "base", base)
	mustRead(t, e, "bkt", "small", small)
	mustRead(t, e, "bkt", "large", large)
	mustCheckOK(t, e, 3)
	e.Close()
	for _, d := range o.Drives[:3] {
		for _, k := range []string{"small", "large"} {
			if _, ok := replicaHas(t, clone, d, "bkt", k); !ok {
				t.Fatalf("replica on %s lacks %s after levelling", d, k)
			}
		}
	}
}

// walAllSetup is the common start of the every-replica WAL tests: a store
// with an inline and two sharded objects, then a failed overwrite of one
// of them whose WAL sync failed in every replica.
type walAllSetup struct {
	mem            *vfs.MemFS
	o              *Options
	tiny, big, old []byte
	new            []byte
}

func setupWALAll(t *testing.T) *walAllSetup {
	s := &walAllSetup{mem: vfs.NewCrashableMem()}
	inj := newEIOOnce(1)
	s.o = memOptions(s.mem, inj)
	o := s.o
	e := open(t, o)
	mustBucket(t, e, "bkt")
	s.tiny, s.big, s.old, s.new = []byte("tiny"), payload(8, 2*o.BlockSize), payload(9, 3*o.BlockSize), payload(10, 3*o.BlockSize+9)
	put(t, e, "bkt", "tiny", s.tiny)
	put(t, e, "bkt", "big", s.big)
	put(t, e, "bkt", "over", s.old)

	inj.arm(walSyncs(o.Drives[:3]))
	_, err := e.PutObject(ctx, "bkt", "over", bytes.NewReader(s.new), nil)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("put with every WAL sync failing: %v, want ErrFailed", err)
	}
	if n := len(inj.injected()); n != 3 {
		t.Fatalf("%d WAL syncs failed, want 3", n)
	}
	inj.checkNoRetry(t)
	// The engine is failed: every call says so, none hangs, and the
	// process goes on.
	if _, err := e.HeadObject(ctx, "bkt", "over", nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("head on a failed engine: %v", err)
	}
	if _, err := get(t, e, "bkt", "big", nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("get on a failed engine: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "later", bytes.NewReader([]byte("x")), nil); !errors.Is(err, ErrFailed) {
		t.Fatalf("put on a failed engine: %v", err)
	}
	if _, err := e.ListBuckets(ctx); !errors.Is(err, ErrFailed) {
		t.Fatalf("list on a failed engine: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Logf("close of a failed engine: %v", err)
	}
	return s
}

// TestFsyncIndexWALEveryReplica fails the WAL sync of every index replica
// during an overwrite: the put fails with ErrFailed and the engine is
// failed (every later call returns ErrFailed) without exiting or hanging.
// After a power cut, the reopened store holds every acknowledged object
// and the failed overwrite is not visible.
func TestFsyncIndexWALEveryReplica(t *testing.T) {
	s := setupWALAll(t)
	e := open(t, reopenOn(s.o, crashClone(s.mem, 0)))
	defer e.Close()
	mustRead(t, e, "bkt", "tiny", s.tiny)
	mustRead(t, e, "bkt", "big", s.big)
	mustRead(t, e, "bkt", "over", s.old)
	mustCheckOK(t, e, 3)
}

// TestFsyncIndexWALEveryReplicaRestart is the same failure followed by a
// restart of the process alone: the WAL bytes whose sync failed are still
// in the page cache and Pebble replays them, so the failed overwrite may
// surface (a 500 leaves the outcome of a PUT open, in S3 as here). What
// must hold is that the key reads back as the old or the new object,
// whole, and that nothing acknowledged is lost.
func TestFsyncIndexWALEveryReplicaRestart(t *testing.T) {
	s := setupWALAll(t)
	e := open(t, reopenOn(s.o, crashClone(s.mem, 100)))
	defer e.Close()
	mustRead(t, e, "bkt", "tiny", s.tiny)
	mustRead(t, e, "bkt", "big", s.big)
	got, err := get(t, e, "bkt", "over", nil)
	if err == nil && !bytes.Equal(got, s.old) && !bytes.Equal(got, s.new) {
		t.Fatalf("after a failed overwrite and a restart, the key reads %d bytes that are neither version", len(got))
	}
	// The engine removes the new object's shard files when the commit
	// fails, but a commit that failed on every replica is not known not
	// to have happened: here Pebble replays it, so the key points at
	// removed shards, and the same replay releases the old object's. Both
	// versions are gone.
	mustHold(t, "indeterminate-commit-removes-shards", err == nil,
		"after a failed overwrite and a restart, the key reads %d bytes (old %v, new %v), err %v",
		len(got), bytes.Equal(got, s.old), bytes.Equal(got, s.new), err)
	ok, msg := checkOK(t, e, 3)
	mustHold(t, "indeterminate-commit-removes-shards", ok, "%s", msg)
}
