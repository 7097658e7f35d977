package s3facade

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/kmsclient"
)

// sseServer is a test server with the built-in keyring as key manager.
type sseServer struct {
	*testServer
	kr *kmsclient.Keyring
}

func startSSEServer(t *testing.T, opts ...serverOpt) *sseServer {
	t.Helper()
	var rk [32]byte
	_, _ = rand.Read(rk[:])
	root, err := kmsclient.NewRootKey("test", rk[:])
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kmsclient.OpenKeyring(kmsclient.KeyringOptions{Dir: t.TempDir(), RootKey: root, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Close() })
	opts = append([]serverOpt{func(_ *Config, eo *engine.Options) { eo.KeyManager = kmsclient.NewEngineAdapter(kr) }}, opts...)
	return &sseServer{testServer: startServer(t, opts...), kr: kr}
}

func (ss *sseServer) createKey(t *testing.T, alias string) kmsclient.KeyInfo {
	t.Helper()
	k, err := ss.kr.CreateKey(context.Background(), kmsclient.CreateKeyInput{Alias: alias})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (ss *sseServer) defaultKeyARN(t *testing.T) string {
	t.Helper()
	k, err := ss.kr.DescribeKey(context.Background(), "alias/aws/s3")
	if err != nil {
		t.Fatal(err)
	}
	return k.ARN
}

func ssecKey(seed byte) (key, b64, md5b64 string) {
	k := bytes.Repeat([]byte{seed}, 32)
	s := md5.Sum(k)
	return string(k), base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(s[:])
}

func b64json(m map[string]string) string {
	b, _ := json.Marshal(m)
	return base64.StdEncoding.EncodeToString(b)
}

func mustBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

// sseMode is one way to write an object, with what S3 answers for it.
type sseMode struct {
	name     string
	put      func(*s3.PutObjectInput)
	read     func(*s3.GetObjectInput) // SSE-C key on reads
	head     func(*s3.HeadObjectInput)
	wantSSE  types.ServerSideEncryption
	wantARN  string // "" none
	wantBK   bool
	wantCtx  string // context echoed on PUT
	wantMD5  bool   // ETag is the plaintext MD5
	wantSSEC string // customer key MD5
}

// TestSSEModesSDK writes, reads (whole and ranged) and heads an object in
// every mode with aws-sdk-go-v2 over TLS, checking the response headers
// of each operation (§1.1) and the ETag rules (§1.11).
func TestSSEModesSDK(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	c := ss.awsClient()
	ctx := context.Background()
	mustBucket(t, c, "enc")
	named := ss.createKey(t, "alias/named")
	def := ss.defaultKeyARN(t)
	_, k1, m1 := ssecKey(1)
	userCtx := map[string]string{"team": "blue", "ünïcode": "välue"}
	arnCtx := map[string]string{"aws:s3:arn": "arn:aws:s3:::enc/kms-ctx-arn"}
	modes := []sseMode{
		{name: "no-headers", put: func(*s3.PutObjectInput) {}, wantSSE: types.ServerSideEncryptionAes256, wantMD5: true},
		{name: "AES256", put: func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 },
			wantSSE: types.ServerSideEncryptionAes256, wantMD5: true},
		{name: "kms-default", put: func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms },
			wantSSE: types.ServerSideEncryptionAwsKms, wantARN: def},
		{name: "kms-alias", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String("alias/named")
		}, wantSSE: types.ServerSideEncryptionAwsKms, wantARN: named.ARN},
		{name: "kms-keyid", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSKeyId = types.ServerSideEncryptionAwsKms, aws.String(named.KeyID)
		}, wantSSE: types.ServerSideEncryptionAwsKms, wantARN: named.ARN},
		{name: "kms-arn-bucketkey", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = types.ServerSideEncryptionAwsKms, aws.String(named.ARN), aws.Bool(true)
		}, wantSSE: types.ServerSideEncryptionAwsKms, wantARN: named.ARN, wantBK: true},
		{name: "kms-ctx", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSEncryptionContext = types.ServerSideEncryptionAwsKms, aws.String(b64json(userCtx))
		}, wantSSE: types.ServerSideEncryptionAwsKms, wantARN: def, wantCtx: b64json(userCtx)},
		{name: "kms-ctx-arn", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSEncryptionContext = types.ServerSideEncryptionAwsKms, aws.String(b64json(arnCtx))
		}, wantSSE: types.ServerSideEncryptionAwsKms, wantARN: def, wantCtx: b64json(arnCtx)},
		{name: "dsse-bucketkey-ignored", put: func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.BucketKeyEnabled = types.ServerSideEncryptionAwsKmsDsse, aws.Bool(true)
		}, wantSSE: types.ServerSideEncryptionAwsKmsDsse, wantARN: def},
		{name: "sse-c", put: func(in *s3.PutObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k1), aws.String(m1)
		}, read: func(in *s3.GetObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k1), aws.String(m1)
		}, head: func(in *s3.HeadObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(k1), aws.String(m1)
		}, wantSSEC: m1},
	}
	for i, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			key := m.name
			data := randBytes(uint64(i+100), 200_000+i)
			in := &s3.PutObjectInput{Bucket: aws.String("enc"), Key: aws.String(key), Body: bytes.NewReader(data)}
			m.put(in)
			out, err := c.PutObject(ctx, in)
			if err != nil {
				t.Fatalf("put: %v", err)
			}
			if out.ServerSideEncryption != m.wantSSE || aws.ToString(out.SSEKMSKeyId) != m.wantARN || aws.ToBool(out.BucketKeyEnabled) != m.wantBK {
				t.Errorf("put headers: sse %q arn %q bk %v; want %q %q %v", out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId),
					aws.ToBool(out.BucketKeyEnabled), m.wantSSE, m.wantARN, m.wantBK)
			}
			if got := aws.ToString(out.SSEKMSEncryptionContext); got != m.wantCtx {
				t.Errorf("put context %q, want %q", got, m.wantCtx)
			}
			if got := aws.ToString(out.SSECustomerKeyMD5); got != m.wantSSEC {
				t.Errorf("put SSE-C MD5 %q, want %q", got, m.wantSSEC)
			}
			sum := md5.Sum(data)
			etag := strings.Trim(aws.ToString(out.ETag), `"`)
			if (etag == hex.EncodeToString(sum[:])) != m.wantMD5 || len(etag) != 32 {
				t.Errorf("ETag %s: MD5 of the plaintext = %v, want %v", etag, !m.wantMD5, m.wantMD5)
			}
			gin := &s3.GetObjectInput{Bucket: aws.String("enc"), Key: aws.String(key)}
			if m.read != nil {
				m.read(gin)
			}
			got, gout := mustGet(t, c, "enc", key, func(g *s3.GetObjectInput) { *g = *gin })
			if !bytes.Equal(got, data) {
				t.Fatal("GET returned other bytes")
			}
			if gout.ServerSideEncryption != m.wantSSE || aws.ToString(gout.SSEKMSKeyId) != m.wantARN || aws.ToBool(gout.BucketKeyEnabled) != m.wantBK ||
				aws.ToString(gout.SSECustomerKeyMD5) != m.wantSSEC {
				t.Errorf("get headers: %q %q %v %q", gout.ServerSideEncryption, aws.ToString(gout.SSEKMSKeyId), aws.ToBool(gout.BucketKeyEnabled), aws.ToString(gout.SSECustomerKeyMD5))
			}
			if strings.Trim(aws.ToString(gout.ETag), `"`) != etag {
				t.Errorf("GET ETag %s, PUT ETag %s", aws.ToString(gout.ETag), etag)
			}
			// Ranged read across chunk boundaries.
			rg, _ := mustGet(t, c, "enc", key, func(g *s3.GetObjectInput) { *g = *gin; g.Range = aws.String("bytes=65530-131080") })
			if !bytes.Equal(rg, data[65530:131081]) {
				t.Fatal("ranged GET returned other bytes")
			}
			hin := &s3.HeadObjectInput{Bucket: aws.String("enc"), Key: aws.String(key)}
			if m.head != nil {
				m.head(hin)
			}
			hout, err := c.HeadObject(ctx, hin)
			if err != nil {
				t.Fatalf("head: %v", err)
			}
			if hout.ServerSideEncryption != m.wantSSE || aws.ToString(hout.SSEKMSKeyId) != m.wantARN || aws.ToBool(hout.BucketKeyEnabled) != m.wantBK ||
				aws.ToString(hout.SSECustomerKeyMD5) != m.wantSSEC {
				t.Errorf("head headers: %q %q %v %q", hout.ServerSideEncryption, aws.ToString(hout.SSEKMSKeyId), aws.ToBool(hout.BucketKeyEnabled), aws.ToString(hout.SSECustomerKeyMD5))
			}
		})
	}
	// The context is never returned by GET or HEAD (§1.1).
	resp := ss.rawDo(t, "GET", "/enc/kms-ctx", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get(hdrSSEContext) != "" {
		t.Errorf("GET of a context object: %d, context header %q", resp.StatusCode, resp.Header.Get(hdrSSEContext))
	}
}

