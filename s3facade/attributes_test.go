package s3facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cofferdb/coffer/engine"
)

// crc32b64 is the base64 CRC32 (IEEE) of data, as x-amz-checksum-crc32.
func crc32b64(data []byte) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE(data))
	return base64.StdEncoding.EncodeToString(b[:])
}

func getAttrs(c *s3.Client, bucket, key string, attrs []types.ObjectAttributes, mod ...func(*s3.GetObjectAttributesInput)) (*s3.GetObjectAttributesOutput, error) {
	in := &s3.GetObjectAttributesInput{Bucket: aws.String(bucket), Key: aws.String(key), ObjectAttributes: attrs}
	for _, m := range mod {
		m(in)
	}
	return c.GetObjectAttributes(context.Background(), in)
}

var allAttrs = []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum,
	types.ObjectAttributesObjectParts, types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

// TestGetObjectAttributesPlain: a single-part object reports its unquoted
// ETag, size, storage class and stored CRC32 (FULL_OBJECT), no
// ObjectParts, and only the attributes asked for.
func TestGetObjectAttributesPlain(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "attrs")
	data := randBytes(1, 45679)
	po, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	out, err := getAttrs(c, "attrs", "k", allAttrs)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(out.ETag), strings.Trim(aws.ToString(po.ETag), `"`); got != want || strings.Contains(got, `"`) {
		t.Errorf("ETag %q, want %q unquoted", got, want)
	}
	if aws.ToInt64(out.ObjectSize) != int64(len(data)) || out.StorageClass != types.StorageClassStandard {
		t.Errorf("size %d, storage class %q", aws.ToInt64(out.ObjectSize), out.StorageClass)
	}
	if out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != crc32b64(data) || out.Checksum.ChecksumType != types.ChecksumTypeFullObject {
		t.Errorf("checksum %+v, want CRC32 %s FULL_OBJECT", out.Checksum, crc32b64(data))
	}
	if out.ObjectParts != nil {
		t.Errorf("ObjectParts %+v on a single-part object", out.ObjectParts)
	}
	if out.LastModified == nil || out.LastModified.IsZero() {
		t.Error("no Last-Modified")
	}

	// Only what is asked for.
	out, err = getAttrs(c, "attrs", "k", []types.ObjectAttributes{types.ObjectAttributesObjectSize})
	if err != nil {
		t.Fatal(err)
	}
	if out.ETag != nil || out.Checksum != nil || out.StorageClass != "" || aws.ToInt64(out.ObjectSize) != int64(len(data)) {
		t.Errorf("ObjectSize only: etag %v checksum %v class %q size %d", out.ETag, out.Checksum, out.StorageClass, aws.ToInt64(out.ObjectSize))
	}

	// An object stored without an additional checksum has no Checksum.
	// (The SDK adds CRC32 to PutObject by default: raw PUT without one.)
	if code, body := ts.rawSend(t, "PUT", "/attrs/plain", nil, nil, []byte("hello")); code != 200 {
		t.Fatalf("raw put: %d %s", code, body)
	}
	out, err = getAttrs(c, "attrs", "plain", []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesEtag})
	if err != nil {
		t.Fatal(err)
	}
	if out.Checksum != nil || aws.ToString(out.ETag) != "5d41402abc4b2a76b9719d911017c592" {
		t.Errorf("no-checksum object: checksum %+v etag %q", out.Checksum, aws.ToString(out.ETag))
	}
}

