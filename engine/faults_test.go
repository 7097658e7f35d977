package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// shardFiles lists the shard files of a drive.
func shardFiles(t testing.TB, drive string) []string {
	var out []string
	filepath.Walk(filepath.Join(drive, "shards"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestDegradedReads(t *testing.T) {
	damage := map[string]func(t *testing.T, path string){
		"missing": func(t *testing.T, p string) { os.Remove(p) },
		"bitflip": func(t *testing.T, p string) {
			b, _ := os.ReadFile(p)
			for i := 100; i < len(b); i += 4096 {
				b[i] ^= 0x40
			}
			os.WriteFile(p, b, 0o644)
		},
		"truncated": func(t *testing.T, p string) { os.Truncate(p, 200) },
		"zeroed": func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			os.WriteFile(p, make([]byte, fi.Size()), 0o644)
		},
	}
	for name, hurt := range damage {
		for bad := 1; bad <= 3; bad++ {
			t.Run(fmt.Sprint(name, bad), func(t *testing.T) {
				// A fresh store per case: reads queue background heals,
				// so damage is applied all at once, then read.
				e, o := open42(t)
				mustBucket(t, e, "bkt")
				data := payload(5, 5*o.BlockSize+77)
				put(t, e, "bkt", "k", data)
				for _, d := range o.Drives[:bad] {
					hurt(t, shardFiles(t, d)[0])
				}
				got, err := get(t, e, "bkt", "k", nil)
				if bad <= o.ParityShards {
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%d damaged drives: err %v, equal %v", bad, err, bytes.Equal(got, data))
					}
					off := int64(o.BlockSize - 3)
					rg, err := get(t, e, "bkt", "k", &GetOptions{Range: ByteRange(off, off+int64(o.BlockSize))})
					if err != nil || !bytes.Equal(rg, data[off:off+int64(o.BlockSize)+1]) {
						t.Fatalf("%d damaged drives, ranged read: %v", bad, err)
					}
					return
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%d damaged drives: err %v, want ErrCorrupt", bad, err)
				}
				if len(got) > 0 && !bytes.Equal(got, data[:len(got)]) {
					t.Fatal("wrong bytes returned")
				}
			})
		}
	}
}

// TestWritesWithFailingDrives fails every write on some drives: up to m
// the put succeeds and reads back; beyond, it fails and nothing shows.
func TestWritesWithFailingDrives(t *testing.T) {
	for failing := 1; failing <= 3; failing++ {
		t.Run(fmt.Sprint(failing), func(t *testing.T) {
			var armed atomic.Bool
			ds := drives(t, 6)
			inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
				if !armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
					return nil
				}
				for _, d := range ds[:failing] {
					if strings.HasPrefix(op.Path, filepath.Join(d, "shards")) {
						return errorfs.ErrInjected
					}
				}
				return nil
			})
			o := &Options{Drives: ds, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024,
				FS: errorfs.Wrap(vfs.Default, inj)}
			e := open(t, o)
			defer e.Close()
			mustBucket(t, e, "bkt")
			data := payload(11, 3*o.BlockSize+1)
			armed.Store(true)
			_, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil)
			if failing <= 2 {
				if err != nil {
					t.Fatalf("put with %d failing drives: %v", failing, err)
				}
				got, err := get(t, e, "bkt", "k", nil)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInsufficientDrives) {
				t.Fatalf("put with %d failing drives: %v, want ErrInsufficientDrives", failing, err)
			}
			if _, err := e.HeadObject(ctx, "bkt", "k", nil); !errors.Is(err, ErrObjectNotFound) {
				t.Fatalf("failed put is visible: %v", err)
			}
			armed.Store(false)
			for _, d := range ds {
				if n := len(shardFiles(t, d)); n != 0 {
					t.Fatalf("failed put left %d shard files on %s", n, d)
				}
			}
		})
	}
}

