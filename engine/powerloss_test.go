package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// Power-loss test (reliability-security.md §5.2, test 2).
//
// The engine runs on a crashable memory filesystem (shard files and every
// Pebble replica alike). Several goroutines issue a seeded random mix of
// puts (empty, inline, sharded over several stripes), overwrites, deletes,
// batch deletes, copies and multipart uploads (create, upload part, upload
// a part again, complete, abort) under every SSE mode the test key manager
// serves. At a seeded filesystem-operation index, in the middle of
// whatever is in flight, the test takes a crash clone that keeps only what
// was synced plus a seeded random share (0–100 %) of what was not, the way
// a power cut would. The engine on the original filesystem carries on and
// is closed; a new engine opens on the clone and must show:
//
//   - every operation acknowledged before the clone, with its exact bytes
//     and ETag;
//   - for the one operation per goroutine that was in flight, either all
//     of its effects or none (a batch delete or a completion is atomic);
//   - listings (objects and multipart uploads) that agree with that state;
//   - a clean Check: no record pointing at a missing or damaged shard, no
//     stray shard files, no undecodable records.
//
// Environment:
//
//	COFFER_POWERLOSS_SEEDS=N  run N seeds (default 8; 3 with -short)
//	COFFER_POWERLOSS_SEED=S   first seed (default: from the clock, logged)
//
// A failure names its seed. The seed fixes the layout, the share of
// unsynced data kept, the filesystem operation at which the power fails
// and each goroutine's operations and payloads; the interleaving of the
// goroutines (and so what exactly is in flight at that operation) is the
// scheduler's, so a rerun of a failing seed reproduces the same scenario
// and, usually after a few runs (-count), the same failure.

const (
	plBlock   = 16 << 10 // BlockSize: small, so objects cross stripes cheaply
	plInline  = 2048     // InlineThreshold
	plMinPart = 16 << 10 // the engine's minimum part size in these tests
	plKeys    = 5        // keys per worker
	plBucket  = "bkt"
)

// plCustomerKey returns (a fresh copy of) the SSE-C key of every SSE-C
// write in the test.
func plCustomerKey() []byte { return customerKey(7) }

// plEnvInt returns the integer in environment variable name, or def.
func plEnvInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, v)
	}
	return n
}

// plEnvSeed returns the seed in environment variable name, or one taken
// from the clock.
func plEnvSeed(t testing.TB, name string) uint64 {
	if v := os.Getenv(name); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", name, v)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

// cloneTrigger is an errorfs.Injector that counts filesystem operations
// once armed and, at operation at, takes a crash clone of mem, as if the
// power failed just before that operation. It injects no error: the
// engine on the original filesystem never notices. It also serializes the
// clone with acked, so an operation that acked reports as acknowledged did
// return before the clone. Safe for concurrent use.
type cloneTrigger struct {
	mem *vfs.MemFS
	at  int
	cfg vfs.CrashCloneCfg

	mu    sync.Mutex
	armed bool
	count int
	clone *vfs.MemFS
}

func (c *cloneTrigger) MaybeError(op errorfs.Op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed || c.clone != nil {
		return nil
	}
	c.count++
	if c.count >= c.at {
		c.clone = c.mem.CrashClone(c.cfg)
	}
	return nil
}

func (c *cloneTrigger) String() string { return fmt.Sprintf("power loss at fs op %d", c.at) }

func (c *cloneTrigger) arm() {
	c.mu.Lock()
	c.armed = true
	c.mu.Unlock()
}

// acked reports whether an operation that has just returned did so before
// the clone was taken.
func (c *cloneTrigger) acked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clone == nil
}

// finish takes the clone now if the power has not failed yet (late), and
// returns it with the number of operations counted.
func (c *cloneTrigger) finish() (clone *vfs.MemFS, count int, late bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clone == nil {
		c.clone, late = c.mem.CrashClone(c.cfg), true
	}
	return c.clone, c.count, late
}

// Slot states are compared as fingerprints: "absent", or a description of
// an object (size, content hash, ETag) or of an upload (its parts).
const plAbsent = "absent"

