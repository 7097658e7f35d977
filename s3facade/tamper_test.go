package s3facade

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/internal/sigv4"
)

// bodyRoute is a route that reads a request body, with a request that
// succeeds when signed properly and a check that it wrote nothing.
type bodyRoute struct {
	name    string
	make    func(n int) rawReq
	written func(ts *testServer, n int) bool
}

func bodyRoutes() []bodyRoute {
	meta := func() http.Header {
		h := http.Header{}
		h.Set("X-Amz-Meta-Color", "blue")
		return h
	}
	return []bodyRoute{
		{
			name: "PutObject",
			make: func(n int) rawReq {
				return rawReq{method: "PUT", path: fmt.Sprintf("/tamper/obj-%d", n), header: meta(), body: randBytes(uint64(n), 20<<10)}
			},
			written: func(ts *testServer, n int) bool {
				_, err := ts.e.HeadObject(context.Background(), "tamper", fmt.Sprintf("obj-%d", n), nil)
				return !errors.Is(err, engine.ErrObjectNotFound)
			},
		},
		{
			name: "DeleteObjects",
			make: func(n int) rawReq {
				body := []byte(`<Delete><Object><Key>victim</Key></Object></Delete>`)
				return rawReq{method: "POST", path: "/tamper", query: url.Values{"delete": {""}}, header: meta(), body: body}
			},
			written: func(ts *testServer, n int) bool {
				_, err := ts.e.HeadObject(context.Background(), "tamper", "victim", nil)
				if err != nil {
					// Put it back for the next case.
					_, _ = ts.e.PutObject(context.Background(), "tamper", "victim", strings.NewReader("v"), nil)
					return true
				}
				return false
			},
		},
		{
			name: "CreateBucket",
			make: func(n int) rawReq {
				body := []byte(`<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`)
				return rawReq{method: "PUT", path: fmt.Sprintf("/created-%d", n), header: meta(), body: body}
			},
			written: func(ts *testServer, n int) bool {
				_, err := ts.e.HeadBucket(context.Background(), fmt.Sprintf("created-%d", n))
				return !errors.Is(err, engine.ErrBucketNotFound)
			},
		},
	}
}

// mutation changes one thing of a signed request. It reports false when it
// does not apply to the auth kind.
type mutation struct {
	name  string
	apply func(s *signed, k authKind) bool
}

func isHeaderAuth(k authKind) bool { return k != authPresigned && k != authAnonymous }
func isStreaming(k authKind) bool {
	return k == authStreaming || k == authStreamingTrailer || k == authUnsignedTrailer
}

func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'a' {
		b[i] = 'b'
	} else {
		b[i] = 'a'
	}
	return string(b)
}

func rewriteCredential(s *signed, k authKind, f func(parts []string)) bool {
	if k == authAnonymous {
		return false
	}
	if k == authPresigned {
		q := s.req.URL.Query()
		parts := strings.Split(q.Get("X-Amz-Credential"), "/")
		f(parts)
		q.Set("X-Amz-Credential", strings.Join(parts, "/"))
		s.req.URL.RawQuery = sigv4.CanonicalQuery(q)
		return true
	}
	a := s.req.Header.Get("Authorization")
	i := strings.Index(a, "Credential=") + len("Credential=")
	j := strings.Index(a[i:], ",")
	parts := strings.Split(a[i:i+j], "/")
	f(parts)
	s.req.Header.Set("Authorization", a[:i]+strings.Join(parts, "/")+a[i+j:])
	return true
}

