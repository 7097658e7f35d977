package engine

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var ctx = context.Background()

// drives returns n drive directories under a fresh temp dir.
func drives(t testing.TB, n int) []string {
	root := t.TempDir()
	out := make([]string, n)
	for i := range out {
		out[i] = filepath.Join(root, fmt.Sprintf("d%d", i))
	}
	return out
}

func open(t testing.TB, o *Options) *Engine {
	t.Helper()
	e, err := Open("", o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// open42 opens a 4+2 engine over six drives with a small block size so
// that tests cross many stripes cheaply.
func open42(t testing.TB) (*Engine, *Options) {
	o := &Options{Drives: drives(t, 6), DataShards: 4, ParityShards: 2, BlockSize: 64 << 10, InlineThreshold: 1024}
	e := open(t, o)
	t.Cleanup(func() { e.Close() })
	return e, o
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func mustBucket(t testing.TB, e *Engine, name string) {
	t.Helper()
	if err := e.CreateBucket(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func put(t testing.TB, e *Engine, b, k string, data []byte) ObjectInfo {
	t.Helper()
	info, err := e.PutObject(ctx, b, k, bytes.NewReader(data), &PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("put %s/%s: %v", b, k, err)
	}
	return info
}

func get(t testing.TB, e *Engine, b, k string, opts *GetOptions) ([]byte, error) {
	t.Helper()
	o, err := e.GetObject(ctx, b, k, opts)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	var buf bytes.Buffer
	_, err = o.WriteTo(&buf)
	return buf.Bytes(), err
}

func md5hex(b []byte) string { s := md5.Sum(b); return hex.EncodeToString(s[:]) }

func TestRoundTripSizes(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	block := o.BlockSize
	sizes := []int{0, 1, 1023, 1024, 1025, block - 1, block, block + 1, 3*block + 7, 4 * block}
	for i, n := range sizes {
		data := payload(uint64(i), n)
		key := fmt.Sprintf("obj-%d", n)
		info := put(t, e, "bkt", key, data)
		if info.ETag != md5hex(data) || info.Size != int64(n) {
			t.Fatalf("size %d: info %+v, want etag %s", n, info, md5hex(data))
		}
		got, err := get(t, e, "bkt", key, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read back %d bytes, err %v", n, len(got), err)
		}
		// Ranges at every interesting boundary.
		for _, off := range []int{0, 1, 1023, 1024, block - 1, block, block + 1, n - 1} {
			for _, l := range []int{1, 2, block, n} {
				if off < 0 || off >= n || l <= 0 {
					continue
				}
				last := min(off+l, n) - 1
				got, err := get(t, e, "bkt", key, &GetOptions{Range: ByteRange(int64(off), int64(last))})
				if err != nil || !bytes.Equal(got, data[off:last+1]) {
					t.Fatalf("size %d range %d-%d: %d bytes, err %v", n, off, last, len(got), err)
				}
			}
		}
		if n > 0 {
			got, err := get(t, e, "bkt", key, &GetOptions{Range: Suffix(int64(n/2 + 1))})
			if err != nil || !bytes.Equal(got, data[n-(n/2+1):]) {
				t.Fatalf("size %d suffix: err %v", n, err)
			}
		}
		if _, err := get(t, e, "bkt", key, &GetOptions{Range: FromOffset(int64(n))}); !errors.Is(err, ErrInvalidRange) {
			t.Fatalf("size %d: range past the end gave %v, want ErrInvalidRange", n, err)
		}
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	h := Headers{ContentType: "text/plain", ContentEncoding: "gzip", CacheControl: "no-cache",
		ContentDisposition: "attachment", ContentLanguage: "en", Expires: "Wed, 21 Oct 2015 07:28:00 GMT"}
	_, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("x")), &PutOptions{
		Headers: h, UserMetadata: map[string]string{"Color": "blue", "size": "L"},
		Checksum: Checksum{Algorithm: "CRC32", Value: "AAAAAA=="},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.HeadObject(ctx, "bkt", "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Headers != h || info.UserMetadata["color"] != "blue" || info.UserMetadata["size"] != "L" || info.Checksum.Value != "AAAAAA==" {
		t.Fatalf("metadata not returned: %+v", info)
	}
	big := map[string]string{"k": string(make([]byte, MaxUserMetadata))}
	if _, err := e.PutObject(ctx, "bkt", "big", bytes.NewReader(nil), &PutOptions{UserMetadata: big}); !errors.Is(err, ErrMetadataTooLarge) {
		t.Fatalf("oversized metadata: %v", err)
	}
}

func TestBuckets(t *testing.T) {
	e, _ := open42(t)
	for _, bad := range []string{"ab", "Upper", "a..b", "192.168.1.1", "-ab", "xn--ab", "a_b"} {
		if err := e.CreateBucket(ctx, bad); !errors.Is(err, ErrInvalidBucketName) {
			t.Errorf("CreateBucket(%q) = %v, want ErrInvalidBucketName", bad, err)
		}
	}
	mustBucket(t, e, "b-1")
	mustBucket(t, e, "a.2")
	if err := e.CreateBucket(ctx, "b-1"); !errors.Is(err, ErrBucketExists) {
		t.Fatalf("duplicate bucket: %v", err)
	}
	bs, err := e.ListBuckets(ctx)
	if err != nil || len(bs) != 2 || bs[0].Name != "a.2" || bs[1].Name != "b-1" {
		t.Fatalf("ListBuckets = %+v, %v", bs, err)
	}
	put(t, e, "b-1", "k", []byte("v"))
	if err := e.DeleteBucket(ctx, "b-1"); !errors.Is(err, ErrBucketNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if err := e.DeleteObject(ctx, "b-1", "k"); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteBucket(ctx, "b-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.HeadBucket(ctx, "b-1"); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("head deleted bucket: %v", err)
	}
	if _, err := e.PutObject(ctx, "nope", "k", bytes.NewReader(nil), nil); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("put into missing bucket: %v", err)
	}
	if err := e.DeleteObject(ctx, "a.2", "missing"); err != nil {
		t.Fatalf("deleting a missing key must succeed: %v", err)
	}
}

func TestConditionalRequests(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	info := put(t, e, "bkt", "k", []byte("hello"))
	etag := `"` + info.ETag + `"`
	later := info.ModTime.Add(time.Hour)
	earlier := info.ModTime.Add(-time.Hour)
	cases := []struct {
		c    Conditions
		want error
	}{
		{Conditions{IfMatch: etag}, nil},
		{Conditions{IfMatch: `"nope"`}, ErrPreconditionFailed},
		{Conditions{IfMatch: "*"}, nil},
		{Conditions{IfNoneMatch: etag}, ErrNotModified},
		{Conditions{IfNoneMatch: `"other"`}, nil},
		{Conditions{IfModifiedSince: later}, ErrNotModified},
		{Conditions{IfModifiedSince: earlier}, nil},
		{Conditions{IfUnmodifiedSince: earlier}, ErrPreconditionFailed},
		{Conditions{IfUnmodifiedSince: later}, nil},
		// S3: If-Match true wins over If-Unmodified-Since false.
		{Conditions{IfMatch: etag, IfUnmodifiedSince: earlier}, nil},
		// If-None-Match false and If-Modified-Since true: 304.
		{Conditions{IfNoneMatch: etag, IfModifiedSince: earlier}, ErrNotModified},
	}
	for _, c := range cases {
		_, err := get(t, e, "bkt", "k", &GetOptions{Conditions: c.c})
		if !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("%+v: got %v, want %v", c.c, err, c.want)
		}
		if _, err := e.HeadObject(ctx, "bkt", "k", &GetOptions{Conditions: c.c}); !errors.Is(err, c.want) && !(c.want == nil && err == nil) {
			t.Errorf("HEAD %+v: got %v, want %v", c.c, err, c.want)
		}
	}
	// Conditional writes.
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("x")), &PutOptions{Conditions: Conditions{IfNoneMatch: "*"}}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("If-None-Match * over an existing key: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "new", bytes.NewReader([]byte("x")), &PutOptions{Conditions: Conditions{IfNoneMatch: "*"}}); err != nil {
		t.Fatalf("If-None-Match * on a new key: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "absent", bytes.NewReader([]byte("x")), &PutOptions{Conditions: Conditions{IfMatch: etag}}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("If-Match on a missing key: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("y")), &PutOptions{Conditions: Conditions{IfMatch: `"zzz"`}}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("If-Match mismatch: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader([]byte("y")), &PutOptions{Conditions: Conditions{IfMatch: etag}}); err != nil {
		t.Fatalf("If-Match match: %v", err)
	}
}

func TestPutValidation(t *testing.T) {
	e, _ := open42(t)
	mustBucket(t, e, "bkt")
	data := payload(1, 5000)
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), &PutOptions{Size: 6000}); !errors.Is(err, ErrIncompleteBody) {
		t.Fatalf("short body: %v", err)
	}
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), &PutOptions{Size: 10}); !errors.Is(err, ErrIncompleteBody) {
		t.Fatalf("long body: %v", err)
	}
	bad := md5.Sum([]byte("other"))
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), &PutOptions{ContentMD5: bad[:]}); !errors.Is(err, ErrBadDigest) {
		t.Fatalf("bad Content-MD5: %v", err)
	}
	good := md5.Sum(data)
	if _, err := e.PutObject(ctx, "bkt", "k", bytes.NewReader(data), &PutOptions{ContentMD5: good[:]}); err != nil {
		t.Fatalf("good Content-MD5: %v", err)
	}
	verr := errors.New("trailer checksum mismatch")
	if _, err := e.PutObject(ctx, "bkt", "v", bytes.NewReader(data), &PutOptions{Verify: func() error { return verr }}); !errors.Is(err, verr) {
		t.Fatalf("Verify error not returned: %v", err)
	}
	if _, err := e.HeadObject(ctx, "bkt", "v", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("a put that failed verification is visible: %v", err)
	}
	for _, k := range []string{"", string(make([]byte, 1025)), "a\x00b", "\xff"} {
		if _, err := e.PutObject(ctx, "bkt", k, bytes.NewReader(nil), nil); !errors.Is(err, ErrInvalidObjectName) {
			t.Errorf("key %q: %v", k, err)
		}
	}
	// Nothing of the failed puts is left on the drives.
	e.Close()
}

