package chunkstore

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrWriteQuorum is returned by Writer.Write, ReadFrom and Finish when
	// fewer shards than the write quorum (k, or k+m when m is 0) can still be
	// written. The joined per-shard errors are wrapped with it.
	ErrWriteQuorum = errors.New("chunkstore: write quorum lost")

	// ErrReadQuorum is returned by a reader when a stripe has fewer than k
	// good shard blocks. The joined per-shard errors are wrapped with it.
	ErrReadQuorum = errors.New("chunkstore: read quorum lost")

	// ErrCorrupt marks checksum, magic and consistency failures of shard
	// files; test with errors.Is(err, ErrCorrupt).
	ErrCorrupt = errors.New("chunkstore: corrupt shard")

	// ErrNotFound is returned when a shard file does not exist.
	ErrNotFound = errors.New("chunkstore: shard not found")

	// ErrClosed is returned by operations on a closed Store, or on a Writer
	// or reader after Finish, Abort or Close.
	ErrClosed = errors.New("chunkstore: closed")

	// ErrInvalidOptions is wrapped by every problem Options.Validate reports.
	ErrInvalidOptions = errors.New("chunkstore: invalid options")

	// ErrTooFewDrives is returned by Open when fewer than k drives can be
	// used.
	ErrTooFewDrives = errors.New("chunkstore: too few usable drives")

	// ErrInvalidLayout is returned for a Layout that is malformed or does not
	// fit the store's drives, and by DecodeLayout for bad bytes.
	ErrInvalidLayout = errors.New("chunkstore: invalid layout")

	// ErrRange is returned by NewReader for a byte range outside the stream.
	ErrRange = errors.New("chunkstore: range outside the stream")

	// ErrTrailerTooLarge is returned by Finish for a trailer longer than
	// MaxTrailerSize.
	ErrTrailerTooLarge = errors.New("chunkstore: trailer too large")

	// ErrNoSpace is returned by a Writer once Options.Refuse says so: the
	// owner is short of space. It wraps syscall.ENOSPC.
	ErrNoSpace = fmt.Errorf("chunkstore: writes refused for lack of space: %w", syscall.ENOSPC)

	// ErrDriveOffline marks a shard skipped because its drive is offline.
	ErrDriveOffline = errors.New("chunkstore: drive offline")

	// ErrDriveTimeout marks an operation that outlived
	// Options.DriveTimeout; its drive is taken offline.
	ErrDriveTimeout = errors.New("chunkstore: drive operation timed out")
)

// ShardError records a failure of one shard on one drive. Drive is an index
// into Options.Drives, Shard the shard index within the stream (-1 when the
// failure concerns a drive as a whole).
type ShardError struct {
	Drive, Shard int
	Err          error
}

// Error implements error.
func (e *ShardError) Error() string {
	if e.Shard < 0 {
		return fmt.Sprintf("chunkstore: drive %d: %v", e.Drive, e.Err)
	}
	return fmt.Sprintf("chunkstore: shard %d on drive %d: %v", e.Shard, e.Drive, e.Err)
}

// Unwrap returns the underlying error.
func (e *ShardError) Unwrap() error { return e.Err }

// corruptf returns an error marked ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// errRefused marks a drive its owner refused through Options.Offline.
var errRefused = errors.New("chunkstore: drive refused by its owner")

// errAbsent marks a drive missing at Open (Options.Absent).
var errAbsent = errors.New("chunkstore: drive absent")
