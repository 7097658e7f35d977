//go:build linux

package main

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// This file holds the history model of the process-level fault tests: what
// each key may hold given the writes the clients started and the ones the
// server acknowledged, with in-flight writes (cut short by a kill) allowed
// to have happened or not.

// value is one state a key can hold: absent, or an object with this
// content and encryption. Immutable once its write is acknowledged (etag
// is filled in then).
type value struct {
	absent bool
	size   int64
	sum    [32]byte // SHA-256 of the content
	sse    string   // expected encryption as GET reports it: AES256, aws:kms, aws:kms:dsse, SSE-C
	etag   string   // "" while unknown (a write whose answer never came)
}

func (v *value) String() string {
	if v.absent {
		return "absent"
	}
	etag := v.etag
	if etag == "" {
		etag = "?"
	}
	return fmt.Sprintf("%dB sha256:%s %s etag:%s", v.size, hex.EncodeToString(v.sum[:6]), v.sse, etag)
}

// matches reports whether an observed state is this value. An unknown etag
// matches any.
func (v *value) matches(o *value) bool {
	if v.absent || o.absent {
		return v.absent == o.absent
	}
	return v.size == o.size && v.sum == o.sum && v.sse == o.sse && (v.etag == "" || v.etag == o.etag)
}

// write is one write (PUT, DELETE, CompleteMultipartUpload) to a key.
// start and end are ticks of the model's logical clock taken before the
// request was sent and after its answer arrived.
type write struct {
	v     *value
	start uint64
	end   uint64 // valid when acked
	acked bool
	desc  string
}

func (w *write) endOrInf() uint64 {
	if w.acked {
		return w.end
	}
	return math.MaxUint64
}

// history is the record of the writes to one key that may still explain
// what the key holds. Writes superseded by a later acknowledged write are
// pruned once no read in flight can still see them.
type history struct {
	mu     sync.Mutex
	writes []*write
	reads  map[uint64]int // start tick of each read in flight -> count
}

// model is the expected state of a fixed set of keys, shared by every
// client goroutine of a test. Safe for concurrent use.
type model struct {
	clock atomic.Uint64
	keys  map[string]*history // fixed at construction; the histories lock themselves
	names []string            // sorted key names

	acked  atomic.Int64 // acknowledged writes (PUT, DELETE, Complete, Abort, UploadPart)
	bytesW atomic.Int64 // acknowledged bytes written
	bytesR atomic.Int64 // bytes read and verified

	mu      sync.Mutex         // guards uploads and pendingCreates
	uploads map[string]*upload // upload id -> upload
	// pendingCreates counts CreateMultipartUpload calls per key whose answer
	// never came: the server may hold an upload we do not know the id of.
	pendingCreates map[string]int
}

func newModel(keys []string) *model {
	m := &model{keys: map[string]*history{}, uploads: map[string]*upload{}, pendingCreates: map[string]int{}}
	for _, k := range keys {
		m.keys[k] = &history{writes: []*write{{v: &value{absent: true}, acked: true}}, reads: map[uint64]int{}}
	}
	m.names = append([]string(nil), keys...)
	sort.Strings(m.names)
	return m
}

// begin records a write about to be sent.
func (m *model) begin(key string, v *value, desc string) *write {
	h := m.keys[key]
	w := &write{v: v, desc: desc}
	h.mu.Lock()
	w.start = m.clock.Add(1)
	h.writes = append(h.writes, w)
	h.mu.Unlock()
	return w
}

// ack records that w was acknowledged with etag ("" for a delete).
func (m *model) ack(key string, w *write, etag string) {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	w.end = m.clock.Add(1)
	w.acked = true
	if !w.v.absent {
		w.v.etag = etag
	}
	m.acked.Add(1)
	m.bytesW.Add(w.v.size)
	h.prune()
}

// fail records that w definitely did not happen (the server refused it).
func (m *model) fail(key string, w *write) {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.writes {
		if x == w {
			h.writes = append(h.writes[:i], h.writes[i+1:]...)
			return
		}
	}
}

