package kmsclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKM is a scripted KeyManager: blobs are "blob-N", plaintexts random.
type fakeKM struct {
	mu       sync.Mutex
	n        int
	keys     map[string][]byte
	calls    atomic.Int32
	failWith error
}

func newFakeKM() *fakeKM { return &fakeKM{keys: map[string][]byte{}} }

func (f *fakeKM) Name() string { return "fake" }

func (f *fakeKM) fail() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failWith
}

func (f *fakeKM) setFail(err error) {
	f.mu.Lock()
	f.failWith = err
	f.mu.Unlock()
}

func (f *fakeKM) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	f.calls.Add(1)
	if err := f.fail(); err != nil {
		return DataKey{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	blob := fmt.Sprintf("blob-%d|%s", f.n, ec.Canonical())
	pt := bytes.Repeat([]byte{byte(f.n)}, 32)
	f.keys[blob] = pt
	dk := DataKey{KeyID: "arn:" + keyID, Plaintext: bytes.Clone(pt), Ciphertext: []byte(blob)}
	if o, _ := collectDataKeyOptions(opts); o.noPlaintext {
		dk.Plaintext = nil
	}
	return dk, nil
}

func (f *fakeKM) Decrypt(ctx context.Context, keyID string, ct []byte, ec EncryptionContext) ([]byte, error) {
	f.calls.Add(1)
	if err := f.fail(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pt, ok := f.keys[string(ct)]
	if !ok || !strings.HasSuffix(string(ct), "|"+string(ec.Canonical())) {
		return nil, newError("fake", "Decrypt", keyID, ErrInvalidCiphertext, "bad")
	}
	return bytes.Clone(pt), nil
}

func (f *fakeKM) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	f.calls.Add(1)
	if err := f.fail(); err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{KeyID: keyID, ARN: "arn:" + keyID, State: KeyStateEnabled, Spec: KeySpecSymmetricDefault, Usage: KeyUsageEncryptDecrypt}, nil
}

func newTestCache(t *testing.T, km KeyManager, o CacheOptions) (*Cache, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if o.Now == nil {
		o.Now = clock.Now
	}
	c, err := NewCache(km, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clock
}

func TestCacheHitsAndCopies(t *testing.T) {
	f := newFakeKM()
	c, _ := newTestCache(t, f, CacheOptions{})
	ec := EncryptionContext{"a": "b"}
	dk, err := c.GenerateDataKey(bg, "k", ec)
	if err != nil {
		t.Fatal(err)
	}
	before := f.calls.Load()
	for i := 0; i < 3; i++ {
		pt, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
		if err != nil || !bytes.Equal(pt, dk.Plaintext) {
			t.Fatalf("cached decrypt: %v", err)
		}
		clear(pt) // the caller wiping its copy must not affect the cache
	}
	if f.calls.Load() != before {
		t.Fatalf("backend called %d times for cached key", f.calls.Load()-before)
	}
	// Another context or key id is another entry (and here: a failure).
	if _, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"a": "c"}); !errors.Is(err, ErrInvalidCiphertext) {
		t.Fatalf("other context: %v", err)
	}
	if _, err := c.Decrypt(bg, "other", dk.Ciphertext, ec); err != nil {
		t.Fatal(err)
	}
	if f.calls.Load() != before+2 {
		t.Fatal("distinct entries were served from the cache")
	}
	if n, _ := c.Len(); n != 2 {
		t.Fatalf("%d entries", n)
	}
	// WithoutPlaintext results are not cached.
	np, _ := c.GenerateDataKey(bg, "k", ec, WithoutPlaintext())
	if n, _ := c.Len(); np.Plaintext != nil || n != 2 {
		t.Fatalf("WithoutPlaintext: %d entries", n)
	}
}

