package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// SyncPolicy says when data reaches stable storage.
type SyncPolicy int

const (
	// SyncDurable (the default) fsyncs shard files, their directories and the
	// index before a write is acknowledged.
	SyncDurable SyncPolicy = iota
	// SyncNone skips every fsync. A crash may lose acknowledged writes; for
	// tests, benchmarks and caches only.
	SyncNone
)

// NoParity asks for zero parity shards explicitly (ParityShards 0 means
// "the default for the drive count").
const NoParity = -1

// Defaults.
const (
	DefaultBlockSize       = 1 << 20
	DefaultInlineThreshold = 32 << 10
	MaxInlineThreshold     = 1 << 20
	DefaultUploadExpiry    = 7 * 24 * time.Hour
	DefaultBytesPerSync    = 1 << 20
)

// Options configures Open. A nil *Options means all defaults; zero fields
// take their defaults. Open copies the Options; the caller may reuse them.
type Options struct {
	// Drives are the directories, one per drive, that hold shard files and
	// the index replicas. Empty: the dir argument of Open is the one drive.
	Drives []string
	// DataShards, ParityShards and BlockSize are the store's layout. A new
	// store records its layout on every drive; Open of an existing store
	// takes each of these fields left zero from the recorded layout, and
	// fails with an error wrapping ErrInvalidOptions, naming both layouts,
	// when one is set to something else. The defaults below apply to a new
	// store, and to a store whose drives predate recorded layouts.
	//
	// DataShards is k. Zero: the number of drives minus ParityShards.
	DataShards int
	// ParityShards is m. Zero picks by drive count: 1 drive 0, 2–3 drives
	// 1, 4–5 drives 2, 6–7 drives 3, 8 or more 4. NoParity asks for 0.
	// The index is replicated on the first max(m+1, 2) drives.
	ParityShards int
	// BlockSize is the number of stored bytes per erasure stripe. Zero:
	// 1 MiB (stripes near 1 MiB stay in cache; see perf-limits).
	BlockSize int
	// InlineThreshold is the largest object kept inside the index instead
	// of shard files (small objects then cost one group-committed index
	// write). Zero: 32 KiB; negative: never inline.
	InlineThreshold int
	// UploadExpiry is the age after which an unfinished multipart upload is
	// aborted and its parts reclaimed. Zero: 7 days; negative: never.
	UploadExpiry time.Duration
	// DefaultEncryption is the encryption of writes to a bucket that has no
	// encryption rule of its own and a request that asks for none. Zero
	// means SSES3, as S3 since 2023: every object is encrypted unless an
	// embedder asks for SSENone.
	DefaultEncryption SSEType
	// KeyManager seals SSE-KMS and DSSE-KMS keys and the SSE-S3 master key.
	// Nil: SSE-KMS is unavailable and the SSE-S3 master key is kept in the
	// clear beside the data (logged loudly).
	KeyManager KeyManager
	// MasterKey, 32 bytes, is the SSE-S3 master key when the embedder keeps
	// it; Open neither stores nor asks the key manager for it then.
	MasterKey []byte
	// BucketKeyTTL is how long a Bucket Key (and a key-manager answer) is
	// used before asking the key manager again. Zero: 5 minutes.
	BucketKeyTTL time.Duration
	// KeyCacheEntries bounds the cached Bucket Keys. Zero: 10,000.
	KeyCacheEntries int
	// ScrubInterval is how often the background scrubber starts a pass that
	// reads and verifies every stored shard and heals what it finds. Zero:
	// 30 days; negative: never (Scrub can still be called).
	ScrubInterval time.Duration
	// ScrubRate bounds the scrubber's reading, in bytes per second. Zero:
	// 32 MiB/s; negative: unpaced.
	ScrubRate int64
	// DriveTimeout bounds one operation on one drive. A read waits no
	// longer for a drive and rebuilds its shards from parity; a drive whose
	// operation outlives it, or that fails three times in a row, is taken
	// offline (Drives reports it) until a probe every DriveProbeInterval
	// succeeds, and is then healed. Zero: 30 s; negative: no deadline.
	DriveTimeout time.Duration
	// DriveProbeInterval is how often offline drives are probed. Zero: 10 s.
	DriveProbeInterval time.Duration
	// BytesPerSync is how much a shard file grows between requests to the
	// kernel to start writing it back, so large PUTs keep the disk busy
	// while the body still arrives instead of leaving it all to the final
	// fsync. Zero: DefaultBytesPerSync (1 MiB); negative: never.
	BytesPerSync int
	// Sync is the sync policy; the default is durable.
	Sync SyncPolicy
	// FS is the filesystem; nil means the operating system's. Tests pass a
	// memory or fault-injecting FS.
	FS vfs.FS
	// Logger receives the engine's structured logs; nil discards them.
	Logger *slog.Logger
}

