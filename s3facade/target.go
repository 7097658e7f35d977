package s3facade

import (
	"net/url"
	"strings"
)

// Limits on the request target.
const (
	maxURILen = 16 << 10 // also bounded by the header buffer
)

// target is the parsed request target: bucket and key from the path (or
// bucket from the Host for virtual-host-style requests), the decoded path
// SigV4 signs, and the query.
type target struct {
	path   string // decoded path, as signed
	bucket string
	key    string
	query  url.Values
	vhost  bool // bucket came from the Host header
}

// parseTarget parses the raw request URI (origin-form, or absolute-form
// whose scheme and authority are dropped) against host. domains are the
// base domains of virtual-host-style addressing. S3 takes paths
// literally: no dot-segment or slash normalization.
func parseTarget(rawURI, host string, domains []string) (target, error) {
	var t target
	if len(rawURI) > maxURILen {
		return t, errorf(CodeInvalidURI, "The request URI is too long.")
	}
	if i := strings.Index(rawURI, "://"); i > 0 && !strings.HasPrefix(rawURI, "/") {
		rest := rawURI[i+3:]
		j := strings.IndexAny(rest, "/?")
		if j < 0 {
			rawURI = "/"
		} else {
			rawURI = rest[j:]
			if rawURI[0] == '?' {
				rawURI = "/" + rawURI
			}
		}
	}
	if rawURI == "" || rawURI[0] != '/' {
		return t, errorf(CodeInvalidURI, "")
	}
	rawPath, rawQuery, _ := strings.Cut(rawURI, "?")
	p, err := unescapePath(rawPath)
	if err != nil {
		return t, err
	}
	t.path = p
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return t, errorf(CodeInvalidURI, "The query string could not be parsed.")
	}
	t.query = q

	if b := vhostBucket(host, domains); b != "" {
		t.vhost = true
		t.bucket = b
		t.key = p[1:]
		return t, nil
	}
	rest := p[1:]
	if rest == "" {
		return t, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	t.bucket, t.key = bucket, key
	return t, nil
}

// vhostBucket returns the bucket of a virtual-host-style Host, or "".
func vhostBucket(host string, domains []string) string {
	if len(domains) == 0 {
		return ""
	}
	h := host
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.ToLower(h)
	for _, d := range domains {
		if len(h) > len(d)+1 && strings.HasSuffix(h, d) && h[len(h)-len(d)-1] == '.' {
			return h[:len(h)-len(d)-1]
		}
	}
	return ""
}

// unescapePath percent-decodes a path strictly: '+' stays '+', a bad
// escape is an error, and a decoded NUL is refused.
func unescapePath(s string) (string, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return "", errorf(CodeInvalidURI, "The path contains NUL.")
	}
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errorf(CodeInvalidURI, "The path has a truncated percent-escape.")
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", errorf(CodeInvalidURI, "The path has an invalid percent-escape.")
		}
		c = byte(hi<<4 | lo)
		if c == 0 {
			return "", errorf(CodeInvalidURI, "The path contains NUL.")
		}
		b = append(b, c)
		i += 2
	}
	return string(b), nil
}
