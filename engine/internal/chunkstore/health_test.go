package chunkstore

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// hangFS makes every operation of the chosen kinds on one drive's files
// block until released, or fail, as a hung or failing disk does.
type hangFS struct {
	prefix  string // the drive's root + "/"
	also    string // a second hung drive's root + "/", or ""
	kinds   map[errorfs.OpKind]bool
	hang    atomic.Bool
	fail    atomic.Bool
	release chan struct{}
	stuck   atomic.Int32 // operations blocked so far, probes aside
}

func (h *hangFS) MaybeError(op errorfs.Op) error {
	if !(strings.HasPrefix(op.Path, h.prefix) || h.also != "" && strings.HasPrefix(op.Path, h.also)) || !h.kinds[op.Kind] {
		return nil
	}
	if h.fail.Load() {
		return errors.New("injected: input/output error")
	}
	if h.hang.Load() {
		if !strings.HasSuffix(op.Path, ".probe") { // probes may touch it
			h.stuck.Add(1)
		}
		<-h.release
	}
	return nil
}

func (h *hangFS) String() string { return "hang " + h.prefix }

// driveEvents records OnDriveState calls.
type driveEvents struct {
	mu     sync.Mutex
	events []string
	ch     chan string
}

func (d *driveEvents) hook(drive int, online bool, err error) {
	ev := fmt.Sprintf("%d:%v", drive, online)
	d.mu.Lock()
	d.events = append(d.events, ev)
	d.mu.Unlock()
	select {
	case d.ch <- ev:
	default:
	}
}

// waitEvent waits (bounded) for the event want.
func (d *driveEvents) waitEvent(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-d.ch:
			if ev == want {
				return
			}
		case <-deadline:
			d.mu.Lock()
			defer d.mu.Unlock()
			t.Fatalf("no drive event %s; saw %v", want, d.events)
		}
	}
}

// written is what finishWithin returns.
type written struct {
	l    Layout
	size int64
}

// finishWithin writes data to w and finishes it on another goroutine, and
// fails the test unless that succeeds within a bound (a stuck write would
// otherwise hang the test).
func finishWithin(t *testing.T, w *Writer, data []byte, what string) written {
	t.Helper()
	type result struct {
		written
		err error
	}
	res := make(chan result, 1)
	go func() {
		if _, err := w.Write(data); err != nil {
			w.Abort()
			res <- result{err: err}
			return
		}
		l, size, err := w.Finish(nil)
		res <- result{written{l, size}, err}
	}()
	select {
	case got := <-res:
		if got.err != nil {
			t.Fatalf("%s: %v", what, got.err)
		}
		return got.written
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not finish", what)
	}
	return written{}
}

func openHangStore(t *testing.T, kinds ...errorfs.OpKind) (*Store, *hangFS, *driveEvents, []string) {
	t.Helper()
	mem := vfs.NewMem()
	drives := make([]string, 6)
	for i := range drives {
		drives[i] = filepath.Join("/drives", fmt.Sprintf("d%d", i))
	}
	h := &hangFS{prefix: drives[0] + "/", kinds: map[errorfs.OpKind]bool{}, release: make(chan struct{})}
	for _, k := range kinds {
		h.kinds[k] = true
	}
	ev := &driveEvents{ch: make(chan string, 16)}
	s, err := Open(Options{
		FS: errorfs.Wrap(mem, h), Drives: drives, DataShards: 4, ParityShards: 2, BlockSize: 4096,
		DriveTimeout: 100 * time.Millisecond, ProbeInterval: 20 * time.Millisecond,
		OnDriveState: ev.hook,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.hang.Swap(false) {
			close(h.release)
		}
		s.Close()
	})
	return s, h, ev, drives
}

// TestHungDriveRead hangs every read on one drive: a read finishes without
// it, the drive goes offline, later reads do not touch it, and it comes back
// when it answers again.
func TestHungDriveRead(t *testing.T) {
	s, h, ev, _ := openHangStore(t, errorfs.OpFileReadAt, errorfs.OpOpen)
	r := seeded(t)
	// A stream whose shard 0 (a data shard) lies on drive 0.
	var id ID
	for {
		id = randID(r)
		if s.place(id, 4, 2)[0] == 0 {
			break
		}
	}
	data := randBytes(r, 5*4096+123)
	l, size := writeStream(t, r, s, id, data, nil)

	h.hang.Store(true)
	got, err := readRangeWriteTo(s, id, l, size, 0, size)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a hung drive: err %v, equal %v", err, bytes.Equal(got, data))
	}
	if s.DriveOnline(0) {
		t.Fatal("drive 0 still online after a read on it outlived the deadline")
	}
	ev.waitEvent(t, "0:false")
	stuck := h.stuck.Load()
	if stuck == 0 {
		t.Fatal("no operation reached the hung drive")
	}
	// While offline, reads skip the drive: no new operation gets stuck.
	for range 3 {
		checkRange(t, s, id, l, data, 100, size-200)
	}
	if n := h.stuck.Load(); n != stuck {
		t.Fatalf("%d operations reached the offline drive", n-stuck)
	}
	// New writes avoid it too and read back.
	id2 := randID(r)
	l2, size2 := writeStream(t, r, s, id2, data, nil)
	checkRange(t, s, id2, l2, data, 0, size2)

	// The drive answers again: a probe brings it back.
	h.hang.Store(false)
	close(h.release)
	ev.waitEvent(t, "0:true")
	if !s.DriveOnline(0) {
		t.Fatal("drive 0 not back online after a successful probe")
	}
	checkRange(t, s, id, l, data, 0, size)
}