// EnsureDefaults returns a copy of o (or of the zero Options) with every
// zero field set to its default for dir. The layout defaults are those of
// a new store: Open replaces them by an existing store's recorded layout.
func (o *Options) EnsureDefaults(dir string) *Options {
	var n Options
	if o != nil {
		n = *o
		n.Drives = append([]string(nil), o.Drives...)
	}
	if len(n.Drives) == 0 && dir != "" {
		n.Drives = []string{dir}
	}
	if n.FS == nil {
		n.FS = vfs.Default
	}
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	d := len(n.Drives)
	switch {
	case n.ParityShards == NoParity:
		n.ParityShards = 0
	case n.ParityShards == 0:
		n.ParityShards = defaultParity(d)
	}
	if n.DataShards == 0 {
		n.DataShards = max(d-n.ParityShards, 1)
	}
	if n.BlockSize == 0 {
		n.BlockSize = DefaultBlockSize
	}
	if n.InlineThreshold == 0 {
		n.InlineThreshold = DefaultInlineThreshold
	}
	if n.DefaultEncryption == SSEDefault {
		n.DefaultEncryption = SSES3
	}
	if n.BucketKeyTTL == 0 {
		n.BucketKeyTTL = 5 * time.Minute
	}
	if n.KeyCacheEntries == 0 {
		n.KeyCacheEntries = 10000
	}
	if n.ScrubInterval == 0 {
		n.ScrubInterval = 30 * 24 * time.Hour
	}
	if n.ScrubRate == 0 {
		n.ScrubRate = 32 << 20
	}
	if n.UploadExpiry == 0 {
		n.UploadExpiry = DefaultUploadExpiry
	}
	if n.BytesPerSync == 0 {
		n.BytesPerSync = DefaultBytesPerSync
	}
	return &n
}

func defaultParity(drives int) int {
	switch {
	case drives <= 1:
		return 0
	case drives <= 3:
		return 1
	case drives <= 5:
		return 2
	case drives <= 7:
		return 3
	default:
		return 4
	}
}

// Validate reports every problem with o at once. Call it on the result of
// EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if len(o.Drives) == 0 {
		bad("no drives")
	}
	seen := map[string]bool{}
	for _, d := range o.Drives {
		c := filepath.Clean(d)
		if d == "" {
			bad("empty drive path")
		} else if seen[c] {
			bad("drive %q listed twice", d)
		}
		seen[c] = true
	}
	if o.DataShards < 1 {
		bad("DataShards %d < 1", o.DataShards)
	}
	if o.ParityShards < 0 {
		bad("ParityShards %d < 0", o.ParityShards)
	}
	if o.DataShards+o.ParityShards > len(o.Drives) {
		bad("DataShards+ParityShards = %d exceeds the %d drives", o.DataShards+o.ParityShards, len(o.Drives))
	}
	if o.DataShards+o.ParityShards > 256 {
		bad("more than 256 shards")
	}
	if o.BlockSize < 4096 || o.BlockSize > 64<<20 {
		bad("BlockSize %d outside [4 KiB, 64 MiB]", o.BlockSize)
	}
	if o.InlineThreshold > MaxInlineThreshold {
		bad("InlineThreshold %d above %d", o.InlineThreshold, MaxInlineThreshold)
	}
	switch o.DefaultEncryption {
	case SSENone, SSES3, SSEKMS, DSSEKMS:
	default:
		bad("DefaultEncryption %v is not a bucket default", o.DefaultEncryption)
	}
	if (o.DefaultEncryption == SSEKMS || o.DefaultEncryption == DSSEKMS) && o.KeyManager == nil {
		bad("DefaultEncryption %v needs a KeyManager", o.DefaultEncryption)
	}
	if o.MasterKey != nil && len(o.MasterKey) != 32 {
		bad("MasterKey must be 32 bytes")
	}
	if o.BucketKeyTTL < 0 || o.KeyCacheEntries < 0 {
		bad("negative BucketKeyTTL or KeyCacheEntries")
	}
	if o.Sync != SyncDurable && o.Sync != SyncNone {
		bad("unknown SyncPolicy %d", o.Sync)
	}
	return errors.Join(errs...)
}

// String describes the options for startup logs.
func (o *Options) String() string {
	return fmt.Sprintf("drives=%d data=%d parity=%d block=%d inline=%d sync=%v encryption=%v key-manager=%v",
		len(o.Drives), o.DataShards, o.ParityShards, o.BlockSize, o.InlineThreshold, o.Sync == SyncDurable,
		o.DefaultEncryption, o.KeyManager != nil)
}
