//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Process-level fault tests (reliability-security.md §5.2, tests 1, 6, 10
// and 25): a real `coffer serve` in a child process, real drive folders,
// real S3 clients.
//
//	go test -run TestKillNine -v ./cmd/coffer/                       # default: 25 kill cycles, ~25 s
//	COFFER_KILLTEST_CYCLES=2000 go test -timeout 0 -run TestKillNine -v ./cmd/coffer/
//	COFFER_KILLTEST_SEED=N ...                                      # repeat the random choices
//	COFFER_KILLTEST_SERVE_FLAGS=--unsafe-no-sync ...                # extra serve flags (this one must fail)
//	go test -run TestDriveLossUnderLoad -v ./cmd/coffer/
//	go test -run TestIndexDriveLossUnderLoad -v ./cmd/coffer/
//	COFFER_SOAK=10m go test -timeout 0 -run TestSoak -v ./cmd/coffer/
//
// All are skipped with -short. They need Linux (/proc, Pdeathsig).

// TestKillNine SIGKILLs a loaded server at random moments, restarts it on
// the same drives and checks that every key holds a state its history
// allows (acknowledged writes byte-exact with their ETag, unacknowledged
// ones absent or complete), that LIST agrees, that acknowledged multipart
// uploads are still listed with their parts and abortable, and that the
// child never panics. After the last cycle the server is stopped cleanly
// and `coffer fsck` must find the store consistent: no orphaned shard
// files, no dangling records.
func TestKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes; skipped with -short")
	}
	cycles := envInt(t, "COFFER_KILLTEST_CYCLES", 25)
	seed := uint64(envInt(t, "COFFER_KILLTEST_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("cycles %d, seed %d (COFFER_KILLTEST_SEED=%d COFFER_KILLTEST_CYCLES=%d to repeat the random choices)", cycles, seed, seed, cycles)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	began := time.Now()

	f := newFleet(t, 6)
	ch := f.start()
	c, closeIdle := s3Client(ch.addr)
	if err := createBucket(ctx, c); err != nil {
		t.Fatal(err)
	}
	closeIdle()

	var keys []string
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("obj/%02d", i))
	}
	m := newModel(keys)
	st := newLoadStats()
	var seq atomic.Uint64
	var phase atomic.Int32
	killed := &atomic.Bool{}
	pol := func(o opInfo, err error) verdict {
		switch {
		case err == nil:
			return vOK
		case killed.Load():
			return vUnknown
		}
		return vUnexpected
	}
	sizes := []int{0, 1, 1000, 4096, inlineLimit, inlineLimit + 1, 200 << 10, 1<<20 + 3, 3 << 20}
	var sses []sseMode
	for s := range numSSEModes {
		sses = append(sses, s)
	}

	lost, early, present, uploadsLeft := 0, 0, 0, 0
	var survived int
	for cycle := 1; cycle <= cycles && !t.Failed(); cycle++ {
		c, closeIdle := s3Client(ch.addr)
		killed.Store(false)
		var stop atomic.Bool
		var wg sync.WaitGroup
		for i := range 4 {
			w := &worker{c: c, m: m, st: st, pol: pol, phase: &phase, rng: rand.New(rand.NewPCG(seed, uint64(cycle*16+i))),
				writes: keys, reads: keys, sizes: sizes, sse: sses, mix: mix{put: 45, del: 8, get: 30, mpu: 12, abort: 5},
				seq: &seq, stop: &stop}
			wg.Add(1)
			go func() { defer wg.Done(); w.loop(1 << 20) }()
		}
		// The kill is the fault being injected; the delay only picks the moment.
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		killed.Store(true)
		ch.kill()
		stop.Store(true)
		wg.Wait()
		closeIdle()
		f.checkLog(ch)
		if rng.IntN(5) == 0 {
			// Kill again while the server opens the store and recovers.
			early++
			ch = f.launch()
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
			ch.kill()
			f.checkLog(ch)
		}
		ch = f.start()
		c, closeIdle = s3Client(ch.addr)
		rep := checkAll(ctx, c, m)
		closeIdle()
		for _, p := range rep.problems {
			t.Errorf("cycle %d: %s", cycle, p)
		}
		lost += rep.lost
		present = rep.present
		uploadsLeft += rep.uploadsLeft
		reportUnexpected(t, st, fmt.Sprintf("cycle %d", cycle))
		if rep.lost == 0 && len(rep.problems) == 0 {
			survived++
		}
	}
	if err := ch.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, ch.logTail())
	}
	f.checkLog(ch)
	out, err := f.runCmd(f.offline("fsck")...)
	if err != nil || !strings.Contains(out, "\nok\n") {
		t.Errorf("fsck after %d kills: %v\n%s", cycles, err, out)
	}
	t.Logf("kill -9: %d cycles survived of %d (%d extra kills during recovery) in %v; %d writes acknowledged (%.1f MiB), %d MiB read and verified; "+
		"%d objects present at the end, %d unfinished uploads found and aborted over all restarts; objects lost %d",
		survived, cycles, early, time.Since(began).Round(time.Second), m.acked.Load(), float64(m.bytesW.Load())/(1<<20), m.bytesR.Load()>>20,
		present, uploadsLeft, lost)
	t.Logf("operations: %s", st.summary())
}