// TestFailingDriveGoesOffline makes one drive fail every read: after a few
// errors in a row it is taken offline, reads go on from parity.
func TestFailingDriveGoesOffline(t *testing.T) {
	s, h, ev, _ := openHangStore(t, errorfs.OpFileReadAt, errorfs.OpOpen, errorfs.OpCreate)
	r := seeded(t)
	type stream struct {
		id   ID
		l    Layout
		size int64
		data []byte
	}
	var streams []stream
	for len(streams) < errorsToOffline+1 {
		id := randID(r)
		if s.place(id, 4, 2)[0] != 0 {
			continue
		}
		data := randBytes(r, 3*4096)
		l, size := writeStream(t, r, s, id, data, nil)
		streams = append(streams, stream{id, l, size, data})
	}
	h.fail.Store(true)
	for _, st := range streams {
		checkRange(t, s, st.id, st.l, st.data, 0, st.size)
	}
	ev.waitEvent(t, "0:false")
	h.fail.Store(false)
	ev.waitEvent(t, "0:true")
}

// TestHungDriveWrite hangs the writes and syncs of one drive: a write in
// progress gives up on that shard at the deadline and finishes with the
// others, the drive goes offline, later writes skip it, and the stuck
// goroutine removes its partial file once the drive returns.
func TestHungDriveWrite(t *testing.T) {
	for _, kind := range []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileWrite} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			s, h, ev, _ := openHangStore(t, kind)
			r := seeded(t)
			data := randBytes(r, 9*4096+5) // several stripes: the pipeline must not stall
			h.hang.Store(true)
			id := randID(r)
			w, err := s.Create(id)
			if err != nil {
				t.Fatal(err)
			}
			got := finishWithin(t, w, data, "a write with a hung drive")
			ev.waitEvent(t, "0:false")
			shard := slices.Index(got.l.Drives, 0)
			if shard < 0 {
				t.Fatalf("layout %v without drive 0", got.l.Drives)
			}
			checkRange(t, s, id, got.l, data, 0, got.size)

			// Later writes skip the offline drive.
			id2 := randID(r)
			l2, size2 := writeStream(t, r, s, id2, data, nil)
			checkRange(t, s, id2, l2, data, 0, size2)

			h.hang.Store(false)
			close(h.release)
			ev.waitEvent(t, "0:true")
			// The stuck goroutine cleans up once the drive answers: a
			// partial file is removed; a whole one (the hang was in the
			// final sync, after the footer) is a valid shard and stays.
			path := s.shardPath(0, id, shard)
			for deadline := time.Now().Add(20 * time.Second); ; {
				_, statErr := s.fs.Stat(path)
				if statErr != nil {
					break
				}
				if _, err := s.readFooter(0, id, shard); err == nil && kind == errorfs.OpFileSync {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the detached shard's partial file %s is still there", path)
				}
				time.Sleep(5 * time.Millisecond)
			}
			checkRange(t, s, id, got.l, data, 0, got.size)
		})
	}
}

// TestTwoDrivesHangOnOneStripe hangs the writes of two drives (as a shared
// controller failing does) in the middle of a stream: both shards are given
// up on, the stripe they both hold is lost to the pool once, not twice, and
// the write finishes with the other four.
func TestTwoDrivesHangOnOneStripe(t *testing.T) {
	s, h, _, drives := openHangStore(t, errorfs.OpFileWrite)
	h.also = drives[1] + "/"
	r := seeded(t)
	id := randID(r)
	data := randBytes(r, 40*4096)
	w, err := s.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:2*4096]); err != nil {
		t.Fatal(err)
	}
	h.hang.Store(true)
	got := finishWithin(t, w, data[2*4096:], "a write with two hung drives (4 of 6 left)")
	checkRange(t, s, id, got.l, data, 0, got.size)
}

