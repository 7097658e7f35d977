package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the outcome of one run. It holds no credentials and no SSE-C
// key.
type Result struct {
	Scenario    Scenario   `json:"scenario"`
	Size        int64      `json:"size"`
	Concurrency int        `json:"concurrency"`
	SSE         SSE        `json:"sse"`
	Client      ClientKind `json:"client"`
	Endpoint    string     `json:"endpoint"`
	Bucket      string     `json:"bucket"`
	Seed        uint64     `json:"seed"`
	Objects     int        `json:"prepared_objects,omitempty"`

	// Elapsed is the measured phase, from its start to the end of its last
	// operation, in seconds.
	Elapsed float64 `json:"elapsed_s"`
	// Ops counts operations (requests; a LIST of several pages is one op);
	// Keys counts objects written, read, listed or deleted by successful
	// ops; Bytes the object bytes moved by successful ops.
	Ops        int64 `json:"ops"`
	Keys       int64 `json:"objects"`
	Bytes      int64 `json:"bytes"`
	Errors     int64 `json:"errors"`
	Mismatches int64 `json:"mismatches"` // content errors, included in Errors
	// Unsupported is set (and nothing was measured) when the server
	// answered NotImplemented while preparing or for every op; it holds
	// the server's answer.
	Unsupported  string   `json:"unsupported,omitempty"`
	ErrorSamples []string `json:"error_samples,omitempty"`

	MBps          float64 `json:"mb_per_s"` // 10^6 bytes per second
	ObjectsPerSec float64 `json:"objects_per_s"`
	OpsPerSec     float64 `json:"ops_per_s"`
	Latency       Latency `json:"latency"`
	// TTFB is the time to the first body byte for GETs and to the response
	// headers for every other request.
	TTFB      Latency  `json:"ttfb"`
	Timeline  []Point  `json:"timeline,omitempty"`
	Histogram []Bucket `json:"latency_histogram,omitempty"`

	// ServerRSS and ServerPeakRSS are the resident memory of
	// Options.ServerPID (bytes) when the measured phase began and the
	// largest sampled during it; zero without a ServerPID.
	ServerRSS     int64 `json:"server_rss_bytes,omitempty"`
	ServerPeakRSS int64 `json:"server_peak_rss_bytes,omitempty"`
}

// Metric is the figure a comparison divides: MB/s for scenarios that move
// bytes, objects/s otherwise.
func (r *Result) Metric() (float64, string) {
	if r.Bytes > 0 && (r.Scenario == Put || r.Scenario == Get || r.Scenario == Mixed) {
		return r.MBps, "MB/s"
	}
	return r.ObjectsPerSec, "objects/s"
}

// run is the state of one Run.
type run struct {
	o       Options
	c       s3Client
	pat     *pattern
	start   time.Time
	soft    time.Time // no op starts after this
	issued  atomic.Int64
	written atomic.Int64 // PUT keys issued (for cleanup)
	ops     atomic.Int64
	bytes   atomic.Int64
	errs    atomic.Int64
	mism    atomic.Int64
	notImpl atomic.Int64
	stop    atomic.Bool

	mu      sync.Mutex
	samples []string
	unsupp  string
}

