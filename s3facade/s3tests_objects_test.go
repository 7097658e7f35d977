package s3facade

// Ports of the object tests of ceph/s3-tests (s3tests_boto3/functional/
// test_s3.py and test_headers.py): PutObject, GetObject, HeadObject,
// DeleteObject, conditional requests, metadata and content headers,
// ranges, CopyObject and the bad-header cases of PutObject. Each test
// names the s3-tests functions it ports.
//
// Skipped, and why:
//   - test_object_raw_get, _get_bucket_gone, _get_object_gone, _get_bucket_acl,
//     _get_object_acl, test_object_anon_put_write_access, the *_tenant variants,
//     test_object_copy_canned_acl, test_object_copy_not_owned_object_bucket,
//     test_object_acl_*, test_object_header_acl_grants: public access, tenants
//     and ACL grants; Coffer refuses anonymous requests and has ACLs disabled.
//   - test_object_copy_versioned_*, test_object_copy_versioning_multipart_upload,
//     test_object_put_acl_mtime: versioning beyond the null version.
//   - test_atomic_multipart_upload_write, test_multipart_*, test_non_multipart_get_part
//     (s3-tests wants 400 InvalidPart where S3 documents 416 InvalidPartNumber):
//     multipart and part-number reads, ported with the multipart tests.
//   - test_atomic_conditional_write_1mb, test_atomic_dual_conditional_write_1mb,
//     test_atomic_write_bucket_gone: fails_on_aws or fails_on_rgw timing tests.
//   - test_put_object_ifnonmatch_good, test_put_object_ifnonmatch_failed and
//     the If-None-Match: <etag> steps of test_put_object_if_match: S3 accepts
//     only '*' in If-None-Match on PutObject; Coffer answers NotImplemented
//     (checked below). The first two are fails_on_aws.
//   - test_delete_object_*if_match*, test_delete_objects_*if_match*: fails_on_aws
//     (directory buckets only); conditional deletes are NotImplemented.
//   - test_get_object_attributes and friends: GetObjectAttributes is
//     covered by attributes_test.go.
//   - the OPTIONS step of test_object_raw_get_x_amz_expires_not_expired: CORS.
//   - *_aws2 cases of test_headers.py: Signature Version 2 is not served;
//     test_object_create_date_and_amz_date and friends are SigV4 date rules,
//     covered by TestTimeRules.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// obHeaders sets headers on the request before it is signed, as the
// s3-tests 'before-call' hooks do.
func obHeaders(h map[string]string) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Build.Add(middleware.BuildMiddlewareFunc("s3testsHeaders",
				func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						for k, v := range h {
							req.Header[http.CanonicalHeaderKey(k)] = []string{v}
						}
					}
					return next.HandleBuild(ctx, in)
				}), middleware.After)
		})
	}
}

// obWantErr fails unless err carries the S3 status and code (code "" checks
// the status only).
func obWantErr(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want %d %s", what, status, code)
		return
	}
	if httpStatus(err) != status || (code != "" && apiCode(err) != code) {
		t.Errorf("%s: got %d %q (%v), want %d %s", what, httpStatus(err), apiCode(err), err, status, code)
	}
}

// obBody reads an object or fails.
func obBody(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	b, _ := mustGet(t, c, bucket, key)
	return string(b)
}

func obPut(t *testing.T, c *s3.Client, bucket, key, body string, opts ...func(*s3.Options)) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}, opts...)
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

