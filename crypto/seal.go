package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"io"
)

// Sealed-key format v1 (FORMAT.md, "Sealed keys").
const (
	// SealedKeyVersion is the version byte that starts every sealed key this
	// package writes.
	SealedKeyVersion = 1

	// SealedKeySize is the size of a version-1 sealed key:
	// version || salt || ciphertext || tag.
	SealedKeySize = 1 + SaltSize + KeySize + TagSize
)

// sealAEAD derives the one-time key and nonce of one seal from kek and the
// seal's random salt and returns the AEAD with the nonce.
func sealAEAD(kek *Key, salt []byte) (cipher.AEAD, [nonceSize]byte, error) {
	var nonce [nonceSize]byte
	okm, err := derive(kek, salt, labelSeal, KeySize+nonceSize)
	if err != nil {
		return nil, nonce, err
	}
	defer clear(okm)
	block, err := aes.NewCipher(okm[:KeySize])
	if err != nil {
		return nil, nonce, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nonce, err
	}
	copy(nonce[:], okm[KeySize:])
	return aead, nonce, nil
}

func sealAAD(binding []byte) []byte {
	aad := make([]byte, 0, len(labelSeal)+2+len(binding))
	aad = append(aad, labelSeal...)
	aad = append(aad, 0, SealedKeyVersion)
	return append(aad, binding...)
}

// SealKey encrypts key under the key-encryption key kek and returns a new
// SealedKeySize-byte blob that is safe to store. binding is the context the
// key belongs to (the object's immutable id, the SSE mode, the key-manager
// key id, ...), at most MaxInfoSize bytes; UnsealKey needs the same bytes.
// Each seal uses a fresh salt from random (crypto/rand when nil), so one KEK
// may seal any number of keys. Neither kek nor key is retained.
func SealKey(kek, key *Key, binding []byte, random io.Reader) ([]byte, error) {
	if kek == nil || key == nil {
		return nil, ErrNilKey
	}
	if len(binding) > MaxInfoSize {
		return nil, ErrInputTooLong
	}
	if random == nil {
		random = cryptorand.Reader
	}
	out := make([]byte, 1+SaltSize, SealedKeySize)
	out[0] = SealedKeyVersion
	if _, err := io.ReadFull(random, out[1:]); err != nil {
		return nil, err
	}
	aead, nonce, err := sealAEAD(kek, out[1:])
	if err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce[:], key[:], sealAAD(binding)), nil
}

// UnsealKey decrypts a blob made by SealKey. Any malformed, tampered or
// unknown-version blob, wrong kek or wrong binding gives ErrUnseal, with no
// further detail. The caller owns the returned key. sealed and binding are
// only read.
func UnsealKey(kek *Key, sealed, binding []byte) (*Key, error) {
	if kek == nil {
		return nil, ErrNilKey
	}
	if len(sealed) != SealedKeySize || sealed[0] != SealedKeyVersion || len(binding) > MaxInfoSize {
		return nil, ErrUnseal
	}
	aead, nonce, err := sealAEAD(kek, sealed[1:1+SaltSize])
	if err != nil {
		return nil, ErrUnseal
	}
	k := new(Key)
	if _, err := aead.Open(k[:0], nonce[:], sealed[1+SaltSize:], sealAAD(binding)); err != nil {
		k.Zero()
		return nil, ErrUnseal
	}
	return k, nil
}