// rawDo sends a signed request with extra headers and returns the
// response (body read into Body's replacement).
func (ss *sseServer) rawDo(t *testing.T, method, path string, h http.Header, body []byte) *http.Response {
	t.Helper()
	p, q, _ := strings.Cut(path, "?")
	qv, _ := url.ParseQuery(q)
	s := ss.build(t, rawReq{method: method, path: p, query: qv, header: h, body: body, kind: authHeaderHashed})
	s.req.Body = io.NopCloser(bytes.NewReader(s.body))
	s.req.ContentLength = int64(len(s.body))
	resp, err := ss.httpClient().Do(s.req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func errCode(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	_, rest, ok := strings.Cut(string(b), "<Code>")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, "</Code>")
	return code
}

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestSSEErrorTable checks every request error of §1.14 the facade raises,
// code and status, and that nothing was written.
func TestSSEErrorTable(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	c := ss.awsClient()
	ctx := context.Background()
	mustBucket(t, c, "errs")
	_, k1, m1 := ssecKey(1)
	_, k2, m2 := ssecKey(2)
	disabled := ss.createKey(t, "alias/off")
	if err := ss.kr.DisableKey(ctx, disabled.ARN); err != nil {
		t.Fatal(err)
	}
	pending := ss.createKey(t, "alias/pending")
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	ssec := func(alg, key, sum string) []string {
		return []string{hdrSSECAlg, alg, hdrSSECKey, key, hdrSSECKeyMD5, sum}
	}
	cases := []struct {
		name   string
		h      []string
		status int
		code   string
	}{
		{"unknown algorithm", []string{hdrSSE, "aes:kms"}, 400, "InvalidArgument"},
		{"key id without aws:kms", []string{hdrSSEKMSKeyID, "alias/named"}, 400, "InvalidArgument"},
		{"key id with AES256", []string{hdrSSE, "AES256", hdrSSEKMSKeyID, "alias/named"}, 400, "InvalidArgument"},
		{"context without aws:kms", []string{hdrSSEContext, b64json(map[string]string{"a": "b"})}, 400, "InvalidArgument"},
		{"context not base64", []string{hdrSSE, "aws:kms", hdrSSEContext, "%%%"}, 400, "InvalidArgument"},
		{"context not JSON", []string{hdrSSE, "aws:kms", hdrSSEContext, base64.StdEncoding.EncodeToString([]byte("nope"))}, 400, "InvalidArgument"},
		{"context nested", []string{hdrSSE, "aws:kms", hdrSSEContext, base64.StdEncoding.EncodeToString([]byte(`{"a":{"b":"c"}}`))}, 400, "InvalidArgument"},
		{"context number", []string{hdrSSE, "aws:kms", hdrSSEContext, base64.StdEncoding.EncodeToString([]byte(`{"a":1}`))}, 400, "InvalidArgument"},
		{"context bad utf8", []string{hdrSSE, "aws:kms", hdrSSEContext, base64.StdEncoding.EncodeToString([]byte("{\"a\":\"\xff\"}"))}, 400, "InvalidArgument"},
		{"context wrong arn", []string{hdrSSE, "aws:kms", hdrSSEContext, b64json(map[string]string{"aws:s3:arn": "arn:aws:s3:::errs"})}, 400, "InvalidArgument"},
		{"bucket key with AES256", []string{hdrSSE, "AES256", hdrSSEBucketKey, "true"}, 400, "InvalidArgument"},
		{"bucket key not bool", []string{hdrSSE, "aws:kms", hdrSSEBucketKey, "yes"}, 400, "InvalidArgument"},
		{"unknown kms key", []string{hdrSSE, "aws:kms", hdrSSEKMSKeyID, "alias/nope"}, 400, "KMS.NotFoundException"},
		{"unknown kms key uuid", []string{hdrSSE, "aws:kms", hdrSSEKMSKeyID, "11111111-2222-3333-4444-555555555555"}, 400, "KMS.NotFoundException"},
		{"disabled kms key", []string{hdrSSE, "aws:kms", hdrSSEKMSKeyID, disabled.ARN}, 400, "KMS.DisabledException"},
		{"dsse disabled key", []string{hdrSSE, "aws:kms:dsse", hdrSSEKMSKeyID, "alias/off"}, 400, "KMS.DisabledException"},
		{"ssec bad algorithm", ssec("AES128", k1, m1), 400, "InvalidEncryptionAlgorithmError"},
		{"ssec no algorithm", ssec("", k1, m1), 400, "InvalidArgument"},
		{"ssec no key", ssec("AES256", "", m1), 400, "InvalidArgument"},
		{"ssec short key", ssec("AES256", short, m1), 400, "InvalidArgument"},
		{"ssec key not base64", ssec("AES256", "!!!!", m1), 400, "InvalidArgument"},
		{"ssec no md5", ssec("AES256", k1, ""), 400, "InvalidArgument"},
		{"ssec md5 mismatch", ssec("AES256", k1, m2), 400, "InvalidArgument"},
		{"ssec with sse", append(ssec("AES256", k2, m2), hdrSSE, "AES256"), 400, "InvalidArgument"},
		{"ssec with kms key id", append(ssec("AES256", k2, m2), hdrSSEKMSKeyID, "alias/named"), 400, "InvalidArgument"},
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("errs"), Key: aws.String("src"), Body: strings.NewReader("s")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ss.rawDo(t, "PUT", "/errs/obj", hdr(tc.h...), []byte("data"))
			if code := errCode(resp); resp.StatusCode != tc.status || code != tc.code {
				t.Errorf("PUT: %d %s, want %d %s", resp.StatusCode, code, tc.status, tc.code)
			}
			// The same headers on a copy destination fail the same way.
			h := hdr(tc.h...)
			h.Set("X-Amz-Copy-Source", "/errs/src")
			resp = ss.rawDo(t, "PUT", "/errs/obj", h, nil)
			if code := errCode(resp); resp.StatusCode != tc.status || code != tc.code {
				t.Errorf("COPY: %d %s, want %d %s", resp.StatusCode, code, tc.status, tc.code)
			}
		})
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("errs"), Key: aws.String("obj")}); err == nil {
		t.Fatal("a refused PUT stored an object")
	}
	// Key pending deletion: written while enabled, then read.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("errs"), Key: aws.String("pending"), Body: strings.NewReader("x"),
		ServerSideEncryption: types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(pending.ARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.kr.ScheduleKeyDeletion(ctx, pending.ARN, 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	resp := ss.rawDo(t, "GET", "/errs/pending", nil, nil)
	if code := errCode(resp); resp.StatusCode != 400 || code != "KMS.KMSInvalidStateException" {
		t.Errorf("GET under a key pending deletion: %d %s", resp.StatusCode, code)
	}
	// SSE headers on GET and HEAD of SSE-S3/KMS objects: 400.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("errs"), Key: aws.String("plain"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	for _, h := range [][]string{{hdrSSE, "AES256"}, {hdrSSE, "aws:kms"}, {hdrSSEKMSKeyID, "alias/aws/s3"}, {hdrSSEContext, b64json(map[string]string{"a": "b"})}} {
		for _, m := range []string{"GET", "HEAD"} {
			resp := ss.rawDo(t, m, "/errs/plain", hdr(h...), nil)
			if resp.StatusCode != 400 || (m == "GET" && errCode(resp) != "InvalidArgument") {
				t.Errorf("%s with %s: %d", m, h[0], resp.StatusCode)
			}
		}
	}
	// SSE-C object: without key 400 InvalidRequest, wrong key 403, on GET
	// and HEAD; SSE-C headers on a non-SSE-C object 400 InvalidRequest.
	if r := ss.rawDo(t, "PUT", "/errs/ssec", hdr(ssec("AES256", k1, m1)...), []byte("secret")); r.StatusCode != 200 {
		t.Fatalf("SSE-C put: %d", r.StatusCode)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if r := ss.rawDo(t, m, "/errs/ssec", nil, nil); r.StatusCode != 400 || (m == "GET" && errCode(r) != "InvalidRequest") {
			t.Errorf("%s SSE-C without key: %d", m, r.StatusCode)
		}
		if r := ss.rawDo(t, m, "/errs/ssec", hdr(ssec("AES256", k2, m2)...), nil); r.StatusCode != 403 || (m == "GET" && errCode(r) != "AccessDenied") {
			t.Errorf("%s SSE-C wrong key: %d", m, r.StatusCode)
		}
		if r := ss.rawDo(t, m, "/errs/ssec", hdr(ssec("AES192", k1, m1)...), nil); r.StatusCode != 400 || (m == "GET" && errCode(r) != "InvalidEncryptionAlgorithmError") {
			t.Errorf("%s SSE-C wrong algorithm: %d", m, r.StatusCode)
		}
		if r := ss.rawDo(t, m, "/errs/plain", hdr(ssec("AES256", k1, m1)...), nil); r.StatusCode != 400 || (m == "GET" && errCode(r) != "InvalidRequest") {
			t.Errorf("%s SSE-C headers on a plain object: %d", m, r.StatusCode)
		}
	}
	// Copy of an SSE-C source without, and with a wrong, source key.
	if r := ss.rawDo(t, "PUT", "/errs/copy", hdr("X-Amz-Copy-Source", "/errs/ssec"), nil); r.StatusCode != 400 || errCode(r) != "InvalidRequest" {
		t.Errorf("copy of SSE-C source without key: %d", r.StatusCode)
	}
	src := []string{"X-Amz-Copy-Source", "/errs/ssec", "X-Amz-Copy-Source-" + hdrSSECAlg[6:], "AES256",
		"X-Amz-Copy-Source-" + hdrSSECKey[6:], k2, "X-Amz-Copy-Source-" + hdrSSECKeyMD5[6:], m2}
	if r := ss.rawDo(t, "PUT", "/errs/copy", hdr(src...), nil); r.StatusCode != 403 {
		t.Errorf("copy of SSE-C source with wrong key: %d", r.StatusCode)
	}
}

