package chunkstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cofferdb/coffer/erasure"
)

// reader streams a byte range of one stream, stripe by stripe. With more
// than one stripe to read, a helper goroutine fetches, verifies and, when
// needed, reconstructs the next stripe while the caller consumes the
// current one.
type reader struct {
	s    *Store
	id   ID
	l    Layout
	ce   *codecEntry
	c    *erasure.Codec
	size int64
	off  int64 // first byte of the range
	end  int64 // one past the last byte of the range

	first, last int64 // stripes covering the range
	nextIdx     int64 // next stripe the caller will consume

	shards []shardReader // used by whoever fetches (helper or caller)

	// Parallel block reads under the drive deadline (readBlocks).
	results  chan blockResult // buffered: a late read never blocks
	gen      uint64           // fetch generation, to drop late results
	timer    *time.Timer
	timeouts []error // why an abandoned shard failed; reader-owned
	launch   []int   // scratch

	cur    *stripeBuf
	pos    int // next byte of cur.data to deliver; cur.hi is the end
	err    error
	closed bool

	// Prefetch (more than one stripe).
	async bool
	bufs  int
	ready chan *stripeBuf
	free  chan *stripeBuf
	stop  chan struct{}
	wg    sync.WaitGroup
}

// shardReader is one shard file opened lazily. Its fields belong to the
// goroutine reading a block of it; once the reader abandons a read that
// outlived the deadline (state abandoned) they belong to that read's
// goroutine for good, which closes the file when the read returns.
type shardReader struct {
	drive    int
	f        vfs.File
	dead     bool  // cannot be used for any stripe
	err      error // why the last block of this shard failed
	reported bool  // OnDamage already called
	state    atomic.Int32
	jobs     chan blockJob // to the shard's worker goroutine, once started
	sum      [erasure.ChecksumSize]byte
}

// blockJob asks a shard's worker to read its block of a stripe.
type blockJob struct {
	b       *stripeBuf
	sl      int
	fileOff int64
	gen     uint64
}

// shardReader states.
const (
	shardIdle int32 = iota
	shardBusy
	shardAbandoned
)

// blockResult is the outcome of one block read.
type blockResult struct {
	gen   uint64
	shard int
	ok    bool
}

// NewReader returns a reader of n bytes of stream id starting at off; size
// is the stream's size and l its layout, both as returned by Finish. n == -1
// reads to the end. The range must lie within the stream, else ErrRange.
//
// The reader reads only the stripes that cover the range and, in each, only
// the data shards that cover it, checking every block's checksum. A shard
// that is missing, short or corrupt is reported to Options.OnDamage (once per
// reader) and the stripe is rebuilt from parity. With more than m bad blocks
// in a stripe the reader returns an error wrapping ErrReadQuorum and the
// per-shard errors (*ShardError, ErrNotFound, ErrCorrupt); bytes it returned
// before are correct, and it never returns wrong bytes.
//
// The reader implements io.WriterTo, which writes straight from its stripe
// buffers, and ReadSpan (see crypto.SpanReader), which lends them. It must be closed; Close releases its buffers and files. It is not
// safe for concurrent use.
func (s *Store) NewReader(id ID, l Layout, size, off, n int64) (io.ReadCloser, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := l.validate(len(s.drives)); err != nil {
		return nil, err
	}
	if n == -1 && off >= 0 && off <= size {
		n = size - off
	}
	if size < 0 || off < 0 || n < 0 || off > size || n > size-off {
		return nil, fmt.Errorf("%w: offset %d length %d in a stream of %d bytes", ErrRange, off, n, size)
	}
	ce, err := s.codec(l.DataShards, l.ParityShards, l.BlockSize)
	if err != nil {
		return nil, err
	}
	r := &reader{s: s, id: id, l: l, ce: ce, c: ce.c, size: size, off: off, end: off + n}
	r.shards = make([]shardReader, len(l.Drives))
	for i, d := range l.Drives {
		r.shards[i].drive = d
	}
	r.results = make(chan blockResult, 2*len(l.Drives))
	r.timeouts = make([]error, len(l.Drives))
	r.launch = make([]int, 0, len(l.Drives))
	bs := int64(l.BlockSize)
	if n == 0 {
		r.first, r.last = 0, -1
	} else {
		r.first, r.last = off/bs, (off+n-1)/bs
	}
	r.nextIdx = r.first
	if r.last > r.first {
		r.async = true
		r.ready = make(chan *stripeBuf, 2)
		r.free = make(chan *stripeBuf, 2)
		r.stop = make(chan struct{})
		for r.bufs = 0; r.bufs < 2; r.bufs++ {
			r.free <- ce.bufs.get()
		}
		r.wg.Add(1)
		go r.prefetch()
	}
	return r, nil
}

