package s3facade

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cofferdb/coffer/engine"
)

// TestHostileKeysRoundTrip is reliability-security test 17 for keys.
func TestHostileKeysRoundTrip(t *testing.T) {
	ts := startServer(t)
	c := ts.awsClient()
	ctx := context.Background()
	newBucket(t, c, "keys")
	keys := []string{strings.Repeat("k", 1024), "..", ".", "a/../b", "a//b", `back\slash`, "/leading", "%2e%2e", "sp ace+plus",
		"tab\tchar", "ctl\x01x", "ü/日本/🙂", "?query#frag", "trailing/"}
	for _, k := range keys {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		got, _ := mustGet(t, c, "keys", k)
		if string(got) != k {
			t.Fatalf("get %q: %q", k, got)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("keys"), EncodingType: "url"})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range out.Contents {
		k, err := url.QueryUnescape(aws.ToString(o.Key))
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, k)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("listed %q\nwant %q", listed, want)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
	if apiCode(err) != "KeyTooLongError" {
		t.Fatalf("1025-byte key: %v", err)
	}
	// No file named after a key exists on any drive.
	for _, d := range ts.dirs {
		found := false
		_ = walk(d, func(name string) {
			if strings.Contains(name, "sp ace") || strings.Contains(name, "back") {
				found = true
			}
		})
		if found {
			t.Fatal("a key was used as a file name")
		}
	}
	// Invalid UTF-8 and NUL through raw requests.
	for _, p := range []string{"/keys/bad\xff", "/keys/nul%00"} {
		s := ts.build(t, rawReq{method: "PUT", path: "/keys/x", body: []byte("x"), kind: authHeaderHashed})
		s.req.URL.Opaque = strings.ReplaceAll(p, "\xff", "%FF")
		if st, _ := ts.send(t, s); st != 400 && st != 403 {
			t.Fatalf("%q: %d", p, st)
		}
	}
}

