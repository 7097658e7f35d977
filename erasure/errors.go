package erasure

import "errors"

var (
	// ErrShardCount is returned by New for a shard count outside
	// 1 <= k, 0 <= m, k+m <= MaxShards.
	ErrShardCount = errors.New("erasure: invalid shard count")

	// ErrBlockSize is returned by New for a block size outside
	// [1, MaxBlockSize], and by Encode for a stripe longer than the block size.
	ErrBlockSize = errors.New("erasure: invalid block size")

	// ErrShortBuffer is returned when a caller-owned buffer has too little
	// capacity for the shard blocks it must hold.
	ErrShortBuffer = errors.New("erasure: buffer too small")

	// ErrShardSize is returned when the shards handed to Reconstruct or
	// Verify do not all have the same length, or the slice of shards has the
	// wrong length.
	ErrShardSize = errors.New("erasure: shard sizes differ")

	// ErrTooFewShards is returned by Reconstruct when more than m shards of a
	// stripe are missing.
	ErrTooFewShards = errors.New("erasure: too few shards to reconstruct")

	// ErrEmptyStripe is returned by Encode for a stripe of zero bytes. A
	// stream of zero bytes has no stripes.
	ErrEmptyStripe = errors.New("erasure: empty stripe")

	// ErrSelfTest is returned (wrapped) by SelfTest when the codec's output
	// differs from the known answer. Do not store data when it happens.
	ErrSelfTest = errors.New("erasure: self-test failed")
)