// prune drops acknowledged writes superseded by an acknowledged write that
// started after them and ended before every read in flight began.
func (h *history) prune() {
	horizon := uint64(math.MaxUint64)
	for rs := range h.reads {
		horizon = min(horizon, rs)
	}
	var maxStart uint64
	for _, w := range h.writes {
		if w.acked && w.end < horizon {
			maxStart = max(maxStart, w.start)
		}
	}
	out := h.writes[:0]
	for _, w := range h.writes {
		if !w.acked || w.end >= maxStart {
			out = append(out, w)
		}
	}
	clear(h.writes[len(out):])
	h.writes = out
}

// beginRead records a read about to be sent and returns its start tick.
func (m *model) beginRead(key string) uint64 {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := m.clock.Add(1)
	h.reads[rs]++
	return rs
}

// endRead checks what a read that started at rs observed, and forgets the
// read. It returns nil if some write explains obs: one that started before
// the read ended and was not superseded before the read started.
func (m *model) endRead(key string, rs uint64, obs *value) error {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	re := m.clock.Add(1)
	if h.reads[rs]--; h.reads[rs] <= 0 {
		delete(h.reads, rs)
	}
	err := h.explain(obs, rs, re)
	h.prune()
	return err
}

// forgetRead forgets a read that failed.
func (m *model) forgetRead(key string, rs uint64) {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.reads[rs]--; h.reads[rs] <= 0 {
		delete(h.reads, rs)
	}
	h.prune()
}

// check reports whether obs is a state the key may hold now, with no
// write in flight (after a restart).
func (m *model) check(key string, obs *value) error {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.explain(obs, math.MaxUint64, math.MaxUint64)
}

func (h *history) explain(obs *value, rs, re uint64) error {
	for _, w := range h.writes {
		if w.start >= re || !w.v.matches(obs) {
			continue
		}
		superseded := false
		for _, w2 := range h.writes {
			if w2.acked && w2.start > w.endOrInf() && w2.end < rs {
				superseded = true
				break
			}
		}
		if !superseded {
			return nil
		}
	}
	var allowed []string
	for _, w := range h.writes {
		state := "acked"
		if !w.acked {
			state = "unacknowledged"
		}
		allowed = append(allowed, fmt.Sprintf("%s [%s %s]", w.v, w.desc, state))
	}
	return fmt.Errorf("observed %s; history: %s", obs, strings.Join(allowed, "; "))
}

// candidates returns the values the key may hold now (for choosing SSE-C
// headers and for classifying reads); the caller must not modify them.
func (m *model) candidates(key string) []*value {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*value
	for _, w := range h.writes {
		out = append(out, w.v)
	}
	return out
}

// reset makes obs the only state of key: after a restart it is what the
// key holds, whatever was in flight before.
func (m *model) reset(key string, obs *value) {
	h := m.keys[key]
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes = []*write{{v: obs, start: 0, end: 0, acked: true, desc: "observed after restart"}}
	clear(h.reads)
}

// upload is a multipart upload a client created (or tried to).
type upload struct {
	key   string
	id    string
	sse   string
	state uploadState
	parts map[int32]*partRecord
}

type uploadState int

const (
	uploadOpen       uploadState = iota // created, neither completed nor aborted
	uploadCompleting                    // Complete sent, answer not (yet) received
	uploadAborting                      // Abort sent, answer not (yet) received
	uploadDone                          // Complete or Abort acknowledged
)

// partRecord is what the clients know of one part number.
type partRecord struct {
	acked   string // ETag of the last acknowledged upload of this part, "" if none
	pending int    // uploads of this part whose answer never came
}

func (m *model) addUpload(u *upload) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.uploads[u.id] = u
}

func (m *model) createPending(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pendingCreates[key]++
}

func (m *model) setUploadState(u *upload, s uploadState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u.state = s
}

// partBegin and partEnd bracket an UploadPart; etag is "" if the answer
// never came (the part may or may not be stored).
func (m *model) partBegin(u *upload, n int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := u.parts[n]
	if p == nil {
		p = &partRecord{}
		u.parts[n] = p
	}
	p.pending++
}

