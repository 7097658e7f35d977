package loadgen

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them where
// one applies; test with errors.Is.
var (
	// ErrInvalidOptions is wrapped by Options.Validate for every problem.
	ErrInvalidOptions = errors.New("loadgen: invalid options")
	// ErrNotImplemented means the server answered NotImplemented (or HTTP
	// 501) for a request, typically an SSE mode it does not support.
	ErrNotImplemented = errors.New("loadgen: not implemented by the server")
	// ErrMismatch means an object read back differs from what was written:
	// a wrong byte, or a wrong length.
	ErrMismatch = errors.New("loadgen: content mismatch")
	// ErrListMismatch means a listing returned a different number of keys
	// than the run wrote under its prefix.
	ErrListMismatch = errors.New("loadgen: listing mismatch")
)

// RequestError is a non-2xx answer from the server.
type RequestError struct {
	Op      string // "PUT", "GET", "LIST", "DELETE", "CREATE-BUCKET"
	Key     string // object key, empty for bucket operations
	Status  int    // HTTP status, 0 if the request never got an answer
	Code    string // S3 error code from the XML body, if any
	Message string // S3 error message, if any
	Err     error  // ErrNotImplemented, a transport error, or nil
}

// Error describes the failed request. It holds no credentials.
func (e *RequestError) Error() string {
	s := fmt.Sprintf("loadgen: %s %q", e.Op, e.Key)
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil && !errors.Is(e.Err, ErrNotImplemented) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *RequestError) Unwrap() error { return e.Err }

// MismatchError reports the first wrong byte of an object read back, or a
// wrong length (Offset is then the length received).
type MismatchError struct {
	Key    string
	Offset int64
	Length bool // true when the length, not a byte, differed
}

// Error describes the mismatch.
func (e *MismatchError) Error() string {
	if e.Length {
		return fmt.Sprintf("loadgen: content mismatch: %q: wrong length %d", e.Key, e.Offset)
	}
	return fmt.Sprintf("loadgen: content mismatch: %q: first wrong byte at offset %d", e.Key, e.Offset)
}

// Unwrap returns ErrMismatch.
func (e *MismatchError) Unwrap() error { return ErrMismatch }