func TestCacheExpiryEvictionAndWipe(t *testing.T) {
	f := newFakeKM()
	c, clock := newTestCache(t, f, CacheOptions{TTL: time.Minute, MaxEntries: 3})
	var dks []DataKey
	for i := 0; i < 3; i++ {
		dk, _ := c.GenerateDataKey(bg, "k", nil)
		dks = append(dks, dk)
	}
	c.mu.Lock()
	first := c.keys[cacheKey(dks[0].KeyID, dks[0].Ciphertext, nil)].plaintext
	second := c.keys[cacheKey(dks[1].KeyID, dks[1].Ciphertext, nil)].plaintext
	c.mu.Unlock()
	// A fourth entry evicts the oldest and wipes it.
	c.GenerateDataKey(bg, "k", nil)
	if n, _ := c.Len(); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
	if !bytes.Equal(first, make([]byte, 32)) {
		t.Fatal("evicted plaintext not wiped")
	}
	calls := f.calls.Load()
	if _, err := c.Decrypt(bg, dks[0].KeyID, dks[0].Ciphertext, nil); err != nil || f.calls.Load() != calls+1 {
		t.Fatal("evicted entry served from cache")
	}
	// After the TTL every entry is gone and wiped.
	clock.Advance(time.Minute)
	c.Sweep()
	if n, _ := c.Len(); n != 0 {
		t.Fatalf("%d entries after TTL", n)
	}
	if !bytes.Equal(second, make([]byte, 32)) {
		t.Fatal("expired plaintext not wiped")
	}
	calls = f.calls.Load()
	c.Decrypt(bg, dks[1].KeyID, dks[1].Ciphertext, nil)
	if f.calls.Load() != calls+1 {
		t.Fatal("expired entry served")
	}
}

func TestCacheOutage(t *testing.T) {
	f := newFakeKM()
	c, clock := newTestCache(t, f, CacheOptions{TTL: time.Minute, StaleIfUnavailable: time.Hour})
	dk, _ := c.GenerateDataKey(bg, "k", nil)
	info, _ := c.DescribeKey(bg, "k")
	outage := newError("fake", "Decrypt", "k", ErrUnavailable, "down")
	f.setFail(outage)
	// Within TTL: served without the backend.
	if _, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil); err != nil {
		t.Fatal(err)
	}
	// Past TTL but within the stale window: served only because of the outage.
	clock.Advance(2 * time.Minute)
	pt, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil)
	if err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("stale during outage: %v", err)
	}
	if got, err := c.DescribeKey(bg, "k"); err != nil || got.ARN != info.ARN {
		t.Fatalf("stale describe during outage: %v", err)
	}
	// Other failures are not masked.
	f.setFail(newError("fake", "Decrypt", "k", ErrDisabled, "disabled"))
	if _, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled key masked by cache: %v", err)
	}
	// Past the stale window: the outage shows.
	f.setFail(outage)
	clock.Advance(time.Hour)
	if _, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after stale window: %v", err)
	}
	// Without StaleIfUnavailable an expired entry is never served.
	f.setFail(nil)
	c2, clock2 := newTestCache(t, f, CacheOptions{TTL: time.Minute})
	dk2, _ := c2.GenerateDataKey(bg, "k", nil)
	f.setFail(outage)
	clock2.Advance(time.Minute)
	if _, err := c2.Decrypt(bg, dk2.KeyID, dk2.Ciphertext, nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("expired entry served: %v", err)
	}
}

