package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// HealOptions select what Heal walks.
type HealOptions struct {
	Bucket string // empty: every bucket
	Prefix string // within Bucket
	// Progress, if set, is called after each object with the running
	// totals.
	Progress func(HealReport)
}

// HealReport counts what Heal found and repaired.
type HealReport struct {
	Objects       int // objects visited
	Streams       int // stored streams verified (an object has one per part)
	Damaged       int // streams with missing or damaged shards
	ShardsHealed  int // shard files rewritten
	Unrecoverable int // streams with more damage than parity can repair
}

// Heal verifies every shard of every object Heal's options select and
// rewrites missing or damaged shards from the others. It reads all of
// each object's stored data, so it costs a full read; reads that meet
// damage queue the same repair in the background by themselves. Objects
// written or deleted while Heal runs are fine.
func (e *Engine) Heal(ctx context.Context, opts HealOptions) (HealReport, error) {
	done, err := e.begin()
	if err != nil {
		return HealReport{}, err
	}
	defer done()
	var rep HealReport
	lower := index.ObjectPrefix(opts.Bucket, opts.Prefix)
	if opts.Bucket == "" {
		lower = index.ObjectPrefix("", "")[:1] // every object key
	}
	it, err := e.idx.NewIter(lower, index.PrefixEnd(lower))
	if err != nil {
		return rep, mapIndexErr(err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if err := e.interrupted(ctx); err != nil {
			return rep, err
		}
		var rec index.Object
		if err := rec.Unmarshal(it.Value()); err != nil {
			continue
		}
		rep.Objects++
		for _, s := range streams(&rec) {
			rep.Streams++
			res, err := e.store.Heal(s.id)
			if errors.Is(err, chunkstore.ErrNotFound) && !e.stillCurrent(it.Key(), rec.DataID) {
				continue // deleted or replaced while we walked
			}
			if len(res.Damaged) > 0 {
				rep.Damaged++
			}
			rep.ShardsHealed += len(res.Healed)
			e.stats.shardsHealed.Add(int64(len(res.Healed)))
			if len(res.Healed) > 0 {
				// Released meanwhile? Its healed files would be orphans:
				// have the next Open look.
				e.dirty.Store(true)
			}
			if errors.Is(err, chunkstore.ErrReadQuorum) || errors.Is(err, chunkstore.ErrNotFound) {
				rep.Unrecoverable++
				bucket, key, _ := index.SplitObjectKey(it.Key())
				e.log.Error("object has more damage than parity can repair", "bucket", bucket, "key", key, "err", err)
			} else if err != nil {
				return rep, e.storeErr(err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(rep)
		}
	}
	return rep, mapIndexErr(it.Error())
}

// queueHeal asks the background healer to repair stream id; reads call it
// when they meet a missing or damaged shard. A full queue drops the
// request: the scrubber or the next read finds the damage again.
func (e *Engine) queueHeal(id chunkstore.ID) {
	e.stats.healsQueued.Add(1)
	select {
	case e.heals <- id:
	default:
	}
}

// healer repairs streams that reads found damaged.
func (e *Engine) healer() {
	defer e.bg.Done()
	seen := map[chunkstore.ID]bool{}
	for {
		select {
		case <-e.stop:
			return
		case id := <-e.heals:
			if seen[id] {
				// Several damaged blocks of one read queue the same stream;
				// heal it once per burst.
				continue
			}
			seen[id] = true
			// Heal only what the index refers to: a stream still being
			// written (its put not yet committed) is left alone.
			tr, err := e.store.Trailer(id)
			if err != nil || !e.referenced(id, tr) {
				continue
			}
			res, err := e.store.Heal(id)
			// A stream released while it was healed would leave healed
			// files behind; have the next Open look for orphans.
			e.dirty.Store(true)
			switch {
			case err != nil && !errors.Is(err, chunkstore.ErrClosed):
				e.log.Warn("background heal failed", "id", id.String(), "err", err)
			case len(res.Healed) > 0:
				e.stats.shardsHealed.Add(int64(len(res.Healed)))
				e.log.Info("healed shards", "id", id.String(), "shards", fmt.Sprint(res.Healed))
			}
			if len(e.heals) == 0 {
				clear(seen)
			}
		}
	}
}

// stillCurrent reports whether the index still maps key to the record
// with data id id (a walk over a live index may meet released streams).
func (e *Engine) stillCurrent(key []byte, id [16]byte) bool {
	v, err := e.idx.Get(key)
	if err != nil {
		return false
	}
	var rec index.Object
	return rec.Unmarshal(v) == nil && rec.DataID == id
}
