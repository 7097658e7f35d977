package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
	"github.com/cofferdb/coffer/erasure"
)

// Engine is an open store. It is safe for concurrent use by many
// goroutines; Close it when done. Several engines may be open in one
// process on different drives.
type Engine struct {
	opts    *Options
	log     *slog.Logger
	fs      vfs.FS
	idx     *index.DB
	store   *chunkstore.Store
	closed  atomic.Bool
	closing atomic.Bool // Close has begun

	release chan release
	stop    chan struct{} // closed by Close: stops the background sweeps
	heals   chan chunkstore.ID
	refills chan struct{} // asks the refiller for a full heal pass
	bg      sync.WaitGroup
	// dirty is set when cleaning up after a failed write did not finish;
	// a store closed dirty collects orphans at its next Open.
	dirty atomic.Bool
	keys  *keyring
	pins  pins

	storeID string       // shared by every drive of the store
	drives  []DriveState // as Open found them
	refill  bool         // a new drive joined: heal everything once
	stats   counters

	// minPartSize is MinPartSize; tests lower it.
	minPartSize int64
	ops         sync.RWMutex // held shared by every operation, exclusively by Close
}

// release asks the background releaser to delete a released stream's
// shard files and then its release record.
type release struct {
	id     chunkstore.ID
	layout []byte
}

const (
	indexDir  = "index"
	keysDir   = "keys"
	bucketDir = "buckets"
	metaClean = "clean-shutdown"
)

// Open opens the store on dir (or on opts.Drives) and recovers from any
// earlier crash: interrupted releases are finished and orphaned shard files
// collected. A store whose index replicas are all gone but whose drives hold
// objects is rebuilt from the drives.
//
// A new store (no drive carries a drive identity) creates its drive folders
// and records its layout (DataShards, ParityShards, BlockSize) on every
// drive. An existing store uses the layout it recorded: options that leave
// those fields zero adopt it, and options that set one differently make Open
// fail with ErrInvalidOptions. Of an existing store, a drive folder that does
// not exist is reported offline and not created (see DriveState), so that a
// missing mount never fills the root file system.
func Open(dir string, opts *Options) (*Engine, error) {
	o := opts.EnsureDefaults(dir)
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// A miscompiled or misdetected SIMD path must not store data.
	if err := erasure.SelfTest(); err != nil {
		return nil, fmt.Errorf("engine: erasure self-test: %w", err)
	}
	e := &Engine{
		opts:    o,
		log:     o.Logger,
		fs:      o.FS,
		release: make(chan release, 1024),
		stop:    make(chan struct{}),
		heals:   make(chan chunkstore.ID, 256),
		refills: make(chan struct{}, 1),

		minPartSize: MinPartSize,
	}
	sync := o.Sync == SyncDurable
	offline, err := e.identifyDrives(requestedLayout(opts))
	if err != nil {
		return nil, err
	}
	// A drive folder missing from an existing store may be a drive not
	// mounted yet: the shard store probes for it (admitDrive), the rest
	// of the engine leaves it alone until the next Open.
	refused, absent := make([]bool, len(offline)), make([]bool, len(offline))
	for i := range offline {
		absent[i] = errors.Is(e.drives[i].Err, errDriveMissing)
		refused[i] = offline[i] && !absent[i]
	}
	for i, d := range o.Drives {
		if offline[i] {
			continue
		}
		dirs := []string{filepath.Join(d, bucketDir)}
		if i < indexReplicas(o) {
			dirs = append(dirs, filepath.Join(d, indexDir))
		}
		for _, dir := range dirs {
			if err := mkdirAllSync(o.FS, dir, sync); err != nil {
				e.log.Warn("drive unavailable at open", "drive", d, "err", err)
				break
			}
		}
	}
	store, err := chunkstore.Open(chunkstore.Options{
		FS:           o.FS,
		Drives:       o.Drives,
		DataShards:   o.DataShards,
		ParityShards: o.ParityShards,
		BlockSize:    o.BlockSize,
		NoSync:       o.Sync == SyncNone,
		Logger:       o.Logger,
		OnDamage: func(id chunkstore.ID, shard, drive int, err error) {
			e.queueHeal(id)
		},
		Offline:       refused,
		Absent:        absent,
		Admit:         e.admitDrive,
		DriveTimeout:  o.DriveTimeout,
		BytesPerSync:  o.BytesPerSync,
		ProbeInterval: o.DriveProbeInterval,
		OnDriveState:  e.driveStateChanged,
		// Once the index gave up its ballast, streams in flight stop too,
		// or they would eat the room it freed (index/ballast.go).
		Refuse: func() bool { return e.idx != nil && e.idx.LowSpace() },
	})
	if err != nil {
		return nil, fmt.Errorf("engine: open shard store: %w", err)
	}
	e.store = store
	var dirs []string
	for i := range indexReplicas(o) {
		if !offline[i] {
			dirs = append(dirs, filepath.Join(o.Drives[i], indexDir))
		}
	}
	if len(dirs) == 0 {
		store.Close()
		return nil, fmt.Errorf("%w: every index replica's drive is unusable", ErrInsufficientDrives)
	}
	e.idx, err = index.Open(index.Options{FS: o.FS, Dirs: dirs, NoSync: o.Sync == SyncNone, Logger: o.Logger})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("engine: open index: %w", mapIndexErr(err))
	}
	if err := e.recover(); err != nil {
		e.idx.Close()
		store.Close()
		return nil, mapIndexErr(err)
	}
	master, err := e.loadMaster(context.Background())
	if err != nil {
		e.idx.Close()
		store.Close()
		return nil, err
	}
	e.keys = newKeyring(o.KeyManager, master, o.BucketKeyTTL, o.KeyCacheEntries)
	e.bg.Add(5)
	go e.releaser()
	go e.sweeper()
	go e.healer()
	go e.scrubber()
	go e.refiller()
	if e.refill {
		e.requestRefill()
	}
	e.log.Info("engine open", "options", o.String(), "index_replicas", e.idx.Replicas())
	return e, nil
}