// reportUnexpected fails the test for every unexpected outcome and
// integrity error the workers recorded, and clears them.
func reportUnexpected(t *testing.T, st *loadStats, when string) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.integrity {
		t.Errorf("%s: INTEGRITY: %s", when, s)
	}
	for _, s := range st.failures {
		t.Errorf("%s: %s", when, s)
	}
	if n := st.nIntegr + st.nFail - len(st.integrity) - len(st.failures); n > 0 {
		t.Errorf("%s: and %d more", when, n)
	}
	st.integrity, st.failures = nil, nil
}

// TestDriveLossUnderLoad renames drive folders away while clients run:
// with one and two gone (4+2 tolerates two) every PUT and GET must
// succeed; with three gone sharded PUTs must fail with 503 and sharded
// GETs must fail, never return wrong bytes (inline objects live in the
// index and keep working). The folders are then put back, the server is
// stopped, `coffer heal` must rewrite the missing shards and `coffer fsck`
// must find the store consistent, and after a restart every object must
// read back intact. The drives pulled, 5, 4 and 3, hold no index replica
// (those are on drives 0-2) and not the keyring (drive 0);
// TestIndexDriveLossUnderLoad pulls an index drive.
func TestDriveLossUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	driveLoss(t, []int{5, 4, 3})
}

// TestIndexDriveLossUnderLoad is TestDriveLossUnderLoad with drive 2, which
// holds one of the three index replicas, pulled first. Losing one replica
// must not matter (index/doc.go: a replica whose write fails is dropped).
// The first WAL rotation on the missing replica goes through Pebble's fatal
// logger, which drops that replica only (this test found it failing the
// whole index once).
func TestIndexDriveLossUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	driveLoss(t, []int{2, 5, 4})
}

