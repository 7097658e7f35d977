package kmsclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for deletion-window and TTL tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe bytes.Buffer for captured logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testRootKeyString(name string, fill byte) string {
	return name + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{fill}, 32))
}

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

type testKeyring struct {
	*Keyring
	dir   string
	clock *fakeClock
	logs  *syncBuffer
}

// openTestKeyring opens a keyring in a fresh directory with a root key
// from the (fake) environment.
func openTestKeyring(t testing.TB) *testKeyring {
	t.Helper()
	dir := t.TempDir()
	clock := newFakeClock()
	logs := &syncBuffer{}
	k, err := OpenKeyring(KeyringOptions{
		Dir:    dir,
		Getenv: envFrom(map[string]string{EnvRootKey: testRootKeyString("test", 7)}),
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Now:    clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return &testKeyring{Keyring: k, dir: dir, clock: clock, logs: logs}
}

// wantCode asserts err carries the AWS code and unwraps to sentinel.
func wantCode(t testing.TB, err error, sentinel error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s", code)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v does not wrap %v", err, sentinel)
	}
	var c interface{ KMSErrorCode() string }
	if !errors.As(err, &c) {
		t.Fatalf("error %v has no KMSErrorCode", err)
	}
	if c.KMSErrorCode() != code {
		t.Fatalf("code %s, want %s (%v)", c.KMSErrorCode(), code, err)
	}
}

// failingReader fails while on is set; otherwise it reads from r.
type failingReader struct {
	mu sync.Mutex
	r  io.Reader
	on bool
}

func (f *failingReader) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on {
		return 0, errors.New("injected randomness failure")
	}
	return f.r.Read(p)
}

func (f *failingReader) set(on bool) {
	f.mu.Lock()
	f.on = on
	f.mu.Unlock()
}

var bg = context.Background()

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%q does not contain %q", s, sub)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