// Read implements io.Reader.
func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	n := 0
	for n < len(p) {
		if r.cur == nil || r.pos == r.cur.hi {
			if r.err != nil {
				return n, r.err
			}
			if r.nextIdx > r.last {
				if n > 0 {
					return n, nil
				}
				return 0, io.EOF
			}
			if err := r.advance(); err != nil {
				return n, err
			}
		}
		c := copy(p[n:], r.cur.data[r.pos:r.cur.hi])
		r.pos += c
		n += c
	}
	return n, nil
}

// ReadSpan lends the next 1 to max bytes of the range straight from the
// stripe buffer (max > 0), or returns nil and an error: io.EOF at the end.
// The bytes stay valid until the next call of any method; the caller must
// not modify them. It implements crypto.SpanReader.
func (r *reader) ReadSpan(max int) ([]byte, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if max <= 0 {
		return nil, fmt.Errorf("chunkstore: ReadSpan(%d)", max)
	}
	if r.cur == nil || r.pos == r.cur.hi {
		if r.err != nil {
			return nil, r.err
		}
		if r.nextIdx > r.last {
			return nil, io.EOF
		}
		if err := r.advance(); err != nil {
			return nil, err
		}
	}
	end := min(r.cur.hi, r.pos+max)
	p := r.cur.data[r.pos:end:end]
	r.pos = end
	return p, nil
}

// WriteTo implements io.WriterTo: it writes the rest of the range to w
// straight from the stripe buffers.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	if r.closed {
		return 0, ErrClosed
	}
	var total int64
	for {
		if r.cur == nil || r.pos == r.cur.hi {
			if r.err != nil {
				return total, r.err
			}
			if r.nextIdx > r.last {
				return total, nil
			}
			if err := r.advance(); err != nil {
				return total, err
			}
		}
		p := r.cur.data[r.pos:r.cur.hi]
		m, err := w.Write(p)
		if m < 0 || m > len(p) {
			return total, fmt.Errorf("chunkstore: writer returned invalid count %d", m)
		}
		r.pos += m
		total += int64(m)
		if err != nil {
			return total, err
		}
		if m < len(p) {
			return total, io.ErrShortWrite
		}
	}
}

// advance makes r.cur the next stripe of the range.
func (r *reader) advance() error {
	var b *stripeBuf
	if r.async {
		if r.cur != nil {
			r.free <- r.cur
			r.cur = nil
		}
		b = <-r.ready
	} else {
		b = r.cur
		if b == nil {
			b = r.ce.bufs.get()
			r.bufs++
		}
		b = r.fetch(b, r.nextIdx)
	}
	r.cur = b
	r.nextIdx++
	if b.err != nil {
		r.err = b.err
		r.pos, b.hi = 0, 0
		return r.err
	}
	r.pos = b.lo
	return nil
}

// prefetch is the helper goroutine: it fetches every stripe of the range
// into a free buffer and hands it over, until done, stopped or failed.
func (r *reader) prefetch() {
	defer r.wg.Done()
	for s := r.first; s <= r.last; s++ {
		var b *stripeBuf
		select {
		case b = <-r.free:
		case <-r.stop:
			return
		}
		b = r.fetch(b, s)
		r.ready <- b // never blocks: only two buffers exist
		if b.err != nil {
			return
		}
	}
}

