package kmsclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// DefaultKeyAlias names the default key: the key used when a caller gives
// no key id, as S3 uses the AWS managed key aws/s3. Backends create it on
// first use where they can.
const DefaultKeyAlias = "alias/aws/s3"

// Bounds on sizes that come from callers or the network.
const (
	// MaxEncryptionContextSize bounds the canonical encoding of a context.
	MaxEncryptionContextSize = 8 << 10
	// MaxCiphertextSize is AWS's bound on a ciphertext blob.
	MaxCiphertextSize = 6144
	// MaxPlaintextSize is AWS's bound on Encrypt's plaintext.
	MaxPlaintextSize = 4096
	// MaxDataKeySize is AWS's bound on NumberOfBytes.
	MaxDataKeySize = 1024
)

// EncryptionContext is the non-secret key/value map bound to a ciphertext
// as associated data. Decrypt needs the exact same map; key order does not
// matter. It is a plain map: the caller owns it and must not change it
// during a call.
type EncryptionContext map[string]string

// Validate checks the context: valid UTF-8 everywhere and a canonical
// encoding of at most MaxEncryptionContextSize bytes.
func (ec EncryptionContext) Validate() error {
	n := 2
	for k, v := range ec {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: encryption context is not valid UTF-8", ErrInvalidArgument)
		}
		if k == "" {
			return fmt.Errorf("%w: encryption context has an empty key", ErrInvalidArgument)
		}
		n += len(k) + len(v) + 6
	}
	if n > MaxEncryptionContextSize || len(ec.Canonical()) > MaxEncryptionContextSize {
		return fmt.Errorf("%w: encryption context larger than %d bytes", ErrInvalidArgument, MaxEncryptionContextSize)
	}
	return nil
}

