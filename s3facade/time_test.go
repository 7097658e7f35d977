package s3facade

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// presignRaw builds a presigned GET with any X-Amz-Expires and date,
// signed with the sigv4 primitives (sigv4.Presign refuses out-of-range
// expiries, which is what the server must refuse too).
func (ts *testServer) presignRaw(t *testing.T, method, path, expires string, when time.Time) *http.Request {
	t.Helper()
	scope := sigv4.NewScope(when, testRegion, "s3")
	q := url.Values{
		"X-Amz-Algorithm":     {sigv4.Algorithm},
		"X-Amz-Credential":    {testAccess + "/" + scope.String()},
		"X-Amz-Date":          {when.UTC().Format(sigv4.TimeFormat)},
		"X-Amz-Expires":       {expires},
		"X-Amz-SignedHeaders": {"host"},
	}
	host := ts.addr
	m := &sigv4.Message{Method: method, Path: path, Query: q, Host: host, Header: http.Header{}}
	sig := sigv4.Signature(sigv4.DeriveKey(testSecret, scope), sigv4.StringToSign(when, scope, m.CanonicalRequest([]string{"host"}, "UNSIGNED-PAYLOAD", false)))
	q.Set("X-Amz-Signature", sig)
	req, err := http.NewRequest(method, ts.url+path+"?"+sigv4.CanonicalQuery(q), nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func (ts *testServer) do(t *testing.T, req *http.Request) (int, string, string) {
	t.Helper()
	resp, err := ts.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = io.Copy(b, resp.Body)
	body := b.String()
	code, msg := "", ""
	if i := strings.Index(body, "<Code>"); i >= 0 {
		code = body[i+6 : i+strings.Index(body[i:], "</Code>")]
	}
	if i := strings.Index(body, "<Message>"); i >= 0 {
		msg = body[i+9 : i+strings.Index(body[i:], "</Message>")]
	}
	return resp.StatusCode, code, msg
}

// TestTimeRules is reliability-security test 15.
func TestTimeRules(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if err := ts.e.CreateBucket(ctx, "times"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.e.PutObject(ctx, "times", "k", strings.NewReader("data"), nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	skew := 15 * time.Minute

	t.Run("header skew", func(t *testing.T) {
		for _, c := range []struct {
			d    time.Duration
			code string
		}{
			{-skew + time.Second, ""}, {skew - time.Second, ""},
			{-skew - time.Second, "RequestTimeTooSkewed"}, {skew + 2*time.Second, "RequestTimeTooSkewed"},
		} {
			s := ts.build(t, rawReq{method: "GET", path: "/times/k", kind: authHeaderHashed, when: time.Now().Add(c.d)})
			st, code := ts.send(t, s)
			if code != c.code || (c.code == "" && st != 200) || (c.code != "" && st != 403) {
				t.Errorf("x-amz-date %+v: got %d %s, want %q", c.d, st, code, c.code)
			}
		}
	})
	t.Run("presign expiry", func(t *testing.T) {
		for _, c := range []struct {
			expires string
			when    time.Time
			status  int
			code    string
			msg     string
		}{
			{"0", now, 400, "AuthorizationQueryParametersError", ""},
			{"-1", now, 400, "AuthorizationQueryParametersError", "non-negative"},
			{"604800", now, 200, "", ""},
			{"604801", now, 400, "AuthorizationQueryParametersError", "less than a week"},
			{"x", now, 400, "AuthorizationQueryParametersError", ""},
			// A long window is not cut to the 15-minute skew.
			{"604800", now.Add(-6 * 24 * time.Hour), 200, "", ""},
			{"3600", now.Add(-2 * time.Hour), 403, "AccessDenied", "Request has expired"},
			{"3600", now.Add(20 * time.Minute), 403, "AccessDenied", "not valid yet"},
		} {
			st, code, msg := ts.do(t, ts.presignRaw(t, "GET", "/times/k", c.expires, c.when))
			if st != c.status || code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("X-Amz-Expires=%s date %v: got %d %s %q, want %d %s %q", c.expires, c.when.Sub(now).Round(time.Minute), st, code, msg, c.status, c.code, c.msg)
			}
		}
	})
	t.Run("scope date differs from request date", func(t *testing.T) {
		s := ts.build(t, rawReq{method: "GET", path: "/times/k", kind: authHeaderHashed})
		rewriteCredential(s, authHeaderHashed, func(p []string) { p[1] = now.Add(-48 * time.Hour).UTC().Format(sigv4.DateFormat) })
		if st, code := ts.send(t, s); st != 400 || code != "AuthorizationHeaderMalformed" {
			t.Errorf("got %d %s", st, code)
		}
	})
	t.Run("replay", func(t *testing.T) {
		// Inside the window a captured request can be replayed (documented
		// in doc.go); once it leaves the window it is refused.
		s := ts.build(t, rawReq{method: "DELETE", path: "/times/k", kind: authHeaderHashed})
		for i := 0; i < 2; i++ {
			if st, code := ts.send(t, s); st != 204 {
				t.Fatalf("replay %d inside the window: %d %s", i, st, code)
			}
		}
		old := ts.build(t, rawReq{method: "DELETE", path: "/times/k", kind: authHeaderHashed, when: time.Now().Add(-skew - time.Minute)})
		if st, code := ts.send(t, old); st != 403 || code != "RequestTimeTooSkewed" {
			t.Errorf("replay outside the window: %d %s", st, code)
		}
	})
}
