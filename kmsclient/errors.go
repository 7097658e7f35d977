package kmsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors. Every error a KeyManager in this package returns is an
// *Error that wraps exactly one of them, so callers branch with errors.Is and
// never on message text.
var (
	// ErrNotFound: the key or alias does not exist (or was deleted).
	ErrNotFound = errors.New("kmsclient: key not found")
	// ErrDisabled: the key exists but is disabled.
	ErrDisabled = errors.New("kmsclient: key is disabled")
	// ErrInvalidState: the key is in a state that forbids the operation,
	// for example pending deletion.
	ErrInvalidState = errors.New("kmsclient: key is in an invalid state for this operation")
	// ErrInvalidCiphertext: the blob is corrupt, was made under another key,
	// or the encryption context differs from the one it was made with.
	ErrInvalidCiphertext = errors.New("kmsclient: invalid ciphertext or encryption context")
	// ErrInvalidKeyUsage: the key cannot make or open data keys (it is not a
	// symmetric encryption key).
	ErrInvalidKeyUsage = errors.New("kmsclient: key usage does not allow this operation")
	// ErrAccessDenied: the key manager refused the caller (policy,
	// credentials or signature).
	ErrAccessDenied = errors.New("kmsclient: access denied")
	// ErrAlreadyExists: the key or alias already exists.
	ErrAlreadyExists = errors.New("kmsclient: already exists")
	// ErrThrottled: the key manager asked the caller to slow down.
	ErrThrottled = errors.New("kmsclient: throttled")
	// ErrUnavailable: the key manager could not be reached or failed
	// internally; the operation may succeed later.
	ErrUnavailable = errors.New("kmsclient: key manager unavailable")
	// ErrNotSupported: the backend does not offer the operation or option.
	ErrNotSupported = errors.New("kmsclient: not supported")
	// ErrInvalidArgument: the request itself is invalid (bad key id form,
	// bad alias name, out-of-range size, malformed context).
	ErrInvalidArgument = errors.New("kmsclient: invalid argument")
	// ErrClosed: the key manager was closed.
	ErrClosed = errors.New("kmsclient: closed")
)

// AWS KMS exception names. Error.Code holds one of these (or whatever
// name a remote AWS-compatible server sent).
const (
	CodeNotFound            = "NotFoundException"
	CodeDisabled            = "DisabledException"
	CodeInvalidState        = "KMSInvalidStateException"
	CodeInvalidCiphertext   = "InvalidCiphertextException"
	CodeIncorrectKey        = "IncorrectKeyException"
	CodeInvalidKeyUsage     = "InvalidKeyUsageException"
	CodeAccessDenied        = "AccessDeniedException"
	CodeAlreadyExists       = "AlreadyExistsException"
	CodeThrottling          = "ThrottlingException"
	CodeInternal            = "KMSInternalException"
	CodeDependencyTimeout   = "DependencyTimeoutException"
	CodeUnsupported         = "UnsupportedOperationException"
	CodeValidation          = "ValidationException"
	CodeInvalidAliasName    = "InvalidAliasNameException"
	CodeInvalidArn          = "InvalidArnException"
	CodeNotAuthorized       = "NotAuthorizedException"
	CodeUnknownOperation    = "UnknownOperationException"
	CodeSerialization       = "SerializationException"
	CodeInvalidSignature    = "InvalidSignatureException"
	CodeUnrecognizedClient  = "UnrecognizedClientException"
	CodeMissingAuthToken    = "MissingAuthenticationTokenException"
	CodeIncompleteSignature = "IncompleteSignatureException"
	CodeLimitExceeded       = "LimitExceededException"
)

// Error is the one error type of this package. It carries the AWS KMS
// exception name (for every backend, so the S3 layer can map it to S3's
// KMS.* errors), the HTTP status where one was seen, whether a retry may
// help, and the sentinel it unwraps to. It never contains key material.
type Error struct {
	// Op is the operation, e.g. "GenerateDataKey".
	Op string
	// Backend is the KeyManager's Name.
	Backend string
	// KeyID is the key reference the caller passed, if any.
	KeyID string
	// Code is the AWS KMS exception name.
	Code string
	// Message is the human-readable text (AWS style for local backends,
	// verbatim from the server for remote ones).
	Message string
	// Status is the HTTP status of a remote answer, or the status AWS uses
	// for Code when the error is local; 0 when unknown.
	Status int
	// Retryable is true when repeating the call may succeed.
	Retryable bool
	// Err is the sentinel (possibly joined with a cause such as
	// context.DeadlineExceeded).
	Err error
}