// Close stops the helper goroutine, returns the buffers to the pool and
// closes the shard files. Close is idempotent.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.async {
		close(r.stop)
		r.wg.Wait()
	}
	put := func(b *stripeBuf) {
		r.ce.bufs.put(b)
		r.bufs--
	}
	if r.cur != nil {
		put(r.cur)
		r.cur = nil
	}
	for r.bufs > 0 {
		select {
		case b := <-r.free:
			put(b)
		case b := <-r.ready:
			put(b)
		}
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	var errs []error
	for i := range r.shards {
		if r.shards[i].jobs != nil {
			close(r.shards[i].jobs)
		}
		if r.timeouts[i] != nil {
			continue // the abandoned read's goroutine closes it
		}
		if f := r.shards[i].f; f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
			r.shards[i].f = nil
		}
	}
	return errors.Join(errs...)
}

// fetch reads stripe idx into b: the data blocks covering the range, and
// when one of them is bad, enough other blocks to rebuild it. It sets b.lo,
// b.hi (the range within b.data) or b.err. It returns the buffer holding
// the stripe: b, or a replacement when a read outlived the drive deadline
// (b then belongs to that read; see readBlocks).
func (r *reader) fetch(b *stripeBuf, idx int64) *stripeBuf {
	k, m := r.l.DataShards, r.l.ParityShards
	n := r.c.StripeLen(r.size, idx)
	sl := r.c.ShardLen(n)
	bs := int64(r.l.BlockSize)
	lo, hi := 0, n
	if idx == r.first {
		lo = int(r.off - idx*bs)
	}
	if idx == r.last {
		hi = int(r.end - idx*bs)
	}
	b.n, b.index, b.err, b.lo, b.hi = n, uint64(idx), nil, lo, hi
	clear(b.good)
	clear(b.tried)
	fileOff := blockOffset(r.c.ShardBlockSize(), idx)

	firstShard, lastShard := lo/sl, (hi-1)/sl
	r.launch = r.launch[:0]
	for i := firstShard; i <= lastShard; i++ {
		r.launch = append(r.launch, i)
	}
	b = r.readBlocks(b, sl, fileOff)
	good := 0
	for _, g := range b.good {
		if g {
			good++
		}
	}
	if good == lastShard-firstShard+1 {
		return b
	}

	// Degraded: gather k good blocks, then rebuild the missing data blocks
	// of the range.
	for good < k {
		r.launch = r.launch[:0]
		for i := 0; i < k+m && good+len(r.launch) < k; i++ {
			if !b.tried[i] {
				r.launch = append(r.launch, i)
			}
		}
		if len(r.launch) == 0 {
			break
		}
		b = r.readBlocks(b, sl, fileOff)
		good = 0
		for _, g := range b.good {
			if g {
				good++
			}
		}
	}
	if good < k {
		var errs []error
		for i := range r.shards {
			switch {
			case r.timeouts[i] != nil:
				errs = append(errs, &ShardError{Drive: r.shards[i].drive, Shard: i, Err: r.timeouts[i]})
			case b.tried[i] && !b.good[i]:
				errs = append(errs, r.shards[i].err)
			}
		}
		b.err = fmt.Errorf("%w: stripe %d of stream %s has %d good shards, %d needed: %w",
			ErrReadQuorum, idx, r.id, good, k, errors.Join(errs...))
		return b
	}
	for i := 0; i < k+m; i++ {
		if b.good[i] {
			continue
		}
		if i < k {
			b.shards[i] = b.data[i*sl : i*sl : (i+1)*sl]
			b.required[i] = i >= firstShard && i <= lastShard
		} else {
			b.shards[i] = b.parity[i-k][:0]
		}
	}
	for i := 0; i < k; i++ {
		if b.good[i] {
			b.required[i] = false
		}
	}
	if err := r.c.Reconstruct(b.shards, b.required); err != nil {
		b.err = fmt.Errorf("%w: stripe %d of stream %s: %w", ErrReadQuorum, idx, r.id, err)
	}
	return b
}

