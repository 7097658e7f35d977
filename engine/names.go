package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Limits S3 documents.
const (
	MaxKeyLength      = 1024
	MaxUserMetadata   = 2 << 10 // bytes of x-amz-meta-* names and values
	MaxObjectSize     = 5 << 40
	MaxPutPartSize    = 5 << 30
	maxBucketNameLen  = 63
	minBucketNameLen  = 3
	maxContentHeaders = 8 << 10
)

// ValidateBucketName checks S3's general-purpose bucket naming rules.
func ValidateBucketName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %q: %s", ErrInvalidBucketName, name, why) }
	if len(name) < minBucketNameLen || len(name) > maxBucketNameLen {
		return bad("must be 3 to 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("only lowercase letters, digits, dots and hyphens")
		}
	}
	if !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("two adjacent periods")
	}
	if strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return bad("a period next to a hyphen")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("reserved prefix " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("reserved suffix " + s)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ValidateObjectKey checks an object key: 1 to 1024 bytes of valid UTF-8
// without NUL (S3 cannot represent NUL in its XML listings).
func ValidateObjectKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidObjectName)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: key longer than %d bytes", ErrInvalidObjectName, MaxKeyLength)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key is not valid UTF-8", ErrInvalidObjectName)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: key contains NUL", ErrInvalidObjectName)
	}
	return nil
}
