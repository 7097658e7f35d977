package s3facade

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// TestListObjectVersions lists a bucket that never had versioning the way
// S3 does: each object once, as the latest "null" version, with owners,
// delimiters and key-marker paging; the markers S3 refuses are refused.
// Cleanup code of S3 test suites and tools (delete every version, then the
// bucket) works against it.
func TestListObjectVersions(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "b", "c d", "e/f/g"}
	etags := map[string]string{}
	for i, k := range keys {
		out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vers"), Key: aws.String(k), Body: bytes.NewReader(randBytes(uint64(i), 100+i))})
		if err != nil {
			t.Fatal(err)
		}
		etags[k] = aws.ToString(out.ETag)
	}

	out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, v := range out.Versions {
		k := aws.ToString(v.Key)
		got = append(got, k)
		if aws.ToString(v.VersionId) != "null" || !aws.ToBool(v.IsLatest) || aws.ToString(v.ETag) != etags[k] ||
			aws.ToInt64(v.Size) != int64(100+slices.Index(keys, k)) || v.LastModified == nil || v.Owner == nil || aws.ToString(v.Owner.ID) == "" {
			t.Fatalf("version %d: %+v", i, v)
		}
	}
	if !slices.Equal(got, keys) || len(out.DeleteMarkers) != 0 || aws.ToBool(out.IsTruncated) {
		t.Fatalf("versions %v, delete markers %d, truncated %v", got, len(out.DeleteMarkers), aws.ToBool(out.IsTruncated))
	}

	// Delimiter and prefix.
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if len(out.Versions) != 2 || !slices.Equal(prefixes, []string{"a/", "e/"}) {
		t.Fatalf("with delimiter: %d versions, prefixes %v", len(out.Versions), prefixes)
	}

	// Paging one at a time with the key and version-id markers S3 returns.
	var paged []string
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("vers"), MaxKeys: aws.Int32(2)}
	for pages := 0; ; pages++ {
		if pages > len(keys) {
			t.Fatal("paging does not end")
		}
		out, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			paged = append(paged, aws.ToString(v.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		if aws.ToString(out.NextVersionIdMarker) != "null" {
			t.Fatalf("next version id marker %q", aws.ToString(out.NextVersionIdMarker))
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
	if !slices.Equal(paged, keys) {
		t.Fatalf("paged %v", paged)
	}

	for _, bad := range []*s3.ListObjectVersionsInput{
		{Bucket: aws.String("vers"), VersionIdMarker: aws.String("null")},                                            // no key marker
		{Bucket: aws.String("vers"), KeyMarker: aws.String("b"), VersionIdMarker: aws.String("3HL4kqtJlcpXroDTDmJ")}, // not a version here
		{Bucket: aws.String("vers"), EncodingType: types.EncodingType("base64")},
	} {
		if _, err := c.ListObjectVersions(ctx, bad); apiCode(err) != "InvalidArgument" {
			t.Fatalf("%+v: %v, want InvalidArgument", bad, err)
		}
	}
	if _, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("nope")}); apiCode(err) != "NoSuchBucket" {
		t.Fatalf("missing bucket: %v", err)
	}

	// A suite's cleanup: delete every listed version, then the bucket.
	full, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vers")})
	if err != nil {
		t.Fatal(err)
	}
	var objs []types.ObjectIdentifier
	for _, v := range full.Versions {
		objs = append(objs, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
	}
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vers"), Delete: &types.Delete{Objects: objs}})
	if err != nil || len(del.Errors) != 0 || len(del.Deleted) != len(keys) {
		t.Fatalf("delete versions: %v, %d deleted, errors %+v", err, len(del.Deleted), del.Errors)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatalf("delete the emptied bucket: %v", err)
	}
}

// TestMinioListObjectVersions: minio-go's versioned listing (WithVersions)
// sees each object once, as the null version.
func TestMinioListObjectVersions(t *testing.T) {
	ts := startServer(t)
	c := ts.minioClient()
	ctx := context.Background()
	if err := c.MakeBucket(ctx, "mvers", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.PutObject(ctx, "mvers", fmt.Sprintf("k%d", i), bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for o := range c.ListObjects(ctx, "mvers", minio.ListObjectsOptions{WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !o.IsLatest || o.IsDeleteMarker {
			t.Fatalf("%+v", o)
		}
		got = append(got, o.Key+"@"+o.VersionID)
	}
	// minio-go reports the null version id as "null" or "".
	want1, want2 := []string{"k0@null", "k1@null", "k2@null"}, []string{"k0@", "k1@", "k2@"}
	if !slices.Equal(got, want1) && !slices.Equal(got, want2) {
		t.Fatalf("versions %v", got)
	}
}