// TestS3TestsObjectReadWrite ports test_object_write_to_nonexist_bucket,
// test_object_read_not_exist, test_object_head_zero_bytes,
// test_object_write_check_etag, test_object_write_cache_control,
// test_object_write_expires, test_object_write_read_update_read_delete,
// test_object_write_file, test_object_put_authenticated,
// test_object_raw_authenticated, test_object_raw_authenticated_bucket_gone,
// test_object_raw_authenticated_object_gone and
// test_object_delete_key_bucket_gone.
func TestS3TestsObjectReadWrite(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()

	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("whatchutalkinboutwillis"), Key: aws.String("foo"), Body: strings.NewReader("foo")})
	obWantErr(t, "put into a missing bucket", err, 404, "NoSuchBucket")

	newBucket(t, c, "rw-bucket")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("bar")})
	obWantErr(t, "get a missing key", err, 404, "NoSuchKey")

	obPut(t, c, "rw-bucket", "empty", "")
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("empty")})
	if err != nil || aws.ToInt64(head.ContentLength) != 0 {
		t.Errorf("head zero bytes: %v, length %d", err, aws.ToInt64(head.ContentLength))
	}

	if out := obPut(t, c, "rw-bucket", "foo", "bar"); aws.ToString(out.ETag) != `"37b51d194a7513e45b56f6524f2d51f2"` {
		t.Errorf("ETag %s, want the MD5 of the body", aws.ToString(out.ETag))
	}

	cc := "public, max-age=14400"
	expires := time.Now().Add(6000 * time.Second).UTC().Truncate(time.Second)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("hdr"), Body: strings.NewReader("bar"),
		CacheControl: aws.String(cc), Expires: aws.Time(expires)}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("hdr")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.CacheControl) != cc {
		t.Errorf("Cache-Control %q", aws.ToString(head.CacheControl))
	}
	if aws.ToString(head.ExpiresString) != expires.Format(http.TimeFormat) {
		t.Errorf("Expires %q, want %q", aws.ToString(head.ExpiresString), expires.Format(http.TimeFormat))
	}

	// Write, read, update, read, delete.
	obPut(t, c, "rw-bucket", "cycle", "bar")
	if got := obBody(t, c, "rw-bucket", "cycle"); got != "bar" {
		t.Errorf("read %q", got)
	}
	obPut(t, c, "rw-bucket", "cycle", "soup")
	if got := obBody(t, c, "rw-bucket", "cycle"); got != "soup" {
		t.Errorf("read after update %q", got)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("cycle")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rw-bucket"), Key: aws.String("cycle")})
	obWantErr(t, "get after delete", err, 404, "NoSuchKey")

	// The bucket gone: GET and DELETE of a key in it are NoSuchBucket.
	newBucket(t, c, "gone")
	obPut(t, c, "gone", "foo", "")
	for _, step := range []func() error{
		func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("gone"), Key: aws.String("foo")})
			return err
		},
		func() error {
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("gone")})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("gone"), Key: aws.String("foo")})
	obWantErr(t, "get in a deleted bucket", err, 404, "NoSuchBucket")
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("gone"), Key: aws.String("foo")})
	obWantErr(t, "delete in a deleted bucket", err, 404, "NoSuchBucket")
}

// TestS3TestsObjectRequestIDOnError ports
// test_object_requestid_matches_header_on_error: the RequestId of an error
// document is the x-amz-request-id header.
func TestS3TestsObjectRequestIDOnError(t *testing.T) {
	ts := startServer(t)
	newBucket(t, ts.awsClient(), "rid")
	s := ts.build(t, rawReq{method: "GET", path: "/rid/bar"})
	resp, err := ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	id := resp.Header.Get("X-Amz-Request-Id")
	if resp.StatusCode != 404 || id == "" || !bytes.Contains(body, []byte("<RequestId>"+id+"</RequestId>")) {
		t.Fatalf("status %d, header id %q, body %s", resp.StatusCode, id, body)
	}
}

// TestS3TestsObjectMetadata ports test_object_set_get_metadata_none_to_good,
// test_object_set_get_metadata_none_to_empty,
// test_object_set_get_metadata_overwrite_to_empty,
// test_object_metadata_replaced_on_put and (with a raw request, since
// boto's hook is what fails on rgw) test_object_set_get_unicode_metadata.
func TestS3TestsObjectMetadata(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "meta")
	setGet := func(key, value string) (string, bool) {
		t.Helper()
		obPut(t, c, "meta", key, "bar", obHeaders(map[string]string{"x-amz-meta-meta1": value}))
		_, out := mustGet(t, c, "meta", key)
		v, ok := out.Metadata["meta1"]
		return v, ok
	}
	if v, ok := setGet("good", "mymeta"); !ok || v != "mymeta" {
		t.Errorf("none to good: %q %v", v, ok)
	}
	if v, ok := setGet("empty", ""); !ok || v != "" {
		t.Errorf("none to empty: %q present %v", v, ok)
	}
	if v, ok := setGet("foo", "oldmeta"); !ok || v != "oldmeta" {
		t.Errorf("overwrite: %q %v", v, ok)
	}
	if v, ok := setGet("foo", ""); !ok || v != "" {
		t.Errorf("overwrite to empty: %q present %v", v, ok)
	}

	obPut(t, c, "meta", "foo", "bar")
	if _, out := mustGet(t, c, "meta", "foo"); len(out.Metadata) != 0 {
		t.Errorf("metadata survived a PUT without it: %v", out.Metadata)
	}

	uni := "Hello World\u00e9"
	s := ts.build(t, rawReq{method: "PUT", path: "/meta/uni", body: []byte("bar"), header: http.Header{"X-Amz-Meta-Meta1": {uni}}})
	if st, code := ts.send(t, s); st != 200 {
		t.Fatalf("put with UTF-8 metadata: %d %s", st, code)
	}
	s = ts.build(t, rawReq{method: "GET", path: "/meta/uni"})
	resp, err := ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Amz-Meta-Meta1"); got != uni {
		t.Errorf("UTF-8 metadata read back as %q", got)
	}
}

