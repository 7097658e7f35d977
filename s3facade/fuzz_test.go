package s3facade

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// fuzzServer is a Server without an engine: enough for authentication.
func fuzzServer() *Server {
	cfg := Config{Users: []User{{AccessKey: testAccess, SecretKey: testSecret}}}.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, users: map[string]*User{testAccess: &cfg.Users[0]}, metrics: newMetrics()}
	s.verifier = sigv4.Verifier{Region: cfg.Region, Service: "s3", MaxSkew: maxSkew, Lookup: s.lookup}
	return s
}

func fuzzAuth(s *Server, uri string, headers [][2]string, body []byte) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("PUT")
	ctx.Request.Header.SetRequestURI(uri)
	ctx.Request.Header.SetHost("127.0.0.1:9000")
	for _, h := range headers {
		ctx.Request.Header.Set(h[0], h[1])
	}
	ctx.Request.SetBody(body)
	t, err := parseTarget(uri, "127.0.0.1:9000", nil)
	if err != nil {
		return
	}
	r := &request{s: s, ctx: &ctx, t: t, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	defer r.release()
	if err := s.authenticate(r); err != nil {
		if a := classify(err); a.status < 400 || a.status >= 500 && a.code != CodeNotImplemented {
			panic("authentication error maps to " + string(a.code))
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.body, 1<<20))
}

func FuzzSigV4Header(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDCOFFERTEST/20260102/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "20260102T030405Z", "UNSIGNED-PAYLOAD")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=", "x", streamingSignedTrailer)
	f.Add("AWS AKID:sig", "", "")
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, authz, date, sha string) {
		fuzzAuth(s, "/bucket/key", [][2]string{{"Authorization", authz}, {"X-Amz-Date", date}, {"X-Amz-Content-Sha256", sha}}, []byte("body"))
	})
}

func FuzzPresignQuery(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDCOFFERTEST%2F20260102%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	f.Add("X-Amz-Expires=-1&X-Amz-Signature=x")
	f.Add("X-Amz-Credential=%zz")
	s := fuzzServer()
	f.Fuzz(func(t *testing.T, query string) {
		fuzzAuth(s, "/bucket/key?"+query, nil, nil)
	})
}

// FuzzAwsChunkedDecoder feeds arbitrary bodies to the decoder in all three
// modes: it must not panic, must never return more bytes than the body
// holds, and must fail or end within the body.
func FuzzAwsChunkedDecoder(f *testing.F) {
	body := randBytes(1, 3000)
	key := sigv4.DeriveKey(testSecret, sigv4.Scope{Date: "20260102", Region: "us-east-1", Service: "s3"})
	seed := strings.Repeat("a", 64)
	for _, signed := range []bool{false, true} {
		for _, trailer := range []bool{false, true} {
			fr := encodeChunks(body, 1000, signed, trailer, key[:], seed, "20260102T030405Z", "20260102/us-east-1/s3/aws4_request")
			f.Add(bytes.Join(fr, nil), signed, trailer)
		}
	}
	f.Add([]byte("0\r\n\r\n"), false, false)
	f.Add([]byte("ffffffffffffffff\r\n"), false, true)
	f.Add([]byte("3;chunk-signature=\nabc"), true, false)
	f.Fuzz(func(t *testing.T, in []byte, signed, trailer bool) {
		var sig *chunkSigner
		if signed {
			sig = newChunkSigner(key, "20260102T030405Z", "20260102/us-east-1/s3/aws4_request", seed)
		}
		var tr []string
		if trailer {
			tr = []string{"x-amz-checksum-crc32"}
		}
		c := newChunkedReader(bytes.NewReader(in), sig, tr, -1)
		defer c.release()
		n, err := io.Copy(io.Discard, c)
		if n > int64(len(in)) {
			t.Fatalf("decoded %d bytes from %d", n, len(in))
		}
		if err != nil {
			if a := classify(err); a.status != 400 && a.status != 403 {
				t.Fatalf("decoder error maps to %d %s", a.status, a.code)
			}
		}
	})
}

func FuzzRangeHeader(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=99999999999999999999-", "bytes= 1-2", "bytes=-0"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			size = -size
		}
		r := parseRange(h)
		if r == nil {
			return
		}
		off, n, err := r.Resolve(size)
		if err == nil && (off < 0 || n < 0 || off+n > size) {
			t.Fatalf("%q on %d: off %d n %d", h, size, off, n)
		}
	})
}

func FuzzS3XML(f *testing.F) {
	f.Add([]byte(`<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>null</VersionId></Object></Delete>`))
	f.Add([]byte(`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><Delete/>`))
	f.Add([]byte(strings.Repeat("<a>", 50)))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d deleteRequest
		if err := decodeXML(in, &d); err != nil {
			if classify(err).code != CodeMalformedXML {
				t.Fatalf("XML error maps to %s", classify(err).code)
			}
		}
		var c createBucketConfiguration
		_ = decodeXML(in, &c)
	})
}

func FuzzObjectKeyAndPath(f *testing.F) {
	for _, s := range []string{"/b/k", "/b/%2e%2e/x", "http://h/b/k?x=1", "/b/k%", "/b/%00", "/?delete", "/b/a+b%20c", "//b"} {
		f.Add(s, "b.s3.example.com")
	}
	f.Fuzz(func(t *testing.T, uri, host string) {
		tg, err := parseTarget(uri, host, []string{"s3.example.com"})
		if err != nil {
			return
		}
		if !strings.HasPrefix(tg.path, "/") || strings.IndexByte(tg.path, 0) >= 0 {
			t.Fatalf("%q: path %q", uri, tg.path)
		}
		if !tg.vhost && tg.bucket != "" && !strings.HasPrefix(tg.path, "/"+tg.bucket) {
			t.Fatalf("%q: bucket %q not at the start of %q", uri, tg.bucket, tg.path)
		}
	})
}

func FuzzCopySource(f *testing.F) {
	for _, s := range []string{"/b/k", "b/k?versionId=null", "b%2Fk", "/b/", "b/k?versionId=x", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		b, k, err := parseCopySource(v)
		if err == nil && (b == "" || k == "") {
			t.Fatalf("%q: empty bucket or key", v)
		}
	})
}