// Canonical returns the context as UTF-8 JSON with keys sorted bytewise and
// no whitespace, e.g. {"a":"1","b":"2"}; an empty or nil context is {}. It
// is the associated data every non-AWS backend binds, so it is stable across
// versions. Only contexts that pass Validate have a unique encoding.
func (ec EncryptionContext) Canonical() []byte {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeJSONString(&b, ec[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// writeJSONString writes s as a JSON string, escaping only what JSON
// requires (quote, backslash, control characters), so the encoding does not
// depend on HTML-safety choices of a JSON library.
func writeJSONString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Clone returns a copy of the context (nil stays nil).
func (ec EncryptionContext) Clone() EncryptionContext {
	if ec == nil {
		return nil
	}
	out := make(EncryptionContext, len(ec))
	for k, v := range ec {
		out[k] = v
	}
	return out
}

// Equal reports whether two contexts hold the same pairs (nil equals empty).
func (ec EncryptionContext) Equal(other EncryptionContext) bool {
	if len(ec) != len(other) {
		return false
	}
	for k, v := range ec {
		if w, ok := other[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ParseS3Header decodes the value of S3's
// x-amz-server-side-encryption-context header: standard base64 of UTF-8
// JSON holding a flat string-to-string object. Anything else (not base64,
// not UTF-8, not an object, non-string values, duplicate keys, too large)
// is an ErrInvalidArgument.
func ParseS3Header(v string) (EncryptionContext, error) {
	if base64.StdEncoding.DecodedLen(len(v)) > MaxEncryptionContextSize*2 {
		return nil, fmt.Errorf("%w: encryption context header too large", ErrInvalidArgument)
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encryption context is not base64", ErrInvalidArgument)
	}
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%w: encryption context is not UTF-8", ErrInvalidArgument)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: encryption context is not a JSON object", ErrInvalidArgument)
	}
	ec := EncryptionContext{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: malformed encryption context JSON", ErrInvalidArgument)
		}
		k := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: malformed encryption context JSON", ErrInvalidArgument)
		}
		s, ok := vt.(string)
		if !ok {
			return nil, fmt.Errorf("%w: encryption context value for %s is not a string", ErrInvalidArgument, strconv.Quote(k))
		}
		if _, dup := ec[k]; dup {
			return nil, fmt.Errorf("%w: duplicate encryption context key %s", ErrInvalidArgument, strconv.Quote(k))
		}
		ec[k] = s
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("%w: malformed encryption context JSON", ErrInvalidArgument)
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("%w: trailing data after encryption context", ErrInvalidArgument)
	}
	if err := ec.Validate(); err != nil {
		return nil, err
	}
	return ec, nil
}

// DataKey is a data key as returned by GenerateDataKey. Plaintext belongs to
// the caller, who should call Zero when done with it.
type DataKey struct {
	// KeyID is the backend's canonical id of the key that protects the
	// data key: the key ARN for AWS and the local keyring, the key name for
	// KES. Store it, not the alias the caller used.
	KeyID string
	// Plaintext is the data key (nil with WithoutPlaintext).
	Plaintext []byte
	// Ciphertext is the opaque blob to store.
	Ciphertext []byte
}

// Zero overwrites the plaintext.
func (d *DataKey) Zero() { clear(d.Plaintext) }

// String never prints the plaintext.
func (d DataKey) String() string {
	return fmt.Sprintf("DataKey{KeyID: %q, Plaintext: <%d bytes redacted>, Ciphertext: <%d bytes>}", d.KeyID, len(d.Plaintext), len(d.Ciphertext))
}

// GoString is String, so %#v cannot leak the plaintext either.
func (d DataKey) GoString() string { return d.String() }

// DataKeyOption adjusts GenerateDataKey.
type DataKeyOption func(*dataKeyOptions)

type dataKeyOptions struct {
	size        int
	noPlaintext bool
}

// WithNumberOfBytes asks for a data key of n bytes (1..1024; default 32).
func WithNumberOfBytes(n int) DataKeyOption { return func(o *dataKeyOptions) { o.size = n } }

// WithoutPlaintext asks for the ciphertext only (GenerateDataKeyWithoutPlaintext).
func WithoutPlaintext() DataKeyOption { return func(o *dataKeyOptions) { o.noPlaintext = true } }

func collectDataKeyOptions(opts []DataKeyOption) (dataKeyOptions, error) {
	o := dataKeyOptions{size: 32}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	if o.size < 1 || o.size > MaxDataKeySize {
		return o, fmt.Errorf("%w: NumberOfBytes %d outside 1..%d", ErrInvalidArgument, o.size, MaxDataKeySize)
	}
	return o, nil
}

// KeyState is a key's lifecycle state, with AWS's names.
type KeyState string

// Key states.
const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	KeyStateUnavailable     KeyState = "Unavailable"
)

// KeySpec is a key's type, with AWS's names.
type KeySpec string

// Key specs. Only SymmetricDefault can make data keys.
const (
	KeySpecSymmetricDefault KeySpec = "SYMMETRIC_DEFAULT"
	KeySpecRSA2048          KeySpec = "RSA_2048"
	KeySpecRSA3072          KeySpec = "RSA_3072"
	KeySpecRSA4096          KeySpec = "RSA_4096"
	KeySpecECCNISTP256      KeySpec = "ECC_NIST_P256"
	KeySpecECCNISTP384      KeySpec = "ECC_NIST_P384"
	KeySpecECCNISTP521      KeySpec = "ECC_NIST_P521"
	KeySpecECCSECGP256K1    KeySpec = "ECC_SECG_P256K1"
	KeySpecHMAC256          KeySpec = "HMAC_256"
)

// KeyUsage is what a key may be used for, with AWS's names.
type KeyUsage string

// Key usages.
const (
	KeyUsageEncryptDecrypt    KeyUsage = "ENCRYPT_DECRYPT"
	KeyUsageSignVerify        KeyUsage = "SIGN_VERIFY"
	KeyUsageGenerateVerifyMAC KeyUsage = "GENERATE_VERIFY_MAC"
	KeyUsageKeyAgreement      KeyUsage = "KEY_AGREEMENT"
)

// KeyInfo describes a key. It holds no key material.
type KeyInfo struct {
	// KeyID is the bare key id (a UUID for AWS and the keyring, the name
	// for KES).
	KeyID string
	// ARN is the key ARN ("" where the backend has none).
	ARN string
	// Description is free text.
	Description string
	// Aliases lists the key's alias names ("alias/…").
	Aliases []string
	// State is the lifecycle state.
	State KeyState
	// Spec and Usage say what the key can do.
	Spec  KeySpec
	Usage KeyUsage
	// CreatedAt is the creation time (zero when unknown).
	CreatedAt time.Time
	// DeletionDate is set while State is PendingDeletion.
	DeletionDate time.Time
	// AWSManaged marks the default key (KeyManager "AWS" on the wire).
	AWSManaged bool
	// Versions counts the key material versions (rotations + 1) where the
	// backend exposes it.
	Versions int
}

// CanonicalID returns the ARN if there is one and the key id otherwise: the
// value to store with encrypted data.
func (k KeyInfo) CanonicalID() string {
	if k.ARN != "" {
		return k.ARN
	}
	return k.KeyID
}

// CheckUsable reports why the key cannot make data keys, or nil: the
// checks SSE-KMS needs (enabled, symmetric, ENCRYPT_DECRYPT).
func (k KeyInfo) CheckUsable() error {
	id := k.CanonicalID()
	switch k.State {
	case KeyStateEnabled:
	case KeyStateDisabled:
		return fmt.Errorf("%w: %s is disabled", ErrDisabled, id)
	case KeyStatePendingDeletion:
		return fmt.Errorf("%w: %s is pending deletion", ErrInvalidState, id)
	default:
		return fmt.Errorf("%w: %s is in state %s", ErrInvalidState, id, k.State)
	}
	if k.Spec != KeySpecSymmetricDefault || k.Usage != KeyUsageEncryptDecrypt {
		return fmt.Errorf("%w: %s is a %s key for %s, not a symmetric encryption key", ErrInvalidKeyUsage, id, k.Spec, k.Usage)
	}
	return nil
}

// Alias is an alias record.
type Alias struct {
	Name        string // "alias/…"
	ARN         string // alias ARN, "" where the backend has none
	TargetKeyID string // bare key id
	CreatedAt   time.Time
}

// CreateKeyInput is the input of KeyAdmin.CreateKey. The zero value makes a
// symmetric encryption key.
type CreateKeyInput struct {
	Description string
	Spec        KeySpec  // default SYMMETRIC_DEFAULT
	Usage       KeyUsage // default ENCRYPT_DECRYPT
	Tags        map[string]string
	// Alias, if set, is created for the new key in the same step.
	Alias string
}

// KeyManager is the core every backend implements: what SSE-S3, SSE-KMS and
// DSSE-KMS need. Implementations are safe for concurrent use. Every error is
// an *Error wrapping one of the sentinels.
type KeyManager interface {
	// GenerateDataKey returns a fresh data key protected by keyID (any id
	// form the backend knows; "" or DefaultKeyAlias means the default key)
	// and bound to ec. DataKey.KeyID is the canonical id to store.
	GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error)
	// Decrypt returns the plaintext of a blob made by GenerateDataKey (or
	// Encrypt). keyID is the stored canonical id; a blob made under another
	// key is refused. ec must equal the context the blob was made with.
	Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error)
	// DescribeKey resolves any key id form to the key's description.
	DescribeKey(ctx context.Context, keyID string) (KeyInfo, error)
	// Name identifies the backend in errors, metrics and audit records.
	Name() string
}

