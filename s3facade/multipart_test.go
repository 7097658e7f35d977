package s3facade

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

const mib = 1 << 20

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func wantErr(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	if apiCode(err) != code || httpStatus(err) != status {
		t.Fatalf("%s: got %v (code %q status %d), want %s %d", what, err, apiCode(err), httpStatus(err), code, status)
	}
}

// checkRanges reads ranges that cross every part boundary and compares
// them with data.
func checkRanges(t *testing.T, c *s3.Client, bucket, key string, data []byte, partSize int) {
	t.Helper()
	for b := partSize; b < len(data); b += partSize {
		first, last := b-7, min(b+11, len(data)-1)
		got, out := mustGet(t, c, bucket, key, func(in *s3.GetObjectInput) {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", first, last))
		})
		if !bytes.Equal(got, data[first:last+1]) {
			t.Fatalf("range %d-%d across boundary %d differs", first, last, b)
		}
		if want := fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)); aws.ToString(out.ContentRange) != want {
			t.Fatalf("Content-Range %q, want %q", aws.ToString(out.ContentRange), want)
		}
	}
}

// multipartETag is S3's ETag of a multipart object from its parts.
func multipartETag(parts [][]byte) string {
	var cat []byte
	for _, p := range parts {
		s := md5.Sum(p)
		cat = append(cat, s[:]...)
	}
	s := md5.Sum(cat)
	return fmt.Sprintf("\"%s-%d\"", hex.EncodeToString(s[:]), len(parts))
}

func split(data []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(data); off += size {
		out = append(out, data[off:min(off+size, len(data))])
	}
	return out
}

