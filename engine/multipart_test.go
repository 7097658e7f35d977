package engine

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// openMP opens a 4+2 engine whose minimum part size is 64 KiB, so tests
// exercise the rules without writing 5 MiB parts.
func openMP(t *testing.T) (*Engine, *Options) {
	e, o := open42(t)
	e.minPartSize = 64 << 10
	mustBucket(t, e, "bkt")
	return e, o
}

func createUpload(e *Engine, key string, opts *MultipartOptions) (string, error) {
	u, err := e.CreateMultipartUpload(ctx, "bkt", key, opts)
	return u.UploadID, err
}

func uploadParts(t *testing.T, e *Engine, key, id string, parts ...[]byte) []CompletePart {
	t.Helper()
	var out []CompletePart
	for i, p := range parts {
		info, err := e.UploadPart(ctx, "bkt", key, id, i+1, bytes.NewReader(p), &PartOptions{Size: int64(len(p))})
		if err != nil {
			t.Fatalf("part %d: %v", i+1, err)
		}
		if info.ETag != md5hex(p) {
			t.Fatalf("part %d etag %s", i+1, info.ETag)
		}
		out = append(out, CompletePart{PartNumber: i + 1, ETag: `"` + info.ETag + `"`})
	}
	return out
}

func multipartETag(parts ...[]byte) string {
	var cat []byte
	for _, p := range parts {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	s := md5.Sum(cat)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(s[:]), len(parts))
}

func TestMultipartRoundTrip(t *testing.T) {
	e, _ := openMP(t)
	p1, p2, p3 := payload(1, 64<<10), payload(2, 100<<10+3), payload(3, 777)
	id, err := createUpload(e, "big", &MultipartOptions{Headers: Headers{ContentType: "video/mp4"}, UserMetadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	cps := uploadParts(t, e, "big", id, p1, payload(9, 70<<10), p3)
	// Re-uploading part 2 replaces it.
	cps[1] = uploadParts(t, e, "big", id, p1, p2)[1]
	info, err := e.CompleteMultipartUpload(ctx, "bkt", "big", id, cps, nil)
	if err != nil {
		t.Fatal(err)
	}
	whole := bytes.Join([][]byte{p1, p2, p3}, nil)
	if info.ETag != multipartETag(p1, p2, p3) || info.Size != int64(len(whole)) || info.PartsCount != 3 || info.ContentType != "video/mp4" {
		t.Fatalf("info %+v", info)
	}
	got, err := get(t, e, "bkt", "big", nil)
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("content: %v", err)
	}
	// Ranges across the part boundaries.
	b1, b2 := int64(len(p1)), int64(len(p1)+len(p2))
	for _, r := range [][2]int64{{b1 - 1, b1}, {b1 - 10, b2 + 10}, {0, int64(len(whole)) - 1}, {b2, b2}, {b2 - 1, int64(len(whole)) - 1}} {
		got, err := get(t, e, "bkt", "big", &GetOptions{Range: ByteRange(r[0], r[1])})
		if err != nil || !bytes.Equal(got, whole[r[0]:r[1]+1]) {
			t.Fatalf("range %v: %v", r, err)
		}
	}
	for n, want := range map[int][]byte{1: p1, 2: p2, 3: p3} {
		o, err := e.GetObject(ctx, "bkt", "big", &GetOptions{PartNumber: n})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		o.WriteTo(&buf)
		o.Close()
		if !bytes.Equal(buf.Bytes(), want) || o.Info.PartsCount != 3 {
			t.Fatalf("part %d: %d bytes", n, buf.Len())
		}
	}
	if _, err := e.GetObject(ctx, "bkt", "big", &GetOptions{PartNumber: 4}); !errors.Is(err, ErrInvalidPartNumber) {
		t.Fatalf("part 4 of 3: %v", err)
	}
	if _, err := e.UploadPart(ctx, "bkt", "big", id, 1, bytes.NewReader(nil), nil); !errors.Is(err, ErrNoSuchUpload) {
		t.Fatalf("upload into a completed upload: %v", err)
	}
}

func TestMultipartErrors(t *testing.T) {
	e, _ := openMP(t)
	id, err := createUpload(e, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	small, big := payload(1, 1000), payload(2, 64<<10)
	cps := uploadParts(t, e, "k", id, big, small, big)
	for _, n := range []int{0, 10001, -1} {
		if _, err := e.UploadPart(ctx, "bkt", "k", id, n, bytes.NewReader(nil), nil); !errors.Is(err, ErrInvalidPartNumber) {
			t.Errorf("part number %d: %v", n, err)
		}
	}
	cases := []struct {
		parts []CompletePart
		want  error
	}{
		{[]CompletePart{cps[0], {PartNumber: 2, ETag: `"00000000000000000000000000000000"`}}, ErrInvalidPart},
		{[]CompletePart{cps[0], {PartNumber: 5, ETag: cps[0].ETag}}, ErrInvalidPart},
		{[]CompletePart{cps[2], cps[0]}, ErrInvalidPartOrder},
		{[]CompletePart{cps[0], cps[0]}, ErrInvalidPartOrder},
		{[]CompletePart{cps[1], cps[2]}, ErrEntityTooSmall},
	}
	for _, c := range cases {
		if _, err := e.CompleteMultipartUpload(ctx, "bkt", "k", id, c.parts, nil); !errors.Is(err, c.want) {
			t.Errorf("complete %v: %v, want %v", c.parts, err, c.want)
		}
	}
	if _, err := e.HeadObject(ctx, "bkt", "k", nil); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("failed completes made an object: %v", err)
	}
	// Parts 1 and 2 (the small last part is fine) complete.
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "k", id, cps[:2], nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nope", id, "00000000000000000000000000000000"} {
		if err := e.AbortMultipartUpload(ctx, "bkt", "k", bad); !errors.Is(err, ErrNoSuchUpload) {
			t.Errorf("abort %q: %v", bad, err)
		}
	}
	if _, err := e.CreateMultipartUpload(ctx, "missing", "k", nil); !errors.Is(err, ErrBucketNotFound) {
		t.Fatalf("upload into a missing bucket: %v", err)
	}
}