// TestSSECNeedsTLS checks SSE-C over plain HTTP: refused by default,
// accepted from loopback with AllowInsecureSSECLoopback; SSE-KMS works
// over plain HTTP because every request is SigV4.
func TestSSECNeedsTLS(t *testing.T) {
	_, k1, m1 := ssecKey(7)
	h := hdr(hdrSSECAlg, "AES256", hdrSSECKey, k1, hdrSSECKeyMD5, m1)
	ss := startSSEServer(t)
	mustBucket(t, ss.awsClient(), "bkt")
	if r := ss.rawDo(t, "PUT", "/bkt/o", h, []byte("x")); r.StatusCode != 400 || errCode(r) != "InvalidRequest" {
		t.Errorf("SSE-C over HTTP: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "GET", "/bkt/o", h, nil); r.StatusCode != 400 || errCode(r) != "InvalidRequest" {
		t.Errorf("SSE-C GET over HTTP: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "PUT", "/bkt/k", hdr(hdrSSE, "aws:kms"), []byte("x")); r.StatusCode != 200 {
		t.Errorf("SSE-KMS over HTTP with SigV4: %d", r.StatusCode)
	}
	lo := startSSEServer(t, func(c *Config, _ *engine.Options) { c.AllowInsecureSSECLoopback = true })
	mustBucket(t, lo.awsClient(), "bkt")
	if r := lo.rawDo(t, "PUT", "/bkt/o", h, []byte("x")); r.StatusCode != 200 || r.Header.Get(hdrSSECKeyMD5) != m1 {
		t.Errorf("SSE-C over loopback HTTP with the flag: %d", r.StatusCode)
	}
}

// TestBucketEncryption covers Put/Get/DeleteBucketEncryption and the
// bucket default's effect on writes (§1.6), Bucket Keys from the bucket
// rule (§1.7), and blocked types.
func TestBucketEncryption(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	c := ss.awsClient()
	ctx := context.Background()
	mustBucket(t, c, "bkenc")
	named := ss.createKey(t, "alias/bucket")
	get := func() types.ServerSideEncryptionRule {
		t.Helper()
		out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("bkenc")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ServerSideEncryptionConfiguration.Rules) != 1 {
			t.Fatalf("%d rules", len(out.ServerSideEncryptionConfiguration.Rules))
		}
		return out.ServerSideEncryptionConfiguration.Rules[0]
	}
	if r := get(); r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 || aws.ToBool(r.BucketKeyEnabled) {
		t.Errorf("never-configured bucket: %+v", r.ApplyServerSideEncryptionByDefault)
	}
	if _, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("missing")}); apiCode(err) != "NoSuchBucket" {
		t.Errorf("missing bucket: %v", err)
	}
	put := func(rule types.ServerSideEncryptionRule) error {
		_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("bkenc"),
			ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{rule}}})
		return err
	}
	if err := put(types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
		SSEAlgorithm: types.ServerSideEncryptionAes256, KMSMasterKeyID: aws.String("alias/bucket")}}); apiCode(err) != "InvalidArgument" {
		t.Errorf("KMSMasterKeyID with AES256: %v", err)
	}
	for _, body := range []string{
		`<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ServerSideEncryptionConfiguration>`,
		`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
		`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`,
	} {
		if r := ss.rawDo(t, "PUT", "/bkenc?encryption", nil, []byte(body)); r.StatusCode != 400 || errCode(r) != "MalformedXML" {
			t.Errorf("PutBucketEncryption %.60s…: %d", body, r.StatusCode)
		}
	}
	// aws:kms default with a key and Bucket Key: objects without headers
	// take it; a request's own headers win; the bucket-key header alone
	// overrides the bucket's flag.
	if err := put(types.ServerSideEncryptionRule{BucketKeyEnabled: aws.Bool(true), ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
		SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String("alias/bucket")}}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAwsKms ||
		aws.ToString(r.ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != "alias/bucket" || !aws.ToBool(r.BucketKeyEnabled) {
		t.Errorf("after put: %+v bk %v", r.ApplyServerSideEncryptionByDefault, aws.ToBool(r.BucketKeyEnabled))
	}
	o, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkenc"), Key: aws.String("default"), Body: strings.NewReader("d")})
	if err != nil {
		t.Fatal(err)
	}
	if o.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(o.SSEKMSKeyId) != named.ARN || !aws.ToBool(o.BucketKeyEnabled) {
		t.Errorf("default-encrypted PUT: %q %q %v", o.ServerSideEncryption, aws.ToString(o.SSEKMSKeyId), aws.ToBool(o.BucketKeyEnabled))
	}
	o, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkenc"), Key: aws.String("nobk"), Body: strings.NewReader("d"), BucketKeyEnabled: aws.Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if o.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToBool(o.BucketKeyEnabled) {
		t.Errorf("bucket-key false over a Bucket Key default: %q %v", o.ServerSideEncryption, aws.ToBool(o.BucketKeyEnabled))
	}
	o, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkenc"), Key: aws.String("own"), Body: strings.NewReader("d"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	if o.ServerSideEncryption != types.ServerSideEncryptionAes256 || o.SSEKMSKeyId != nil {
		t.Errorf("request headers over the default: %q", o.ServerSideEncryption)
	}
	// Block SSE-C: 403 on write; reads of existing objects still work.
	_, k1, m1 := ssecKey(3)
	ssecH := hdr(hdrSSECAlg, "AES256", hdrSSECKey, k1, hdrSSECKeyMD5, m1)
	if r := ss.rawDo(t, "PUT", "/bkenc/c", ssecH, []byte("c")); r.StatusCode != 200 {
		t.Fatalf("SSE-C put before blocking: %d", r.StatusCode)
	}
	if err := put(types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
		SSEAlgorithm: types.ServerSideEncryptionAes256}, BlockedEncryptionTypes: &types.BlockedEncryptionTypes{EncryptionType: []types.EncryptionType{"SSE-C"}}}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.BlockedEncryptionTypes == nil || len(r.BlockedEncryptionTypes.EncryptionType) != 1 {
		t.Errorf("blocked types not reported: %+v", r.BlockedEncryptionTypes)
	}
	if r := ss.rawDo(t, "PUT", "/bkenc/c2", ssecH, []byte("c")); r.StatusCode != 403 || errCode(r) != "AccessDenied" {
		t.Errorf("SSE-C put on a blocking bucket: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "GET", "/bkenc/c", ssecH, nil); r.StatusCode != 200 {
		t.Errorf("SSE-C get on a blocking bucket: %d", r.StatusCode)
	}
	// Delete resets to AES256.
	if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("bkenc")}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 || r.BlockedEncryptionTypes != nil {
		t.Errorf("after delete: %+v", r)
	}
}

// TestSSECopyMatrix copies between every pair of modes, and in place.
func TestSSECopyMatrix(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	c := ss.awsClient()
	ctx := context.Background()
	mustBucket(t, c, "cpy")
	_, k1, m1 := ssecKey(4)
	_, k2, m2 := ssecKey(5)
	data := randBytes(42, 70_000)
	type mode struct {
		name string
		h    []string // destination (or source write) headers
		src  []string // copy-source headers when this is the source
		get  []string // read headers
		sse  string
	}
	srcC := func(k, m string) []string {
		return []string{"X-Amz-Copy-Source-" + hdrSSECAlg[6:], "AES256", "X-Amz-Copy-Source-" + hdrSSECKey[6:], k, "X-Amz-Copy-Source-" + hdrSSECKeyMD5[6:], m}
	}
	modes := []mode{
		{name: "s3", h: []string{hdrSSE, "AES256"}, sse: "AES256"},
		{name: "kms", h: []string{hdrSSE, "aws:kms"}, sse: "aws:kms"},
		{name: "kmsbk", h: []string{hdrSSE, "aws:kms", hdrSSEBucketKey, "true"}, sse: "aws:kms"},
		{name: "dsse", h: []string{hdrSSE, "aws:kms:dsse"}, sse: "aws:kms:dsse"},
		{name: "ssec", h: []string{hdrSSECAlg, "AES256", hdrSSECKey, k1, hdrSSECKeyMD5, m1}, src: srcC(k1, m1),
			get: []string{hdrSSECAlg, "AES256", hdrSSECKey, k1, hdrSSECKeyMD5, m1}},
	}
	for _, m := range modes {
		if r := ss.rawDo(t, "PUT", "/cpy/src-"+m.name, hdr(m.h...), data); r.StatusCode != 200 {
			t.Fatalf("put %s: %d", m.name, r.StatusCode)
		}
	}
	for _, from := range modes {
		for _, to := range modes {
			t.Run(from.name+"->"+to.name, func(t *testing.T) {
				dst := "/cpy/dst-" + from.name + "-" + to.name
				h := append(append([]string{"X-Amz-Copy-Source", "/cpy/src-" + from.name}, from.src...), to.h...)
				r := ss.rawDo(t, "PUT", dst, hdr(h...), nil)
				if r.StatusCode != 200 {
					t.Fatalf("copy: %d %s", r.StatusCode, errCode(r))
				}
				if r.Header.Get(hdrSSE) != to.sse {
					t.Errorf("copy response SSE %q, want %q", r.Header.Get(hdrSSE), to.sse)
				}
				g := ss.rawDo(t, "GET", dst, hdr(to.get...), nil)
				body, _ := io.ReadAll(g.Body)
				if g.StatusCode != 200 || !bytes.Equal(body, data) {
					t.Fatalf("read back: %d, equal %v", g.StatusCode, bytes.Equal(body, data))
				}
			})
		}
	}
	// No destination headers: the bucket default (AES256), never the
	// source's mode (§1.8).
	r := ss.rawDo(t, "PUT", "/cpy/from-kms", hdr("X-Amz-Copy-Source", "/cpy/src-kms"), nil)
	if r.StatusCode != 200 || r.Header.Get(hdrSSE) != "AES256" {
		t.Errorf("copy without headers: %d %q", r.StatusCode, r.Header.Get(hdrSSE))
	}
	// In place: unchanged is refused; explicit headers (even the same
	// algorithm) are a change; rotating an SSE-C key works.
	if r := ss.rawDo(t, "PUT", "/cpy/src-s3", hdr("X-Amz-Copy-Source", "/cpy/src-s3"), nil); r.StatusCode != 400 || errCode(r) != "InvalidRequest" {
		t.Errorf("unchanged in-place copy: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "PUT", "/cpy/src-s3", hdr("X-Amz-Copy-Source", "/cpy/src-s3", hdrSSE, "AES256"), nil); r.StatusCode != 200 {
		t.Errorf("in-place AES256 -> AES256: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "PUT", "/cpy/src-kms", hdr("X-Amz-Copy-Source", "/cpy/src-kms"), nil); r.StatusCode != 200 || r.Header.Get(hdrSSE) != "AES256" {
		t.Errorf("in-place KMS -> bucket default: %d %q", r.StatusCode, r.Header.Get(hdrSSE))
	} else if h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cpy"), Key: aws.String("src-kms")}); err != nil ||
		strings.Trim(aws.ToString(h.ETag), `"`) != fmt.Sprintf("%x", md5.Sum(data)) {
		t.Errorf("re-encrypted to AES256: ETag not the plaintext MD5 (%v)", err)
	}
	rot := append(append([]string{"X-Amz-Copy-Source", "/cpy/src-ssec"}, srcC(k1, m1)...), hdrSSECAlg, "AES256", hdrSSECKey, k2, hdrSSECKeyMD5, m2)
	if r := ss.rawDo(t, "PUT", "/cpy/src-ssec", hdr(rot...), nil); r.StatusCode != 200 || r.Header.Get(hdrSSECKeyMD5) != m2 {
		t.Fatalf("SSE-C key rotation: %d", r.StatusCode)
	}
	if r := ss.rawDo(t, "GET", "/cpy/src-ssec", hdr(hdrSSECAlg, "AES256", hdrSSECKey, k1, hdrSSECKeyMD5, m1), nil); r.StatusCode != 403 {
		t.Errorf("old SSE-C key after rotation: %d", r.StatusCode)
	}
}

