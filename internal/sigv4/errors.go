package sigv4

import "errors"

// Sentinel errors. Every error returned by a parser or by Verifier wraps
// exactly one of them, so callers map failures with errors.Is to their own
// protocol's error codes.
var (
	// ErrMissingAuth: the request carries neither an Authorization header
	// nor presigned query parameters.
	ErrMissingAuth = errors.New("sigv4: request is not signed")
	// ErrMalformed: the Authorization header, credential scope, date or
	// presigned parameters cannot be parsed, or required parts are missing.
	ErrMalformed = errors.New("sigv4: malformed signature")
	// ErrUnsupportedAlgorithm: the algorithm is not AWS4-HMAC-SHA256.
	ErrUnsupportedAlgorithm = errors.New("sigv4: unsupported signing algorithm")
	// ErrUnknownAccessKey: the verifier has no secret for the access key id.
	ErrUnknownAccessKey = errors.New("sigv4: unknown access key")
	// ErrScopeMismatch: the credential scope names another date, region,
	// service or terminator than the request and verifier expect.
	ErrScopeMismatch = errors.New("sigv4: credential scope mismatch")
	// ErrExpired: the request time lies outside the allowed clock skew, or a
	// presigned request is past its expiry.
	ErrExpired = errors.New("sigv4: request time outside the allowed window")
	// ErrSignatureMismatch: the recomputed signature differs.
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
)
