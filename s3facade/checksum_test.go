package s3facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestCRC64NVMECheckValue(t *testing.T) {
	if got := crc64.Checksum([]byte("123456789"), crc64NVMETable); got != 0xae8b14860a799888 {
		t.Fatalf("CRC-64/NVME check value %#x", got)
	}
}

func storedChecksum(out *s3.GetObjectOutput, alg types.ChecksumAlgorithm) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(out.ChecksumCRC32)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(out.ChecksumCRC32C)
	case types.ChecksumAlgorithmCrc64nvme:
		return aws.ToString(out.ChecksumCRC64NVME)
	case types.ChecksumAlgorithmSha1:
		return aws.ToString(out.ChecksumSHA1)
	case types.ChecksumAlgorithmSha256:
		return aws.ToString(out.ChecksumSHA256)
	}
	return ""
}

func putChecksum(out *s3.PutObjectOutput, alg types.ChecksumAlgorithm) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(out.ChecksumCRC32)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(out.ChecksumCRC32C)
	case types.ChecksumAlgorithmCrc64nvme:
		return aws.ToString(out.ChecksumCRC64NVME)
	case types.ChecksumAlgorithmSha1:
		return aws.ToString(out.ChecksumSHA1)
	case types.ChecksumAlgorithmSha256:
		return aws.ToString(out.ChecksumSHA256)
	}
	return ""
}

// unseekable hides Seek so the SDK must stream (aws-chunked with a
// trailing checksum over TLS, and an unknown length).
type unseekable struct{ r io.Reader }

func (u unseekable) Read(p []byte) (int, error) { return u.r.Read(p) }

func TestChecksumsHeaderAndTrailer(t *testing.T) {
	algs := []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c,
		types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
	for _, secure := range []bool{false, true} {
		var ts *testServer
		if secure {
			ts = startServer(t, withTLS())
		} else {
			ts = startServer(t)
		}
		c := ts.awsClient()
		ctx := context.Background()
		newBucket(t, c, "sums")
		data := randBytes(9, 1<<20+11)
		for _, alg := range algs {
			for _, stream := range []bool{false, true} {
				if stream && !secure {
					continue // the SDK streams unknown lengths only over TLS
				}
				name := fmt.Sprintf("tls=%v/%s/stream=%v", secure, alg, stream)
				var body io.Reader = bytes.NewReader(data)
				if stream {
					body = unseekable{bytes.NewReader(data)}
				}
				key := name
				out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String(key), Body: body, ChecksumAlgorithm: alg})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				sent := putChecksum(out, alg)
				if sent == "" {
					t.Fatalf("%s: PutObject returned no checksum", name)
				}
				got, gout := mustGet(t, c, "sums", key, func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
				if !bytes.Equal(got, data) {
					t.Fatalf("%s: body differs", name)
				}
				stored := storedChecksum(gout, alg)
				if stored != sent {
					t.Fatalf("%s: stored %q, sent %q", name, stored, sent)
				}
			}
		}
	}
}

func TestChecksumsOff(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient(func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	newBucket(t, c, "plain")
	put(t, c, "plain", "k", []byte("no checksum"))
	_, out := mustGet(t, c, "plain", "k", func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
	if out.ChecksumCRC32 != nil || out.ChecksumCRC64NVME != nil {
		t.Fatal("a checksum was returned for an object stored without one")
	}
}

func TestBadChecksumIsBadDigest(t *testing.T) {
	ts := startServer(t)
	if err := ts.e.CreateBucket(context.Background(), "sums"); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []authKind{authHeaderHashed, authHeaderUnsigned} {
		h := http.Header{}
		h.Set("X-Amz-Checksum-Crc32", base64.StdEncoding.EncodeToString([]byte{1, 2, 3, 4}))
		s := ts.build(t, rawReq{method: "PUT", path: "/sums/bad", header: h, body: []byte("hello"), kind: kind})
		if st, code := ts.send(t, s); st != 400 || code != "BadDigest" {
			t.Fatalf("%s: wrong crc32 header: %d %s", kind, st, code)
		}
		h.Set("Content-Md5", base64.StdEncoding.EncodeToString(make([]byte, 16)))
		h.Del("X-Amz-Checksum-Crc32")
		s = ts.build(t, rawReq{method: "PUT", path: "/sums/bad", header: h, body: []byte("hello"), kind: kind})
		if st, code := ts.send(t, s); st != 400 || code != "BadDigest" {
			t.Fatalf("%s: wrong Content-MD5: %d %s", kind, st, code)
		}
	}
	if _, err := ts.e.HeadObject(context.Background(), "sums", "bad", nil); err == nil {
		t.Fatal("an upload with a bad digest was stored")
	}
}

// TestUnknownLengthRawChunked sends a presigned PUT with HTTP chunked
// transfer encoding (no Content-Length).
func TestUnknownLengthRawChunked(t *testing.T) {
	ts := startServer(t)
	if err := ts.e.CreateBucket(context.Background(), "unk"); err != nil {
		t.Fatal(err)
	}
	data := randBytes(5, 3<<20+1)
	for _, kind := range []authKind{authPresigned, authHeaderUnsigned, authUnsignedTrailer} {
		s := ts.build(t, rawReq{method: "PUT", path: "/unk/" + kind.String(), body: data, kind: kind, te: true})
		s.req.Body = io.NopCloser(unseekable{bytes.NewReader(s.body)})
		s.req.ContentLength = -1
		s.req.Header.Del("Content-Length")
		resp, err := ts.httpClient().Do(s.req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", kind, resp.StatusCode, b)
		}
		obj, err := ts.e.GetObject(context.Background(), "unk", kind.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(obj)
		obj.Close()
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: stored %d bytes, want %d", kind, len(got), len(data))
		}
	}
}
