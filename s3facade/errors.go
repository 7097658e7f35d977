package s3facade

import (
	"errors"
)

// ErrorCode is an S3 error code. Its value is the code S3 puts in the
// <Code> element of an error body ("NoSuchKey"); its HTTP status and
// default message come from the one table in errtable.go.
type ErrorCode string

// Error is an S3 error raised by the facade itself (as opposed to an engine
// error, which the table maps). Message, when set, replaces the code's
// default description; Err is the cause, kept for errors.Is and logs but
// never sent to the client. Values are immutable once returned.
type Error struct {
	Code    ErrorCode
	Message string
	Err     error

	extra [][2]string // additional elements of the XML body
}

// Error returns "s3facade: Code: message".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.Description()
	}
	if e.Err != nil {
		return "s3facade: " + string(e.Code) + ": " + msg + ": " + e.Err.Error()
	}
	return "s3facade: " + string(e.Code) + ": " + msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with code and message.
func errorf(code ErrorCode, msg string) *Error { return &Error{Code: code, Message: msg} }

// wrapErr returns an *Error with code, message and cause.
func wrapErr(code ErrorCode, msg string, cause error) *Error {
	return &Error{Code: code, Message: msg, Err: cause}
}

// Sentinel errors of the package API.
var (
	// ErrInvalidConfig wraps every problem Config.Validate reports.
	ErrInvalidConfig = errors.New("s3facade: invalid config")
	// ErrServerClosed is returned by Serve after Shutdown.
	ErrServerClosed = errors.New("s3facade: server closed")
)

// Body-level errors. The body readers return them (wrapped in *Error) when
// the bytes received disagree with what was signed or declared; the table
// maps them to S3 codes.
var (
	errChunkSignature  = errors.New("s3facade: chunk signature mismatch")
	errTrailerMismatch = errors.New("s3facade: trailer signature mismatch")
	errPayloadHash     = errors.New("s3facade: payload hash mismatch")
	errChecksum        = errors.New("s3facade: checksum mismatch")
	errChunkFormat     = errors.New("s3facade: malformed aws-chunked body")
	errDecodedLength   = errors.New("s3facade: decoded length mismatch")
	errBodyTooLarge    = errors.New("s3facade: request body too large")
)