// TestSSEMinioAndPresign uses minio-go's SSE helpers and a presigned GET
// of an SSE-S3 and an SSE-KMS object.
func TestSSEMinioAndPresign(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	mc := ss.minioClient()
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "mcb", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	data := randBytes(9, 50_000)
	kmsEnc, err := encrypt.NewSSEKMS("alias/aws/s3", map[string]string{"purpose": "test"})
	if err != nil {
		t.Fatal(err)
	}
	ssec, err := encrypt.NewSSEC(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for name, sse := range map[string]encrypt.ServerSide{"s3": encrypt.NewSSE(), "kms": kmsEnc, "ssec": ssec} {
		info, err := mc.PutObject(ctx, "mcb", name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{ServerSideEncryption: sse})
		if err != nil {
			t.Fatalf("%s put: %v", name, err)
		}
		_ = info
		gopts := minio.GetObjectOptions{}
		if name == "ssec" {
			gopts.ServerSideEncryption = ssec
		}
		obj, err := mc.GetObject(ctx, "mcb", name, gopts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s get: %v equal=%v", name, err, bytes.Equal(got, data))
		}
		if name == "ssec" {
			continue
		}
		u, err := mc.PresignedGetObject(ctx, "mcb", name, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ss.httpClient().Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get(hdrSSE) == "" {
			t.Errorf("%s presigned GET: %d, equal %v, sse %q", name, resp.StatusCode, bytes.Equal(body, data), resp.Header.Get(hdrSSE))
		}
	}
}

// TestSSEKMSUnavailable maps a key manager that cannot be reached to a 5xx
// (the SDKs retry), and a server without a key manager to NotImplemented.
func TestSSEKMSUnavailable(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	mustBucket(t, ss.awsClient(), "unav")
	if r := ss.rawDo(t, "PUT", "/unav/k", hdr(hdrSSE, "aws:kms"), []byte("x")); r.StatusCode != 200 {
		t.Fatalf("put: %d", r.StatusCode)
	}
	ss.kr.Close() // the key manager stops
	r := ss.rawDo(t, "PUT", "/unav/k2", hdr(hdrSSE, "aws:kms", hdrSSEKMSKeyID, "alias/other"), []byte("x"))
	if r.StatusCode < 500 {
		t.Errorf("PUT with the key manager stopped: %d %s", r.StatusCode, errCode(r))
	}
	none := startServer(t, withTLS())
	mustBucket(t, none.awsClient(), "nokm")
	s := none.build(t, rawReq{method: "PUT", path: "/nokm/k", header: hdr(hdrSSE, "aws:kms"), body: []byte("x"), kind: authHeaderHashed})
	if st, code := none.send(t, s); st != 501 || code != "NotImplemented" {
		t.Errorf("SSE-KMS without a key manager: %d %s", st, code)
	}
}

// FuzzParseWriteSSE feeds arbitrary SSE header values to the write-path
// parser: it never panics, and whatever it accepts is well formed (an
// SSE-C key of 32 bytes with no other mode, a known type, a context that
// came from valid base64 JSON).
func FuzzParseWriteSSE(f *testing.F) {
	_, k, m := ssecKey(1)
	f.Add("aws:kms", "alias/x", b64json(map[string]string{"a": "b"}), "true", "", "", "")
	f.Add("", "", "", "", "AES256", k, m)
	f.Add("AES256", "", "", "false", "AES256", k, "bad")
	f.Add("aws:kms:dsse", "", "e30=", "TRUE", "", "", "")
	f.Fuzz(func(t *testing.T, alg, keyID, ctxHdr, bk, calg, ckey, cmd5 string) {
		h := map[string]string{hdrSSE: alg, hdrSSEKMSKeyID: keyID, hdrSSEContext: ctxHdr, hdrSSEBucketKey: bk,
			hdrSSECAlg: calg, hdrSSECKey: ckey, hdrSSECKeyMD5: cmd5}
		for _, op := range []sseOp{opPut, opCopy, opUploadPart} {
			sse, err := parseWriteSSEFrom(func(n string) string { return h[n] }, true, op)
			if err != nil {
				if a := classify(err); a.status != 400 {
					t.Fatalf("parse error with status %d: %v", a.status, err)
				}
				continue
			}
			if sse == nil {
				if alg != "" || (op != opUploadPart && ckey != "") {
					t.Fatalf("headers ignored: %q %q", alg, ckey)
				}
				continue
			}
			if sse.CustomerKey != nil && (len(sse.CustomerKey) != 32 || sse.Type != engine.SSEC) {
				t.Fatalf("bad SSE-C result %+v", sse)
			}
			if sse.Type == engine.SSEC && sse.CustomerKey == nil {
				t.Fatal("SSE-C without a key")
			}
			if sse.Context != nil && sse.Type != engine.SSEKMS && sse.Type != engine.DSSEKMS {
				t.Fatalf("context accepted with %v", sse.Type)
			}
		}
	})
}
