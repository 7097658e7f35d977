package s3facade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func mustGet(t *testing.T, c *s3.Client, bucket, key string, mod ...func(*s3.GetObjectInput)) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, m := range mod {
		m(in)
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("reading %s/%s: %v", bucket, key, err)
	}
	return b, out
}

func TestAWSSDKObjectLifecycle(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			var ts *testServer
			if secure {
				ts = startServer(t, withTLS())
			} else {
				ts = startServer(t)
			}
			c := ts.awsClient()
			ctx := context.Background()
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("photos")}); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{0, 1, 4 << 10, 100 << 10, 3<<20 + 17} {
				data := randBytes(uint64(size), size)
				key := fmt.Sprintf("dir/obj-%d", size)
				put, err := c.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("photos"), Key: aws.String(key), Body: bytes.NewReader(data),
					ContentType: aws.String("image/jpeg"), Metadata: map[string]string{"color": "red"},
				})
				if err != nil {
					t.Fatalf("put %d: %v", size, err)
				}
				got, out := mustGet(t, c, "photos", key, func(in *s3.GetObjectInput) { in.ChecksumMode = types.ChecksumModeEnabled })
				if !bytes.Equal(got, data) {
					t.Fatalf("size %d: body differs", size)
				}
				if aws.ToString(out.ETag) != aws.ToString(put.ETag) || aws.ToString(out.ContentType) != "image/jpeg" || out.Metadata["color"] != "red" {
					t.Fatalf("size %d: etag %s/%s type %s meta %v", size, aws.ToString(out.ETag), aws.ToString(put.ETag), aws.ToString(out.ContentType), out.Metadata)
				}
				if put.ChecksumCRC32 != nil && aws.ToString(out.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) {
					t.Fatalf("size %d: stored checksum %q, put returned %q", size, aws.ToString(out.ChecksumCRC32), aws.ToString(put.ChecksumCRC32))
				}
				head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String(key)})
				if err != nil || aws.ToInt64(head.ContentLength) != int64(size) {
					t.Fatalf("head %d: %v %d", size, err, aws.ToInt64(head.ContentLength))
				}
			}
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("dir/obj-0")}); err != nil {
				t.Fatal(err)
			}
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("photos"), Key: aws.String("dir/obj-0")})
			if apiCode(err) != "NoSuchKey" {
				t.Fatalf("get deleted: %v", err)
			}
			_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("photos")})
			if apiCode(err) != "BucketNotEmpty" {
				t.Fatalf("delete non-empty bucket: %v", err)
			}
		})
	}
}

func TestMinioObjectLifecycle(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", secure), func(t *testing.T) {
			var ts *testServer
			if secure {
				ts = startServer(t, withTLS())
			} else {
				ts = startServer(t)
			}
			c := ts.minioClient()
			ctx := context.Background()
			if err := c.MakeBucket(ctx, "docs", minio.MakeBucketOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{0, 10, 70 << 10, 2<<20 + 5} {
				data := randBytes(uint64(size)+7, size)
				key := fmt.Sprintf("k%d", size)
				// minio-go uploads bodies of unknown length with multipart,
				// which is not served yet; unknown lengths are covered with
				// aws-sdk-go-v2 and raw HTTP.
				for _, sendCRC := range []bool{false, true} {
					_, err := c.PutObject(ctx, "docs", key, bytes.NewReader(data), int64(size),
						minio.PutObjectOptions{UserMetadata: map[string]string{"a": "b"}, SendContentMd5: !sendCRC, DisableContentSha256: sendCRC})
					if err != nil {
						t.Fatalf("put size %d crc=%v: %v", size, sendCRC, err)
					}
					obj, err := c.GetObject(ctx, "docs", key, minio.GetObjectOptions{})
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(obj)
					obj.Close()
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("size %d: %v, body equal %v", size, err, bytes.Equal(got, data))
					}
				}
			}
			var keys []string
			for o := range c.ListObjects(ctx, "docs", minio.ListObjectsOptions{}) {
				if o.Err != nil {
					t.Fatal(o.Err)
				}
				keys = append(keys, o.Key)
			}
			if !slices.Equal(keys, []string{"k0", "k10", "k2097157", "k71680"}) {
				t.Fatalf("keys %v", keys)
			}
		})
	}
}
