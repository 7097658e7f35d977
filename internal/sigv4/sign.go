package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options adjust signing for a service.
type Options struct {
	// NormalizePath removes dot segments and empty segments from the path
	// before encoding. Every AWS service except S3 normalizes; S3 must not.
	NormalizePath bool
	// OmitSessionToken adds X-Amz-Security-Token after signing instead of
	// signing it (a variant some services use).
	OmitSessionToken bool
	// ContentSHA256Header sets and signs X-Amz-Content-Sha256 with the
	// payload hash (S3 requires it; KMS does not).
	ContentSHA256Header bool
}

// Result describes a signature just computed. It holds no secret.
type Result struct {
	CanonicalRequest string
	StringToSign     string
	Signature        string
	SignedHeaders    []string
}

// ignoredHeaders are never signed: they are added or rewritten by proxies
// and transports after signing. The list matches aws-sdk-go-v2.
var ignoredHeaders = map[string]bool{
	"authorization":     true,
	"user-agent":        true,
	"x-amzn-trace-id":   true,
	"expect":            true,
	"transfer-encoding": true,
}

// Signer signs net/http requests and caches the last derived signing key.
// The zero value is ready to use; a Signer is safe for concurrent use.
type Signer struct {
	mu     sync.Mutex
	akid   string
	secret string
	scope  Scope
	key    Key
	valid  bool
}

func (s *Signer) signingKey(c Credentials, scope Scope) Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.valid && s.scope == scope && s.akid == c.AccessKeyID && s.secret == c.SecretAccessKey {
		return s.key
	}
	s.key.Zero()
	s.key = DeriveKey(c.SecretAccessKey, scope)
	s.akid, s.secret, s.scope, s.valid = c.AccessKeyID, c.SecretAccessKey, scope, true
	return s.key
}

// Sign signs req in the Authorization header, as SignHTTP does, using the
// Signer's key cache.
func (s *Signer) Sign(req *http.Request, payloadHash string, c Credentials, region, service string, t time.Time, opts Options) (Result, error) {
	return s.sign(req, payloadHash, c, region, service, t, opts, 0)
}

// Presign signs req in its query string, valid for expires, as PresignHTTP
// does, using the Signer's key cache.
func (s *Signer) Presign(req *http.Request, payloadHash string, c Credentials, region, service string, t time.Time, expires time.Duration, opts Options) (Result, error) {
	if expires < time.Second || expires > 7*24*time.Hour {
		return Result{}, fmt.Errorf("%w: expiry %v outside 1s..7d", ErrMalformed, expires)
	}
	return s.sign(req, payloadHash, c, region, service, t, opts, expires)
}

// Sign signs req with header authentication: it sets X-Amz-Date, the
// session token (if any), optionally X-Amz-Content-Sha256, and
// Authorization. Every header present is signed except the few transports
// rewrite (Authorization, User-Agent, Expect, Transfer-Encoding,
// X-Amzn-Trace-Id); "host" and, when req.ContentLength > 0,
// "content-length" are always signed. payloadHash is the hex SHA-256 of the
// body (or UnsignedPayload where the service allows it). req is modified in
// place; its body is not read.
func Sign(req *http.Request, payloadHash string, c Credentials, region, service string, t time.Time, opts Options) (Result, error) {
	var s Signer
	return s.Sign(req, payloadHash, c, region, service, t, opts)
}

// Presign signs req with query authentication valid for expires (1 s to
// 7 days), rewriting req.URL.RawQuery. Headers present on req are signed and
// must be sent unchanged with the presigned URL.
func Presign(req *http.Request, payloadHash string, c Credentials, region, service string, t time.Time, expires time.Duration, opts Options) (Result, error) {
	var s Signer
	return s.Presign(req, payloadHash, c, region, service, t, expires, opts)
}

