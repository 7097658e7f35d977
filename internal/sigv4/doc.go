// Package sigv4 implements the core of AWS Signature Version 4: canonical
// requests, strings to sign, signing-key derivation, header and query
// (presigned) signing of net/http requests, and the pure functions and the
// Verifier a server needs to check a signed request.
//
// # What it owns
//
// The byte-exact SigV4 algorithm ("AWS4-HMAC-SHA256") and nothing above it:
// no credential chains, no retries, no service knowledge. The key manager
// client signs its AWS KMS requests with it; the S3 facade and the in-repo
// KMS endpoint verify with it.
//
// # Guarantees
//
// Canonicalisation follows AWS's published test suite (vectors in
// shared/testdata/sigv4) and produces the same Authorization header as
// aws-sdk-go-v2's signer for the same inputs. Paths are URI-encoded once;
// dot segments and duplicate slashes are removed only when NormalizePath is
// set (every service except S3). Signatures are compared in constant time.
// Nothing here panics on malformed input: parsers return errors that wrap the
// sentinels in errors.go.
//
// # Concurrency
//
// All functions are safe for concurrent use. A Signer and a Verifier may be
// shared by any number of goroutines; the Signer caches the most recent
// derived signing key under a mutex.
//
// # Buffer and secret ownership
//
// Inputs are never retained. Credentials are plain values owned by the
// caller; their String and GoString methods redact the secret so that they
// cannot leak through fmt. A derived Key is a value the caller owns and may
// wipe with Key.Zero.
package sigv4
