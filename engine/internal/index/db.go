package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// seqKey holds the commit sequence of a replica. It sorts before every
// schema key (they all start with a printable prefix byte).
var seqKey = []byte("\x00seq")

// Options configures Open.
type Options struct {
	// FS is the filesystem every replica lives on. Required.
	FS vfs.FS
	// Dirs are the replica directories, at least one.
	Dirs []string
	// NoSync commits without fsync (tests and benchmarks only).
	NoSync bool
	// Logger receives replica and Pebble messages. Nil discards them.
	Logger *slog.Logger
	// MaxGroup bounds how many transactions share one commit. Zero: 256.
	MaxGroup int
}

// DB is the replicated index. See the package documentation.
type DB struct {
	opts   Options
	log    *slog.Logger
	reps   []*replica
	reqs   chan *request
	failed chan struct{}
	fail   sync.Once
	closed atomic.Bool
	wg     sync.WaitGroup
	seq    uint64 // owned by the committer goroutine after Open

	lowSpace    atomic.Bool // a replica gave up its ballast (ballast.go)
	restoreMu   sync.Mutex
	lastRestore time.Time // under restoreMu

	// ready is set once reps is final (end of Open); corruption reports
	// before then only mark their replica unhealthy.
	ready  atomic.Bool
	dropMu sync.Mutex // serializes drops for corruption (corrupt)
}

type replica struct {
	dir     string
	db      *pebble.DB
	healthy atomic.Bool
	// dead is closed when Pebble hit a fatal error in this replica: one of
	// its goroutines is parked for good, so nothing may wait on it or
	// close it.
	dead     chan struct{}
	deadOnce sync.Once
}

type request struct {
	fn   func(*Txn) error
	done chan error
}

// fatalLogger replaces Pebble's default logger so that a fatal Pebble error
// drops its replica (and fails the DB when it was the last healthy one)
// instead of exiting the process.
type fatalLogger struct {
	log    *slog.Logger
	onFail func(error)
}

func (l fatalLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l fatalLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l fatalLogger) Fatalf(format string, args ...any) {
	err := fmt.Errorf("pebble: "+format, args...)
	l.log.Error("fatal error in an index replica; dropping it", "err", err)
	l.onFail(err)
	// Park this goroutine: returning would let Pebble continue past an
	// invariant it considers broken, and exiting is not ours to do.
	select {}
}

