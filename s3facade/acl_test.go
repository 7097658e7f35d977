package s3facade

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/cofferdb/coffer/engine"
)

// wantOwnerOnlyACL checks an ACL answer: the owner, and FULL_CONTROL
// granted to the owner alone as a CanonicalUser.
func wantOwnerOnlyACL(t *testing.T, what string, o *types.Owner, grants []types.Grant, id, name string) {
	t.Helper()
	if o == nil {
		t.Fatalf("%s: no owner", what)
	}
	wantOwner(t, what+" owner", *o, id, name)
	if len(grants) != 1 || grants[0].Grantee == nil {
		t.Fatalf("%s: grants %+v, want one", what, grants)
	}
	g := grants[0]
	if g.Permission != types.PermissionFullControl || g.Grantee.Type != types.TypeCanonicalUser ||
		aws.ToString(g.Grantee.ID) != id || aws.ToString(g.Grantee.DisplayName) != name || g.Grantee.URI != nil {
		t.Fatalf("%s: grant %s to %+v, want FULL_CONTROL to CanonicalUser %s", what, g.Permission, *g.Grantee, id)
	}
}

// ownerACLPolicy is the AccessControlPolicy that gives the owner with id
// FULL_CONTROL and nobody anything else, plus extra grants.
func ownerACLPolicy(id string, extra ...types.Grant) *types.AccessControlPolicy {
	grants := append([]types.Grant{{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(id)},
		Permission: types.PermissionFullControl}}, extra...)
	return &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String(id)}, Grants: grants}
}

var allUsersRead = types.Grant{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")},
	Permission: types.PermissionRead}

