package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// hangDrive blocks reads of shard files on one drive while hang is set.
type hangDrive struct {
	shards  string // the drive's shards directory + "/"
	hang    atomic.Bool
	release chan struct{}
}

func (h *hangDrive) MaybeError(op errorfs.Op) error {
	if h.hang.Load() && strings.HasPrefix(op.Path, h.shards) &&
		(op.Kind == errorfs.OpFileReadAt || op.Kind == errorfs.OpOpen) {
		<-h.release
	}
	return nil
}

func (h *hangDrive) String() string { return "hang " + h.shards }

// TestHungDrive hangs one drive under reads: GETs still return the object
// from the other drives, the drive is reported offline in Drives and
// Stats, and once it answers again it is back online.
func TestHungDrive(t *testing.T) {
	drives := []string{"/d0", "/d1", "/d2", "/d3", "/d4", "/d5"}
	h := &hangDrive{shards: "/d0/shards/", release: make(chan struct{})}
	o := &Options{
		Drives: drives, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024,
		FS: errorfs.Wrap(vfs.NewMem(), h), DriveTimeout: 100 * time.Millisecond, DriveProbeInterval: 20 * time.Millisecond,
	}
	e := open(t, o)
	t.Cleanup(func() {
		if h.hang.Swap(false) {
			close(h.release)
		}
		e.Close()
	})
	mustBucket(t, e, "bkt")
	data := payload(7, 6*o.BlockSize+99)
	// Enough objects that some hold data shards on drive 0 (placement
	// rotates by a random id; a third of them hold parity there).
	keys := make([]string, 12)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		put(t, e, "bkt", keys[i], data)
	}

	h.hang.Store(true)
	for _, k := range keys {
		got, err := get(t, e, "bkt", k, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET %s with a hung drive: err %v, equal %v", k, err, bytes.Equal(got, data))
		}
	}
	st := e.Stats()
	if st.Drives[0].State != "offline" || st.DrivesOffline != 1 {
		t.Fatalf("drive 0 state %q, drives taken offline %d; want offline, 1", st.Drives[0].State, st.DrivesOffline)
	}
	// Writes go on without it.
	put(t, e, "bkt", "new", data)

	h.hang.Store(false)
	close(h.release)
	deadline := time.Now().Add(20 * time.Second)
	for e.Drives()[0].State != "online" {
		if time.Now().After(deadline) {
			t.Fatalf("drive 0 not back online: %+v", e.Drives()[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The object written while the drive was away lost its shard there;
	// the heal pass that follows the drive's return writes it.
	for e.Stats().ShardsHealed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no shard healed after the drive came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, k := range append(keys, "new") {
		got, err := get(t, e, "bkt", k, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET %s after the drive came back: err %v", k, err)
		}
	}
}

// failDrives fails every operation under the shard folders of some drives
// with EIO while armed.
type failDrives struct {
	prefixes []string
	armed    atomic.Bool
}

func (f *failDrives) MaybeError(op errorfs.Op) error {
	if f.armed.Load() {
		for _, p := range f.prefixes {
			if strings.HasPrefix(op.Path, p) {
				return syscall.EIO
			}
		}
	}
	return nil
}

func (f *failDrives) String() string { return "fail " + strings.Join(f.prefixes, " ") }

// TestNotReadyBelowDataShards fails three of the six drives of a 4+2
// store at run time: once they are taken offline, Ready reports that
// stored objects cannot be read or written (the health endpoint answers
// 503 on it), and once the drives answer again and the prober brings them
// back, the store is ready again.
func TestNotReadyBelowDataShards(t *testing.T) {
	f := &failDrives{prefixes: []string{"/d3/shards/", "/d4/shards/", "/d5/shards/"}}
	o := &Options{
		Drives: []string{"/d0", "/d1", "/d2", "/d3", "/d4", "/d5"}, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10,
		InlineThreshold: 1024, FS: errorfs.Wrap(vfs.NewMem(), f), DriveProbeInterval: 20 * time.Millisecond,
	}
	e := open(t, o)
	defer e.Close()
	mustBucket(t, e, "bkt")
	data := payload(8, 2*o.BlockSize)
	put(t, e, "bkt", "k", data)
	if err := e.Ready(); err != nil {
		t.Fatalf("a healthy store is not ready: %v", err)
	}
	f.armed.Store(true)
	for i := 0; i < 10 && e.Ready() == nil; i++ {
		if _, err := e.PutObject(ctx, "bkt", fmt.Sprintf("x%d", i), bytes.NewReader(data), &PutOptions{Size: int64(len(data))}); err == nil {
			t.Fatal("a put with three of six drives failing succeeded")
		}
	}
	err := e.Ready()
	if !errors.Is(err, ErrInsufficientDrives) || !strings.Contains(err.Error(), "3 of 6 drives") {
		t.Fatalf("Ready with three of six drives failing: %v, want ErrInsufficientDrives naming 3 of 6", err)
	}
	if st := e.Stats(); st.IndexReplicas != 3 || st.IndexReplicasHealthy != 3 || st.IndexFailed {
		t.Fatalf("the index lives on drives 0-2, but Stats reports %d of %d replicas (failed %v)", st.IndexReplicasHealthy, st.IndexReplicas, st.IndexFailed)
	}
	f.armed.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for e.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after the drives answer again: %v", e.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	mustRead(t, e, "bkt", "k", data)
}