// readBlocks reads the blocks r.launch of the stripe into b, each on its
// own goroutine, and waits for them until the drive deadline. A read that
// outlives it is abandoned: its shard is dead for the rest of the read, its
// drive is taken offline, and since the stuck read may still write into b,
// the stripe goes on in a fresh buffer holding b's good blocks, which
// readBlocks returns in b's place (b is then left to the garbage collector).
func (r *reader) readBlocks(b *stripeBuf, sl int, fileOff int64) *stripeBuf {
	r.gen++
	launched := 0
	for _, i := range r.launch {
		b.tried[i] = true
		if r.timeouts[i] != nil {
			continue
		}
		sr := &r.shards[i]
		if sr.jobs == nil {
			sr.jobs = make(chan blockJob, 1)
			go r.blockWorker(i, sr.jobs)
		}
		sr.state.Store(shardBusy)
		launched++
		sr.jobs <- blockJob{b: b, sl: sl, fileOff: fileOff, gen: r.gen}
	}
	var expired <-chan time.Time
	if d := r.s.opts.DriveTimeout; d > 0 && launched > 0 {
		if r.timer == nil {
			r.timer = time.NewTimer(d)
		} else {
			r.timer.Reset(d)
		}
		expired = r.timer.C
		defer r.timer.Stop()
	}
	for launched > 0 {
		select {
		case res := <-r.results:
			if res.gen == r.gen {
				launched--
			}
		case <-expired:
			for _, i := range r.launch {
				sr := &r.shards[i]
				if r.timeouts[i] == nil && sr.state.CompareAndSwap(shardBusy, shardAbandoned) {
					r.timeouts[i] = r.s.timedOut(sr.drive, "reading a block")
					launched--
				}
			}
			// The others returned and have sent, or are sending, their
			// results.
			for launched > 0 {
				if res := <-r.results; res.gen == r.gen {
					launched--
				}
			}
			return r.moveStripe(b, sl)
		}
	}
	return b
}

// blockWorker is shard i's goroutine: it reads the blocks readBlocks asks
// for and reports each, until the reader closes jobs or abandons a read
// that outlived the deadline; it then closes the shard's file itself.
func (r *reader) blockWorker(i int, jobs <-chan blockJob) {
	sr := &r.shards[i]
	for j := range jobs {
		ok := r.readBlock(j.b, i, j.sl, j.fileOff)
		if !sr.state.CompareAndSwap(shardBusy, shardIdle) {
			if sr.f != nil {
				sr.f.Close()
				sr.f = nil
			}
			return
		}
		r.results <- blockResult{gen: j.gen, shard: i, ok: ok}
	}
}

// moveStripe copies the good blocks of b, except those of abandoned
// reads, into a fresh buffer and returns it. b's slots of abandoned reads
// are never looked at: their goroutines may still write them.
func (r *reader) moveStripe(b *stripeBuf, sl int) *stripeBuf {
	nb := r.ce.bufs.get()
	nb.n, nb.index, nb.err, nb.lo, nb.hi = b.n, b.index, nil, b.lo, b.hi
	k := r.l.DataShards
	for i := range r.shards {
		gone := r.timeouts[i] != nil
		nb.tried[i] = gone || b.tried[i]
		nb.good[i] = !gone && b.good[i]
		if !nb.good[i] {
			continue
		}
		if i < k {
			copy(nb.data[i*sl:(i+1)*sl], b.data[i*sl:(i+1)*sl])
			nb.shards[i] = nb.data[i*sl : (i+1)*sl : (i+1)*sl]
		} else {
			p := nb.parity[i-k][:sl]
			copy(p, b.parity[i-k][:sl])
			nb.shards[i] = p[:sl:sl]
		}
	}
	return nb
}

