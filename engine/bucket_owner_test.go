package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cofferdb/coffer/engine/internal/index"
)

func TestBucketOwnerRecordedAndReturned(t *testing.T) {
	o := &Options{Drives: drives(t, 3), Sync: SyncNone}
	e := open(t, o)
	if err := e.CreateBucket(ctx, "rootbkt"); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucketWithOptions(ctx, "alicebkt", &BucketOptions{Owner: "alice-id"}); err != nil {
		t.Fatal(err)
	}
	if err := e.CreateBucketWithOptions(ctx, "nilopts", nil); err != nil {
		t.Fatal(err)
	}
	// A second creation fails whoever asks, and leaves the owner alone.
	for _, owner := range []string{"alice-id", "bob-id", ""} {
		err := e.CreateBucketWithOptions(ctx, "alicebkt", &BucketOptions{Owner: owner})
		if !errors.Is(err, ErrBucketExists) {
			t.Fatalf("re-create by %q: %v, want ErrBucketExists", owner, err)
		}
	}
	want := map[string]string{"alicebkt": "alice-id", "nilopts": "", "rootbkt": ""}
	check := func(e *Engine, when string) {
		t.Helper()
		for name, owner := range want {
			info, err := e.HeadBucket(ctx, name)
			if err != nil || info.Owner != owner || info.Name != name || info.Created.IsZero() {
				t.Fatalf("%s: HeadBucket(%s) = %+v, %v; want owner %q", when, name, info, err, owner)
			}
		}
		all, err := e.ListBuckets(ctx)
		if err != nil || len(all) != len(want) {
			t.Fatalf("%s: ListBuckets = %+v, %v", when, all, err)
		}
		for _, b := range all {
			if b.Owner != want[b.Name] {
				t.Fatalf("%s: ListBuckets owner of %s = %q, want %q", when, b.Name, b.Owner, want[b.Name])
			}
		}
	}
	check(e, "before restart")

	// Changing the bucket's encryption rewrites its record: the owner stays.
	if err := e.SetBucketEncryption(ctx, "alicebkt", BucketEncryption{Algorithm: SSES3}); err != nil {
		t.Fatal(err)
	}
	check(e, "after SetBucketEncryption")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open(t, o)
	check(e, "after restart")

	// Losing every index replica: the bucket markers bring owners back.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range o.Drives {
		if err := os.RemoveAll(filepath.Join(d, "index")); err != nil {
			t.Fatal(err)
		}
	}
	e = open(t, o)
	defer e.Close()
	check(e, "after index rebuild")
}

func TestSetBucketOwner(t *testing.T) {
	o := &Options{Drives: drives(t, 2), Sync: SyncNone}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	put(t, e, "bkt", "k", []byte("kept"))
	if err := e.SetBucketOwner(ctx, "bkt", "carol"); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.HeadBucket(ctx, "bkt"); info.Owner != "carol" {
		t.Fatalf("owner %q after SetBucketOwner, want carol", info.Owner)
	}
	if got, err := get(t, e, "bkt", "k", nil); err != nil || string(got) != "kept" {
		t.Fatalf("object after owner change: %q %v", got, err)
	}
	if err := e.SetBucketOwner(ctx, "bkt", ""); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.HeadBucket(ctx, "bkt"); info.Owner != "" {
		t.Fatalf("owner %q after giving the bucket back to root", info.Owner)
	}
	if err := e.SetBucketOwner(ctx, "missing", "carol"); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("SetBucketOwner of a missing bucket: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBucketOwnerValidation(t *testing.T) {
	e := open(t, &Options{Drives: drives(t, 1), Sync: SyncNone})
	defer e.Close()
	mustBucket(t, e, "bkt")
	for _, bad := range []string{strings.Repeat("x", MaxOwnerLength+1), "a\x00b", "line\nbreak", "\xff\xfe"} {
		if err := e.CreateBucketWithOptions(ctx, "new", &BucketOptions{Owner: bad}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("owner %q accepted by CreateBucketWithOptions: %v", bad, err)
		}
		if err := e.SetBucketOwner(ctx, "bkt", bad); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("owner %q accepted by SetBucketOwner: %v", bad, err)
		}
	}
	if _, err := e.HeadBucket(ctx, "new"); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("a refused creation left a bucket: %v", err)
	}
	if err := e.CreateBucketWithOptions(ctx, "new", &BucketOptions{Owner: strings.Repeat("é", MaxOwnerLength/2)}); err != nil {
		t.Fatalf("owner of exactly MaxOwnerLength bytes refused: %v", err)
	}
}

// TestLegacyBucketRecordBelongsToRoot writes a bucket record the way
// versions before owners did (fields 1 and 2 only) and reads it back.
func TestLegacyBucketRecordBelongsToRoot(t *testing.T) {
	e := open(t, &Options{Drives: drives(t, 1), Sync: SyncNone})
	defer e.Close()
	// Version byte 1; field 1, length 1, zigzag varint 2 (Created = 1 ns);
	// field 2, length 2, "{}" (Config).
	legacy := []byte{1, 1, 1, 2, 2, 2, '{', '}'}
	if err := e.idx.Update(func(t *index.Txn) error { t.Set(index.BucketKey("old"), legacy); return nil }); err != nil {
		t.Fatal(err)
	}
	info, err := e.HeadBucket(ctx, "old")
	if err != nil || info.Owner != "" || info.Created.UnixNano() != 1 {
		t.Fatalf("legacy bucket: %+v %v", info, err)
	}
	all, err := e.ListBuckets(ctx)
	if err != nil || len(all) != 1 || all[0].Owner != "" {
		t.Fatalf("legacy bucket in ListBuckets: %+v %v", all, err)
	}
	if err := e.SetBucketOwner(ctx, "old", "dave"); err != nil {
		t.Fatal(err)
	}
	if info, _ := e.HeadBucket(ctx, "old"); info.Owner != "dave" {
		t.Fatalf("owner of a legacy bucket after SetBucketOwner: %q", info.Owner)
	}
}