func plObjFP(data []byte, etag string) string {
	s := sha256.Sum256(data)
	return fmt.Sprintf("object sha=%x %s", s[:8], plListFP(int64(len(data)), etag))
}

// plListFP is the part of an object's fingerprint a listing shows.
func plListFP(size int64, etag string) string { return fmt.Sprintf("size=%d etag=%s", size, etag) }

type plPart struct {
	size int
	etag string
}

func plUploadFP(parts map[int]plPart) string {
	var sb strings.Builder
	sb.WriteString("upload")
	for _, n := range slices.Sorted(maps.Keys(parts)) {
		fmt.Fprintf(&sb, " %d:%d:%s", n, parts[n].size, parts[n].etag)
	}
	return sb.String()
}

func plObjSlot(key string) string        { return "o:" + key }
func plUploadSlot(key, id string) string { return "u:" + key + "\x00" + id }
func plSplitUploadSlot(s string) (k, id string) {
	k, id, _ = strings.Cut(strings.TrimPrefix(s, "u:"), "\x00")
	return k, id
}

// plOp is one operation a worker performed: what it was, the state of
// each slot it changed once it took effect (all at once), and whether it
// returned before the power failed.
type plOp struct {
	desc    string
	effects map[string]string
	acked   bool
}

type plObject struct {
	data []byte
	etag string
	ssec bool
}

type plUpload struct {
	key, id string
	ssec    bool
	parts   map[int]plPart
	data    map[int][]byte
}

// plWorker owns plKeys keys and issues operations on them only, so that
// it knows exactly what each of its operations changes.
type plWorker struct {
	id      int
	seed    uint64
	e       *Engine
	trig    *cloneTrigger
	r       *rand.Rand
	k       int // data shards: sizes scale with the stripe
	objs    map[string]*plObject
	uploads []*plUpload
	hist    []plOp
	nextPay uint64
}

func (w *plWorker) key() string { return fmt.Sprintf("w%d/k%d", w.id, w.r.IntN(plKeys)) }

func (w *plWorker) size() int {
	stripe := plBlock * w.k
	switch w.r.IntN(6) {
	case 0:
		return 0
	case 1:
		return 1 + w.r.IntN(200)
	case 2:
		return plInline - 2 + w.r.IntN(5) // around the inline threshold
	case 3:
		return stripe - 2 + w.r.IntN(5) // around a stripe
	default:
		return w.r.IntN(3*stripe + 100)
	}
}

func (w *plWorker) payload(n int) []byte {
	w.nextPay++
	return chachaPayload(w.seed, uint64(w.id)<<32|w.nextPay, n)
}

// sse picks an encryption mode for a write.
func (w *plWorker) sse() (*SSE, bool) {
	switch w.r.IntN(6) {
	case 0:
		return &SSE{Type: SSENone}, false
	case 1:
		return nil, false // the bucket default: SSE-S3
	case 2:
		return &SSE{Type: SSES3}, false
	case 3:
		return &SSE{Type: SSEKMS, KMSKeyID: "k1", Context: map[string]string{"w": strconv.Itoa(w.id)}}, false
	case 4:
		return &SSE{Type: SSEKMS, KMSKeyID: "alias/k1", BucketKey: &yes}, false
	default:
		return &SSE{Type: SSEC, CustomerKey: plCustomerKey()}, true
	}
}

func (w *plWorker) record(desc string, effects map[string]string) {
	w.hist = append(w.hist, plOp{desc: desc, effects: effects, acked: w.trig.acked()})
}

// run performs up to n operations, stopping early once the power failed.
func (w *plWorker) run(n int) error {
	for range n {
		if !w.trig.acked() {
			return nil
		}
		if err := w.step(); err != nil {
			return fmt.Errorf("worker %d op %d: %w", w.id, len(w.hist), err)
		}
	}
	return nil
}

func (w *plWorker) step() error {
	var open *plUpload
	if len(w.uploads) > 0 {
		open = w.uploads[w.r.IntN(len(w.uploads))]
	}
	switch x := w.r.IntN(100); {
	case open != nil && x < 30:
		return w.advance(open)
	case x < 40:
		return w.put()
	case x < 52:
		return w.del()
	case x < 58:
		return w.delMany()
	case x < 72:
		return w.copy()
	case x < 82 && len(w.uploads) < 2:
		return w.create()
	default:
		return w.put()
	}
}