// indexReplicas is how many drives hold a replica of the index: enough
// that losing ParityShards drives leaves one, and two where there are two
// drives.
func indexReplicas(o *Options) int {
	return min(max(o.ParityShards+1, 2), len(o.Drives))
}

// recover runs at Open before any operation.
func (e *Engine) recover() error {
	seq, err := e.idx.Seq()
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if seq == 0 {
		// A new index: either a new store, or every replica was lost.
		n, err := e.rebuild(context.Background())
		if err != nil {
			return fmt.Errorf("engine: rebuild index: %w", err)
		}
		if n > 0 {
			e.log.Warn("index was missing; rebuilt from the drives", "objects", n)
		}
		return e.idx.Update(func(t *index.Txn) error {
			t.Set(index.MetaKey("format"), []byte("coffer-1"))
			return nil
		})
	}
	clean := false
	err = e.idx.Update(func(t *index.Txn) error {
		_, err := t.Get(index.MetaKey(metaClean))
		clean = err == nil
		t.Delete(index.MetaKey(metaClean))
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := e.finishReleases(); err != nil {
		return err
	}
	if !clean {
		if err := e.collectOrphans(); err != nil {
			return err
		}
	}
	return nil
}

// finishReleases removes the shard files of every release record left by
// an earlier run, then the records.
func (e *Engine) finishReleases() error {
	it, err := e.idx.NewIter(index.GCPrefix(), index.PrefixEnd(index.GCPrefix()))
	if err != nil {
		return err
	}
	var done [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		id, err := index.GCIDFromKey(it.Key())
		if err != nil {
			continue
		}
		e.removeData(chunkstore.ID(id), it.Value())
		done = append(done, append([]byte(nil), it.Key()...))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if len(done) == 0 {
		return nil
	}
	return e.idx.Update(func(t *index.Txn) error {
		for _, k := range done {
			t.Delete(k)
		}
		return nil
	})
}

func (e *Engine) removeData(id chunkstore.ID, layout []byte) {
	l, _, err := chunkstore.DecodeLayout(layout)
	if err == nil {
		err = e.store.Remove(id, l)
	} else {
		err = e.store.RemoveAny(id)
	}
	if err != nil {
		e.dirty.Store(true)
		e.log.Warn("could not remove released shards; they will be collected later", "id", id.String(), "err", err)
	}
}

// collectOrphans removes shard files that no index record references:
// the leftovers of writes interrupted by a crash.
func (e *Engine) collectOrphans() error {
	var orphans []chunkstore.ID
	err := e.store.Walk(func(id chunkstore.ID, trailer []byte) error {
		if !e.referenced(id, trailer) {
			orphans = append(orphans, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: scan drives: %w", err)
	}
	for _, id := range orphans {
		if err := e.store.RemoveAny(id); err != nil {
			e.log.Warn("could not remove orphaned shards", "id", id.String(), "err", err)
		}
	}
	if len(orphans) > 0 {
		e.log.Info("collected orphaned shard files", "streams", len(orphans))
	}
	return nil
}

// referenced reports whether the index refers to stream id, whose
// self-description is trailer.
func (e *Engine) referenced(id chunkstore.ID, trailer []byte) bool {
	tr, err := decodeTrailer(trailer)
	if err != nil {
		return false
	}
	if tr.kind == trailerPart {
		v, err := e.idx.Get(index.PartKey(tr.uploadID, tr.part.Number))
		if err == nil {
			var p index.Part
			if p.Unmarshal(v) != nil || p.DataID == [16]byte(id) {
				return true
			}
		} else if !errors.Is(err, index.ErrNotFound) {
			return true // keep on doubt
		}
	}
	v, err := e.idx.Get(index.ObjectKey(tr.bucket, tr.key))
	if err != nil {
		return !errors.Is(err, index.ErrNotFound) // keep on doubt
	}
	var rec index.Object
	if err := rec.Unmarshal(v); err != nil {
		return true
	}
	for _, s := range streams(&rec) {
		if s.id == id {
			return true
		}
	}
	return false
}

// releaser deletes released shard files in the background.
func (e *Engine) releaser() {
	defer e.bg.Done()
	for r := range e.release {
		if e.pins.hold(r) {
			continue // the last reader's Close finishes it
		}
		e.finishRelease(r)
	}
}

// finishRelease deletes a released stream's shard files, then its release
// record. A failure leaves the record for the next Open.
func (e *Engine) finishRelease(r release) {
	e.removeData(r.id, r.layout)
	key := index.GCKey(r.id)
	if err := e.idx.Update(func(t *index.Txn) error { t.Delete(key); return nil }); err != nil {
		e.log.Warn("could not drop release record; it is retried at the next open", "id", r.id.String(), "err", err)
	}
}

// refiller heals every object when asked: once after a new drive joined,
// and whenever a drive comes back from being offline, so the
// drive receives the shards it should hold.
func (e *Engine) refiller() {
	defer e.bg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-e.stop
		cancel()
	}()
	defer cancel()
	for {
		select {
		case <-e.stop:
			return
		case <-e.refills:
		}
		rep, err := e.Heal(ctx, HealOptions{})
		if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
			e.log.Warn("refilling drives", "err", err)
			continue
		}
		e.log.Info("refilled drives", "objects", rep.Objects, "shards", rep.ShardsHealed)
	}
}

// requestRefill asks the refiller for a heal pass over everything, unless
// one is already asked for.
func (e *Engine) requestRefill() {
	select {
	case e.refills <- struct{}{}:
	default:
	}
}

// driveStateChanged hears of drives the store takes offline or brings
// back at run time. A drive that comes back missed the writes made
// meanwhile: heal everything.
func (e *Engine) driveStateChanged(drive int, online bool, err error) {
	if online {
		e.log.Info("drive online again (or arrived after open); healing what it missed", "drive", e.opts.Drives[drive])
		// Shards of objects removed while it was away are still on it:
		// closing dirty has the next Open collect them.
		e.dirty.Store(true)
		e.requestRefill()
		return
	}
	e.stats.drivesOffline.Add(1)
	e.log.Error("drive offline", "drive", e.opts.Drives[drive], "err", err)
}

// sweeper reclaims abandoned multipart uploads: at Open and hourly.
func (e *Engine) sweeper() {
	defer e.bg.Done()
	if e.opts.UploadExpiry < 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := e.ReclaimUploads(context.Background(), now().Add(-e.opts.UploadExpiry)); err != nil {
			if !errors.Is(err, ErrClosed) {
				e.log.Warn("reclaiming abandoned uploads", "err", err)
			}
		} else if n > 0 {
			e.log.Info("reclaimed abandoned multipart uploads", "uploads", n)
		}
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
	}
}

// Close waits for in-flight operations, finishes pending releases and
// closes the store. Objects being read must be closed first.
func (e *Engine) Close() error {
	if e.closing.Swap(true) {
		return ErrClosed
	}
	// Stop the background passes first: a scrub or refill holds the
	// operations lock for as long as it runs.
	close(e.stop)
	e.ops.Lock()
	e.closed.Store(true)
	// No operation is in flight now, and none can start.
	e.ops.Unlock()
	close(e.release)
	e.bg.Wait()
	var errs []error
	if !e.idx.Failed() && !e.dirty.Load() {
		errs = append(errs, e.idx.Update(func(t *index.Txn) error {
			t.Set(index.MetaKey(metaClean), []byte{1})
			return nil
		}))
	}
	errs = append(errs, e.idx.Close(), e.store.Close())
	e.keys.close()
	return errors.Join(errs...)
}

// beginWrite is begin for operations that store new data: while the
// index's drives are short of space (index.DB.LowSpace) they fail with
// ErrStorageFull, so that the reserve left goes to deletes and cleanup.
func (e *Engine) beginWrite() (func(), error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	if err := e.idx.RestoreSpace(); err != nil {
		done()
		return nil, fmt.Errorf("%w: %w", ErrStorageFull, err)
	}
	return done, nil
}

// begin registers an operation; the caller must call the returned func.
func (e *Engine) begin() (func(), error) {
	e.ops.RLock()
	if e.closed.Load() {
		e.ops.RUnlock()
		return nil, ErrClosed
	}
	if e.idx.Failed() {
		e.ops.RUnlock()
		return nil, ErrFailed
	}
	return e.ops.RUnlock, nil
}

func newID() (id chunkstore.ID) {
	_, _ = rand.Read(id[:]) // crypto/rand never fails on supported platforms
	return id
}

func now() time.Time { return time.Now().UTC() }

// mapIndexErr turns index errors into engine errors.
func mapIndexErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, index.ErrFailed):
		return fmt.Errorf("%w: %w", ErrFailed, err)
	case errors.Is(err, index.ErrClosed):
		return ErrClosed
	case errors.Is(err, index.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}
