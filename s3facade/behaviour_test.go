package s3facade

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

func newBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return out
}

func TestPresignedGetAndPut(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "share")
	pc := s3.NewPresignClient(c, func(o *s3.PresignOptions) { o.Expires = 10 * time.Minute })
	ctx := context.Background()
	data := randBytes(42, 300<<10)
	preq, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("share"), Key: aws.String("dir/a file+x.bin")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", preq.URL, bytes.NewReader(data))
	for k, v := range preq.SignedHeader {
		req.Header[k] = v
	}
	resp, err := ts.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("presigned PUT: %d", resp.StatusCode)
	}
	greq, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("share"), Key: aws.String("dir/a file+x.bin"),
		ResponseContentDisposition: aws.String(`attachment; filename="x.bin"`)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ts.httpClient().Get(greq.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) || resp.Header.Get("Content-Disposition") != `attachment; filename="x.bin"` {
		t.Fatalf("presigned GET: %d, equal %v, disposition %q", resp.StatusCode, bytes.Equal(got, data), resp.Header.Get("Content-Disposition"))
	}
	// The same URL for another key fails.
	u, _ := url.Parse(greq.URL)
	u.Path = "/share/dir/other"
	resp, err = ts.httpClient().Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("presigned URL reused for another key: %d", resp.StatusCode)
	}
	// minio-go presigned GET.
	mu, err := ts.minioClient().PresignedGetObject(ctx, "share", "dir/a file+x.bin", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ts.httpClient().Get(mu.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("minio presigned GET: %d", resp.StatusCode)
	}
}

func TestRanges(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "ranges")
	data := randBytes(7, 200<<10+3)
	put(t, c, "ranges", "big", data)
	put(t, c, "ranges", "small", data[:100])
	n := int64(len(data))
	for _, key := range []string{"big", "small"} {
		size := n
		if key == "small" {
			size = 100
		}
		for _, tc := range []struct {
			hdr        string
			start, end int64 // expected inclusive; start<0: whole object with 200
		}{
			{"bytes=0-0", 0, 0}, {"bytes=10-19", 10, 19}, {"bytes=5-", 5, size - 1}, {"bytes=-7", size - 7, size - 1},
			{fmt.Sprintf("bytes=0-%d", size+100), 0, size - 1}, {"bytes=-100000000", 0, size - 1},
			{"bytes=3-1", -1, 0}, {"bytes=a-b", -1, 0}, {"bytes=0-1,5-6", -1, 0}, {"items=0-1", -1, 0},
		} {
			got, out := mustGet(t, c, "ranges", key, func(in *s3.GetObjectInput) { in.Range = aws.String(tc.hdr) })
			want := data[:size]
			if tc.start >= 0 {
				want = data[tc.start : tc.end+1]
				if cr := aws.ToString(out.ContentRange); cr != fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size) {
					t.Errorf("%s %s: Content-Range %q", key, tc.hdr, cr)
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s: got %d bytes, want %d", key, tc.hdr, len(got), len(want))
			}
		}
		_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("ranges"), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-", size))})
		if apiCode(err) != "InvalidRange" {
			t.Errorf("%s: range past the end: %v", key, err)
		}
	}
	// minio-go range.
	obj, err := ts.minioClient().GetObject(context.Background(), "ranges", "big", func() minio.GetObjectOptions {
		var o minio.GetObjectOptions
		_ = o.SetRange(1000, 1999)
		return o
	}())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(obj)
	obj.Close()
	if !bytes.Equal(got, data[1000:2000]) {
		t.Fatal("minio range differs")
	}
}

func TestConditionalRequests(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cond")
	out := put(t, c, "cond", "k", []byte("v1"))
	etag := aws.ToString(out.ETag)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name string
		in   s3.GetObjectInput
		code string
	}{
		{"if-match ok", s3.GetObjectInput{IfMatch: aws.String(etag)}, ""},
		{"if-match wrong", s3.GetObjectInput{IfMatch: aws.String(`"nope"`)}, "PreconditionFailed"},
		{"if-none-match hit", s3.GetObjectInput{IfNoneMatch: aws.String(etag)}, "NotModified"},
		{"if-none-match miss", s3.GetObjectInput{IfNoneMatch: aws.String(`"nope"`)}, ""},
		{"if-modified-since past", s3.GetObjectInput{IfModifiedSince: aws.Time(past)}, ""},
		{"if-modified-since future", s3.GetObjectInput{IfModifiedSince: aws.Time(future)}, "NotModified"},
		{"if-unmodified-since past", s3.GetObjectInput{IfUnmodifiedSince: aws.Time(past)}, "PreconditionFailed"},
		{"if-match beats if-unmodified-since", s3.GetObjectInput{IfMatch: aws.String(etag), IfUnmodifiedSince: aws.Time(past)}, ""},
	} {
		in := tc.in
		in.Bucket, in.Key = aws.String("cond"), aws.String("k")
		o, err := c.GetObject(ctx, &in)
		if err == nil {
			o.Body.Close()
		}
		code := apiCode(err)
		if tc.code == "NotModified" && err != nil && strings.Contains(err.Error(), "304") {
			code = "NotModified"
		}
		if code != tc.code {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.code)
		}
	}
	// Conditional writes.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("v2"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-None-Match * over an existing key: %v", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("v2"), IfMatch: aws.String(`"nope"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-Match wrong etag: %v", err)
	}
	if _, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), Body: strings.NewReader("v2"), IfMatch: aws.String(etag)}); err != nil {
		t.Errorf("If-Match right etag: %v", err)
	}
	if _, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("new"), Body: strings.NewReader("v"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("If-None-Match * on a new key: %v", err)
	}
	got, _ := mustGet(t, c, "cond", "k")
	if string(got) != "v2" {
		t.Errorf("after conditional writes: %q", got)
	}
}

