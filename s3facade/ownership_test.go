package s3facade

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cofferdb/coffer/engine"
)

// The users of the ownership tests. testAccess (in harness_test.go) is a
// plain User without a role or buckets: root, as before roles existed.
const (
	aliceKey, aliceSecret = "AKIDALICE", "alice-secret-key"
	bobKey, bobSecret     = "AKIDBOB", "bob-secret-key-00"
	carolKey, carolSecret = "AKIDCAROL", "carol-secret-key"
	adminKey, adminSecret = "AKIDADMIN", "admin-secret-key"
)

func ownershipUsers() []User {
	return []User{
		{AccessKey: testAccess, SecretKey: testSecret},
		{AccessKey: adminKey, SecretKey: adminSecret, Role: RoleRoot},
		{AccessKey: aliceKey, SecretKey: aliceSecret, Role: RoleUser, DisplayName: "Alice"},
		{AccessKey: bobKey, SecretKey: bobSecret, Role: RoleUser, Buckets: []string{"shared"}},
		// A user written before roles: a bucket list, no role.
		{AccessKey: carolKey, SecretKey: carolSecret, Buckets: []string{"carol-a", "carol-b"}},
	}
}

func withUsers(users []User) serverOpt {
	return func(c *Config, _ *engine.Options) { c.Users = users }
}

func withDrives(dirs []string) serverOpt {
	return func(_ *Config, eo *engine.Options) { eo.Drives = dirs }
}

// clientAs is an aws-sdk-go-v2 client signing as the given user.
func (ts *testServer) clientAs(key, secret string) *s3.Client {
	return ts.awsClient(func(o *s3.Options) {
		o.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		})
	})
}

func (ts *testServer) minioAs(key, secret string) *minio.Client {
	c, err := minio.New(ts.addr, &minio.Options{
		Creds: miniocreds.NewStaticV4(key, secret, ""), Secure: ts.tls, Region: testRegion, Transport: ts.httpClient().Transport,
	})
	if err != nil {
		ts.t.Fatal(err)
	}
	return c
}

func bucketNames(t *testing.T, c *s3.Client) []string {
	t.Helper()
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	return names
}

// fetchOwner lists bucket with fetch-owner and returns the owner of its
// first object.
func fetchOwner(t *testing.T, c *s3.Client, bucket string) types.Owner {
	t.Helper()
	out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatalf("list %s: %v", bucket, err)
	}
	if len(out.Contents) == 0 || out.Contents[0].Owner == nil {
		t.Fatalf("list %s: no object or no owner", bucket)
	}
	return *out.Contents[0].Owner
}

func wantOwner(t *testing.T, what string, got types.Owner, id, name string) {
	t.Helper()
	if aws.ToString(got.ID) != id || aws.ToString(got.DisplayName) != name {
		t.Fatalf("%s: owner %q/%q, want %q/%q", what, aws.ToString(got.ID), aws.ToString(got.DisplayName), id, name)
	}
}

