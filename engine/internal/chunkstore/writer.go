package chunkstore

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cofferdb/coffer/erasure"
)

type writerState uint8

const (
	writerOpen writerState = iota
	writerDone             // finished or aborted
)

// Writer writes one stream's shards as the stream arrives. Create one with
// Store.Create, write the stream with Write or ReadFrom, then call Finish to
// make it durable, or Abort to throw it away. Either Finish or Abort must be
// called, or helper goroutines and buffers leak; after an error from Write or
// ReadFrom (the source's or the drives'), call Abort, not Finish, since the
// stream is incomplete. A Writer is not safe for concurrent use.
//
// Write and ReadFrom only copy into a stripe buffer; full stripes go to a
// helper goroutine that encodes them and to one goroutine per shard that
// checksums and writes its block, while the caller fills the next stripe.
type Writer struct {
	s      *Store
	id     ID
	ce     *codecEntry
	c      *erasure.Codec
	layout Layout
	quorum int // shards that must succeed

	files []*shardWriter

	// Caller side.
	state   writerState
	cur     *stripeBuf
	fill    int
	size    int64
	stripes uint64
	bufs    int // stripe buffers taken from the pool
	started bool

	// Pipeline.
	work    chan *stripeBuf // caller -> encoder
	free    chan *stripeBuf // last shard writer -> caller
	encDone chan struct{}   // closed when the encoder returns
	exited  chan int        // a shard goroutine's index when it returns
	failed  atomic.Int32    // shards that failed so far
	aborted atomic.Bool

	// Caller side: shards given up on after an operation outlived the
	// drive deadline (detach), and the stripe buffers they kept.
	detached []error
	lost     int
	tick     *time.Ticker

	// Set by Finish before closing work; read by shard writers after.
	finishing bool

	mu   sync.Mutex
	errs []error // *ShardError of failed shards
}

// shardWriter writes one shard file. Its fields belong to its goroutine
// until it has sent its index on Writer.exited, except the atomics, gone,
// mu and, once the caller detached it, cur (read by the caller).
type shardWriter struct {
	w            *Writer
	shard, drive int
	path         string
	f            vfs.File
	ch           chan *stripeBuf
	created      bool
	failed       bool
	err          error
	written      int64
	syncedTo     int64
	sum          [erasure.ChecksumSize]byte
	hdr          [headerSize]byte
	// busySince is when the file operation in progress began (unix
	// nanoseconds), 0 between operations, or detached: the caller gave up
	// on the operation, and the goroutine then touches no stripe again,
	// removes its file and returns. The caller and the store's watchdog
	// read it (health.go).
	busySince atomic.Int64
	opStart   int64         // the goroutine's copy of the value it stored
	cur       *stripeBuf    // the stripe of the operation in progress, or nil
	gone      chan struct{} // closed when detached
	mu        sync.Mutex    // held by the encoder while it hands this shard a stripe
	counted   atomic.Bool   // its failure was counted
	footer    []byte        // made by Finish before the goroutine finishes the file
	rmErr     error         // the goroutine's discard error, for Abort
}

// detached is shardWriter.busySince of a shard the caller gave up on.
const detached = -1

// Create starts writing a new stream with the store's layout and returns its
// Writer. It places the shards on drives (see the package documentation)
// but creates no file until the first stripe is handed off or Finish is
// called, so Create itself does no I/O.
func (s *Store) Create(id ID) (*Writer, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	k, m, bs := s.opts.DataShards, s.opts.ParityShards, s.opts.BlockSize
	ce, err := s.codec(k, m, bs)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		s:      s,
		id:     id,
		ce:     ce,
		c:      ce.c,
		layout: Layout{DataShards: k, ParityShards: m, BlockSize: bs, Drives: s.place(id, k, m)},
		quorum: k, // any k shards rebuild the stream; with m == 0 that is all of them
	}
	w.files = make([]*shardWriter, k+m)
	for i, d := range w.layout.Drives {
		w.files[i] = &shardWriter{w: w, shard: i, drive: d, path: s.shardPath(d, id, i)}
	}
	return w, nil
}

