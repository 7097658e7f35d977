//go:build !pkcs11 || !cgo

package kmsclient

import (
	"errors"
	"strings"
	"testing"
)

// TestOpenPKCS11WithoutSupport: a build without the pkcs11 tag refuses
// pkcs11: URIs clearly, after checking the URI itself.
func TestOpenPKCS11WithoutSupport(t *testing.T) {
	if PKCS11Supported {
		t.Fatal("PKCS11Supported in a build without the pkcs11 tag")
	}
	env := envFrom(map[string]string{EnvPKCS11PIN: "1234"})
	_, err := Open(bg, Config{URI: "pkcs11:?module=/usr/lib/softhsm/libsofthsm2.so&token=s3kms", Getenv: env})
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "built without pkcs11 support") {
		t.Fatalf("Open: %v", err)
	}
	// URI errors still come first.
	_, err = Open(bg, Config{URI: "pkcs11:?module=/m.so&token=t&pin=1234", Getenv: env})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("secret in URI: %v", err)
	}
}