// TestS3TestsObjectContentHeaders ports test_object_raw_response_headers,
// test_object_content_encoding_aws_chunked,
// test_object_create_bad_contenttype_invalid / _empty / _none and
// test_object_create_bad_expect_mismatch / _empty / _none.
func TestS3TestsObjectContentHeaders(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "hdrs")
	obPut(t, c, "hdrs", "foo", "")

	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("hdrs"), Key: aws.String("foo"),
		ResponseCacheControl: aws.String("no-cache"), ResponseContentDisposition: aws.String("bla"),
		ResponseContentEncoding: aws.String("aaa"), ResponseContentLanguage: aws.String("esperanto"),
		ResponseContentType: aws.String("foo/bar"), ResponseExpires: aws.Time(time.Unix(123, 0))})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if aws.ToString(out.ContentType) != "foo/bar" || aws.ToString(out.ContentDisposition) != "bla" || aws.ToString(out.ContentLanguage) != "esperanto" ||
		aws.ToString(out.ContentEncoding) != "aaa" || aws.ToString(out.CacheControl) != "no-cache" {
		t.Errorf("response-* overrides: type %q disposition %q language %q encoding %q cache %q", aws.ToString(out.ContentType),
			aws.ToString(out.ContentDisposition), aws.ToString(out.ContentLanguage), aws.ToString(out.ContentEncoding), aws.ToString(out.CacheControl))
	}

	for _, tc := range []struct{ sent, want string }{
		{"gzip", "gzip"}, {"deflate, gzip", "deflate, gzip"}, {"gzip, aws-chunked", "gzip"},
		{"aws-chunked, gzip", "gzip"}, {"aws-chunked", ""}, {"aws-chunked, aws-chunked", ""},
	} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hdrs"), Key: aws.String("enc"), ContentEncoding: aws.String(tc.sent)}); err != nil {
			t.Fatalf("put Content-Encoding %q: %v", tc.sent, err)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hdrs"), Key: aws.String("enc")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(head.ContentEncoding) != tc.want || (tc.want == "" && head.ContentEncoding != nil) {
			t.Errorf("Content-Encoding %q stored as %v, want %q", tc.sent, head.ContentEncoding, tc.want)
		}
	}

	for _, h := range []map[string]string{
		{"Content-Type": "text/plain"}, {"Content-Type": ""}, {},
		{"Expect": "200"}, {"Expect": ""},
	} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hdrs"), Key: aws.String("ct"), Body: strings.NewReader("bar")}, obHeaders(h)); err != nil {
			t.Errorf("put with %v: %v", h, err)
		}
	}
}

// TestS3TestsObjectCreateBadMD5 ports test_object_create_bad_md5_invalid_short,
// test_object_create_bad_md5_bad, test_object_create_bad_md5_empty,
// test_object_create_bad_md5_none and the Content-MD5 of
// test_object_create_bad_md5_invalid_garbage_aws2 (signed with SigV4 here);
// a refused PUT writes nothing.
func TestS3TestsObjectCreateBadMD5(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "md5")
	for _, tc := range []struct{ md5, code string }{
		{"YWJyYWNhZGFicmE=", "InvalidDigest"},
		{"rL0Y20xC+Fzt72VPzMSk2A==", "BadDigest"},
		{"", "InvalidDigest"},
		{"AWS HAHAHA", "InvalidDigest"},
	} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("md5"), Key: aws.String("foo"), Body: strings.NewReader("bar")},
			obHeaders(map[string]string{"Content-MD5": tc.md5}))
		obWantErr(t, "Content-MD5 "+tc.md5, err, 400, tc.code)
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("md5"), Key: aws.String("foo")}); err == nil {
			t.Fatalf("Content-MD5 %q: the refused PUT wrote the object", tc.md5)
		}
	}
	obPut(t, c, "md5", "foo", "bar")
	obPut(t, c, "md5", "foo", "bar", obHeaders(map[string]string{"Content-MD5": "N7UdGUp1E+RbVvZSTy1R8g=="}))
}

// obRawHTTP sends a request written by hand on a fresh connection (the Go
// client refuses malformed lengths) and returns the status line's code
// and the response body. halfClose closes the write side after sending,
// so the server sees the body end early.
func obRawHTTP(t *testing.T, ts *testServer, req string, halfClose bool) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// obSignedHead signs a request and returns its header block as text (with a
// Content-Length line that the caller writes itself).
func obSignedHead(t *testing.T, ts *testServer, method, path string, query url.Values, body []byte, kind authKind) string {
	t.Helper()
	s := ts.build(t, rawReq{method: method, path: path, query: query, body: body, kind: kind})
	var b strings.Builder
	b.WriteString(method + " " + s.req.URL.RequestURI() + " HTTP/1.1\r\nHost: " + ts.addr + "\r\n")
	for k, vs := range s.req.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	return b.String()
}

