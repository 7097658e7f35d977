package engine

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// SSEType is a server-side encryption mode.
type SSEType uint8

// Encryption modes. SSEDefault in a request means "whatever the bucket's
// default encryption says" (SSE-S3 for a bucket with no configuration).
const (
	SSEDefault SSEType = iota
	// SSENone stores an object unencrypted. S3 has no such request; an
	// embedder asks for it explicitly, per request or as a bucket default.
	SSENone
	SSES3   // AES256: keys held by the store, no key-manager call per object
	SSEKMS  // aws:kms: object keys sealed under key-manager data keys
	DSSEKMS // aws:kms:dsse: two independent layers, two data keys
	SSEC    // customer-provided key, never stored
)

// String returns the S3 name of the mode (x-amz-server-side-encryption).
func (t SSEType) String() string {
	switch t {
	case SSES3:
		return "AES256"
	case SSEKMS:
		return "aws:kms"
	case DSSEKMS:
		return "aws:kms:dsse"
	case SSEC:
		return "SSE-C"
	case SSENone:
		return "NONE"
	}
	return "default"
}

// ParseSSEAlgorithm parses an x-amz-server-side-encryption value.
func ParseSSEAlgorithm(s string) (SSEType, error) {
	switch s {
	case "AES256":
		return SSES3, nil
	case "aws:kms":
		return SSEKMS, nil
	case "aws:kms:dsse":
		return DSSEKMS, nil
	}
	return SSEDefault, fmt.Errorf("%w: unknown server-side encryption %q", ErrInvalidArgument, s)
}

// SSE are the encryption parameters of a write. The zero value takes the
// bucket default.
type SSE struct {
	Type SSEType
	// KMSKeyID names the key-manager key in any form (key id, key ARN,
	// alias/name, alias ARN); empty means the default key (aws/s3).
	KMSKeyID string
	// Context is the client's encryption context (x-amz-server-side-
	// encryption-context, decoded). The engine adds aws:s3:arn.
	Context map[string]string
	// BucketKey overrides the bucket's Bucket Key setting when not nil.
	BucketKey *bool
	// CustomerKey is the SSE-C key, 32 bytes. The engine never stores it
	// and does not retain the slice.
	CustomerKey []byte
}

// SSEInfo describes how a stored object is encrypted, as S3 reports it.
type SSEInfo struct {
	Type      SSEType
	KMSKeyARN string
	// Context is the encryption context as the client sent it (nil if it
	// sent none), for the responses that echo it.
	Context   map[string]string
	BucketKey bool
	// CustomerKeyMD5 is the base64 MD5 of the SSE-C key of the request
	// that read or wrote the object.
	CustomerKeyMD5 string
}

// BucketEncryption is a bucket's default encryption rule.
type BucketEncryption struct {
	// Algorithm is SSES3, SSEKMS, DSSEKMS, or SSENone for an embedder's
	// plain bucket.
	Algorithm        SSEType
	KMSKeyID         string // only with SSEKMS and DSSEKMS
	BucketKeyEnabled bool
	// Blocked lists encryption types writes may not use: "SSE-C", "NONE".
	Blocked []string
}

// Validate checks the rule as S3's PutBucketEncryption does.
func (b *BucketEncryption) Validate() error {
	switch b.Algorithm {
	case SSES3, SSEKMS, DSSEKMS, SSENone:
	default:
		return fmt.Errorf("%w: default encryption algorithm %v", ErrInvalidArgument, b.Algorithm)
	}
	if b.KMSKeyID != "" && b.Algorithm != SSEKMS && b.Algorithm != DSSEKMS {
		return fmt.Errorf("%w: a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse", ErrInvalidArgument)
	}
	if len(b.KMSKeyID) > 2048 {
		return fmt.Errorf("%w: KMSMasterKeyID too long", ErrInvalidArgument)
	}
	for _, t := range b.Blocked {
		if t != "SSE-C" && t != "NONE" {
			return fmt.Errorf("%w: unknown blocked encryption type %q", ErrInvalidArgument, t)
		}
	}
	return nil
}

func (b *BucketEncryption) blocks(t string) bool { return slices.Contains(b.Blocked, t) }

// KeyManager is what the engine needs of a key manager (KMS). kmsclient
// provides implementations; an embedder may bring its own. Errors should
// implement KMSErrorCode() string with the AWS KMS exception name
// (NotFoundException, DisabledException, KMSInvalidStateException,
// InvalidCiphertextException, AccessDeniedException, ...), which the engine
// reports through *KMSError. Implementations must be safe for concurrent
// use.
type KeyManager interface {
	// GenerateDataKey returns a fresh 32-byte data key, its ciphertext
	// blob, and the canonical key ARN.
	GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (plaintext, ciphertext []byte, keyARN string, err error)
	// Decrypt returns the plaintext of a data key blob produced for keyARN
	// with the same context.
	Decrypt(ctx context.Context, keyARN string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error)
	// DescribeKey resolves a key id in any form to the key ARN, failing if
	// the key is unknown, disabled, pending deletion or not symmetric.
	DescribeKey(ctx context.Context, keyID string) (keyARN string, err error)
}

// KMSError is a key-manager failure, with the AWS KMS exception name S3
// reports as "KMS.<Code>".
type KMSError struct {
	Code string // e.g. NotFoundException; "" when the backend gave none
	Err  error
}

func (e *KMSError) Error() string { return "engine: key manager: " + e.Err.Error() }

// Unwrap returns the key manager's error.
func (e *KMSError) Unwrap() error { return e.Err }

func kmsErr(err error) error {
	if err == nil {
		return nil
	}
	var ke *KMSError
	if errors.As(err, &ke) {
		return err
	}
	code := ""
	var coded interface{ KMSErrorCode() string }
	if errors.As(err, &coded) {
		code = coded.KMSErrorCode()
	}
	return &KMSError{Code: code, Err: err}
}

// ParseEncryptionContext decodes x-amz-server-side-encryption-context:
// base64 of a UTF-8 JSON object of string values.
func ParseEncryptionContext(header string) (map[string]string, error) {
	bad := fmt.Errorf("%w: the header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map", ErrInvalidEncryptionContext)
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil, bad
	}
	m, err := decodeStringMap(raw)
	if err != nil {
		return nil, bad
	}
	return m, nil
}

// CustomerKeyMD5 returns the base64 MD5 of an SSE-C key, as S3 returns it.
func CustomerKeyMD5(key []byte) string {
	s := md5.Sum(key)
	return base64.StdEncoding.EncodeToString(s[:])
}

// bucketARN and objectARN are the aws:s3:arn context values.
func bucketARN(bucket string) string      { return "arn:aws:s3:::" + bucket }
func objectARN(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// kmsContext returns the context sent to the key manager: the client's
// plus aws:s3:arn, checking a client-supplied aws:s3:arn.
func kmsContext(client map[string]string, arn string) (map[string]string, error) {
	out := make(map[string]string, len(client)+1)
	for k, v := range client {
		out[k] = v
	}
	if v, ok := client["aws:s3:arn"]; ok && v != arn {
		if strings.Contains(arn, "/") {
			return nil, fmt.Errorf("%w: the context value for 'aws:s3:arn' shall be equal to object's ARN", ErrInvalidEncryptionContext)
		}
		return nil, fmt.Errorf("%w: the context value for 'aws:s3:arn' shall be equal to the bucket's ARN", ErrInvalidEncryptionContext)
	}
	out["aws:s3:arn"] = arn
	return out, nil
}