// Write copies p into the stream. It blocks only when both stripe buffers
// are in flight. It returns an error wrapping ErrWriteQuorum as soon as too
// many shards have failed for Finish to succeed, and ErrClosed after Finish
// or Abort.
func (w *Writer) Write(p []byte) (int, error) {
	if w.state != writerOpen {
		return 0, ErrClosed
	}
	if err := w.quorumErr(); err != nil {
		return 0, err
	}
	bs := w.c.BlockSize()
	done := 0
	for len(p) > 0 {
		if w.cur == nil {
			w.acquire()
		}
		n := copy(w.cur.data[w.fill:bs], p)
		w.fill += n
		w.size += int64(n)
		done += n
		p = p[n:]
		if w.fill == bs {
			w.flush()
			if err := w.quorumErr(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// ReadFrom reads r to EOF straight into the stripe buffers, saving the copy
// Write makes. It returns the number of bytes read; errors are r's own or
// as for Write.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.state != writerOpen {
		return 0, ErrClosed
	}
	if err := w.quorumErr(); err != nil {
		return 0, err
	}
	bs := w.c.BlockSize()
	var total int64
	for {
		if w.cur == nil {
			w.acquire()
		}
		n, err := r.Read(w.cur.data[w.fill:bs])
		if n < 0 || n > bs-w.fill {
			return total, fmt.Errorf("chunkstore: reader returned invalid count %d", n)
		}
		w.fill += n
		w.size += int64(n)
		total += int64(n)
		if w.fill == bs {
			w.flush()
			if qerr := w.quorumErr(); qerr != nil {
				return total, qerr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// acquire makes w.cur an empty stripe buffer: a fresh one from the pool for
// the first two, afterwards the next one the shard writers release.
func (w *Writer) acquire() {
	for {
		if w.bufs-w.lost < 2 {
			w.bufs++
			w.cur = w.ce.bufs.get()
			return
		}
		select {
		case w.cur = <-w.free:
			return
		case <-w.tickC():
			w.detachStuck()
		}
	}
}

// removeAll removes the files of every shard not detached, each on its own
// goroutine under the drive deadline, after a write that lost its quorum.
// A removal stuck beyond the deadline is detached and finishes (or not) in
// the background; orphans left behind are collected at the next open.
func (w *Writer) removeAll() {
	done := make(chan int, len(w.files))
	n := 0
	for i, sw := range w.files {
		if w.detached[i] != nil {
			continue
		}
		n++
		go func() {
			sw.begin(nil)
			sw.discard()
			sw.end()
			done <- i
		}()
	}
	if d := w.s.opts.DriveTimeout; d > 0 {
		w.tick = time.NewTicker(max(d/4, time.Millisecond))
		defer w.tick.Stop()
	}
	for n > 0 {
		select {
		case i := <-done:
			if w.detached[i] == nil {
				n--
			}
		case <-w.tickC():
			was := w.detachedCount()
			w.detachStuck()
			n -= w.detachedCount() - was // their removals are not waited for
		}
	}
}

func (w *Writer) detachedCount() int {
	n := 0
	for _, e := range w.detached {
		if e != nil {
			n++
		}
	}
	return n
}

// tickC returns the channel of the deadline ticker (nil, which blocks,
// without a deadline or before start).
func (w *Writer) tickC() <-chan time.Time {
	if w.tick == nil {
		return nil
	}
	return w.tick.C
}

// detachStuck gives up on every shard whose current operation has run
// longer than the drive deadline: its drive is taken offline, the shard
// counts as failed, the stripes queued for it are released, and the stripe
// it is writing is left to it (lost to the pool). Caller side only.
func (w *Writer) detachStuck() {
	limit := time.Now().Add(-w.s.opts.DriveTimeout).UnixNano()
	for i, sw := range w.files {
		// The compare-and-swap on the exact start time gives up on this
		// operation only, never on one that began since.
		t := sw.busySince.Load()
		if w.detached[i] != nil || t <= 0 || t >= limit || !sw.busySince.CompareAndSwap(t, detached) {
			continue
		}
		err := w.s.timedOut(sw.drive, "writing a shard file")
		w.detached[i] = err
		if b := sw.cur; b != nil && !b.lost {
			// Two shards stuck on one stripe lose one buffer.
			b.lost = true
			w.lost++
		}
		close(sw.gone)
		sw.mu.Lock() // the encoder is out of its hand-off to sw
		for drained := false; !drained; {
			select {
			case b, ok := <-sw.ch:
				if ok {
					w.release(b)
				} else {
					drained = true // the encoder is done
				}
			default:
				drained = true
			}
		}
		sw.mu.Unlock()
		sw.countFailure(&ShardError{Drive: sw.drive, Shard: sw.shard, Err: err})
	}
}

// countFailure records the shard's failure once, whoever sees it first:
// its goroutine (fail) or the caller (detachStuck).
func (sw *shardWriter) countFailure(se *ShardError) {
	if !sw.counted.CompareAndSwap(false, true) {
		return
	}
	w := sw.w
	w.mu.Lock()
	w.errs = append(w.errs, se)
	w.mu.Unlock()
	w.failed.Add(1)
}

// release drops one shard's hold on stripe b; the last returns it to the
// caller.
func (w *Writer) release(b *stripeBuf) {
	if b.pending.Add(-1) == 0 {
		w.free <- b // never blocks: free has room for every live buffer
	}
}

// flush hands the current stripe to the encoder.
func (w *Writer) flush() {
	w.start()
	b := w.cur
	b.n = w.fill
	b.index = w.stripes
	b.err = nil
	w.stripes++
	w.cur, w.fill = nil, 0
	for {
		select {
		case w.work <- b:
			return
		case <-w.tickC():
			w.detachStuck()
		}
	}
}

// start launches the encoder and shard writer goroutines once.
func (w *Writer) start() {
	if w.started {
		return
	}
	w.started = true
	w.s.watch(w, true)
	w.work = make(chan *stripeBuf, 2)
	// Two buffers circulate (more only to replace lost ones), so two
	// slots would do; the spare ones make sure a release never blocks.
	w.free = make(chan *stripeBuf, 2+len(w.files))
	w.encDone = make(chan struct{})
	w.exited = make(chan int, len(w.files))
	w.detached = make([]error, len(w.files))
	if d := w.s.opts.DriveTimeout; d > 0 {
		w.tick = time.NewTicker(max(d/4, time.Millisecond))
	}
	for _, sw := range w.files {
		sw.ch = make(chan *stripeBuf, 2)
		sw.gone = make(chan struct{})
		go sw.run()
	}
	go w.encodeLoop()
}

// wait waits for the encoder and every shard goroutine not detached to
// return, detaching those stuck beyond the drive deadline meanwhile.
func (w *Writer) wait() {
	if !w.started {
		return
	}
	live := make([]bool, len(w.files))
	for i := range live {
		live[i] = true
	}
	enc := w.encDone
	for {
		left := 0
		for i := range live {
			if live[i] && w.detached[i] == nil {
				left++
			}
		}
		if enc == nil && left == 0 {
			break
		}
		select {
		case <-enc:
			enc = nil // a nil channel never fires again
		case i := <-w.exited:
			live[i] = false
		case <-w.tickC():
			w.detachStuck()
		}
	}
	if w.tick != nil {
		w.tick.Stop()
	}
}

// encodeLoop encodes each stripe and hands it to every shard writer.
func (w *Writer) encodeLoop() {
	defer close(w.encDone)
	for b := range w.work {
		if !w.aborted.Load() {
			copy(b.shards[w.c.DataShards():], b.parity) // full-capacity parity buffers
			b.err = w.c.Encode(b.data[:b.n], b.shards)
		}
		b.pending.Store(int32(len(w.files)))
		for _, sw := range w.files {
			sw.handOff(b)
		}
	}
	for _, sw := range w.files {
		close(sw.ch)
	}
}

// handOff gives stripe b to the shard, or drops the shard's hold on it if
// the shard was detached (before or while waiting).
func (sw *shardWriter) handOff(b *stripeBuf) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	select {
	case <-sw.gone:
		sw.w.release(b)
		return
	default:
	}
	select {
	case sw.ch <- b:
	case <-sw.gone:
		sw.w.release(b)
	}
}

// quorumErr reports whether too many shards failed for the write to succeed.
func (w *Writer) quorumErr() error {
	if w.s.opts.Refuse != nil && w.s.opts.Refuse() {
		return ErrNoSpace
	}
	failed := int(w.failed.Load())
	if failed <= len(w.files)-w.quorum {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Errorf("%w: %d of %d shards failed, %d needed: %w",
		ErrWriteQuorum, failed, len(w.files), w.quorum, errors.Join(w.errs...))
}

// Finish writes the last partial stripe and trailer (opaque bytes, at most
// MaxTrailerSize, stored in every shard file's footer), syncs every shard
// file and its directory (unless NoSync), closes them, and returns the final
// layout and the stream size. The trailer is read during the call only.
//
// Finish succeeds if at least k shards were written and synced; shards whose
// drive failed are dropped (their files removed best-effort), logged and
// reported to Options.OnDamage, and the layout still names their drives so
// reads reconstruct them. With fewer, Finish removes every file and returns
// an error wrapping ErrWriteQuorum and the per-shard errors. A trailer that
// is too large gives ErrTrailerTooLarge and leaves the Writer open. After
// Finish returns (with or without error, except ErrTrailerTooLarge) the
// Writer is done; a later Abort is a no-op.
func (w *Writer) Finish(trailer []byte) (Layout, int64, error) {
	if w.state != writerOpen {
		return Layout{}, 0, ErrClosed
	}
	if len(trailer) > MaxTrailerSize {
		return Layout{}, 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTrailerTooLarge, len(trailer), MaxTrailerSize)
	}
	if err := w.quorumErr(); err != nil {
		w.abort()
		return Layout{}, 0, err
	}
	if w.fill > 0 {
		w.flush()
	}
	w.start()
	w.finishing = true
	// The footers are made here, so a detached shard goroutine that finishes
	// late never reads the caller's trailer after Finish returned.
	for _, sw := range w.files {
		sw.footer = appendFooter(make([]byte, 0, len(trailer)+maxLayoutLen+tailSize), w.id, sw.shard, trailer, w.layout, w.size)
	}
	close(w.work)
	w.wait()
	w.done()

	// A detached shard's fields belong to its goroutine still.
	var dropped []int
	for i, sw := range w.files {
		if w.detached[i] != nil || sw.failed {
			dropped = append(dropped, i)
		}
	}
	if len(w.files)-len(dropped) < w.quorum {
		w.removeAll()
		w.mu.Lock()
		defer w.mu.Unlock()
		return Layout{}, 0, fmt.Errorf("%w: %d of %d shards written, %d needed: %w",
			ErrWriteQuorum, len(w.files)-len(dropped), len(w.files), w.quorum, errors.Join(w.errs...))
	}
	for _, i := range dropped {
		sw := w.files[i]
		err := w.detached[i]
		if err == nil {
			err = sw.err
		}
		w.s.damage(w.id, sw.shard, sw.drive, err)
	}
	return w.layout, w.size, nil
}

// Abort stops the write and removes every shard file created so far. It is
// safe after a failed Write, and a no-op after Finish or a previous Abort,
// so it may be deferred. It returns the errors of removals that failed.
func (w *Writer) Abort() error {
	if w.state != writerOpen {
		return nil
	}
	return w.abort()
}

func (w *Writer) abort() error {
	w.aborted.Store(true)
	if w.started {
		close(w.work)
		w.wait()
	}
	w.done()
	// The shard goroutines removed their files, under the deadline; a
	// writer never started created none.
	var errs []error
	for i, sw := range w.files {
		if w.started && w.detached[i] == nil && sw.rmErr != nil {
			errs = append(errs, sw.rmErr)
		}
	}
	return errors.Join(errs...)
}

// done marks the writer finished and returns its stripe buffers to the
// pool. The pipeline must have stopped.
func (w *Writer) done() {
	w.state = writerDone
	if w.started {
		w.s.watch(w, false)
	}
	if w.cur != nil {
		w.bufs--
		w.ce.bufs.put(w.cur)
		w.cur = nil
	}
	for ; w.bufs > w.lost; w.bufs-- {
		w.ce.bufs.put(<-w.free)
	}
	w.bufs = 0 // the lost ones stay with their stuck shards
}

// run is the goroutine of one shard: create the file, write every stripe's
// block, then finish (footer, sync, close, directory sync) or discard.
func (sw *shardWriter) run() {
	w := sw.w
	defer func() { w.exited <- sw.shard }()
	if !w.aborted.Load() {
		if !w.s.usable(sw.drive) {
			sw.fail(ErrDriveOffline)
		} else {
			sw.begin(nil)
			sw.open()
			if !sw.end() {
				sw.discardDetached()
				return
			}
		}
	}
	for b := range sw.ch {
		if !sw.failed && !w.aborted.Load() {
			if b.err != nil {
				sw.fail(b.err)
			} else {
				sw.begin(b)
				sw.writeBlock(b)
				if !sw.end() {
					sw.discardDetached() // b and the stripes after it are the caller's
					return
				}
			}
		}
		w.release(b)
	}
	if w.aborted.Load() || !w.finishing {
		sw.begin(nil)
		sw.rmErr = sw.discard()
		if !sw.end() {
			sw.rmErr = nil // detached meanwhile: the caller no longer waits
		}
		return
	}
	if !sw.failed {
		sw.begin(nil)
		sw.finish()
		if !sw.end() {
			sw.discardDetached()
		}
	}
}

// discardDetached cleans up after the caller gave up on this shard: it
// closes the file and removes it, unless a heal replaced it meanwhile with
// a complete shard (one whose footer verifies), which it leaves alone.
func (sw *shardWriter) discardDetached() {
	if sw.f != nil {
		_ = sw.f.Close()
		sw.f = nil
	}
	if !sw.created {
		return
	}
	sw.created = false
	s := sw.w.s
	unlock := s.lockHeal(sw.w.id)
	defer unlock()
	if _, err := s.readFooter(sw.drive, sw.w.id, sw.shard); err == nil {
		return // a whole shard: healed, or ours finished after all
	}
	_ = s.fs.Remove(sw.path)
}

// begin marks the start of a file operation on stripe b (nil for none).
func (sw *shardWriter) begin(b *stripeBuf) {
	sw.cur = b
	sw.opStart = max(time.Now().UnixNano(), sw.opStart+1) // unique per operation
	sw.busySince.Store(sw.opStart)
}

// end marks the end of the operation; false means the caller detached the
// shard meanwhile, and the goroutine must stop touching stripes.
func (sw *shardWriter) end() bool {
	return sw.busySince.CompareAndSwap(sw.opStart, 0)
}

func (sw *shardWriter) open() {
	w := sw.w
	f, err := w.s.fs.Create(sw.path, vfs.WriteCategoryUnspecified)
	if err != nil {
		sw.fail(err)
		return
	}
	sw.f, sw.created = f, true
	h := header{k: w.layout.DataShards, m: w.layout.ParityShards, shard: sw.shard, blockSize: w.layout.BlockSize, id: w.id}
	h.encode(&sw.hdr)
	if _, err := f.Write(sw.hdr[:]); err != nil {
		sw.fail(err)
		return
	}
	sw.written = headerSize
}

func (sw *shardWriter) writeBlock(b *stripeBuf) {
	block := b.shards[sw.shard]
	sum := erasure.Checksum(sw.w.id, sw.shard, b.index, block)
	sw.sum = [erasure.ChecksumSize]byte{byte(sum), byte(sum >> 8), byte(sum >> 16), byte(sum >> 24)}
	if _, err := sw.f.Write(block); err != nil {
		sw.fail(err)
		return
	}
	if _, err := sw.f.Write(sw.sum[:]); err != nil {
		sw.fail(err)
		return
	}
	sw.written += int64(len(block) + erasure.ChecksumSize)
	if bps := sw.w.s.opts.BytesPerSync; !sw.w.s.opts.NoSync && bps > 0 && sw.written-sw.syncedTo >= int64(bps) {
		if _, err := sw.f.SyncTo(sw.written); err != nil {
			sw.fail(err)
			return
		}
		sw.syncedTo = sw.written
	}
}

func (sw *shardWriter) finish() {
	w := sw.w
	if _, err := sw.f.Write(sw.footer); err != nil {
		sw.fail(err)
		return
	}
	if !w.s.opts.NoSync {
		if err := sw.f.Sync(); err != nil {
			sw.fail(err)
			return
		}
	}
	err := sw.f.Close()
	sw.f = nil
	if err != nil {
		sw.fail(err)
		return
	}
	if !w.s.opts.NoSync {
		if err := w.s.syncDir(w.s.fanoutDir(sw.drive, w.id)); err != nil {
			sw.fail(err)
		}
	}
}

// fail drops the shard: it records err, closes and removes the file
// best-effort, and counts the failure.
func (sw *shardWriter) fail(err error) {
	w := sw.w
	w.s.ioResult(sw.drive, err)
	se := &ShardError{Drive: sw.drive, Shard: sw.shard, Err: err}
	sw.failed, sw.err = true, se
	w.s.log.Warn("chunkstore: dropping shard", "id", w.id.String(), "shard", sw.shard, "drive", sw.drive, "err", err)
	sw.discard()
	sw.countFailure(se)
}

// discard closes and removes the shard file if it exists. Idempotent.
func (sw *shardWriter) discard() error {
	if sw.f != nil {
		_ = sw.f.Close()
		sw.f = nil
	}
	if !sw.created {
		return nil
	}
	sw.created = false
	if err := sw.w.s.fs.Remove(sw.path); err != nil && !isNotExist(err) {
		return &ShardError{Drive: sw.drive, Shard: sw.shard, Err: err}
	}
	return nil
}
