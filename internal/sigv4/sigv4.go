package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm this package speaks.
const Algorithm = "AWS4-HMAC-SHA256"

// Time layouts used by SigV4.
const (
	// TimeFormat is the layout of X-Amz-Date (basic ISO 8601, UTC).
	TimeFormat = "20060102T150405Z"
	// DateFormat is the layout of the date in a credential scope.
	DateFormat = "20060102"
)

// Well-known payload hashes.
const (
	// EmptyPayloadHash is the hex SHA-256 of an empty body.
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// UnsignedPayload is the payload hash S3 accepts for unsigned bodies.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
)

// Header and query parameter names that SigV4 reads or writes.
const (
	HeaderAuthorization = "Authorization"
	HeaderDate          = "X-Amz-Date"
	HeaderSecurityToken = "X-Amz-Security-Token"
	HeaderContentSHA256 = "X-Amz-Content-Sha256"

	QueryAlgorithm     = "X-Amz-Algorithm"
	QueryCredential    = "X-Amz-Credential"
	QueryDate          = "X-Amz-Date"
	QueryExpires       = "X-Amz-Expires"
	QuerySignedHeaders = "X-Amz-SignedHeaders"
	QuerySecurityToken = "X-Amz-Security-Token"
	QuerySignature     = "X-Amz-Signature"
)

const terminator = "aws4_request"

// Credentials are an access key pair and an optional session token. The
// caller owns them; this package never retains or prints the secret.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String redacts the secret and the session token.
func (c Credentials) String() string {
	return fmt.Sprintf("sigv4.Credentials{AccessKeyID: %q, SecretAccessKey: <redacted>, SessionToken: %s}",
		c.AccessKeyID, redacted(c.SessionToken))
}

// GoString redacts like String, so %#v cannot leak the secret.
func (c Credentials) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return "<none>"
	}
	return "<redacted>"
}

// Scope is a credential scope: date (YYYYMMDD), region and service. The
// terminator "aws4_request" is implied.
type Scope struct {
	Date    string
	Region  string
	Service string
}

// NewScope returns the scope for the UTC date of t.
func NewScope(t time.Time, region, service string) Scope {
	return Scope{Date: t.UTC().Format(DateFormat), Region: region, Service: service}
}

// String returns "date/region/service/aws4_request".
func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + terminator
}

// Credential is the parsed value of a Credential= field or of the
// X-Amz-Credential query parameter.
type Credential struct {
	AccessKeyID string
	Scope       Scope
}

// String returns "akid/date/region/service/aws4_request".
func (c Credential) String() string { return c.AccessKeyID + "/" + c.Scope.String() }

// ParseCredential parses "akid/date/region/service/aws4_request".
func ParseCredential(v string) (Credential, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 5 {
		return Credential{}, fmt.Errorf("%w: credential must have 5 slash-separated parts", ErrMalformed)
	}
	for _, p := range parts {
		if p == "" {
			return Credential{}, fmt.Errorf("%w: empty credential part", ErrMalformed)
		}
	}
	if parts[4] != terminator {
		return Credential{}, fmt.Errorf("%w: credential scope must end in %s", ErrScopeMismatch, terminator)
	}
	if _, err := time.Parse(DateFormat, parts[1]); err != nil {
		return Credential{}, fmt.Errorf("%w: credential date %q", ErrMalformed, parts[1])
	}
	return Credential{AccessKeyID: parts[0], Scope: Scope{Date: parts[1], Region: parts[2], Service: parts[3]}}, nil
}

// ParseTime parses an X-Amz-Date value.
func ParseTime(v string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q", ErrMalformed, v)
	}
	return t, nil
}

// Key is a derived SigV4 signing key. It depends only on the secret and the
// scope, so callers may cache it for the scope's day.
type Key [sha256.Size]byte

// Zero overwrites the key.
func (k *Key) Zero() { clear(k[:]) }

// DeriveKey computes HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
// service), "aws4_request").
func DeriveKey(secret string, s Scope) Key {
	seed := make([]byte, 0, 4+len(secret))
	seed = append(seed, "AWS4"...)
	seed = append(seed, secret...)
	var a, b [sha256.Size]byte
	hmacInto(&a, seed, s.Date)
	clear(seed)
	hmacInto(&b, a[:], s.Region)
	hmacInto(&a, b[:], s.Service)
	var k Key
	hmacInto((*[sha256.Size]byte)(&k), a[:], terminator)
	clear(a[:])
	clear(b[:])
	return k
}

func hmacInto(dst *[sha256.Size]byte, key []byte, msg string) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	m.Sum(dst[:0])
}

// StringToSign returns the string to sign for a canonical request made at t
// (formatted as X-Amz-Date) within scope.
func StringToSign(t time.Time, scope Scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	var b strings.Builder
	b.Grow(len(Algorithm) + 1 + len(TimeFormat) + 1 + len(scope.Date) + len(scope.Region) + len(scope.Service) + 16 + 1 + 2*len(sum))
	b.WriteString(Algorithm)
	b.WriteByte('\n')
	b.WriteString(t.UTC().Format(TimeFormat))
	b.WriteByte('\n')
	b.WriteString(scope.String())
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// Signature returns the lower-case hex HMAC-SHA256 of stringToSign under key.
func Signature(key Key, stringToSign string) string {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(stringToSign))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))
}

// Equal reports whether two signatures (or any two secrets) are equal, in
// time that depends only on their lengths.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// PayloadHash returns the lower-case hex SHA-256 of body.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
