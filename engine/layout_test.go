package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// readIdentity reads a drive's identity file as a generic JSON object, so
// that the test sees the fields as stored.
func readIdentity(t *testing.T, drive string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(drive, driveIDFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// objectLayout returns the shard layout of a stored (not inline) object.
func objectLayout(t *testing.T, e *Engine, bucket, key string) chunkstore.Layout {
	t.Helper()
	v, err := e.idx.Get(index.ObjectKey(bucket, key))
	if err != nil {
		t.Fatal(err)
	}
	var rec index.Object
	if err := rec.Unmarshal(v); err != nil {
		t.Fatal(err)
	}
	l, _, err := chunkstore.DecodeLayout(rec.Layout)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// indexDirs lists which drives hold an index replica directory.
func indexDirs(ds []string) []bool {
	out := make([]bool, len(ds))
	for i, d := range ds {
		out[i] = exists(filepath.Join(d, indexDir))
	}
	return out
}

// TestLayoutRecorded creates a 4+2 store on six drives (the default for six
// is 3+3) and reopens it with default options: the recorded layout is
// adopted, so new objects and the index replicas follow 4+2. Options that
// set another layout fail with ErrInvalidOptions naming both, and write
// nothing.
func TestLayoutRecorded(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o) // a new store creates its drive folders
	mustBucket(t, e, "bkt")
	data := payload(1, 300<<10)
	put(t, e, "bkt", "old", data)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for i, d := range o.Drives {
		lay, _ := readIdentity(t, d)["layout"].(map[string]any)
		if lay["data_shards"] != 4.0 || lay["parity_shards"] != 2.0 || lay["block_size"] != float64(64<<10) {
			t.Fatalf("drive %d identity records layout %v, want 4+2 with 64 KiB blocks", i, lay)
		}
	}

	e = open(t, &Options{Drives: o.Drives})
	want := Layout{DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, IndexReplicas: 3}
	if got := e.Layout(); got != want {
		t.Fatalf("default options on a 4+2 store: layout %+v, want %+v", got, want)
	}
	put(t, e, "bkt", "new", payload(2, 300<<10))
	if got, err := get(t, e, "bkt", "old", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after adopting the layout: %v", err)
	}
	if l := objectLayout(t, e, "bkt", "new"); l.DataShards != 4 || l.ParityShards != 2 || l.BlockSize != 64<<10 {
		t.Fatalf("an object written after reopening has layout %d+%d block %d", l.DataShards, l.ParityShards, l.BlockSize)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if got := indexDirs(o.Drives); got[3] || !got[2] {
		t.Fatalf("index replicas on drives %v, want the first 3 only (3+3 would add drive 3)", got)
	}

	// Explicit layouts that contradict the recorded one.
	for name, bad := range map[string]*Options{
		"parity 3":   {Drives: o.Drives, ParityShards: 3},
		"no parity":  {Drives: o.Drives, ParityShards: NoParity},
		"data 3":     {Drives: o.Drives, DataShards: 3, ParityShards: 2},
		"block 1MiB": {Drives: o.Drives, BlockSize: 1 << 20},
	} {
		e, err := Open("", bad)
		if err == nil {
			e.Close()
			t.Fatalf("%s: Open accepted a layout that contradicts the store's", name)
		}
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "4 data + 2 parity shards, block size 65536") {
			t.Fatalf("%s: %v, want ErrInvalidOptions naming the recorded layout", name, err)
		}
	}
	_, err := Open("", &Options{Drives: o.Drives, ParityShards: 3})
	if err == nil || !strings.Contains(err.Error(), "3 data + 3 parity shards") {
		t.Fatalf("mismatch error does not name the asked layout: %v", err)
	}
	if got := indexDirs(o.Drives); got[3] {
		t.Fatal("a refused Open created an index replica")
	}
	// Fields that agree, with the others left zero, open.
	e = open(t, &Options{Drives: o.Drives, ParityShards: 2})
	if got := e.Layout(); got != want {
		t.Fatalf("parity 2 on a 4+2 store: %+v", got)
	}
	e.Close()
}

// TestLayoutOldIdentities opens a store whose identity files predate
// recorded layouts: it opens with the options' layout and the files are
// left as they are; a drive that joins later records the layout in use,
// which later opens adopt.
func TestLayoutOldIdentities(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	data := payload(3, 200<<10)
	put(t, e, "bkt", "k", data)
	e.Close()
	var old [][]byte
	for _, d := range o.Drives {
		m := readIdentity(t, d)
		delete(m, "layout")
		b, _ := json.Marshal(m)
		if err := os.WriteFile(filepath.Join(d, driveIDFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		old = append(old, b)
	}

	e = open(t, o)
	if got := e.Layout(); got.DataShards != 4 || got.ParityShards != 2 {
		t.Fatalf("old identities: layout %+v, want the options' 4+2", got)
	}
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with old identities: %v", err)
	}
	e.Close()
	for i, d := range o.Drives {
		if b, _ := os.ReadFile(filepath.Join(d, driveIDFile)); !bytes.Equal(b, old[i]) {
			t.Fatalf("drive %d: an old identity was rewritten: %s", i, b)
		}
	}

	// Drive 5 is replaced by an empty one: its new identity records the
	// layout, and default options adopt it from then on.
	if err := os.RemoveAll(o.Drives[5]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(o.Drives[5], 0o755); err != nil {
		t.Fatal(err)
	}
	e = open(t, o)
	if s := driveStates(e); s[5] != "new" {
		t.Fatalf("replaced drive: %v", s)
	}
	e.Close()
	if lay, _ := readIdentity(t, o.Drives[5])["layout"].(map[string]any); lay["parity_shards"] != 2.0 {
		t.Fatalf("the new drive's identity records %v, want parity 2", lay)
	}
	e = open(t, &Options{Drives: o.Drives})
	defer e.Close()
	if got := e.Layout(); got.DataShards != 4 || got.ParityShards != 2 || got.BlockSize != 64<<10 {
		t.Fatalf("default options after a drive recorded the layout: %+v", got)
	}
}

// TestMissingDriveNotRecreated removes a drive folder of an existing 4+2
// store: Open does not create it, reports the drive offline, and the store
// reads and writes with the five others. Once the folder exists again,
// empty, the next Open takes it as a replacement and refills it.
func TestMissingDriveNotRecreated(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	before := payload(4, 5*o.BlockSize)
	put(t, e, "bkt", "before", before)
	e.Close()

	// Drive 1 holds an index replica, drive 4 only shards.
	for _, i := range []int{1, 4} {
		if err := os.RemoveAll(o.Drives[i]); err != nil {
			t.Fatal(err)
		}
	}
	e = open(t, &Options{Drives: o.Drives})
	ds := e.Drives()
	for _, i := range []int{1, 4} {
		if ds[i].State != "offline" || !errors.Is(ds[i].Err, errDriveMissing) {
			t.Fatalf("missing drive %d: %+v, want offline (missing)", i, ds[i])
		}
		if exists(o.Drives[i]) {
			t.Fatalf("Open recreated the missing drive folder %s", o.Drives[i])
		}
	}
	if s := driveStates(e); s[0] != "online" || s[5] != "online" {
		t.Fatalf("other drives: %v", s)
	}
	if st := e.Stats(); st.IndexReplicas != 3 || st.IndexReplicasHealthy != 2 || st.IndexFailed || st.LowSpace {
		t.Fatalf("with drive 1's index replica missing, Stats reports %d of %d replicas in use (failed %v, low space %v), want 2 of 3",
			st.IndexReplicasHealthy, st.IndexReplicas, st.IndexFailed, st.LowSpace)
	}
	if err := e.Ready(); err != nil {
		t.Fatalf("four of six drives serve a 4+2 store, but Ready says %v", err)
	}
	if got, err := get(t, e, "bkt", "before", nil); err != nil || !bytes.Equal(got, before) {
		t.Fatalf("read with two drives missing: %v", err)
	}
	during := payload(5, 3*o.BlockSize+7)
	put(t, e, "bkt", "during", during)
	mustBucket(t, e, "made-while-missing")
	if got, err := get(t, e, "bkt", "during", nil); err != nil || !bytes.Equal(got, during) {
		t.Fatalf("read back a write made with two drives missing: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 4} {
		if exists(o.Drives[i]) {
			t.Fatalf("the engine created the missing drive folder %s while running", o.Drives[i])
		}
	}

	// The drives come back empty (replaced): they join and are refilled.
	for _, i := range []int{1, 4} {
		if err := os.Mkdir(o.Drives[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e = open(t, &Options{Drives: o.Drives})
	defer e.Close()
	if s := driveStates(e); s[1] != "new" || s[4] != "new" {
		t.Fatalf("drives back empty: %v", s)
	}
	if lay, _ := readIdentity(t, o.Drives[4])["layout"].(map[string]any); lay["parity_shards"] != 2.0 {
		t.Fatalf("the replacement's identity records %v", lay)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(shardFiles(t, o.Drives[1])) < 2 || len(shardFiles(t, o.Drives[4])) < 2 ||
		hasHealFiles(t, o.Drives[1]) || hasHealFiles(t, o.Drives[4]) {
		if time.Now().After(deadline) {
			t.Fatal("the replaced drives were not refilled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// With both refilled, two other drives may fail.
	for _, i := range []int{0, 5} {
		if err := os.RemoveAll(filepath.Join(o.Drives[i], "shards")); err != nil {
			t.Fatal(err)
		}
	}
	for k, want := range map[string][]byte{"before": before, "during": during} {
		if got, err := get(t, e, "bkt", k, nil); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %s from the refilled drives: %v", k, err)
		}
	}
}

// TestMissingDriveArrives: a drive folder missing at Open (a drive not
// mounted yet) is taken in while the store runs once it appears with this
// store's identity at its position, and healed with what it missed. An
// empty folder, or another drive's identity, at its path is not: nothing
// there is touched.
func TestMissingDriveArrives(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	before := payload(11, 3*o.BlockSize+5)
	put(t, e, "bkt", "before", before)
	e.Close()

	const late = 4 // holds shards only; drives 0-2 hold the index
	away := o.Drives[late] + ".away"
	if err := os.Rename(o.Drives[late], away); err != nil {
		t.Fatal(err)
	}
	refusals := &countRecords{msg: "chunkstore: absent drive not there yet"}
	e = open(t, &Options{Drives: o.Drives, DriveProbeInterval: 10 * time.Millisecond, Logger: slog.New(refusals)})
	defer e.Close()
	// probed waits until the absent drive has been probed (and refused)
	// twice more, so a check after it saw a probe run.
	probed := func() {
		t.Helper()
		want := refusals.n.Load() + 2
		deadline := time.Now().Add(20 * time.Second)
		for refusals.n.Load() < want {
			if time.Now().After(deadline) {
				t.Fatal("the absent drive is not probed")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if d := e.Drives()[late]; d.State != "offline" || !errors.Is(d.Err, errDriveMissing) {
		t.Fatalf("missing drive: %+v", d)
	}
	during := payload(12, 4*o.BlockSize+1)
	put(t, e, "bkt", "during", during)

	// Not this drive: an empty folder (an unmounted mount point), then
	// drive 3's identity. Neither is taken in or written to.
	if err := os.Mkdir(o.Drives[late], 0o755); err != nil {
		t.Fatal(err)
	}
	probed()
	id3, err := os.ReadFile(filepath.Join(o.Drives[3], driveIDFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.Drives[late], driveIDFile), id3, 0o600); err != nil {
		t.Fatal(err)
	}
	probed()
	if d := e.Drives()[late]; d.State != "offline" {
		t.Fatalf("a folder with drive 3's identity at drive %d's path was taken in: %+v", late, d)
	}
	if names, _ := os.ReadDir(o.Drives[late]); len(names) != 1 {
		t.Fatalf("the engine wrote into a folder it did not recognise: %v", names)
	}
	if err := os.RemoveAll(o.Drives[late]); err != nil {
		t.Fatal(err)
	}

	// The drive is mounted: it is taken in and gets what it missed.
	if err := os.Rename(away, o.Drives[late]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.Drives()[late].State != "online" {
		if time.Now().After(deadline) {
			t.Fatalf("the drive was not taken in: %+v", e.Drives()[late])
		}
		time.Sleep(10 * time.Millisecond)
	}
	for e.Stats().ShardsHealed == 0 || hasHealFiles(t, o.Drives[late]) {
		if time.Now().After(deadline) {
			t.Fatal("the arrived drive was not healed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Ready(); err != nil {
		t.Fatal(err)
	}
	// With two other drives' shards gone, reads need the arrived one.
	for _, i := range []int{0, 5} {
		if err := os.RemoveAll(filepath.Join(o.Drives[i], "shards")); err != nil {
			t.Fatal(err)
		}
	}
	for k, want := range map[string][]byte{"before": before, "during": during} {
		if got, err := get(t, e, "bkt", k, nil); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("read %s with drives 0 and 5 gone: %v", k, err)
		}
	}
}

// countRecords is a slog handler counting the records with message msg.
type countRecords struct {
	msg string
	n   atomic.Int64
}

func (c *countRecords) Enabled(context.Context, slog.Level) bool { return true }
func (c *countRecords) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.n.Add(1)
	}
	return nil
}
func (c *countRecords) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *countRecords) WithGroup(string) slog.Handler      { return c }

func hasHealFiles(t *testing.T, drive string) bool {
	for _, f := range shardFiles(t, drive) {
		if strings.HasSuffix(f, ".heal") {
			return true
		}
	}
	return false
}

// TestNewStoreCreatesMissingFolders: with no identity anywhere, Open
// creates every drive folder, parents included.
func TestNewStoreCreatesMissingFolders(t *testing.T) {
	root := t.TempDir()
	ds := []string{filepath.Join(root, "a", "d0"), filepath.Join(root, "b", "d1"), filepath.Join(root, "c", "d2")}
	e := open(t, &Options{Drives: ds})
	defer e.Close()
	for i, d := range ds {
		if !exists(filepath.Join(d, driveIDFile)) {
			t.Fatalf("drive %d: no identity in a new store", i)
		}
	}
	if s := driveStates(e); s[0] != "online" || s[1] != "online" || s[2] != "online" {
		t.Fatalf("new store: %v", s)
	}
	if !StoreExists(nil, ds[1:2]) || StoreExists(nil, []string{filepath.Join(root, "none")}) {
		t.Fatal("StoreExists is wrong")
	}
}

// mountFS is the operating system's file system with fake device numbers:
// "/" and every path outside mounted are on device root, paths under a
// mounted folder on device other. It stands in for data disks mounted at
// drive folders. Safe for concurrent use.
type mountFS struct {
	vfs.FS
	root, other vfs.DeviceID
	mu          sync.Mutex
	mounted     map[string]bool
}

type devInfo struct {
	vfs.FileInfo
	dev vfs.DeviceID
}

func (d devInfo) DeviceID() vfs.DeviceID { return d.dev }

func (m *mountFS) mount(dir string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted[dir] = on
}

func (m *mountFS) Stat(name string) (vfs.FileInfo, error) {
	fi, err := m.FS.Stat(name)
	if err != nil {
		return fi, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for d, on := range m.mounted {
		if on && (name == d || strings.HasPrefix(name, d+string(filepath.Separator))) {
			return devInfo{fi, m.other}, nil
		}
	}
	return devInfo{fi, m.root}, nil
}

// TestUnmountedDriveOnRootRefused: every drive of the store is a mounted
// data disk; one is replaced by an empty folder on the root file system
// (its disk not mounted). That folder is refused and left untouched; once
// a disk is mounted there it joins.
func TestUnmountedDriveOnRootRefused(t *testing.T) {
	rfi, err := vfs.Default.Stat("/")
	if err != nil {
		t.Skip(err)
	}
	fs := &mountFS{FS: vfs.Default, root: rfi.DeviceID(), mounted: map[string]bool{}}
	for _, p := range []string{"/proc", "/sys", "/dev"} {
		if fi, err := vfs.Default.Stat(p); err == nil && fi.DeviceID() != fs.root && fi.DeviceID() != (vfs.DeviceID{}) {
			fs.other = fi.DeviceID()
			break
		}
	}
	if fs.root == (vfs.DeviceID{}) || fs.other == (vfs.DeviceID{}) {
		t.Skip("no two distinct device ids to stand for the root and a data disk")
	}
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024, FS: fs}
	for _, d := range o.Drives {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		fs.mount(d, true)
	}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	data := payload(6, 3*o.BlockSize)
	put(t, e, "bkt", "k", data)
	e.Close()

	// Disk 3 is gone; its mount point, an empty folder, is on the root.
	if err := os.RemoveAll(o.Drives[3]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(o.Drives[3], 0o755); err != nil {
		t.Fatal(err)
	}
	fs.mount(o.Drives[3], false)
	e = open(t, o)
	if d := e.Drives()[3]; d.State != "refused" || !errors.Is(d.Err, errDriveOnRoot) {
		t.Fatalf("empty folder on the root file system: %+v, want refused", d)
	}
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with the unmounted drive refused: %v", err)
	}
	put(t, e, "bkt", "k2", data)
	e.Close()
	if ents, err := os.ReadDir(o.Drives[3]); err != nil || len(ents) != 0 {
		t.Fatalf("the refused mount point was written: %v %v", ents, err)
	}

	// A (new, empty) disk is mounted there: it joins as a replacement.
	fs.mount(o.Drives[3], true)
	e = open(t, o)
	defer e.Close()
	if s := driveStates(e); s[3] != "new" {
		t.Fatalf("empty disk mounted: %v", s)
	}
}