// Run executes one scenario against the endpoint in opts: it prepares the
// objects the scenario needs (not measured), runs the measured phase until
// Duration or Count is reached, deletes what it wrote (unless Keep), and
// returns the figures. Errors of individual operations are counted in the
// Result; Run returns an error only for invalid options, a bucket it
// cannot create, or ctx ending. A server that answers NotImplemented (an
// SSE mode it lacks, say) yields a Result with Unsupported set and a nil
// error. Run is safe to call from several goroutines with separate Options.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano()) | 1
	}
	if o.Prefix == "" {
		o.Prefix = fmt.Sprintf("coffer-load/%d-%d/", o.Seed, time.Now().UnixNano())
	}
	ssecKey := o.SSECKey
	if o.SSE == SSEC && ssecKey == nil {
		var s [8]byte
		binary.LittleEndian.PutUint64(s[:], o.Seed)
		k := sha256.Sum256(append([]byte("coffer-load sse-c key "), s[:]...))
		ssecKey = k[:]
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = newHTTPClient(o.Concurrency)
		defer hc.CloseIdleConnections()
	}
	r := &run{o: o, pat: newPattern(o.Seed)}
	if o.Client == ClientSDK {
		r.c = newSDKClient(&o, hc, ssecKey)
	} else {
		c, err := newRawClient(&o, hc, newSSEHeaders(&o, ssecKey))
		if err != nil {
			return nil, err
		}
		r.c = c
	}
	res := &Result{
		Scenario: o.Scenario, Size: o.Size, Concurrency: o.Concurrency, SSE: o.SSE, Client: o.Client,
		Endpoint: o.Endpoint, Bucket: o.Bucket, Seed: o.Seed,
	}
	if o.CreateBucket {
		if err := r.withTimeout(ctx, r.c.createBucket); err != nil {
			return nil, err
		}
	}
	if o.Scenario != Put {
		res.Objects = o.Objects
		if err := r.prepare(ctx); err != nil {
			if errors.Is(err, ErrNotImplemented) {
				res.Unsupported = err.Error()
				r.cleanup(ctx)
				return res, nil
			}
			r.cleanup(ctx)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("loadgen: preparing objects: %w", err)
		}
	}
	var rss *rssSampler
	if o.ServerPID > 0 {
		rss = startRSS(o.ServerPID)
	}
	recs := r.measure(ctx)
	if rss != nil {
		first, peak, err := rss.finish()
		if err != nil {
			return nil, fmt.Errorf("loadgen: sampling the server's memory: %w", err)
		}
		res.ServerRSS, res.ServerPeakRSS = first, peak
	}
	r.cleanup(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.fill(res, recs)
	return res, nil
}

func (r *run) withTimeout(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.RequestTimeout)
	defer cancel()
	return f(ctx)
}

func (r *run) key(i int64) string {
	return r.o.Prefix + "obj/" + strconv.FormatInt(i, 10)
}