func TestCacheTimerWipesWithoutUse(t *testing.T) {
	f := newFakeKM()
	c, err := NewCache(f, CacheOptions{TTL: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.GenerateDataKey(bg, "k", nil)
	c.DescribeKey(bg, "k")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if k, d := c.Len(); k == 0 && d == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("expired entries not swept by the timer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCacheCloseWipes(t *testing.T) {
	f := newFakeKM()
	c, _ := newTestCache(t, f, CacheOptions{})
	dk, _ := c.GenerateDataKey(bg, "k", nil)
	c.mu.Lock()
	pt := c.keys[cacheKey(dk.KeyID, dk.Ciphertext, nil)].plaintext
	c.mu.Unlock()
	c.Close()
	if !bytes.Equal(pt, make([]byte, 32)) {
		t.Fatal("Close did not wipe")
	}
	if n, _ := c.Len(); n != 0 {
		t.Fatal("entries after Close")
	}
	if err := (&CacheOptions{TTL: -1, MaxEntries: -1}).Validate(); err == nil {
		t.Fatal("invalid options accepted")
	}
}

func TestCacheConcurrent(t *testing.T) {
	k := openTestKeyring(t)
	c, _ := newTestCache(t, k, CacheOptions{MaxEntries: 16, Now: time.Now})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				ec := EncryptionContext{"i": fmt.Sprint(i % 5)}
				dk, err := c.GenerateDataKey(bg, "", ec)
				if err != nil {
					t.Error(err)
					return
				}
				pt, err := c.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec)
				if err != nil || !bytes.Equal(pt, dk.Plaintext) {
					t.Error("mismatch", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestAuditLog(t *testing.T) {
	k := openTestKeyring(t)
	var buf syncBuffer
	var failures atomic.Int32
	a := NewAudit(k, &buf, AuditOptions{OnError: func(error) { failures.Add(1) }})
	ec := EncryptionContext{"aws:s3:arn": "arn:aws:s3:::photos/2026/cat.jpg"}
	ctx := WithRequestInfo(bg, RequestInfo{RequestID: "req-1", Bucket: "photos", Object: "2026/cat.jpg"})
	dk, err := a.GenerateDataKey(ctx, "", ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Decrypt(bg, dk.KeyID, dk.Ciphertext, ec); err != nil { // bucket/object from aws:s3:arn
		t.Fatal(err)
	}
	a.Decrypt(bg, dk.KeyID, dk.Ciphertext, EncryptionContext{"aws:s3:arn": "arn:aws:s3:::photos"})
	a.DescribeKey(bg, "alias/missing")

	var recs []AuditRecord
	sc := bufio.NewScanner(strings.NewReader(buf.String()))
	for sc.Scan() {
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 4 || failures.Load() != 0 {
		t.Fatalf("%d records, %d failures:\n%s", len(recs), failures.Load(), buf.String())
	}
	r := recs[0]
	if r.Op != "GenerateDataKey" || r.Backend != "keyring" || r.KeyARN != dk.KeyID || r.RequestID != "req-1" ||
		r.Bucket != "photos" || r.Object != "2026/cat.jpg" || r.Result != "ok" || r.EncryptionContext["aws:s3:arn"] == "" || r.Time.IsZero() {
		t.Fatalf("generate record %+v", r)
	}
	if r := recs[1]; r.Op != "Decrypt" || r.Bucket != "photos" || r.Object != "2026/cat.jpg" || r.Result != "ok" || r.KeyID != dk.KeyID {
		t.Fatalf("decrypt record %+v", r)
	}
	if r := recs[2]; r.Result != "error" || r.ErrorCode != CodeInvalidCiphertext || r.Bucket != "photos" || r.Object != "" {
		t.Fatalf("failed decrypt record %+v", r)
	}
	if r := recs[3]; r.Op != "DescribeKey" || r.ErrorCode != CodeNotFound {
		t.Fatalf("describe record %+v", r)
	}
	log := buf.String()
	for _, enc := range []string{string(dk.Plaintext), base64.StdEncoding.EncodeToString(dk.Plaintext), hex.EncodeToString(dk.Plaintext),
		base64.StdEncoding.EncodeToString(dk.Ciphertext)} {
		if strings.Contains(log, enc) {
			t.Fatal("audit log contains key material")
		}
	}
	// Write failures are reported, the call still succeeds.
	bad := NewAudit(k, failingWriter{}, AuditOptions{OnError: func(error) { failures.Add(1) }})
	if _, err := bad.GenerateDataKey(bg, "", nil); err != nil || failures.Load() != 1 {
		t.Fatalf("%v, %d failures", err, failures.Load())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestAuditConcurrentLinesStayWhole(t *testing.T) {
	f := newFakeKM()
	var buf syncBuffer
	a := NewAudit(f, &buf, AuditOptions{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				a.GenerateDataKey(bg, "k", EncryptionContext{"g": strings.Repeat("x", g*100)})
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("torn line %q", l)
		}
	}
}
