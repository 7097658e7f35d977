package chunkstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cofferdb/coffer/erasure"
)

const (
	// MaxDrives bounds Options.Drives and the drive indexes in a Layout.
	MaxDrives = 1024

	// MaxTrailerSize bounds the trailer stored with a stream.
	MaxTrailerSize = 1 << 20

	// DefaultBlockSize is the stripe size used when Options.BlockSize is 0.
	DefaultBlockSize = erasure.DefaultBlockSize

	// DefaultDriveTimeout is Options.DriveTimeout when it is 0.
	DefaultDriveTimeout = 30 * time.Second

	// DefaultProbeInterval is Options.ProbeInterval when it is 0.
	DefaultProbeInterval = 10 * time.Second

	// DefaultBytesPerSync is Options.BytesPerSync when it is 0.
	DefaultBytesPerSync = 1 << 20
)

// Options configures a Store. FS, Drives and DataShards are required; the
// zero value of every other field is a sensible default.
type Options struct {
	// FS is the file system all shard files live on (vfs.Default for the
	// OS). Required.
	FS vfs.FS

	// Drives are the drive root directories. Their order is stable: a
	// Layout refers to drives by index into this slice, so drives may be
	// appended but never reordered or removed while layouts refer to them.
	// Shards live under <drive>/shards/.
	Drives []string

	// DataShards is k, the number of data shards per stream (>= 1).
	DataShards int

	// ParityShards is m, the number of parity shards per stream (>= 0);
	// k+m must not exceed len(Drives) or erasure.MaxShards.
	ParityShards int

	// BlockSize is the number of stream bytes per stripe; 0 means
	// DefaultBlockSize (1 MiB). At most erasure.MaxBlockSize.
	BlockSize int

	// BytesPerSync is how much a shard file grows between requests to the
	// kernel to start writing it back (sync_file_range on Linux, a no-op
	// elsewhere), so the disk works while the stream still arrives and the
	// fsync in Finish has little left to wait for. 0 means
	// DefaultBytesPerSync (1 MiB); negative: never, the fsync does it all.
	// A 16 MiB PUT over 4+2 went from 213-234 to 284-294 MB/s with 1 MiB
	// instead of 4 MiB (benchmarks/RESULTS.md).
	BytesPerSync int

	// NoSync skips every fsync. For benchmarks and tests only: a crash may
	// then lose acknowledged streams.
	NoSync bool

	// Logger receives warnings about offline drives and dropped or damaged
	// shards. Nil discards them. Secrets never reach it: this package sees
	// only ids and shard bytes.
	Logger *slog.Logger

	// OnDamage, if set, is called when a shard is found missing or corrupt
	// during a read, or was dropped by a write that still reached its
	// quorum, so the owner can heal it. It is called at most once per shard
	// per read or write, from helper goroutines or the caller's goroutine,
	// possibly concurrently, and must not block for long.
	OnDamage func(id ID, shard, drive int, err error)

	// Offline, if set (len(Drives) entries), marks drives the owner has
	// refused (a foreign drive at a drive path, say): the store treats
	// them as offline and never touches them.
	Offline []bool

	// Absent, if set (len(Drives) entries), marks drives missing at Open
	// (a drive not mounted yet, say) that may still come: they start
	// offline, are not prepared or counted towards the drives Open needs,
	// and are probed like drives taken offline at run time. A probe first
	// asks Admit, and touches the drive only when Admit returns nil (the
	// owner found its own identity there); the drive is then prepared and
	// probed, and comes online (OnDriveState) when that succeeds. Without
	// Admit an absent drive is never touched. Offline wins over Absent.
	Absent []bool
	Admit  func(drive int) error

	// DriveTimeout bounds one operation on one drive: reading a block,
	// handing a block to a shard file, finishing (syncing) a shard file. A
	// read or write that waits longer goes on without that shard, and the
	// drive is taken offline until a probe succeeds (health.go). Three I/O
	// errors in a row take a drive offline too. 0 means
	// DefaultDriveTimeout (30 s); a negative value disables the deadline.
	DriveTimeout time.Duration

	// ProbeInterval is how often offline drives are probed; 0 means
	// DefaultProbeInterval (10 s).
	ProbeInterval time.Duration

	// Refuse, if set, is asked before each stripe a Writer hands on; when
	// it reports true the write fails with ErrNoSpace (the owner is short
	// of space, say, and streams already in flight must stop too). It is
	// called from the writing goroutine and must be cheap.
	Refuse func() bool

	// OnDriveState, if set, is called when a drive is taken offline
	// (online false, with the cause) or comes back (online true), from
	// the goroutine that saw it; it must not block for long.
	OnDriveState func(drive int, online bool, err error)
}

// Validate reports every problem with o at once (joined), each wrapping
// ErrInvalidOptions. It does not touch the file system.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.FS == nil {
		bad("FS is required")
	}
	if len(o.Drives) == 0 {
		bad("at least one drive is required")
	}
	if o.Offline != nil && len(o.Offline) != len(o.Drives) {
		bad("Offline has %d entries for %d drives", len(o.Offline), len(o.Drives))
	}
	if o.Absent != nil && len(o.Absent) != len(o.Drives) {
		bad("Absent has %d entries for %d drives", len(o.Absent), len(o.Drives))
	}
	if len(o.Drives) > MaxDrives {
		bad("%d drives, at most %d", len(o.Drives), MaxDrives)
	}
	seen := make(map[string]int, len(o.Drives))
	for i, d := range o.Drives {
		if d == "" {
			bad("drive %d has an empty path", i)
			continue
		}
		if j, dup := seen[d]; dup {
			bad("drives %d and %d are both %q", j, i, d)
		}
		seen[d] = i
	}
	if o.DataShards < 1 {
		bad("DataShards is %d, must be at least 1", o.DataShards)
	}
	if o.ParityShards < 0 {
		bad("ParityShards is %d, must not be negative", o.ParityShards)
	}
	if total := o.DataShards + o.ParityShards; o.DataShards >= 1 && o.ParityShards >= 0 {
		if total > len(o.Drives) {
			bad("%d+%d shards need %d drives, have %d", o.DataShards, o.ParityShards, total, len(o.Drives))
		}
		if total > erasure.MaxShards {
			bad("%d+%d shards, at most %d in total", o.DataShards, o.ParityShards, erasure.MaxShards)
		}
	}
	if o.BlockSize < 0 || o.BlockSize > erasure.MaxBlockSize {
		bad("BlockSize is %d, must be 0 (default) or 1..%d", o.BlockSize, erasure.MaxBlockSize)
	}
	return errors.Join(errs...)
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.BlockSize == 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DriveTimeout == 0 {
		o.DriveTimeout = DefaultDriveTimeout
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.BytesPerSync == 0 {
		o.BytesPerSync = DefaultBytesPerSync
	}
	return o
}
