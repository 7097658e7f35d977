package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/cofferdb/coffer/engine/internal/index"
)

// Metadata corruption (reliability-security.md §5.2, test 9).
//
// The index is three Pebble replicas (a 4+2 store over six drives keeps
// them on d0..d2). Each test damages the newest WAL or table file of one
// replica or of all of them, then reopens and compares what it finds with
// what was acknowledged. The store is built in three sessions so that the
// replicas hold tables (Pebble flushes the WAL it replays at Open) and a
// WAL of writes that were acknowledged but never flushed: the last
// session ends in a power cut (a crash clone of the memory filesystem
// keeping only what was synced), not in Close.
//
// Inline objects (at most InlineThreshold bytes) live only in the index;
// sharded ones also describe themselves in their shard files, from which
// RebuildIndex restores them.

// corruptFixture is a store in its crash state with the model of what was
// acknowledged.
type corruptFixture struct {
	fs    *vfs.MemFS
	o     *Options
	want  map[string][]byte // key in bucket "bkt" -> acknowledged bytes
	last  []string          // keys written in the last session (only in the newest WAL)
	large map[string]bool   // sharded keys
}

// newCorruptFixture builds the store: sessions of three inline and three
// sharded puts each, the first two closed cleanly, the last cut off by a
// power failure.
func newCorruptFixture(t *testing.T) *corruptFixture {
	mem := vfs.NewCrashableMem()
	o := memOptions(mem, errorfs.InjectorFunc(func(errorfs.Op) error { return nil }))
	f := &corruptFixture{want: map[string][]byte{}, large: map[string]bool{}}
	for session := range 3 {
		e := open(t, o)
		if session == 0 {
			mustBucket(t, e, "bkt")
		}
		for i := range 3 {
			small := fmt.Sprintf("s%d-inline-%d", session, i)
			large := fmt.Sprintf("s%d-large-%d", session, i)
			f.want[small] = payload(uint64(10*session+i), 100+i)
			f.want[large] = payload(uint64(100+10*session+i), o.BlockSize+i*o.BlockSize/2)
			f.large[large] = true
			put(t, e, "bkt", small, f.want[small])
			put(t, e, "bkt", large, f.want[large])
			if session == 2 {
				f.last = append(f.last, small, large)
			}
		}
		if session < 2 {
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			continue
		}
		f.fs = crashClone(mem, 0)
		e.Close()
	}
	f.o = reopenOn(o, f.fs)
	return f
}

// newestFile returns the path of the file with the greatest name ending
// in suffix in dir (Pebble numbers its files in order).
func newestFile(t *testing.T, fs vfs.FS, dir, suffix string) string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var match []string
	for _, n := range names {
		if strings.HasSuffix(n, suffix) {
			match = append(match, n)
		}
	}
	if len(match) == 0 {
		t.Fatalf("no %s file in %s: %v", suffix, dir, names)
	}
	sort.Strings(match)
	return filepath.Join(dir, match[len(match)-1])
}

// flipBit inverts one bit of the byte at off (from the end if negative)
// of the file at path.
func flipBit(t *testing.T, fs vfs.FS, path string, off int) {
	t.Helper()
	flipAt(t, fs, path, func(int) int { return off })
}

// flipAt inverts one bit of the byte at where(size) (from the end if
// negative) of the file at path.
func flipAt(t *testing.T, fs vfs.FS, path string, where func(size int) int) {
	t.Helper()
	r, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	off := where(len(b))
	if off < 0 {
		off += len(b)
	}
	if off < 0 || off >= len(b) {
		t.Fatalf("%s: offset %d outside %d bytes", path, off, len(b))
	}
	b[off] ^= 0x08
	w, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(w.Sync(), w.Close()); err != nil {
		t.Fatal(err)
	}
}

func (f *corruptFixture) replicaDir(i int) string { return filepath.Join(f.o.Drives[i], indexDir) }

// walRecordOffset is a byte inside the payload of the first record of a
// WAL (after Pebble's chunk header, at most 11 bytes): damage there makes
// the first batch, and so everything after it, unreadable.
const walRecordOffset = 24