// TestACLsDisabled: every bucket behaves as an S3 bucket with
// BucketOwnerEnforced. Reading an ACL answers the owner's FULL_CONTROL;
// writes with an ACL that would give anyone else anything fail with S3's
// code and write nothing; the owner-only forms are accepted.
func TestACLsDisabled(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "acl")
	put(t, c, "acl", "k", []byte("data"))
	lb, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	id, name := aws.ToString(lb.Owner.ID), aws.ToString(lb.Owner.DisplayName)
	if id == "" {
		t.Fatal("ListBuckets shows no owner id")
	}

	// Reading ACLs.
	ba, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl")})
	if err != nil {
		t.Fatal(err)
	}
	wantOwnerOnlyACL(t, "GetBucketAcl", ba.Owner, ba.Grants, id, name)
	oa, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	wantOwnerOnlyACL(t, "GetObjectAcl", oa.Owner, oa.Grants, id, name)
	wantOwner(t, "fetch-owner", fetchOwner(t, c, "acl"), id, name)
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("missing")})
	wantErr(t, "GetObjectAcl of a missing key", err, "NoSuchKey", 404)
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"), VersionId: aws.String("v1")})
	wantErr(t, "GetObjectAcl of another version", err, "InvalidArgument", 400)
	_, err = c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("nobucket")})
	wantErr(t, "GetBucketAcl of a missing bucket", err, "NoSuchBucket", 404)

	// Object writes: no ACL, private, bucket-owner-full-control or a
	// full-control grant to the owner pass; the rest writes nothing.
	written := func(key string) bool {
		_, err := ts.e.HeadObject(ctx, "acl", key, nil)
		if err != nil && !errors.Is(err, engine.ErrObjectNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	putWith := func(key string, mod func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String("acl"), Key: aws.String(key), Body: bytes.NewReader([]byte("x"))}
		mod(in)
		_, err := c.PutObject(ctx, in)
		return err
	}
	for _, acl := range []types.ObjectCannedACL{types.ObjectCannedACLPrivate, types.ObjectCannedACLBucketOwnerFullControl} {
		if err := putWith("ok-"+string(acl), func(in *s3.PutObjectInput) { in.ACL = acl }); err != nil || !written("ok-"+string(acl)) {
			t.Fatalf("PutObject with %s: %v", acl, err)
		}
	}
	if err := putWith("ok-grant", func(in *s3.PutObjectInput) { in.GrantFullControl = aws.String(`id="` + id + `"`) }); err != nil || !written("ok-grant") {
		t.Fatalf("PutObject granting the owner full control: %v", err)
	}
	refused := []struct {
		name       string
		mod        func(*s3.PutObjectInput)
		code       string
		argumentOf string
	}{
		{"public-read", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }, "AccessControlListNotSupported", ""},
		{"authenticated-read", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLAuthenticatedRead }, "AccessControlListNotSupported", ""},
		{"bucket-owner-read", func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLBucketOwnerRead }, "AccessControlListNotSupported", ""},
		{"grant-read", func(in *s3.PutObjectInput) { in.GrantRead = aws.String(`id="` + id + `"`) }, "AccessControlListNotSupported", ""},
		{"grant-full-other", func(in *s3.PutObjectInput) { in.GrantFullControl = aws.String(`id="` + id + `", id="someone"`) }, "AccessControlListNotSupported", ""},
		{"grant-full-group", func(in *s3.PutObjectInput) {
			in.GrantFullControl = aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
		}, "AccessControlListNotSupported", ""},
		{"grant-garbled", func(in *s3.PutObjectInput) { in.GrantFullControl = aws.String(`nonsense`) }, "InvalidArgument", "x-amz-grant-full-control"},
		{"canned-and-grant", func(in *s3.PutObjectInput) {
			in.ACL = types.ObjectCannedACLBucketOwnerFullControl
			in.GrantFullControl = aws.String(`id="` + id + `"`)
		}, "InvalidRequest", ""},
		{"unknown-canned", func(in *s3.PutObjectInput) { in.ACL = "publicread" }, "InvalidArgument", "x-amz-acl"},
	}
	for _, rc := range refused {
		err := putWith("no-"+rc.name, rc.mod)
		wantErr(t, "PutObject "+rc.name, err, rc.code, 400)
		if written("no-" + rc.name) {
			t.Fatalf("PutObject %s: object written", rc.name)
		}
	}
	// The ArgumentName S3 names for an unknown canned ACL.
	st, body := ts.rawSend(t, "PUT", "/acl/raw", nil, http.Header{"X-Amz-Acl": {"publicread"}}, []byte("x"))
	if st != 400 || !strings.Contains(body, "<ArgumentName>x-amz-acl</ArgumentName><ArgumentValue>publicread</ArgumentValue>") {
		t.Fatalf("unknown canned ACL: %d %s", st, body)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acl"), Key: aws.String("no-copy"),
		CopySource: aws.String("acl/k"), ACL: types.ObjectCannedACLPublicReadWrite})
	wantErr(t, "CopyObject public-read-write", err, "AccessControlListNotSupported", 400)
	if written("no-copy") {
		t.Fatal("refused copy written")
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("acl"), Key: aws.String("ok-copy"),
		CopySource: aws.String("acl/k"), ACL: types.ObjectCannedACLBucketOwnerFullControl}); err != nil || !written("ok-copy") {
		t.Fatalf("CopyObject bucket-owner-full-control: %v", err)
	}
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("acl"), Key: aws.String("mp"),
		ACL: types.ObjectCannedACLPublicRead})
	wantErr(t, "CreateMultipartUpload public-read", err, "AccessControlListNotSupported", 400)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("acl")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("refused multipart upload created: %v %+v", err, ups)
	}

	// CreateBucket: private passes, anything public is S3's
	// InvalidBucketAclWithObjectOwnership and creates nothing.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl-private"), ACL: types.BucketCannedACLPrivate}); err != nil {
		t.Fatalf("CreateBucket private: %v", err)
	}
	for _, mod := range []func(*s3.CreateBucketInput){
		func(in *s3.CreateBucketInput) { in.ACL = types.BucketCannedACLPublicRead },
		func(in *s3.CreateBucketInput) {
			in.GrantRead = aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
		},
	} {
		in := &s3.CreateBucketInput{Bucket: aws.String("acl-public")}
		mod(in)
		_, err := c.CreateBucket(ctx, in)
		wantErr(t, "CreateBucket with a public ACL", err, "InvalidBucketAclWithObjectOwnership", 400)
		if _, err := ts.e.HeadBucket(ctx, "acl-public"); !errors.Is(err, engine.ErrBucketNotFound) {
			t.Fatalf("refused bucket created: %v", err)
		}
	}

	// PUT ?acl: only the owner's full control, which changes nothing.
	if _, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl"), AccessControlPolicy: ownerACLPolicy(id)}); err != nil {
		t.Fatalf("PutBucketAcl owner-only document: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"),
		ACL: types.ObjectCannedACLBucketOwnerFullControl}); err != nil {
		t.Fatalf("PutObjectAcl bucket-owner-full-control: %v", err)
	}
	if _, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"),
		AccessControlPolicy: ownerACLPolicy(id)}); err != nil {
		t.Fatalf("PutObjectAcl owner-only document: %v", err)
	}
	for what, in := range map[string]*s3.PutBucketAclInput{
		"private":         {ACL: types.BucketCannedACLPrivate},
		"public-read":     {ACL: types.BucketCannedACLPublicRead},
		"grant-write":     {GrantWrite: aws.String(`id="` + id + `"`)},
		"AllUsers READ":   {AccessControlPolicy: ownerACLPolicy(id, allUsersRead)},
		"another owner":   {AccessControlPolicy: ownerACLPolicy("someone-else")},
		"owner READ only": {AccessControlPolicy: &types.AccessControlPolicy{Owner: &types.Owner{ID: aws.String(id)}, Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(id)}, Permission: types.PermissionRead}}}},
	} {
		in.Bucket = aws.String("acl")
		_, err := c.PutBucketAcl(ctx, in)
		wantErr(t, "PutBucketAcl "+what, err, "AccessControlListNotSupported", 400)
	}
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k"), ACL: types.ObjectCannedACLPublicRead})
	wantErr(t, "PutObjectAcl public-read", err, "AccessControlListNotSupported", 400)
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("missing"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
	wantErr(t, "PutObjectAcl on a missing key", err, "NoSuchKey", 404)
	oa, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("acl"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	wantOwnerOnlyACL(t, "GetObjectAcl after refused changes", oa.Owner, oa.Grants, id, name)

	// Raw PUT ?acl bodies and headers.
	q := url.Values{"acl": {""}}
	for _, tc := range []struct {
		name string
		hdr  http.Header
		body string
		code string
	}{
		{"malformed", nil, "<AccessControlPolicy><Owner>", "MalformedACLError"},
		{"wrong root", nil, "<Policy/>", "MalformedACLError"},
		{"nothing", nil, "", "MissingSecurityHeader"},
		{"header and body", http.Header{"X-Amz-Acl": {"bucket-owner-full-control"}}, "<AccessControlPolicy/>", "UnexpectedContent"},
	} {
		st, body := ts.rawSend(t, "PUT", "/acl", q, tc.hdr, []byte(tc.body))
		if st != 400 || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("PUT ?acl %s: %d %s, want 400 %s", tc.name, st, body, tc.code)
		}
	}
}