// TestS3TestsObjectCreateBadContentLength ports
// test_object_create_bad_contentlength_empty, _negative, _none and
// _mismatch_above, test_object_create_bad_authorization_empty / _none,
// test_object_anon_put and the unauthenticated step of test_100_continue.
func TestS3TestsObjectCreateBadContentLength(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "cl-bucket")
	for _, tc := range []struct {
		name      string
		length    string // "" omits the header
		body      string
		halfClose bool
		status    int
		code      string
	}{
		{"empty", "Content-Length: \r\n", "bar", false, 400, ""},
		{"negative", "Content-Length: -1\r\n", "bar", false, 400, ""},
		{"none", "", "", false, 411, "MissingContentLength"},
		{"none, Transfer-Encoding identity", "Transfer-Encoding: identity\r\n", "", false, 411, "MissingContentLength"},
		{"mismatch above", "Content-Length: 4\r\n", "bar", true, 400, ""},
	} {
		head := obSignedHead(t, ts, "PUT", "/cl-bucket/foo", nil, []byte(tc.body), authHeaderUnsigned)
		st, body := obRawHTTP(t, ts, head+tc.length+"Connection: close\r\n\r\n"+tc.body, tc.halfClose)
		if st != tc.status || (tc.code != "" && !strings.Contains(body, "<Code>"+tc.code+"</Code>")) {
			t.Errorf("Content-Length %s: %d %s, want %d %s", tc.name, st, body, tc.status, tc.code)
		}
		if _, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("cl-bucket"), Key: aws.String("foo")}); err == nil {
			t.Fatalf("Content-Length %s: the refused PUT wrote the object", tc.name)
		}
	}
	// A part without a length is refused too, not stored empty.
	up, err := c.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String("cl-bucket"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"partNumber": {"1"}, "uploadId": {aws.ToString(up.UploadId)}}
	if st, body := obRawHTTP(t, ts, obSignedHead(t, ts, "PUT", "/cl-bucket/mp", q, nil, authHeaderUnsigned)+"Connection: close\r\n\r\n", false); st != 411 ||
		!strings.Contains(body, "<Code>MissingContentLength</Code>") {
		t.Errorf("UploadPart without a length: %d %s", st, body)
	}
	for _, auth := range []string{"Authorization: \r\n", ""} {
		st, body := obRawHTTP(t, ts, "PUT /cl-bucket/foo HTTP/1.1\r\nHost: "+ts.addr+"\r\n"+auth+"Content-Length: 3\r\nConnection: close\r\n\r\nbar", false)
		if st != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
			t.Errorf("Authorization %q: %d %s", auth, st, body)
		}
	}
	// An anonymous PUT asking for 100-continue is refused before its body.
	st, body := obRawHTTP(t, ts, "PUT /cl-bucket/testobj HTTP/1.1\r\nHost: "+ts.addr+"\r\nContent-Length: 123\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", false)
	if st != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
		t.Errorf("anonymous PUT with Expect: 100-continue: %d %s", st, body)
	}
}

// obRawStatus is the HTTP status of an SDK output.
func obRawStatus(md middleware.Metadata) int {
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		return r.StatusCode
	}
	return 0
}

// obErrHeader is a response header of an SDK error.
func obErrHeader(err error, name string) string {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(name)
	}
	return ""
}

// TestS3TestsGetObjectConditional ports test_get_object_ifmatch_good,
// _ifmatch_failed, _ifnonematch_good, _ifnonematch_failed,
// _ifmodifiedsince_good, _ifmodifiedsince_failed,
// _ifunmodifiedsince_good and _ifunmodifiedsince_failed.
func TestS3TestsGetObjectConditional(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cond-get")
	etag := aws.ToString(obPut(t, c, "cond-get", "foo", "bar").ETag)
	get := func(mod func(*s3.GetObjectInput)) (string, error) {
		in := &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo")}
		mod(in)
		out, err := c.GetObject(ctx, in)
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), err
	}
	wantBody := func(what string, body string, err error) {
		t.Helper()
		if err != nil || body != "bar" {
			t.Errorf("%s: %q %v", what, body, err)
		}
	}
	wantNotModified := func(what string, err error) {
		t.Helper()
		if httpStatus(err) != 304 || obErrHeader(err, "ETag") != etag || obErrHeader(err, "Last-Modified") == "" {
			t.Errorf("%s: status %d ETag %q Last-Modified %q (%v), want 304 with ETag %s and Last-Modified", what, httpStatus(err),
				obErrHeader(err, "ETag"), obErrHeader(err, "Last-Modified"), err, etag)
		}
	}
	old, future := "Sat, 29 Oct 1994 19:43:31 GMT", "Sat, 29 Oct 2100 19:43:31 GMT"
	rawDate := func(v string) func(*s3.Options) { return obHeaders(map[string]string{"If-Modified-Since": v}) }

	body, err := get(func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
	wantBody("if-match good", body, err)
	_, err = get(func(in *s3.GetObjectInput) { in.IfMatch = aws.String(`"ABCORZ"`) })
	obWantErr(t, "if-match failed", err, 412, "PreconditionFailed")

	_, err = get(func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) })
	wantNotModified("if-none-match good", err)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo"), IfNoneMatch: aws.String(etag)})
	wantNotModified("HEAD if-none-match good", err)
	body, err = get(func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String("ABCORZ") })
	wantBody("if-none-match failed", body, err)
	// A 304 carries the caching headers a 200 would (RFC 9110 §15.4.5).
	cached, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("cached"), Body: strings.NewReader("x"),
		CacheControl: aws.String("max-age=60"), Expires: aws.Time(time.Date(2100, 1, 2, 3, 4, 5, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("cached"), IfNoneMatch: cached.ETag})
	if httpStatus(err) != 304 || obErrHeader(err, "Cache-Control") != "max-age=60" || !strings.Contains(obErrHeader(err, "Expires"), "2100") {
		t.Errorf("304 of a cached object: %d Cache-Control %q Expires %q", httpStatus(err), obErrHeader(err, "Cache-Control"), obErrHeader(err, "Expires"))
	}

	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo")}, rawDate(old))
	if err != nil {
		t.Fatalf("if-modified-since good: %v", err)
	}
	out.Body.Close()
	after := out.LastModified.Add(time.Second).UTC().Format(http.TimeFormat)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo")}, rawDate(after))
	wantNotModified("if-modified-since failed", err)

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo")},
		obHeaders(map[string]string{"If-Unmodified-Since": old}))
	obWantErr(t, "if-unmodified-since good", err, 412, "PreconditionFailed")
	out, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-get"), Key: aws.String("foo")},
		obHeaders(map[string]string{"If-Unmodified-Since": future}))
	if err != nil {
		t.Fatalf("if-unmodified-since failed: %v", err)
	}
	out.Body.Close()
}