func (w *plWorker) put() error {
	key, data := w.key(), w.payload(w.size())
	sse, ssec := w.sse()
	info, err := w.e.PutObject(ctx, plBucket, key, bytes.NewReader(data), &PutOptions{Size: int64(len(data)), SSE: sse})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	w.objs[key] = &plObject{data: data, etag: info.ETag, ssec: ssec}
	w.record(fmt.Sprintf("put %s size=%d sse=%v", key, len(data), info.SSE.Type), map[string]string{plObjSlot(key): plObjFP(data, info.ETag)})
	return nil
}

func (w *plWorker) del() error {
	key := w.key()
	if err := w.e.DeleteObject(ctx, plBucket, key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	delete(w.objs, key)
	w.record("delete "+key, map[string]string{plObjSlot(key): plAbsent})
	return nil
}

func (w *plWorker) delMany() error {
	keys := []string{w.key(), w.key(), w.key()}
	res, err := w.e.DeleteObjects(ctx, plBucket, keys)
	if err != nil {
		return fmt.Errorf("delete objects %v: %w", keys, err)
	}
	eff := map[string]string{}
	for i, r := range res {
		if r.Err != nil || r.Key != keys[i] {
			return fmt.Errorf("delete objects %v: result %d: %+v", keys, i, r)
		}
		delete(w.objs, r.Key)
		eff[plObjSlot(r.Key)] = plAbsent
	}
	w.record(fmt.Sprintf("delete objects %v", keys), eff)
	return nil
}

func (w *plWorker) copy() error {
	var srcs []string
	for k := range w.objs {
		srcs = append(srcs, k)
	}
	if len(srcs) == 0 {
		return w.put()
	}
	slices.Sort(srcs)
	src, dst := srcs[w.r.IntN(len(srcs))], w.key()
	from := w.objs[src]
	sse, ssec := w.sse()
	opts := &CopyOptions{SSE: sse, ReplaceMetadata: src == dst, UserMetadata: map[string]string{"copied": "yes"}}
	if from.ssec {
		opts.SourceCustomerKey = plCustomerKey()
	}
	info, err := w.e.CopyObject(ctx, plBucket, src, plBucket, dst, opts)
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	w.objs[dst] = &plObject{data: from.data, etag: info.ETag, ssec: ssec}
	w.record(fmt.Sprintf("copy %s to %s sse=%v", src, dst, info.SSE.Type), map[string]string{plObjSlot(dst): plObjFP(from.data, info.ETag)})
	return nil
}

func (w *plWorker) create() error {
	key := w.key()
	sse, ssec := w.sse()
	up, err := w.e.CreateMultipartUpload(ctx, plBucket, key, &MultipartOptions{SSE: sse})
	if err != nil {
		return fmt.Errorf("create upload %s: %w", key, err)
	}
	u := &plUpload{key: key, id: up.UploadID, ssec: ssec, parts: map[int]plPart{}, data: map[int][]byte{}}
	w.uploads = append(w.uploads, u)
	w.record(fmt.Sprintf("create upload %s %s sse=%v", key, up.UploadID, up.SSE.Type), map[string]string{plUploadSlot(key, u.id): plUploadFP(u.parts)})
	return nil
}

// advance uploads a part (a new one or one again), completes or aborts u.
func (w *plWorker) advance(u *plUpload) error {
	x := w.r.IntN(10)
	switch {
	case len(u.parts) > 0 && x < 3:
		return w.complete(u)
	case x == 3:
		return w.abort(u)
	}
	n := len(u.parts) + 1
	if len(u.parts) > 0 && x == 4 {
		n = 1 + w.r.IntN(len(u.parts)) // upload a part again
	}
	data := w.payload(plMinPart + w.r.IntN(8<<10))
	var opts PartOptions
	if u.ssec {
		opts.CustomerKey = plCustomerKey()
	}
	info, err := w.e.UploadPart(ctx, plBucket, u.key, u.id, n, bytes.NewReader(data), &opts)
	if err != nil {
		return fmt.Errorf("upload part %d of %s %s: %w", n, u.key, u.id, err)
	}
	u.parts[n], u.data[n] = plPart{size: len(data), etag: info.ETag}, data
	w.record(fmt.Sprintf("upload part %d of %s %s size=%d", n, u.key, u.id, len(data)), map[string]string{plUploadSlot(u.key, u.id): plUploadFP(u.parts)})
	return nil
}

func (w *plWorker) complete(u *plUpload) error {
	var parts []CompletePart
	var all []byte
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		parts = append(parts, CompletePart{PartNumber: n, ETag: u.parts[n].etag})
		all = append(all, u.data[n]...)
	}
	info, err := w.e.CompleteMultipartUpload(ctx, plBucket, u.key, u.id, parts, nil)
	if err != nil {
		return fmt.Errorf("complete %s %s: %w", u.key, u.id, err)
	}
	w.drop(u)
	w.objs[u.key] = &plObject{data: all, etag: info.ETag, ssec: u.ssec}
	w.record(fmt.Sprintf("complete %s %s parts=%d", u.key, u.id, len(parts)), map[string]string{
		plUploadSlot(u.key, u.id): plAbsent, plObjSlot(u.key): plObjFP(all, info.ETag)})
	return nil
}

