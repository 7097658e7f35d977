package crypto

import (
	"errors"
	"strconv"
)

// Sentinel errors. Compare with errors.Is: stages wrap ErrAuth and
// ErrTruncated in a *ChunkError that names the failing chunk.
var (
	// ErrAuth reports a sealed chunk that failed authentication: the bytes
	// were modified, reordered, spliced from another stream, or are being
	// opened with the wrong key or identity. No plaintext of the chunk is
	// released.
	ErrAuth = errors.New("crypto: message authentication failed")

	// ErrTruncated reports a sealed stream that ended before the chunk the
	// plaintext size says must come next.
	ErrTruncated = errors.New("crypto: sealed stream truncated")

	// ErrUnseal reports a sealed key that cannot be unsealed: malformed,
	// of an unknown version, tampered with, or presented with the wrong
	// key-encryption key or binding. The cause is deliberately not told
	// apart.
	ErrUnseal = errors.New("crypto: sealed key cannot be unsealed")

	// ErrSealedSize reports a sealed stream length that no plaintext length
	// produces.
	ErrSealedSize = errors.New("crypto: invalid sealed stream size")

	// ErrRange reports a plaintext range outside the stream, or a Range
	// value that MapRange did not produce.
	ErrRange = errors.New("crypto: invalid range")

	// ErrTooLarge reports a stream longer than MaxPlainSize.
	ErrTooLarge = errors.New("crypto: stream exceeds maximum size")

	// ErrClosed reports use of a stage after Close or Abort.
	ErrClosed = errors.New("crypto: stage is closed")

	// ErrKeySize reports key material that is not exactly KeySize bytes.
	ErrKeySize = errors.New("crypto: key must be 32 bytes")

	// ErrSaltSize reports a salt that is not exactly SaltSize bytes.
	ErrSaltSize = errors.New("crypto: salt must be 32 bytes")

	// ErrNilKey reports a nil *Key argument.
	ErrNilKey = errors.New("crypto: nil key")

	// ErrInputTooLong reports a binding, upload id or derivation info longer
	// than the documented bound.
	ErrInputTooLong = errors.New("crypto: input too long")
)

// ChunkError reports which chunk of a sealed stream failed. Err is ErrAuth
// or ErrTruncated. A ChunkError carries no key material and no data.
type ChunkError struct {
	Chunk int64 // index of the failing chunk within its stream
	Err   error // ErrAuth or ErrTruncated
}

// Error implements error.
func (e *ChunkError) Error() string {
	return "crypto: chunk " + strconv.FormatInt(e.Chunk, 10) + ": " + trimPrefix(e.Err.Error())
}

// Unwrap returns the sentinel, so errors.Is(err, ErrAuth) works.
func (e *ChunkError) Unwrap() error { return e.Err }

func trimPrefix(s string) string {
	const p = "crypto: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}
