package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// Stats are the engine's running counters, for metrics and status pages.
type Stats struct {
	Drives []DriveState
	// Background repair.
	HealsQueued   int64 // damage reports from reads
	ShardsHealed  int64 // shard files rewritten, by any heal
	ScrubPasses   int64 // completed scrub passes
	ScrubStreams  int64 // streams verified by the scrubber
	ScrubDamaged  int64 // streams the scrubber found damaged
	Unrecoverable int64 // streams found with more damage than parity covers
	DrivesOffline int64 // drives taken offline at run time (events)
	LastScrub     time.Time
	// The index: how many replicas the store keeps and how many are in
	// use (a replica is dropped until the next Open after a fatal storage
	// error or a corrupt table in it); IndexFailed when none is left, and
	// every call fails with ErrFailed until the store is reopened.
	IndexReplicas        int
	IndexReplicasHealthy int
	IndexFailed          bool
	// LowSpace: the index drives ran out of space and gave up their
	// ballast; new data is refused (ErrStorageFull) until space is freed.
	LowSpace bool
}

// counters are the atomics behind Stats.
type counters struct {
	healsQueued, shardsHealed, scrubPasses, scrubStreams, scrubDamaged, unrecoverable, drivesOffline atomic.Int64
	lastScrub                                                                                        atomic.Int64 // Unix nanoseconds
}

// Ready reports whether the engine can serve reads and writes of stored
// objects: nil, or ErrFailed when no index replica is left, or
// ErrInsufficientDrives (wrapped with the count) when fewer drives are in
// use than an object has data shards. A full index (Stats.LowSpace) still
// serves reads and is ready.
func (e *Engine) Ready() error {
	if e.idx.Failed() {
		return ErrFailed
	}
	if n, k := len(e.usableDrives()), e.opts.DataShards; n < k {
		return fmt.Errorf("%w: %d of %d drives in use, %d needed to read or write", ErrInsufficientDrives, n, len(e.opts.Drives), k)
	}
	return nil
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	c := &e.stats
	s := Stats{
		Drives:        e.Drives(),
		HealsQueued:   c.healsQueued.Load(),
		ShardsHealed:  c.shardsHealed.Load(),
		ScrubPasses:   c.scrubPasses.Load(),
		ScrubStreams:  c.scrubStreams.Load(),
		ScrubDamaged:  c.scrubDamaged.Load(),
		Unrecoverable: c.unrecoverable.Load(),
		DrivesOffline: c.drivesOffline.Load(),

		IndexReplicas:        indexReplicas(e.opts),
		IndexReplicasHealthy: e.idx.Replicas(),
		IndexFailed:          e.idx.Failed(),
		LowSpace:             e.idx.LowSpace(),
	}
	if t := c.lastScrub.Load(); t != 0 {
		s.LastScrub = time.Unix(0, t).UTC()
	}
	return s
}

const metaLastScrub = "last-scrub"

// scrubber runs a verification pass over every stored stream every
// Options.ScrubInterval, reading at most Options.ScrubRate bytes per
// second, and heals what it finds. The time of the last completed pass is
// kept in the index, so restarts do not start passes early.
func (e *Engine) scrubber() {
	defer e.bg.Done()
	if e.opts.ScrubInterval < 0 {
		return
	}
	last := time.Now()
	if v, err := e.idx.Get(index.MetaKey(metaLastScrub)); err == nil && len(v) == 8 {
		last = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		e.stats.lastScrub.Store(last.UnixNano())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-e.stop
		cancel()
	}()
	for {
		wait := time.Until(last.Add(e.opts.ScrubInterval))
		t := time.NewTimer(max(wait, 0))
		select {
		case <-e.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.Scrub(ctx); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
				return
			}
			e.log.Warn("scrub pass failed; retrying in an hour", "err", err)
			last = time.Now().Add(time.Hour - e.opts.ScrubInterval)
			continue
		}
		last = time.Now()
	}
}

// Scrub runs one verification pass now: every stored stream is read and
// checked, damage is healed, and the counters in Stats are updated. It
// paces itself to Options.ScrubRate.
func (e *Engine) Scrub(ctx context.Context) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	lower := index.ObjectPrefix("", "")[:1]
	it, err := e.idx.NewIter(lower, index.PrefixEnd(lower))
	if err != nil {
		return mapIndexErr(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var rec index.Object
		if rec.Unmarshal(it.Value()) != nil {
			continue
		}
		for _, s := range streams(&rec) {
			start := time.Now()
			res, err := e.store.Heal(s.id)
			if errors.Is(err, chunkstore.ErrNotFound) && !e.stillCurrent(it.Key(), rec.DataID) {
				continue // deleted or replaced while we walked
			}
			e.stats.scrubStreams.Add(1)
			e.stats.shardsHealed.Add(int64(len(res.Healed)))
			if len(res.Healed) > 0 {
				e.dirty.Store(true) // see Heal
			}
			if len(res.Damaged) > 0 {
				e.stats.scrubDamaged.Add(1)
			}
			if err != nil {
				e.stats.unrecoverable.Add(1)
				e.log.Error("scrub: stream cannot be repaired", "id", s.id.String(), "err", err)
			}
			// Pace: the stream's shards were read (about stored size ×
			// (k+m)/k bytes); sleep so the average stays under the rate.
			if e.opts.ScrubRate > 0 {
				want := time.Duration(float64(res.Size) / float64(e.opts.ScrubRate) * float64(time.Second))
				if pause := want - time.Since(start); pause > 0 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-e.stop:
						return ErrClosed
					case <-time.After(pause):
					}
				}
			}
			if err := e.interrupted(ctx); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return mapIndexErr(err)
	}
	now := time.Now()
	e.stats.scrubPasses.Add(1)
	e.stats.lastScrub.Store(now.UnixNano())
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(now.UnixNano()))
	return mapIndexErr(e.idx.Update(func(t *index.Txn) error { t.Set(index.MetaKey(metaLastScrub), v[:]); return nil }))
}

// interrupted reports why a long pass must stop: its context ended or the
// engine is closing.
func (e *Engine) interrupted(ctx context.Context) error {
	select {
	case <-e.stop:
		return ErrClosed
	default:
		return ctx.Err()
	}
}
