package chunkstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cofferdb/coffer/erasure"
)

// HealResult says what Heal found and did.
type HealResult struct {
	Layout  Layout
	Size    int64
	Damaged []int // shards found missing or damaged
	Healed  []int // shards rewritten
}

// Heal verifies every block of every shard of stream id and rewrites the
// shards that are missing or damaged from the others. It finds the layout,
// size and trailer in the footer of any good shard, so it needs no index.
// A shard whose drive is offline is reported damaged but not rewritten.
//
// Rewritten shards are written to a temporary file next to their final
// place, synced, and renamed over it, so a crash during Heal leaves the old
// file (or none) and at worst a "<id>.<shard>.heal" file that RemoveAny
// collects. Heal reads every good shard twice (verify, then rebuild); it is
// meant for background repair, not the read path. It is safe to run beside
// readers; running it beside Remove of the same stream may leave healed
// files of a removed stream, which the owner collects as orphans.
func (s *Store) Heal(id ID) (HealResult, error) { return s.heal(id, true) }

// Verify is Heal without the repair: it reads and checks every block of
// every shard of stream id and reports the damaged shards.
func (s *Store) Verify(id ID) (HealResult, error) { return s.heal(id, false) }

func (s *Store) heal(id ID, repair bool) (HealResult, error) {
	var res HealResult
	if s.closed.Load() {
		return res, ErrClosed
	}
	// One heal of a stream at a time: two would write the same temporary
	// files.
	unlock := s.lockHeal(id)
	defer unlock()
	ft, err := s.findFooter(id)
	if err != nil {
		return res, err
	}
	l, size := ft.layout, ft.size
	res.Layout, res.Size = l, size
	if err := l.validate(len(s.drives)); err != nil {
		return res, err
	}
	ce, err := s.codec(l.DataShards, l.ParityShards, l.BlockSize)
	if err != nil {
		return res, err
	}
	c := ce.c
	k, total := l.DataShards, len(l.Drives)
	files := make([]vfs.File, total)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	bad := make([]bool, total)
	for i, d := range l.Drives {
		if _, err := s.readFooter(d, id, i); err != nil {
			bad[i] = true
			continue
		}
		f, err := s.fs.Open(s.shardPath(d, id, i))
		if err != nil {
			bad[i] = true
			continue
		}
		files[i] = f
	}
	sbs := c.ShardBlockSize()
	blocks := make([][]byte, total)
	for i := range blocks {
		blocks[i] = make([]byte, sbs+erasure.ChecksumSize)
	}
	stripes := c.Stripes(size)
	// readStripe reads and verifies the blocks of the good shards of a
	// stripe, marking shards whose block fails.
	readStripe := func(idx int64) (shards [][]byte, good int) {
		sl := c.ShardLen(c.StripeLen(size, idx))
		off := blockOffset(sbs, idx)
		shards = make([][]byte, total)
		for i := range total {
			if bad[i] {
				shards[i] = blocks[i][:0]
				continue
			}
			b := blocks[i][:sl+erasure.ChecksumSize]
			if err := readFull(files[i], b, off); err != nil ||
				erasure.Checksum(id, i, uint64(idx), b[:sl]) != binary.LittleEndian.Uint32(b[sl:]) {
				bad[i] = true
				shards[i] = blocks[i][:0]
				continue
			}
			shards[i] = b[:sl:sl]
			good++
		}
		return shards, good
	}
	for idx := range stripes {
		if _, good := readStripe(idx); good < k {
			return res, fmt.Errorf("%w: stripe %d of stream %s has %d good shards, %d needed", ErrReadQuorum, idx, id, good, k)
		}
	}
	for i, b := range bad {
		if b {
			res.Damaged = append(res.Damaged, i)
		}
	}
	if len(res.Damaged) == 0 || !repair {
		return res, nil
	}
	// Rewrite the damaged shards whose drives are online.
	type healFile struct {
		shard, drive int
		tmp, final   string
		f            vfs.File
	}
	var outs []*healFile
	abort := func() {
		for _, h := range outs {
			if h.f != nil {
				h.f.Close()
			}
			_ = s.fs.Remove(h.tmp)
		}
	}
	for _, i := range res.Damaged {
		d := l.Drives[i]
		if !s.usable(d) {
			continue
		}
		final := s.shardPath(d, id, i)
		h := &healFile{shard: i, drive: d, tmp: final + ".heal", final: final}
		f, err := s.fs.Create(h.tmp, vfs.WriteCategoryUnspecified)
		if err != nil {
			s.log.Warn("chunkstore: cannot heal shard", "id", id.String(), "shard", i, "drive", d, "err", err)
			continue
		}
		h.f = f
		outs = append(outs, h)
		var hb [headerSize]byte
		(&header{k: k, m: l.ParityShards, shard: i, blockSize: l.BlockSize, id: id}).encode(&hb)
		if _, err := f.Write(hb[:]); err != nil {
			abort()
			return res, &ShardError{Drive: d, Shard: i, Err: err}
		}
	}
	if len(outs) == 0 {
		return res, nil
	}
	required := make([]bool, total)
	for _, h := range outs {
		required[h.shard] = true
	}
	var sum [erasure.ChecksumSize]byte
	for idx := range stripes {
		shards, good := readStripe(idx)
		if good < k {
			abort()
			return res, fmt.Errorf("%w: stripe %d of stream %s lost shards during heal", ErrReadQuorum, idx, id)
		}
		if err := c.Reconstruct(shards, required); err != nil {
			abort()
			return res, fmt.Errorf("%w: stripe %d of stream %s: %w", ErrReadQuorum, idx, id, err)
		}
		for _, h := range outs {
			blk := shards[h.shard]
			binary.LittleEndian.PutUint32(sum[:], erasure.Checksum(id, h.shard, uint64(idx), blk))
			_, err := h.f.Write(blk)
			if err == nil {
				_, err = h.f.Write(sum[:])
			}
			if err != nil {
				abort()
				return res, &ShardError{Drive: h.drive, Shard: h.shard, Err: err}
			}
		}
	}
	var errs []error
	for _, h := range outs {
		err := func() error {
			if _, err := h.f.Write(appendFooter(nil, id, h.shard, ft.trailer, l, size)); err != nil {
				return err
			}
			if !s.opts.NoSync {
				if err := h.f.Sync(); err != nil {
					return err
				}
			}
			err := h.f.Close()
			h.f = nil
			if err != nil {
				return err
			}
			if err := s.fs.Rename(h.tmp, h.final); err != nil {
				return err
			}
			if !s.opts.NoSync {
				return s.syncDir(s.fanoutDir(h.drive, id))
			}
			return nil
		}()
		if err != nil {
			if h.f != nil {
				h.f.Close()
				h.f = nil
			}
			_ = s.fs.Remove(h.tmp)
			errs = append(errs, &ShardError{Drive: h.drive, Shard: h.shard, Err: err})
			continue
		}
		res.Healed = append(res.Healed, h.shard)
	}
	return res, errors.Join(errs...)
}