func TestListingThousandsOfKeys(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "many")
	var all []string
	// 2,500 keys in 25 "directories", written through the engine to keep
	// the test fast; listing goes through HTTP.
	for d := 0; d < 25; d++ {
		for f := 0; f < 100; f++ {
			k := fmt.Sprintf("dir%02d/file %03d+ü", d, f)
			if _, err := ts.e.PutObject(ctx, "many", k, strings.NewReader("x"), nil); err != nil {
				t.Fatal(err)
			}
			all = append(all, k)
		}
	}
	for _, k := range []string{"top1", "top2"} {
		if _, err := ts.e.PutObject(ctx, "many", k, strings.NewReader("x"), nil); err != nil {
			t.Fatal(err)
		}
		all = append(all, k)
	}
	slices.Sort(all)

	// V2, all keys, paged by the SDK paginator at 1000 and at 333.
	for _, max := range []int32{1000, 333} {
		var got []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(max)})
		pages := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, o := range page.Contents {
				got = append(got, aws.ToString(o.Key))
			}
		}
		if !slices.Equal(got, all) {
			t.Fatalf("V2 max %d: got %d keys, want %d", max, len(got), len(all))
		}
		if want := (len(all) + int(max) - 1) / int(max); pages != want {
			t.Errorf("V2 max %d: %d pages, want %d", max, pages, want)
		}
	}
	// V2 with delimiter: 25 prefixes + 2 keys, paged by 10.
	var prefixes, keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("many"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(10)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range page.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(cp.Prefix))
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if len(prefixes) != 25 || prefixes[0] != "dir00/" || !slices.Equal(keys, []string{"top1", "top2"}) {
		t.Fatalf("delimiter listing: %d prefixes %v..., keys %v", len(prefixes), prefixes[:min(3, len(prefixes))], keys)
	}
	// V2 prefix + delimiter + start-after + url encoding + fetch-owner.
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("many"), Prefix: aws.String("dir07/"),
		Delimiter: aws.String("/"), StartAfter: aws.String("dir07/file 049+ü"), EncodingType: types.EncodingTypeUrl, FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 50 || aws.ToInt32(out.KeyCount) != 50 || out.Contents[0].Owner == nil {
		t.Fatalf("prefix listing: %d keys, owner %v", len(out.Contents), out.Contents[0].Owner)
	}
	if k, _ := url.QueryUnescape(aws.ToString(out.Contents[0].Key)); k != "dir07/file 050+ü" || strings.ContainsAny(aws.ToString(out.Contents[0].Key), " +") {
		t.Fatalf("url-encoded key %q", aws.ToString(out.Contents[0].Key))
	}
	// V1 with marker paging and delimiter (NextMarker).
	var v1 []string
	marker := ""
	for {
		o, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("many"), Marker: aws.String(marker), MaxKeys: aws.Int32(700)})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range o.Contents {
			v1 = append(v1, aws.ToString(x.Key))
		}
		if !aws.ToBool(o.IsTruncated) {
			break
		}
		marker = v1[len(v1)-1]
	}
	if !slices.Equal(v1, all) {
		t.Fatalf("V1: %d keys, want %d", len(v1), len(all))
	}
	o, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("many"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(5)})
	if err != nil || aws.ToString(o.NextMarker) != "dir04/" || len(o.CommonPrefixes) != 5 {
		t.Fatalf("V1 delimiter: %v next %q prefixes %d", err, aws.ToString(o.NextMarker), len(o.CommonPrefixes))
	}
	// max-keys above 1000 is capped; a bad token is refused.
	o2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("many"), MaxKeys: aws.Int32(5000)})
	if err != nil || len(o2.Contents) != 1000 || !aws.ToBool(o2.IsTruncated) {
		t.Fatalf("max-keys 5000: %v %d", err, len(o2.Contents))
	}
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("many"), ContinuationToken: aws.String("!!bad")})
	if apiCode(err) != "InvalidArgument" {
		t.Fatalf("bad continuation token: %v", err)
	}
	// minio-go walks everything recursively too.
	n := 0
	for x := range ts.minioClient().ListObjects(ctx, "many", minio.ListObjectsOptions{Recursive: true}) {
		if x.Err != nil {
			t.Fatal(x.Err)
		}
		n++
	}
	if n != len(all) {
		t.Fatalf("minio listing: %d", n)
	}
}

