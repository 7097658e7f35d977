package engine

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// crasher counts filesystem operations once armed and, at operation n,
// takes a crash clone of the filesystem (only synced data survives) and
// fails that operation and every later one, as a process that died there.
type crasher struct {
	mem *vfs.MemFS
	n   int

	mu     sync.Mutex
	armed  bool
	count  int
	clone  *vfs.MemFS
	errAll bool
}

func (c *crasher) MaybeError(op errorfs.Op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errAll {
		return errorfs.ErrInjected
	}
	if !c.armed {
		return nil
	}
	c.count++
	if c.count == c.n {
		c.clone = c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		c.errAll = true
		return errorfs.ErrInjected
	}
	return nil
}

func (c *crasher) String() string { return fmt.Sprintf("crash at op %d", c.n) }

func memShardFiles(t *testing.T, fs vfs.FS, drive string) int {
	n := 0
	dir := filepath.Join(drive, "shards")
	subs, _ := fs.List(dir)
	for _, s := range subs {
		files, _ := fs.List(filepath.Join(dir, s))
		n += len(files)
	}
	return n
}

// TestCrashAtEveryOperation crashes a put, an overwrite and a delete at
// every filesystem operation they (and the Close after them) perform, then
// reopens what was synced: every acknowledged object is intact, the target
// is either its old or its new version (the new one if acknowledged),
// nothing half-written is visible, and no orphaned shard file remains.
func TestCrashAtEveryOperation(t *testing.T) {
	const block = 16 << 10
	oldData, newData, keepData := payload(1, 2*block+5), payload(2, 3*block+1), payload(3, block+9)
	p1, p2 := payload(4, 20<<10), payload(5, 100)
	mpData := append(append([]byte{}, p1...), p2...)
	var uploadID string
	var parts []CompletePart
	startUpload := func(t *testing.T, e *Engine) {
		e.minPartSize = 16 << 10
		var err error
		if uploadID, err = createUpload(e, "target", nil); err != nil {
			t.Fatal(err)
		}
		parts = nil
		for i, p := range [][]byte{p1, p2} {
			info, err := e.UploadPart(ctx, "bkt", "target", uploadID, i+1, bytes.NewReader(p), nil)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, CompletePart{PartNumber: i + 1, ETag: info.ETag})
		}
	}
	uploadLeft := func(e *Engine) bool {
		_, err := e.ListParts(ctx, "bkt", "target", uploadID, ListPartsOptions{})
		return err == nil
	}
	scenarios := []struct {
		name   string
		before []byte // target's content before the op; nil = absent
		setup  func(t *testing.T, e *Engine)
		run    func(e *Engine) error
		after  []byte // target's content if the op takes effect; nil = deleted
		// files is the number of shard files per drive a consistent store
		// holds, given the target's state; "keep" adds one.
		files func(e *Engine, state []byte) int
	}{
		{name: "put", run: func(e *Engine) error {
			_, err := e.PutObject(ctx, "bkt", "target", bytes.NewReader(newData), nil)
			return err
		}, after: newData},
		{name: "put-inline", run: func(e *Engine) error {
			_, err := e.PutObject(ctx, "bkt", "target", bytes.NewReader([]byte("small")), nil)
			return err
		}, after: []byte("small")},
		{name: "overwrite", before: oldData, run: func(e *Engine) error {
			_, err := e.PutObject(ctx, "bkt", "target", bytes.NewReader(newData), nil)
			return err
		}, after: newData},
		{name: "delete", before: oldData, run: func(e *Engine) error {
			return e.DeleteObject(ctx, "bkt", "target")
		}},
		{name: "complete", setup: startUpload, run: func(e *Engine) error {
			_, err := e.CompleteMultipartUpload(ctx, "bkt", "target", uploadID, parts, nil)
			return err
		}, after: mpData, files: func(e *Engine, state []byte) int {
			if state != nil {
				return 3 // two parts and the manifest
			}
			if !uploadLeft(e) {
				panic("neither the upload nor the object survived")
			}
			return 2
		}},
		{name: "abort", setup: startUpload, run: func(e *Engine) error {
			return e.AbortMultipartUpload(ctx, "bkt", "target", uploadID)
		}, files: func(e *Engine, state []byte) int {
			if uploadLeft(e) {
				return 2
			}
			return 0
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ds := []string{"d0", "d1", "d2"}
			for n := 1; ; n++ {
				mem := vfs.NewCrashableMem()
				cr := &crasher{mem: mem, n: n}
				o := &Options{Drives: ds, DataShards: 2, ParityShards: 1, BlockSize: block, InlineThreshold: 1024, FS: errorfs.Wrap(mem, cr)}
				e := open(t, o)
				mustBucket(t, e, "bkt")
				put(t, e, "bkt", "keep", keepData)
				if sc.before != nil {
					put(t, e, "bkt", "target", sc.before)
				}
				if sc.setup != nil {
					sc.setup(t, e)
				}
				cr.mu.Lock()
				cr.armed = true
				cr.mu.Unlock()
				opErr := sc.run(e)
				e.Close()
				cr.mu.Lock()
				clone, total := cr.clone, cr.count
				cr.mu.Unlock()
				if clone == nil {
					if opErr != nil {
						t.Fatalf("op failed without a crash: %v", opErr)
					}
					t.Logf("%s: crashed at each of %d operations", sc.name, total)
					return
				}
				o.FS = clone
				e2, err := Open("", o)
				if err != nil {
					t.Fatalf("crash at op %d: reopen: %v", n, err)
				}
				check := func(key string, want ...[]byte) []byte {
					got, err := get(t, e2, "bkt", key, nil)
					if errors.Is(err, ErrObjectNotFound) {
						got = nil
					} else if err != nil {
						t.Fatalf("crash at op %d: read %s: %v", n, key, err)
					}
					for _, w := range want {
						if (w == nil) == (got == nil) && bytes.Equal(got, w) {
							return got
						}
					}
					t.Fatalf("crash at op %d (op err %v): %s holds %d bytes, not any allowed version", n, opErr, key, len(got))
					return nil
				}
				check("keep", keepData)
				var state []byte
				if opErr == nil {
					state = check("target", sc.after)
				} else {
					state = check("target", sc.before, sc.after)
				}
				wantFiles := 1 // keep
				switch {
				case sc.files != nil:
					wantFiles += sc.files(e2, state)
				case len(state) > 1024:
					wantFiles++
				}
				e2.Close()
				for _, d := range ds {
					if got := memShardFiles(t, clone, d); got != wantFiles {
						t.Fatalf("crash at op %d (op err %v): drive %s holds %d shard files, want %d", n, opErr, d, got, wantFiles)
					}
				}
			}
		})
	}
}