// findFooter returns the first footer of stream id that verifies, on any
// online drive.
func (s *Store) findFooter(id ID) (footer, error) {
	prefix := id.String() + "."
	var errs []error
	for d := range s.drives {
		if !s.usable(d) {
			continue
		}
		names, err := s.fs.List(s.fanoutDir(d, id))
		if err != nil {
			continue
		}
		for _, name := range names {
			if len(name) <= len(prefix) || name[:len(prefix)] != prefix {
				continue
			}
			gotID, shard, ok := parseShardName(name)
			if !ok || gotID != id {
				continue
			}
			ft, err := s.readFooter(d, id, shard)
			if err == nil {
				return ft, nil
			}
			errs = append(errs, err)
		}
	}
	return footer{}, fmt.Errorf("%w: no readable shard of stream %s: %w", ErrNotFound, id, errors.Join(errs...))
}

// Trailer returns the trailer of stream id from the first footer that
// verifies on any online drive.
func (s *Store) Trailer(id ID) ([]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	ft, err := s.findFooter(id)
	if err != nil {
		return nil, err
	}
	return ft.trailer, nil
}

// lockHeal waits until no other Heal of id runs and returns the unlock
// function.
func (s *Store) lockHeal(id ID) func() {
	for {
		s.mu.Lock()
		busy, ok := s.healing[id]
		if !ok {
			done := make(chan struct{})
			if s.healing == nil {
				s.healing = map[ID]chan struct{}{}
			}
			s.healing[id] = done
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.healing, id)
				s.mu.Unlock()
				close(done)
			}
		}
		s.mu.Unlock()
		<-busy
	}
}