// TestACLsMinio: minio-go reads an object's ACL as "private".
func TestACLsMinio(t *testing.T) {
	ts := startServer(t)
	mc := ts.minioClient()
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "macl", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "macl", "o", bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := mc.GetObjectACL(ctx, "macl", "o")
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Metadata.Get("X-Amz-Acl"); got != "private" || len(info.Grant) != 1 {
		t.Fatalf("minio-go GetObjectACL: acl %q, grants %+v", got, info.Grant)
	}
}

// TestACLsPostForm: a browser form's acl field follows PutObject's rules.
func TestACLsPostForm(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "forms")
	now := time.Now()
	for acl, code := range map[string]string{"public-read": "AccessControlListNotSupported", "publicread": "InvalidArgument", "private": ""} {
		fields := append(postPolicyFields(t, now, now.Add(time.Hour),
			map[string]string{"bucket": "forms"}, map[string]string{"key": "f-" + acl}, map[string]string{"acl": acl}),
			field{"key", "f-" + acl}, field{"acl", acl})
		resp, body := sendPost(t, ts, "forms", fields, "a.txt", []byte("hi"), nil)
		got, _ := postErr(body)
		_, herr := ts.e.HeadObject(context.Background(), "forms", "f-"+acl, nil)
		switch {
		case code == "" && (resp.StatusCode != 204 || herr != nil):
			t.Errorf("POST acl %s: %d %s (%v), want 204 and the object", acl, resp.StatusCode, body, herr)
		case code != "" && (resp.StatusCode != 400 || got != code || herr == nil):
			t.Errorf("POST acl %s: %d %s (object: %v), want 400 %s and nothing written", acl, resp.StatusCode, got, herr, code)
		}
	}
}

