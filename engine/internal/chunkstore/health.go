package chunkstore

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Drive health at run time.
//
// A drive found usable at Open can still fail later: it returns I/O errors,
// or an operation on it hangs. The store takes such a drive offline: reads
// and writes skip it without touching it (reads rebuild its shards from
// parity, writes drop its shard and still reach their quorum), and a prober
// goroutine tries it every Options.ProbeInterval with a small write, sync,
// read and remove, under the same deadline. When a probe succeeds the
// drive is back. Options.OnDriveState hears of both changes.
//
// An operation that is stuck in the kernel cannot be cancelled in Go: the
// reader or writer that waited for it stops waiting at the deadline and goes
// on without that shard, and the stuck goroutine cleans up after itself
// when (if ever) the operation returns.

// errorsToOffline is how many I/O errors in a row take a drive offline.
const errorsToOffline = 3

// health is one drive's run-time state; its fields are atomics shared by
// every reader, writer and the prober.
type health struct {
	down    atomic.Bool  // taken offline at run time
	errs    atomic.Int32 // I/O errors in a row
	probing atomic.Bool  // a probe is running
}

// usable reports whether drive d may be touched: online at Open and not
// taken offline since.
func (s *Store) usable(d int) bool {
	return s.drives[d].online && !s.drives[d].health.down.Load()
}

// DriveOnline reports whether drive d is in use now (see usable).
func (s *Store) DriveOnline(d int) bool {
	return d >= 0 && d < len(s.drives) && s.usable(d)
}

// takeOffline marks drive d offline because of err.
func (s *Store) takeOffline(d int, err error) {
	if !s.drives[d].health.down.CompareAndSwap(false, true) {
		return
	}
	s.log.Error("chunkstore: drive taken offline", "drive", d, "path", s.drives[d].root, "err", err)
	if s.opts.OnDriveState != nil {
		s.opts.OnDriveState(d, false, err)
	}
}

// ioResult records the outcome of an I/O operation on drive d: errors in a
// row beyond errorsToOffline take the drive offline. Missing files and
// checksum mismatches say nothing about the drive and are not counted.
func (s *Store) ioResult(d int, err error) {
	h := &s.drives[d].health
	switch {
	case err == nil:
		if h.errs.Load() != 0 {
			h.errs.Store(0)
		}
	case isNotExist(err), errors.Is(err, ErrCorrupt), errors.Is(err, ErrClosed),
		errors.Is(err, ErrDriveOffline), errors.Is(err, ErrDriveTimeout), noSpace(err):
	default:
		if h.errs.Add(1) >= errorsToOffline {
			s.takeOffline(d, err)
		}
	}
}

// noSpace reports whether err says the drive is full (or read-only): the
// drive works, it only cannot take more data, and reads must go on.
func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}

// timedOut takes drive d offline after an operation on it outlived the
// deadline.
func (s *Store) timedOut(d int, what string) error {
	err := fmt.Errorf("%w: %s on drive %d took longer than %v", ErrDriveTimeout, what, d, s.opts.DriveTimeout)
	s.takeOffline(d, err)
	return err
}

// prober probes offline drives until the store closes.
func (s *Store) prober() {
	defer close(s.proberDone)
	t := time.NewTicker(s.opts.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.watchWriters()
		for d := range s.drives {
			h := &s.drives[d].health
			if !s.drives[d].online || !h.down.Load() || !h.probing.CompareAndSwap(false, true) {
				continue
			}
			go s.probe(d)
		}
	}
}

// watch adds w to (or removes it from) the writers the watchdog checks.
func (s *Store) watch(w *Writer, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.writers[w] = struct{}{}
	} else {
		delete(s.writers, w)
	}
}

