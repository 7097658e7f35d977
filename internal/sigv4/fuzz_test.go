package sigv4

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	f.Add("AWS4-HMAC-SHA256 Credential=a/20150830/r/s/aws4_request,SignedHeaders=host,Signature=")
	f.Add("AWS4-HMAC-SHA256 ")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		a, err := ParseAuthorization(v)
		if err != nil {
			return
		}
		// A parsed header re-serializes to one that parses to the same value.
		again := Algorithm + " Credential=" + a.Credential.String() + ", SignedHeaders=" +
			strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := ParseAuthorization(again)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", again, err)
		}
		if b.Credential != a.Credential || b.Signature != a.Signature || strings.Join(b.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
			t.Fatalf("round trip changed %+v to %+v", a, b)
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d")
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := ParsePresigned(q)
		if err != nil {
			return
		}
		if p.Expires <= 0 || p.Expires > maxExpiry || len(p.Signature) != 64 || len(p.SignedHeaders) == 0 {
			t.Fatalf("accepted out-of-range values: %+v", p)
		}
	})
}

// FuzzVerify feeds arbitrary requests to the verifier: it must never panic
// and never accept a request it did not see signed.
func FuzzVerify(f *testing.F) {
	f.Add("GET", "/a/b", "x=1", "example.com", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31", "20150830T123600Z")
	f.Fuzz(func(t *testing.T, method, path, rawQuery, host, auth, date string) {
		q, _ := url.ParseQuery(rawQuery)
		h := http.Header{}
		h.Set("Authorization", auth)
		h.Set("X-Amz-Date", date)
		m := &Message{Method: method, Path: path, Query: q, Host: host, Header: h}
		v := &Verifier{Region: "us-east-1", Service: "service", NormalizePath: true,
			Lookup: func(string) (string, bool) { return "secret", true }}
		now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
		if _, err := v.Verify(m, EmptyPayloadHash, now); err == nil {
			t.Fatalf("forged request accepted")
		}
	})
}

func FuzzCanonicalURI(f *testing.F) {
	for _, s := range []string{"/", "//a//", "/./b/../c/", "/a b/ሴ", "", "..", "/%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if normalizePath(n) != n {
			t.Fatalf("normalization not idempotent: %q -> %q -> %q", p, n, normalizePath(n))
		}
		if !strings.HasPrefix(n, "/") || strings.Contains(n, "//") {
			t.Fatalf("normalized %q to %q", p, n)
		}
		u := CanonicalURI(p, false)
		for i := 0; i < len(u); i++ {
			if c := u[i]; !unreserved(c) && c != '/' && c != '%' {
				t.Fatalf("unencoded byte %q in %q", c, u)
			}
		}
		// Decoding the canonical URI gives back the path.
		if d, err := url.PathUnescape(u); err != nil || (p != "" && d != p) {
			t.Fatalf("CanonicalURI(%q)=%q does not decode back (%q, %v)", p, u, d, err)
		}
	})
}