// driveLoss is the scenario of TestDriveLossUnderLoad, pulling the three
// drives of pull in order.
func driveLoss(t *testing.T, pull []int) {
	seed := uint64(envInt(t, "COFFER_KILLTEST_SEED", int(time.Now().UnixNano()%1e9)))
	t.Logf("seed %d, drives pulled in the order %v", seed, pull)
	phaseNames := []string{"all drives", fmt.Sprintf("drive %d away", pull[0]), fmt.Sprintf("drives %v away", pull[:2]),
		fmt.Sprintf("drives %v away", pull), "drives restored"}
	ctx := context.Background()
	f := newFleet(t, 6)
	ch := f.start()
	c, closeIdle := s3Client(ch.addr)
	defer closeIdle()
	if err := createBucket(ctx, c); err != nil {
		t.Fatal(err)
	}

	const workers = 3
	own, all := workerKeys("", workers, 6)
	// Objects written with two drives away and never read or written
	// again before the heal, so that heal has shards to rewrite.
	var static []string
	for i := range 4 {
		static = append(static, fmt.Sprintf("static/%d", i))
	}
	m := newModel(append(append([]string(nil), all...), static...))
	st := newLoadStats()
	var seq atomic.Uint64
	var phase atomic.Int32
	pol := func(o opInfo, err error) verdict {
		now := phase.Load()
		switch {
		case o.phase != now && err != nil:
			return vUnknown // the drives changed while the request ran
		case o.phase != now:
			return vOK
		case now != 3 && err != nil:
			return vUnexpected
		case now != 3:
			return vOK
		}
		// Three drives away: more than parity.
		switch {
		case o.kind == "delete" && err != nil:
			return vUnknown
		case !o.sharded && err != nil:
			return vUnexpected
		case !o.sharded:
			return vOK
		case err == nil:
			return vUnexpected // a sharded PUT or GET cannot succeed with 3 of 6 shards
		case o.kind == "put" && httpStatus(err) != http.StatusServiceUnavailable:
			return vUnexpected
		}
		return vRefused
	}
	inline := []int{0, 100, 8 << 10, 16 << 10}
	sharded := []int{64 << 10, 300 << 10, 1<<20 + 5, 2 << 20}
	sizes := append(append([]int(nil), inline...), sharded...)
	sses := []sseMode{sseDefault, sseS3, sseKMS, sseKMSKey, sseDSSE, sseC}
	var stop atomic.Bool
	newWorker := func(i int) *worker {
		return &worker{c: c, m: m, st: st, pol: pol, phase: &phase, rng: rand.New(rand.NewPCG(seed, uint64(i))),
			writes: own[i%workers], reads: all, sizes: sizes, sse: sses, mix: mix{put: 50, del: 5, get: 45}, seq: &seq, stop: &stop}
	}
	// Every key starts with an object, half of them sharded.
	seeder := newWorker(workers)
	for i, k := range all {
		seeder.put(ctx, k, sizes[i%len(sizes)], sses[i%len(sses)])
	}
	reportUnexpected(t, st, "seeding")

	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(i)
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(1 << 20) }()
	}
	waitOps := func(n int64) {
		target := st.ops.Load() + n
		for deadline := time.Now().Add(3 * time.Minute); st.ops.Load() < target; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("phase %q: the clients made no progress in 3 minutes", phaseNames[phase.Load()])
			}
		}
	}
	away := func(i int) {
		if err := os.Rename(f.drives[i], f.drives[i]+".away"); err != nil {
			t.Error(err)
		}
	}
	perPhase := make([]string, len(phaseNames))
	mark := func() { perPhase[phase.Load()] = st.summary() }
	waitOps(40)
	mark()
	for p, d := range pull {
		away(d)
		phase.Store(int32(p + 1))
		if p == 1 {
			for i, k := range static {
				seeder.put(ctx, k, sharded[i], sses[i])
			}
		}
		waitOps(40)
		mark()
	}
	for _, d := range pull {
		if err := os.Rename(f.drives[d]+".away", f.drives[d]); err != nil {
			t.Fatalf("putting drive %d back: %v (did the server recreate the folder?)", d, err)
		}
	}
	phase.Store(4)
	waitOps(40)
	mark()
	stop.Store(true)
	wg.Wait()
	for i, s := range perPhase {
		t.Logf("after phase %q: %s", phaseNames[i], s)
	}
	reportUnexpected(t, st, "under load")
	if t.Failed() {
		t.Logf("server errors (first 30):\n%s", ch.logErrors(30))
	}
	counts := func(k string) int { st.mu.Lock(); defer st.mu.Unlock(); return st.counts[k] }
	if counts("put refused") == 0 || counts("get refused") == 0 {
		t.Errorf("with 3 drives away no sharded PUT or GET was refused: the phase did not test anything")
	}

	// Still running, drives back, nothing healed yet: every key must read
	// back as acknowledged (reads reconstruct from parity).
	// (The static objects are not read: a read would queue their repair.)
	for _, p := range checkKeys(ctx, c, m, all).problems {
		t.Errorf("drives restored, before heal: %s", p)
	}
	if err := ch.stop(); err != nil {
		t.Errorf("graceful stop: %v\n%s", err, ch.logTail())
	}
	f.checkLog(ch)
	out, err := f.runCmd(f.offline("heal")...)
	t.Logf("coffer heal:\n%s", out)
	if err != nil || healed(out) < 2*len(static) {
		t.Errorf("heal after the drives came back: %v, %d shards healed, want at least %d\n%s", err, healed(out), 2*len(static), out)
	}
	out, err = f.runCmd(f.offline("fsck")...)
	if err != nil || !strings.Contains(out, "\nok\n") {
		t.Errorf("fsck after heal: %v\n%s", err, out)
	}
	ch = f.start()
	c2, closeIdle2 := s3Client(ch.addr)
	defer closeIdle2()
	rep := checkAll(ctx, c2, m)
	for _, p := range rep.problems {
		t.Errorf("after heal and restart: %s", p)
	}
	if metrics := fetch(t, "http://"+ch.addr+"/metrics"); strings.Count(metrics, `state="online"} 1`) != 6 {
		t.Errorf("after heal not every drive is online:\n%s", grepLines(metrics, "coffer_drive_up"))
	}
	if err := ch.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	f.checkLog(ch)
	t.Logf("drive loss: %d keys checked, %d present, %d lost; %d writes acknowledged; %s", rep.keys, rep.present, rep.lost, m.acked.Load(), st.summary())
}

