package s3facade

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// setupChecksum arms the body's additional-checksum verification from
// x-amz-checksum-* (a value known up front) or from x-amz-trailer (a
// value sent after the body), checked against x-amz-sdk-checksum-algorithm.
func (r *request) setupChecksum() error {
	var alg checksumAlg
	var val string
	n := 0
	for a := ckCRC32; a <= ckSHA256; a++ {
		if v := r.header(a.header()); v != "" {
			alg, val = a, v
			n++
		}
	}
	if n > 1 {
		return errorf(CodeInvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
	}
	var tail checksumAlg
	if r.chunked != nil && len(r.chunked.trailers) > 0 {
		if len(r.chunked.trailers) > 1 {
			return errorf(CodeInvalidRequest, "Expecting a single x-amz-checksum- trailer.")
		}
		tail, _ = checksumByHeader(r.chunked.trailers[0])
		if n == 1 {
			return errorf(CodeInvalidRequest, "A checksum may be sent as a header or as a trailer, not both.")
		}
	} else if n == 0 && r.header("X-Amz-Trailer") != "" {
		return errorf(CodeInvalidRequest, "x-amz-trailer requires an aws-chunked trailer payload (x-amz-content-sha256: STREAMING-...-TRAILER).")
	}
	if sdk := r.header("X-Amz-Sdk-Checksum-Algorithm"); sdk != "" {
		a, ok := checksumByName(sdk)
		switch {
		case !ok:
			return errorf(CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		case n == 1 && a != alg, tail != ckNone && a != tail:
			return errorf(CodeInvalidRequest, "The x-amz-sdk-checksum-algorithm does not match the checksum sent.")
		}
	}
	d := r.digest
	switch {
	case n == 1:
		if !validChecksumValue(alg, val) {
			return errorf(CodeInvalidRequest, "Value for "+alg.header()+" header is invalid.")
		}
		d.alg, d.sum, d.want = alg, alg.newHash(), val
	case tail != ckNone:
		c := r.chunked
		name := tail.header()
		d.alg, d.sum = tail, tail.newHash()
		d.fromTail = func() (string, bool) { return c.trailer(name) }
	}
	return nil
}

// checkKey applies the key rules the facade reports itself.
func checkKey(key string) error {
	if len(key) > engine.MaxKeyLength {
		return errorf(CodeKeyTooLong, "")
	}
	return nil
}

// contentHeaders reads the standard content headers of a PUT or of a
// REPLACE copy. aws-chunked is a transfer detail and is not stored.
func contentHeaders(r *request) engine.Headers {
	enc := r.header("Content-Encoding")
	if strings.Contains(enc, "aws-chunked") {
		var keep []string
		for _, p := range strings.Split(enc, ",") {
			if p = strings.TrimSpace(p); p != "" && p != "aws-chunked" {
				keep = append(keep, p)
			}
		}
		enc = strings.Join(keep, ",")
	}
	return engine.Headers{
		ContentType:        r.header("Content-Type"),
		ContentEncoding:    enc,
		CacheControl:       r.header("Cache-Control"),
		ContentDisposition: r.header("Content-Disposition"),
		ContentLanguage:    r.header("Content-Language"),
		Expires:            r.header("Expires"),
	}
}

// userMetadata collects x-amz-meta-* headers (names lower case, without
// the prefix). Repeated headers are joined with ','.
func userMetadata(r *request) (map[string]string, error) {
	var meta map[string]string
	total := 0
	for k, v := range r.ctx.Request.Header.All() {
		if len(k) <= 11 || !strings.EqualFold(string(k[:11]), "x-amz-meta-") {
			continue
		}
		if meta == nil {
			meta = map[string]string{}
		}
		name := strings.ToLower(string(k[11:]))
		total += len(name) + len(v)
		if total > engine.MaxUserMetadata {
			return nil, errorf(CodeMetadataTooLarge, "")
		}
		if old, ok := meta[name]; ok {
			meta[name] = old + "," + string(v)
		} else {
			meta[name] = string(v)
		}
	}
	return meta, nil
}

// rejectUnsupported answers NotImplemented (or S3's own refusal) for
// headers asking for features the facade does not have, so that no such
// request succeeds while silently ignoring what it asked for. The SSE
// headers of object writes are read by parseWriteSSE (sse.go).
func rejectUnsupported(r *request) error {
	if err := checkWriteACL(r); err != nil {
		return err
	}
	if sc := r.header("X-Amz-Storage-Class"); sc != "" && sc != "STANDARD" {
		return errorf(CodeNotImplemented, "Only the STANDARD storage class is supported.")
	}
	for _, h := range []string{"X-Amz-Object-Lock-Mode", "X-Amz-Object-Lock-Retain-Until-Date",
		"X-Amz-Object-Lock-Legal-Hold", "X-Amz-Website-Redirect-Location", "X-Amz-Write-Offset-Bytes"} {
		if r.header(h) != "" {
			return errorf(CodeNotImplemented, "The "+strings.ToLower(h)+" header is not supported.")
		}
	}
	return nil
}

// parseSSE refuses server-side encryption headers on requests that have
// no use for them (CreateBucket), rather than ignoring them.
func parseSSE(r *request) error {
	for _, h := range []string{
		"X-Amz-Server-Side-Encryption",
		"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id",
		"X-Amz-Server-Side-Encryption-Context",
		"X-Amz-Server-Side-Encryption-Bucket-Key-Enabled",
		"X-Amz-Server-Side-Encryption-Customer-Algorithm",
		"X-Amz-Server-Side-Encryption-Customer-Key",
		"X-Amz-Server-Side-Encryption-Customer-Key-Md5",
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm",
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key",
		"X-Amz-Copy-Source-Server-Side-Encryption-Customer-Key-Md5",
	} {
		if r.header(h) != "" {
			return errorf(CodeNotImplemented, "Server-side encryption headers are not supported on this operation.")
		}
	}
	return nil
}

// contentMD5 decodes Content-MD5. A header sent empty is InvalidDigest,
// as S3 answers; an absent one asks for no check.
func contentMD5(r *request) ([]byte, error) {
	v := r.header("Content-Md5")
	if v == "" {
		if len(r.ctx.Request.Header.PeekAll("Content-Md5")) == 0 {
			return nil, nil
		}
		return nil, errorf(CodeInvalidDigest, "")
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != md5.Size {
		return nil, errorf(CodeInvalidDigest, "")
	}
	return b, nil
}

// checkBodyMD5 verifies a body read whole (an XML request) against
// Content-MD5, when the request has one (see contentMD5).
func checkBodyMD5(r *request, body []byte) error {
	want, err := contentMD5(r)
	if err != nil || want == nil {
		return err
	}
	if got := md5.Sum(body); !bytes.Equal(got[:], want) {
		return errorf(CodeBadDigest, "The Content-MD5 you specified did not match what we received.")
	}
	return nil
}

// conditions reads If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since (or their x-amz-copy-source-if-* forms with prefix).
// An unparseable date is ignored, as HTTP says.
func conditions(r *request, prefix string) engine.Conditions {
	c := engine.Conditions{
		IfMatch:     r.header(prefix + "If-Match"),
		IfNoneMatch: r.header(prefix + "If-None-Match"),
	}
	if v := r.header(prefix + "If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			c.IfModifiedSince = t
		}
	}
	if v := r.header(prefix + "If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			c.IfUnmodifiedSince = t
		}
	}
	return c
}

// objectHeaders returns the headers of GET and HEAD for info.
func objectHeaders(resp *response, info *engine.ObjectInfo) {
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	resp.set("Content-Type", ct)
	resp.set("ETag", `"`+info.ETag+`"`)
	resp.set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	resp.set("Accept-Ranges", "bytes")
	for _, kv := range [][2]string{
		{"Content-Encoding", info.ContentEncoding},
		{"Cache-Control", info.CacheControl},
		{"Content-Disposition", info.ContentDisposition},
		{"Content-Language", info.ContentLanguage},
		{"Expires", info.Expires},
	} {
		if kv[1] != "" {
			resp.set(kv[0], kv[1])
		}
	}
	for k, v := range info.UserMetadata {
		resp.set("x-amz-meta-"+k, v)
	}
	setTaggingCount(resp, info)
}