// TestBucketSettingsNeverConfigured: reading a setting Coffer does not
// have answers what S3 answers for a bucket where it was never set;
// changing one is NotImplemented, deleting one that S3 deletes silently
// is 204; all of it needs the bucket.
func TestBucketSettingsNeverConfigured(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "cfg")
	b := aws.String("cfg")

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || v.Status != "" || v.MFADelete != "" {
		t.Fatalf("GetBucketVersioning: %v %+v", err, v)
	}
	oc, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
	if err != nil || oc.OwnershipControls == nil || len(oc.OwnershipControls.Rules) != 1 ||
		oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
		t.Fatalf("GetBucketOwnershipControls: %v %+v", err, oc)
	}
	pab, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if p := pab.PublicAccessBlockConfiguration; p == nil || !aws.ToBool(p.BlockPublicAcls) || !aws.ToBool(p.IgnorePublicAcls) ||
		!aws.ToBool(p.BlockPublicPolicy) || !aws.ToBool(p.RestrictPublicBuckets) {
		t.Fatalf("GetPublicAccessBlock: %+v", pab.PublicAccessBlockConfiguration)
	}
	lg, err := c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: b})
	if err != nil || lg.LoggingEnabled != nil {
		t.Fatalf("GetBucketLogging: %v %+v", err, lg)
	}
	nc, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: b})
	if err != nil || len(nc.TopicConfigurations)+len(nc.QueueConfigurations)+len(nc.LambdaFunctionConfigurations) != 0 || nc.EventBridgeConfiguration != nil {
		t.Fatalf("GetBucketNotificationConfiguration: %v %+v", err, nc)
	}
	rp, err := c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: b})
	if err != nil || rp.Payer != types.PayerBucketOwner {
		t.Fatalf("GetBucketRequestPayment: %v %+v", err, rp)
	}
	ac, err := c.GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: b})
	if err != nil || ac.Status != "" {
		t.Fatalf("GetBucketAccelerateConfiguration: %v %+v", err, ac)
	}

	notFound := map[string]func(bucket *string) error{
		"NoSuchBucketPolicy": func(b *string) error {
			_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
			return err
		},
		"NoSuchBucketPolicy (status)": func(b *string) error {
			_, err := c.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: b})
			return err
		},
		"NoSuchCORSConfiguration": func(b *string) error { _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); return err },
		"NoSuchLifecycleConfiguration": func(b *string) error {
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
			return err
		},
		"NoSuchTagSet": func(b *string) error {
			_, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
			return err
		},
		"NoSuchWebsiteConfiguration": func(b *string) error {
			_, err := c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
			return err
		},
		"ReplicationConfigurationNotFoundError": func(b *string) error {
			_, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: b})
			return err
		},
		"ObjectLockConfigurationNotFoundError": func(b *string) error {
			_, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
			return err
		},
	}
	for code, get := range notFound {
		wantErr(t, "GET "+code, get(b), strings.TrimSuffix(code, " (status)"), 404)
		wantErr(t, "GET "+code+" of a missing bucket", get(aws.String("nobucket")), "NoSuchBucket", 404)
	}
	// The error body names the bucket, as S3's does.
	pol := ts.build(t, rawReq{method: "GET", path: "/cfg", query: url.Values{"policy": {""}}, kind: authHeaderUnsigned})
	pol.req.Body = http.NoBody
	resp, err := ts.httpClient().Do(pol.req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "<BucketName>cfg</BucketName>") {
		t.Fatalf("GetBucketPolicy error body: %d %s", resp.StatusCode, body)
	}
	_, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("nobucket")})
	wantErr(t, "GetBucketVersioning of a missing bucket", err, "NoSuchBucket", 404)

	// Deleting what was never set: 204, as on S3.
	for _, sub := range []string{"policy", "cors", "lifecycle", "website", "tagging"} {
		if st, body := ts.rawSend(t, "DELETE", "/cfg", url.Values{sub: {""}}, nil, nil); st != 204 {
			t.Errorf("DELETE ?%s: %d %s, want 204", sub, st, body)
		}
		if st, _ := ts.rawSend(t, "DELETE", "/nobucket", url.Values{sub: {""}}, nil, nil); st != 404 {
			t.Errorf("DELETE ?%s of a missing bucket: %d, want 404", sub, st)
		}
	}
	if _, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: b}); err != nil {
		t.Fatalf("DeleteBucketPolicy: %v", err)
	}

	// Ownership controls: BucketOwnerEnforced is accepted, the settings
	// that enable ACLs are not implemented.
	if _, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}}); err != nil {
		t.Fatalf("PutBucketOwnershipControls BucketOwnerEnforced: %v", err)
	}
	_, err = c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})
	wantErr(t, "PutBucketOwnershipControls ObjectWriter", err, "NotImplemented", 501)
	if st, body := ts.rawSend(t, "PUT", "/cfg", url.Values{"ownershipControls": {""}}, nil,
		[]byte("<OwnershipControls><Rule><ObjectOwnership>Everyone</ObjectOwnership></Rule></OwnershipControls>")); st != 400 || !strings.Contains(body, "MalformedXML") {
		t.Errorf("PutBucketOwnershipControls with an unknown value: %d %s", st, body)
	}

	// Changing a setting is never a silent success.
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	wantErr(t, "PutBucketVersioning", err, "NotImplemented", 501)
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	wantErr(t, "PutBucketPolicy", err, "NotImplemented", 501)
	_, err = c.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: b})
	wantErr(t, "DeleteBucketOwnershipControls", err, "NotImplemented", 501)
	_, err = c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
	wantErr(t, "DeletePublicAccessBlock", err, "NotImplemented", 501)

	// minio-go reads "no policy" as an empty policy and versioning as off.
	mc := ts.minioClient()
	if p, err := mc.GetBucketPolicy(ctx, "cfg"); err != nil || p != "" {
		t.Fatalf("minio-go GetBucketPolicy: %q %v", p, err)
	}
	if vc, err := mc.GetBucketVersioning(ctx, "cfg"); err != nil || vc.Enabled() || vc.Suspended() {
		t.Fatalf("minio-go GetBucketVersioning: %+v %v", vc, err)
	}
}