// readBlock reads and verifies block i of the stripe at fileOff into its
// slot in b, and reports whether it is good.
func (r *reader) readBlock(b *stripeBuf, i, sl int, fileOff int64) bool {
	sr := &r.shards[i]
	if !sr.dead && !r.s.usable(sr.drive) {
		sr.dead = true
		sr.err = &ShardError{Drive: sr.drive, Shard: i, Err: ErrDriveOffline}
	}
	f, err := r.open(i)
	if err != nil {
		r.bad(i, err)
		return false
	}
	k := r.l.DataShards
	var buf []byte
	if i < k {
		buf = b.data[i*sl : (i+1)*sl+erasure.ChecksumSize]
	} else {
		buf = b.parity[i-k][:sl+erasure.ChecksumSize]
	}
	var sum uint32
	if i < k-1 {
		// The checksum would spill into the next block, which another
		// goroutine may be reading: read it separately.
		if err := readFull(f, buf[:sl], fileOff); err != nil {
			r.bad(i, err)
			return false
		}
		if err := readFull(f, sr.sum[:], fileOff+int64(sl)); err != nil {
			r.bad(i, err)
			return false
		}
		sum = binary.LittleEndian.Uint32(sr.sum[:])
	} else {
		if err := readFull(f, buf, fileOff); err != nil {
			r.bad(i, err)
			return false
		}
		sum = binary.LittleEndian.Uint32(buf[sl:])
	}
	if erasure.Checksum(r.id, i, b.index, buf[:sl]) != sum {
		r.bad(i, corruptf("block %d checksum mismatch", b.index))
		return false
	}
	b.shards[i] = buf[:sl:sl]
	b.good[i] = true
	r.s.ioResult(r.shards[i].drive, nil)
	return true
}

// readFull reads len(p) bytes at off; a short read is an error.
func readFull(f vfs.File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return corruptf("short read: %d of %d bytes at offset %d", n, len(p), off)
	}
	return err
}

// open returns the file of shard i, opening it and checking its header on
// first use. A shard that cannot be opened or has a wrong header is dead for
// the rest of the read.
func (r *reader) open(i int) (vfs.File, error) {
	sr := &r.shards[i]
	if sr.dead {
		return nil, errDead
	}
	if sr.f != nil {
		return sr.f, nil
	}
	path := r.s.shardPath(sr.drive, r.id, i)
	f, err := r.s.fs.Open(path)
	if err != nil {
		sr.dead = true
		if isNotExist(err) {
			return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
		}
		return nil, err
	}
	var hb [headerSize]byte
	if err := readFull(f, hb[:], 0); err != nil {
		f.Close()
		sr.dead = true
		return nil, err
	}
	h, err := parseHeader(hb[:])
	if err == nil && (h.id != r.id || h.shard != i || h.k != r.l.DataShards || h.m != r.l.ParityShards || h.blockSize != r.l.BlockSize) {
		err = corruptf("header names stream %s shard %d (%d+%d, block size %d)", h.id, h.shard, h.k, h.m, h.blockSize)
	}
	if err != nil {
		f.Close()
		sr.dead = true
		return nil, err
	}
	sr.f = f
	return f, nil
}

// errDead stands for the error that made a shard unusable; bad keeps the
// original one.
var errDead = errors.New("chunkstore: shard unusable")

// bad records why block i failed and reports the shard as damaged once.
func (r *reader) bad(i int, err error) {
	sr := &r.shards[i]
	if err == errDead {
		return // sr.err already holds the cause
	}
	r.s.ioResult(sr.drive, err)
	se := &ShardError{Drive: sr.drive, Shard: i, Err: err}
	sr.err = se
	if !sr.reported {
		sr.reported = true
		r.s.damage(r.id, i, sr.drive, se.Err)
	}
}