// prepare writes Objects objects with Concurrency workers; it stops at
// the first error.
func (r *run) prepare(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.written.Store(int64(r.o.Objects))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range r.o.Concurrency {
		wg.Go(func() {
			var b body
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(r.o.Objects) {
					return
				}
				k := r.key(i)
				b.reset(r.pat, k, r.o.Size)
				if err := r.withTimeout(ctx, func(ctx context.Context) error { return r.c.put(ctx, k, &b) }); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}

// worker is one client of the measured phase.
type worker struct {
	r   *run
	rng *rand.Rand
	b   body
	v   verifier
	buf []byte
	rec recorder
}

// measure runs the measured phase and returns the workers' recorders.
func (r *run) measure(ctx context.Context) []*recorder {
	workers := make([]*worker, r.o.Concurrency)
	per := int(min(r.o.Count/int64(r.o.Concurrency)+1, 1<<16))
	for i := range workers {
		workers[i] = &worker{
			r:   r,
			rng: rand.New(rand.NewPCG(r.o.Seed, uint64(i))),
			buf: make([]byte, 256<<10),
			rec: recorder{lat: make([]time.Duration, 0, per), ttfb: make([]time.Duration, 0, per)},
		}
	}
	if r.o.Scenario == Put {
		r.written.Store(0)
	}
	stopProgress := r.progress()
	r.start = time.Now()
	r.soft = r.start.Add(r.o.Duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	stopProgress()
	recs := make([]*recorder, len(workers))
	for i, w := range workers {
		recs[i] = &w.rec
	}
	return recs
}

// progress prints a line per second to Progress until the returned
// function is called.
func (r *run) progress() func() {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastOps, lastBytes int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ops, b := r.ops.Load(), r.bytes.Load()
				fmt.Fprintf(r.o.Progress, "%-6s %7s c=%-3d t=%3.0fs  %9.1f MB/s  %8.0f ops/s  errors %d\n",
					r.o.Scenario, FormatSize(r.o.Size), r.o.Concurrency, time.Since(r.start).Seconds(),
					float64(b-lastBytes)/1e6, float64(ops-lastOps), r.errs.Load())
				lastOps, lastBytes = ops, b
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// limit is the number of ops the measured phase may issue.
func (r *run) limit() int64 {
	if r.o.Scenario == Delete {
		return min(r.o.Count, int64(r.o.Objects))
	}
	return r.o.Count
}

func (w *worker) loop(ctx context.Context) {
	r := w.r
	limit := r.limit()
	for ctx.Err() == nil && !r.stop.Load() && time.Now().Before(r.soft) {
		n := r.issued.Add(1) - 1
		if n >= limit {
			return
		}
		start := time.Now()
		moved, keys, ttfb, err := w.op(ctx, n) // ttfb is relative to start
		end := time.Now()
		r.ops.Add(1)
		if err != nil {
			w.fail(err)
			continue
		}
		r.bytes.Add(moved)
		w.rec.add(end.Sub(r.start), end.Sub(start), ttfb, moved, keys)
	}
}

// fail counts a failed op and keeps a few samples.
func (w *worker) fail(err error) {
	r := w.r
	n := r.errs.Add(1)
	if errors.Is(err, ErrMismatch) || errors.Is(err, ErrListMismatch) {
		r.mism.Add(1)
	}
	if errors.Is(err, ErrNotImplemented) {
		if r.notImpl.Add(1) == 1 {
			r.mu.Lock()
			r.unsupp = err.Error()
			r.mu.Unlock()
		}
		r.stop.Store(true) // the mode is not there; measuring errors is pointless
	}
	r.mu.Lock()
	if len(r.samples) < 5 {
		r.samples = append(r.samples, err.Error())
	}
	r.mu.Unlock()
	if n >= r.o.MaxErrors {
		r.stop.Store(true)
	}
}

// op performs operation n and returns the object bytes moved, the objects
// touched, and the time to first byte (relative to its start).
func (w *worker) op(ctx context.Context, n int64) (int64, int64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.r.o.RequestTimeout)
	defer cancel()
	r := w.r
	switch r.o.Scenario {
	case Put:
		r.written.Add(1)
		return w.put(ctx, r.key(n))
	case Get:
		return w.get(ctx, r.key(w.rng.Int64N(int64(r.o.Objects))))
	case Mixed:
		k := r.key(w.rng.Int64N(int64(r.o.Objects)))
		if w.rng.IntN(10) < 7 {
			return w.get(ctx, k)
		}
		return w.put(ctx, k)
	case List:
		return w.list(ctx)
	case Delete:
		start := time.Now()
		err := r.c.del(ctx, r.key(n))
		return 0, 1, time.Since(start), err
	}
	return 0, 0, 0, fmt.Errorf("loadgen: scenario %q", r.o.Scenario)
}

func (w *worker) put(ctx context.Context, k string) (int64, int64, time.Duration, error) {
	start := time.Now()
	w.b.reset(w.r.pat, k, w.r.o.Size)
	if err := w.r.c.put(ctx, k, &w.b); err != nil {
		return 0, 0, 0, err
	}
	return w.r.o.Size, 1, time.Since(start), nil
}

// get reads k and checks every byte and the length.
func (w *worker) get(ctx context.Context, k string) (int64, int64, time.Duration, error) {
	start := time.Now()
	rc, clen, err := w.r.c.get(ctx, k)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rc.Close()
	w.v.reset(w.r.pat, k)
	var ttfb time.Duration
	for {
		n, err := rc.Read(w.buf)
		if n > 0 {
			if ttfb == 0 {
				ttfb = time.Since(start)
			}
			w.v.check(w.buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, 0, &RequestError{Op: "GET", Key: k, Err: err}
		}
	}
	if ttfb == 0 {
		ttfb = time.Since(start)
	}
	got := w.v.off
	switch {
	case w.v.bad >= 0:
		return 0, 0, 0, &MismatchError{Key: k, Offset: w.v.bad}
	case got != w.r.o.Size || (clen >= 0 && clen != got):
		return 0, 0, 0, &MismatchError{Key: k, Offset: got, Length: true}
	}
	return got, 1, ttfb, nil
}

// list lists every page under the run's prefix and checks the key count.
func (w *worker) list(ctx context.Context) (int64, int64, time.Duration, error) {
	start := time.Now()
	var ttfb time.Duration
	var total int64
	token := ""
	for page := 0; ; page++ {
		if page > w.r.o.Objects/DefaultListPage+2 {
			return 0, 0, 0, fmt.Errorf("%w: more pages than objects", ErrListMismatch)
		}
		n, next, err := w.r.c.list(ctx, w.r.o.Prefix+"obj/", token)
		if err != nil {
			return 0, 0, 0, err
		}
		if ttfb == 0 {
			ttfb = time.Since(start)
		}
		total += int64(n)
		if next == "" {
			break
		}
		token = next
	}
	if total != int64(w.r.o.Objects) {
		return 0, 0, 0, fmt.Errorf("%w: listed %d keys, wrote %d", ErrListMismatch, total, w.r.o.Objects)
	}
	return 0, total, ttfb, nil
}

// cleanup deletes every key the run may have written, unless Keep. It is
// not measured and ignores errors.
func (r *run) cleanup(ctx context.Context) {
	if r.o.Keep {
		return
	}
	total := r.written.Load()
	var next atomic.Int64
	if r.o.Scenario == Delete {
		// The measured phase deleted the keys below issued.
		next.Store(min(r.issued.Load(), total))
	}
	var wg sync.WaitGroup
	for range min(r.o.Concurrency, 16) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				_ = r.withTimeout(ctx, func(ctx context.Context) error { return r.c.del(ctx, r.key(i)) })
			}
		})
	}
	wg.Wait()
}

// fill computes the figures of res from the counters and recorders.
func (r *run) fill(res *Result, recs []*recorder) {
	var lat, ttfb []time.Duration
	var steps int
	var last time.Duration
	for _, rec := range recs {
		lat = append(lat, rec.lat...)
		ttfb = append(ttfb, rec.ttfb...)
		steps = max(steps, len(rec.bytes))
		last = max(last, rec.last)
	}
	bytesAt := make([]int64, steps)
	opsAt := make([]int64, steps)
	for _, rec := range recs {
		for i := range rec.bytes {
			bytesAt[i] += rec.bytes[i]
			opsAt[i] += rec.ops[i]
			res.Keys += rec.keys[i]
		}
	}
	res.Ops = r.ops.Load()
	res.Bytes = r.bytes.Load()
	res.Errors = r.errs.Load()
	res.Mismatches = r.mism.Load()
	res.ErrorSamples = r.samples
	if r.notImpl.Load() > 0 && len(lat) == 0 {
		res.Unsupported = r.unsupp
	}
	if last > 0 {
		res.Elapsed = last.Seconds()
		res.MBps = float64(res.Bytes) / 1e6 / res.Elapsed
		res.ObjectsPerSec = float64(res.Keys) / res.Elapsed
		res.OpsPerSec = float64(len(lat)) / res.Elapsed
	}
	step := timelineStep.Seconds()
	for i := range steps {
		// The last step is partial: divide by the time it covered.
		span := step
		if i == steps-1 {
			span = last.Seconds() - float64(i)*step
			if span <= 0 {
				span = step
			}
		}
		res.Timeline = append(res.Timeline, Point{
			T:         min(float64(i+1)*step, last.Seconds()),
			MBps:      float64(bytesAt[i]) / 1e6 / span,
			OpsPerSec: float64(opsAt[i]) / span,
		})
	}
	res.Latency = summarize(lat)
	res.TTFB = summarize(ttfb)
	res.Histogram = histogram(lat)
}
