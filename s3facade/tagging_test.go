package s3facade

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
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
	"github.com/minio/minio-go/v7/pkg/tags"

	"github.com/cofferdb/coffer/engine"
)

// sdkTags turns "k=v" strings into an SDK tag set.
func sdkTags(kvs ...string) []types.Tag {
	out := []types.Tag{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// tagStrings returns an SDK tag set as "k=v" strings, in order.
func tagStrings(ts []types.Tag) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
	}
	return out
}

func getTags(t *testing.T, c *s3.Client, bucket, key string) []string {
	t.Helper()
	out, err := c.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObjectTagging %s/%s: %v", bucket, key, err)
	}
	return tagStrings(out.TagSet)
}

func wantTags(t *testing.T, c *s3.Client, bucket, key string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := getTags(t, c, bucket, key); !slices.Equal(got, want) {
		t.Fatalf("%s/%s tags %q, want %q", bucket, key, got, want)
	}
}

func headTagCount(t *testing.T, c *s3.Client, bucket, key string) int32 {
	t.Helper()
	out, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("HeadObject %s/%s: %v", bucket, key, err)
	}
	return aws.ToInt32(out.TagCount)
}

func TestTaggingAWSSDK(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "tags")

	// PutObject with x-amz-tagging: URL-encoded pairs, a key without '='
	// has the empty value, and the set comes back sorted by key.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Body: strings.NewReader("hello"), Tagging: aws.String("project=blue&team=a%20b&empty")})
	if err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "obj", "empty=", "project=blue", "team=a b")
	if n := headTagCount(t, c, "tags", "obj"); n != 3 {
		t.Fatalf("HeadObject TagCount %d, want 3", n)
	}
	if _, out := mustGet(t, c, "tags", "obj"); aws.ToInt32(out.TagCount) != 3 {
		t.Fatalf("GetObject TagCount %v, want 3", out.TagCount)
	}
	before, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
	if err != nil {
		t.Fatal(err)
	}

	// PutObjectTagging replaces the set; ETag and Last-Modified stay.
	time.Sleep(1100 * time.Millisecond) // Last-Modified has one-second resolution
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Tagging: &types.Tagging{TagSet: sdkTags("stage=2", "Owner=ana")}})
	if err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "obj", "Owner=ana", "stage=2")
	after, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("obj")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(after.ETag) != aws.ToString(before.ETag) || !aws.ToTime(after.LastModified).Equal(aws.ToTime(before.LastModified)) {
		t.Fatalf("PutObjectTagging changed ETag %s→%s or Last-Modified %v→%v", aws.ToString(before.ETag),
			aws.ToString(after.ETag), before.LastModified, after.LastModified)
	}
	if aws.ToInt32(after.TagCount) != 2 {
		t.Fatalf("TagCount after PutObjectTagging: %v", after.TagCount)
	}
	if got, _ := mustGet(t, c, "tags", "obj"); string(got) != "hello" {
		t.Fatalf("content after PutObjectTagging: %q", got)
	}

	// DeleteObjectTagging removes them; the count header goes away.
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "obj")
	if out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("obj")}); err != nil || out.TagCount != nil {
		t.Fatalf("HeadObject of an untagged object: TagCount %v, %v", out.TagCount, err)
	}
	// An empty tag set removes them too.
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Tagging: &types.Tagging{TagSet: sdkTags("a=1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Tagging: &types.Tagging{TagSet: []types.Tag{}}}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "obj")

	// Missing keys and buckets.
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing")})
	wantErr(t, "GetObjectTagging of a missing key", err, "NoSuchKey", 404)
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing"),
		Tagging: &types.Tagging{TagSet: sdkTags("a=1")}})
	wantErr(t, "PutObjectTagging of a missing key", err, "NoSuchKey", 404)
	_, err = c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing")})
	wantErr(t, "DeleteObjectTagging of a missing key", err, "NoSuchKey", 404)
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	wantErr(t, "GetObjectTagging in a missing bucket", err, "NoSuchBucket", 404)
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("nobucket"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: sdkTags("a=1")}})
	wantErr(t, "PutObjectTagging in a missing bucket", err, "NoSuchBucket", 404)
	if _, err := ts.e.HeadObject(ctx, "tags", "missing", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("tagging a missing key created it: %v", err)
	}
}