// audit reads every acknowledged object back from e. Each must read back
// exactly or be missing (ErrObjectNotFound); anything else, wrong bytes
// above all, fails the test. It returns the keys missing.
func (f *corruptFixture) audit(t *testing.T, e *Engine) (missing []string) {
	t.Helper()
	keys := make([]string, 0, len(f.want))
	for k := range f.want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, err := get(t, e, "bkt", k, nil)
		switch {
		case errors.Is(err, ErrObjectNotFound):
			missing = append(missing, k)
		case err != nil:
			t.Fatalf("%s: %v", k, err)
		case !bytes.Equal(got, f.want[k]):
			t.Fatalf("%s: wrong bytes", k)
		}
	}
	return missing
}

// TestIndexCorruptOneReplicaWAL flips a bit in the first record of the
// newest WAL of one replica, the only place the last session's writes
// are: that replica is levelled from the others (or left out), nothing is
// lost, and the store checks clean.
func TestIndexCorruptOneReplicaWAL(t *testing.T) {
	f := newCorruptFixture(t)
	flipBit(t, f.fs, newestFile(t, f.fs, f.replicaDir(0), ".log"), walRecordOffset)
	probe := f.last[0]
	if _, has := replicaHas(t, f.fs, f.o.Drives[0], "bkt", probe); has {
		t.Fatalf("the damaged replica still holds %s: the damage missed", probe)
	}
	e := open(t, f.o)
	if missing := f.audit(t, e); len(missing) != 0 {
		t.Fatalf("lost with one damaged replica: %v", missing)
	}
	if n := e.idx.Replicas(); n != 3 {
		t.Fatalf("%d healthy replicas, want 3 (the damaged one levelled)", n)
	}
	mustCheckOK(t, e, len(f.want))
	e.Close()
	for _, k := range f.last {
		if _, has := replicaHas(t, f.fs, f.o.Drives[0], "bkt", k); !has {
			t.Fatalf("the damaged replica lacks %s after levelling", k)
		}
	}
}

// TestIndexCorruptOneReplicaSST flips a bit in the first block of the
// newest table of one replica (where its commit sequence lives): Open
// drops that replica, nothing is lost, reads and writes go on, and
// removing the replica's directory has the next Open rebuild it from the
// others. (Until the index handled corruption reports itself, Pebble sent
// them to its fatal logger, which parked the goroutine that read the
// block: Open never returned.)
func TestIndexCorruptOneReplicaSST(t *testing.T) {
	f := newCorruptFixture(t)
	flipBit(t, f.fs, newestFile(t, f.fs, f.replicaDir(0), ".sst"), 16)
	e := open(t, f.o)
	defer func() { e.Close() }()
	if n := e.idx.Replicas(); n != 2 {
		t.Fatalf("%d healthy replicas with one corrupt table, want 2", n)
	}
	if missing := f.audit(t, e); len(missing) != 0 {
		t.Fatalf("lost with one damaged replica: %v", missing)
	}
	mustCheckOK(t, e, len(f.want))
	put(t, e, "bkt", "after", []byte("written after the damage"))
	mustRead(t, e, "bkt", "after", []byte("written after the damage"))
	f.want["after"] = []byte("written after the damage")

	// The replica stays corrupt on its drive and is dropped at every Open;
	// removing its directory has the next Open recreate and level it.
	e.Close()
	if err := f.fs.RemoveAll(f.replicaDir(0)); err != nil {
		t.Fatal(err)
	}
	e = open(t, f.o)
	if n := e.idx.Replicas(); n != 3 {
		t.Fatalf("%d healthy replicas after the corrupt one was removed, want 3", n)
	}
	if missing := f.audit(t, e); len(missing) != 0 {
		t.Fatalf("lost after recreating a replica: %v", missing)
	}
	e.Close()
	for _, k := range []string{"after", f.last[0]} {
		if _, has := replicaHas(t, f.fs, f.o.Drives[0], "bkt", k); !has {
			t.Fatalf("the recreated replica lacks %s", k)
		}
	}
}

// manyKeys adds 400 small objects in a session of their own, then opens
// and closes the store once more so that they sit in one table of many
// blocks in every replica. It returns them.
func (f *corruptFixture) manyKeys(t *testing.T) map[string][]byte {
	t.Helper()
	e := open(t, f.o)
	many := map[string][]byte{}
	for i := range 400 {
		k := fmt.Sprintf("zz-many-%03d", i)
		many[k] = payload(uint64(1000+i), 200)
		f.want[k] = many[k]
		put(t, e, "bkt", k, many[k])
	}
	e.Close()
	e = open(t, f.o) // flushes that session's WAL into a new table
	e.Close()
	return many
}

// middle is the middle of a file: in a table of many blocks, a data block
// that Open does not read.
func middle(size int) int { return size / 2 }