// Error formats "kmsclient: <backend> <op>: <code>: <message>".
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("kmsclient: %s %s: %s: %s", e.Backend, e.Op, e.Code, msg)
}

// Unwrap returns the sentinel (and cause).
func (e *Error) Unwrap() error { return e.Err }

// KMSErrorCode returns the AWS KMS exception name, so that packages that
// must not import kmsclient can map errors through a one-method interface.
func (e *Error) KMSErrorCode() string { return e.Code }

// HTTPStatus returns the status an AWS-KMS-protocol server answers with for
// this error.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return StatusForCode(e.Code)
}

// codeInfo is one row of the AWS error mapping table.
type codeInfo struct {
	sentinel  error
	status    int
	retryable bool
}

// awsCodes maps AWS KMS exception names to sentinels (kms.md §2.7). Statuses
// follow AWS's API reference, which is what AWS sends on the wire.
var awsCodes = map[string]codeInfo{
	CodeNotFound:                  {ErrNotFound, 400, false},
	CodeDisabled:                  {ErrDisabled, 400, false},
	CodeInvalidState:              {ErrInvalidState, 400, false},
	CodeInvalidCiphertext:         {ErrInvalidCiphertext, 400, false},
	CodeIncorrectKey:              {ErrInvalidCiphertext, 400, false},
	CodeInvalidKeyUsage:           {ErrInvalidKeyUsage, 400, false},
	CodeAccessDenied:              {ErrAccessDenied, 400, false},
	CodeNotAuthorized:             {ErrAccessDenied, 400, false},
	CodeAlreadyExists:             {ErrAlreadyExists, 400, false},
	CodeThrottling:                {ErrThrottled, 400, true},
	"Throttling":                  {ErrThrottled, 400, true},
	"TooManyRequestsException":    {ErrThrottled, 429, true},
	CodeInternal:                  {ErrUnavailable, 500, true},
	"InternalFailure":             {ErrUnavailable, 500, true},
	"InternalFailureException":    {ErrUnavailable, 500, true},
	CodeDependencyTimeout:         {ErrUnavailable, 500, true},
	"KeyUnavailableException":     {ErrUnavailable, 500, true},
	"ServiceUnavailable":          {ErrUnavailable, 503, true},
	"ServiceUnavailableException": {ErrUnavailable, 503, true},
	CodeUnsupported:               {ErrNotSupported, 400, false},
	CodeUnknownOperation:          {ErrNotSupported, 400, false},
	CodeValidation:                {ErrInvalidArgument, 400, false},
	CodeInvalidAliasName:          {ErrInvalidArgument, 400, false},
	CodeInvalidArn:                {ErrInvalidArgument, 400, false},
	"InvalidGrantTokenException":  {ErrInvalidArgument, 400, false},
	"InvalidMarkerException":      {ErrInvalidArgument, 400, false},
	CodeSerialization:             {ErrInvalidArgument, 400, false},
	CodeLimitExceeded:             {ErrInvalidArgument, 400, false},
	"TagException":                {ErrInvalidArgument, 400, false},
	CodeUnrecognizedClient:        {ErrAccessDenied, 400, false},
	CodeInvalidSignature:          {ErrAccessDenied, 400, false},
	CodeIncompleteSignature:       {ErrAccessDenied, 400, false},
	"IncompleteSignature":         {ErrAccessDenied, 400, false},
	CodeMissingAuthToken:          {ErrAccessDenied, 403, false},
	"MissingAuthenticationToken":  {ErrAccessDenied, 403, false},
	"InvalidClientTokenId":        {ErrAccessDenied, 403, false},
	"RequestExpired":              {ErrAccessDenied, 400, false},
	"ExpiredTokenException":       {ErrAccessDenied, 400, false},
}