func TestTaggingCopyAndMultipart(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "tags")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("src"),
		Body: strings.NewReader("source"), Tagging: aws.String("a=1&b=2")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		directive types.TaggingDirective
		tagging   *string
		want      []string
	}{
		{"no directive copies the source's tags", "", nil, []string{"a=1", "b=2"}},
		{"COPY ignores x-amz-tagging", types.TaggingDirectiveCopy, aws.String("ignored=1"), []string{"a=1", "b=2"}},
		{"REPLACE stores x-amz-tagging", types.TaggingDirectiveReplace, aws.String("z=9&new=yes"), []string{"new=yes", "z=9"}},
		{"REPLACE without x-amz-tagging stores none", types.TaggingDirectiveReplace, nil, nil},
	} {
		dst := "dst-" + strings.ReplaceAll(tc.name, " ", "-")
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String(dst),
			CopySource: aws.String("tags/src"), TaggingDirective: tc.directive, Tagging: tc.tagging})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		wantTags(t, c, "tags", dst, tc.want...)
	}
	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String("dst-bad"),
		CopySource: aws.String("tags/src"), TaggingDirective: "MOVE"})
	wantErr(t, "CopyObject with an unknown tagging directive", err, "InvalidArgument", 400)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String("dst-bad"),
		CopySource: aws.String("tags/src"), TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("aws:x=1")})
	wantErr(t, "CopyObject REPLACE with a reserved key", err, "InvalidTag", 400)
	if _, err := ts.e.HeadObject(ctx, "tags", "dst-bad", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("a refused copy stored something: %v", err)
	}

	// CreateMultipartUpload's tags end up on the completed object.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"),
		Tagging: aws.String("stage=raw&owner=ana")})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(7, 5*mib+100)
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{data[:5*mib], data[5*mib:]} {
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("tags"), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: p.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "mp", "owner=ana", "stage=raw")
	if n := headTagCount(t, c, "tags", "mp"); n != 2 {
		t.Fatalf("multipart object TagCount %d", n)
	}
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp2"),
		Tagging: aws.String("k=a?b")})
	wantErr(t, "CreateMultipartUpload with a bad tag value", err, "InvalidTag", 400)
	if res, err := ts.e.ListMultipartUploads(ctx, "tags", engine.ListUploadsOptions{}); err != nil || len(res.Uploads) != 0 {
		t.Fatalf("a refused CreateMultipartUpload left an upload: %+v %v", res.Uploads, err)
	}
}