// TestS3TestsPutObjectConditional ports test_put_object_ifmatch_good,
// _ifmatch_failed, _ifmatch_overwrite_existed_good,
// _ifmatch_nonexisted_failed, _ifnonmatch_nonexisted_good,
// _ifnonmatch_overwrite_existed_failed and test_put_object_if_match
// (except its If-None-Match: <etag> steps, see the top of the file).
func TestS3TestsPutObjectConditional(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cond-put")
	putIf := func(key, body string, h map[string]string) (*s3.PutObjectOutput, error) {
		return c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond-put"), Key: aws.String(key), Body: strings.NewReader(body)}, obHeaders(h))
	}
	wantBody := func(key, want string) {
		t.Helper()
		if got := obBody(t, c, "cond-put", key); got != want {
			t.Errorf("%s reads %q, want %q", key, got, want)
		}
	}

	etag := strings.Trim(aws.ToString(obPut(t, c, "cond-put", "foo", "bar").ETag), `"`)
	if _, err := putIf("foo", "zar", map[string]string{"If-Match": etag}); err != nil {
		t.Errorf("If-Match with the unquoted ETag: %v", err)
	}
	wantBody("foo", "zar")
	_, err := putIf("foo", "war", map[string]string{"If-Match": `"ABCORZ"`})
	obWantErr(t, "If-Match a wrong ETag", err, 412, "PreconditionFailed")
	wantBody("foo", "zar")
	if _, err := putIf("foo", "car", map[string]string{"If-Match": "*"}); err != nil {
		t.Errorf("If-Match * over an object: %v", err)
	}
	wantBody("foo", "car")

	_, err = putIf("none", "bar", map[string]string{"If-Match": "*"})
	obWantErr(t, "If-Match * on a missing key", err, 404, "NoSuchKey")
	_, err = putIf("none", "bar", map[string]string{"If-Match": "badetag"})
	obWantErr(t, "If-Match an ETag on a missing key", err, 404, "NoSuchKey")
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond-put"), Key: aws.String("none")})
	obWantErr(t, "a refused conditional PUT", err, 404, "NoSuchKey")

	if _, err := putIf("new", "bar", map[string]string{"If-None-Match": "*"}); err != nil {
		t.Errorf("If-None-Match * on a missing key: %v", err)
	}
	_, err = putIf("new", "zar", map[string]string{"If-None-Match": "*"})
	obWantErr(t, "If-None-Match * over an object", err, 412, "PreconditionFailed")
	wantBody("new", "bar")

	// test_put_object_if_match, the steps S3 serves.
	out, err := putIf("obj", "", map[string]string{"If-None-Match": "*"})
	if err != nil {
		t.Fatal(err)
	}
	etag = aws.ToString(out.ETag)
	_, err = putIf("obj", "", map[string]string{"If-None-Match": "*"})
	obWantErr(t, "second If-None-Match *", err, 412, "PreconditionFailed")
	if _, err := putIf("obj", "", map[string]string{"If-Match": etag}); err != nil {
		t.Errorf("If-Match the quoted ETag: %v", err)
	}
	_, err = putIf("obj", "", map[string]string{"If-Match": "badetag"})
	obWantErr(t, "If-Match badetag", err, 412, "PreconditionFailed")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cond-put"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	_, err = putIf("obj", "", map[string]string{"If-Match": "*"})
	obWantErr(t, "If-Match * after delete", err, 404, "NoSuchKey")
	_, err = putIf("obj", "", map[string]string{"If-None-Match": etag})
	obWantErr(t, "If-None-Match with an ETag", err, 501, "NotImplemented")
}

