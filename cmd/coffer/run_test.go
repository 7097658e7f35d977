package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/cofferdb/coffer/s3facade"
)

// syncBuffer is an io.Writer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type running struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
	out    *syncBuffer
	errOut *syncBuffer
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), out: &syncBuffer{}, errOut: &syncBuffer{}}
	ready := make(chan string, 1)
	go func() {
		r.done <- serve(ctx, append([]string{"--address", "127.0.0.1:0", "--unsafe-no-sync"}, args...), r.out, r.errOut, ready)
	}()
	select {
	case r.addr = <-ready:
	case err := <-r.done:
		t.Fatalf("serve: %v\n%s", err, r.errOut)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("serve returned %v", err)
	}
}

func client(addr, user, pass string) *s3.Client {
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), UsePathStyle: true, Retryer: aws.NopRetryer{},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: user, SecretAccessKey: pass}, nil
		}),
	})
}

func TestGeneratedCredentialsArePrintedOnceAndStoredPrivately(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "")
	t.Setenv("COFFER_ROOT_PASSWORD", "")
	drive := t.TempDir()
	r := start(t, drive)
	path := filepath.Join(drive, "config", "root-credentials.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	var sc storedCredentials
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.out.String(), sc.SecretKey) {
		t.Fatalf("first start did not print the generated secret")
	}
	if strings.Contains(r.errOut.String(), sc.SecretKey) {
		t.Fatalf("the secret appears in the logs")
	}
	c := client(r.addr, sc.AccessKey, sc.SecretKey)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bkt1")}); err != nil {
		t.Fatal(err)
	}
	r.stop(t)

	r2 := start(t, drive)
	if strings.Contains(r2.out.String(), sc.SecretKey) {
		t.Fatalf("second start printed the secret again")
	}
	if _, err := client(r2.addr, sc.AccessKey, sc.SecretKey).HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("bkt1")}); err != nil {
		t.Fatalf("stored credentials or data lost across restart: %v", err)
	}
}

func TestEnvironmentCredentialsAndHealth(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	d1, d2, d3 := t.TempDir(), t.TempDir(), t.TempDir()
	r := start(t, "--drive", d1, d2, d3, "--parity", "1", "--log-level", "debug")
	for _, p := range []string{"/health/live", "/health/ready"} {
		resp, err := http.Get("http://" + r.addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Request-Id") == "" {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	c := client(r.addr, "rootuser", "rootpassword123")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("hello")}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + r.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `coffer_s3_requests_total{api="PutObject",code="200"} 1`) ||
		!strings.Contains(string(m), `coffer_drive_up{drive="0",state="online"} 1`) ||
		!strings.Contains(string(m), "coffer_shards_healed_total 0") ||
		!strings.Contains(string(m), "coffer_index_replicas_healthy 2") || !strings.Contains(string(m), "coffer_index_failed 0") {
		t.Fatalf("metrics:\n%s", m)
	}
	if strings.Contains(r.errOut.String(), "rootpassword123") {
		t.Fatal("the secret appears in the logs")
	}
	if !strings.Contains(r.errOut.String(), "api=PutObject") {
		t.Fatalf("no debug request line in logs:\n%s", r.errOut)
	}
}

// TestShutdownFinishesInFlightUpload starts a slow upload, cancels the
// server's context (as SIGTERM does) mid-body, and checks the upload
// completes and is readable after a restart.
func TestShutdownFinishesInFlightUpload(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	drive := t.TempDir()
	r := start(t, drive)
	c := client(r.addr, "rootuser", "rootpassword123")
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("coffer!"), 300<<10)
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(data); i += 64 << 10 {
			pw.Write(data[i:min(i+64<<10, len(data))])
			if i == 512<<10 {
				r.cancel() // shutdown begins while the body is streaming
				r.cancel = func() {}
			}
			time.Sleep(5 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", "http://"+r.addr+"/bkt/slow", pr)
	req.ContentLength = int64(len(data))
	signUnsigned(t, req, "rootuser", "rootpassword123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("in-flight upload got %d", resp.StatusCode)
	}
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	r.cancel = nil
	r2 := start(t, drive)
	out, err := client(r2.addr, "rootuser", "rootpassword123").GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("slow")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("object after restart differs (%d bytes, want %d)", len(got), len(data))
	}
}

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "coffer ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"bogus"}, &out, &errOut); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(context.Background(), []string{"serve", "--tls-cert", "x"}, &out, &errOut); err == nil {
		t.Fatal("--tls-cert without --tls-key accepted")
	}
	if err := run(context.Background(), []string{"serve", "--region", "a", "--region", "b"}, &out, &errOut); err == nil {
		t.Fatal("a flag given twice was accepted")
	}
}