func TestTaggingInvalidTags(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "tags")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Body: strings.NewReader("x"), Tagging: aws.String("keep=me")}); err != nil {
		t.Fatal(err)
	}
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = fmt.Sprintf("k%d=v", i)
	}
	for _, tc := range []struct {
		name   string
		set    []types.Tag
		code   string
		status int
	}{
		{"eleven tags", sdkTags(eleven...), "BadRequest", 400},
		{"two tags with one key", sdkTags("a=1", "a=2"), "InvalidTag", 400},
		{"a key of 129 characters", sdkTags(strings.Repeat("k", 129) + "=v"), "InvalidTag", 400},
		{"a value of 257 characters", sdkTags("k=" + strings.Repeat("v", 257)), "InvalidTag", 400},
		{"an empty key", sdkTags("=v"), "InvalidTag", 400},
		{"a comma in a key", sdkTags("a,b=v"), "InvalidTag", 400},
		{"a question mark in a value", sdkTags("k=a?b"), "InvalidTag", 400},
		{"the reserved prefix aws:", sdkTags("aws:cost=1"), "InvalidTag", 400},
	} {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
			Tagging: &types.Tagging{TagSet: tc.set}})
		wantErr(t, "PutObjectTagging with "+tc.name, err, tc.code, tc.status)
		wantTags(t, c, "tags", "obj", "keep=me")
	}
	// The same rules on the x-amz-tagging header; a header that does not
	// parse is InvalidArgument. Nothing is stored.
	for _, tc := range []struct {
		header string
		code   string
	}{
		{strings.Join(eleven, "&"), "BadRequest"},
		{"a=1&a=2", "InvalidArgument"},
		{"=1", "InvalidArgument"},
		{"a=%FF", "InvalidArgument"},
		{"a=%zz", "InvalidArgument"},
		{"a,b=1", "InvalidTag"},
		{"aws:cost=1", "InvalidTag"},
		{"k=" + strings.Repeat("v", 257), "InvalidTag"},
	} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("refused"),
			Body: strings.NewReader("x"), Tagging: aws.String(tc.header)})
		wantErr(t, "PutObject with x-amz-tagging "+tc.header, err, tc.code, 400)
		if _, err := ts.e.HeadObject(ctx, "tags", "refused", nil); !errors.Is(err, engine.ErrObjectNotFound) {
			t.Fatalf("x-amz-tagging %q: a refused put stored the object: %v", tc.header, err)
		}
	}
	// Boundaries that are allowed: ten tags of 128 and 256 characters,
	// letters beyond ASCII, spaces and the allowed symbols.
	var ten []types.Tag
	for i := range 10 {
		k := fmt.Sprintf("%03d", i) + strings.Repeat("ü", 125)
		ten = append(ten, types.Tag{Key: aws.String(k), Value: aws.String(strings.Repeat("文", 256))})
	}
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("obj"),
		Tagging: &types.Tagging{TagSet: ten}}); err != nil {
		t.Fatalf("ten tags of the longest key and value: %v", err)
	}
	if got := getTags(t, c, "tags", "obj"); !slices.Equal(got, tagStrings(ten)) {
		t.Fatalf("ten long tags read back differently")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("symbols"),
		Body: strings.NewReader("x"), Tagging: aws.String(url.Values{"b c+d-e=f.g_h:i/j@k": {"2 + 2 = 4"}}.Encode())}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, c, "tags", "symbols", "b c+d-e=f.g_h:i/j@k=2 + 2 = 4")
}

// rawTagging sends a signed request with body and returns the status and
// the decoded error (if any) with its extra elements.
func rawTagging(t *testing.T, ts *testServer, method, path string, query url.Values, header http.Header, body []byte) (int, map[string]string, []byte) {
	t.Helper()
	status, resp := ts.rawSend(t, method, path, query, header, body)
	b := []byte(resp)
	fields := map[string]string{}
	d := xml.NewDecoder(bytes.NewReader(b))
	var name string
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name = tk.Name.Local
		case xml.CharData:
			if name != "" {
				fields[name] = string(tk)
			}
		case xml.EndElement:
			name = ""
		}
	}
	return status, fields, b
}

