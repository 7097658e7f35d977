package s3facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/internal/sigv4"
)

type field struct{ k, v string }

// postPolicyFields signs a POST policy with the test user's key and
// returns the auth fields (policy, algorithm, credential, date,
// signature). The policy carries conds plus the conditions on the three
// x-amz-* fields, as SDKs add them.
func postPolicyFields(t *testing.T, now, exp time.Time, conds ...any) []field {
	t.Helper()
	scope := sigv4.NewScope(now, testRegion, "s3")
	cred := testAccess + "/" + scope.String()
	date := now.UTC().Format(sigv4.TimeFormat)
	conds = append(conds, map[string]string{"x-amz-algorithm": sigv4.Algorithm},
		[]string{"eq", "$x-amz-credential", cred}, map[string]string{"x-amz-date": date})
	doc, err := json.Marshal(map[string]any{"expiration": exp.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(doc)
	key := sigv4.DeriveKey(testSecret, scope)
	sig := sigv4.Signature(key, b64)
	return []field{{"policy", b64}, {"x-amz-algorithm", sigv4.Algorithm}, {"x-amz-credential", cred},
		{"x-amz-date", date}, {"x-amz-signature", sig}}
}

// postForm sends a form: fields, then the file, then after (ignored by
// S3). It returns status, error code (if any) and the response.
func sendPost(t *testing.T, ts *testServer, bucket string, fields []field, filename string, content []byte, after []field) (*http.Response, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f.k, f.v); err != nil {
			t.Fatal(err)
		}
	}
	if content != nil {
		fw, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(content)
	}
	for _, f := range after {
		mw.WriteField(f.k, f.v)
	}
	mw.Close()
	req, err := http.NewRequest("POST", ts.url+"/"+bucket, &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	c := ts.httpClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func postErr(body []byte) (code, msg string) {
	var e struct{ Code, Message string }
	_ = xml.Unmarshal(body, &e)
	return e.Code, e.Message
}

func postBucket(t *testing.T, ts *testServer, b string) {
	t.Helper()
	if err := ts.e.CreateBucket(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func readBack(t *testing.T, ts *testServer, b, k string, opts *engine.GetOptions) (engine.ObjectInfo, []byte) {
	t.Helper()
	obj, err := ts.e.GetObject(context.Background(), b, k, opts)
	if err != nil {
		t.Fatalf("get %s/%s: %v", b, k, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	return obj.Info, data
}

func TestPostObjectUpload(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "forms")
	now := time.Now()
	content := []byte("hello from a browser form")
	conds := []any{
		map[string]string{"bucket": "forms"},
		[]any{"starts-with", "$key", "uploads/"},
		[]any{"eq", "$Content-Type", "text/plain"},
		map[string]string{"x-amz-meta-color": "blue"},
		[]any{"starts-with", "$success_action_status", ""},
		[]any{"content-length-range", 1, 1024},
	}
	for _, tc := range []struct {
		status string
		want   int
	}{{"", 204}, {"200", 200}, {"201", 201}, {"302", 204}} {
		fields := append(postPolicyFields(t, now, now.Add(time.Hour), conds...),
			field{"key", "uploads/" + tc.status + "/${filename}"}, field{"Content-Type", "text/plain"},
			field{"x-amz-meta-color", "blue"}, field{"success_action_status", tc.status}, field{"x-ignore-me", "x"})
		resp, body := sendPost(t, ts, "forms", fields, "note.txt", content, []field{{"x-amz-meta-late", "ignored"}})
		if resp.StatusCode != tc.want {
			t.Fatalf("status %q: got %d %s", tc.status, resp.StatusCode, body)
		}
		key := "uploads/" + tc.status + "/note.txt"
		info, data := readBack(t, ts, "forms", key, nil)
		if !bytes.Equal(data, content) || info.ContentType != "text/plain" || info.UserMetadata["color"] != "blue" {
			t.Errorf("stored %q type %q meta %v", data, info.ContentType, info.UserMetadata)
		}
		if _, late := info.UserMetadata["late"]; late {
			t.Error("a field after the file was stored")
		}
		if resp.Header.Get("ETag") != `"`+info.ETag+`"` {
			t.Errorf("ETag %q, stored %q", resp.Header.Get("ETag"), info.ETag)
		}
		if tc.want == 201 {
			var pr struct{ Location, Bucket, Key, ETag string }
			if err := xml.Unmarshal(body, &pr); err != nil || pr.Bucket != "forms" || pr.Key != key || pr.ETag != `"`+info.ETag+`"` ||
				!strings.HasSuffix(pr.Location, "/forms/"+key) {
				t.Errorf("201 body %s (%v)", body, err)
			}
		} else if len(body) != 0 {
			t.Errorf("status %d has body %s", tc.want, body)
		}
	}

	// success_action_redirect: 303 to the URL with bucket, key and etag.
	fields := append(postPolicyFields(t, now, now.Add(time.Hour), map[string]string{"key": "r"},
		map[string]string{"success_action_redirect": "https://example.com/done?x=1"}),
		field{"key", "r"}, field{"success_action_redirect", "https://example.com/done?x=1"})
	resp, body := sendPost(t, ts, "forms", fields, "f", []byte("r"), nil)
	if resp.StatusCode != 303 {
		t.Fatalf("redirect: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	info, _ := readBack(t, ts, "forms", "r", nil)
	if u.Host != "example.com" || q.Get("bucket") != "forms" || q.Get("key") != "r" || q.Get("x") != "1" || q.Get("etag") != `"`+info.ETag+`"` {
		t.Errorf("redirect Location %s", u)
	}
}

// TestPostObjectVirtualHost posts to bucket.domain/.
func TestPostObjectVirtualHost(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *engine.Options) { c.Domains = []string{"s3.test"} })
	postBucket(t, ts, "vhb")
	now := time.Now()
	fields := append(postPolicyFields(t, now, now.Add(time.Hour), map[string]string{"bucket": "vhb"}, map[string]string{"key": "k"}),
		field{"key", "k"})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f.k, f.v)
	}
	fw, _ := mw.CreateFormFile("file", "x")
	fw.Write([]byte("vhost"))
	mw.Close()
	req, _ := http.NewRequest("POST", ts.url+"/", &buf)
	req.Host = "vhb.s3.test"
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := ts.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("vhost POST: %d %s", resp.StatusCode, body)
	}
	if _, data := readBack(t, ts, "vhb", "k", nil); string(data) != "vhost" {
		t.Errorf("stored %q", data)
	}
}

func TestPostObjectSSE(t *testing.T) {
	ss := startSSEServer(t, withTLS())
	ts := ss.testServer
	postBucket(t, ts, "enc")
	kmsKey := ss.createKey(t, "alias/post")
	ctxJSON := base64.StdEncoding.EncodeToString([]byte(`{"dept":"forms"}`))
	ckey, ckeyB64, ckeyMD5 := ssecKey(7)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		fields []field
		want   engine.SSEType
		header string
	}{
		{"sse-s3", []field{{"x-amz-server-side-encryption", "AES256"}}, engine.SSES3, "AES256"},
		{"sse-kms", []field{{"x-amz-server-side-encryption", "aws:kms"}, {"x-amz-server-side-encryption-aws-kms-key-id", kmsKey.KeyID},
			{"x-amz-server-side-encryption-context", ctxJSON}, {"x-amz-server-side-encryption-bucket-key-enabled", "true"}}, engine.SSEKMS, "aws:kms"},
		{"dsse-kms", []field{{"x-amz-server-side-encryption", "aws:kms:dsse"}}, engine.DSSEKMS, "aws:kms:dsse"},
		{"sse-c", []field{{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
			{"x-amz-server-side-encryption-customer-key", ckeyB64}, {"x-amz-server-side-encryption-customer-key-MD5", ckeyMD5}}, engine.SSEC, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conds := []any{map[string]string{"key": tc.name}}
			for _, f := range tc.fields {
				conds = append(conds, []any{"eq", "$" + f.k, f.v})
			}
			fields := append(postPolicyFields(t, now, now.Add(time.Hour), conds...), field{"key", tc.name})
			fields = append(fields, tc.fields...)
			resp, body := sendPost(t, ts, "enc", fields, "f", []byte("secret "+tc.name), nil)
			if resp.StatusCode != 204 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Amz-Server-Side-Encryption"); got != tc.header {
				t.Errorf("x-amz-server-side-encryption %q, want %q", got, tc.header)
			}
			opts := &engine.GetOptions{}
			if tc.want == engine.SSEC {
				opts.CustomerKey = []byte(ckey)
				if resp.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key-Md5") != ckeyMD5 {
					t.Error("no SSE-C key MD5 in response")
				}
				if _, err := ts.e.HeadObject(context.Background(), "enc", tc.name, nil); err == nil {
					t.Error("SSE-C object readable without its key")
				}
			}
			info, data := readBack(t, ts, "enc", tc.name, opts)
			if info.SSE.Type != tc.want || string(data) != "secret "+tc.name {
				t.Errorf("stored as %v: %q", info.SSE.Type, data)
			}
			if tc.name == "sse-kms" {
				if !info.SSE.BucketKey || info.SSE.KMSKeyARN != kmsKey.ARN || resp.Header.Get("X-Amz-Server-Side-Encryption-Context") == "" {
					t.Errorf("KMS info %+v, context header %q", info.SSE, resp.Header.Get("X-Amz-Server-Side-Encryption-Context"))
				}
			}
		})
	}
	// An SSE field the policy does not name is an extra field.
	fields := append(postPolicyFields(t, now, now.Add(time.Hour), map[string]string{"key": "x"}),
		field{"key", "x"}, field{"x-amz-server-side-encryption", "AES256"})
	resp, body := sendPost(t, ts, "enc", fields, "f", []byte("x"), nil)
	if code, msg := postErr(body); resp.StatusCode != 403 || code != "AccessDenied" || !strings.Contains(msg, "Extra input fields: x-amz-server-side-encryption") {
		t.Errorf("unnamed SSE field: %d %s %s", resp.StatusCode, code, msg)
	}
}

