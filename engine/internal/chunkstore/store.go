package chunkstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cofferdb/coffer/erasure"
)

// Store keeps shard files on a fixed set of drives. It is safe for
// concurrent use.
type Store struct {
	fs     vfs.FS
	opts   Options // with defaults applied
	log    *slog.Logger
	drives []drive
	closed atomic.Bool

	mu      sync.Mutex
	codecs  map[codecKey]*codecEntry
	healing map[ID]chan struct{} // streams being healed; closed when done

	stop       chan struct{} // closed by Close: stops the prober
	proberDone chan struct{}
	writers    map[*Writer]struct{} // writing now, for the watchdog; under mu
}

// drive is one drive root. online is decided at Open; health changes at
// run time (health.go). An absent drive (Options.Absent) is online but
// down until a probe admits it.
type drive struct {
	root      string
	shardsDir string
	online    bool
	absent    atomic.Bool
	health    health
}

type codecKey struct{ k, m, blockSize int }

// codecEntry is a codec with the stripe buffers sized for it.
type codecEntry struct {
	c    *erasure.Codec
	bufs *bufferCache
}

// Open opens a store over o.Drives. It creates <drive>/shards/ and the 256
// fan-out directories where they are missing (and syncs what it created,
// unless o.NoSync). A drive that cannot be prepared is logged and marked
// offline; Open fails with ErrTooFewDrives only when fewer than
// o.DataShards drives are usable.
func Open(o Options) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	s := &Store{
		fs:      o.FS,
		opts:    o,
		log:     o.Logger,
		drives:  make([]drive, len(o.Drives)),
		codecs:  make(map[codecKey]*codecEntry),
		writers: make(map[*Writer]struct{}),
	}
	// Drives are prepared in parallel: creating 256 directories costs
	// tens of milliseconds to a second per drive on a journaling file system.
	prepErrs := make([]error, len(o.Drives))
	var wg sync.WaitGroup
	for i, root := range o.Drives {
		d := &s.drives[i]
		d.root = root
		d.shardsDir = o.FS.PathJoin(root, "shards")
		if o.Offline != nil && o.Offline[i] {
			prepErrs[i] = errRefused
			continue
		}
		if o.Absent != nil && o.Absent[i] {
			prepErrs[i] = errAbsent
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			prepErrs[i] = s.prepareDrive(d)
		}()
	}
	wg.Wait()
	online := 0
	var errs []error
	for i, err := range prepErrs {
		if err == errAbsent {
			d := &s.drives[i]
			d.online = true
			d.absent.Store(true)
			d.health.down.Store(true)
			s.log.Warn("chunkstore: drive absent; probing for it", "drive", i, "path", o.Drives[i])
			continue
		}
		if err != nil {
			s.log.Warn("chunkstore: drive offline", "drive", i, "path", o.Drives[i], "err", err)
			errs = append(errs, &ShardError{Drive: i, Shard: -1, Err: err})
			continue
		}
		s.drives[i].online = true
		online++
	}
	if online < o.DataShards {
		return nil, fmt.Errorf("%w: %d of %d drives usable, %d needed: %w",
			ErrTooFewDrives, online, len(o.Drives), o.DataShards, errors.Join(errs...))
	}
	if _, err := s.codec(o.DataShards, o.ParityShards, o.BlockSize); err != nil {
		return nil, err
	}
	s.stop, s.proberDone = make(chan struct{}), make(chan struct{})
	go s.prober()
	return s, nil
}