func (w *plWorker) abort(u *plUpload) error {
	if err := w.e.AbortMultipartUpload(ctx, plBucket, u.key, u.id); err != nil {
		return fmt.Errorf("abort %s %s: %w", u.key, u.id, err)
	}
	w.drop(u)
	w.record(fmt.Sprintf("abort %s %s", u.key, u.id), map[string]string{plUploadSlot(u.key, u.id): plAbsent})
	return nil
}

func (w *plWorker) drop(u *plUpload) {
	w.uploads = slices.DeleteFunc(w.uploads, func(x *plUpload) bool { return x == u })
}

// plObserve reads the state of a slot from a reopened engine.
func plObserve(e *Engine, slot string) (string, error) {
	if key, ok := strings.CutPrefix(slot, "o:"); ok {
		obj, err := e.GetObject(ctx, plBucket, key, nil)
		if errors.Is(err, ErrSSECustomerKeyRequired) {
			obj, err = e.GetObject(ctx, plBucket, key, &GetOptions{CustomerKey: plCustomerKey()})
		}
		if errors.Is(err, ErrObjectNotFound) {
			return plAbsent, nil
		}
		if err != nil {
			return "", fmt.Errorf("get %s: %w", key, err)
		}
		defer obj.Close()
		data, err := io.ReadAll(obj)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", key, err)
		}
		if obj.Info.Size != int64(len(data)) {
			return "", fmt.Errorf("get %s: %d bytes, info says %d", key, len(data), obj.Info.Size)
		}
		return plObjFP(data, obj.Info.ETag), nil
	}
	key, id := plSplitUploadSlot(slot)
	res, err := e.ListParts(ctx, plBucket, key, id, ListPartsOptions{})
	if errors.Is(err, ErrNoSuchUpload) {
		return plAbsent, nil
	}
	if err != nil {
		return "", fmt.Errorf("list parts of %s %s: %w", key, id, err)
	}
	if res.IsTruncated {
		return "", fmt.Errorf("list parts of %s %s: truncated", key, id)
	}
	parts := map[int]plPart{}
	for _, p := range res.Parts {
		parts[p.PartNumber] = plPart{size: int(p.Size), etag: p.ETag}
	}
	return plUploadFP(parts), nil
}

