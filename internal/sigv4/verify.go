package sigv4

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Bounds on attacker-controlled sizes.
const (
	maxAuthorizationLen = 16 << 10
	maxSignedHeaders    = 128
	maxExpiry           = 7 * 24 * time.Hour
)

// DefaultMaxSkew is the clock skew a Verifier tolerates by default (S3's
// limit).
const DefaultMaxSkew = 15 * time.Minute

// Authorization is a parsed Authorization header.
type Authorization struct {
	Credential    Credential
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
// Signature=…". Fields may be separated by commas with optional spaces.
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	if len(v) > maxAuthorizationLen {
		return a, fmt.Errorf("%w: authorization header too long", ErrMalformed)
	}
	alg, rest, ok := strings.Cut(v, " ")
	if !ok {
		return a, fmt.Errorf("%w: authorization header has no fields", ErrMalformed)
	}
	if alg != Algorithm {
		return a, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, truncate(alg))
	}
	var haveCred, haveSH, haveSig bool
	for _, f := range strings.Split(rest, ",") {
		f = strings.TrimSpace(f)
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return a, fmt.Errorf("%w: field without '='", ErrMalformed)
		}
		var err error
		switch k {
		case "Credential":
			if haveCred {
				return a, fmt.Errorf("%w: duplicate Credential", ErrMalformed)
			}
			haveCred = true
			if a.Credential, err = ParseCredential(val); err != nil {
				return a, err
			}
		case "SignedHeaders":
			if haveSH {
				return a, fmt.Errorf("%w: duplicate SignedHeaders", ErrMalformed)
			}
			haveSH = true
			if a.SignedHeaders, err = ParseSignedHeaders(val); err != nil {
				return a, err
			}
		case "Signature":
			if haveSig {
				return a, fmt.Errorf("%w: duplicate Signature", ErrMalformed)
			}
			haveSig = true
			if !isHexSignature(val) {
				return a, fmt.Errorf("%w: signature is not 64 hex digits", ErrMalformed)
			}
			a.Signature = val
		default:
			return a, fmt.Errorf("%w: unknown field %q", ErrMalformed, truncate(k))
		}
	}
	if !haveCred || !haveSH || !haveSig {
		return a, fmt.Errorf("%w: Credential, SignedHeaders and Signature are required", ErrMalformed)
	}
	return a, nil
}

// ParseSignedHeaders parses a ';'-separated list of lower-case header names.
func ParseSignedHeaders(v string) ([]string, error) {
	if v == "" {
		return nil, fmt.Errorf("%w: empty SignedHeaders", ErrMalformed)
	}
	names := strings.Split(v, ";")
	if len(names) > maxSignedHeaders {
		return nil, fmt.Errorf("%w: too many signed headers", ErrMalformed)
	}
	for _, n := range names {
		if n == "" || strings.ToLower(n) != n || strings.ContainsAny(n, " \t:") {
			return nil, fmt.Errorf("%w: bad signed header name %q", ErrMalformed, truncate(n))
		}
	}
	return names, nil
}