// TestGetObjectAttributesMultipart: a multipart object reports its part
// count; with a CRC32 upload its parts (number, size, CRC32) are listed
// and paged by MaxParts and PartNumberMarker, and its checksum is
// COMPOSITE. Without an additional checksum only the count is given.
func TestGetObjectAttributesMultipart(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	newBucket(t, c, "mpattrs")
	parts := [][]byte{randBytes(1, 5*mib), randBytes(2, 5*mib), randBytes(3, 1000)}
	id := newUpload(t, c, "mpattrs", "mp", func(in *s3.CreateMultipartUploadInput) { in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32 })
	var etags []string
	for i, p := range parts {
		out, err := c.UploadPart(context.Background(), &s3.UploadPartInput{Bucket: aws.String("mpattrs"), Key: aws.String("mp"),
			UploadId: aws.String(id), PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		etags = append(etags, aws.ToString(out.ETag))
	}
	var cparts []types.CompletedPart
	for i := range parts {
		cparts = append(cparts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(etags[i]), ChecksumCRC32: aws.String(crc32b64(parts[i]))})
	}
	co, err := c.CompleteMultipartUpload(context.Background(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpattrs"), Key: aws.String("mp"),
		UploadId: aws.String(id), MultipartUpload: &types.CompletedMultipartUpload{Parts: cparts}})
	if err != nil {
		t.Fatal(err)
	}

	var seen []int32
	marker := ""
	for page := 0; ; page++ {
		out, err := getAttrs(c, "mpattrs", "mp", allAttrs, func(in *s3.GetObjectAttributesInput) {
			in.MaxParts = aws.Int32(2)
			if marker != "" {
				in.PartNumberMarker = aws.String(marker)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(aws.ToString(out.ETag), "-3") || aws.ToString(out.ETag) != strings.Trim(aws.ToString(co.ETag), `"`) {
			t.Errorf("ETag %q, complete gave %q", aws.ToString(out.ETag), aws.ToString(co.ETag))
		}
		if aws.ToInt64(out.ObjectSize) != int64(10*mib+1000) {
			t.Errorf("size %d", aws.ToInt64(out.ObjectSize))
		}
		if out.Checksum == nil || out.Checksum.ChecksumType != types.ChecksumTypeComposite || aws.ToString(out.Checksum.ChecksumCRC32) == "" {
			t.Errorf("checksum %+v, want a COMPOSITE CRC32", out.Checksum)
		}
		op := out.ObjectParts
		if op == nil {
			t.Fatal("no ObjectParts on a multipart object")
		}
		if aws.ToInt32(op.TotalPartsCount) != 3 || aws.ToInt32(op.MaxParts) != 2 {
			t.Errorf("page %d: parts count %d, max parts %d", page, aws.ToInt32(op.TotalPartsCount), aws.ToInt32(op.MaxParts))
		}
		if got := aws.ToString(op.PartNumberMarker); got != marker && !(marker == "" && got == "0") {
			t.Errorf("page %d: PartNumberMarker %q, sent %q", page, got, marker)
		}
		for _, p := range op.Parts {
			n := aws.ToInt32(p.PartNumber)
			want := parts[n-1]
			if aws.ToInt64(p.Size) != int64(len(want)) || aws.ToString(p.ChecksumCRC32) != crc32b64(want) {
				t.Errorf("part %d: size %d crc32 %s", n, aws.ToInt64(p.Size), aws.ToString(p.ChecksumCRC32))
			}
			seen = append(seen, n)
		}
		if !aws.ToBool(op.IsTruncated) {
			break
		}
		marker = aws.ToString(op.NextPartNumberMarker)
		if page > 3 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 3 || seen[0] != 1 || seen[1] != 2 || seen[2] != 3 {
		t.Errorf("parts listed %v, want [1 2 3] over two pages", seen)
	}

	// No additional checksum: the count only (the engine writes the
	// object, so that no SDK default checksum is involved).
	up, err := ts.e.CreateMultipartUpload(context.Background(), "mpattrs", "plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var eparts []engine.CompletePart
	for i, p := range parts {
		pi, err := ts.e.UploadPart(context.Background(), "mpattrs", "plain", up.UploadID, i+1, bytes.NewReader(p), &engine.PartOptions{Size: int64(len(p))})
		if err != nil {
			t.Fatal(err)
		}
		eparts = append(eparts, engine.CompletePart{PartNumber: i + 1, ETag: pi.ETag})
	}
	if _, err := ts.e.CompleteMultipartUpload(context.Background(), "mpattrs", "plain", up.UploadID, eparts, nil); err != nil {
		t.Fatal(err)
	}
	out, err := getAttrs(c, "mpattrs", "plain", []types.ObjectAttributes{types.ObjectAttributesObjectParts, types.ObjectAttributesChecksum})
	if err != nil {
		t.Fatal(err)
	}
	if out.Checksum != nil || out.ObjectParts == nil || aws.ToInt32(out.ObjectParts.TotalPartsCount) != 3 ||
		len(out.ObjectParts.Parts) != 0 || out.ObjectParts.IsTruncated != nil {
		t.Errorf("multipart without checksum: checksum %+v parts %+v", out.Checksum, out.ObjectParts)
	}
}

// TestGetObjectAttributesErrors: S3's errors for a missing key or bucket,
// a missing, empty or unknown attribute name, bad paging headers, another
// version, and a user without access to the bucket.
func TestGetObjectAttributesErrors(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	alice, bob := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret)
	newBucket(t, alice, "alice-attrs")
	put(t, alice, "alice-attrs", "k", []byte("data"))
	size := []types.ObjectAttributes{types.ObjectAttributesObjectSize}

	_, err := getAttrs(alice, "alice-attrs", "missing", size)
	wantErr(t, "missing key", err, "NoSuchKey", 404)
	_, err = getAttrs(alice, "no-such-bucket-attrs", "k", size)
	wantErr(t, "missing bucket", err, "NoSuchBucket", 404)
	_, err = getAttrs(alice, "alice-attrs", "k", []types.ObjectAttributes{"ETag", "Bogus"})
	wantErr(t, "unknown attribute", err, "InvalidArgument", 400)
	_, err = getAttrs(alice, "alice-attrs", "k", []types.ObjectAttributes{"etag"})
	wantErr(t, "attribute in the wrong case", err, "InvalidArgument", 400)
	_, err = getAttrs(alice, "alice-attrs", "k", []types.ObjectAttributes{})
	wantErr(t, "no attribute", err, "InvalidArgument", 400)
	_, err = getAttrs(alice, "alice-attrs", "k", size, func(in *s3.GetObjectAttributesInput) { in.MaxParts = aws.Int32(-1) })
	wantErr(t, "negative max parts", err, "InvalidArgument", 400)
	_, err = getAttrs(alice, "alice-attrs", "k", size, func(in *s3.GetObjectAttributesInput) { in.PartNumberMarker = aws.String("x") })
	wantErr(t, "part number marker not a number", err, "InvalidArgument", 400)
	_, err = getAttrs(alice, "alice-attrs", "k", size, func(in *s3.GetObjectAttributesInput) { in.VersionId = aws.String("v2") })
	wantErr(t, "version other than null", err, "InvalidArgument", 400)
	if out, err := getAttrs(alice, "alice-attrs", "k", size, func(in *s3.GetObjectAttributesInput) { in.VersionId = aws.String("null") }); err != nil || aws.ToInt64(out.ObjectSize) != 4 {
		t.Errorf("versionId=null: %v", err)
	}
	_, err = getAttrs(bob, "alice-attrs", "k", size)
	wantErr(t, "user without access", err, "AccessDenied", 403)

	// The header missing altogether (a raw signed request) and an SSE
	// header, which a read refuses.
	ts2 := startServer(t)
	c := ts2.awsClient()
	newBucket(t, c, "raw")
	put(t, c, "raw", "k", []byte("data"))
	q := url.Values{"attributes": {""}}
	if code, body := ts2.rawSend(t, "GET", "/raw/k", q, nil, nil); code != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Errorf("no x-amz-object-attributes: %d %s", code, body)
	}
	h := http.Header{"X-Amz-Object-Attributes": {"ObjectSize"}, "X-Amz-Server-Side-Encryption": {"AES256"}}
	if code, body := ts2.rawSend(t, "GET", "/raw/k", q, h, nil); code != 400 || !strings.Contains(body, "<Code>InvalidArgument</Code>") {
		t.Errorf("SSE header on a read: %d %s", code, body)
	}
	h = http.Header{"X-Amz-Object-Attributes": {"ETag,ObjectSize"}}
	code, body := ts2.rawSend(t, "GET", "/raw/k", q, h, nil)
	if code != 200 || !strings.Contains(body, `<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ETag>8d777f385d3dfec8815d20f7496026dc</ETag><ObjectSize>4</ObjectSize></GetObjectAttributesResponse>`) {
		t.Errorf("raw document: %d %s", code, body)
	}
}

// TestGetObjectAttributesSSEC: an SSE-C object needs its key, as on HEAD.
func TestGetObjectAttributesSSEC(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *engine.Options) { c.AllowInsecureSSECLoopback = true })
	c := ts.awsClient()
	newBucket(t, c, "ssec-attrs")
	_, k1, m1 := ssecKey(1)
	_, k2, m2 := ssecKey(2)
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("ssec-attrs"), Key: aws.String("k"), Body: bytes.NewReader([]byte("secret")),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(k1), SSECustomerKeyMD5: aws.String(m1)}); err != nil {
		t.Fatal(err)
	}
	size := []types.ObjectAttributes{types.ObjectAttributesObjectSize}
	_, err := getAttrs(c, "ssec-attrs", "k", size)
	wantErr(t, "SSE-C without key", err, "InvalidRequest", 400)
	_, err = getAttrs(c, "ssec-attrs", "k", size, func(in *s3.GetObjectAttributesInput) {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k2), aws.String(m2)
	})
	wantErr(t, "SSE-C wrong key", err, "AccessDenied", 403)
	out, err := getAttrs(c, "ssec-attrs", "k", size, func(in *s3.GetObjectAttributesInput) {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k1), aws.String(m1)
	})
	if err != nil || aws.ToInt64(out.ObjectSize) != 6 {
		t.Fatalf("SSE-C with key: %v", err)
	}
}