// prepareDrive creates the shards directory and its fan-out directories.
func (s *Store) prepareDrive(d *drive) error {
	_, err := s.fs.Stat(d.root)
	newRoot := isNotExist(err)
	if err := s.fs.MkdirAll(d.shardsDir, 0o755); err != nil {
		return err
	}
	if newRoot && !s.opts.NoSync {
		if err := s.syncDir(s.fs.PathDir(d.root)); err != nil {
			return err
		}
	}
	names, err := s.fs.List(d.shardsDir)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	created := false
	for b := 0; b < 256; b++ {
		name := fmt.Sprintf("%02x", b)
		if have[name] {
			continue
		}
		if err := s.fs.MkdirAll(s.fs.PathJoin(d.shardsDir, name), 0o755); err != nil {
			return err
		}
		created = true
	}
	if created && !s.opts.NoSync {
		if err := s.syncDir(d.shardsDir); err != nil {
			return err
		}
		if err := s.syncDir(d.root); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) syncDir(dir string) error {
	f, err := s.fs.OpenDir(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close marks the store closed: later calls to Create, NewReader, Remove,
// RemoveAny and Walk return ErrClosed. It does not wait for Writers or
// readers already handed out; finish or close them first. Close is
// idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.proberDone
	return nil
}

// Layout returns the layout a stream written now would get, without its
// drive placement (Drives is nil). It reflects Options after defaults.
func (s *Store) Layout() Layout {
	return Layout{DataShards: s.opts.DataShards, ParityShards: s.opts.ParityShards, BlockSize: s.opts.BlockSize}
}

// codec returns the shared codec (and buffer pool) for a layout shape.
func (s *Store) codec(k, m, blockSize int) (*codecEntry, error) {
	key := codecKey{k, m, blockSize}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ce := s.codecs[key]; ce != nil {
		return ce, nil
	}
	c, err := erasure.New(k, m, blockSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidLayout, err)
	}
	ce := &codecEntry{c: c, bufs: newBufferCache(c)}
	s.codecs[key] = ce
	return ce, nil
}

// place chooses the drives for the k+m shards of id: a rotation of the drive
// list starting at a drive picked by the id, preferring usable drives.
func (s *Store) place(id ID, k, m int) []int {
	n := len(s.drives)
	start := int(binary.LittleEndian.Uint64(id[:8]) % uint64(n))
	out := make([]int, 0, k+m)
	for pass := 0; pass < 2 && len(out) < k+m; pass++ {
		for j := 0; j < n && len(out) < k+m; j++ {
			d := (start + j) % n
			if s.usable(d) == (pass == 0) {
				out = append(out, d)
			}
		}
	}
	return out
}

// shardPath returns the path of shard `shard` of id on drive d.
func (s *Store) shardPath(d int, id ID, shard int) string {
	return s.fs.PathJoin(s.drives[d].shardsDir, fanout(id), shardName(id, shard))
}

func (s *Store) fanoutDir(d int, id ID) string {
	return s.fs.PathJoin(s.drives[d].shardsDir, fanout(id))
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Remove removes the shard files of stream id placed as l, then syncs the
// directories it changed (unless NoSync), all drives in parallel. Files
// already missing are fine. Failures are returned joined, as *ShardError.
func (s *Store) Remove(id ID, l Layout) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := l.validate(len(s.drives)); err != nil {
		return err
	}
	errs := make([]error, len(l.Drives))
	var wg sync.WaitGroup
	for i, d := range l.Drives {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.fs.Remove(s.shardPath(d, id, i))
			if err == nil && !s.opts.NoSync {
				err = s.syncDir(s.fanoutDir(d, id))
			}
			if err != nil && !isNotExist(err) {
				errs[i] = &ShardError{Drive: d, Shard: i, Err: err}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// RemoveAny removes every shard file of id from every drive, whatever its
// layout (for orphans whose layout is unknown), then syncs the directories
// it changed (unless NoSync). Failures are returned joined, as *ShardError.
func (s *Store) RemoveAny(id ID) error {
	if s.closed.Load() {
		return ErrClosed
	}
	prefix := id.String() + "."
	var errs []error
	for d := range s.drives {
		dir := s.fanoutDir(d, id)
		names, err := s.fs.List(dir)
		if err != nil {
			if !isNotExist(err) {
				errs = append(errs, &ShardError{Drive: d, Shard: -1, Err: err})
			}
			continue
		}
		removed := false
		for _, name := range names {
			if !strings.HasPrefix(name, prefix) {
				continue
			}
			_, shard, ok := parseShardName(name)
			if !ok {
				shard = -1
			}
			if err := s.fs.Remove(s.fs.PathJoin(dir, name)); err != nil && !isNotExist(err) {
				errs = append(errs, &ShardError{Drive: d, Shard: shard, Err: err})
				continue
			}
			removed = true
		}
		if removed && !s.opts.NoSync {
			if err := s.syncDir(dir); err != nil {
				errs = append(errs, &ShardError{Drive: d, Shard: -1, Err: err})
			}
		}
	}
	return errors.Join(errs...)
}

// damage logs a damaged shard and tells the owner.
func (s *Store) damage(id ID, shard, drive int, err error) {
	s.log.Warn("chunkstore: damaged shard", "id", id.String(), "shard", shard, "drive", drive, "err", err)
	if s.opts.OnDamage != nil {
		s.opts.OnDamage(id, shard, drive, err)
	}
}
