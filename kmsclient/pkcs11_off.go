//go:build !pkcs11 || !cgo

package kmsclient

import (
	"context"
	"fmt"
)

// PKCS11Supported reports whether this build has the PKCS#11 backend
// (built with -tags pkcs11 and cgo).
const PKCS11Supported = false

// openPKCS11 fails: this build has no PKCS#11 backend.
func openPKCS11(context.Context, PKCS11Options) (KeyManager, func() error, error) {
	return nil, nil, fmt.Errorf("%w: kmsclient was built without pkcs11 support (build with -tags pkcs11 and CGO_ENABLED=1)", ErrNotSupported)
}