// TestAbortWithHungRemove hangs the removals on one drive: Abort still
// returns, giving up on that shard's file at the deadline.
func TestAbortWithHungRemove(t *testing.T) {
	s, h, _, _ := openHangStore(t, errorfs.OpRemove, errorfs.OpFileClose)
	r := seeded(t)
	w, err := s.Create(randID(r))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(r, 9*4096)); err != nil {
		t.Fatal(err)
	}
	h.hang.Store(true)
	done := make(chan error, 1)
	go func() { done <- w.Abort() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Abort with a hung drive did not return")
	}
}

// TestProbeWithoutDeadline: with the deadline disabled, an offline drive
// still comes back when it answers.
func TestProbeWithoutDeadline(t *testing.T) {
	mem := vfs.NewMem()
	drives := make([]string, 3)
	for i := range drives {
		drives[i] = fmt.Sprintf("/d%d", i)
	}
	ev := &driveEvents{ch: make(chan string, 16)}
	s, err := Open(Options{FS: mem, Drives: drives, DataShards: 2, ParityShards: 1, NoSync: true,
		DriveTimeout: -1, ProbeInterval: 10 * time.Millisecond, OnDriveState: ev.hook})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.takeOffline(1, errors.New("test"))
	ev.waitEvent(t, "1:false")
	ev.waitEvent(t, "1:true")
}

// TestAbsentDrive: a drive absent at Open is not prepared or counted;
// probes ask Admit first and create nothing: refused, or admitted while
// the drive was never prepared, nothing appears at its path; admitted and
// prepared (by an earlier Open), it comes online.
func TestAbsentDrive(t *testing.T) {
	mem := vfs.NewMem()
	drives := []string{"/d0", "/d1", "/d2"}
	var admit atomic.Int32 // 0 refuse, 1 admit
	var asked atomic.Int32
	ev := &driveEvents{ch: make(chan string, 16)}
	o := Options{FS: mem, Drives: drives, DataShards: 2, ParityShards: 1, NoSync: true, ProbeInterval: 5 * time.Millisecond,
		Absent: []bool{false, false, true}, OnDriveState: ev.hook,
		Admit: func(d int) error {
			asked.Add(1)
			if d != 2 || admit.Load() == 0 {
				return errors.New("not this store's drive")
			}
			return nil
		}}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitAsked := func() {
		t.Helper()
		want := asked.Load() + 2
		deadline := time.Now().Add(10 * time.Second)
		for asked.Load() < want {
			if time.Now().After(deadline) {
				t.Fatal("the absent drive is not probed")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitAsked()
	if s.DriveOnline(2) {
		t.Fatal("a refused absent drive is online")
	}
	if _, err := mem.Stat("/d2"); err == nil {
		t.Fatal("probing an absent drive created its folder")
	}
	// Admitted, but never prepared (a folder with only an identity).
	if err := mem.MkdirAll("/d2", 0o755); err != nil {
		t.Fatal(err)
	}
	admit.Store(1)
	waitAsked()
	if names, _ := mem.List("/d2"); s.DriveOnline(2) || len(names) != 0 {
		t.Fatalf("an unprepared drive: online %v, contents %v", s.DriveOnline(2), names)
	}
	// Prepared by an earlier Open: it comes online.
	prep := &Store{fs: mem, opts: Options{NoSync: true}}
	if err := prep.prepareDrive(&drive{root: "/d2", shardsDir: "/d2/shards"}); err != nil {
		t.Fatal(err)
	}
	ev.waitEvent(t, "2:true")
	if !s.DriveOnline(2) {
		t.Fatal("the admitted drive is not online")
	}
}

// TestRefuseStopsWritesInFlight: once Options.Refuse says so, a stream
// being written fails with ErrNoSpace (ENOSPC) and leaves no file.
func TestRefuseStopsWritesInFlight(t *testing.T) {
	var refuse atomic.Bool
	mem := vfs.NewMem()
	drives := []string{"/d0", "/d1", "/d2"}
	s, err := Open(Options{FS: mem, Drives: drives, DataShards: 2, ParityShards: 1, BlockSize: 4096, NoSync: true, Refuse: refuse.Load})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := seeded(t)
	w, err := s.Create(randID(r))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randBytes(r, 3*4096)); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	if _, err := w.Write(randBytes(r, 3*4096)); !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write after Refuse: %v", err)
	}
	w.Abort()
	n := 0
	for _, d := range drives {
		n += countMemFiles(t, mem, d)
	}
	if n != 0 {
		t.Fatalf("%d shard files left", n)
	}
}

func countMemFiles(t *testing.T, fs vfs.FS, drive string) int {
	n := 0
	dir := fs.PathJoin(drive, "shards")
	subs, _ := fs.List(dir)
	for _, sub := range subs {
		files, _ := fs.List(fs.PathJoin(dir, sub))
		n += len(files)
	}
	return n
}