func TestCopyObject(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "src")
	mustBucket(t, e, "dst")
	data := payload(7, 3*o.BlockSize+5)
	_, err := e.PutObject(ctx, "src", "k", bytes.NewReader(data), &PutOptions{Headers: Headers{ContentType: "a/b"}, UserMetadata: map[string]string{"x": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.CopyObject(ctx, "src", "k", "dst", "k2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.ETag != md5hex(data) || info.ContentType != "a/b" || info.UserMetadata["x"] != "1" {
		t.Fatalf("copy info %+v", info)
	}
	got, err := get(t, e, "dst", "k2", nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy content: %v", err)
	}
	if _, err := e.CopyObject(ctx, "src", "k", "src", "k", nil); !errors.Is(err, ErrInvalidCopy) {
		t.Fatalf("self copy without changes: %v", err)
	}
	info, err = e.CopyObject(ctx, "src", "k", "src", "k", &CopyOptions{ReplaceMetadata: true, Headers: Headers{ContentType: "c/d"}})
	if err != nil || info.ContentType != "c/d" || info.UserMetadata != nil {
		t.Fatalf("self copy replacing metadata: %+v %v", info, err)
	}
	if _, err := e.CopyObject(ctx, "src", "k", "dst", "k3", &CopyOptions{SourceConditions: Conditions{IfNoneMatch: `"` + md5hex(data) + `"`}}); !errors.Is(err, ErrPreconditionFailed) {
		t.Fatalf("copy-source-if-none-match: %v", err)
	}
	if _, err := e.CopyObject(ctx, "src", "missing", "dst", "k3", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("copy of missing source: %v", err)
	}
}

// TestOverwriteReleasesShards checks that overwrites and deletes leave no
// shard files behind.
func TestOverwriteReleasesShards(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	for i := range 5 {
		put(t, e, "bkt", "k", payload(uint64(i), 2*o.BlockSize))
	}
	put(t, e, "bkt", "gone", payload(9, 2*o.BlockSize))
	if err := e.DeleteObject(ctx, "bkt", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range o.Drives {
		if n := countShardFiles(t, d); n != 1 {
			t.Errorf("drive %s holds %d shard files, want 1", d, n)
		}
	}
}

func countShardFiles(t testing.TB, drive string) int {
	n := 0
	filepath.Walk(filepath.Join(drive, "shards"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestReopenKeepsObjects(t *testing.T) {
	o := &Options{Drives: drives(t, 3), BlockSize: 64 << 10}
	e := open(t, o)
	mustBucket(t, e, "bkt")
	small, large := payload(1, 100), payload(2, 300<<10)
	put(t, e, "bkt", "small", small)
	put(t, e, "bkt", "large", large)
	e.Close()
	e = open(t, o)
	defer e.Close()
	for k, want := range map[string][]byte{"small": small, "large": large} {
		got, err := get(t, e, "bkt", k, nil)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s after reopen: %v", k, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	o := (&Options{Drives: []string{"a", "a"}, DataShards: 3, ParityShards: 1, BlockSize: 1}).EnsureDefaults("")
	err := o.Validate()
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	for _, want := range []string{"listed twice", "exceeds", "BlockSize"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("Validate does not report %q: %v", want, err)
		}
	}
	for drivesN, wantM := range map[int]int{1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3, 7: 3, 8: 4, 12: 4} {
		o := (&Options{Drives: make([]string, drivesN)}).EnsureDefaults("")
		if o.ParityShards != wantM || o.DataShards != drivesN-wantM {
			t.Errorf("%d drives: %d+%d, want %d+%d", drivesN, o.DataShards, o.ParityShards, drivesN-wantM, wantM)
		}
	}
	if o := (&Options{Drives: make([]string, 4), ParityShards: NoParity}).EnsureDefaults(""); o.ParityShards != 0 || o.DataShards != 4 {
		t.Errorf("NoParity: %d+%d", o.DataShards, o.ParityShards)
	}
}

func TestTwoEnginesInOneProcess(t *testing.T) {
	a := open(t, &Options{Drives: drives(t, 1)})
	defer a.Close()
	b := open(t, &Options{Drives: drives(t, 2), FS: vfs.Default})
	defer b.Close()
	mustBucket(t, a, "bkt")
	mustBucket(t, b, "bkt")
	put(t, a, "bkt", "k", []byte("a"))
	put(t, b, "bkt", "k", []byte("b"))
	ga, _ := get(t, a, "bkt", "k", nil)
	gb, _ := get(t, b, "bkt", "k", nil)
	if string(ga) != "a" || string(gb) != "b" {
		t.Fatalf("engines share state: %q %q", ga, gb)
	}
}

func TestUnknownLengthStreamingPut(t *testing.T) {
	e, o := open42(t)
	mustBucket(t, e, "bkt")
	data := payload(3, 5*o.BlockSize+123)
	// An io.Reader with no Len: the engine must stream it.
	info, err := e.PutObject(ctx, "bkt", "k", io.MultiReader(bytes.NewReader(data[:100]), bytes.NewReader(data[100:])), nil)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("%+v %v", info, err)
	}
	got, err := get(t, e, "bkt", "k", nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
}