// sentinelCodes gives the AWS exception name a local backend reports for a
// sentinel.
var sentinelCodes = map[error]string{
	ErrNotFound:          CodeNotFound,
	ErrDisabled:          CodeDisabled,
	ErrInvalidState:      CodeInvalidState,
	ErrInvalidCiphertext: CodeInvalidCiphertext,
	ErrInvalidKeyUsage:   CodeInvalidKeyUsage,
	ErrAccessDenied:      CodeAccessDenied,
	ErrAlreadyExists:     CodeAlreadyExists,
	ErrThrottled:         CodeThrottling,
	ErrUnavailable:       CodeInternal,
	ErrNotSupported:      CodeUnsupported,
	ErrInvalidArgument:   CodeValidation,
	ErrClosed:            CodeInternal,
}

// StatusForCode returns the HTTP status AWS sends with an exception name
// (400 for unknown names).
func StatusForCode(code string) int {
	if ci, ok := awsCodes[code]; ok {
		return ci.status
	}
	return http.StatusBadRequest
}

// CodeOf returns the AWS KMS exception name for any error: the code of an
// *Error (or of anything with a KMSErrorCode method) in the chain, else the
// code of the sentinel it wraps, else KMSInternalException.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var c interface{ KMSErrorCode() string }
	if errors.As(err, &c) {
		return c.KMSErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeDependencyTimeout
	}
	for s, code := range sentinelCodes {
		if errors.Is(err, s) {
			return code
		}
	}
	return CodeInternal
}

// fromCode builds the *Error for an exception name received from a remote
// server. Unknown names are classified by HTTP status.
func fromCode(backend, op, keyID, code, msg string, status int) *Error {
	e := &Error{Op: op, Backend: backend, KeyID: keyID, Code: code, Message: msg, Status: status}
	if ci, ok := awsCodes[code]; ok {
		e.Err, e.Retryable = ci.sentinel, ci.retryable
		return e
	}
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		e.Err = ErrAccessDenied
	case status == http.StatusNotFound:
		e.Err = ErrNotFound
	case status == http.StatusTooManyRequests:
		e.Err, e.Retryable = ErrThrottled, true
	case status >= 500:
		e.Err, e.Retryable = ErrUnavailable, true
	default:
		e.Err = ErrInvalidArgument
	}
	if e.Code == "" {
		e.Code = sentinelCodes[e.Err]
	}
	return e
}

// newError builds the *Error a local backend returns for a sentinel.
func newError(backend, op, keyID string, sentinel error, format string, args ...any) *Error {
	code := sentinelCodes[sentinel]
	return &Error{Op: op, Backend: backend, KeyID: keyID, Code: code, Message: fmt.Sprintf(format, args...),
		Status: StatusForCode(code), Retryable: sentinel == ErrUnavailable || sentinel == ErrThrottled, Err: sentinel}
}

// withCode overrides the exception name of e (e.g. IncorrectKeyException
// for an ErrInvalidCiphertext).
func (e *Error) withCode(code string) *Error {
	e.Code = code
	e.Status = StatusForCode(code)
	return e
}

// unavailable wraps a transport failure (connection refused, TLS, timeout).
func unavailable(backend, op, keyID string, cause error) *Error {
	code := CodeInternal
	if errors.Is(cause, context.DeadlineExceeded) || isTimeout(cause) {
		code = CodeDependencyTimeout
	}
	return &Error{Op: op, Backend: backend, KeyID: keyID, Code: code, Status: StatusForCode(code), Retryable: true,
		Message: "key manager unreachable: " + cause.Error(), Err: errors.Join(ErrUnavailable, cause)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// asError makes sure err is an *Error, wrapping foreign errors (from a
// KeyManager outside this package, or a context error) so that every error
// handed to the engine carries a KMS error code.
func asError(backend, op, keyID string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return unavailable(backend, op, keyID, err)
	}
	code := CodeOf(err)
	ci, ok := awsCodes[code]
	if !ok {
		ci = codeInfo{ErrUnavailable, 500, true}
	}
	return &Error{Op: op, Backend: backend, KeyID: keyID, Code: code, Status: ci.status, Retryable: ci.retryable,
		Message: err.Error(), Err: errors.Join(ci.sentinel, err)}
}