// TestACLsAndSettingsAccess: reading a bucket's ACL and settings needs
// the same access as using the bucket; changing them (even to what they
// are) needs its owner; the ACL shows the bucket owner whoever asks.
func TestACLsAndSettingsAccess(t *testing.T) {
	ts := startServer(t, withUsers(ownershipUsers()))
	ctx := context.Background()
	alice, bob := ts.clientAs(aliceKey, aliceSecret), ts.clientAs(bobKey, bobSecret)
	newBucket(t, alice, "alice-acl")
	newBucket(t, alice, "shared") // bob is granted "shared"
	put(t, alice, "alice-acl", "k", []byte("a"))
	put(t, alice, "shared", "k", []byte("a"))
	lb, err := alice.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	aliceID := aws.ToString(lb.Owner.ID)

	// Bob has no access to alice-acl: every read and write is refused.
	denied := map[string]error{}
	_, denied["GetBucketAcl"] = bob.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("alice-acl")})
	_, denied["GetObjectAcl"] = bob.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("alice-acl"), Key: aws.String("k")})
	_, denied["PutObjectAcl"] = bob.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("alice-acl"), Key: aws.String("k"),
		ACL: types.ObjectCannedACLBucketOwnerFullControl})
	_, denied["GetBucketVersioning"] = bob.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("alice-acl")})
	_, denied["GetBucketPolicy"] = bob.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("alice-acl")})
	_, denied["GetBucketOwnershipControls"] = bob.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("alice-acl")})
	_, denied["DeleteBucketCors"] = bob.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("alice-acl")})
	for op, err := range denied {
		wantErr(t, "bob "+op+" on alice's bucket", err, "AccessDenied", 403)
	}

	// As a grantee of "shared", bob reads the ACL (alice owns it all) and
	// the settings, and writes objects whose ACL names alice; he may not
	// change the bucket's ACL or settings.
	ba, err := bob.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("shared")})
	if err != nil {
		t.Fatal(err)
	}
	wantOwnerOnlyACL(t, "grantee GetBucketAcl", ba.Owner, ba.Grants, aliceID, "Alice")
	if _, err := bob.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatalf("grantee GetBucketVersioning: %v", err)
	}
	_, err = bob.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("shared")})
	wantErr(t, "grantee GetBucketPolicy", err, "NoSuchBucketPolicy", 404)
	if _, err := bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("from-bob"),
		Body: bytes.NewReader([]byte("b")), GrantFullControl: aws.String(`id="` + aliceID + `"`)}); err != nil {
		t.Fatalf("grantee PutObject granting the bucket owner full control: %v", err)
	}
	_, err = bob.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("from-bob-2"),
		Body: bytes.NewReader([]byte("b")), GrantFullControl: aws.String(`id="` + CanonicalID(bobKey) + `"`)})
	wantErr(t, "grantee PutObject granting himself full control", err, "AccessControlListNotSupported", 400)
	_, err = bob.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("shared"), AccessControlPolicy: ownerACLPolicy(aliceID)})
	wantErr(t, "grantee PutBucketAcl", err, "AccessDenied", 403)
	_, err = bob.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("shared")})
	wantErr(t, "grantee DeleteBucketPolicy", err, "AccessDenied", 403)
	_, err = bob.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("shared"), OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
	wantErr(t, "grantee PutBucketOwnershipControls", err, "AccessDenied", 403)

	// Alice, the owner, may.
	if _, err := alice.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("shared"), AccessControlPolicy: ownerACLPolicy(aliceID)}); err != nil {
		t.Fatalf("owner PutBucketAcl: %v", err)
	}
	if _, err := alice.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatalf("owner DeleteBucketPolicy: %v", err)
	}
}

// FuzzACLInput feeds arbitrary grant headers and ACL documents to the
// parsers: nothing panics, a header error is InvalidArgument, and a
// document is accepted only if every grant names the owner.
func FuzzACLInput(f *testing.F) {
	f.Add(`id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers"`, []byte(`<AccessControlPolicy><Owner><ID>abc</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`))
	f.Add(`"`, []byte(`<AccessControlPolicy><AccessControlList><Grant/></AccessControlList></AccessControlPolicy>`))
	f.Add(`id=, =x,,`, []byte(`<AccessControlPolicy>`))
	f.Fuzz(func(t *testing.T, header string, doc []byte) {
		if _, err := parseGrantees(header); err != nil && classify(err).code != CodeInvalidArgument {
			t.Fatalf("grant header %q: %v", header, err)
		}
		var p aclRequest
		if decodeXML(doc, &p) != nil {
			return
		}
		if p.ownerOnly("abc") {
			for _, g := range p.Grants {
				if strings.TrimSpace(g.Grantee.ID) != "abc" {
					t.Fatalf("accepted a grant to %q", g.Grantee.ID)
				}
			}
		}
	})
}