func TestMultipartUploadManager(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "mp-bkt")
	const partSize = 5 * mib
	seed := rand.Uint64()
	data := randBytes(seed, 3*partSize+123457)
	// The deprecated manager is what most deployed Go code still uses.
	//lint:ignore SA1019 testing the uploader clients actually run
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = partSize; u.Concurrency = 4 })
	// A plain io.Reader: the manager cannot know the length up front.
	//lint:ignore SA1019 as above
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("mp-bkt"), Key: aws.String("big"),
		Body: io.MultiReader(bytes.NewReader(data)), ContentType: aws.String("video/mp4"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatalf("seed %d: upload: %v", seed, err)
	}
	parts := split(data, partSize)
	if aws.ToString(out.ETag) != multipartETag(parts) {
		t.Fatalf("ETag %s, want %s", aws.ToString(out.ETag), multipartETag(parts))
	}
	// The manager asks for CRC32: S3's composite checksum is the CRC32 of
	// the part CRC32s, then -N.
	var cat []byte
	for _, p := range parts {
		cat = binary.BigEndian.AppendUint32(cat, crc32.ChecksumIEEE(p))
	}
	want := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(cat))) + fmt.Sprintf("-%d", len(parts))
	if aws.ToString(out.ChecksumCRC32) != want || out.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("checksum %q type %q, want %q COMPOSITE", aws.ToString(out.ChecksumCRC32), out.ChecksumType, want)
	}
	got, obj := mustGet(t, c, "mp-bkt", "big", func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("seed %d: content differs", seed)
	}
	if aws.ToString(obj.ContentType) != "video/mp4" || obj.Metadata["k"] != "v" || aws.ToString(obj.ChecksumCRC32) != want {
		t.Fatalf("type %q meta %v checksum %q", aws.ToString(obj.ContentType), obj.Metadata, aws.ToString(obj.ChecksumCRC32))
	}
	checkRanges(t, c, "mp-bkt", "big", data, partSize)
	for n := 1; n <= len(parts); n++ {
		got, out := mustGet(t, c, "mp-bkt", "big", func(in *s3.GetObjectInput) { in.PartNumber = aws.Int32(int32(n)) })
		if !bytes.Equal(got, parts[n-1]) || aws.ToInt32(out.PartsCount) != int32(len(parts)) {
			t.Fatalf("part %d: equal %v, parts count %d", n, bytes.Equal(got, parts[n-1]), aws.ToInt32(out.PartsCount))
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mp-bkt"), Key: aws.String("big"), PartNumber: aws.Int32(int32(n))})
		if err != nil || aws.ToInt64(h.ContentLength) != int64(len(parts[n-1])) || aws.ToInt32(h.PartsCount) != int32(len(parts)) {
			t.Fatalf("head part %d: %v", n, err)
		}
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mp-bkt"), Key: aws.String("big")})
	if err != nil || aws.ToInt64(h.ContentLength) != int64(len(data)) || h.PartsCount != nil {
		t.Fatalf("head: %v %d parts %v", err, aws.ToInt64(h.ContentLength), h.PartsCount)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mp-bkt"), Key: aws.String("big"), PartNumber: aws.Int32(int32(len(parts) + 1))})
	wantErr(t, "GET partNumber past the end", err, "InvalidPartNumber", 416)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mp-bkt"), Key: aws.String("big"), PartNumber: aws.Int32(1), Range: aws.String("bytes=0-1")})
	wantErr(t, "GET partNumber with Range", err, "InvalidRequest", 400)
}

func TestMultipartMinioUnknownLength(t *testing.T) {
	ts := startServer(t)
	mc := ts.minioClient()
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "mn-bkt", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	seed := rand.Uint64()
	data := randBytes(seed, 2*5*mib+4321)
	info, err := mc.PutObject(ctx, "mn-bkt", "obj", io.MultiReader(bytes.NewReader(data)), -1, minio.PutObjectOptions{PartSize: 5 * mib})
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	if !strings.HasSuffix(info.ETag, "-3") {
		t.Fatalf("ETag %q is not a 3-part ETag", info.ETag)
	}
	obj, err := mc.GetObject(ctx, "mn-bkt", "obj", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("seed %d: %v, content equal %v", seed, err, bytes.Equal(got, data))
	}
	checkRanges(t, ts.awsClient(), "mn-bkt", "obj", data, 5*mib)
}

// newUpload starts an upload through the SDK.
func newUpload(t *testing.T, c *s3.Client, bucket, key string, mod ...func(*s3.CreateMultipartUploadInput)) string {
	t.Helper()
	in := &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, m := range mod {
		m(in)
	}
	out, err := c.CreateMultipartUpload(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.UploadId)
}

func uploadPart(t *testing.T, c *s3.Client, bucket, key, id string, n int, data []byte) string {
	t.Helper()
	out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: aws.String(id), PartNumber: aws.Int32(int32(n)), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("part %d: %v", n, err)
	}
	return aws.ToString(out.ETag)
}

func complete(c *s3.Client, bucket, key, id string, nums []int, etags []string) (*s3.CompleteMultipartUploadOutput, error) {
	var parts []types.CompletedPart
	for i, n := range nums {
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(n)), ETag: aws.String(etags[i])})
	}
	return c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket),
		Key: aws.String(key), UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
}