func TestRebuildIndexFromDrives(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	mustBucket(t, e, "empty")
	want := map[string][]byte{}
	for i := range 10 {
		k := fmt.Sprintf("dir/k%d", i)
		want[k] = payload(uint64(i), 5000+i*o.BlockSize/3)
		_, err := e.PutObject(ctx, "bkt", k, bytes.NewReader(want[k]), &PutOptions{UserMetadata: map[string]string{"i": fmt.Sprint(i)}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Overwrite one: the rebuild must pick the newest version.
	want["dir/k3"] = payload(99, 7000)
	put(t, e, "bkt", "dir/k3", want["dir/k3"])
	e.Close()
	for _, d := range o.Drives {
		if err := os.RemoveAll(filepath.Join(d, "index")); err != nil {
			t.Fatal(err)
		}
	}
	e = open(t, o)
	defer e.Close()
	for k, data := range want {
		got, err := get(t, e, "bkt", k, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after rebuild: %v", k, err)
		}
		info, _ := e.HeadObject(ctx, "bkt", k, nil)
		if info.ETag != md5hex(data) || (k != "dir/k3" && info.UserMetadata["i"] == "") {
			t.Fatalf("%s: metadata lost: %+v", k, info)
		}
	}
	if _, err := e.HeadBucket(ctx, "empty"); err != nil {
		t.Fatalf("empty bucket lost in rebuild: %v", err)
	}
}

// TestIndexReplicaLossKeepsInlineObjects deletes the index directory of m
// drives: small objects living in the index survive through the replicas.
func TestIndexReplicaLossKeepsInlineObjects(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	put(t, e, "bkt", "tiny", []byte("tiny object"))
	e.Close()
	for _, d := range o.Drives[:2] {
		os.RemoveAll(d)
	}
	e = open(t, o)
	defer e.Close()
	got, err := get(t, e, "bkt", "tiny", nil)
	if err != nil || string(got) != "tiny object" {
		t.Fatalf("inline object lost with 2 of 6 drives: %q %v", got, err)
	}
}

// TestDiskFull fills every drive (ENOSPC on shard writes): a put fails
// with ErrStorageFull and leaves nothing, reads go on, and writes work
// again once space returns, without a restart.
func TestDiskFull(t *testing.T) {
	var full atomic.Bool
	ds := drives(t, 6)
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.Contains(op.Path, string(filepath.Separator)+"shards"+string(filepath.Separator)) {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
	o := &Options{Drives: ds, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024, FS: errorfs.Wrap(vfs.Default, inj)}
	e := open(t, o)
	defer e.Close()
	mustBucket(t, e, "bkt")
	old := payload(1, 200<<10)
	put(t, e, "bkt", "old", old)
	full.Store(true)
	// Full drives are not failing drives: several refused writes in a row
	// leave every drive online and reads going on.
	for range 4 {
		if _, err := e.PutObject(ctx, "bkt", "new", bytes.NewReader(payload(2, 200<<10)), nil); !errors.Is(err, ErrStorageFull) {
			t.Fatalf("put on full drives: %v", err)
		}
	}
	for _, d := range e.Drives() {
		if d.State != "online" {
			t.Fatalf("drive %s is %s after writes refused for lack of space", d.Path, d.State)
		}
	}
	if got, err := get(t, e, "bkt", "old", nil); err != nil || !bytes.Equal(got, old) {
		t.Fatalf("read while full: %v", err)
	}
	if _, err := e.HeadObject(ctx, "bkt", "new", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("failed put visible: %v", err)
	}
	full.Store(false)
	put(t, e, "bkt", "new", payload(2, 200<<10))
}

// TestPutLimit: a single PUT of unknown length stops at 5 GiB, as S3
// does, instead of filling the drives.
func TestPutLimit(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(nil), &PutOptions{Size: MaxPutPartSize + 1}); !errors.Is(err, ErrEntityTooLarge) {
		t.Fatalf("declared 5 GiB + 1: %v", err)
	}
	o := &Options{Drives: drives(t, 1), InlineThreshold: MaxInlineThreshold}
	e2 := open(t, o)
	defer e2.Close()
	mustBucket(t, e2, "bkt")
	// The largest inline threshold must not overflow the read buffer.
	data := payload(4, MaxInlineThreshold)
	if _, err := e2.PutObject(ctx, "bkt", "k", bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := get(t, e2, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("inline at the threshold: %v", err)
	}
}

// TestIndexDiskFull fills the index's drives (ENOSPC on the index's own
// writes, WAL included): writes fail with ErrStorageFull, reads go on, and
// writes work again once space returns, without a restart.
func TestIndexDiskFull(t *testing.T) {
	// The model of a full disk: while full, index writes fail, except
	// after the index gave up its ballast, whose space then takes them,
	// and making the ballast again fails.
	var full, freed atomic.Bool
	ds := drives(t, 6)
	sep := string(filepath.Separator)
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !strings.Contains(op.Path, sep+"index"+sep) || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		ballast := strings.HasSuffix(op.Path, "BALLAST")
		switch {
		case op.Kind == errorfs.OpRemove:
			if ballast && full.Load() {
				freed.Store(true)
			}
			return nil
		case !full.Load():
			return nil
		case ballast || !freed.Load():
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
	o := &Options{Drives: ds, DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024, FS: errorfs.Wrap(vfs.Default, inj)}
	e := open(t, o)
	defer e.Close()
	mustBucket(t, e, "bkt")
	old := payload(1, 200<<10)
	put(t, e, "bkt", "old", old)
	put(t, e, "bkt", "tiny", []byte("inline"))
	full.Store(true)
	// The first write to meet the full disk still goes through on the
	// index's reserve; from then on, new data is refused.
	refused := 0
	for i := range 4 {
		n := []int{10, 200 << 10}[i%2]
		key := fmt.Sprint("full-", i)
		_, err := e.PutObject(ctx, "bkt", key, bytes.NewReader(payload(2, n)), nil)
		switch {
		case err == nil && refused == 0:
			if got, err := get(t, e, "bkt", key, nil); err != nil || !bytes.Equal(got, payload(2, n)) {
				t.Fatalf("acknowledged put on the reserve does not read back: %v", err)
			}
		case errors.Is(err, ErrStorageFull):
			refused++
		default:
			t.Fatalf("put %d of %d bytes with a full index: %v (refused so far %d)", i, n, err, refused)
		}
	}
	if refused < 3 {
		t.Fatalf("only %d of 4 puts refused on a full index", refused)
	}
	if err := e.DeleteObject(ctx, "bkt", "old"); err == nil {
		// A delete may need index space too; if it went through, the
		// object must be gone.
		if _, err := e.HeadObject(ctx, "bkt", "old", nil); !errors.Is(err, ErrObjectNotFound) {
			t.Fatalf("acknowledged delete not visible: %v", err)
		}
		if _, err := e.PutObject(ctx, "bkt", "old", bytes.NewReader(old), nil); !errors.Is(err, ErrStorageFull) {
			t.Fatalf("put while full after a delete: %v", err)
		}
	}
	if got, err := get(t, e, "bkt", "tiny", nil); err != nil || string(got) != "inline" {
		t.Fatalf("read while the index is full: %q %v", got, err)
	}
	full.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.PutObject(ctx, "bkt", "new", bytes.NewReader(payload(2, 200<<10)), nil)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrStorageFull) || time.Now().After(deadline) {
			t.Fatalf("put after space returned: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, err := get(t, e, "bkt", "new", nil); err != nil || !bytes.Equal(got, payload(2, 200<<10)) {
		t.Fatalf("read back after space returned: %v", err)
	}
}