// Open opens (creating as needed) every replica directory it can, levels
// the replicas with the most recent one, and starts the committer.
// Replicas that cannot be opened are logged and left out; Open fails only
// when none opens.
func Open(o Options) (*DB, error) {
	if o.FS == nil {
		return nil, errors.New("index: Options.FS is required")
	}
	if len(o.Dirs) == 0 {
		return nil, errors.New("index: Options.Dirs is empty")
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 256
	}
	db := &DB{
		opts:   o,
		log:    o.Logger,
		reqs:   make(chan *request, o.MaxGroup),
		failed: make(chan struct{}),
	}
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	cache := pebble.NewCache(32 << 20)
	defer cache.Unref()
	var openErrs []error
	for _, dir := range o.Dirs {
		r := &replica{dir: dir, dead: make(chan struct{})}
		// Each replica's writes go through a disk-full hook that gives up
		// its ballast so the write can be retried (ballast.go).
		popts := &pebble.Options{
			FS:     vfs.OnDiskFull(o.FS, func() { db.diskFull(dir) }),
			Cache:  cache,
			Logger: fatalLogger{log: db.log.With("replica", dir), onFail: func(err error) { db.replicaDied(r, err) }},
			// Pebble's default for a checksum failure in a table is its
			// fatal logger, which would park the goroutine that read it
			// (an Open, a GET) forever. A corrupt replica is dropped
			// instead and the read goes to the next one (corrupt).
			EventListener: &pebble.EventListener{
				DataCorruption: func(info pebble.DataCorruptionInfo) { db.corrupt(r, info.Details) },
			},
		}
		if err := o.FS.MkdirAll(dir, 0o755); err != nil {
			openErrs = append(openErrs, fmt.Errorf("index: replica %s: %w", dir, err))
			continue
		}
		if err := makeBallast(o.FS, dir); err != nil {
			db.log.Warn("index: no room for the ballast; new data is refused until there is", "dir", dir, "err", err)
			db.lowSpace.Store(true)
		}
		p, err := pebble.Open(dir, popts)
		if err != nil {
			db.log.Error("index replica unavailable", "dir", dir, "err", err)
			if pebble.IsCorruptionError(err) {
				err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			openErrs = append(openErrs, fmt.Errorf("index: replica %s: %w", dir, err))
			continue
		}
		r.db = p
		r.healthy.Store(true)
		db.reps = append(db.reps, r)
	}
	if len(db.reps) == 0 {
		return nil, errors.Join(append([]error{ErrNoReplica}, openErrs...)...)
	}
	if err := db.level(); err != nil {
		db.closeReplicas()
		return nil, err
	}
	db.ready.Store(true)
	db.wg.Add(1)
	go db.committer()
	return db, nil
}

// Replicas reports how many replicas are open and healthy.
func (db *DB) Replicas() int {
	n := 0
	for _, r := range db.reps {
		if r.healthy.Load() {
			n++
		}
	}
	return n
}

// Seq returns the commit sequence of the most recent commit; zero means
// nothing was ever committed (a new or lost index).
func (db *DB) Seq() (uint64, error) {
	v, err := db.Get(seqKey)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: commit sequence", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

func readSeq(p *pebble.DB) (uint64, error) {
	v, c, err := p.Get(seqKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: commit sequence", ErrCorrupt)
	}
	return binary.BigEndian.Uint64(v), nil
}

// level makes every replica equal to the one with the highest sequence.
func (db *DB) level() error {
	best, bestSeq := -1, uint64(0)
	seqs := make([]uint64, len(db.reps))
	var errs []error
	for i, r := range db.reps {
		if !r.healthy.Load() {
			errs = append(errs, fmt.Errorf("index: replica %s: %w", r.dir, ErrCorrupt))
			continue // found corrupt while it opened
		}
		s, err := readSeq(r.db)
		if err != nil {
			db.log.Error("index replica unreadable; dropping it", "dir", r.dir, "err", err)
			r.healthy.Store(false)
			if pebble.IsCorruptionError(err) {
				err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			errs = append(errs, fmt.Errorf("index: replica %s: %w", r.dir, err))
			continue
		}
		seqs[i] = s
		if best < 0 || s > bestSeq {
			best, bestSeq = i, s
		}
	}
	if best < 0 {
		return errors.Join(append([]error{ErrNoReplica}, errs...)...)
	}
	db.seq = bestSeq
	src := db.reps[best]
	for i, r := range db.reps {
		if i == best || !r.healthy.Load() || seqs[i] == bestSeq {
			continue
		}
		db.log.Warn("index replica behind; levelling", "dir", r.dir, "seq", seqs[i], "want", bestSeq)
		if err := copyDiff(src.db, r.db, !db.opts.NoSync); err != nil {
			db.log.Error("levelling failed; dropping replica", "dir", r.dir, "err", err)
			r.healthy.Store(false)
		}
	}
	return nil
}

// copyDiff makes dst hold exactly the keys of src, writing only the
// differences.
func copyDiff(src, dst *pebble.DB, sync bool) error {
	si, err := src.NewIter(nil)
	if err != nil {
		return err
	}
	defer si.Close()
	di, err := dst.NewIter(nil)
	if err != nil {
		return err
	}
	defer di.Close()
	b := dst.NewBatch()
	defer b.Close()
	flush := func(force bool) error {
		if b.Empty() || (!force && b.Len() < 4<<20) {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return err
		}
		b.Reset()
		return nil
	}
	sv, dv := si.First(), di.First()
	for sv || dv {
		var c int
		switch {
		case !sv:
			c = 1
		case !dv:
			c = -1
		default:
			c = bytes.Compare(si.Key(), di.Key())
		}
		switch {
		case c < 0:
			if err := b.Set(si.Key(), si.Value(), nil); err != nil {
				return err
			}
			sv = si.Next()
		case c > 0:
			if err := b.Delete(di.Key(), nil); err != nil {
				return err
			}
			dv = di.Next()
		default:
			if !bytes.Equal(si.Value(), di.Value()) {
				if err := b.Set(si.Key(), si.Value(), nil); err != nil {
					return err
				}
			}
			sv, dv = si.Next(), di.Next()
		}
		if err := flush(false); err != nil {
			return err
		}
	}
	if err := errors.Join(si.Error(), di.Error()); err != nil {
		return err
	}
	if err := flush(true); err != nil {
		return err
	}
	if sync {
		return dst.LogData(nil, pebble.Sync)
	}
	return nil
}

func (db *DB) markFailed(err error) {
	db.fail.Do(func() { close(db.failed) })
}

// replicaDied drops replica r after a fatal Pebble error in it, and fails
// the DB if no healthy replica is left. The other replicas keep every
// commit (each is acknowledged only once all healthy replicas have it).
func (db *DB) replicaDied(r *replica, err error) {
	r.deadOnce.Do(func() { close(r.dead) })
	r.healthy.Store(false)
	for _, o := range db.reps {
		if o.healthy.Load() {
			return
		}
	}
	db.markFailed(err)
}

// Failed reports whether a fatal storage error has failed the index.
func (db *DB) Failed() bool {
	select {
	case <-db.failed:
		return true
	default:
		return false
	}
}

// next returns the index of the first healthy replica after replica i.
func (db *DB) next(i int) (int, error) {
	if db.closed.Load() {
		return -1, ErrClosed
	}
	if db.Failed() {
		return -1, ErrFailed
	}
	for j := i + 1; j < len(db.reps); j++ {
		if db.reps[j].healthy.Load() {
			return j, nil
		}
	}
	return -1, ErrFailed
}

// corrupt hears that a read of replica r met corrupt data (a checksum
// failure in one of its tables). It drops r as long as another healthy
// replica remains; the last one is kept, so that what is intact in it
// stays readable while reads of the damaged part fail with ErrCorrupt.
func (db *DB) corrupt(r *replica, err error) {
	if !db.ready.Load() {
		// Open is still building reps; level skips unhealthy replicas.
		r.healthy.Store(false)
		db.log.Error("index replica corrupt at open; dropping it", "dir", r.dir, "err", err)
		return
	}
	db.dropMu.Lock()
	defer db.dropMu.Unlock()
	if !r.healthy.Load() {
		return
	}
	for _, o := range db.reps {
		if o != r && o.healthy.Load() {
			r.healthy.Store(false)
			db.log.Error("index replica corrupt; dropping it until reopen", "dir", r.dir, "err", err)
			return
		}
	}
	db.log.Error("the last healthy index replica is corrupt; keeping it, damaged keys fail", "dir", r.dir, "err", err)
}

// Get returns a copy of the committed value of key, or ErrNotFound. A
// replica found corrupt is dropped (see corrupt) and the next one asked;
// when every replica fails so, the error wraps ErrCorrupt.
func (db *DB) Get(key []byte) ([]byte, error) {
	i, err := db.next(-1)
	if err != nil {
		return nil, err
	}
	for {
		r := db.reps[i]
		v, err := getCopy(r.db, key)
		if err == nil || !pebble.IsCorruptionError(err) {
			return v, err
		}
		db.corrupt(r, err)
		if i, _ = db.next(i); i < 0 {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
}

func getCopy(p *pebble.DB, key []byte) ([]byte, error) {
	v, c, err := p.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	c.Close()
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

// Update runs fn in a transaction on the committer goroutine and commits
// its writes durably together with the other transactions of its group. If
// fn returns an error its writes are discarded and Update returns that
// error. fn must not call back into the DB except through the Txn, and must
// not keep the Txn after it returns.
func (db *DB) Update(fn func(*Txn) error) (err error) {
	if db.closed.Load() {
		return ErrClosed
	}
	if db.Failed() {
		return ErrFailed
	}
	req := &request{fn: fn, done: make(chan error, 1)}
	defer func() {
		// Close may race with the send; a closed channel means closed.
		if recover() != nil {
			err = ErrClosed
		}
	}()
	select {
	case db.reqs <- req:
	case <-db.failed:
		return ErrFailed
	}
	select {
	case err := <-req.done:
		return err
	case <-db.failed:
		return ErrFailed
	}
}

func (db *DB) committer() {
	defer db.wg.Done()
	group := make([]*request, 0, db.opts.MaxGroup)
	for first := range db.reqs {
		group = append(group[:0], first)
	drain:
		for len(group) < db.opts.MaxGroup {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		db.runGroup(group)
	}
}

func (db *DB) runGroup(group []*request) {
	overlay := &overlay{vals: map[string]entry{}}
	errs := make([]error, len(group))
	for i, req := range group {
		t := &Txn{db: db, group: overlay}
		errs[i] = runTxn(req.fn, t)
		if errs[i] == nil {
			overlay.merge(t)
		}
	}
	if len(overlay.order) > 0 {
		if err := db.commit(overlay); err != nil {
			for i := range errs {
				if errs[i] == nil {
					errs[i] = err
				}
			}
		}
	}
	for i, req := range group {
		req.done <- errs[i]
	}
}

func runTxn(fn func(*Txn) error, t *Txn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("index: transaction panicked: %v", r)
		}
	}()
	return fn(t)
}

// commit writes the group to every healthy replica in parallel.
func (db *DB) commit(ov *overlay) error {
	seq := db.seq + 1
	var seqBuf [8]byte
	binary.BigEndian.PutUint64(seqBuf[:], seq)
	wo := pebble.Sync
	if db.opts.NoSync {
		wo = pebble.NoSync
	}
	// Each replica's write reports on done; a replica that dies meanwhile
	// may never report, so waiting also ends on its dead channel.
	type result struct {
		err  error
		done chan struct{}
	}
	res := make([]*result, len(db.reps))
	errs := make([]error, len(db.reps))
	for i, r := range db.reps {
		if !r.healthy.Load() {
			errs[i] = ErrFailed
			continue
		}
		out := &result{done: make(chan struct{})}
		res[i] = out
		go func() {
			defer close(out.done)
			b := r.db.NewBatch()
			defer b.Close()
			for _, k := range ov.order {
				e := ov.vals[k]
				var err error
				if e.del {
					err = b.Delete([]byte(k), nil)
				} else {
					err = b.Set([]byte(k), e.val, nil)
				}
				if err != nil {
					out.err = err
					return
				}
			}
			if err := b.Set(seqKey, seqBuf[:], nil); err != nil {
				out.err = err
				return
			}
			out.err = b.Commit(wo)
		}()
	}
	for i, out := range res {
		if out == nil {
			continue
		}
		select {
		case <-out.done:
			errs[i] = out.err
		case <-db.reps[i].dead:
			errs[i] = fmt.Errorf("%w: replica %s died", ErrFailed, db.reps[i].dir)
		}
	}
	ok := 0
	var all []error
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if db.reps[i].healthy.Load() {
			db.log.Error("index replica write failed; dropping it until reopen", "dir", db.reps[i].dir, "err", err)
			db.reps[i].healthy.Store(false)
		}
		all = append(all, err)
	}
	if ok == 0 {
		db.markFailed(errors.Join(all...))
		return fmt.Errorf("%w: %w", ErrFailed, errors.Join(all...))
	}
	db.seq = seq
	return nil
}

// Close stops the committer after the queued transactions and closes the
// replicas.
func (db *DB) Close() error {
	if db.closed.Swap(true) {
		return ErrClosed
	}
	close(db.reqs)
	if !db.Failed() {
		db.wg.Wait()
	}
	return db.closeReplicas()
}

func (db *DB) closeReplicas() error {
	var errs []error
	for _, r := range db.reps {
		select {
		case <-r.dead:
			continue // a parked Pebble goroutine may hold its locks
		default:
		}
		if db.Failed() {
			continue
		}
		if err := r.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