// Encrypter is implemented by backends that encrypt small caller-chosen
// plaintexts (at most MaxPlaintextSize bytes).
type Encrypter interface {
	Encrypt(ctx context.Context, keyID string, plaintext []byte, ec EncryptionContext) (ciphertext []byte, canonicalKeyID string, err error)
}

// KeyAdmin is implemented by backends whose keys can be managed through
// this package (the local keyring and AWS KMS).
type KeyAdmin interface {
	CreateKey(ctx context.Context, in CreateKeyInput) (KeyInfo, error)
	ListKeys(ctx context.Context) ([]KeyInfo, error)
	CreateAlias(ctx context.Context, alias, targetKeyID string) error
	DeleteAlias(ctx context.Context, alias string) error
	ListAliases(ctx context.Context, keyID string) ([]Alias, error)
	EnableKey(ctx context.Context, keyID string) error
	DisableKey(ctx context.Context, keyID string) error
	// ScheduleKeyDeletion starts the waiting period (7 to 30 days) after
	// which the key is deleted, and returns the deletion date.
	ScheduleKeyDeletion(ctx context.Context, keyID string, window time.Duration) (time.Time, error)
	// CancelKeyDeletion stops a scheduled deletion; the key is left disabled.
	CancelKeyDeletion(ctx context.Context, keyID string) error
	// RotateKey makes new key material current; old material keeps
	// decrypting what it protected.
	RotateKey(ctx context.Context, keyID string) error
}

// HealthChecker is implemented by backends that can check reachability.
type HealthChecker interface {
	Check(ctx context.Context) error
}