func TestMultipartReleasesEverything(t *testing.T) {
	e, o := openMP(t)
	// An aborted upload, a completed one with an unused part, then an
	// overwrite and a delete: no shard file may remain.
	id, _ := createUpload(e, "a", nil)
	uploadParts(t, e, "a", id, payload(1, 64<<10), payload(2, 10))
	if err := e.AbortMultipartUpload(ctx, "bkt", "a", id); err != nil {
		t.Fatal(err)
	}
	id, _ = createUpload(e, "b", nil)
	cps := uploadParts(t, e, "b", id, payload(3, 64<<10), payload(4, 64<<10), payload(5, 10))
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "b", id, cps[:2], nil); err != nil {
		t.Fatal(err)
	}
	put(t, e, "bkt", "b", payload(6, 200<<10))
	if err := e.DeleteObject(ctx, "bkt", "b"); err != nil {
		t.Fatal(err)
	}
	e.Close()
	for _, d := range o.Drives {
		if n := countShardFiles(t, d); n != 0 {
			t.Fatalf("%s: %d shard files left", d, n)
		}
	}
}

func TestMultipartListings(t *testing.T) {
	e, _ := openMP(t)
	var ids []string
	for _, k := range []string{"a/1", "a/2", "b", "b", "c"} {
		id, err := createUpload(e, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var seen []string
	o := ListUploadsOptions{MaxUploads: 2}
	for {
		res, err := e.ListMultipartUploads(ctx, "bkt", o)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			seen = append(seen, u.Key+"#"+u.UploadID)
		}
		if !res.IsTruncated {
			break
		}
		o.KeyMarker, o.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	want := []string{"a/1#" + ids[0], "a/2#" + ids[1], "b#" + ids[2], "b#" + ids[3], "c#" + ids[4]}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("paged uploads\n got %v\nwant %v", seen, want)
	}
	res, err := e.ListMultipartUploads(ctx, "bkt", ListUploadsOptions{Delimiter: "/"})
	if err != nil || len(res.CommonPrefixes) != 1 || res.CommonPrefixes[0] != "a/" || len(res.Uploads) != 3 {
		t.Fatalf("delimited: %+v %v", res, err)
	}
	// ListParts pages by part number.
	for n := 1; n <= 5; n++ {
		if _, err := e.UploadPart(ctx, "bkt", "c", ids[4], n*2, bytes.NewReader([]byte{byte(n)}), nil); err != nil {
			t.Fatal(err)
		}
	}
	var nums []int
	po := ListPartsOptions{MaxParts: 2}
	for {
		res, err := e.ListParts(ctx, "bkt", "c", ids[4], po)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Parts {
			nums = append(nums, p.PartNumber)
		}
		if !res.IsTruncated {
			break
		}
		po.PartNumberMarker = res.NextPartNumberMarker
	}
	if fmt.Sprint(nums) != "[2 4 6 8 10]" {
		t.Fatalf("parts %v", nums)
	}
	if n, err := e.ReclaimUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("reclaimed %d uploads, %v", n, err)
	}
	if res, _ := e.ListMultipartUploads(ctx, "bkt", ListUploadsOptions{}); len(res.Uploads) != 0 {
		t.Fatalf("uploads left after reclaim: %+v", res.Uploads)
	}
}

