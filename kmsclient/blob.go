package kmsclient

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The keyring's ciphertext blob (format version 1):
//
//	version(1) ‖ key UUID(16) ‖ key version(4, big endian) ‖ salt(32) ‖ nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16)
//
// The GCM key is HKDF-SHA256(key material, salt, blobInfo), unique per blob,
// so random nonces never approach GCM's reuse bound. The associated data is
// the 65 header bytes followed by the canonical encryption context, which
// binds the key, the key version and the context.
const (
	blobFormatV1  = 1
	blobUUIDLen   = 16
	blobSaltLen   = 32
	blobNonceLen  = 12
	blobTagLen    = 16
	blobHeaderLen = 1 + blobUUIDLen + 4 + blobSaltLen + blobNonceLen
	blobOverhead  = blobHeaderLen + blobTagLen
	blobInfo      = "coffer kms keyring blob v1"
	materialLen   = 32
)

var errBadBlob = errors.New("kmsclient: malformed ciphertext blob")

// blobHeader is the parsed, unauthenticated header of a blob.
type blobHeader struct {
	uuid    [blobUUIDLen]byte
	version uint32
}

// parseBlob checks a blob's framing and returns its header. Nothing is
// authenticated yet.
func parseBlob(b []byte) (blobHeader, error) {
	var h blobHeader
	if len(b) < blobOverhead+1 || len(b) > MaxCiphertextSize {
		return h, fmt.Errorf("%w: length %d", errBadBlob, len(b))
	}
	if b[0] != blobFormatV1 {
		return h, fmt.Errorf("%w: unknown format %d", errBadBlob, b[0])
	}
	copy(h.uuid[:], b[1:1+blobUUIDLen])
	h.version = binary.BigEndian.Uint32(b[1+blobUUIDLen:])
	if h.version == 0 {
		return h, fmt.Errorf("%w: key version 0", errBadBlob)
	}
	return h, nil
}

func blobAEAD(material, salt []byte) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, material, salt, blobInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(sub)
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealBlob encrypts plaintext under material for (uuid, version), binding
// the canonical context ec.
func sealBlob(rnd io.Reader, material []byte, uuid [blobUUIDLen]byte, version uint32, plaintext, ec []byte) ([]byte, error) {
	out := make([]byte, blobHeaderLen, blobOverhead+len(plaintext))
	out[0] = blobFormatV1
	copy(out[1:], uuid[:])
	binary.BigEndian.PutUint32(out[1+blobUUIDLen:], version)
	saltAndNonce := out[1+blobUUIDLen+4 : blobHeaderLen]
	if _, err := io.ReadFull(rnd, saltAndNonce); err != nil {
		return nil, fmt.Errorf("kmsclient: reading randomness: %w", err)
	}
	aead, err := blobAEAD(material, saltAndNonce[:blobSaltLen])
	if err != nil {
		return nil, err
	}
	aad := make([]byte, 0, blobHeaderLen+len(ec))
	aad = append(append(aad, out...), ec...)
	return aead.Seal(out, saltAndNonce[blobSaltLen:], plaintext, aad), nil
}

// openBlob authenticates and decrypts a blob whose header was parsed.
func openBlob(material, blob, ec []byte) ([]byte, error) {
	salt := blob[1+blobUUIDLen+4 : 1+blobUUIDLen+4+blobSaltLen]
	nonce := blob[blobHeaderLen-blobNonceLen : blobHeaderLen]
	aead, err := blobAEAD(material, salt)
	if err != nil {
		return nil, err
	}
	aad := make([]byte, 0, blobHeaderLen+len(ec))
	aad = append(append(aad, blob[:blobHeaderLen]...), ec...)
	return aead.Open(nil, nonce, blob[blobHeaderLen:], aad)
}
