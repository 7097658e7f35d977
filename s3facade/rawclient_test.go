package s3facade

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// authKind is how a raw test request is authenticated.
type authKind int

const (
	authHeaderHashed authKind = iota // hex SHA-256 of the body signed
	authHeaderUnsigned
	authPresigned
	authStreaming
	authStreamingTrailer
	authUnsignedTrailer
	authAnonymous
)

var authKinds = []authKind{authHeaderHashed, authHeaderUnsigned, authPresigned, authStreaming, authStreamingTrailer, authUnsignedTrailer, authAnonymous}

func (k authKind) String() string {
	return [...]string{"header-sha256", "UNSIGNED-PAYLOAD", "presigned", "STREAMING-PAYLOAD", "STREAMING-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-TRAILER", "anonymous"}[k]
}

// rawReq describes a request before signing.
type rawReq struct {
	method string
	path   string // decoded; encoded with sigv4.CanonicalURI
	query  url.Values
	header http.Header
	body   []byte
	when   time.Time
	kind   authKind
	chunk  int // aws-chunked chunk size
	akid   string
	secret string
	te     bool // send with Transfer-Encoding: chunked (length not signed)
}

// signed is a request ready to send, with the pieces the tamper matrix
// mutates.
type signed struct {
	req    *http.Request
	body   []byte   // the bytes sent (aws-chunked encoded for streaming)
	chunks [][]byte // streaming: the encoded chunk frames, then the tail
}

func (ts *testServer) build(t testing.TB, rr rawReq) *signed {
	t.Helper()
	if rr.when.IsZero() {
		rr.when = time.Now()
	}
	if rr.chunk == 0 {
		rr.chunk = 8 << 10
	}
	if rr.akid == "" {
		rr.akid, rr.secret = testAccess, testSecret
	}
	u := ts.url + sigv4.CanonicalURI(rr.path, false)
	if len(rr.query) > 0 {
		u += "?" + sigv4.CanonicalQuery(rr.query)
	}
	req, err := http.NewRequest(rr.method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range rr.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	creds := sigv4.Credentials{AccessKeyID: rr.akid, SecretAccessKey: rr.secret}
	opts := sigv4.Options{ContentSHA256Header: true}
	s := &signed{req: req, body: rr.body}
	setBody := func(b []byte) {
		s.body = b
		req.ContentLength = int64(len(b))
		if rr.te {
			req.ContentLength = 0
		}
	}
	switch rr.kind {
	case authAnonymous:
		setBody(rr.body)
	case authHeaderHashed:
		setBody(rr.body)
		if _, err := sigv4.Sign(req, sigv4.PayloadHash(rr.body), creds, testRegion, "s3", rr.when, opts); err != nil {
			t.Fatal(err)
		}
	case authHeaderUnsigned:
		setBody(rr.body)
		if _, err := sigv4.Sign(req, "UNSIGNED-PAYLOAD", creds, testRegion, "s3", rr.when, opts); err != nil {
			t.Fatal(err)
		}
	case authPresigned:
		setBody(rr.body)
		if _, err := sigv4.Presign(req, "UNSIGNED-PAYLOAD", creds, testRegion, "s3", rr.when, 15*time.Minute, sigv4.Options{}); err != nil {
			t.Fatal(err)
		}
	default:
		payload := map[authKind]string{authStreaming: streamingSigned, authStreamingTrailer: streamingSignedTrailer, authUnsignedTrailer: streamingUnsignedTrailr}[rr.kind]
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(rr.body)))
		trailer := rr.kind != authStreaming
		if trailer {
			req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		}
		// The encoded length is known before signing: frame sizes do not
		// depend on signature values.
		frames := encodeChunks(rr.body, rr.chunk, rr.kind != authUnsignedTrailer, trailer, nil, "", "", "")
		req.ContentLength = int64(len(bytes.Join(frames, nil)))
		if rr.te {
			req.ContentLength = 0
		}
		res, err := sigv4.Sign(req, payload, creds, testRegion, "s3", rr.when, opts)
		if err != nil {
			t.Fatal(err)
		}
		scope := sigv4.NewScope(rr.when, testRegion, "s3")
		key := sigv4.DeriveKey(rr.secret, scope)
		frames = encodeChunks(rr.body, rr.chunk, rr.kind != authUnsignedTrailer, trailer, key[:], res.Signature,
			rr.when.UTC().Format(sigv4.TimeFormat), scope.String())
		s.chunks = frames
		setBody(bytes.Join(frames, nil))
	}
	return s
}

// encodeChunks frames body as aws-chunked; with signed, each frame carries
// its chained signature; with trailer, a CRC32 trailer follows (signed
// when signed).
func encodeChunks(body []byte, size int, signedChunks, trailer bool, key []byte, seed, amzDate, scope string) [][]byte {
	prev := seed
	sign := func(sts string) string {
		if key == nil {
			return string(bytes.Repeat([]byte("0"), 64))
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(sts))
		return hex.EncodeToString(m.Sum(nil))
	}
	frame := func(data []byte) []byte {
		var f bytes.Buffer
		fmt.Fprintf(&f, "%x", len(data))
		if signedChunks {
			h := sha256.Sum256(data)
			sig := sign("AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + sigv4.EmptyPayloadHash + "\n" + hex.EncodeToString(h[:]))
			prev = sig
			f.WriteString(";chunk-signature=" + sig)
		}
		f.WriteString("\r\n")
		f.Write(data)
		if len(data) > 0 || !trailer {
			f.WriteString("\r\n")
		}
		return f.Bytes()
	}
	var frames [][]byte
	for off := 0; off < len(body); off += size {
		frames = append(frames, frame(body[off:min(off+size, len(body))]))
	}
	frames = append(frames, frame(nil))
	if trailer {
		crc := crc32.ChecksumIEEE(body)
		v := base64.StdEncoding.EncodeToString([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
		line := "x-amz-checksum-crc32:" + v + "\n"
		var f bytes.Buffer
		f.WriteString("x-amz-checksum-crc32:" + v + "\r\n")
		if signedChunks {
			h := sha256.Sum256([]byte(line))
			sig := sign("AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n" + prev + "\n" + hex.EncodeToString(h[:]))
			f.WriteString("x-amz-trailer-signature:" + sig + "\r\n")
		}
		f.WriteString("\r\n")
		frames = append(frames, f.Bytes())
	}
	return frames
}

// send sends s with body as its body (s.body unless mutated).
func (ts *testServer) send(t testing.TB, s *signed) (int, string) {
	t.Helper()
	s.req.Body = io.NopCloser(bytes.NewReader(s.body))
	s.req.ContentLength = int64(len(s.body))
	resp, err := ts.httpClient().Do(s.req)
	if err != nil {
		t.Fatalf("%s %s: %v", s.req.Method, s.req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	code := ""
	if i := bytes.Index(b, []byte("<Code>")); i >= 0 {
		if j := bytes.Index(b[i:], []byte("</Code>")); j > 0 {
			code = string(b[i+6 : i+j])
		}
	}
	return resp.StatusCode, code
}
