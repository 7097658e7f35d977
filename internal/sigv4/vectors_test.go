package sigv4

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const vectorDir = "../../../shared/testdata/sigv4"

type vectorContext struct {
	Credentials struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		Token           string `json:"token"`
	} `json:"credentials"`
	Expiration       int64  `json:"expiration_in_seconds"`
	Normalize        bool   `json:"normalize"`
	Region           string `json:"region"`
	Service          string `json:"service"`
	SignBody         bool   `json:"sign_body"`
	Timestamp        string `json:"timestamp"`
	OmitSessionToken bool   `json:"omit_session_token"`
}

type vector struct {
	name string
	dir  string
	ctx  vectorContext
	time time.Time
}

func (v vector) creds() Credentials {
	return Credentials{AccessKeyID: v.ctx.Credentials.AccessKeyID, SecretAccessKey: v.ctx.Credentials.SecretAccessKey, SessionToken: v.ctx.Credentials.Token}
}

func (v vector) file(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Skipf("vectors not available: %v", err)
	}
	var out []vector
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v := vector{name: e.Name(), dir: filepath.Join(vectorDir, e.Name())}
		b, err := os.ReadFile(filepath.Join(v.dir, "context.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &v.ctx); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if v.time, err = time.Parse(time.RFC3339, v.ctx.Timestamp); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if len(out) < 30 {
		t.Fatalf("found only %d vectors", len(out))
	}
	return out
}

// rawRequest is an HTTP/1.1 request as written in the vector files. It is
// parsed by hand because the vectors contain targets (spaces, raw UTF-8)
// that net/http refuses.
type rawRequest struct {
	method  string
	path    string // decoded
	query   string // raw
	headers [][2]string
	body    []byte
}

func parseRawRequest(t *testing.T, s string) rawRequest {
	t.Helper()
	head, body, _ := strings.Cut(s, "\n\n")
	lines := strings.Split(strings.TrimRight(head, "\n"), "\n")
	var r rawRequest
	line := lines[0]
	sp := strings.IndexByte(line, ' ')
	last := strings.LastIndexByte(line, ' ')
	if sp < 0 || last <= sp {
		t.Fatalf("bad request line %q", line)
	}
	r.method = line[:sp]
	target := line[sp+1 : last]
	p, q, _ := strings.Cut(target, "?")
	dp, err := url.PathUnescape(p)
	if err != nil {
		t.Fatal(err)
	}
	r.path, r.query = dp, q
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' { // obsolete line folding, as net/textproto joins it
			r.headers[len(r.headers)-1][1] += " " + strings.TrimSpace(l)
			continue
		}
		k, val, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		r.headers = append(r.headers, [2]string{k, val})
	}
	r.body = []byte(body)
	return r
}

func (r rawRequest) host() string {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], "host") {
			return h[1]
		}
	}
	return ""
}

// clientRequest builds the request a net/http client would send.
func (r rawRequest) clientRequest(t *testing.T) *http.Request {
	t.Helper()
	req := &http.Request{
		Method:        r.method,
		URL:           &url.URL{Scheme: "https", Host: r.host(), Path: r.path, RawQuery: r.query},
		Host:          r.host(),
		Header:        make(http.Header),
		ContentLength: int64(len(r.body)),
	}
	for _, h := range r.headers {
		if strings.EqualFold(h[0], "host") || strings.EqualFold(h[0], "content-length") {
			continue
		}
		req.Header.Add(h[0], h[1])
	}
	return req
}

// serverMessage builds what a server sees of the request.
func (r rawRequest) serverMessage(t *testing.T) *Message {
	t.Helper()
	q, err := url.ParseQuery(r.query)
	if err != nil {
		t.Fatal(err)
	}
	h := make(http.Header)
	for _, kv := range r.headers {
		if !strings.EqualFold(kv[0], "host") {
			h.Add(kv[0], kv[1])
		}
	}
	return &Message{Method: r.method, Path: r.path, Query: q, Host: r.host(), Header: h}
}

func trimNL(s string) string { return strings.TrimRight(s, "\n") }

func TestVectorsHeader(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			r := parseRawRequest(t, v.file(t, "request.txt"))
			req := r.clientRequest(t)
			res, err := Sign(req, PayloadHash(r.body), v.creds(), v.ctx.Region, v.ctx.Service, v.time,
				Options{NormalizePath: v.ctx.Normalize, OmitSessionToken: v.ctx.OmitSessionToken, ContentSHA256Header: v.ctx.SignBody})
			if err != nil {
				t.Fatal(err)
			}
			if want := trimNL(v.file(t, "header-canonical-request.txt")); res.CanonicalRequest != want {
				t.Errorf("canonical request:\n%s\nwant:\n%s", res.CanonicalRequest, want)
			}
			if want := trimNL(v.file(t, "header-string-to-sign.txt")); res.StringToSign != want {
				t.Errorf("string to sign:\n%s\nwant:\n%s", res.StringToSign, want)
			}
			if want := trimNL(v.file(t, "header-signature.txt")); res.Signature != want {
				t.Errorf("signature %s, want %s", res.Signature, want)
			}
			signed := parseRawRequest(t, v.file(t, "header-signed-request.txt"))
			var wantAuth string
			for _, h := range signed.headers {
				if strings.EqualFold(h[0], "authorization") {
					wantAuth = h[1]
				}
			}
			if got := req.Header.Get("Authorization"); got != wantAuth {
				t.Errorf("Authorization %q, want %q", got, wantAuth)
			}
		})
	}
}

