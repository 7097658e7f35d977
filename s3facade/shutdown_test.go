package s3facade

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cofferdb/coffer/engine"
)

// TestShutdownBeforeServe: a Shutdown that runs before Serve has begun
// (a SIGTERM right at start, say) still stops that Serve, which returns
// nil instead of accepting forever; a Serve after Shutdown returns at once.
func TestShutdownBeforeServe(t *testing.T) {
	e, err := engine.Open(t.TempDir(), &engine.Options{Sync: engine.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := New(e, Config{Users: []User{{AccessKey: testAccess, SecretKey: testSecret}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve after Shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve after Shutdown did not return")
		}
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatal("the listener still accepts after Shutdown")
		}
	}
}

// TestShutdownRacesServe starts Serve and Shutdown at the same time, many
// times: whichever wins, Serve returns nil and, once Shutdown has
// returned, the listener accepts nothing.
func TestShutdownRacesServe(t *testing.T) {
	e, err := engine.Open(t.TempDir(), &engine.Options{Sync: engine.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 50 {
		s, err := New(e, Config{Users: []User{{AccessKey: testAccess, SecretKey: testSecret}}})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		if i%2 == 1 {
			time.Sleep(time.Duration(i) * 20 * time.Microsecond)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("round %d: shutdown: %v", i, err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: Serve: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Serve did not return after Shutdown", i)
		}
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Fatalf("round %d: the listener still accepts after Shutdown", i)
		}
	}
}