var healedRE = regexp.MustCompile(`shards healed (\d+)`)

func healed(out string) int {
	mm := healedRE.FindStringSubmatch(out)
	if mm == nil {
		return 0
	}
	n, _ := strconv.Atoi(mm[1])
	return n
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSoak runs a child server under mixed load for COFFER_SOAK (a Go
// duration, e.g. 10m), with drive 5 renamed away at half time and put back
// at three quarters; every GET is verified against the history. It
// reports operations, bytes, outcomes by kind, and the child's RSS,
// threads and open files sampled every 5 s. The server does not export
// go_goroutines, so goroutines are not sampled. Any integrity error or
// failed request fails the test.
func TestSoak(t *testing.T) {
	spec := os.Getenv("COFFER_SOAK")
	if spec == "" || testing.Short() {
		t.Skip("set COFFER_SOAK=10m (any Go duration) to run the soak test")
	}
	dur, err := time.ParseDuration(spec)
	if err != nil || dur <= 0 {
		t.Fatalf("COFFER_SOAK=%q: want a positive Go duration", spec)
	}
	seed := uint64(envInt(t, "COFFER_KILLTEST_SEED", int(time.Now().UnixNano()%1e9)))
	ctx := context.Background()
	f := newFleet(t, 6)
	ch := f.start()
	c, closeIdle := s3Client(ch.addr)
	defer closeIdle()
	if err := createBucket(ctx, c); err != nil {
		t.Fatal(err)
	}
	const workers = 4
	own, all := workerKeys("soak/", workers, 16)
	m := newModel(all)
	st := newLoadStats()
	var seq atomic.Uint64
	var phase atomic.Int32
	pol := func(o opInfo, err error) verdict {
		if err != nil {
			return vUnexpected
		}
		return vOK
	}
	sizes := []int{0, 1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	var sses []sseMode
	for s := range numSSEModes {
		sses = append(sses, s)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{c: c, m: m, st: st, pol: pol, phase: &phase, rng: rand.New(rand.NewPCG(seed, uint64(i))),
			writes: own[i], reads: all, sizes: sizes, sse: sses, mix: mix{put: 40, del: 5, get: 45, mpu: 8, abort: 2}, seq: &seq, stop: &stop}
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(1 << 40) }()
	}

	// Sample the child every 5 s until the load stops.
	type sample struct {
		at       time.Duration
		rss      int64
		threads  int
		fds, ops int64
	}
	var samples []sample
	sctx, cancel := context.WithCancel(ctx)
	sampled := make(chan struct{})
	began := time.Now()
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			rss, threads, err := procStatus(ch.pid)
			if err == nil {
				samples = append(samples, sample{time.Since(began).Round(time.Second), rss, threads, int64(openFDs(ch.pid)), st.ops.Load()})
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	time.Sleep(dur / 2)
	if err := os.Rename(f.drives[5], f.drives[5]+".away"); err != nil {
		t.Error(err)
	}
	phase.Store(1)
	t.Logf("%v: drive 5 renamed away", time.Since(began).Round(time.Second))
	time.Sleep(dur / 4)
	if err := os.Rename(f.drives[5]+".away", f.drives[5]); err != nil {
		t.Error(err)
	}
	phase.Store(2)
	t.Logf("%v: drive 5 put back", time.Since(began).Round(time.Second))
	time.Sleep(dur / 4)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(began)
	cancel()
	<-sampled

	rep := checkAll(ctx, c, m)
	for _, p := range rep.problems {
		t.Errorf("final check: %s", p)
	}
	if err := ch.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	f.checkLog(ch)
	healOut, herr := f.runCmd(f.offline("heal")...)
	if herr != nil {
		t.Errorf("heal: %v\n%s", herr, healOut)
	}
	fsckOut, ferr := f.runCmd(f.offline("fsck")...)
	if ferr != nil || !strings.Contains(fsckOut, "\nok\n") {
		t.Errorf("fsck: %v\n%s", ferr, fsckOut)
	}

	var minRSS, maxRSS int64 = 1 << 62, 0
	maxThreads, maxFDs := 0, int64(0)
	for i, s := range samples {
		minRSS, maxRSS = min(minRSS, s.rss), max(maxRSS, s.rss)
		maxThreads, maxFDs = max(maxThreads, s.threads), max(maxFDs, s.fds)
		if i%12 == 0 || i == len(samples)-1 {
			t.Logf("  %6v  rss %4d MiB  threads %3d  fds %4d  ops %d", s.at, s.rss>>20, s.threads, s.fds, s.ops)
		}
	}
	st.mu.Lock()
	nIntegr, nFail := st.nIntegr, st.nFail
	st.mu.Unlock()
	t.Logf("soak %v: %d operations (%.0f/s), %.1f MiB written (acknowledged), %.1f MiB read and verified, %d integrity errors, %d failed requests; "+
		"child RSS %d-%d MiB, threads max %d, open files max %d (%d samples); heal: %s",
		elapsed.Round(time.Second), st.ops.Load(), float64(st.ops.Load())/elapsed.Seconds(), float64(m.bytesW.Load())/(1<<20),
		float64(m.bytesR.Load())/(1<<20), nIntegr, nFail, minRSS>>20, maxRSS>>20, maxThreads, maxFDs, len(samples),
		strings.Join(strings.Fields(healOut), " "))
	t.Logf("outcomes: %s", st.summary())
	reportUnexpected(t, st, "soak")
}

// workerKeys gives each of n workers per keys of its own to write
// (prefix + "w<i>/<j>"), and all of them, which every worker reads.
func workerKeys(prefix string, n, per int) (own [][]string, all []string) {
	own = make([][]string, n)
	for i := range n {
		for j := range per {
			k := fmt.Sprintf("%sw%d/%02d", prefix, i, j)
			own[i] = append(own[i], k)
			all = append(all, k)
		}
	}
	return own, all
}