func TestVectorsQuery(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			r := parseRawRequest(t, v.file(t, "request.txt"))
			req := r.clientRequest(t)
			res, err := Presign(req, PayloadHash(r.body), v.creds(), v.ctx.Region, v.ctx.Service, v.time,
				time.Duration(v.ctx.Expiration)*time.Second, Options{NormalizePath: v.ctx.Normalize, OmitSessionToken: v.ctx.OmitSessionToken})
			if err != nil {
				t.Fatal(err)
			}
			if want := trimNL(v.file(t, "query-canonical-request.txt")); res.CanonicalRequest != want {
				t.Errorf("canonical request:\n%s\nwant:\n%s", res.CanonicalRequest, want)
			}
			if want := trimNL(v.file(t, "query-string-to-sign.txt")); res.StringToSign != want {
				t.Errorf("string to sign:\n%s\nwant:\n%s", res.StringToSign, want)
			}
			if want := trimNL(v.file(t, "query-signature.txt")); res.Signature != want {
				t.Errorf("signature %s, want %s", res.Signature, want)
			}
			// The URL we produce must carry the same parameters as the vector's.
			signed := parseRawRequest(t, v.file(t, "query-signed-request.txt"))
			wantQ, _ := url.ParseQuery(signed.query)
			gotQ, _ := url.ParseQuery(req.URL.RawQuery)
			if gotQ.Encode() != wantQ.Encode() {
				t.Errorf("query\n%s\nwant\n%s", gotQ.Encode(), wantQ.Encode())
			}
		})
	}
}

func vectorVerifier(v vector) *Verifier {
	return &Verifier{
		Region: v.ctx.Region, Service: v.ctx.Service, NormalizePath: v.ctx.Normalize,
		Lookup: func(id string) (string, bool) {
			if id == v.ctx.Credentials.AccessKeyID {
				return v.ctx.Credentials.SecretAccessKey, true
			}
			return "", false
		},
	}
}

// mutateByte returns s with byte i replaced by a different printable byte.
func mutateByte(s string, i int) string {
	b := []byte(s)
	if b[i] == 'z' {
		b[i] = 'y'
	} else {
		b[i] = 'z'
	}
	return string(b)
}