func TestTaggingWire(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if err := ts.e.CreateBucket(ctx, "tags"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.e.PutObject(ctx, "tags", "obj", strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	tagging := url.Values{"tagging": {""}}
	doc := func(inner string) []byte { return []byte("<Tagging><TagSet>" + inner + "</TagSet></Tagging>") }

	// An untagged object answers an empty TagSet in S3's namespace.
	status, _, body := rawTagging(t, ts, "GET", "/tags/obj", tagging, nil, nil)
	if status != 200 || !bytes.Contains(body, []byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet></TagSet></Tagging>`)) {
		t.Fatalf("GetObjectTagging of an untagged object: %d %s", status, body)
	}
	// PUT answers 200 with no body, GET the document, DELETE 204.
	status, _, body = rawTagging(t, ts, "PUT", "/tags/obj", tagging, nil, doc("<Tag><Key>k</Key><Value>v = w</Value></Tag>"))
	if status != 200 || len(body) != 0 {
		t.Fatalf("PutObjectTagging: %d %s", status, body)
	}
	status, _, body = rawTagging(t, ts, "GET", "/tags/obj", tagging, nil, nil)
	if status != 200 || !bytes.Contains(body, []byte("<TagSet><Tag><Key>k</Key><Value>v = w</Value></Tag></TagSet>")) {
		t.Fatalf("GetObjectTagging: %d %s", status, body)
	}
	if status, _, _ := rawTagging(t, ts, "DELETE", "/tags/obj", tagging, nil, nil); status != 204 {
		t.Fatalf("DeleteObjectTagging: %d", status)
	}

	cases := []struct {
		name   string
		method string
		query  url.Values
		header http.Header
		body   []byte
		status int
		want   map[string]string // expected fields of the error document
	}{
		{"no TagSet", "PUT", tagging, nil, []byte("<Tagging></Tagging>"), 400, map[string]string{"Code": "MalformedXML"}},
		{"a Tag without Value", "PUT", tagging, nil, doc("<Tag><Key>a</Key></Tag>"), 400, map[string]string{"Code": "MalformedXML"}},
		{"another root element", "PUT", tagging, nil, []byte("<Tags><TagSet></TagSet></Tags>"), 400, map[string]string{"Code": "MalformedXML"}},
		{"a document with no end", "PUT", tagging, nil, []byte("<Tagging><TagSet>"), 400, map[string]string{"Code": "MalformedXML"}},
		{"a DTD", "PUT", tagging, nil, []byte(`<!DOCTYPE x [<!ENTITY a "b">]><Tagging><TagSet></TagSet></Tagging>`), 400, map[string]string{"Code": "MalformedXML"}},
		{"no body", "PUT", tagging, nil, nil, 400, map[string]string{"Code": "MissingRequestBodyError"}},
		{"a body over 64 KiB", "PUT", tagging, nil, doc(strings.Repeat(" ", 64<<10)), 400, map[string]string{"Code": "MaxMessageLengthExceeded"}},
		{"eleven tags", "PUT", tagging, nil, doc(strings.Repeat("<Tag><Key>k</Key><Value></Value></Tag>", 11)), 400,
			map[string]string{"Code": "BadRequest", "Message": "Object tags cannot be greater than 10"}},
		{"a duplicate key", "PUT", tagging, nil, doc("<Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag>"), 400,
			map[string]string{"Code": "InvalidTag", "Message": "Cannot provide multiple Tags with the same key", "TagKey": "a"}},
		{"a key with a comma", "PUT", tagging, nil, doc("<Tag><Key>a,b</Key><Value>1</Value></Tag>"), 400,
			map[string]string{"Code": "InvalidTag", "Message": "The TagKey you have provided is invalid", "TagKey": "a,b"}},
		{"a value with a tab", "PUT", tagging, nil, doc("<Tag><Key>k</Key><Value>a&#9;b</Value></Tag>"), 400,
			map[string]string{"Code": "InvalidTag", "Message": "The TagValue you have provided is invalid", "TagKey": "k", "TagValue": "a\tb"}},
		{"a reserved key", "PUT", tagging, nil, doc("<Tag><Key>AWS:x</Key><Value>1</Value></Tag>"), 400,
			map[string]string{"Code": "InvalidTag", "Message": "Your TagKey cannot be prefixed with aws:", "TagKey": "AWS:x"}},
		{"a version id on PUT", "PUT", url.Values{"tagging": {""}, "versionId": {"v1"}}, nil, doc(""), 400, map[string]string{"Code": "InvalidArgument"}},
		{"a version id on GET", "GET", url.Values{"tagging": {""}, "versionId": {"v1"}}, nil, nil, 400, map[string]string{"Code": "InvalidArgument"}},
		{"a version id on DELETE", "DELETE", url.Values{"tagging": {""}, "versionId": {"v1"}}, nil, nil, 400, map[string]string{"Code": "InvalidArgument"}},
		{"a header with a key given twice", "PUT", nil, http.Header{"X-Amz-Tagging": {"a=1&a=2"}}, []byte("x"), 400,
			map[string]string{"Code": "InvalidArgument", "ArgumentName": "x-amz-tagging", "ArgumentValue": "a=1&a=2"}},
		{"an unknown tagging directive", "PUT", nil, http.Header{"X-Amz-Copy-Source": {"/tags/obj"}, "X-Amz-Tagging-Directive": {"copy"}}, nil, 400,
			map[string]string{"Code": "InvalidArgument", "ArgumentName": "x-amz-tagging-directive"}},
	}
	for _, tc := range cases {
		path := "/tags/obj"
		if tc.query == nil {
			path = "/tags/new"
		}
		status, fields, body := rawTagging(t, ts, tc.method, path, tc.query, tc.header, tc.body)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, body)
			continue
		}
		for k, v := range tc.want {
			if fields[k] != v {
				t.Errorf("%s: %s = %q, want %q: %s", tc.name, k, fields[k], v, body)
			}
		}
	}
	if got, err := ts.e.GetObjectTagging(ctx, "tags", "obj"); err != nil || got != nil {
		t.Fatalf("refused requests changed the tags: %v %v", got, err)
	}
	if _, err := ts.e.HeadObject(ctx, "tags", "new", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("refused writes stored an object: %v", err)
	}
	// versionId=null names the only version there is.
	if status, _, body := rawTagging(t, ts, "GET", "/tags/obj", url.Values{"tagging": {""}, "versionId": {"null"}}, nil, nil); status != 200 {
		t.Fatalf("GetObjectTagging versionId=null: %d %s", status, body)
	}
	// Header decoding: %20 and '+' are spaces, '%2B' a plus, and only the
	// first '=' separates key and value.
	status, _, body = rawTagging(t, ts, "PUT", "/tags/decoded", nil, http.Header{"X-Amz-Tagging": {"a%20b=c%2Bd&e+f=g=h&%C3%BC=%E6%96%87"}}, []byte("x"))
	if status != 200 {
		t.Fatalf("PutObject with an encoded x-amz-tagging: %d %s", status, body)
	}
	got, err := ts.e.GetObjectTagging(ctx, "tags", "decoded")
	if want := []engine.Tag{{Key: "a b", Value: "c+d"}, {Key: "e f", Value: "g=h"}, {Key: "ü", Value: "文"}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("decoded tags %v (%v), want %v", got, err, want)
	}
}

func TestTaggingAccess(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	ctx := context.Background()
	alice, bob, root := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret), ts.awsClient()
	newBucket(t, root, "rootonly")
	newBucket(t, alice, "shared") // bob is granted "shared"
	put(t, root, "rootonly", "obj", []byte("x"))
	put(t, alice, "shared", "obj", []byte("x"))
	set := &types.Tagging{TagSet: sdkTags("a=1")}

	_, err := alice.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("rootonly"), Key: aws.String("obj"), Tagging: set})
	wantErr(t, "alice tags root's object", err, "AccessDenied", 403)
	_, err = alice.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("rootonly"), Key: aws.String("obj")})
	wantErr(t, "alice reads the tags of root's object", err, "AccessDenied", 403)
	_, err = alice.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("rootonly"), Key: aws.String("obj")})
	wantErr(t, "alice deletes the tags of root's object", err, "AccessDenied", 403)
	_, err = alice.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rootonly"), Key: aws.String("new"), Body: strings.NewReader("x"), Tagging: aws.String("a=1")})
	wantErr(t, "alice puts a tagged object into root's bucket", err, "AccessDenied", 403)
	wantTags(t, root, "rootonly", "obj")

	// A grantee tags objects of the bucket it may use; the owner sees it.
	if _, err := bob.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("shared"), Key: aws.String("obj"), Tagging: set}); err != nil {
		t.Fatalf("bob tags an object of a bucket granted to him: %v", err)
	}
	wantTags(t, alice, "shared", "obj", "a=1")
	if _, err := bob.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("shared"), Key: aws.String("obj")}); err != nil {
		t.Fatal(err)
	}
	wantTags(t, alice, "shared", "obj")
}

func TestTaggingMinio(t *testing.T) {
	ts := startServer(t)
	mc := ts.minioClient()
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "tags", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := mc.PutObject(ctx, "tags", "obj", strings.NewReader("hello"), 5, minio.PutObjectOptions{
		UserTags: map[string]string{"project": "blue", "team": "a b"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := mc.GetObjectTagging(ctx, "tags", "obj", minio.GetObjectTaggingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := got.ToMap(); len(m) != 2 || m["project"] != "blue" || m["team"] != "a b" {
		t.Fatalf("minio GetObjectTagging after PutObject UserTags: %v", m)
	}
	if st, err := mc.StatObject(ctx, "tags", "obj", minio.StatObjectOptions{}); err != nil || st.UserTagCount != 2 {
		t.Fatalf("StatObject UserTagCount %d, %v", st.UserTagCount, err)
	}

	set, err := tags.NewTags(map[string]string{"stage": "done"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.PutObjectTagging(ctx, "tags", "obj", set, minio.PutObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err = mc.GetObjectTagging(ctx, "tags", "obj", minio.GetObjectTaggingOptions{}); err != nil || got.String() != "stage=done" {
		t.Fatalf("minio GetObjectTagging after PutObjectTagging: %v %v", got, err)
	}
	if err := mc.RemoveObjectTagging(ctx, "tags", "obj", minio.RemoveObjectTaggingOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err = mc.GetObjectTagging(ctx, "tags", "obj", minio.GetObjectTaggingOptions{}); err != nil || len(got.ToMap()) != 0 {
		t.Fatalf("minio GetObjectTagging after RemoveObjectTagging: %v %v", got, err)
	}

	// CopyObject with ReplaceTags (x-amz-tagging-directive: REPLACE).
	_, err = mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: "tags", Object: "copy", ReplaceTags: true,
		UserTags: map[string]string{"copied": "yes"}}, minio.CopySrcOptions{Bucket: "tags", Object: "obj"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err = mc.GetObjectTagging(ctx, "tags", "copy", minio.GetObjectTaggingOptions{}); err != nil || got.String() != "copied=yes" {
		t.Fatalf("minio copy with ReplaceTags: %v %v", got, err)
	}
}

func TestTaggingPostObject(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "forms")
	now := time.Now()
	conds := []any{map[string]string{"bucket": "forms"}, []any{"starts-with", "$key", "up/"}, []any{"starts-with", "$tagging", ""}}
	send := func(key, tagging string) (*http.Response, []byte) {
		fields := append(postPolicyFields(t, now, now.Add(time.Hour), conds...), field{"key", key}, field{"tagging", tagging})
		return sendPost(t, ts, "forms", fields, "f.txt", []byte("form"), nil)
	}
	resp, body := send("up/tagged", "<Tagging><TagSet><Tag><Key>0</Key><Value>zero</Value></Tag><Tag><Key>1</Key><Value>one</Value></Tag></TagSet></Tagging>")
	if resp.StatusCode != 204 {
		t.Fatalf("POST with a tagging field: %d %s", resp.StatusCode, body)
	}
	info, data := readBack(t, ts, "forms", "up/tagged", nil)
	if want := []engine.Tag{{Key: "0", Value: "zero"}, {Key: "1", Value: "one"}}; string(data) != "form" || !slices.Equal(info.Tags, want) {
		t.Fatalf("POST stored %q with tags %v, want %v", data, info.Tags, want)
	}
	for _, tc := range []struct{ tagging, code string }{
		{"k=v", "MalformedXML"},
		{"<Tagging><TagSet><Tag><Key>aws:k</Key><Value>v</Value></Tag></TagSet></Tagging>", "InvalidTag"},
		{"<Tagging><TagSet>" + strings.Repeat("<Tag><Key>k</Key><Value>v</Value></Tag>", 11) + "</TagSet></Tagging>", "BadRequest"},
	} {
		resp, body := send("up/refused", tc.tagging)
		if code, _ := postErr(body); resp.StatusCode != 400 || code != tc.code {
			t.Errorf("POST with tagging %q: %d %s, want 400 %s", tc.tagging, resp.StatusCode, body, tc.code)
		}
	}
	assertEmptyKey(t, ts, "forms", "up/refused")
}

func assertEmptyKey(t *testing.T, ts *testServer, bucket, key string) {
	t.Helper()
	if _, err := ts.e.HeadObject(context.Background(), bucket, key, nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("%s/%s exists after refused writes: %v", bucket, key, err)
	}
}