func (s *Signer) sign(req *http.Request, payloadHash string, c Credentials, region, service string, t time.Time, opts Options, expires time.Duration) (Result, error) {
	if req == nil || req.URL == nil {
		return Result{}, errors.New("sigv4: nil request or URL")
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Result{}, errors.New("sigv4: empty credentials")
	}
	if region == "" || service == "" || strings.Contains(region, "/") || strings.Contains(service, "/") {
		return Result{}, fmt.Errorf("sigv4: invalid region %q or service %q", region, service)
	}
	if payloadHash == "" {
		return Result{}, errors.New("sigv4: empty payload hash")
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	t = t.UTC()
	scope := NewScope(t, region, service)
	cred := Credential{AccessKeyID: c.AccessKeyID, Scope: scope}
	presign := expires > 0

	query := req.URL.Query()
	if presign {
		for _, k := range []string{QueryAlgorithm, QueryCredential, QueryDate, QueryExpires, QuerySignedHeaders, QuerySecurityToken, QuerySignature} {
			query.Del(k)
		}
	} else {
		req.Header.Del(HeaderAuthorization)
		req.Header.Set(HeaderDate, t.Format(TimeFormat))
		req.Header.Del(HeaderSecurityToken)
		if c.SessionToken != "" && !opts.OmitSessionToken {
			req.Header.Set(HeaderSecurityToken, c.SessionToken)
		}
		if opts.ContentSHA256Header {
			req.Header.Set(HeaderContentSHA256, payloadHash)
		}
	}

	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	signed := []string{"host"}
	if req.ContentLength > 0 {
		signed = append(signed, "content-length")
	}
	for k := range req.Header {
		lk := strings.ToLower(k)
		if ignoredHeaders[lk] || lk == "host" || lk == "content-length" {
			continue
		}
		signed = append(signed, lk)
	}
	slices.Sort(signed)
	signed = slices.Compact(signed)
	signedStr := strings.Join(signed, ";")

	if presign {
		query.Set(QueryAlgorithm, Algorithm)
		query.Set(QueryCredential, cred.String())
		query.Set(QueryDate, t.Format(TimeFormat))
		query.Set(QueryExpires, strconv.FormatInt(int64(expires/time.Second), 10))
		query.Set(QuerySignedHeaders, signedStr)
		if c.SessionToken != "" && !opts.OmitSessionToken {
			query.Set(QuerySecurityToken, c.SessionToken)
		}
	}

	m := Message{Method: req.Method, Path: req.URL.Path, Query: query, Host: host, Header: requestHeaders{req}}
	if m.Method == "" {
		m.Method = http.MethodGet
	}
	cr := m.CanonicalRequest(signed, payloadHash, opts.NormalizePath)
	sts := StringToSign(t, scope, cr)
	sig := Signature(s.signingKey(c, scope), sts)

	if presign {
		if c.SessionToken != "" && opts.OmitSessionToken {
			query.Set(QuerySecurityToken, c.SessionToken)
		}
		query.Set(QuerySignature, sig)
		req.URL.RawQuery = encodeQuery(query)
	} else {
		if c.SessionToken != "" && opts.OmitSessionToken {
			req.Header.Set(HeaderSecurityToken, c.SessionToken)
		}
		req.Header.Set(HeaderAuthorization, Algorithm+" Credential="+cred.String()+", SignedHeaders="+signedStr+", Signature="+sig)
	}
	return Result{CanonicalRequest: cr, StringToSign: sts, Signature: sig, SignedHeaders: signed}, nil
}

// encodeQuery writes q with SigV4's encoding, so that the server decodes
// exactly the values that were signed.
func encodeQuery(q map[string][]string) string { return CanonicalQuery(q) }

// requestHeaders serves a net/http client request's headers, including
// Content-Length, which net/http keeps outside Header.
type requestHeaders struct{ r *http.Request }

func (h requestHeaders) Values(name string) []string {
	if name == "content-length" {
		if v := h.r.Header.Values(name); len(v) > 0 {
			return v
		}
		if h.r.ContentLength > 0 {
			return []string{strconv.FormatInt(h.r.ContentLength, 10)}
		}
		return nil
	}
	return h.r.Header.Values(name)
}
