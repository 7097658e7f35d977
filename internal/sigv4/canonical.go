package sigv4

import (
	"net/url"
	"slices"
	"strings"
)

// HeaderGetter returns every value of a header in the order received, or
// nil. The name is passed in lower case. http.Header satisfies it; other HTTP
// libraries wrap their header type in a small adapter.
type HeaderGetter interface {
	Values(name string) []string
}

// Message is the part of an HTTP request that a SigV4 signature covers,
// independent of the HTTP library. The caller owns it; functions only read.
type Message struct {
	// Method is the HTTP method, e.g. "GET".
	Method string
	// Path is the decoded path (net/url's URL.Path), e.g. "/my key". It is
	// URI-encoded once when the canonical request is built.
	Path string
	// Query holds the decoded query parameters.
	Query url.Values
	// Host is the value signed as the "host" header.
	Host string
	// Header supplies every other signed header.
	Header HeaderGetter
}

// CanonicalRequest builds the canonical request of m for the given signed
// header names (lower case, in the order they appear in SignedHeaders) and
// payload hash.
func (m *Message) CanonicalRequest(signedHeaders []string, payloadHash string, normalizePath bool) string {
	return CanonicalRequest(m.Method, CanonicalURI(m.Path, normalizePath), CanonicalQuery(m.Query),
		CanonicalHeaders(m, signedHeaders), strings.Join(signedHeaders, ";"), payloadHash)
}

// CanonicalRequest joins the six parts of a canonical request. headers must
// already be canonical (each line "name:value\n").
func CanonicalRequest(method, uri, query, headers, signedHeaders, payloadHash string) string {
	var b strings.Builder
	b.Grow(len(method) + len(uri) + len(query) + len(headers) + len(signedHeaders) + len(payloadHash) + 5)
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	b.WriteString(headers)
	b.WriteByte('\n')
	b.WriteString(signedHeaders)
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// unreserved reports whether c is left as is by URI encoding.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

// writeEncoded URI-encodes s as SigV4 requires: every byte except the
// unreserved characters becomes %XX with upper-case hex; '/' is kept when
// keepSlash is set.
func writeEncoded(b *strings.Builder, s string, keepSlash bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
}

// URIEncode returns s URI-encoded as SigV4 requires, with '/' encoded too.
func URIEncode(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	writeEncoded(&b, s, false)
	return b.String()
}

// CanonicalURI returns the canonical URI of a decoded path. With normalize
// (every service except S3) "." and ".." segments and empty segments are
// removed first, keeping a trailing slash. S3 must pass normalize=false: its
// object keys are taken literally. An empty path is "/".
//
// The path is encoded once. AWS services other than S3 encode the already
// escaped path a second time; that only matters for paths containing
// characters outside the unreserved set, which the KMS protocol (path "/")
// never has.
func CanonicalURI(path string, normalize bool) string {
	if normalize {
		path = normalizePath(path)
	}
	if path == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(path))
	writeEncoded(&b, path, true)
	return b.String()
}

func normalizePath(p string) string {
	segs := strings.Split(p, "/")
	out := segs[:0:0]
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	res := "/" + strings.Join(out, "/")
	if last := segs[len(segs)-1]; (last == "" || last == "." || last == "..") && res != "/" {
		res += "/"
	}
	return res
}

// CanonicalQuery returns the canonical query string of q: every name and
// value URI-encoded, pairs sorted by encoded name then encoded value, joined
// with '&'. A parameter without a value is written "name=".
func CanonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	n := 0
	for k, vs := range q {
		ek := URIEncode(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, URIEncode(v)})
			n += len(ek) + len(pairs[len(pairs)-1].v) + 2
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	b.Grow(n)
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// CanonicalHeaderValue trims each value, collapses runs of spaces inside it
// to one space, and joins the values with ','.
func CanonicalHeaderValue(values []string) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		writeTrimmed(&b, v)
	}
	return b.String()
}

func writeTrimmed(b *strings.Builder, v string) {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
}

// CanonicalHeaders returns the canonical header block of m for the given
// signed header names: one "name:value\n" line per name, in the given order.
// "host" is taken from m.Host; a signed header absent from the request
// contributes an empty value (and so fails verification unless the signer
// saw it absent too).
func CanonicalHeaders(m *Message, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		if name == "host" {
			writeTrimmed(&b, m.Host)
		} else if m.Header != nil {
			for i, v := range m.Header.Values(name) {
				if i > 0 {
					b.WriteByte(',')
				}
				writeTrimmed(&b, v)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