// TestOwnershipTwoUsers: each user's buckets are its own; every bucket and
// object operation of another user on them is refused and changes nothing.
func TestOwnershipTwoUsers(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	ctx := context.Background()
	alice, bob := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret)
	root := ts.awsClient()
	newBucket(t, alice, "alice-data")
	newBucket(t, bob, "bob-data")
	put(t, alice, "alice-data", "k", []byte("alice's"))
	put(t, bob, "bob-data", "b", []byte("bob's"))
	up, err := alice.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("alice-data"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	bobUp, err := bob.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bob-data"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}

	a, k := aws.String("alice-data"), aws.String("k")
	denied := []struct {
		name string
		call func() error
	}{
		{"HeadBucket", func() error { _, err := bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: a}); return err }},
		{"GetBucketLocation", func() error { _, err := bob.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: a}); return err }},
		{"ListObjectsV2", func() error { _, err := bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: a}); return err }},
		{"ListObjects", func() error { _, err := bob.ListObjects(ctx, &s3.ListObjectsInput{Bucket: a}); return err }},
		{"ListMultipartUploads", func() error {
			_, err := bob.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: a})
			return err
		}},
		{"GetBucketEncryption", func() error {
			_, err := bob.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: a})
			return err
		}},
		{"PutBucketEncryption", func() error {
			_, err := bob.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: a,
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms}}}}})
			return err
		}},
		{"DeleteBucketEncryption", func() error {
			_, err := bob.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: a})
			return err
		}},
		{"GetBucketVersioning (not implemented)", func() error {
			_, err := bob.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: a})
			return err
		}},
		{"DeleteBucket", func() error { _, err := bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: a}); return err }},
		{"DeleteObjects", func() error {
			_, err := bob.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: a, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: k}}}})
			return err
		}},
		{"PutObject", func() error {
			_, err := bob.PutObject(ctx, &s3.PutObjectInput{Bucket: a, Key: aws.String("planted"), Body: strings.NewReader("x")})
			return err
		}},
		{"PutObject overwrite", func() error {
			_, err := bob.PutObject(ctx, &s3.PutObjectInput{Bucket: a, Key: k, Body: strings.NewReader("overwritten")})
			return err
		}},
		{"GetObject", func() error { _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: a, Key: k}); return err }},
		{"GetObject missing key", func() error {
			_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: a, Key: aws.String("nope")})
			return err
		}},
		{"HeadObject", func() error { _, err := bob.HeadObject(ctx, &s3.HeadObjectInput{Bucket: a, Key: k}); return err }},
		{"DeleteObject", func() error { _, err := bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: a, Key: k}); return err }},
		{"CopyObject into", func() error {
			_, err := bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: a, Key: aws.String("copied"), CopySource: aws.String("bob-data/b")})
			return err
		}},
		{"CopyObject out of", func() error {
			_, err := bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("stolen"), CopySource: aws.String("alice-data/k")})
			return err
		}},
		{"CreateMultipartUpload", func() error {
			_, err := bob.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: a, Key: aws.String("x")})
			return err
		}},
		{"UploadPart", func() error {
			_, err := bob.UploadPart(ctx, &s3.UploadPartInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
			return err
		}},
		{"ListParts", func() error {
			_, err := bob.ListParts(ctx, &s3.ListPartsInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId})
			return err
		}},
		{"CompleteMultipartUpload", func() error {
			_, err := bob.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"x"`)}}}})
			return err
		}},
		{"AbortMultipartUpload", func() error {
			_, err := bob.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId})
			return err
		}},
		{"UploadPartCopy out of", func() error {
			_, err := bob.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("bob-data"), Key: aws.String("mp"), UploadId: bobUp.UploadId,
				PartNumber: aws.Int32(1), CopySource: aws.String("alice-data/k")})
			return err
		}},
	}
	for _, d := range denied {
		err := d.call()
		if httpStatus(err) != http.StatusForbidden {
			t.Fatalf("bob %s on alice's bucket: %v (status %d), want 403", d.name, err, httpStatus(err))
		}
		if code := apiCode(err); code != "AccessDenied" && !(strings.HasPrefix(d.name, "Head") && code == "Forbidden") {
			t.Fatalf("bob %s on alice's bucket: code %q, want AccessDenied", d.name, code)
		}
	}
	// The other direction, through minio-go.
	mc := ts.minioAs(aliceKey, aliceSecret)
	if _, err := mc.StatObject(ctx, "bob-data", "b", minio.StatObjectOptions{}); minio.ToErrorResponse(err).StatusCode != 403 {
		t.Fatalf("alice stats bob's object through minio-go: %v", err)
	}
	if _, err := mc.PutObject(ctx, "bob-data", "planted", strings.NewReader("x"), 1, minio.PutObjectOptions{}); minio.ToErrorResponse(err).Code != "AccessDenied" {
		t.Fatalf("alice puts into bob's bucket through minio-go: %v", err)
	}

	// Nothing of alice's changed.
	if got, _ := mustGet(t, alice, "alice-data", "k"); string(got) != "alice's" {
		t.Fatalf("alice's object is now %q", got)
	}
	lo, err := alice.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: a})
	if err != nil || len(lo.Contents) != 1 {
		t.Fatalf("alice's bucket after bob's attempts: %+v %v", lo, err)
	}
	if _, err := alice.ListParts(ctx, &s3.ListPartsInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId}); err != nil {
		t.Fatalf("alice's upload after bob's attempts: %v", err)
	}
	enc, err := alice.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: a})
	if err != nil || enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Fatalf("alice's encryption rule after bob's attempts: %v", err)
	}
	if lb, _ := bob.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bob-data")}); len(lb.Contents) != 1 {
		t.Fatalf("bob's copy out of alice's bucket left %d objects in bob-data", len(lb.Contents))
	}

	// A presigned URL carries its signer's rights.
	pc := s3.NewPresignClient(bob)
	preq, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: a, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.httpClient().Get(preq.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !bytes.Contains(body, []byte("<Code>AccessDenied</Code>")) || bytes.Contains(body, []byte("alice's")) {
		t.Fatalf("bob's presigned GET of alice's object: %d %s", resp.StatusCode, body)
	}

	// HEAD: 403 without a body.
	s := ts.build(t, rawReq{method: "HEAD", path: "/alice-data/k", akid: bobKey, secret: bobSecret})
	s.req.Body = http.NoBody
	resp, err = ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.ContentLength > 0 {
		t.Fatalf("bob HEAD of alice's object: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
	}

	// A missing bucket is missing for everyone.
	if _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobody"), Key: k}); apiCode(err) != "NoSuchBucket" {
		t.Fatalf("bob GET in a missing bucket: %v", err)
	}

	// CreateBucket on a taken name: S3's two answers.
	if _, err = alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: a}); err != nil {
		t.Fatalf("alice re-creates her bucket in us-east-1 (S3: 200): %v", err)
	}
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: a})
	wantErr(t, "bob creates alice's bucket", err, "BucketAlreadyExists", 409)
	_, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: a})
	wantErr(t, "root creates alice's bucket", err, "BucketAlreadyExists", 409)

	// ListBuckets shows one's own; root sees all. Its Owner is the
	// requester.
	if got := bucketNames(t, alice); !slices.Equal(got, []string{"alice-data"}) {
		t.Fatalf("alice's ListBuckets: %v", got)
	}
	if got := bucketNames(t, bob); !slices.Equal(got, []string{"bob-data"}) {
		t.Fatalf("bob's ListBuckets: %v", got)
	}
	if got := bucketNames(t, root); !slices.Equal(got, []string{"alice-data", "bob-data"}) {
		t.Fatalf("root's ListBuckets: %v", got)
	}
	lbo, err := alice.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantOwner(t, "alice's ListBuckets", *lbo.Owner, CanonicalID(aliceKey), "Alice")

	// Objects are owned by the bucket's owner, whoever lists them.
	wantOwner(t, "alice lists her bucket", fetchOwner(t, alice, "alice-data"), CanonicalID(aliceKey), "Alice")
	wantOwner(t, "root lists alice's bucket", fetchOwner(t, root, "alice-data"), CanonicalID(aliceKey), "Alice")
	wantOwner(t, "root lists bob's bucket", fetchOwner(t, root, "bob-data"), CanonicalID(bobKey), bobKey)

	// Expected bucket owner.
	if _, err := alice.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: a, ExpectedBucketOwner: aws.String(CanonicalID(aliceKey))}); err != nil {
		t.Fatalf("alice with her own id as expected owner: %v", err)
	}
	_, err = root.GetObject(ctx, &s3.GetObjectInput{Bucket: a, Key: k, ExpectedBucketOwner: aws.String(CanonicalID(testAccess))})
	wantErr(t, "root expecting itself as the owner of alice's bucket", err, "AccessDenied", 403)
	_, err = root.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("c"), CopySource: aws.String("alice-data/k"),
		ExpectedSourceBucketOwner: aws.String(CanonicalID(bobKey))})
	wantErr(t, "copy with a wrong expected source owner", err, "AccessDenied", 403)
	if _, err := root.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("c"), CopySource: aws.String("alice-data/k"),
		ExpectedSourceBucketOwner: aws.String(CanonicalID(aliceKey)), ExpectedBucketOwner: aws.String(CanonicalID(bobKey))}); err != nil {
		t.Fatalf("root copies between users' buckets naming both owners: %v", err)
	}

	// Root deletes anyone's bucket; owners delete their own.
	if _, err := root.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bob-data"), Key: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("bob-data"), Key: aws.String("mp"), UploadId: bobUp.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("bob-data")}); err != nil {
		t.Fatalf("root deletes bob's empty bucket: %v", err)
	}
	if _, err := alice.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: a, Key: aws.String("mp"), UploadId: up.UploadId}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: a, Key: k}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: a}); err != nil {
		t.Fatalf("alice deletes her empty bucket: %v", err)
	}
	// The freed name is anyone's to take.
	newBucket(t, bob, "alice-data")
	if info, err := ts.e.HeadBucket(ctx, "alice-data"); err != nil || info.Owner != CanonicalID(bobKey) {
		t.Fatalf("re-created bucket: %+v %v", info, err)
	}
}

// TestOwnershipGrants: a grant gives use of another user's bucket, not
// its deletion or configuration.
func TestOwnershipGrants(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	ctx := context.Background()
	alice, bob := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret)
	newBucket(t, alice, "shared")
	newBucket(t, alice, "private")
	put(t, alice, "shared", "from-alice", []byte("hello bob"))

	if got, _ := mustGet(t, bob, "shared", "from-alice"); string(got) != "hello bob" {
		t.Fatalf("bob reads %q", got)
	}
	put(t, bob, "shared", "from-bob", []byte("hello alice"))
	if got, _ := mustGet(t, alice, "shared", "from-bob"); string(got) != "hello alice" {
		t.Fatalf("alice reads %q", got)
	}
	if _, err := bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatalf("bob reads the shared bucket's encryption rule: %v", err)
	}
	if _, err := bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shared"), ExpectedBucketOwner: aws.String(CanonicalID(aliceKey))}); err != nil {
		t.Fatalf("bob naming alice as the expected owner: %v", err)
	}
	_, err := bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shared"), ExpectedBucketOwner: aws.String(CanonicalID(bobKey))})
	if httpStatus(err) != 403 {
		t.Fatalf("bob naming himself as the owner of alice's bucket: %v", err)
	}

	// The owner's id shows in listings, to the grantee as well, with
	// minio-go and v1 listings too.
	wantOwner(t, "bob lists the shared bucket", fetchOwner(t, bob, "shared"), CanonicalID(aliceKey), "Alice")
	v1, err := bob.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("shared")})
	if err != nil || len(v1.Contents) != 2 {
		t.Fatalf("v1 listing: %v", err)
	}
	for _, o := range v1.Contents {
		wantOwner(t, "v1 listing "+aws.ToString(o.Key), *o.Owner, CanonicalID(aliceKey), "Alice")
	}
	for o := range ts.minioAs(bobKey, bobSecret).ListObjects(ctx, "shared", minio.ListObjectsOptions{}) {
		// minio-go swaps the two fields' XML names: check both values.
		if o.Err != nil || !slices.Contains([]string{o.Owner.ID, o.Owner.DisplayName}, CanonicalID(aliceKey)) {
			t.Fatalf("minio-go listing: %+v", o)
		}
	}

	_, err = bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("shared")})
	wantErr(t, "grantee deletes the bucket", err, "AccessDenied", 403)
	_, err = bob.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("shared"),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}})
	wantErr(t, "grantee sets the encryption rule", err, "AccessDenied", 403)
	_, err = bob.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("shared")})
	wantErr(t, "grantee deletes the encryption rule", err, "AccessDenied", 403)
	_, err = bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("private"), Key: aws.String("x")})
	wantErr(t, "bob in alice's ungranted bucket", err, "AccessDenied", 403)

	// Copy between a granted bucket and one's own.
	newBucket(t, bob, "bob-own")
	if _, err := bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-own"), Key: aws.String("c"), CopySource: aws.String("shared/from-alice")}); err != nil {
		t.Fatalf("bob copies from the shared bucket: %v", err)
	}
	_, err = bob.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bob-own"), Key: aws.String("c"), CopySource: aws.String("private/x")})
	wantErr(t, "bob copies from alice's ungranted bucket", err, "AccessDenied", 403)

	if got := bucketNames(t, bob); !slices.Equal(got, []string{"bob-own", "shared"}) {
		t.Fatalf("bob's ListBuckets: %v", got)
	}
	if got := bucketNames(t, alice); !slices.Equal(got, []string{"private", "shared"}) {
		t.Fatalf("alice's ListBuckets: %v", got)
	}
	// Uploads in the shared bucket belong to its owner; bob, who lists
	// them, stands as their initiator.
	up, err := bob.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("shared"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	lp, err := bob.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("shared"), Key: aws.String("mp"), UploadId: up.UploadId})
	if err != nil || lp.Owner == nil || lp.Initiator == nil {
		t.Fatalf("ListParts: %v", err)
	}
	if aws.ToString(lp.Owner.ID) != CanonicalID(aliceKey) || aws.ToString(lp.Initiator.ID) != CanonicalID(bobKey) {
		t.Fatalf("ListParts owner %s initiator %s, want alice's and bob's ids", aws.ToString(lp.Owner.ID), aws.ToString(lp.Initiator.ID))
	}
	lu, err := bob.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("shared")})
	if err != nil || len(lu.Uploads) != 1 || aws.ToString(lu.Uploads[0].Owner.ID) != CanonicalID(aliceKey) {
		t.Fatalf("ListMultipartUploads: %v %+v", err, lu)
	}
	// A grant is not ownership: bob may not "re-create" the granted bucket.
	_, err = bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")})
	wantErr(t, "grantee creates the granted bucket", err, "BucketAlreadyExists", 409)
}

// TestOwnershipRootAndLegacy: buckets without a recorded owner belong to
// root; plain users and bucket lists written before roles keep their
// meaning.
func TestOwnershipRootAndLegacy(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	ctx := context.Background()
	root, admin := ts.awsClient(), ts.clientAs(adminKey, adminSecret)
	alice, carol := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(carolKey, carolSecret)

	// A bucket made through the engine API (as before owners existed).
	if err := ts.e.CreateBucket(ctx, "old-bucket"); err != nil {
		t.Fatal(err)
	}
	put(t, root, "old-bucket", "k", []byte("old"))
	wantOwner(t, "owner of an ownerless bucket", fetchOwner(t, admin, "old-bucket"), CanonicalID(testAccess), testAccess)
	_, err := alice.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("old-bucket"), Key: aws.String("k")})
	wantErr(t, "alice in root's bucket", err, "AccessDenied", 403)
	if _, err = root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("old-bucket")}); err != nil {
		t.Fatalf("root re-creates a root bucket: %v", err)
	}
	if _, err = admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("old-bucket")}); err != nil {
		t.Fatalf("a second root re-creates a root bucket: %v", err)
	}

	// Carol (a bucket list, no role) creates only listed buckets, uses
	// them whoever owns them, and deletes only those she owns.
	_, err = carol.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("carol-other")})
	wantErr(t, "legacy user creates an unlisted bucket", err, "AccessDenied", 403)
	newBucket(t, carol, "carol-a")
	newBucket(t, admin, "carol-b")
	put(t, carol, "carol-b", "k", []byte("carol in root's bucket"))
	if got := bucketNames(t, carol); !slices.Equal(got, []string{"carol-a", "carol-b"}) {
		t.Fatalf("carol's ListBuckets: %v", got)
	}
	_, err = carol.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("old-bucket"), Key: aws.String("k")})
	wantErr(t, "legacy user outside her list", err, "AccessDenied", 403)
	if _, err := carol.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("carol-a")}); err != nil {
		t.Fatalf("legacy user deletes a listed bucket she created: %v", err)
	}
	if _, err := carol.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("carol-b"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	_, err = carol.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("carol-b")})
	wantErr(t, "legacy user deletes a listed bucket root owns", err, "AccessDenied", 403)

	// Both root users see and may delete everything.
	newBucket(t, alice, "alice-data")
	for _, c := range []*s3.Client{root, admin} {
		if got := bucketNames(t, c); !slices.Equal(got, []string{"alice-data", "carol-b", "old-bucket"}) {
			t.Fatalf("root's ListBuckets: %v", got)
		}
	}
	if _, err := admin.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alice-data")}); err != nil {
		t.Fatalf("root deletes alice's bucket: %v", err)
	}
}

// TestOwnershipSurvivesRestart: owners are in the index, not in memory.
func TestOwnershipSurvivesRestart(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	ctx := context.Background()
	t.Run("before", func(t *testing.T) {
		ts := startServer(t, withUsers(ownershipUsers()), withDrives(dirs))
		alice := ts.clientAs(aliceKey, aliceSecret)
		newBucket(t, alice, "alice-data")
		put(t, alice, "alice-data", "k", []byte("persisted"))
	})
	t.Run("after", func(t *testing.T) {
		ts := startServer(t, withUsers(ownershipUsers()), withDrives(dirs))
		alice, bob := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret)
		_, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alice-data"), Key: aws.String("k")})
		wantErr(t, "bob after restart", err, "AccessDenied", 403)
		if got, _ := mustGet(t, alice, "alice-data", "k"); string(got) != "persisted" {
			t.Fatalf("alice reads %q", got)
		}
		if got := bucketNames(t, alice); !slices.Equal(got, []string{"alice-data"}) {
			t.Fatalf("alice's ListBuckets after restart: %v", got)
		}
		if got := bucketNames(t, bob); len(got) != 0 {
			t.Fatalf("bob's ListBuckets after restart: %v", got)
		}
		if _, err = alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alice-data")}); err != nil {
			t.Fatalf("alice re-creates after restart: %v", err)
		}
	})
	// A configuration that drops alice: her buckets stay hers (root
	// sees them, with her id), and nobody else gets them.
	t.Run("alice removed", func(t *testing.T) {
		users := slices.DeleteFunc(ownershipUsers(), func(u User) bool { return u.AccessKey == aliceKey })
		ts := startServer(t, withUsers(users), withDrives(dirs))
		wantOwner(t, "bucket of a removed user", fetchOwner(t, ts.awsClient(), "alice-data"), CanonicalID(aliceKey), CanonicalID(aliceKey))
		_, err := ts.clientAs(bobKey, bobSecret).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alice-data")})
		if httpStatus(err) != 403 {
			t.Fatalf("bob HEAD after alice left: %v", err)
		}
	})
}

// TestOwnerIDSurvivesKeyRotation: users sharing an ID are one owner.
func TestOwnerIDSurvivesKeyRotation(t *testing.T) {
	users := []User{
		{AccessKey: testAccess, SecretKey: testSecret},
		{AccessKey: "AKIDOLD", SecretKey: "old-secret-key", Role: RoleUser, ID: "team-a"},
		{AccessKey: "AKIDNEW", SecretKey: "new-secret-key", Role: RoleUser, ID: "team-a", DisplayName: "Team A"},
	}
	ts := startServer(t, withUsers(users))
	ctx := context.Background()
	oldKey, newKey := ts.clientAs("AKIDOLD", "old-secret-key"), ts.clientAs("AKIDNEW", "new-secret-key")
	newBucket(t, oldKey, "team-bucket")
	put(t, oldKey, "team-bucket", "k", []byte("v"))
	if info, _ := ts.e.HeadBucket(ctx, "team-bucket"); info.Owner != "team-a" {
		t.Fatalf("recorded owner %q, want the configured id", info.Owner)
	}
	if _, err := newKey.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("team-bucket")}); err != nil {
		t.Fatalf("the new key re-creates the team's bucket: %v", err)
	}
	// The first user with the id names it.
	wantOwner(t, "team bucket", fetchOwner(t, newKey, "team-bucket"), "team-a", "AKIDOLD")
	if _, err := newKey.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("team-bucket"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := newKey.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("team-bucket")}); err != nil {
		t.Fatalf("the new key deletes the team's bucket: %v", err)
	}
}

func TestUserConfigValidation(t *testing.T) {
	base := User{AccessKey: "AKIDVALID", SecretKey: "valid-secret"}
	for _, tc := range []struct {
		name string
		edit func(*User)
		ok   bool
	}{
		{"plain root", func(*User) {}, true},
		{"role user without grants", func(u *User) { u.Role = RoleUser }, true},
		{"role user with grants", func(u *User) { u.Role = RoleUser; u.Buckets = []string{"team-logs"} }, true},
		{"explicit root", func(u *User) { u.Role = RoleRoot }, true},
		{"custom id", func(u *User) { u.ID = "team@example.com" }, true},
		{"unknown role", func(u *User) { u.Role = "admin" }, false},
		{"root with a bucket list", func(u *User) { u.Role = RoleRoot; u.Buckets = []string{"x-bucket"} }, false},
		{"id with a space", func(u *User) { u.ID = "a b" }, false},
		{"id with a slash", func(u *User) { u.ID = "a/b" }, false},
		{"id too long", func(u *User) { u.ID = strings.Repeat("a", 129) }, false},
		{"display name with a newline", func(u *User) { u.DisplayName = "a\nb" }, false},
		{"invalid granted bucket name", func(u *User) { u.Buckets = []string{"Bad_Name"} }, false},
	} {
		u := base
		tc.edit(&u)
		err := Config{Users: []User{u}}.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	// New leaves the caller's slice alone.
	users := []User{{AccessKey: "AKIDVALID", SecretKey: "valid-secret", Buckets: []string{"team-logs"}}}
	e, err := engine.Open(t.TempDir(), &engine.Options{Sync: engine.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := New(e, Config{Users: users}); err != nil {
		t.Fatal(err)
	}
	if users[0].ID != "" || users[0].DisplayName != "" {
		t.Fatalf("New changed the caller's users: %+v", users[0])
	}
	if s := users[0].String(); strings.Contains(s, "valid-secret") {
		t.Fatalf("User.String shows the secret: %s", s)
	}
}