// TestIndexCorruptReadFailover damages a data block in the middle of the
// newest table of one replica, which Open does not read: the listing and
// the reads that meet it go on in another replica and return everything,
// and the damaged replica is dropped.
func TestIndexCorruptReadFailover(t *testing.T) {
	f := newCorruptFixture(t)
	many := f.manyKeys(t)
	flipAt(t, f.fs, newestFile(t, f.fs, f.replicaDir(0), ".sst"), middle)
	e := open(t, f.o)
	defer e.Close()
	if n := e.idx.Replicas(); n != 3 {
		t.Fatalf("%d healthy replicas after Open, want 3: the damage must be met by a later read", n)
	}
	// First a listing, which meets the damage inside an iteration.
	res, err := e.ListObjects(ctx, "bkt", ListOptions{Prefix: "zz-many-", MaxKeys: 1000})
	if err != nil || len(res.Objects) != len(many) {
		t.Fatalf("list over a damaged replica: %d objects, %v", len(res.Objects), err)
	}
	for _, o := range res.Objects {
		if o.ETag != md5hex(many[o.Key]) {
			t.Fatalf("list: %s has ETag %s", o.Key, o.ETag)
		}
	}
	if n := e.idx.Replicas(); n != 2 {
		t.Fatalf("%d healthy replicas after a listing met a corrupt block, want 2", n)
	}
	if missing := f.audit(t, e); len(missing) != 0 {
		t.Fatalf("lost with one damaged replica: %v", missing)
	}
	mustCheckOK(t, e, len(f.want))
}

// TestIndexCorruptReadEveryReplica damages the same data block in every
// replica: Open succeeds (it does not read that block), reads of the keys
// in it fail with ErrCorrupt, every other key reads back, the engine is
// not failed (the last replica is kept), and writes go on.
func TestIndexCorruptReadEveryReplica(t *testing.T) {
	f := newCorruptFixture(t)
	many := f.manyKeys(t)
	for i := range 3 {
		flipAt(t, f.fs, newestFile(t, f.fs, f.replicaDir(i), ".sst"), middle)
	}
	e := open(t, f.o)
	defer e.Close()
	bad := 0
	for k, v := range many {
		got, err := get(t, e, "bkt", k, nil)
		switch {
		case errors.Is(err, ErrCorrupt):
			bad++
		case err != nil:
			t.Fatalf("%s: %v, want its bytes or ErrCorrupt", k, err)
		case !bytes.Equal(got, v):
			t.Fatalf("%s: wrong bytes", k)
		}
	}
	if bad == 0 || bad > len(many)/2 {
		t.Fatalf("%d of %d keys unreadable, want those of one block", bad, len(many))
	}
	if n := e.idx.Replicas(); n != 1 {
		t.Fatalf("%d healthy replicas, want the last one kept", n)
	}
	for k, v := range f.want {
		if _, ok := many[k]; !ok {
			mustRead(t, e, "bkt", k, v)
		}
	}
	put(t, e, "bkt", "after", []byte("still writable"))
	mustRead(t, e, "bkt", "after", []byte("still writable"))
	if _, err := e.ListObjects(ctx, "bkt", ListOptions{Prefix: "zz-many-"}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a listing across the damaged block: %v, want ErrCorrupt", err)
	}
}

// TestIndexCorruptEveryReplicaSST flips a bit in the newest table of every
// replica: Open fails with an error that says the index is corrupt (the
// engine does not guess). Removing the index directories is the way out:
// Open then rebuilds the index from the drives, which brings back every
// sharded object; inline objects lived only in the index and are lost.
func TestIndexCorruptEveryReplicaSST(t *testing.T) {
	f := newCorruptFixture(t)
	for i := range 3 {
		flipBit(t, f.fs, newestFile(t, f.fs, f.replicaDir(i), ".sst"), 16)
	}
	e, err := Open("", f.o)
	if err == nil {
		e.Close()
		t.Fatal("Open succeeded with every index replica corrupt")
	}
	if !errors.Is(err, index.ErrCorrupt) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("Open with every replica corrupt: %v, want an error marking corruption", err)
	}
	// The engine's own sentinel would let an embedder tell corruption
	// from other failures without importing an internal package.
	mustHold(t, "open-corrupt-index-not-ErrCorrupt", errors.Is(err, ErrCorrupt), "Open's error does not wrap ErrCorrupt: %v", err)

	for i := range 3 {
		if err := f.fs.RemoveAll(f.replicaDir(i)); err != nil {
			t.Fatal(err)
		}
	}
	e = open(t, f.o)
	defer e.Close()
	missing := f.audit(t, e)
	for _, k := range missing {
		if f.large[k] {
			t.Fatalf("sharded object %s not rebuilt from the drives", k)
		}
	}
	if len(missing) != len(f.want)-len(f.large) {
		t.Fatalf("after a rebuild %d objects are missing, want the %d inline ones: %v", len(missing), len(f.want)-len(f.large), missing)
	}
	mustCheckOK(t, e, len(f.large))
}

