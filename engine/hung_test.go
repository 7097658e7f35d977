package engine

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
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
