package kmsclient

import (
	"errors"
	"fmt"
	"strings"
)

// This file holds what the PKCS#11 backend shares between builds with and
// without the pkcs11 tag: options, key labels and the blob format, so that
// they are tested (and fuzzed) without cgo.

const (
	// DefaultPKCS11Key is the label of the token key that stands in for the
	// default key (alias/aws/s3) unless PKCS11Options.DefaultKey names
	// another. It is created on first use if it does not exist.
	DefaultPKCS11Key = "coffer-default"

	maxPKCS11LabelLen     = 64
	maxPKCS11TokenLabel   = 32 // CK_TOKEN_INFO.label is 32 bytes
	maxPKCS11Sessions     = 256
	defaultPKCS11Sessions = 4
)

// PKCS11Options configures the PKCS#11 backend (OpenPKCS11 in builds with
// the pkcs11 tag, or Open with a pkcs11: URI).
type PKCS11Options struct {
	// Module is the path of the PKCS#11 library, for example
	// /usr/lib/softhsm/libsofthsm2.so. Required.
	Module string
	// TokenLabel selects the token (exactly one token must carry it).
	// Required.
	TokenLabel string
	// PIN is the user PIN. It may be empty only if the token needs no
	// login. It is kept in memory to log in again when the session pool
	// reopens sessions.
	PIN string
	// DefaultKey is the label of the key used for "" and alias/aws/s3
	// (default DefaultPKCS11Key); it is created on first use.
	DefaultKey string
	// MaxSessions bounds the sessions kept open on the token, which is the
	// number of concurrent operations (default 4, at most 256).
	MaxSessions int
}

// String redacts the PIN.
func (o PKCS11Options) String() string {
	return fmt.Sprintf("PKCS11Options{Module: %q, TokenLabel: %q, PIN: %s, DefaultKey: %q, MaxSessions: %d}",
		o.Module, o.TokenLabel, redactedIf(o.PIN), o.DefaultKey, o.MaxSessions)
}

// GoString redacts the PIN.
func (o PKCS11Options) GoString() string { return o.String() }

// Validate reports every problem with the options at once.
func (o *PKCS11Options) Validate() error {
	var errs []error
	if o.Module == "" {
		errs = append(errs, errors.New("kmsclient: PKCS11Options.Module is required"))
	}
	if o.TokenLabel == "" || len(o.TokenLabel) > maxPKCS11TokenLabel || strings.TrimRight(o.TokenLabel, " ") != o.TokenLabel {
		errs = append(errs, fmt.Errorf("kmsclient: PKCS11Options.TokenLabel must be 1 to %d bytes without trailing spaces", maxPKCS11TokenLabel))
	}
	if o.DefaultKey != "" && !validPKCS11Label(o.DefaultKey) {
		errs = append(errs, fmt.Errorf("kmsclient: PKCS11Options.DefaultKey %q is not a valid key label (1 to %d of A-Z a-z 0-9 . _ -)", o.DefaultKey, maxPKCS11LabelLen))
	}
	if o.MaxSessions < 0 || o.MaxSessions > maxPKCS11Sessions {
		errs = append(errs, fmt.Errorf("kmsclient: PKCS11Options.MaxSessions %d outside 0..%d", o.MaxSessions, maxPKCS11Sessions))
	}
	return errors.Join(errs...)
}

// validPKCS11Label reports whether s can name a key here: 1 to 64 bytes of
// [A-Za-z0-9._-]. Labels are the canonical key ids of the backend, so they
// stay printable and free of the separators of the other id forms.
func validPKCS11Label(s string) bool {
	if s == "" || len(s) > maxPKCS11LabelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// The PKCS#11 backend's ciphertext blob (format version 1):
//
//	version(1) = 0x01 ‖ L(1) ‖ key label(L bytes) ‖ IV(12) ‖ AES-GCM ciphertext ‖ tag(16)
//
// The data key is sealed on the token with CKM_AES_GCM (128-bit tag) under
// the secret key whose CKA_LABEL is the label. The associated data is
// version ‖ L ‖ label followed by the canonical encryption context, which
// binds the format, the key label and the context; the IV is bound by GCM
// itself. The IV is not part of the associated data because some tokens
// choose the IV themselves during C_Encrypt. IVs are 96 random bits from
// C_GenerateRandom: rotate a key (make a new label) well before 2^32 data
// keys.
const (
	pkcs11BlobV1    = 1
	pkcs11IVLen     = 12
	pkcs11TagLen    = 16
	pkcs11MinHeader = 2
)

var errBadPKCS11Blob = errors.New("kmsclient: malformed PKCS#11 ciphertext blob")

// pkcs11AAD returns the associated data for a blob under label.
func pkcs11AAD(label string, canonicalEC []byte) []byte {
	aad := make([]byte, 0, pkcs11MinHeader+len(label)+len(canonicalEC))
	aad = append(aad, pkcs11BlobV1, byte(len(label)))
	aad = append(aad, label...)
	return append(aad, canonicalEC...)
}

// pkcs11Blob assembles a blob from its parts.
func pkcs11Blob(label string, iv, sealed []byte) []byte {
	b := make([]byte, 0, pkcs11MinHeader+len(label)+len(iv)+len(sealed))
	b = append(b, pkcs11BlobV1, byte(len(label)))
	b = append(b, label...)
	b = append(b, iv...)
	return append(b, sealed...)
}

// parsePKCS11Blob splits a blob into label, IV and sealed bytes (ciphertext
// and tag). Nothing is authenticated yet.
func parsePKCS11Blob(b []byte) (label string, iv, sealed []byte, err error) {
	if len(b) < pkcs11MinHeader || len(b) > MaxCiphertextSize {
		return "", nil, nil, fmt.Errorf("%w: length %d", errBadPKCS11Blob, len(b))
	}
	if b[0] != pkcs11BlobV1 {
		return "", nil, nil, fmt.Errorf("%w: unknown format %d", errBadPKCS11Blob, b[0])
	}
	n := int(b[1])
	if len(b) < pkcs11MinHeader+n+pkcs11IVLen+pkcs11TagLen+1 {
		return "", nil, nil, fmt.Errorf("%w: length %d", errBadPKCS11Blob, len(b))
	}
	label = string(b[pkcs11MinHeader : pkcs11MinHeader+n])
	if !validPKCS11Label(label) {
		return "", nil, nil, fmt.Errorf("%w: bad key label", errBadPKCS11Blob)
	}
	iv = b[pkcs11MinHeader+n : pkcs11MinHeader+n+pkcs11IVLen]
	sealed = b[pkcs11MinHeader+n+pkcs11IVLen:]
	return label, iv, sealed, nil
}