// TestS3TestsRanged ports test_ranged_request_response_code,
// test_ranged_big_request_response_code,
// test_ranged_request_skip_leading_bytes_response_code,
// test_ranged_request_return_trailing_bytes_response_code,
// test_ranged_request_invalid_range and test_ranged_request_empty_object.
func TestS3TestsRanged(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "ranged")
	content := "testcontent"
	obPut(t, c, "ranged", "testobj", content)
	big := randBytes(11, 8<<20)
	put(t, c, "ranged", "big", big)
	obPut(t, c, "ranged", "empty", "")
	for _, tc := range []struct {
		key, rng, want, contentRange string
	}{
		{"testobj", "bytes=4-7", content[4:8], "bytes 4-7/11"},
		{"testobj", "bytes=4-", content[4:], "bytes 4-10/11"},
		{"testobj", "bytes=-7", content[4:], "bytes 4-10/11"},
		{"big", "bytes=3145728-5242880", string(big[3145728:5242881]), "bytes 3145728-5242880/8388608"},
	} {
		got, out := mustGet(t, c, "ranged", tc.key, func(in *s3.GetObjectInput) { in.Range = aws.String(tc.rng) })
		if string(got) != tc.want || aws.ToString(out.ContentRange) != tc.contentRange || obRawStatus(out.ResultMetadata) != 206 {
			t.Errorf("%s %s: %d bytes, Content-Range %q, status %d", tc.key, tc.rng, len(got), aws.ToString(out.ContentRange), obRawStatus(out.ResultMetadata))
		}
	}
	for _, key := range []string{"testobj", "empty"} {
		_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ranged"), Key: aws.String(key), Range: aws.String("bytes=40-50")})
		obWantErr(t, key+" bytes=40-50", err, 416, "InvalidRange")
	}
}