func TestHostileXMLAndLimits(t *testing.T) {
	ts := startServer(t)
	ctx := context.Background()
	if err := ts.e.CreateBucket(ctx, "xml"); err != nil {
		t.Fatal(err)
	}
	post := func(body []byte) (int, string) {
		s := ts.build(t, rawReq{method: "POST", path: "/xml", query: url.Values{"delete": {""}}, body: body, kind: authHeaderHashed})
		return ts.send(t, s)
	}
	deep := strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000)
	for name, c := range map[string]struct {
		body []byte
		code string
	}{
		"nested 100k deep": {[]byte("<Delete>" + deep + "</Delete>"), "MalformedXML"},
		"billion laughs": {[]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>` +
			`<Delete><Object><Key>&lol2;</Key></Object></Delete>`), "MalformedXML"},
		"not xml":      {[]byte("hello"), "MalformedXML"},
		"two roots":    {[]byte("<Delete><Object><Key>k</Key></Object></Delete><Delete/>"), "MalformedXML"},
		"empty delete": {[]byte("<Delete></Delete>"), "MalformedXML"},
		"truncated":    {[]byte("<Delete><Object><Key>k</Key>"), "MalformedXML"},
	} {
		if st, code := post(c.body); st != 400 || code != c.code {
			t.Errorf("%s: %d %s, want 400 %s", name, st, code, c.code)
		}
	}
	// A body over the XML cap is refused, possibly before it is all sent.
	big := ts.build(t, rawReq{method: "POST", path: "/xml", query: url.Values{"delete": {""}},
		body: []byte("<Delete>" + strings.Repeat("<Object><Key>k</Key></Object>", 40000) + "</Delete>"), kind: authHeaderHashed})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	big.req.Body = io.NopCloser(bytes.NewReader(big.body))
	go func() { _ = big.req.Write(c) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	c.Close()
	if resp.StatusCode != 400 || !bytes.Contains(b, []byte("MaxMessageLengthExceeded")) {
		t.Errorf("over the XML cap: %d %s", resp.StatusCode, b)
	}
	// User metadata over 2 KiB.
	h := http.Header{}
	h.Set("X-Amz-Meta-Big", strings.Repeat("m", 2100))
	s := ts.build(t, rawReq{method: "PUT", path: "/xml/meta", header: h, body: []byte("x"), kind: authHeaderHashed})
	if st, code := ts.send(t, s); st != 400 || code != "MetadataTooLarge" {
		t.Errorf("metadata over 2 KiB: %d %s", st, code)
	}
	// Headers beyond the read buffer.
	line := rawConn(t, ts.addr, "GET /xml HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("h", 40<<10)+"\r\n\r\n")
	if !strings.Contains(line, "431") {
		t.Errorf("oversized headers: %q", line)
	}
	// Request smuggling shapes are refused.
	for _, req := range []string{
		"PUT /xml/s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"PUT /xml/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"PUT /xml/s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	} {
		if line := rawConn(t, ts.addr, req); !strings.Contains(line, " 400") && !strings.Contains(line, " 501") {
			t.Errorf("%q: %q", strings.SplitN(req, "\r\n\r\n", 2)[0], line)
		}
	}
}

// TestExpectContinueRejectsBeforeBody: a bad-auth upload declaring 5 GiB
// gets its 403 without the server waiting for (or reading) the body.
func TestExpectContinueRejectsBeforeBody(t *testing.T) {
	ts := startServer(t)
	if err := ts.e.CreateBucket(context.Background(), "exp"); err != nil {
		t.Fatal(err)
	}
	// expectRefused sends the headers of s, declaring 5 GiB and Expect:
	// 100-continue (with the signature damaged if tamper), and returns
	// the first response: it must come without any body sent.
	expectRefused := func(s *signed, tamper bool) (int, []byte) {
		t.Helper()
		a := s.req.Header.Get("Authorization")
		var hb strings.Builder
		fmt.Fprintf(&hb, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n", s.req.URL.Path, ts.addr, int64(5)<<30)
		for k, v := range s.req.Header {
			if k == "Authorization" && tamper {
				v = []string{flip(a, len(a)-3)}
			}
			fmt.Fprintf(&hb, "%s: %s\r\n", k, v[0])
		}
		hb.WriteString("\r\n")
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, hb.String())
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	s := ts.build(t, rawReq{method: "PUT", path: "/exp/big", kind: authHeaderUnsigned})
	if st, body := expectRefused(s, true); st != 403 || !bytes.Contains(body, []byte("SignatureDoesNotMatch")) {
		t.Fatalf("got %d %s", st, body)
	}
	// A well-signed upload asking for what Coffer refuses (a public ACL,
	// object lock) is refused before its body too.
	for h, code := range map[string]string{"X-Amz-Acl": "AccessControlListNotSupported", "X-Amz-Object-Lock-Mode": "NotImplemented"} {
		v := "public-read"
		if h == "X-Amz-Object-Lock-Mode" {
			v = "GOVERNANCE"
		}
		s := ts.build(t, rawReq{method: "PUT", path: "/exp/refused", header: http.Header{h: {v}}, kind: authHeaderUnsigned})
		if st, body := expectRefused(s, false); st == 100 || !bytes.Contains(body, []byte(code)) {
			t.Fatalf("%s: got %d %s, want %s before the body", h, st, body, code)
		}
	}
	if _, err := ts.e.HeadObject(context.Background(), "exp", "refused", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("a refused upload was stored: %v", err)
	}
	// A good Expect upload goes through.
	good := ts.build(t, rawReq{method: "PUT", path: "/exp/ok", body: []byte("hello"), kind: authHeaderHashed})
	good.req.Header.Set("Expect", "100-continue")
	if st, code := ts.send(t, good); st != 200 {
		t.Fatalf("good Expect upload: %d %s", st, code)
	}
}

// TestSlowClients is reliability-security test 18 (small scale): header
// tricklers are cut by the read timeout, a stalled body by the body idle
// timeout (nothing is written), and a client that never reads a response
// by the write idle timeout.
func TestSlowClients(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *engine.Options) {
		c.ReadTimeout, c.BodyIdleTimeout, c.WriteIdleTimeout, c.IdleTimeout = time.Second, time.Second, time.Second, time.Second
	})
	ctx := context.Background()
	if err := ts.e.CreateBucket(ctx, "slow"); err != nil {
		t.Fatal(err)
	}
	// 50 header tricklers.
	var conns []net.Conn
	for i := 0; i < 50; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHo")
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		_, err := io.ReadAll(c) // returns when the server closes
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("a header trickler was not disconnected by the read timeout")
		}
		c.Close()
	}
	// A body that stalls after its first bytes.
	s := ts.build(t, rawReq{method: "PUT", path: "/slow/stall", body: bytes.Repeat([]byte("x"), 1<<20), kind: authHeaderUnsigned})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hb strings.Builder
	fmt.Fprintf(&hb, "PUT /slow/stall HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", ts.addr, 1<<20)
	for k, v := range s.req.Header {
		fmt.Fprintf(&hb, "%s: %s\r\n", k, v[0])
	}
	hb.WriteString("\r\n")
	io.WriteString(c, hb.String())
	c.Write(bytes.Repeat([]byte("x"), 200<<10)) // past the prefetch, then nothing
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	rest, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a stalled body was not cut")
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("stalled body cut after %v", time.Since(start))
	}
	if len(rest) > 0 && !bytes.Contains(rest, []byte("RequestTimeout")) && !bytes.Contains(rest, []byte(" 408 ")) {
		t.Logf("stalled upload answer: %.200s", rest)
	}
	if _, err := ts.e.HeadObject(ctx, "slow", "stall", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("a stalled upload was stored: %v", err)
	}
	// A truncated body (the client closes its side early) writes nothing.
	c2, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c2, strings.Replace(hb.String(), "/slow/stall", "/slow/trunc", 1))
	c2.Write(bytes.Repeat([]byte("x"), 300<<10))
	c2.(*net.TCPConn).CloseWrite()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.ReadAll(c2)
	c2.Close()
	if _, err := ts.e.HeadObject(ctx, "slow", "trunc", nil); !errors.Is(err, engine.ErrObjectNotFound) {
		t.Fatalf("a truncated upload was stored: %v", err)
	}
	// The server still serves.
	if st, _ := ts.send(t, ts.build(t, rawReq{method: "GET", path: "/slow", kind: authHeaderHashed})); st != 200 {
		t.Fatalf("after slow clients: %d", st)
	}
}

func walk(dir string, f func(name string)) error {
	return filepathWalk(dir, f)
}