var mutations = []mutation{
	{"signature byte", func(s *signed, k authKind) bool {
		switch k {
		case authAnonymous:
			return false
		case authPresigned:
			q := s.req.URL.Query()
			q.Set("X-Amz-Signature", flip(q.Get("X-Amz-Signature"), 10))
			s.req.URL.RawQuery = sigv4.CanonicalQuery(q)
		default:
			a := s.req.Header.Get("Authorization")
			s.req.Header.Set("Authorization", flip(a, len(a)-3))
		}
		return true
	}},
	{"signed header value", func(s *signed, k authKind) bool {
		s.req.Header.Set("X-Amz-Meta-Color", "red")
		return k != authAnonymous
	}},
	{"extra unsigned x-amz header", func(s *signed, k authKind) bool {
		s.req.Header.Set("X-Amz-Meta-Injected", "1")
		return k != authAnonymous
	}},
	{"method", func(s *signed, k authKind) bool {
		if s.req.Method == "PUT" {
			s.req.Method = "POST"
		} else {
			s.req.Method = "PUT"
		}
		return k != authAnonymous
	}},
	{"path", func(s *signed, k authKind) bool {
		s.req.URL.Path += "x"
		s.req.URL.RawPath = ""
		return k != authAnonymous
	}},
	{"query", func(s *signed, k authKind) bool {
		if s.req.URL.RawQuery != "" {
			s.req.URL.RawQuery += "&"
		}
		s.req.URL.RawQuery += "prefix=x"
		return k != authAnonymous
	}},
	{"x-amz-date", func(s *signed, k authKind) bool {
		shift := func(v string) string {
			t, _ := time.Parse(sigv4.TimeFormat, v)
			return t.Add(time.Second).Format(sigv4.TimeFormat)
		}
		switch k {
		case authAnonymous:
			return false
		case authPresigned:
			q := s.req.URL.Query()
			q.Set("X-Amz-Date", shift(q.Get("X-Amz-Date")))
			s.req.URL.RawQuery = sigv4.CanonicalQuery(q)
		default:
			s.req.Header.Set("X-Amz-Date", shift(s.req.Header.Get("X-Amz-Date")))
		}
		return true
	}},
	{"scope date", func(s *signed, k authKind) bool {
		return rewriteCredential(s, k, func(p []string) { p[1] = "20200101" })
	}},
	{"scope region", func(s *signed, k authKind) bool {
		return rewriteCredential(s, k, func(p []string) { p[2] = "eu-west-1" })
	}},
	{"scope service", func(s *signed, k authKind) bool {
		return rewriteCredential(s, k, func(p []string) { p[3] = "iam" })
	}},
	{"access key", func(s *signed, k authKind) bool {
		return rewriteCredential(s, k, func(p []string) { p[0] = "AKIDUNKNOWN" })
	}},
	{"body vs x-amz-content-sha256", func(s *signed, k authKind) bool {
		if k != authHeaderHashed || len(s.body) == 0 {
			return false
		}
		s.body = append([]byte(nil), s.body...)
		s.body[len(s.body)/2] ^= 1
		return true
	}},
	{"body byte inside a signed chunk", func(s *signed, k authKind) bool {
		if k != authStreaming && k != authStreamingTrailer {
			return false
		}
		s.body = append([]byte(nil), s.body...)
		i := bytes.Index(s.body, []byte("\r\n")) + 2 + 5
		s.body[i] ^= 1
		return true
	}},
	{"chunk signature", func(s *signed, k authKind) bool {
		if k != authStreaming && k != authStreamingTrailer {
			return false
		}
		s.body = append([]byte(nil), s.body...)
		i := bytes.Index(s.body, []byte("chunk-signature=")) + len("chunk-signature=") + 3
		s.body[i] = flip(string(s.body[i:i+1]), 0)[0]
		return true
	}},
	{"chunks reordered", func(s *signed, k authKind) bool {
		if !isStreaming(k) || len(s.chunks) < 4 {
			return false
		}
		fr := append([][]byte(nil), s.chunks...)
		fr[0], fr[1] = fr[1], fr[0]
		s.body = bytes.Join(fr, nil)
		return true
	}},
	{"chunk dropped", func(s *signed, k authKind) bool {
		if !isStreaming(k) || len(s.chunks) < 4 {
			return false
		}
		fr := append(append([][]byte(nil), s.chunks[:1]...), s.chunks[2:]...)
		s.body = bytes.Join(fr, nil)
		return true
	}},
	{"body truncated", func(s *signed, k authKind) bool {
		if !isStreaming(k) && k != authHeaderHashed {
			return false
		}
		s.body = s.body[:len(s.body)*2/3]
		return true
	}},
	{"x-amz-decoded-content-length", func(s *signed, k authKind) bool {
		if !isStreaming(k) {
			return false
		}
		s.req.Header.Set("X-Amz-Decoded-Content-Length", "100")
		return true
	}},
	{"trailer checksum", func(s *signed, k authKind) bool {
		if k != authStreamingTrailer && k != authUnsignedTrailer {
			return false
		}
		s.body = append([]byte(nil), s.body...)
		i := bytes.Index(s.body, []byte("x-amz-checksum-crc32:")) + len("x-amz-checksum-crc32:") + 1
		s.body[i] = flip(string(s.body[i:i+1]), 0)[0]
		return true
	}},
	{"credentials moved to the query", func(s *signed, k authKind) bool {
		if !isHeaderAuth(k) {
			return false
		}
		a, _ := sigv4.ParseAuthorization(s.req.Header.Get("Authorization"))
		q := s.req.URL.Query()
		q.Set("X-Amz-Algorithm", sigv4.Algorithm)
		q.Set("X-Amz-Credential", a.Credential.String())
		q.Set("X-Amz-Date", s.req.Header.Get("X-Amz-Date"))
		q.Set("X-Amz-Expires", "900")
		q.Set("X-Amz-SignedHeaders", strings.Join(a.SignedHeaders, ";"))
		q.Set("X-Amz-Signature", a.Signature)
		s.req.URL.RawQuery = sigv4.CanonicalQuery(q)
		s.req.Header.Del("Authorization")
		return true
	}},
	{"credentials in header and query", func(s *signed, k authKind) bool {
		if !isHeaderAuth(k) {
			return false
		}
		a, _ := sigv4.ParseAuthorization(s.req.Header.Get("Authorization"))
		q := s.req.URL.Query()
		q.Set("X-Amz-Credential", a.Credential.String())
		s.req.URL.RawQuery = sigv4.CanonicalQuery(q)
		return true
	}},
}