// verify checks one worker's history against the reopened engine and adds
// the state it found to seen. It counts in tally how its in-flight
// operation ended: "applied", "lost", or "either" when both states look
// the same.
func (w *plWorker) verify(e *Engine, seen map[string]string, tally map[string]int) error {
	base := map[string]string{}
	var pending *plOp
	for i := range w.hist {
		op := &w.hist[i]
		if !op.acked {
			if i != len(w.hist)-1 {
				return fmt.Errorf("op %d (%s) unacknowledged but not the last", i, op.desc)
			}
			pending = op
			break
		}
		maps.Copy(base, op.effects)
	}
	slots := map[string]bool{}
	for _, op := range w.hist {
		for s := range op.effects {
			slots[s] = true
		}
	}
	got := map[string]string{}
	for _, s := range slices.Sorted(maps.Keys(slots)) {
		fp, err := plObserve(e, s)
		if err != nil {
			return err
		}
		got[s] = fp
	}
	want := func(s string) string {
		if v, ok := base[s]; ok {
			return v
		}
		return plAbsent
	}
	applied, notApplied := pending != nil, true
	if pending != nil {
		for s, after := range pending.effects {
			applied = applied && got[s] == after
			notApplied = notApplied && got[s] == want(s)
		}
		if !applied && !notApplied {
			var sb strings.Builder
			for _, s := range slices.Sorted(maps.Keys(pending.effects)) {
				fmt.Fprintf(&sb, "\n  %s: found %s\n    before: %s\n    after:  %s", s, got[s], want(s), pending.effects[s])
			}
			return fmt.Errorf("in-flight op %q is partly applied:%s", pending.desc, sb.String())
		}
		switch {
		case applied && notApplied:
			tally["either"]++
		case applied:
			tally["applied"]++
		default:
			tally["lost"]++
		}
	}
	for s := range slots {
		if pending != nil && applied {
			if _, ok := pending.effects[s]; ok {
				seen[s] = got[s]
				continue
			}
		}
		if got[s] != want(s) {
			return fmt.Errorf("%s: found %s, want %s (last acknowledged state)", s, got[s], want(s))
		}
		seen[s] = got[s]
	}
	return nil
}

func (w *plWorker) historyString() string {
	var sb strings.Builder
	for i, op := range w.hist {
		fmt.Fprintf(&sb, "\n  %3d acked=%-5v %s", i, op.acked, op.desc)
	}
	return sb.String()
}

func TestPowerLossRandomized(t *testing.T) {
	n := 8
	if testing.Short() {
		n = 3
	}
	n = plEnvInt(t, "COFFER_POWERLOSS_SEEDS", n)
	base := plEnvSeed(t, "COFFER_POWERLOSS_SEED")
	t.Logf("seeds %d..%d (COFFER_POWERLOSS_SEED, COFFER_POWERLOSS_SEEDS)", base, base+uint64(n)-1)
	for i := range n {
		s := base + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			if err := runPowerLoss(t, s); err != nil {
				t.Fatalf("seed %d: %v\nrerun with COFFER_POWERLOSS_SEED=%d COFFER_POWERLOSS_SEEDS=1", s, err, s)
			}
		})
	}
}