func writeUsers(t *testing.T, users string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func apiErrCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestUsersFileOwnership runs the server with a --users file in both
// formats and checks ownership, grants, root and a restart.
func TestUsersFileOwnership(t *testing.T) {
	t.Setenv("COFFER_ROOT_USER", "rootuser")
	t.Setenv("COFFER_ROOT_PASSWORD", "rootpassword123")
	users := writeUsers(t, `[
		{"access_key": "alice", "secret_key": "alice-secret", "role": "user", "display_name": "Alice"},
		{"access_key": "bob", "secret_key": "bob-secret-1", "role": "user", "grants": ["shared"]},
		{"access_key": "carol", "secret_key": "carol-secret", "buckets": ["logs"]},
		{"access_key": "ops", "secret_key": "ops-secret-1", "role": "admin"}
	]`)
	drive := t.TempDir()
	ctx := context.Background()
	b := aws.String
	r := start(t, "--users", users, drive)
	alice, bob := client(r.addr, "alice", "alice-secret"), client(r.addr, "bob", "bob-secret-1")
	carol, root := client(r.addr, "carol", "carol-secret"), client(r.addr, "rootuser", "rootpassword123")
	for _, name := range []string{"alice-bkt", "shared"} {
		if _, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.PutObject(ctx, &s3.PutObjectInput{Bucket: b("alice-bkt"), Key: b("k"), Body: strings.NewReader("mine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.PutObject(ctx, &s3.PutObjectInput{Bucket: b("shared"), Key: b("k"), Body: strings.NewReader("granted")}); err != nil {
		t.Fatalf("bob writes into the bucket granted to him: %v", err)
	}
	if _, err := bob.GetObject(ctx, &s3.GetObjectInput{Bucket: b("alice-bkt"), Key: b("k")}); apiErrCode(err) != "AccessDenied" {
		t.Fatalf("bob reads alice's bucket: %v", err)
	}
	if _, err := carol.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b("logs")}); err != nil {
		t.Fatalf("legacy user creates her listed bucket: %v", err)
	}
	if _, err := carol.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b("carol-else")}); apiErrCode(err) != "AccessDenied" {
		t.Fatalf("legacy user creates an unlisted bucket: %v", err)
	}
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b("rootbkt")}); err != nil {
		t.Fatal(err)
	}
	r.stop(t)

	r = start(t, "--users", users, drive)
	alice, bob = client(r.addr, "alice", "alice-secret"), client(r.addr, "bob", "bob-secret-1")
	ops := client(r.addr, "ops", "ops-secret-1")
	if _, err := bob.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: b("alice-bkt")}); err == nil {
		t.Fatal("bob may HEAD alice's bucket after a restart")
	}
	if _, err := alice.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b("alice-bkt")}); err != nil {
		t.Fatalf("alice re-creates her bucket after a restart: %v", err)
	}
	if _, err := bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b("alice-bkt")}); apiErrCode(err) != "BucketAlreadyExists" {
		t.Fatalf("bob creates alice's bucket: %v", err)
	}
	names := func(c *s3.Client) []string {
		out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, x := range out.Buckets {
			n = append(n, *x.Name)
		}
		return n
	}
	if got := strings.Join(names(bob), ","); got != "shared" {
		t.Fatalf("bob lists %s", got)
	}
	if got := strings.Join(names(ops), ","); got != "alice-bkt,logs,rootbkt,shared" {
		t.Fatalf("admin lists %s", got)
	}
	lo, err := ops.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b("shared"), FetchOwner: aws.Bool(true)})
	if err != nil || len(lo.Contents) != 1 || *lo.Contents[0].Owner.DisplayName != "Alice" || *lo.Contents[0].Owner.ID != s3facade.CanonicalID("alice") {
		t.Fatalf("owner of the shared bucket's objects: %+v %v", lo, err)
	}
	if _, err := bob.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b("shared")}); apiErrCode(err) != "AccessDenied" {
		t.Fatalf("bob deletes the bucket granted to him: %v", err)
	}
	if _, err := ops.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b("rootbkt")}); err != nil {
		t.Fatalf("admin deletes root's bucket: %v", err)
	}
}

func TestUsersFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"no role, no buckets", `[{"access_key":"abc","secret_key":"12345678"}]`, `"role": "user"`},
		{"unknown role", `[{"access_key":"abc","secret_key":"12345678","role":"owner"}]`, `role "owner"`},
		{"both lists", `[{"access_key":"abc","secret_key":"12345678","role":"user","grants":["aaa"],"buckets":["aaa"]}]`, "give one"},
		{"root with grants", `[{"access_key":"abc","secret_key":"12345678","role":"root","grants":["aaa"]}]`, "no bucket list"},
		{"bad bucket name", `[{"access_key":"abc","secret_key":"12345678","role":"user","grants":["No"]}]`, `bucket "No"`},
		{"bad id", `[{"access_key":"abc","secret_key":"12345678","role":"user","id":"a b"}]`, "id must be"},
		{"unknown field", `[{"access_key":"abc","secret_key":"12345678","role":"user","bukets":["aaa"]}]`, "unknown field"},
		{"second user refused", `[{"access_key":"abc","secret_key":"12345678","role":"user"},{"access_key":"def","secret_key":"short"}]`, "user 1 (def)"},
	} {
		_, err := loadUsers(writeUsers(t, tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	got, err := loadUsers(writeUsers(t, `[
		{"access_key":"old","secret_key":"12345678","buckets":["logs"]},
		{"access_key":"new","secret_key":"12345678","role":"user","grants":["logs"],"id":"team-a","display_name":"Team"},
		{"access_key":"adm","secret_key":"12345678","role":"admin"}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []s3facade.User{
		{AccessKey: "old", SecretKey: "12345678", Buckets: []string{"logs"}},
		{AccessKey: "new", SecretKey: "12345678", Role: s3facade.RoleUser, Buckets: []string{"logs"}, ID: "team-a", DisplayName: "Team"},
		{AccessKey: "adm", SecretKey: "12345678", Role: s3facade.RoleRoot},
	}
	if len(got) != len(want) {
		t.Fatalf("loaded %d users", len(got))
	}
	for i := range want {
		if got[i].AccessKey != want[i].AccessKey || got[i].Role != want[i].Role || got[i].ID != want[i].ID ||
			got[i].DisplayName != want[i].DisplayName || strings.Join(got[i].Buckets, ",") != strings.Join(want[i].Buckets, ",") {
			t.Fatalf("user %d: %#v, want %#v", i, got[i], want[i])
		}
	}
}