// TestCompleteRacesAbort: of a complete and an abort of one upload, exactly
// one wins, and the result is consistent.
func TestCompleteRacesAbort(t *testing.T) {
	e, _ := openMP(t)
	for round := range 10 {
		key := fmt.Sprintf("k%d", round)
		id, _ := createUpload(e, key, nil)
		cps := uploadParts(t, e, key, id, payload(1, 64<<10), payload(2, 5))
		var wg sync.WaitGroup
		var cerr, aerr error
		wg.Add(2)
		go func() { defer wg.Done(); _, cerr = e.CompleteMultipartUpload(ctx, "bkt", key, id, cps, nil) }()
		go func() { defer wg.Done(); aerr = e.AbortMultipartUpload(ctx, "bkt", key, id) }()
		wg.Wait()
		if (cerr == nil) == (aerr == nil) {
			t.Fatalf("complete %v, abort %v: exactly one must win", cerr, aerr)
		}
		if aerr == nil && !errors.Is(cerr, ErrNoSuchUpload) {
			t.Fatalf("abort won but complete says %v, want ErrNoSuchUpload", cerr)
		}
		if cerr == nil && !errors.Is(aerr, ErrNoSuchUpload) {
			t.Fatalf("complete won but abort says %v, want ErrNoSuchUpload", aerr)
		}
		_, herr := e.HeadObject(ctx, "bkt", key, nil)
		if (cerr == nil) != (herr == nil) {
			t.Fatalf("complete %v but head %v", cerr, herr)
		}
	}
}

func TestSamePartUploadedConcurrently(t *testing.T) {
	e, o := openMP(t)
	id, _ := createUpload(e, "k", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.UploadPart(ctx, "bkt", "k", id, 1, bytes.NewReader(payload(uint64(i), 70<<10)), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	res, _ := e.ListParts(ctx, "bkt", "k", id, ListPartsOptions{})
	if len(res.Parts) != 1 {
		t.Fatalf("%d parts", len(res.Parts))
	}
	info, err := e.CompleteMultipartUpload(ctx, "bkt", "k", id, []CompletePart{{1, res.Parts[0].ETag}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := get(t, e, "bkt", "k", nil)
	if md5hex(got) != res.Parts[0].ETag || info.Size != 70<<10 {
		t.Fatal("content is not the winning part")
	}
	e.Close()
	for _, d := range o.Drives {
		// One part stream and one manifest stream.
		if n := countShardFiles(t, d); n != 2 {
			t.Fatalf("%s: %d shard files, want 2", d, n)
		}
	}
}

// TestReadSurvivesDeleteAndOverwrite starts reads, then deletes or
// overwrites the objects: the reads finish with the bytes they began
// with, and the old shard files go once the readers close.
func TestReadSurvivesDeleteAndOverwrite(t *testing.T) {
	e, o := openMP(t)
	single := payload(1, 6*o.BlockSize)
	put(t, e, "bkt", "single", single)
	id, _ := createUpload(e, "multi", nil)
	p1, p2 := payload(2, 64<<10), payload(3, 3*o.BlockSize)
	cps := uploadParts(t, e, "multi", id, p1, p2)
	if _, err := e.CompleteMultipartUpload(ctx, "bkt", "multi", id, cps, nil); err != nil {
		t.Fatal(err)
	}
	multi := append(append([]byte{}, p1...), p2...)
	for _, c := range []struct {
		key  string
		want []byte
		hit  func()
	}{
		{"single", single, func() { e.DeleteObject(ctx, "bkt", "single") }},
		{"multi", multi, func() { put(t, e, "bkt", "multi", []byte("replacement")) }},
	} {
		obj, err := e.GetObject(ctx, "bkt", c.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 1000)
		if _, err := io.ReadFull(obj, head); err != nil {
			t.Fatal(err)
		}
		c.hit()
		// Let the releaser run: it must hold the streams back.
		time.Sleep(200 * time.Millisecond)
		rest, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(append(head, rest...), c.want) {
			t.Fatalf("%s: read across a delete/overwrite: %d bytes, %v", c.key, len(head)+len(rest), err)
		}
		obj.Close()
	}
	e.Close()
	for _, d := range o.Drives {
		if n := countShardFiles(t, d); n != 0 {
			t.Fatalf("%s: %d shard files left after the readers closed", d, n)
		}
	}
}