// TestPostObjectSSECNeedsTLS: SSE-C fields over plain HTTP are refused.
func TestPostObjectSSECNeedsTLS(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "plain")
	_, kb, km := ssecKey(3)
	now := time.Now()
	sf := []field{{"x-amz-server-side-encryption-customer-algorithm", "AES256"},
		{"x-amz-server-side-encryption-customer-key", kb}, {"x-amz-server-side-encryption-customer-key-md5", km}}
	conds := []any{map[string]string{"key": "c"}}
	for _, f := range sf {
		conds = append(conds, map[string]string{f.k: f.v})
	}
	fields := append(append(postPolicyFields(t, now, now.Add(time.Hour), conds...), field{"key", "c"}), sf...)
	resp, body := sendPost(t, ts, "plain", fields, "f", []byte("x"), nil)
	if code, _ := postErr(body); resp.StatusCode != 400 || code != "InvalidRequest" {
		t.Errorf("SSE-C over HTTP: %d %s", resp.StatusCode, code)
	}
	assertEmpty(t, ts, "plain")
}

func assertEmpty(t *testing.T, ts *testServer, b string) {
	t.Helper()
	res, err := ts.e.ListObjects(context.Background(), b, engine.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 0 {
		t.Errorf("bucket %s holds %d objects after a refused POST", b, len(res.Objects))
	}
}

func TestPostObjectRefused(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "deny")
	now := time.Now()
	base := []any{map[string]string{"bucket": "deny"}, []any{"starts-with", "$key", "ok/"}, []any{"content-length-range", 2, 10}}
	good := func() []field {
		return append(postPolicyFields(t, now, now.Add(time.Hour), base...), field{"key", "ok/${filename}"})
	}
	cases := []struct {
		name    string
		fields  []field
		content []byte
		after   []field
		status  int
		code    string
		msg     string
	}{
		{"control", good(), []byte("12345"), nil, 204, "", ""},
		{"bad signature", func() []field {
			f := good()
			f[4].v = strings.Repeat("0", 64)
			return f
		}(), []byte("12345"), nil, 403, "SignatureDoesNotMatch", ""},
		{"tampered policy", func() []field {
			f := append(postPolicyFields(t, now, now.Add(time.Hour), map[string]string{"bucket": "deny"}, []any{"starts-with", "$key", ""}), field{"key", "ok/x"})
			f[0].v = good()[0].v
			return f
		}(), []byte("12345"), nil, 403, "SignatureDoesNotMatch", ""},
		{"expired", append(postPolicyFields(t, now, now.Add(-time.Second), base...), field{"key", "ok/x"}),
			[]byte("12345"), nil, 403, "AccessDenied", "Invalid according to Policy: Policy expired."},
		{"condition", append(postPolicyFields(t, now, now.Add(time.Hour), base...), field{"key", "other/x"}),
			[]byte("12345"), nil, 403, "AccessDenied", `Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "ok/"]`},
		{"wrong bucket", append(postPolicyFields(t, now, now.Add(time.Hour), map[string]string{"bucket": "elsewhere"}, map[string]string{"key": "k"}),
			field{"key", "k"}), []byte("12345"), nil, 403, "AccessDenied", "Policy Condition failed"},
		{"extra field", append(good(), field{"x-amz-meta-unsigned", "v"}), []byte("12345"), nil,
			403, "AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-unsigned"},
		{"too small", good(), []byte("1"), nil, 400, "EntityTooSmall", ""},
		{"too large", good(), []byte("12345678901"), nil, 400, "EntityTooLarge", ""},
		{"empty under minimum", good(), []byte{}, nil, 400, "EntityTooSmall", ""},
		{"key after file", postPolicyFields(t, now, now.Add(time.Hour), base...), []byte("12345"),
			[]field{{"key", "ok/x"}}, 403, "AccessDenied", "Policy Condition failed"},
		{"no file", good(), nil, nil, 400, "IncorrectNumberOfFilesInPostRequest", ""},
		{"fields over 20 KB", append(good(), field{"x-ignore-pad", strings.Repeat("p", 20<<10)}), []byte("12345"), nil,
			400, "MaxPostPreDataLengthExceededError", ""},
		{"anonymous", []field{{"key", "ok/x"}}, []byte("12345"), nil, 403, "AccessDenied", ""},
		{"unknown access key", func() []field {
			f := good()
			f[2].v = "NOBODY" + f[2].v[len(testAccess):]
			return f
		}(), []byte("12345"), nil, 403, "InvalidAccessKeyId", ""},
		{"bad policy json", func() []field {
			scope := sigv4.NewScope(now, testRegion, "s3")
			b64 := base64.StdEncoding.EncodeToString([]byte(`{"conditions":[]}`))
			k := sigv4.DeriveKey(testSecret, scope)
			return []field{{"policy", b64}, {"x-amz-algorithm", sigv4.Algorithm}, {"x-amz-credential", testAccess + "/" + scope.String()},
				{"x-amz-date", now.UTC().Format(sigv4.TimeFormat)}, {"x-amz-signature", sigv4.Signature(k, b64)}, {"key", "ok/x"}}
		}(), []byte("12345"), nil, 400, "InvalidPolicyDocument", "missing expiration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := sendPost(t, ts, "deny", tc.fields, "x", tc.content, tc.after)
			code, msg := postErr(body)
			if resp.StatusCode != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s %q, want %d %s %q", resp.StatusCode, code, msg, tc.status, tc.code, tc.msg)
			}
			if tc.status == 204 {
				if err := ts.e.DeleteObject(context.Background(), "deny", "ok/x"); err != nil {
					t.Fatal(err)
				}
			}
			assertEmpty(t, ts, "deny")
		})
	}
	// A signed POST that is not a form is not an upload.
	resp, _ := http.Post(ts.url+"/deny", "text/plain", strings.NewReader("x"))
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("anonymous non-form POST: %d", resp.StatusCode)
	}
}

