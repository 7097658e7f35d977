package chunkstore

import (
	"encoding/binary"
	"fmt"

	"github.com/cofferdb/coffer/erasure"
)

// layoutVersion is the first byte of an encoded Layout.
const layoutVersion = 1

// maxLayoutLen bounds an encoded Layout: version, three uvarints and one
// uvarint (< MaxDrives, so at most 2 bytes) per shard.
const maxLayoutLen = 1 + 3*binary.MaxVarintLen64 + 2*erasure.MaxShards

// Layout says where a stream's shards were placed and how the stream was
// striped. The owner stores it (its AppendBinary form) in its index and
// passes it back to NewReader and Remove.
type Layout struct {
	DataShards, ParityShards int
	BlockSize                int
	// Drives[i] is the index (into Options.Drives) of the drive holding
	// shard i; len(Drives) == DataShards+ParityShards, all distinct.
	Drives []int
}

// AppendBinary appends the compact, versioned encoding of l to dst and
// returns the extended slice: a version byte (1), then uvarints k, m, block
// size and the k+m drive indexes.
func (l Layout) AppendBinary(dst []byte) []byte {
	dst = append(dst, layoutVersion)
	dst = binary.AppendUvarint(dst, uint64(l.DataShards))
	dst = binary.AppendUvarint(dst, uint64(l.ParityShards))
	dst = binary.AppendUvarint(dst, uint64(l.BlockSize))
	for _, d := range l.Drives {
		dst = binary.AppendUvarint(dst, uint64(d))
	}
	return dst
}

// DecodeLayout decodes a Layout from the start of b and returns it with the
// number of bytes consumed. It checks every bound (shard counts, block size,
// drive indexes below MaxDrives, distinct drives), never allocates more than
// the shard count allows and never panics. Errors wrap ErrInvalidLayout.
func DecodeLayout(b []byte) (Layout, int, error) {
	if len(b) == 0 {
		return Layout{}, 0, fmt.Errorf("%w: empty", ErrInvalidLayout)
	}
	if b[0] != layoutVersion {
		return Layout{}, 0, fmt.Errorf("%w: unknown version %d", ErrInvalidLayout, b[0])
	}
	pos := 1
	next := func(what string, limit uint64) (int, error) {
		v, n := binary.Uvarint(b[pos:])
		if n <= 0 {
			return 0, fmt.Errorf("%w: truncated or overlong %s", ErrInvalidLayout, what)
		}
		if v > limit {
			return 0, fmt.Errorf("%w: %s %d exceeds %d", ErrInvalidLayout, what, v, limit)
		}
		pos += n
		return int(v), nil
	}
	var l Layout
	var err error
	if l.DataShards, err = next("data shards", erasure.MaxShards); err != nil {
		return Layout{}, 0, err
	}
	if l.ParityShards, err = next("parity shards", erasure.MaxShards); err != nil {
		return Layout{}, 0, err
	}
	if l.BlockSize, err = next("block size", erasure.MaxBlockSize); err != nil {
		return Layout{}, 0, err
	}
	if err := l.checkShape(); err != nil {
		return Layout{}, 0, err
	}
	l.Drives = make([]int, l.DataShards+l.ParityShards)
	for i := range l.Drives {
		if l.Drives[i], err = next("drive index", MaxDrives-1); err != nil {
			return Layout{}, 0, err
		}
	}
	if err := l.checkDrives(MaxDrives); err != nil {
		return Layout{}, 0, err
	}
	return l, pos, nil
}

// checkShape checks the shard counts and block size.
func (l *Layout) checkShape() error {
	if l.DataShards < 1 || l.ParityShards < 0 || l.DataShards+l.ParityShards > erasure.MaxShards {
		return fmt.Errorf("%w: %d+%d shards", ErrInvalidLayout, l.DataShards, l.ParityShards)
	}
	if l.BlockSize < 1 || l.BlockSize > erasure.MaxBlockSize {
		return fmt.Errorf("%w: block size %d", ErrInvalidLayout, l.BlockSize)
	}
	return nil
}

// checkDrives checks that there is one drive index per shard, each below
// drives and all distinct.
func (l *Layout) checkDrives(drives int) error {
	if len(l.Drives) != l.DataShards+l.ParityShards {
		return fmt.Errorf("%w: %d drives for %d shards", ErrInvalidLayout, len(l.Drives), l.DataShards+l.ParityShards)
	}
	var seen [MaxDrives / 64]uint64
	for i, d := range l.Drives {
		if d < 0 || d >= drives || d >= MaxDrives {
			return fmt.Errorf("%w: shard %d on drive %d of %d", ErrInvalidLayout, i, d, drives)
		}
		if seen[d/64]&(1<<(d%64)) != 0 {
			return fmt.Errorf("%w: drive %d holds two shards", ErrInvalidLayout, d)
		}
		seen[d/64] |= 1 << (d % 64)
	}
	return nil
}

// validate checks l against a store with the given number of drives.
func (l *Layout) validate(drives int) error {
	if err := l.checkShape(); err != nil {
		return err
	}
	return l.checkDrives(drives)
}
