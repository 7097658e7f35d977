package index

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Disk full.
//
// Pebble cannot survive a failed write-ahead-log write: the DB fails and
// only a restart brings it back. So each replica keeps a ballast, a file
// of BallastSize reserved bytes in its directory. When a write of the
// replica meets ENOSPC, the ballast is removed, which frees room for the
// write to be retried and succeed, and the DB reports LowSpace: the owner
// stops taking new data (deletes and cleanup still need the index) until
// RestoreSpace manages to reserve the ballast again.

// BallastSize is the space each replica keeps in reserve for itself.
const BallastSize = 8 << 20

// ballastName is the ballast's file name in a replica directory; Pebble
// ignores files it does not recognise.
const ballastName = "COFFER-BALLAST"

// restoreEvery spaces RestoreSpace's attempts.
const restoreEvery = time.Second

// makeBallast reserves the ballast of replica directory dir, or removes
// what it made and fails. It asks the file system to reserve the space
// (fallocate on Linux); where that is not supported it writes the bytes.
// (On systems whose Preallocate is a no-op, such as macOS, the ballast
// reserves nothing.)
func makeBallast(fs vfs.FS, dir string) error {
	path := fs.PathJoin(dir, ballastName)
	if _, err := fs.Stat(path); err == nil {
		return nil
	}
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if perr := f.Preallocate(0, BallastSize); perr != nil {
		err = writeZeros(f, BallastSize)
	}
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		_ = fs.Remove(path)
		return err
	}
	return nil
}

// writeZeros writes n zero bytes to f.
func writeZeros(f vfs.File, n int) error {
	zero := make([]byte, 64<<10)
	for n > 0 {
		w, err := f.Write(zero[:min(n, len(zero))])
		if err != nil {
			return err
		}
		n -= w
	}
	return nil
}

// diskFull is the OnDiskFull callback of replica dir: it gives the
// ballast up so the write that met ENOSPC can be retried.
func (db *DB) diskFull(dir string) {
	db.lowSpace.Store(true)
	if err := db.opts.FS.Remove(db.opts.FS.PathJoin(dir, ballastName)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		db.log.Error("index: disk full and the ballast could not be removed", "dir", dir, "err", err)
		return
	}
	db.log.Warn("index: disk full; ballast released, new data is refused until space returns", "dir", dir)
}

// LowSpace reports whether a replica ran out of space and has not got its
// ballast back: the owner should refuse new data (and call RestoreSpace).
func (db *DB) LowSpace() bool { return db.lowSpace.Load() }

// RestoreSpace tries, at most once a second, to reserve every replica's
// ballast again, and clears LowSpace when it has. It returns nil when
// space is not low.
func (db *DB) RestoreSpace() error {
	if !db.lowSpace.Load() {
		return nil
	}
	db.restoreMu.Lock()
	defer db.restoreMu.Unlock()
	if !db.lowSpace.Load() {
		return nil
	}
	now := time.Now()
	if now.Sub(db.lastRestore) < restoreEvery {
		return ErrLowSpace
	}
	db.lastRestore = now
	for _, r := range db.reps {
		if !r.healthy.Load() {
			continue // a dropped replica is not written until reopen
		}
		if err := makeBallast(db.opts.FS, r.dir); err != nil {
			return fmt.Errorf("%w: %w", ErrLowSpace, err)
		}
	}
	db.lowSpace.Store(false)
	db.log.Info("index: space is back; ballast reserved again")
	return nil
}