func mutateHex(s string, i int) string {
	b := []byte(s)
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

// checkRejections verifies the signed message, then changes one thing at a
// time and expects each change to be rejected.
func checkRejections(t *testing.T, v vector, m *Message, payload string, verify func(*Message) error) {
	t.Helper()
	if err := verify(m); err != nil {
		t.Fatalf("signed request rejected: %v", err)
	}
	clone := func() *Message {
		c := *m
		c.Query = url.Values{}
		for k, vs := range m.Query {
			c.Query[k] = append([]string(nil), vs...)
		}
		h := make(http.Header)
		for k, vs := range m.Header.(http.Header) {
			h[k] = append([]string(nil), vs...)
		}
		c.Header = h
		return &c
	}
	expectFail := func(what string, c *Message) {
		t.Helper()
		if err := verify(c); err == nil {
			t.Errorf("accepted after changing %s", what)
		}
	}
	// Method.
	c := clone()
	c.Method = strings.ToLower(c.Method)
	expectFail("method", c)
	// Every byte of the path (unless the change is invisible after normalization).
	for i := range m.Path {
		c := clone()
		c.Path = mutateByte(m.Path, i)
		if v.ctx.Normalize && normalizePath(c.Path) == normalizePath(m.Path) {
			continue
		}
		expectFail("path byte", c)
	}
	// Query: an added parameter, and every byte of every non-signature value.
	c = clone()
	c.Query.Add("extra", "1")
	expectFail("query (added parameter)", c)
	for k, vs := range m.Query {
		if k == QuerySignature {
			continue
		}
		for i := range vs[0] {
			c := clone()
			c.Query[k][0] = mutateByte(vs[0], i)
			expectFail("query "+k, c)
		}
	}
	// Host and every signed header value (first non-space byte).
	c = clone()
	c.Host = mutateByte(m.Host, 0)
	expectFail("host", c)
	for k, vs := range m.Header.(http.Header) {
		lk := strings.ToLower(k)
		if lk == "authorization" || !strings.Contains(";"+signedList(t, m)+";", ";"+lk+";") {
			continue
		}
		c := clone()
		val := c.Header.(http.Header)[k][0]
		j := len(val) - len(strings.TrimLeft(val, " "))
		c.Header.(http.Header)[k][0] = mutateByte(val, j)
		_ = vs
		expectFail("header "+k, c)
	}
	// Date: one second later (same scope day).
	c = clone()
	if d := c.Header.(http.Header).Get("X-Amz-Date"); d != "" {
		c.Header.(http.Header).Set("X-Amz-Date", v.time.Add(time.Second).Format(TimeFormat))
	} else {
		c.Query.Set(QueryDate, v.time.Add(time.Second).Format(TimeFormat))
	}
	expectFail("date", c)
	// Every hex digit of the signature.
	if auth := m.Header.(http.Header).Get("Authorization"); auth != "" {
		i := strings.Index(auth, "Signature=") + len("Signature=")
		for j := i; j < len(auth); j++ {
			c := clone()
			c.Header.(http.Header).Set("Authorization", mutateHex(auth, j))
			expectFail("signature digit", c)
		}
	} else {
		sig := m.Query.Get(QuerySignature)
		for j := range sig {
			c := clone()
			c.Query.Set(QuerySignature, mutateHex(sig, j))
			expectFail("signature digit", c)
		}
	}
}

func signedList(t *testing.T, m *Message) string {
	if auth := m.Header.(http.Header).Get("Authorization"); auth != "" {
		a, err := ParseAuthorization(auth)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(a.SignedHeaders, ";")
	}
	return m.Query.Get(QuerySignedHeaders)
}

func TestVectorsVerifyHeader(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			r := parseRawRequest(t, v.file(t, "header-signed-request.txt"))
			m := r.serverMessage(t)
			payload := PayloadHash(r.body)
			ver := vectorVerifier(v)
			checkRejections(t, v, m, payload, func(m *Message) error {
				_, err := ver.VerifyHeader(m, payload, v.time)
				return err
			})
			// Rebuilding the canonical request from the server's view gives the vector's.
			a, _ := ParseAuthorization(m.Header.Values("authorization")[0])
			if got, want := m.CanonicalRequest(a.SignedHeaders, payload, v.ctx.Normalize), trimNL(v.file(t, "header-canonical-request.txt")); got != want {
				t.Errorf("server canonical request:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestVectorsVerifyQuery(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			r := parseRawRequest(t, v.file(t, "query-signed-request.txt"))
			m := r.serverMessage(t)
			if v.ctx.OmitSessionToken {
				// The token was appended after signing; a verifier of that
				// variant removes it before checking.
				m.Query.Del(QuerySecurityToken)
			}
			payload := PayloadHash(r.body)
			ver := vectorVerifier(v)
			checkRejections(t, v, m, payload, func(m *Message) error {
				_, err := ver.VerifyQuery(m, payload, v.time.Add(time.Minute))
				return err
			})
			if _, err := ver.VerifyQuery(m, payload, v.time.Add(time.Duration(v.ctx.Expiration+1)*time.Second)); !errors.Is(err, ErrExpired) {
				t.Errorf("after expiry: %v, want ErrExpired", err)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	v := loadVectors(t)[0]
	r := parseRawRequest(t, v.file(t, "header-signed-request.txt"))
	payload := PayloadHash(r.body)
	ver := vectorVerifier(v)
	cases := []struct {
		name string
		edit func(m *Message, ver *Verifier) time.Time
		want error
	}{
		{"unsigned", func(m *Message, _ *Verifier) time.Time { m.Header.(http.Header).Del("Authorization"); return v.time }, ErrMissingAuth},
		{"skew", func(m *Message, _ *Verifier) time.Time { return v.time.Add(16 * time.Minute) }, ErrExpired},
		{"region", func(m *Message, ver *Verifier) time.Time { ver.Region = "eu-west-1"; return v.time }, ErrScopeMismatch},
		{"service", func(m *Message, ver *Verifier) time.Time { ver.Service = "s3"; return v.time }, ErrScopeMismatch},
		{"unknown key", func(m *Message, ver *Verifier) time.Time {
			ver.Lookup = func(string) (string, bool) { return "", false }
			return v.time
		}, ErrUnknownAccessKey},
		{"wrong secret", func(m *Message, ver *Verifier) time.Time {
			ver.Lookup = func(string) (string, bool) { return "other", true }
			return v.time
		}, ErrSignatureMismatch},
		{"algorithm", func(m *Message, _ *Verifier) time.Time {
			h := m.Header.(http.Header)
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), "HMAC-SHA256", "HMAC-SHA512", 1))
			return v.time
		}, ErrUnsupportedAlgorithm},
		{"date unsigned", func(m *Message, _ *Verifier) time.Time {
			h := m.Header.(http.Header)
			h.Set("Authorization", strings.Replace(h.Get("Authorization"), ";x-amz-date", "", 1))
			return v.time
		}, ErrMalformed},
		{"two dates", func(m *Message, _ *Verifier) time.Time {
			m.Header.(http.Header).Add("X-Amz-Date", v.time.Format(TimeFormat))
			return v.time
		}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := r.serverMessage(t)
			vv := *ver
			now := c.edit(m, &vv)
			if _, err := vv.Verify(m, payload, now); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestCredentialsRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "AKID", SecretAccessKey: "very-secret-value", SessionToken: "token-value"}
	var b bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		b.Reset()
		b.WriteString(strings.TrimSpace(sprintf(f, c)))
		if strings.Contains(b.String(), "very-secret") || strings.Contains(b.String(), "token-value") {
			t.Errorf("%s leaks: %s", f, b.String())
		}
	}
}