// TestAuthTamperMatrix is reliability-security test 14: every body route ×
// every auth type × one mutation at a time must answer 400 or 403 and
// write nothing; the unmutated request must succeed (anonymous: 403).
func TestAuthTamperMatrix(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if err := ts.e.CreateBucket(ctx, "tamper"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.e.PutObject(ctx, "tamper", "victim", strings.NewReader("v"), nil); err != nil {
		t.Fatal(err)
	}
	n, applied := 0, 0
	seen := map[string]int{}
	defer func() { t.Logf("%d tampered requests; codes %v", applied, seen) }()
	for _, rt := range bodyRoutes() {
		for _, kind := range authKinds {
			// The untampered request.
			n++
			rr := rt.make(n)
			rr.kind = kind
			st, code := ts.send(t, ts.build(t, rr))
			if kind == authAnonymous {
				if st != 403 || code != "AccessDenied" || rt.written(ts, n) {
					t.Errorf("%s/%s: anonymous got %d %s", rt.name, kind, st, code)
				}
				continue
			}
			if st/100 != 2 {
				t.Errorf("%s/%s: untampered request got %d %s", rt.name, kind, st, code)
				continue
			}
			if !rt.written(ts, n) {
				t.Errorf("%s/%s: untampered request wrote nothing", rt.name, kind)
			}
			for _, m := range mutations {
				n++
				rr := rt.make(n)
				rr.kind = kind
				s := ts.build(t, rr)
				if !m.apply(s, kind) {
					continue
				}
				st, code := ts.send(t, s)
				applied++
				seen[code]++
				if st != 400 && st != 403 {
					t.Errorf("%s/%s/%s: got %d %s, want 400 or 403", rt.name, kind, m.name, st, code)
				}
				if rt.written(ts, n) {
					t.Errorf("%s/%s/%s: the tampered request wrote (status %d %s)", rt.name, kind, m.name, st, code)
				}
			}
		}
	}
}