// rawSend sends a signed raw request and returns status and body.
func (ts *testServer) rawSend(t *testing.T, method, path string, q url.Values, hdr http.Header, body []byte) (int, string) {
	t.Helper()
	s := ts.build(t, rawReq{method: method, path: path, query: q, header: hdr, body: body, kind: authHeaderHashed})
	s.req.Body = io.NopCloser(bytes.NewReader(s.body))
	resp, err := ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMultipartErrors(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "e-bkt")
	id := newUpload(t, c, "e-bkt", "k")
	big := randBytes(1, 5*mib)
	small := randBytes(2, 1000)
	e1 := uploadPart(t, c, "e-bkt", "k", id, 1, small)
	e2 := uploadPart(t, c, "e-bkt", "k", id, 2, small)

	for _, n := range []int32{0, 10001} {
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("e-bkt"), Key: aws.String("k"), UploadId: aws.String(id),
			PartNumber: aws.Int32(n), Body: bytes.NewReader(small)})
		wantErr(t, fmt.Sprintf("UploadPart %d", n), err, "InvalidArgument", 400)
	}
	bogus := strings.Repeat("ab", 16)
	_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("e-bkt"), Key: aws.String("k"), UploadId: aws.String(bogus),
		PartNumber: aws.Int32(1), Body: bytes.NewReader(small)})
	wantErr(t, "UploadPart unknown upload", err, "NoSuchUpload", 404)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("e-bkt"), Key: aws.String("k"), UploadId: aws.String("nope")})
	wantErr(t, "ListParts unknown upload", err, "NoSuchUpload", 404)
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("e-bkt"), Key: aws.String("k"), UploadId: aws.String(bogus)})
	wantErr(t, "Abort unknown upload", err, "NoSuchUpload", 404)
	_, err = complete(c, "e-bkt", "k", bogus, []int{1}, []string{e1})
	wantErr(t, "Complete unknown upload", err, "NoSuchUpload", 404)
	_, err = complete(c, "e-bkt", "other-key", id, []int{1}, []string{e1})
	wantErr(t, "Complete under another key", err, "NoSuchUpload", 404)

	_, err = complete(c, "e-bkt", "k", id, []int{1, 3}, []string{e1, e1})
	wantErr(t, "Complete missing part", err, "InvalidPart", 400)
	_, err = complete(c, "e-bkt", "k", id, []int{1}, []string{`"00000000000000000000000000000000"`})
	wantErr(t, "Complete wrong ETag", err, "InvalidPart", 400)
	_, err = complete(c, "e-bkt", "k", id, []int{2, 1}, []string{e2, e1})
	wantErr(t, "Complete out of order", err, "InvalidPartOrder", 400)

	q := url.Values{"uploadId": {id}}
	st, body := ts.rawSend(t, "POST", "/e-bkt/k", q, nil, []byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>`+e1+`</ETag></Part><Part><PartNumber>2</PartNumber><ETag>`+e2+`</ETag></Part></CompleteMultipartUpload>`))
	if st != 400 || !strings.Contains(body, "<Code>EntityTooSmall</Code>") || !strings.Contains(body, "<MinSizeAllowed>5242880</MinSizeAllowed>") ||
		!strings.Contains(body, "<ProposedSize>1000</ProposedSize>") {
		t.Fatalf("EntityTooSmall: %d %s", st, body)
	}
	for _, doc := range []string{"", "<CompleteMultipartUpload></CompleteMultipartUpload>", "<CompleteMultipartUpload><Part>", "not xml"} {
		if st, body := ts.rawSend(t, "POST", "/e-bkt/k", q, nil, []byte(doc)); st != 400 || !strings.Contains(body, "<Code>MalformedXML</Code>") {
			t.Fatalf("Complete %q: %d %s", doc, st, body)
		}
	}
	// Nothing above consumed the upload: a good complete still works.
	e1 = uploadPart(t, c, "e-bkt", "k", id, 1, big)
	out, err := complete(c, "e-bkt", "k", id, []int{1, 2}, []string{e1, e2})
	if err != nil || aws.ToString(out.ETag) != multipartETag([][]byte{big, small}) {
		t.Fatalf("complete: %v", err)
	}
	_, err = complete(c, "e-bkt", "k", id, []int{1, 2}, []string{e1, e2})
	wantErr(t, "Complete twice", err, "NoSuchUpload", 404)

	for _, pn := range []string{"0", "abc", "10001"} {
		if st, body := ts.rawSend(t, "GET", "/e-bkt/k", url.Values{"partNumber": {pn}}, nil, nil); st != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
			t.Fatalf("GET partNumber=%s: %d %s", pn, st, body)
		}
	}
	if st, body := ts.rawSend(t, "GET", "/e-bkt/k", url.Values{"partNumber": {"3"}}, nil, nil); st != 416 ||
		!strings.Contains(body, "<ActualPartCount>2</ActualPartCount>") || !strings.Contains(body, "<PartNumberRequested>3</PartNumberRequested>") {
		t.Fatalf("GET partNumber=3: %d %s", st, body)
	}

	// UploadPartCopy ranges (§1.8), source 1000 bytes.
	put(t, c, "e-bkt", "src", small)
	id2 := newUpload(t, c, "e-bkt", "k2")
	for _, tc := range []struct{ rng, code string }{
		{"bytes=0", "InvalidArgument"}, {"bytes=5-2", "InvalidArgument"}, {"items=0-1", "InvalidArgument"},
		{"bytes=900-1000", "InvalidArgument"}, {"bytes=1000-1001", "InvalidRequest"},
	} {
		_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("e-bkt"), Key: aws.String("k2"), UploadId: aws.String(id2),
			PartNumber: aws.Int32(1), CopySource: aws.String("e-bkt/src"), CopySourceRange: aws.String(tc.rng)})
		wantErr(t, "UploadPartCopy "+tc.rng, err, tc.code, 400)
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("e-bkt"), Key: aws.String("k2"), UploadId: aws.String(id2),
		PartNumber: aws.Int32(1), CopySource: aws.String("e-bkt/src"), CopySourceIfMatch: aws.String(`"nomatch"`)})
	wantErr(t, "UploadPartCopy if-match", err, "PreconditionFailed", 412)
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("e-bkt"), Key: aws.String("k2"), UploadId: aws.String(bogus),
		PartNumber: aws.Int32(1), CopySource: aws.String("e-bkt/src")})
	wantErr(t, "UploadPartCopy unknown upload", err, "NoSuchUpload", 404)
}

func TestUploadPartCopy(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cp-bkt")
	src := randBytes(3, 6*mib)
	put(t, c, "cp-bkt", "src", src)
	id := newUpload(t, c, "cp-bkt", "dst")
	cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("cp-bkt"), Key: aws.String("dst"), UploadId: aws.String(id),
		PartNumber: aws.Int32(1), CopySource: aws.String("cp-bkt/src"), CopySourceRange: aws.String(fmt.Sprintf("bytes=10-%d", 5*mib+9))})
	if err != nil {
		t.Fatal(err)
	}
	tail := randBytes(4, 777)
	e2 := uploadPart(t, c, "cp-bkt", "dst", id, 2, tail)
	if _, err := complete(c, "cp-bkt", "dst", id, []int{1, 2}, []string{aws.ToString(cp.CopyPartResult.ETag), e2}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), src[10:5*mib+10]...), tail...)
	got, _ := mustGet(t, c, "cp-bkt", "dst")
	if !bytes.Equal(got, want) {
		t.Fatal("copied part content differs")
	}
	checkRanges(t, c, "cp-bkt", "dst", want, 5*mib)
}

func TestMultipartConcurrency(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cc-bkt")
	seed := rand.Uint64()

	// Parts uploaded in parallel, out of order.
	parts := split(randBytes(seed, 4*5*mib+99), 5*mib)
	id := newUpload(t, c, "cc-bkt", "par")
	etags := make([]string, len(parts))
	var wg sync.WaitGroup
	for i := len(parts) - 1; i >= 0; i-- {
		wg.Go(func() { etags[i] = uploadPart(t, c, "cc-bkt", "par", id, i+1, parts[i]) })
	}
	wg.Wait()
	nums := []int{1, 2, 3, 4, 5}
	if _, err := complete(c, "cc-bkt", "par", id, nums, etags); err != nil {
		t.Fatal(err)
	}
	got, _ := mustGet(t, c, "cc-bkt", "par")
	if !bytes.Equal(got, bytes.Join(parts, nil)) {
		t.Fatalf("seed %d: parallel parts content differs", seed)
	}

	// The same part uploaded twice at once: one wins whole.
	id = newUpload(t, c, "cc-bkt", "twice")
	a, b := randBytes(seed+1, 100<<10), randBytes(seed+2, 100<<10)
	var ea, eb string
	wg.Go(func() { ea = uploadPart(t, c, "cc-bkt", "twice", id, 1, a) })
	wg.Go(func() { eb = uploadPart(t, c, "cc-bkt", "twice", id, 1, b) })
	wg.Wait()
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("cc-bkt"), Key: aws.String("twice"), UploadId: aws.String(id)})
	if err != nil || len(lp.Parts) != 1 {
		t.Fatalf("list parts: %v %d", err, len(lp.Parts))
	}
	winner := aws.ToString(lp.Parts[0].ETag)
	want := a
	if winner == eb {
		want = b
	} else if winner != ea {
		t.Fatalf("listed ETag %s is neither upload's (%s, %s)", winner, ea, eb)
	}
	if _, err := complete(c, "cc-bkt", "twice", id, []int{1}, []string{winner}); err != nil {
		t.Fatal(err)
	}
	if got, _ := mustGet(t, c, "cc-bkt", "twice"); !bytes.Equal(got, want) {
		t.Fatalf("seed %d: the winning part's content was not stored whole", seed)
	}

	// Complete racing abort: exactly one wins, and the outcome is whole.
	for i := range 6 {
		key := fmt.Sprintf("race%d", i)
		data := randBytes(seed+uint64(i), 64<<10)
		id := newUpload(t, c, "cc-bkt", key)
		e := uploadPart(t, c, "cc-bkt", key, id, 1, data)
		var cerr, aerr error
		wg.Go(func() { _, cerr = complete(c, "cc-bkt", key, id, []int{1}, []string{e}) })
		wg.Go(func() {
			_, aerr = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("cc-bkt"), Key: aws.String(key), UploadId: aws.String(id)})
		})
		wg.Wait()
		switch {
		case cerr == nil && apiCode(aerr) == "NoSuchUpload":
			if got, _ := mustGet(t, c, "cc-bkt", key); !bytes.Equal(got, data) {
				t.Fatalf("race %d: completed object differs", i)
			}
		case aerr == nil && apiCode(cerr) == "NoSuchUpload":
			_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cc-bkt"), Key: aws.String(key)})
			if httpStatus(err) != 404 {
				t.Fatalf("race %d: aborted upload left an object: %v", i, err)
			}
		default:
			t.Fatalf("race %d: complete %v, abort %v", i, cerr, aerr)
		}
		_, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("cc-bkt"), Key: aws.String(key), UploadId: aws.String(id)})
		wantErr(t, "ListParts after race", err, "NoSuchUpload", 404)
	}
}

func TestMultipartListing(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "ls-bkt")
	id := newUpload(t, c, "ls-bkt", "parts", func(in *s3.CreateMultipartUploadInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256 })
	want := map[int32]string{}
	for n := 1; n <= 7; n++ {
		want[int32(n)] = uploadPart(t, c, "ls-bkt", "parts", id, n, randBytes(uint64(n), 100+n))
	}
	var seen []int32
	marker := ""
	for page := 0; ; page++ {
		out, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("ls-bkt"), Key: aws.String("parts"), UploadId: aws.String(id),
			MaxParts: aws.Int32(3), PartNumberMarker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ChecksumAlgorithm != types.ChecksumAlgorithmSha256 {
			t.Fatalf("checksum algorithm %q", out.ChecksumAlgorithm)
		}
		for _, p := range out.Parts {
			n := aws.ToInt32(p.PartNumber)
			sum := sha256.Sum256(randBytes(uint64(n), 100+int(n)))
			if aws.ToString(p.ETag) != want[n] || aws.ToInt64(p.Size) != int64(100+n) || aws.ToString(p.ChecksumSHA256) != base64.StdEncoding.EncodeToString(sum[:]) {
				t.Fatalf("part %d: etag %s size %d sha %s", n, aws.ToString(p.ETag), aws.ToInt64(p.Size), aws.ToString(p.ChecksumSHA256))
			}
			seen = append(seen, n)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = aws.ToString(out.NextPartNumberMarker)
		if page > 5 {
			t.Fatal("ListParts does not end")
		}
	}
	if fmt.Sprint(seen) != "[1 2 3 4 5 6 7]" {
		t.Fatalf("parts listed %v", seen)
	}

	keys := []string{"a/1", "a/2", "b", "c", "c", "sp ace"}
	ids := map[string]bool{}
	for _, k := range keys {
		ids[newUpload(t, c, "ls-bkt", k)] = true
	}
	var listed []string
	km, im := "", ""
	for page := 0; ; page++ {
		out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("ls-bkt"), MaxUploads: aws.Int32(2),
			KeyMarker: aws.String(km), UploadIdMarker: aws.String(im)})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			listed = append(listed, aws.ToString(u.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		km, im = aws.ToString(out.NextKeyMarker), aws.ToString(out.NextUploadIdMarker)
		if page > 10 {
			t.Fatal("ListMultipartUploads does not end")
		}
	}
	if fmt.Sprint(listed) != "[a/1 a/2 b c c parts sp ace]" {
		t.Fatalf("uploads listed %q", listed)
	}
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("ls-bkt"), Delimiter: aws.String("/")})
	if err != nil || len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "a/" || len(out.Uploads) != 5 {
		t.Fatalf("delimiter listing: %v %d prefixes %d uploads", err, len(out.CommonPrefixes), len(out.Uploads))
	}
	st, body := ts.rawSend(t, "GET", "/ls-bkt", url.Values{"uploads": {""}, "prefix": {"sp"}, "encoding-type": {"url"}}, nil, nil)
	if st != 200 || !strings.Contains(body, "<Key>sp%20ace</Key>") || !strings.Contains(body, "<EncodingType>url</EncodingType>") {
		t.Fatalf("encoding-type=url: %d %s", st, body)
	}
	if st, body := ts.rawSend(t, "GET", "/ls-bkt/parts", url.Values{"uploadId": {id}, "max-parts": {"x"}}, nil, nil); st != 400 || !strings.Contains(body, "InvalidArgument") {
		t.Fatalf("max-parts=x: %d %s", st, body)
	}
}

func TestMultipartFullObjectCRC64(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "fo-bkt")
	seed := rand.Uint64()
	data := randBytes(seed, 5*mib+5000)
	parts := split(data, 5*mib)
	id := newUpload(t, c, "fo-bkt", "o", func(in *s3.CreateMultipartUploadInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc64nvme })
	var cps []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("fo-bkt"), Key: aws.String("o"), UploadId: aws.String(id),
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme})
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC64NVME: out.ChecksumCRC64NVME})
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("fo-bkt"), Key: aws.String("o"),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: cps}})
	if err != nil {
		t.Fatal(err)
	}
	want := base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, crc64.Checksum(data, crc64NVMETable)))
	if aws.ToString(out.ChecksumCRC64NVME) != want || out.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("seed %d: checksum %q type %q, want %q FULL_OBJECT", seed, aws.ToString(out.ChecksumCRC64NVME), out.ChecksumType, want)
	}
	// The SDK validates a full-object checksum on GET.
	got, g := mustGet(t, c, "fo-bkt", "o", func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
	if !bytes.Equal(got, data) || aws.ToString(g.ChecksumCRC64NVME) != want {
		t.Fatalf("seed %d: GET content or checksum differs", seed)
	}
}

func TestCRCCombine(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	data := randBytes(seed, 1<<16)
	c32c := crc32.MakeTable(crc32.Castagnoli)
	for range 200 {
		cut := r.IntN(len(data) + 1)
		a, b := data[:cut], data[cut:]
		if got := crcCombine(ckCRC32, uint64(crc32.ChecksumIEEE(a)), uint64(crc32.ChecksumIEEE(b)), int64(len(b))); got != uint64(crc32.ChecksumIEEE(data)) {
			t.Fatalf("seed %d cut %d: CRC32 combine %x", seed, cut, got)
		}
		if got := crcCombine(ckCRC32C, uint64(crc32.Checksum(a, c32c)), uint64(crc32.Checksum(b, c32c)), int64(len(b))); got != uint64(crc32.Checksum(data, c32c)) {
			t.Fatalf("seed %d cut %d: CRC32C combine %x", seed, cut, got)
		}
		if got := crcCombine(ckCRC64NVME, crc64.Checksum(a, crc64NVMETable), crc64.Checksum(b, crc64NVMETable), int64(len(b))); got != crc64.Checksum(data, crc64NVMETable) {
			t.Fatalf("seed %d cut %d: CRC64NVME combine %x", seed, cut, got)
		}
	}
}