func TestCopyObject(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "src")
	newBucket(t, c, "dst")
	data := randBytes(3, 50<<10)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b/ü+%.txt"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"m": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	src := "src/" + url.PathEscape("a b") + "/" + url.PathEscape("ü+%.txt")
	// COPY keeps metadata.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy1"), CopySource: aws.String(src)})
	if err != nil {
		t.Fatal(err)
	}
	got, out := mustGet(t, c, "dst", "copy1")
	if !bytes.Equal(got, data) || out.Metadata["m"] != "1" || aws.ToString(out.ContentType) != "text/plain" || aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(out.ETag) {
		t.Fatalf("COPY: meta %v type %q", out.Metadata, aws.ToString(out.ContentType))
	}
	// REPLACE takes the request's.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String(src),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("application/x-new"), Metadata: map[string]string{"n": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	_, out = mustGet(t, c, "dst", "copy2")
	if out.Metadata["n"] != "2" || out.Metadata["m"] != "" || aws.ToString(out.ContentType) != "application/x-new" {
		t.Fatalf("REPLACE: meta %v type %q", out.Metadata, aws.ToString(out.ContentType))
	}
	// Copy-source conditionals.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: aws.String(src), CopySourceIfMatch: aws.String(`"nope"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Fatalf("copy-source-if-match: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: aws.String(src), CopySourceIfNoneMatch: out.ETag})
	if apiCode(err) != "PreconditionFailed" {
		t.Fatalf("copy-source-if-none-match: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: aws.String(src), CopySourceIfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	if apiCode(err) != "PreconditionFailed" {
		t.Fatalf("copy-source-if-modified-since: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3")}); err == nil {
		t.Fatal("a failed conditional copy wrote the object")
	}
	// Onto itself without REPLACE is refused.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy1"), CopySource: aws.String("dst/copy1")})
	if apiCode(err) != "InvalidRequest" {
		t.Fatalf("copy onto itself: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/missing")})
	if apiCode(err) != "NoSuchKey" {
		t.Fatalf("missing source: %v", err)
	}
	// minio-go copy.
	if _, err := ts.minioClient().CopyObject(ctx, minio.CopyDestOptions{Bucket: "dst", Object: "copy4"}, minio.CopySrcOptions{Bucket: "src", Object: "a b/ü+%.txt"}); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteObjects(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "batch")
	var ids []types.ObjectIdentifier
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("k%02d", i)
		put(t, c, "batch", k, []byte(k))
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(k)})
	}
	ids = append(ids, types.ObjectIdentifier{Key: aws.String("never-existed")})
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("batch"), Delete: &types.Delete{Objects: ids[:20]}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 20 || len(out.Errors) != 0 {
		t.Fatalf("deleted %d errors %d", len(out.Deleted), len(out.Errors))
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("batch"), Delete: &types.Delete{Objects: ids[20:], Quiet: aws.Bool(true)}})
	if err != nil || len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet delete: %v deleted %d errors %d", err, len(out.Deleted), len(out.Errors))
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("batch")})
	if err != nil || len(l.Contents) != 0 {
		t.Fatalf("after batch delete: %v %d keys", err, len(l.Contents))
	}
	// More than 1000 keys is refused before anything is deleted.
	put(t, c, "batch", "keep", []byte("x"))
	var many []types.ObjectIdentifier
	for i := 0; i < 1001; i++ {
		many = append(many, types.ObjectIdentifier{Key: aws.String("keep")})
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("batch"), Delete: &types.Delete{Objects: many}})
	if apiCode(err) != "MalformedXML" {
		t.Fatalf("1001 keys: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("batch"), Key: aws.String("keep")}); err != nil {
		t.Fatalf("a refused batch deleted: %v", err)
	}
	// minio-go RemoveObjects.
	mc := ts.minioClient()
	ch := make(chan minio.ObjectInfo, 1)
	ch <- minio.ObjectInfo{Key: "keep"}
	close(ch)
	for e := range mc.RemoveObjects(ctx, "batch", ch, minio.RemoveObjectsOptions{}) {
		t.Fatalf("minio RemoveObjects: %v", e.Err)
	}
}
