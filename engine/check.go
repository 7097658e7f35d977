package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/cofferdb/coffer/engine/internal/chunkstore"
	"github.com/cofferdb/coffer/engine/internal/index"
)

// quarantinePrefix names quarantined object records among the index's
// meta keys: "quarantine/" + the object's index key.
const quarantinePrefix = "quarantine/"

// CheckReport is what Check found (and, with repair, fixed).
type CheckReport struct {
	Objects       int      // object records checked
	Streams       int      // stored streams verified
	Damaged       int      // streams with missing or damaged shards (healed with repair)
	ShardsHealed  int      // shard files rewritten (repair only)
	Unrecoverable []string // "bucket/key" of objects that cannot be read back
	Dangling      int      // streams on the drives that no record refers to (removed with repair)
	BadRecords    int      // index records that do not decode
	// Quarantined counts the unrecoverable objects that repair took out of
	// the namespace: their records move to the index's quarantine (kept for
	// inspection, never listed or read), so LIST, HEAD and GET stop showing
	// an object that cannot be read back.
	Quarantined int
}

// OK reports whether the store is consistent and fully redundant.
func (r CheckReport) OK() bool {
	return r.Damaged == 0 && len(r.Unrecoverable) == 0 && r.Dangling == 0 && r.BadRecords == 0
}

// Check cross-checks the index and the drives: every object record must
// decode and every stream it refers to must verify block by block (inline
// data by its checksum); every stream on the drives must be referred to.
// With repair, damaged streams are healed, unrecoverable objects are
// quarantined (CheckReport.Quarantined) and dangling streams removed.
// Check reads every stored byte. Run it with no writes in flight (the
// coffer fsck command opens the store exclusively): a put that has
// written its shards but not yet committed looks dangling.
func (e *Engine) Check(ctx context.Context, repair bool) (CheckReport, error) {
	done, err := e.begin()
	if err != nil {
		return CheckReport{}, err
	}
	defer done()
	var rep CheckReport
	type lostRecord struct{ key, val []byte }
	var lostRecs []lostRecord
	lower := index.ObjectPrefix("", "")[:1]
	it, err := e.idx.NewIter(lower, index.PrefixEnd(lower))
	if err != nil {
		return rep, mapIndexErr(err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := e.interrupted(ctx); err != nil {
			it.Close()
			return rep, err
		}
		rep.Objects++
		bucket, key, kerr := index.SplitObjectKey(it.Key())
		var rec index.Object
		if kerr != nil || rec.Unmarshal(it.Value()) != nil {
			rep.BadRecords++
			continue
		}
		name := bucket + "/" + key
		if rec.Layout == nil && len(rec.Parts) == 0 {
			if crc32.Checksum(rec.Inline, castagnoli) != rec.InlineSum {
				rep.Unrecoverable = append(rep.Unrecoverable, name)
				lostRecs = append(lostRecs, lostRecord{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
			}
			continue
		}
		lost := false
		for _, s := range streams(&rec) {
			rep.Streams++
			verify := e.store.Verify
			if repair {
				verify = e.store.Heal
			}
			res, err := verify(s.id)
			if len(res.Damaged) > 0 {
				rep.Damaged++
			}
			rep.ShardsHealed += len(res.Healed)
			if err != nil {
				if !errors.Is(err, chunkstore.ErrReadQuorum) && !errors.Is(err, chunkstore.ErrNotFound) {
					it.Close()
					return rep, e.storeErr(err)
				}
				lost = true
			}
		}
		if lost {
			rep.Unrecoverable = append(rep.Unrecoverable, name)
			lostRecs = append(lostRecs, lostRecord{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return rep, mapIndexErr(err)
	}
	if repair {
		for _, lr := range lostRecs {
			moved := false
			err := e.idx.Update(func(t *index.Txn) error {
				cur, err := t.Get(lr.key)
				if err != nil || !bytes.Equal(cur, lr.val) {
					return nil // gone or rewritten since the scan
				}
				t.Delete(lr.key)
				t.Set(index.MetaKey(quarantinePrefix+string(lr.key)), lr.val)
				moved = true
				return nil
			})
			if err != nil {
				return rep, mapIndexErr(err)
			}
			if moved {
				rep.Quarantined++
			}
		}
	}
	var dangling []chunkstore.ID
	err = e.store.Walk(func(id chunkstore.ID, trailer []byte) error {
		if !e.referenced(id, trailer) {
			dangling = append(dangling, id)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("engine: scan drives: %w", err)
	}
	rep.Dangling = len(dangling)
	if repair {
		for _, id := range dangling {
			if err := e.store.RemoveAny(id); err != nil {
				return rep, e.storeErr(err)
			}
		}
	}
	return rep, nil
}
