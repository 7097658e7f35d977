package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func driveStates(e *Engine) []string {
	var out []string
	for _, d := range e.Drives() {
		out = append(out, d.State)
	}
	return out
}

func TestDriveIdentity(t *testing.T) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	data := payload(8, 5*o.BlockSize)
	put(t, e, "bkt", "k", data)
	e.Close()

	// Two drives swapped between their paths: both are refused, and the
	// store serves from the other four.
	swapped := *o
	swapped.Drives = append([]string(nil), o.Drives...)
	swapped.Drives[4], swapped.Drives[5] = swapped.Drives[5], swapped.Drives[4]
	e = open(t, &swapped)
	if s := driveStates(e); s[4] != "refused" || s[5] != "refused" || s[0] != "online" {
		t.Fatalf("swapped drives: %v", s)
	}
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with two refused drives: %v", err)
	}
	e.Close()

	// A drive of another store mounted at position 3 is refused and never
	// written.
	other := &Options{Drives: drives(t, 1)}
	oe := open(t, other)
	oe.Close()
	foreign := *o
	foreign.Drives = append([]string(nil), o.Drives...)
	foreign.Drives[3] = other.Drives[0]
	e = open(t, &foreign)
	if s := driveStates(e); s[3] != "refused" {
		t.Fatalf("foreign drive: %v", s)
	}
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a foreign drive: %v", err)
	}
	mustBucket(t, e, "made-with-foreign")
	e.Close()
	if _, err := os.Stat(filepath.Join(other.Drives[0], "buckets", "made-with-foreign")); err == nil {
		t.Fatal("a bucket marker was written to the foreign drive")
	}
	if n := countShardFiles(t, other.Drives[0]); n != 0 {
		t.Fatalf("the foreign drive was written: %d shard files", n)
	}

	// A replaced, empty drive joins and is refilled in the background.
	if err := os.RemoveAll(o.Drives[2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(o.Drives[2], 0o755); err != nil {
		t.Fatal(err)
	}
	e = open(t, o)
	defer e.Close()
	if s := driveStates(e); s[2] != "new" {
		t.Fatalf("replaced drive: %v", s)
	}
	deadline := time.Now().Add(20 * time.Second)
	refilled := func() bool {
		for _, f := range shardFiles(t, o.Drives[2]) {
			if !strings.HasSuffix(f, ".heal") {
				return true
			}
		}
		return false
	}
	for !refilled() {
		if time.Now().After(deadline) {
			t.Fatal("the new drive was not refilled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// With the refilled drive, two others may now fail.
	os.RemoveAll(o.Drives[0] + "/shards")
	os.RemoveAll(o.Drives[1] + "/shards")
	if got, err := get(t, e, "bkt", "k", nil); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after refill with two drives gone: %v", err)
	}
}