func (m *model) partEnd(u *upload, n int32, etag string, v verdict) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := u.parts[n]
	switch v {
	case vOK:
		p.pending--
		p.acked = etag
		m.acked.Add(1)
	case vRefused:
		p.pending--
	}
}

// takeUploads returns every upload not known to be done and the keys with
// a create in flight, and forgets them all (after a restart the test
// aborts whatever the server still lists).
func (m *model) takeUploads() ([]*upload, map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*upload
	for _, u := range m.uploads {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	pc := m.pendingCreates
	m.uploads, m.pendingCreates = map[string]*upload{}, map[string]int{}
	return out, pc
}

// TestKillModel checks the history model the process-level tests rely
// on: what a key may hold after acknowledged, refused and unanswered
// writes, and what a read concurrent with writes may see.
func TestKillModel(t *testing.T) {
	val := func(b byte) *value { return &value{size: 1, sum: [32]byte{b}, sse: "AES256"} }
	absent := &value{absent: true}
	m := newModel([]string{"k"})
	if err := m.check("k", absent); err != nil {
		t.Fatalf("a new key must be absent: %v", err)
	}
	a := m.begin("k", val(1), "a")
	m.ack("k", a, "ea")
	if m.check("k", absent) == nil {
		t.Fatal("absent accepted after an acknowledged PUT")
	}
	if err := m.check("k", &value{size: 1, sum: [32]byte{1}, sse: "AES256", etag: "ea"}); err != nil {
		t.Fatal(err)
	}
	if m.check("k", &value{size: 1, sum: [32]byte{1}, sse: "AES256", etag: "other"}) == nil {
		t.Fatal("a different ETag accepted")
	}
	if m.check("k", &value{size: 1, sum: [32]byte{1}, sse: "aws:kms", etag: "ea"}) == nil {
		t.Fatal("a different encryption accepted")
	}

	// A read that starts before b is sent may see a or b; one that starts
	// after b's acknowledgement only b.
	rs := m.beginRead("k")
	b := m.begin("k", val(2), "b")
	m.ack("k", b, "eb")
	if err := m.endRead("k", rs, &value{size: 1, sum: [32]byte{1}, sse: "AES256", etag: "ea"}); err != nil {
		t.Fatalf("concurrent read of the old value refused: %v", err)
	}
	rs = m.beginRead("k")
	if m.endRead("k", rs, &value{size: 1, sum: [32]byte{1}, sse: "AES256", etag: "ea"}) == nil {
		t.Fatal("stale read accepted")
	}

	// An unanswered write may or may not have happened; a refused one did not.
	m.begin("k", val(3), "c")
	d := m.begin("k", val(4), "d")
	m.fail("k", d)
	if err := m.check("k", &value{size: 1, sum: [32]byte{2}, sse: "AES256", etag: "eb"}); err != nil {
		t.Fatalf("old value refused with a write in flight: %v", err)
	}
	if err := m.check("k", &value{size: 1, sum: [32]byte{3}, sse: "AES256", etag: "anything"}); err != nil {
		t.Fatalf("unanswered write refused: %v", err)
	}
	if m.check("k", &value{size: 1, sum: [32]byte{4}, sse: "AES256", etag: "ed"}) == nil {
		t.Fatal("refused write accepted")
	}
	// A later acknowledged DELETE supersedes everything before it.
	e := m.begin("k", absent, "delete")
	m.ack("k", e, "")
	if err := m.check("k", absent); err != nil {
		t.Fatal(err)
	}
	if m.check("k", &value{size: 1, sum: [32]byte{2}, sse: "AES256", etag: "eb"}) == nil {
		t.Fatal("a write acknowledged before an acknowledged DELETE accepted after it")
	}
	// c was never answered: it may have committed after the DELETE.
	if err := m.check("k", &value{size: 1, sum: [32]byte{3}, sse: "AES256", etag: "x"}); err != nil {
		t.Fatalf("unanswered write refused: %v", err)
	}
	m.reset("k", val(9))
	if len(m.keys["k"].writes) != 1 {
		t.Fatal("reset kept old writes")
	}
}
