package crypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// Sizes of the key hierarchy's values.
const (
	KeySize  = 32 // bytes in a Key
	SaltSize = 32 // bytes in a Salt
	MACSize  = 32 // bytes in a customer-key MAC

	// MaxInfoSize bounds the caller-supplied bytes mixed into a derivation
	// (upload id, object id, info) and the binding of a sealed key.
	MaxInfoSize = 64 << 10
)

// Domain-separation labels (FORMAT.md, "Labels"). No label contains 0x00,
// and every use appends 0x00 before the fields, so no two derivations share
// an input.
const (
	labelStream    = "coffer stream v1"
	labelPartKey   = "coffer part key v1"
	labelS3KEK     = "coffer sse-s3 kek v1"
	labelBucketKEK = "coffer bucket kek v1"
	labelSeal      = "coffer sealed key v1"
	labelCustomer  = "coffer sse-c key mac v1"
)

// Key is 256 bits of key material: an object key, a part key, a
// key-encryption key or a master key.
//
// Ownership: whoever obtains a *Key (from GenerateKey, NewKey, a Derive
// function or UnsealKey) owns it and must call Zero when done. Functions in
// this package never retain or modify a *Key passed to them, so the caller
// may Zero it as soon as the call returns, including right after a stage
// constructor. A Key formats as "crypto.Key(redacted)" under every fmt verb.
type Key [KeySize]byte

// GenerateKey returns a new random key read from random, or from
// crypto/rand when random is nil. Tests may pass a seeded reader to replay
// a run; production code passes nil.
func GenerateKey(random io.Reader) (*Key, error) {
	if random == nil {
		random = cryptorand.Reader
	}
	k := new(Key)
	if _, err := io.ReadFull(random, k[:]); err != nil {
		k.Zero()
		return nil, err
	}
	return k, nil
}

// NewKey copies 32 bytes of key material (a KMS data key, an SSE-C customer
// key) into a new Key. The caller still owns b and should clear it.
func NewKey(b []byte) (*Key, error) {
	if len(b) != KeySize {
		return nil, ErrKeySize
	}
	k := new(Key)
	copy(k[:], b)
	return k, nil
}

// Zero overwrites the key with zeros. It is safe on a nil *Key.
func (k *Key) Zero() {
	if k != nil {
		clear(k[:])
	}
}

// Format implements fmt.Formatter so that no verb prints key material.
func (k Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "crypto.Key(redacted)") }

// Salt is a public random value that makes a derivation unique. Salts are
// stored in the clear next to what they salt.
type Salt [SaltSize]byte

// GenerateSalt returns a new random salt from random, or from crypto/rand
// when random is nil.
func GenerateSalt(random io.Reader) (Salt, error) {
	if random == nil {
		random = cryptorand.Reader
	}
	var s Salt
	_, err := io.ReadFull(random, s[:])
	return s, err
}

// NewSalt copies a stored salt back into a Salt. It fails with
// ErrSaltSize unless b is exactly SaltSize bytes.
func NewSalt(b []byte) (Salt, error) {
	var s Salt
	if len(b) != SaltSize {
		return s, ErrSaltSize
	}
	copy(s[:], b)
	return s, nil
}

// Identity names the stream a key encrypts: the engine's immutable 16-byte
// object (or upload) id and the part number, 0 for a single-part object. It
// is bound into the stream key derivation and into every chunk's associated
// data, so a chunk opens only under the identity it was sealed for.
type Identity struct {
	ID   [16]byte
	Part uint32
}

const identitySize = 16 + 4

func (id Identity) put(b []byte) {
	copy(b, id.ID[:])
	binary.BigEndian.PutUint32(b[16:], id.Part)
}

// derive runs HKDF-SHA256 with info = label || 0x00 || fields... and
// returns n bytes that the caller must clear.
func derive(secret *Key, salt []byte, label string, n int, fields ...[]byte) ([]byte, error) {
	size := len(label) + 1
	for _, f := range fields {
		size += len(f)
	}
	info := make([]byte, 0, size)
	info = append(info, label...)
	info = append(info, 0)
	for _, f := range fields {
		info = append(info, f...)
	}
	return hkdf.Key(sha256.New, secret[:], salt, string(info), n)
}

func deriveKey(secret *Key, salt []byte, label string, fields ...[]byte) (*Key, error) {
	if secret == nil {
		return nil, ErrNilKey
	}
	for _, f := range fields {
		if len(f) > MaxInfoSize {
			return nil, ErrInputTooLong
		}
	}
	okm, err := derive(secret, salt, label, KeySize, fields...)
	if err != nil {
		return nil, err
	}
	k := new(Key)
	copy(k[:], okm)
	clear(okm)
	return k, nil
}

// DerivePartKey derives the key of one multipart part from the upload's
// object key:
//
//	HKDF-SHA256(uploadKey, salt, "coffer part key v1" || 0x00 || be32(part) || uploadID)
//
// salt must be fresh for every UploadPart attempt (GenerateSalt) and stored
// with the part: re-uploading a part number with the same salt would reuse
// the part key, and with it every chunk nonce, for different data. uploadID
// is at most MaxInfoSize bytes. The caller owns the returned key.
func DerivePartKey(uploadKey *Key, uploadID []byte, part uint32, salt Salt) (*Key, error) {
	var pn [4]byte
	binary.BigEndian.PutUint32(pn[:], part)
	return deriveKey(uploadKey, salt[:], labelPartKey, pn[:], uploadID)
}

// DeriveS3KEK derives the key-encryption key that seals one SSE-S3 object's
// key from the store's master key, so SSE-S3 needs no key-manager call per
// object:
//
//	HKDF-SHA256(master, no salt, "coffer sse-s3 kek v1" || 0x00 || objectID)
//
// objectID is the immutable object id (at most MaxInfoSize bytes). The
// caller owns the returned key.
func DeriveS3KEK(master *Key, objectID []byte) (*Key, error) {
	return deriveKey(master, nil, labelS3KEK, objectID)
}

// DeriveKEK derives one object's key-encryption key from an S3 Bucket Key
// (a key-manager data key shared by many objects) and a random per-object
// salt that the engine stores with the object:
//
//	HKDF-SHA256(bucketKey, salt, "coffer bucket kek v1" || 0x00 || info)
//
// info is caller context such as the object id (at most MaxInfoSize bytes).
// The caller owns the returned key.
func DeriveKEK(bucketKey *Key, salt Salt, info []byte) (*Key, error) {
	return deriveKey(bucketKey, salt[:], labelBucketKEK, info)
}

// CustomerKeyMAC returns the salted MAC of an SSE-C customer key that the
// engine stores instead of the key:
//
//	HMAC-SHA256(key, "coffer sse-c key mac v1" || 0x00 || salt)
//
// The salt is random per object (GenerateSalt) and stored beside the MAC.
// A nil key yields the all-zero MAC, which CheckCustomerKey never accepts.
func CustomerKeyMAC(salt Salt, key *Key) [MACSize]byte {
	var out [MACSize]byte
	if key == nil {
		return out
	}
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(labelCustomer))
	m.Write([]byte{0})
	m.Write(salt[:])
	m.Sum(out[:0])
	return out
}

// CheckCustomerKey reports, in constant time, whether key is the customer
// key whose MAC under salt is mac. A nil key or a mac of the wrong length
// never matches.
func CheckCustomerKey(salt Salt, mac []byte, key *Key) bool {
	if key == nil || len(mac) != MACSize {
		return false
	}
	want := CustomerKeyMAC(salt, key)
	ok := subtle.ConstantTimeCompare(want[:], mac) == 1
	clear(want[:])
	return ok
}