// TestS3TestsObjectCopy ports test_object_copy_zero_size,
// test_object_copy_16m, test_object_copy_same_bucket,
// test_object_copy_verify_contenttype, test_object_copy_to_itself,
// test_object_copy_to_itself_with_metadata, test_object_copy_diff_bucket,
// test_object_copy_not_owned_bucket, test_object_copy_retaining_metadata,
// test_object_copy_replacing_metadata, test_object_copy_bucket_not_found,
// test_object_copy_key_not_found, test_copy_object_ifmatch_good,
// test_copy_object_ifmatch_failed, test_copy_object_ifnonematch_good and
// test_copy_object_ifnonematch_failed.
func TestS3TestsObjectCopy(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	c := ts.clientAs(aliceKey, aliceSecret)
	ctx := context.Background()
	newBucket(t, c, "copy-a")
	newBucket(t, c, "copy-b")
	copyObj := func(in *s3.CopyObjectInput) error {
		_, err := c.CopyObject(ctx, in)
		return err
	}
	src := func(bucket, key string) *string { return aws.String(bucket + "/" + key) }

	obPut(t, c, "copy-a", "zero", "")
	if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("zero2"), CopySource: src("copy-a", "zero")}); err != nil {
		t.Fatal(err)
	}
	if got := obBody(t, c, "copy-a", "zero2"); got != "" {
		t.Errorf("zero-size copy reads %d bytes", len(got))
	}

	big := make([]byte, 16<<20)
	put(t, c, "copy-a", "obj1", big)
	if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("obj2"), CopySource: src("copy-a", "obj1")}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("obj2")})
	if err != nil || aws.ToInt64(head.ContentLength) != 16<<20 {
		t.Errorf("16 MiB copy: %v, %d bytes", err, aws.ToInt64(head.ContentLength))
	}

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("foo123bar"), Body: strings.NewReader("foo"),
		ContentType: aws.String("text/bla")}); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"copy-a", "copy-b"} {
		if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("bar321foo"), CopySource: src("copy-a", "foo123bar")}); err != nil {
			t.Fatalf("copy into %s: %v", dst, err)
		}
		b, out := mustGet(t, c, dst, "bar321foo")
		if string(b) != "foo" || aws.ToString(out.ContentType) != "text/bla" {
			t.Errorf("copy into %s: %q type %q", dst, b, aws.ToString(out.ContentType))
		}
	}

	err = copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("foo123bar"), CopySource: src("copy-a", "foo123bar")})
	obWantErr(t, "copy onto itself", err, 400, "InvalidRequest")
	meta := map[string]string{"foo": "bar"}
	if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("foo123bar"), CopySource: src("copy-a", "foo123bar"),
		Metadata: meta, MetadataDirective: "REPLACE"}); err != nil {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}
	if _, out := mustGet(t, c, "copy-a", "foo123bar"); len(out.Metadata) != 1 || out.Metadata["foo"] != "bar" {
		t.Errorf("metadata after REPLACE onto itself: %v", out.Metadata)
	}

	for _, size := range []int{3, 1 << 20} {
		meta := map[string]string{"key1": "value1", "key2": "value2"}
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("m"), Body: bytes.NewReader(make([]byte, size)),
			Metadata: meta, ContentType: aws.String("audio/ogg")}); err != nil {
			t.Fatal(err)
		}
		if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("kept"), CopySource: src("copy-a", "m")}); err != nil {
			t.Fatal(err)
		}
		b, out := mustGet(t, c, "copy-a", "kept")
		if len(b) != size || aws.ToString(out.ContentType) != "audio/ogg" || len(out.Metadata) != 2 || out.Metadata["key1"] != "value1" {
			t.Errorf("retaining metadata, size %d: %d bytes, type %q, %v", size, len(b), aws.ToString(out.ContentType), out.Metadata)
		}
		repl := map[string]string{"key3": "value3", "key2": "value2"}
		if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("replaced"), CopySource: src("copy-a", "m"),
			Metadata: repl, MetadataDirective: "REPLACE", ContentType: aws.String("audio/mpeg")}); err != nil {
			t.Fatal(err)
		}
		b, out = mustGet(t, c, "copy-a", "replaced")
		if len(b) != size || aws.ToString(out.ContentType) != "audio/mpeg" || len(out.Metadata) != 2 || out.Metadata["key3"] != "value3" {
			t.Errorf("replacing metadata, size %d: %d bytes, type %q, %v", size, len(b), aws.ToString(out.ContentType), out.Metadata)
		}
	}

	err = copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("x"), CopySource: src("copy-a-fake", "foo123bar")})
	obWantErr(t, "copy from a missing bucket", err, 404, "NoSuchBucket")
	err = copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("x"), CopySource: src("copy-a", "missing")})
	obWantErr(t, "copy a missing key", err, 404, "NoSuchKey")

	// Another user copying from a bucket it may not read into its own.
	bob := ts.clientAs(bobKey, bobSecret)
	newBucket(t, bob, "bob-copy")
	_, err = bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-copy"), Key: aws.String("stolen"), CopySource: src("copy-a", "foo123bar")})
	obWantErr(t, "copy from a bucket not owned", err, 403, "AccessDenied")

	// Copy-source conditions.
	etag := aws.ToString(obPut(t, c, "copy-a", "cond", "bar").ETag)
	if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("cond-ok"), CopySource: src("copy-a", "cond"), CopySourceIfMatch: aws.String(etag)}); err != nil {
		t.Errorf("copy-source-if-match good: %v", err)
	} else if got := obBody(t, c, "copy-a", "cond-ok"); got != "bar" {
		t.Errorf("copy-source-if-match good copied %q", got)
	}
	err = copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("cond-no"), CopySource: src("copy-a", "cond"), CopySourceIfMatch: aws.String("ABCORZ")})
	obWantErr(t, "copy-source-if-match failed", err, 412, "PreconditionFailed")
	err = copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("cond-no"), CopySource: src("copy-a", "cond"), CopySourceIfNoneMatch: aws.String(etag)})
	obWantErr(t, "copy-source-if-none-match good", err, 412, "PreconditionFailed")
	if err := copyObj(&s3.CopyObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("cond-ok2"), CopySource: src("copy-a", "cond"), CopySourceIfNoneMatch: aws.String("ABCORZ")}); err != nil {
		t.Errorf("copy-source-if-none-match failed: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("copy-a"), Key: aws.String("cond-no")}); err == nil {
		t.Error("a refused conditional copy wrote its destination")
	}
}

// TestS3TestsObjectPresigned ports test_object_raw_get_x_amz_expires_not_expired
// (its OPTIONS step is CORS), test_object_raw_get_x_amz_expires_out_range_zero,
// _out_max_range, _out_positive_range, test_object_raw_put_authenticated_expired
// and test_object_presigned_put_object_with_acl. s3-tests wants 403 for the
// out-of-range X-Amz-Expires values; S3 answers 400
// AuthorizationQueryParametersError for a value that is negative or past a
// week (TestTimeRules pins Coffer's codes), so the port checks that the
// request is refused and serves nothing.
func TestS3TestsObjectPresigned(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "presign")
	obPut(t, c, "presign", "foo", "secret")
	readURL := func(req *http.Request) (int, string) {
		t.Helper()
		resp, err := ts.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := readURL(ts.presignRaw(t, "GET", "/presign/foo", "100000", time.Now())); st != 200 || body != "secret" {
		t.Errorf("X-Amz-Expires=100000: %d %q", st, body)
	}
	for _, exp := range []string{"0", "609901", "-7"} {
		if st, body := readURL(ts.presignRaw(t, "GET", "/presign/foo", exp, time.Now())); (st != 400 && st != 403) || strings.Contains(body, "secret") {
			t.Errorf("X-Amz-Expires=%s: %d %q", exp, st, body)
		}
	}
	req := ts.presignRaw(t, "PUT", "/presign/foo", "-1000", time.Now())
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader("foo")), 3
	if st, _ := readURL(req); st != 400 && st != 403 {
		t.Errorf("expired presigned PUT: %d", st)
	}
	if got := obBody(t, c, "presign", "foo"); got != "secret" {
		t.Errorf("a refused presigned PUT wrote %q", got)
	}

	pc := s3.NewPresignClient(c)
	pput, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("acl"), ACL: "private"})
	if err != nil {
		t.Fatal(err)
	}
	req, err = http.NewRequest(pput.Method, pput.URL, strings.NewReader("hello world"))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range pput.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			req.Header[k] = vs
		}
	}
	req.Header.Set("X-Amz-Acl", "private")
	if st, body := readURL(req); st != 200 {
		t.Fatalf("presigned PUT with x-amz-acl private: %d %s", st, body)
	}
	pget, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("acl")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest("GET", pget.URL, nil)
	if st, body := readURL(req); st != 200 || body != "hello world" {
		t.Errorf("presigned GET: %d %q", st, body)
	}
}

