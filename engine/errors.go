package engine

import "errors"

// Sentinel errors. The S3 facade maps each to its S3 error code in one
// table; embedders test them with errors.Is.
var (
	ErrBucketNotFound     = errors.New("engine: bucket not found")
	ErrBucketExists       = errors.New("engine: bucket already exists")
	ErrBucketNotEmpty     = errors.New("engine: bucket not empty")
	ErrInvalidBucketName  = errors.New("engine: invalid bucket name")
	ErrObjectNotFound     = errors.New("engine: object not found")
	ErrInvalidObjectName  = errors.New("engine: invalid object name")
	ErrPreconditionFailed = errors.New("engine: precondition failed")
	ErrNotModified        = errors.New("engine: not modified")
	ErrInvalidRange       = errors.New("engine: invalid range")
	ErrBadDigest          = errors.New("engine: content digest mismatch")
	ErrIncompleteBody     = errors.New("engine: body shorter or longer than its declared size")
	ErrEntityTooLarge     = errors.New("engine: object larger than the maximum size")
	ErrMetadataTooLarge   = errors.New("engine: metadata too large")
	ErrInvalidArgument    = errors.New("engine: invalid argument")
	ErrInvalidCopy        = errors.New("engine: copy to itself without changing anything")
	ErrInsufficientDrives = errors.New("engine: too few drives available")
	ErrStorageFull        = errors.New("engine: drives are full")
	ErrClosed             = errors.New("engine: closed")
	ErrFailed             = errors.New("engine: failed after a fatal storage error")
	ErrCorrupt            = errors.New("engine: corrupt data") // a mark; test with errors.Is
	ErrInvalidOptions     = errors.New("engine: invalid options")
	ErrNoSuchUpload       = errors.New("engine: no such multipart upload")
	ErrInvalidPart        = errors.New("engine: a named part is missing or its ETag does not match")
	ErrInvalidPartOrder   = errors.New("engine: parts are not in ascending order")
	ErrInvalidPartNumber  = errors.New("engine: part number outside 1..10000")
	ErrEntityTooSmall     = errors.New("engine: a part other than the last is smaller than 5 MiB")

	// Encryption.
	ErrInvalidEncryptionContext = errors.New("engine: invalid encryption context")
	ErrSSECustomerKeyRequired   = errors.New("engine: the object is encrypted with a customer key; the key must be provided")
	ErrSSECustomerKeyMismatch   = errors.New("engine: the customer key does not match the object's")
	ErrSSENotApplicable         = errors.New("engine: the encryption parameters are not applicable to this object")
	ErrSSEParametersMismatch    = errors.New("engine: the encryption parameters do not match the upload's")
	ErrSSEPartParamsRequired    = errors.New("engine: the multipart upload's encryption needs the same customer-key parameters on every part")
	ErrInvalidCustomerKey       = errors.New("engine: a customer key must be 32 bytes")
	ErrEncryptionTypeBlocked    = errors.New("engine: the bucket blocks this encryption type")
	ErrNoKeyManager             = errors.New("engine: no key manager is configured for SSE-KMS")
)