// lostLastSession checks a store that lost the last session's index
// records (the newest WAL of every replica): exactly those objects are
// missing, the shard files of the sharded ones are still on the drives
// (Check reports them dangling: the session before ended cleanly, so
// Open collected no orphans), and RebuildIndex restores them. The inline
// ones lived only in the lost records and are gone. Open reports none of
// this.
func (f *corruptFixture) lostLastSession(t *testing.T, e *Engine) {
	t.Helper()
	missing := f.audit(t, e)
	sort.Strings(f.last)
	if strings.Join(missing, ",") != strings.Join(f.last, ",") {
		t.Fatalf("missing %v, want exactly the last session's %v", missing, f.last)
	}
	var sharded, inline []string
	for _, k := range missing {
		if f.large[k] {
			sharded = append(sharded, k)
		} else {
			inline = append(inline, k)
		}
	}
	rep, err := e.Check(ctx, false)
	if err != nil || rep.Dangling != len(sharded) || len(rep.Unrecoverable) != 0 || rep.BadRecords != 0 || rep.Objects != len(f.want)-len(missing) {
		t.Fatalf("check: %+v %v, want the %d lost sharded objects dangling", rep, err, len(sharded))
	}
	n, err := e.RebuildIndex(ctx)
	if err != nil || n != len(sharded) {
		t.Fatalf("RebuildIndex restored %d records, %v; want %d", n, err, len(sharded))
	}
	if again := f.audit(t, e); strings.Join(again, ",") != strings.Join(inline, ",") {
		t.Fatalf("after RebuildIndex missing %v, want only the inline %v", again, inline)
	}
	mustCheckOK(t, e, len(f.want)-len(inline))
	// Until someone runs RebuildIndex, acknowledged objects are missing
	// and nothing says so; a Check with repair at that point would remove
	// the sharded ones' files as dangling. The inline ones cannot come
	// back, but Open could say that the index lost acknowledged commits.
	knownGap(t, "lost-wal-tail-silent", len(missing) == 0,
		"Open succeeded and %d acknowledged objects were missing without a report (sharded %v restorable by RebuildIndex, inline %v lost)",
		len(missing), sharded, inline)
}

// TestIndexCorruptEveryReplicaWAL flips a bit in the first record of the
// newest WAL of every replica. Pebble cannot tell that damage from a
// write torn by the crash: it drops the rest of the log (the last
// session), every replica agrees, and Open succeeds (see lostLastSession).
func TestIndexCorruptEveryReplicaWAL(t *testing.T) {
	f := newCorruptFixture(t)
	for i := range 3 {
		flipBit(t, f.fs, newestFile(t, f.fs, f.replicaDir(i), ".log"), walRecordOffset)
	}
	e := open(t, f.o)
	defer e.Close()
	f.lostLastSession(t, e)
}

// TestIndexCorruptLostNewestWAL deletes the newest WAL of every replica, the
// only copy of the last session's acknowledged writes. Pebble opens what
// its tables hold, a consistent older state, and so does the engine (see
// lostLastSession).
func TestIndexCorruptLostNewestWAL(t *testing.T) {
	f := newCorruptFixture(t)
	for i := range 3 {
		if err := f.fs.Remove(newestFile(t, f.fs, f.replicaDir(i), ".log")); err != nil {
			t.Fatal(err)
		}
	}
	e := open(t, f.o)
	defer e.Close()
	f.lostLastSession(t, e)
}

