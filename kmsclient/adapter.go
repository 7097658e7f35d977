package kmsclient

import (
	"context"
	"fmt"
)

// EngineAdapter presents a KeyManager through the method set the engine
// declares (engine.KeyManager), using only standard types, so that the
// engine never imports this package. Every error it returns is an *Error:
// it has a KMSErrorCode method giving the AWS KMS exception name and
// unwraps to this package's sentinels. It is safe for concurrent use if the
// wrapped KeyManager is.
type EngineAdapter struct {
	km KeyManager
}

// NewEngineAdapter wraps km.
func NewEngineAdapter(km KeyManager) *EngineAdapter { return &EngineAdapter{km: km} }

// KeyManager returns the wrapped KeyManager.
func (a *EngineAdapter) KeyManager() KeyManager { return a.km }

// GenerateDataKey returns a fresh 32-byte data key, its ciphertext blob and
// the canonical key id (the key ARN for AWS and the local keyring). keyID
// "" or "alias/aws/s3" means the default key. The caller owns plaintext and
// should wipe it after use.
func (a *EngineAdapter) GenerateDataKey(ctx context.Context, keyID string, encryptionContext map[string]string) (plaintext, ciphertext []byte, keyARN string, err error) {
	dk, err := a.km.GenerateDataKey(ctx, defaultIfEmpty(keyID), EncryptionContext(encryptionContext))
	if err != nil {
		return nil, nil, "", asError(a.km.Name(), "GenerateDataKey", keyID, err)
	}
	if len(dk.Plaintext) != 32 || len(dk.Ciphertext) == 0 || dk.KeyID == "" {
		dk.Zero()
		return nil, nil, "", newError(a.km.Name(), "GenerateDataKey", keyID, ErrUnavailable,
			"backend returned a malformed data key (%d-byte plaintext)", len(dk.Plaintext))
	}
	return dk.Plaintext, dk.Ciphertext, dk.KeyID, nil
}

// Decrypt returns the plaintext of a data key blob produced for keyARN with
// the same encryption context.
func (a *EngineAdapter) Decrypt(ctx context.Context, keyARN string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	pt, err := a.km.Decrypt(ctx, keyARN, ciphertext, EncryptionContext(encryptionContext))
	if err != nil {
		return nil, asError(a.km.Name(), "Decrypt", keyARN, err)
	}
	return pt, nil
}

// DescribeKey resolves any of the four key id forms to the canonical key
// id and fails unless the key is enabled and a symmetric encryption key
// (NotFoundException, DisabledException, KMSInvalidStateException,
// InvalidKeyUsageException).
func (a *EngineAdapter) DescribeKey(ctx context.Context, keyID string) (keyARN string, err error) {
	const op = "DescribeKey"
	info, err := a.km.DescribeKey(ctx, defaultIfEmpty(keyID))
	if err != nil {
		return "", asError(a.km.Name(), op, keyID, err)
	}
	if err := info.CheckUsable(); err != nil {
		return "", asError(a.km.Name(), op, keyID, err)
	}
	id := info.CanonicalID()
	if id == "" {
		return "", newError(a.km.Name(), op, keyID, ErrUnavailable, "backend returned no key id")
	}
	return id, nil
}

func defaultIfEmpty(keyID string) string {
	if keyID == "" {
		return DefaultKeyAlias
	}
	return keyID
}

// String names the adapter and backend.
func (a *EngineAdapter) String() string {
	return fmt.Sprintf("kmsclient.EngineAdapter(%s)", a.km.Name())
}