// watchWriters takes offline the drive of every shard file whose current
// operation has run longer than the deadline. New reads and writes then
// avoid the drive. The write that is stuck stays stuck until the drive
// returns from the operation: Go cannot cancel a system call, and the
// writer does not abandon a shard in mid-stream.
func (s *Store) watchWriters() {
	if s.opts.DriveTimeout <= 0 {
		return
	}
	limit := time.Now().Add(-s.opts.DriveTimeout).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.writers {
		for _, sw := range w.files {
			if t := sw.busySince.Load(); t > 0 && t < limit {
				s.timedOut(sw.drive, "writing a shard file")
			}
		}
	}
}

// probe tries drive d once and brings it back if it answers in time. It
// runs on its own goroutine so a hung drive delays nothing else; it clears
// the probing flag when the operation returns, however late.
func (s *Store) probe(d int) {
	h := &s.drives[d].health
	done := make(chan error, 1)
	absent := s.drives[d].absent.Load()
	go func() {
		if absent {
			if err := s.admit(d); err != nil {
				done <- err
				return
			}
		}
		err := s.probeOnce(d)
		if noSpace(err) {
			err = nil // a full drive answers: it is alive
		}
		done <- err
	}()
	var expired <-chan time.Time
	if s.opts.DriveTimeout > 0 {
		timer := time.NewTimer(s.opts.DriveTimeout)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case err := <-done:
		h.probing.Store(false)
		if err != nil {
			if absent {
				s.log.Debug("chunkstore: absent drive not there yet", "drive", d, "err", err)
			} else {
				s.log.Warn("chunkstore: offline drive still failing", "drive", d, "err", err)
			}
			return
		}
		h.errs.Store(0)
		s.drives[d].absent.Store(false)
		if h.down.CompareAndSwap(true, false) {
			s.log.Info("chunkstore: drive back online", "drive", d, "path", s.drives[d].root)
			if s.opts.OnDriveState != nil {
				s.opts.OnDriveState(d, true, nil)
			}
		}
	case <-expired:
		s.log.Warn("chunkstore: offline drive still hung", "drive", d)
		go func() {
			<-done
			h.probing.Store(false)
		}()
	case <-s.stop:
		go func() {
			<-done
			h.probing.Store(false)
		}()
	}
}

// admit decides whether absent drive d has arrived: its owner's Admit
// must recognise it before anything on it is touched, and it must have
// been prepared by an earlier Open (its shards folder and every fan-out
// folder exist). Nothing is created here: were the mount to vanish
// between the checks, creating folders would put them on the file system
// beneath, and heals after them. A drive with its identity but not
// prepared waits for the next Open.
func (s *Store) admit(d int) error {
	if s.opts.Admit == nil {
		return errAbsent
	}
	if err := s.opts.Admit(d); err != nil {
		return err
	}
	names, err := s.fs.List(s.drives[d].shardsDir)
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	for b := range 256 {
		if !have[fmt.Sprintf("%02x", b)] {
			return fmt.Errorf("chunkstore: drive %d carries its identity but was never prepared (no %s/%02x); it joins at the next Open", d, s.drives[d].shardsDir, b)
		}
	}
	return nil
}

// probeOnce writes, syncs, reads back and removes a small file in the
// drive's shards directory.
func (s *Store) probeOnce(d int) error {
	const want = "coffer drive probe"
	path := s.fs.PathJoin(s.drives[d].shardsDir, ".probe")
	f, err := s.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	_, werr := f.Write([]byte(want)) // a copy: a file may scribble on it
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = s.fs.Remove(path)
		return err
	}
	rf, err := s.fs.Open(path)
	if err != nil {
		return err
	}
	got := make([]byte, len(want))
	n, rerr := rf.ReadAt(got, 0)
	rf.Close()
	if err := s.fs.Remove(path); err != nil {
		return err
	}
	if n == len(want) && rerr == io.EOF {
		rerr = nil
	}
	if rerr != nil {
		return rerr
	}
	if string(got[:n]) != want {
		return corruptf("probe read back %q", got[:n])
	}
	return nil
}