// TestIndexCorruptDangling covers fsck's two cross-checks. Dangling
// shards (a stream on the drives that no record names) are reported and
// removed by Check with repair. Dangling metadata (a record whose shards
// are gone, in all or more than m drives) is reported as unrecoverable,
// and reading it fails with ErrCorrupt and never returns wrong bytes.
func TestIndexCorruptDangling(t *testing.T) {
	mem := vfs.NewCrashableMem()
	o := memOptions(mem, errorfs.InjectorFunc(func(errorfs.Op) error { return nil }))
	e := open(t, o)
	defer e.Close()
	e.minPartSize = 64 << 10
	mustBucket(t, e, "bkt")
	fs := e.fs
	keep := payload(1, 2*o.BlockSize)
	put(t, e, "bkt", "keep", keep)
	put(t, e, "bkt", "orphan", payload(2, 2*o.BlockSize))
	orphanID := dataID(t, e, "bkt", "orphan")
	if err := e.idx.Update(func(tx *indexTxn) error { tx.Delete(objectKey("bkt", "orphan")); return nil }); err != nil {
		t.Fatal(err)
	}
	gone := payload(3, 3*o.BlockSize)
	put(t, e, "bkt", "gone", gone)
	for _, p := range streamFiles(fs, o.Drives, dataID(t, e, "bkt", "gone")) {
		if err := fs.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	half := payload(4, 3*o.BlockSize)
	put(t, e, "bkt", "half", half)
	for _, p := range streamFiles(fs, o.Drives, dataID(t, e, "bkt", "half"))[:o.ParityShards+1] {
		if err := fs.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// A multipart object whose second part lost every shard.
	part1, part2 := payload(5, 64<<10), payload(6, 3*o.BlockSize)
	up, err := e.CreateMultipartUpload(ctx, "bkt", "mp", nil)
	if err != nil {
		t.Fatal(err)
	}
	parts := uploadParts(t, e, "mp", up.UploadID, part1, part2)
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "mp", up.UploadID, parts, nil); err != nil {
		t.Fatal(err)
	}
	rec, err := e.lookup("bkt", "mp")
	if err != nil || len(rec.Parts) != 2 {
		t.Fatalf("multipart record: %d parts, %v", len(rec.Parts), err)
	}
	for _, p := range streamFiles(fs, o.Drives, rec.Parts[1].DataID) {
		if err := fs.Remove(p); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := e.Check(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rep.Unrecoverable)
	if rep.Dangling != 1 || strings.Join(rep.Unrecoverable, ",") != "bkt/gone,bkt/half,bkt/mp" || rep.BadRecords != 0 {
		t.Fatalf("check: %+v, want 1 dangling stream and bkt/gone, bkt/half, bkt/mp unrecoverable", rep)
	}
	full := append(append([]byte(nil), part1...), part2...)
	for k, want := range map[string][]byte{"gone": gone, "half": half, "mp": full} {
		for _, rg := range []*GetOptions{nil, {Range: ByteRange(int64(o.BlockSize)-1, int64(o.BlockSize)+10)}} {
			got, err := get(t, e, "bkt", k, rg)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("GET %s (range %v) with its shards gone: %v, want ErrCorrupt", k, rg != nil, err)
			}
			off := 0
			if rg != nil {
				off = o.BlockSize - 1
			}
			if len(got) > 0 && !bytes.Equal(got, want[off:off+len(got)]) {
				t.Fatalf("GET %s returned %d wrong bytes before failing", k, len(got))
			}
		}
	}

	rep, err = e.Check(ctx, true)
	// The orphan, and what is left of the quarantined objects' streams,
	// are removed as dangling.
	if err != nil || rep.Dangling < 1 || rep.Quarantined != 3 {
		t.Fatalf("check with repair: %+v %v; want the dangling stream removed, 3 records quarantined", rep, err)
	}
	for _, k := range []string{"gone", "half", "mp"} {
		if _, err := e.HeadObject(ctx, "bkt", k, nil); !errors.Is(err, ErrObjectNotFound) {
			t.Fatalf("HEAD %s after quarantine: %v, want ErrObjectNotFound", k, err)
		}
	}
	if fs := streamFiles(fs, o.Drives, orphanID); len(fs) != 0 {
		t.Fatalf("dangling shard files left after repair: %v", fs)
	}
	mustRead(t, e, "bkt", "keep", keep)
	rep, err = e.Check(ctx, false)
	if err != nil || rep.Dangling != 0 {
		t.Fatalf("check after repair: %+v %v", rep, err)
	}
	// Records whose data is gone were quarantined: a later Check finds
	// nothing unrecoverable (their streams went with the dangling ones).
	mustHold(t, "dangling-record-quarantined", len(rep.Unrecoverable) == 0,
		"after Check with repair, still unrecoverable: %v", rep.Unrecoverable)
}