// TestPostObjectMinioInterop uses minio-go's PresignedPostPolicy for the
// form, then posts it as a browser would.
func TestPostObjectMinioInterop(t *testing.T) {
	ts := startServer(t)
	postBucket(t, ts, "mcb")
	c := ts.minioClient()
	p := minio.NewPostPolicy()
	for _, err := range []error{p.SetBucket("mcb"), p.SetKey("from-minio.bin"), p.SetExpires(time.Now().Add(10 * time.Minute)),
		p.SetContentType("application/octet-stream"), p.SetContentLengthRange(1, 1<<20), p.SetUserMetadata("origin", "minio-go"),
		p.SetSuccessStatusAction("201")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	u, form, err := c.PresignedPostPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("minio "), 1000)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range form {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "local.bin")
	fw.Write(content)
	mw.Close()
	resp, err := ts.httpClient().Post(u.String(), mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("minio-go form: %d %s", resp.StatusCode, body)
	}
	st, err := c.StatObject(context.Background(), "mcb", "from-minio.bin", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != int64(len(content)) || st.UserMetadata["Origin"] != "minio-go" || st.ContentType != "application/octet-stream" {
		t.Errorf("stat: size %d meta %v type %q", st.Size, st.UserMetadata, st.ContentType)
	}
	// The same form replayed with a different file size outside the
	// range is refused.
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	for k, v := range form {
		mw.WriteField(k, v)
	}
	fw, _ = mw.CreateFormFile("file", "big.bin")
	fw.Write(make([]byte, 1<<20+1))
	mw.Close()
	resp, err = ts.httpClient().Post(u.String(), mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if code, _ := postErr(body); resp.StatusCode != 400 || code != "EntityTooLarge" {
		t.Errorf("oversize replay: %d %s", resp.StatusCode, code)
	}
}

func TestParsePostPolicy(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	p, err := parsePostPolicy(enc(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"acl":"private"},
		["starts-with","$Key","a/"],["content-length-range","5",100],["content-length-range",0,50],["EQ","$x","y"]]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !p.hasRange || p.minLen != 5 || p.maxLen != 50 || len(p.conds) != 3 || p.conds[1].field != "key" || !p.conds[1].startsWith {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{`not base64!`, enc(`[]`), enc(`{"conditions":[]}`), enc(`{"expiration":"tomorrow","conditions":[]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z"}`), enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","key","v"]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",10,1]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",-1,1]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[["between","$a",1]]}`),
		enc(`{"expiration":"2030-01-01T00:00:00Z","conditions":[{"a":1}]}`)} {
		var e *Error
		if _, err := parsePostPolicy(bad); !errors.As(err, &e) || e.Code != CodeInvalidPolicyDocument {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParsePostPolicy: the policy parser never panics, and what it
// accepts is self-consistent.
func FuzzParsePostPolicy(f *testing.F) {
	for _, s := range []string{
		`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"b"},["starts-with","$key",""],["content-length-range",1,10]]}`,
		`{"expiration":"2030-01-01T00:00:00Z","conditions":[["eq","$Content-Type","text/plain"]]}`,
		`{"expiration":1,"conditions":{}}`,
	} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	f.Fuzz(func(t *testing.T, b64 string) {
		p, err := parsePostPolicy(b64)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidPolicyDocument {
				t.Fatalf("error %v is not InvalidPolicyDocument", err)
			}
			return
		}
		if p.expiration.IsZero() || p.hasRange && (p.minLen < 0 || p.minLen > p.maxLen) {
			t.Fatalf("accepted inconsistent policy %+v", p)
		}
		for _, c := range p.conds {
			if c.field != strings.ToLower(c.field) {
				t.Fatalf("field %q not lower case", c.field)
			}
			_ = c.holds("x")
		}
	})
}