func runPowerLoss(t *testing.T, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 0x706c))
	layouts := []struct{ drives, k, m int }{{1, 1, 0}, {3, 2, 1}, {6, 4, 2}}
	lay := layouts[r.IntN(len(layouts))]
	workers := 2 + r.IntN(3)
	const opsPerWorker = 40
	// An engine operation costs roughly 4+2·drives² filesystem operations
	// (shard files, directory syncs, every index replica): the power fails
	// somewhere in the run, rarely after it.
	budget := workers * opsPerWorker * (4 + 2*lay.drives*lay.drives)
	// The share of unsynced data that survives: often none or all of it,
	// the two ends, else anything between.
	keep := r.IntN(101)
	switch r.IntN(5) {
	case 0:
		keep = 0
	case 1:
		keep = 100
	}
	mem := vfs.NewCrashableMem()
	trig := &cloneTrigger{mem: mem, at: 1 + r.IntN(budget), cfg: vfs.CrashCloneCfg{
		UnsyncedDataPercent: keep,
		RNG:                 rand.New(rand.NewPCG(seed, 0xc105e)),
	}}
	var ds []string
	for i := range lay.drives {
		ds = append(ds, fmt.Sprintf("/d%d", i))
	}
	parity := lay.m
	if parity == 0 {
		parity = NoParity
	}
	km := newTestKMS("k1")
	o := &Options{Drives: ds, DataShards: lay.k, ParityShards: parity, BlockSize: plBlock, InlineThreshold: plInline,
		KeyManager: km, ScrubInterval: -1, FS: errorfs.Wrap(mem, trig)}
	t.Logf("layout %d+%d on %d drives, %d workers, power fails at fs op %d keeping %d%% of unsynced data",
		lay.k, lay.m, lay.drives, workers, trig.at, trig.cfg.UnsyncedDataPercent)

	e, err := Open("", o)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	e.minPartSize = plMinPart
	if err := e.CreateBucket(ctx, plBucket); err != nil {
		e.Close()
		return err
	}
	ws := make([]*plWorker, workers)
	for i := range ws {
		ws[i] = &plWorker{id: i, seed: seed, e: e, trig: trig, r: rand.New(rand.NewPCG(seed, uint64(100+i))), k: lay.k, objs: map[string]*plObject{}}
	}
	trig.arm()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.run(opsPerWorker) })
	}
	wg.Wait()
	// The power may also fail while Close finishes releases and marks the
	// shutdown clean.
	when := "during the run"
	if trig.acked() {
		when = "during Close"
	}
	closeErr := e.Close()
	clone, count, late := trig.finish()
	if err := errors.Join(append(errs, closeErr)...); err != nil {
		return fmt.Errorf("on the original filesystem: %w", err)
	}
	ops := 0
	for _, w := range ws {
		ops += len(w.hist)
	}
	if late {
		when = "after Close"
	}
	t.Logf("%d engine ops, %d fs ops: the power failed %s", ops, count, when)

	o2 := *o
	o2.FS = clone
	e2, err := Open("", &o2)
	if err != nil {
		return fmt.Errorf("reopen after power loss: %w", err)
	}
	defer e2.Close()
	seen, tally := map[string]string{}, map[string]int{}
	for _, w := range ws {
		if err := w.verify(e2, seen, tally); err != nil {
			return fmt.Errorf("worker %d: %w\nhistory:%s", w.id, err, w.historyString())
		}
	}
	t.Logf("in-flight operations: %v", tally)
	return plCheckListings(e2, seen)
}

// plCheckListings compares the object and upload listings of e with the
// states found slot by slot, and runs Check.
func plCheckListings(e *Engine, seen map[string]string) error {
	wantObjs, wantUps := map[string]string{}, map[string]bool{}
	for s, fp := range seen {
		if fp == plAbsent {
			continue
		}
		if key, ok := strings.CutPrefix(s, "o:"); ok {
			wantObjs[key] = fp
		} else {
			wantUps[s] = true
		}
	}
	gotObjs := map[string]string{}
	for o := (ListOptions{MaxKeys: 4}); ; {
		res, err := e.ListObjects(ctx, plBucket, o)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		for _, oi := range res.Objects {
			gotObjs[oi.Key] = plListFP(oi.Size, oi.ETag)
		}
		if !res.IsTruncated {
			break
		}
		o.StartAfter = res.Next
	}
	for k, fp := range wantObjs {
		if g, ok := gotObjs[k]; !ok || !strings.HasSuffix(fp, " "+g) {
			return fmt.Errorf("listing shows %s as %q; it reads as %s", k, g, fp)
		}
	}
	for k := range gotObjs {
		if _, ok := wantObjs[k]; !ok {
			return fmt.Errorf("listing shows %s, which reads as absent", k)
		}
	}
	gotUps := map[string]bool{}
	for o := (ListUploadsOptions{MaxUploads: 3}); ; {
		res, err := e.ListMultipartUploads(ctx, plBucket, o)
		if err != nil {
			return fmt.Errorf("list uploads: %w", err)
		}
		for _, u := range res.Uploads {
			gotUps[plUploadSlot(u.Key, u.UploadID)] = true
		}
		if !res.IsTruncated {
			break
		}
		o.KeyMarker, o.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if !maps.Equal(gotUps, wantUps) {
		return fmt.Errorf("upload listing %v, want %v", slices.Sorted(maps.Keys(gotUps)), slices.Sorted(maps.Keys(wantUps)))
	}
	rep, err := e.Check(ctx, false)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	if !rep.OK() || rep.Objects != len(wantObjs) {
		return fmt.Errorf("check: %+v, want OK with %d objects", rep, len(wantObjs))
	}
	return nil
}
