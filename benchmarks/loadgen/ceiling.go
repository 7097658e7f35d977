package loadgen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// DiskCeilingOptions describes the raw write a durable erasure-coded PUT
// makes, for DiskCeiling.
type DiskCeilingOptions struct {
	// Drives are the drive folders (the server's own, or beside them on
	// the same file systems). Files are written in a "ceiling" folder in
	// each and removed at the end.
	Drives []string
	// DataShards and ParityShards: each object is written as k+m files of
	// ceil(Size/k) bytes on k+m different drives.
	DataShards, ParityShards int
	// Size is the object size; Concurrency the objects written at once.
	Size        int64
	Concurrency int
	// Duration bounds the measurement; Count bounds the objects (0: no
	// bound, Duration must be set).
	Duration time.Duration
	Count    int64
	// BytesPerSync is how much a file grows between requests to start
	// its writeback, as Coffer's shard writer makes them (engine
	// Options.BytesPerSync). 0 means 1 MiB, Coffer's default; negative:
	// never, the fsync writes everything.
	BytesPerSync int
}

// DiskCeiling measures the disk stage of a durable PUT without the rest of
// the server: for every object, k+m files of the shard size are written in
// 1 MiB writes, writeback started every BytesPerSync, each file and its
// folder fsynced, the files in parallel, as a shard writer does. It returns the throughput in object bytes per
// second (MB/s, 10^6), so it compares directly with a PUT's MB/s.
func DiskCeiling(ctx context.Context, o DiskCeilingOptions) (float64, error) {
	k, m := o.DataShards, o.ParityShards
	if k < 1 || m < 0 || k+m > len(o.Drives) || o.Size <= 0 || o.Concurrency < 1 || (o.Duration <= 0 && o.Count <= 0) {
		return 0, fmt.Errorf("loadgen: disk ceiling: bad options %+v", o)
	}
	shard := (o.Size + int64(k) - 1) / int64(k)
	bps := int64(o.BytesPerSync)
	if bps == 0 {
		bps = 1 << 20
	}
	dirs := make([]string, len(o.Drives))
	for i, d := range o.Drives {
		dirs[i] = filepath.Join(d, "ceiling")
		if err := os.MkdirAll(dirs[i], 0o700); err != nil {
			return 0, err
		}
	}
	defer func() {
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	var next, done atomic.Int64
	var first error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
	}
	deadline := time.Now().Add(o.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				if (o.Count > 0 && n >= o.Count) || (o.Duration > 0 && time.Now().After(deadline)) {
					return
				}
				errs := make([]error, k+m)
				var fw sync.WaitGroup
				for s := range k + m {
					fw.Add(1)
					go func() {
						defer fw.Done()
						dir := dirs[(int(n)+s)%len(dirs)]
						errs[s] = writeSynced(filepath.Join(dir, fmt.Sprintf("%d.%d", n, s)), dir, buf, shard, bps)
					}()
				}
				fw.Wait()
				if err := errors.Join(errs...); err != nil {
					fail(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return 0, first
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return float64(done.Load()*o.Size) / elapsed.Seconds() / 1e6, nil
}

// writeSynced writes n bytes (buf repeated) to a new file, starting its
// writeback every bps bytes (bps > 0), and fsyncs it and its folder.
func writeSynced(path, dir string, buf []byte, n, bps int64) error {
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	var written, synced int64
	for written < n {
		w := min(n-written, int64(len(buf)))
		if _, err := f.Write(buf[:w]); err != nil {
			f.Close()
			return err
		}
		written += w
		if bps > 0 && written-synced >= bps {
			if _, err := f.SyncTo(written); err != nil {
				f.Close()
				return err
			}
			synced = written
		}
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return err
	}
	d, err := vfs.Default.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