// obPipePut starts a PUT whose body the caller writes through the returned
// writer; the channel yields the status once the server answers.
func obPipePut(t *testing.T, ts *testServer, path string, size int) (*io.PipeWriter, <-chan int) {
	t.Helper()
	s := ts.build(t, rawReq{method: "PUT", path: path, body: make([]byte, size), kind: authHeaderUnsigned})
	pr, pw := io.Pipe()
	s.req.Body, s.req.ContentLength = pr, int64(size)
	done := make(chan int, 1)
	go func() {
		resp, err := ts.httpClient().Do(s.req)
		if err != nil {
			_ = pr.CloseWithError(err)
			done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return pw, done
}

// obAll reports whether b is n bytes of ch.
func obAll(b []byte, ch byte, n int) bool {
	return len(b) == n && bytes.Count(b, []byte{ch}) == n
}

// TestS3TestsAtomic ports test_atomic_read_1mb, test_atomic_write_1mb and
// test_atomic_dual_write_1mb (the 4 and 8 MiB variants differ only in
// size): a reader sees one whole version, a write in progress is
// invisible, and of two overlapping writes the last to finish wins.
func TestS3TestsAtomic(t *testing.T) {
	const n = 1 << 20
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "atomic")
	as, bs := bytes.Repeat([]byte("A"), n), bytes.Repeat([]byte("B"), n)

	// A read in progress while the object is replaced.
	put(t, c, "atomic", "read", as)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("atomic"), Key: aws.String("read")})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 64<<10)
	if _, err := io.ReadFull(out.Body, first); err != nil {
		t.Fatal(err)
	}
	put(t, c, "atomic", "read", bs)
	rest, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || !obAll(append(first, rest...), 'A', n) {
		t.Errorf("read across an overwrite: %v, %d bytes", err, len(first)+len(rest))
	}
	if b, _ := mustGet(t, c, "atomic", "read"); !obAll(b, 'B', n) {
		t.Error("the overwrite is not what is read afterwards")
	}

	// A write in progress is invisible.
	put(t, c, "atomic", "write", as)
	pw, done := obPipePut(t, ts, "/atomic/write", n)
	if _, err := pw.Write(bs[:n/2]); err != nil {
		t.Fatal(err)
	}
	if b, _ := mustGet(t, c, "atomic", "write"); !obAll(b, 'A', n) {
		t.Error("a half-written PUT is visible")
	}
	if _, err := pw.Write(bs[n/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if st := <-done; st != 200 {
		t.Fatalf("piped PUT: %d", st)
	}
	if b, _ := mustGet(t, c, "atomic", "write"); !obAll(b, 'B', n) {
		t.Error("the finished PUT is not what is read")
	}

	// Two writes overlap; the one that finishes last wins.
	obPut(t, c, "atomic", "dual", "")
	pw, done = obPipePut(t, ts, "/atomic/dual", n)
	if _, err := pw.Write(bs[:n/2]); err != nil {
		t.Fatal(err)
	}
	put(t, c, "atomic", "dual", as)
	if _, err := pw.Write(bs[n/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if st := <-done; st != 200 {
		t.Fatalf("piped PUT: %d", st)
	}
	if b, _ := mustGet(t, c, "atomic", "dual"); !obAll(b, 'B', n) {
		t.Error("the write that finished last does not win")
	}
}

// TestS3TestsObjectChunkedTransferEncoding ports
// test_object_write_with_chunked_transfer_encoding.
func TestS3TestsObjectChunkedTransferEncoding(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "chunked-te")
	s := ts.build(t, rawReq{method: "PUT", path: "/chunked-te/foo", body: []byte("bar"), kind: authHeaderUnsigned, te: true})
	s.req.Body, s.req.ContentLength = io.NopCloser(strings.NewReader("bar")), -1
	resp, err := ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT with Transfer-Encoding: chunked: %d %s", resp.StatusCode, b)
	}
	if got := obBody(t, c, "chunked-te", "foo"); got != "bar" {
		t.Errorf("stored %q", got)
	}
}