func isHexSignature(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Presigned holds the parsed SigV4 query parameters of a presigned request.
type Presigned struct {
	Credential    Credential
	Time          time.Time
	Expires       time.Duration
	SignedHeaders []string
	Signature     string
	SecurityToken string
}

// IsPresigned reports whether q carries presigned SigV4 parameters.
func IsPresigned(q url.Values) bool {
	return q.Has(QueryAlgorithm) || q.Has(QuerySignature) || q.Has(QueryCredential)
}

// ParsePresigned parses the X-Amz-* parameters of a presigned request.
func ParsePresigned(q url.Values) (Presigned, error) {
	var p Presigned
	one := func(k string) (string, error) {
		vs := q[k]
		if len(vs) != 1 || vs[0] == "" {
			return "", fmt.Errorf("%w: need exactly one %s", ErrMalformed, k)
		}
		return vs[0], nil
	}
	alg, err := one(QueryAlgorithm)
	if err != nil {
		return p, err
	}
	if alg != Algorithm {
		return p, fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, truncate(alg))
	}
	v, err := one(QueryCredential)
	if err != nil {
		return p, err
	}
	if p.Credential, err = ParseCredential(v); err != nil {
		return p, err
	}
	if v, err = one(QueryDate); err != nil {
		return p, err
	}
	if p.Time, err = ParseTime(v); err != nil {
		return p, err
	}
	if v, err = one(QueryExpires); err != nil {
		return p, err
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil || secs < 1 || secs > int64(maxExpiry/time.Second) {
		return p, fmt.Errorf("%w: X-Amz-Expires must be 1..604800", ErrMalformed)
	}
	p.Expires = time.Duration(secs) * time.Second
	if v, err = one(QuerySignedHeaders); err != nil {
		return p, err
	}
	if p.SignedHeaders, err = ParseSignedHeaders(v); err != nil {
		return p, err
	}
	if v, err = one(QuerySignature); err != nil {
		return p, err
	}
	if !isHexSignature(v) {
		return p, fmt.Errorf("%w: signature is not 64 hex digits", ErrMalformed)
	}
	p.Signature = v
	if vs := q[QuerySecurityToken]; len(vs) > 0 {
		p.SecurityToken = vs[0]
	}
	return p, nil
}

// Verified describes a request whose signature checked out.
type Verified struct {
	AccessKeyID   string
	Scope         Scope
	Time          time.Time
	SignedHeaders []string
	Presigned     bool
	// SecurityToken is the session token sent with the request, if any; the
	// caller decides whether it is valid for AccessKeyID.
	SecurityToken string
}

// Verifier checks SigV4 signatures. Region and Service, when non-empty,
// must equal the credential scope's. It is safe for concurrent use if
// Lookup is.
//
// The Verifier checks the signature, the scope and the time. Policy beyond
// that (for example S3's rule that every x-amz-* header be signed) is the
// caller's.
type Verifier struct {
	Region  string
	Service string
	// NormalizePath must match the signer's: false for S3, true otherwise.
	NormalizePath bool
	// MaxSkew bounds |now - request time|; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// Lookup returns the secret access key of an access key id. It must not
	// be nil.
	Lookup func(accessKeyID string) (secret string, ok bool)
}

// Verify checks m with header authentication if it carries an
// Authorization header and with query authentication otherwise.
// payloadHash is what the signer must have used: the hex SHA-256 of the
// body, or the value of X-Amz-Content-Sha256 / UnsignedPayload where the
// service allows it (the caller then checks the body against it).
func (v *Verifier) Verify(m *Message, payloadHash string, now time.Time) (Verified, error) {
	if m.Header != nil && len(m.Header.Values("authorization")) > 0 {
		return v.VerifyHeader(m, payloadHash, now)
	}
	if IsPresigned(m.Query) {
		return v.VerifyQuery(m, payloadHash, now)
	}
	return Verified{}, ErrMissingAuth
}

// VerifyHeader checks a request signed in its Authorization header.
func (v *Verifier) VerifyHeader(m *Message, payloadHash string, now time.Time) (Verified, error) {
	var out Verified
	if m.Header == nil {
		return out, ErrMissingAuth
	}
	auths := m.Header.Values("authorization")
	if len(auths) == 0 {
		return out, ErrMissingAuth
	}
	if len(auths) > 1 {
		return out, fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	a, err := ParseAuthorization(auths[0])
	if err != nil {
		return out, err
	}
	var t time.Time
	dateHeader := "x-amz-date"
	if ds := m.Header.Values(dateHeader); len(ds) == 1 {
		if t, err = ParseTime(ds[0]); err != nil {
			return out, err
		}
	} else if ds := m.Header.Values("date"); len(ds) == 1 && len(m.Header.Values(dateHeader)) == 0 {
		dateHeader = "date"
		if t, err = http.ParseTime(ds[0]); err != nil {
			return out, fmt.Errorf("%w: Date header", ErrMalformed)
		}
	} else {
		return out, fmt.Errorf("%w: need exactly one X-Amz-Date or Date header", ErrMalformed)
	}
	if !contains(a.SignedHeaders, "host") || !contains(a.SignedHeaders, dateHeader) {
		return out, fmt.Errorf("%w: host and %s must be signed", ErrMalformed, dateHeader)
	}
	if err := v.checkScope(a.Credential.Scope, t); err != nil {
		return out, err
	}
	if d := now.Sub(t).Abs(); d > v.maxSkew() {
		return out, fmt.Errorf("%w: request time differs from server time by %v", ErrExpired, d.Round(time.Second))
	}
	if err := v.checkSignature(m, a.Credential, a.SignedHeaders, payloadHash, t, a.Signature); err != nil {
		return out, err
	}
	out = Verified{AccessKeyID: a.Credential.AccessKeyID, Scope: a.Credential.Scope, Time: t, SignedHeaders: a.SignedHeaders}
	if ts := m.Header.Values("x-amz-security-token"); len(ts) > 0 {
		out.SecurityToken = ts[0]
	}
	return out, nil
}

// VerifyQuery checks a presigned request.
func (v *Verifier) VerifyQuery(m *Message, payloadHash string, now time.Time) (Verified, error) {
	var out Verified
	if !IsPresigned(m.Query) {
		return out, ErrMissingAuth
	}
	p, err := ParsePresigned(m.Query)
	if err != nil {
		return out, err
	}
	if !contains(p.SignedHeaders, "host") {
		return out, fmt.Errorf("%w: host must be signed", ErrMalformed)
	}
	if err := v.checkScope(p.Credential.Scope, p.Time); err != nil {
		return out, err
	}
	if now.Before(p.Time.Add(-v.maxSkew())) {
		return out, fmt.Errorf("%w: presigned request is not yet valid", ErrExpired)
	}
	if now.After(p.Time.Add(p.Expires)) {
		return out, fmt.Errorf("%w: presigned request expired", ErrExpired)
	}
	q := make(url.Values, len(m.Query))
	for k, vs := range m.Query {
		if k != QuerySignature {
			q[k] = vs
		}
	}
	mm := *m
	mm.Query = q
	if err := v.checkSignature(&mm, p.Credential, p.SignedHeaders, payloadHash, p.Time, p.Signature); err != nil {
		return out, err
	}
	return Verified{AccessKeyID: p.Credential.AccessKeyID, Scope: p.Credential.Scope, Time: p.Time,
		SignedHeaders: p.SignedHeaders, Presigned: true, SecurityToken: p.SecurityToken}, nil
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) checkScope(s Scope, t time.Time) error {
	if s.Date != t.UTC().Format(DateFormat) {
		return fmt.Errorf("%w: scope date %s does not match request date", ErrScopeMismatch, s.Date)
	}
	if v.Region != "" && s.Region != v.Region {
		return fmt.Errorf("%w: region %q, expected %q", ErrScopeMismatch, truncate(s.Region), v.Region)
	}
	if v.Service != "" && s.Service != v.Service {
		return fmt.Errorf("%w: service %q, expected %q", ErrScopeMismatch, truncate(s.Service), v.Service)
	}
	return nil
}

func (v *Verifier) checkSignature(m *Message, c Credential, signed []string, payloadHash string, t time.Time, got string) error {
	secret, ok := v.Lookup(c.AccessKeyID)
	if !ok {
		return ErrUnknownAccessKey
	}
	key := DeriveKey(secret, c.Scope)
	want := Signature(key, StringToSign(t, c.Scope, m.CanonicalRequest(signed, payloadHash, v.NormalizePath)))
	key.Zero()
	if !Equal(want, got) {
		return ErrSignatureMismatch
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
