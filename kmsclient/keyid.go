package kmsclient

import (
	"fmt"
	"strings"
)

// KeyRefKind is the form of a key reference.
type KeyRefKind int

// The four AWS key id forms.
const (
	KeyRefID       KeyRefKind = iota + 1 // 1234abcd-12ab-34cd-56ef-1234567890ab
	KeyRefARN                            // arn:aws:kms:us-east-2:111122223333:key/1234abcd-…
	KeyRefAlias                          // alias/my-key
	KeyRefAliasARN                       // arn:aws:kms:us-east-2:111122223333:alias/my-key
)

// KeyRef is a parsed key reference.
type KeyRef struct {
	Kind KeyRefKind
	// ID is the bare key id for KeyRefID and KeyRefARN.
	ID string
	// Alias is the full alias name ("alias/…") for the alias forms.
	Alias string
	// Partition, Region and Account come from an ARN.
	Partition, Region, Account string
}

// maxKeyRefLen bounds a key reference (AWS allows 2048 characters).
const maxKeyRefLen = 2048

// ParseKeyRef parses any of the four AWS key id forms. It checks shape
// only; whether the key exists is the backend's question.
func ParseKeyRef(s string) (KeyRef, error) {
	if s == "" {
		return KeyRef{}, fmt.Errorf("%w: empty key id", ErrInvalidArgument)
	}
	if len(s) > maxKeyRefLen {
		return KeyRef{}, fmt.Errorf("%w: key id longer than %d characters", ErrInvalidArgument, maxKeyRefLen)
	}
	if strings.HasPrefix(s, "alias/") {
		if err := ValidateAliasName(s); err != nil {
			return KeyRef{}, err
		}
		return KeyRef{Kind: KeyRefAlias, Alias: s}, nil
	}
	if strings.HasPrefix(s, "arn:") {
		// arn:partition:kms:region:account:resource
		parts := strings.SplitN(s, ":", 6)
		if len(parts) != 6 || parts[1] == "" || parts[2] != "kms" || parts[3] == "" || !isAccount(parts[4]) {
			return KeyRef{}, fmt.Errorf("%w: malformed KMS ARN", ErrInvalidArgument)
		}
		ref := KeyRef{Partition: parts[1], Region: parts[3], Account: parts[4]}
		switch res := parts[5]; {
		case strings.HasPrefix(res, "key/"):
			ref.Kind, ref.ID = KeyRefARN, strings.TrimPrefix(res, "key/")
			if !validKeyID(ref.ID) {
				return KeyRef{}, fmt.Errorf("%w: malformed key id in ARN", ErrInvalidArgument)
			}
		case strings.HasPrefix(res, "alias/"):
			ref.Kind, ref.Alias = KeyRefAliasARN, res
			if err := ValidateAliasName(res); err != nil {
				return KeyRef{}, err
			}
		default:
			return KeyRef{}, fmt.Errorf("%w: KMS ARN names neither a key nor an alias", ErrInvalidArgument)
		}
		return ref, nil
	}
	if !validKeyID(s) {
		return KeyRef{}, fmt.Errorf("%w: %q is not a key id, key ARN, alias name or alias ARN", ErrInvalidArgument, truncateID(s))
	}
	return KeyRef{Kind: KeyRefID, ID: s}, nil
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validKeyID accepts AWS key ids: UUIDs, multi-Region "mrk-" ids, and
// generally 1..128 characters of [A-Za-z0-9-].
func validKeyID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateAliasName checks an alias name: "alias/" followed by 1..250
// characters of [A-Za-z0-9/_-].
func ValidateAliasName(s string) error {
	name, ok := strings.CutPrefix(s, "alias/")
	if !ok || name == "" || len(s) > 256 {
		return fmt.Errorf("%w: alias name must be alias/ followed by 1 to 250 characters", ErrInvalidArgument)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '_' || c == '-') {
			return fmt.Errorf("%w: alias name may contain only A-Z a-z 0-9 / _ -", ErrInvalidArgument)
		}
	}
	return nil
}

// IsReservedAlias reports whether an alias lies in the alias/aws/ namespace
// that only the key manager itself may use.
func IsReservedAlias(s string) bool { return strings.HasPrefix(s, "alias/aws/") }

func truncateID(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// KeyARN formats arn:<partition>:kms:<region>:<account>:key/<id>.
func KeyARN(partition, region, account, id string) string {
	return "arn:" + partition + ":kms:" + region + ":" + account + ":key/" + id
}

// AliasARN formats arn:<partition>:kms:<region>:<account>:<alias>.
func AliasARN(partition, region, account, alias string) string {
	return "arn:" + partition + ":kms:" + region + ":" + account + ":" + alias
}

// isDefaultKey reports whether a key reference means the default key.
func isDefaultKey(keyID string) bool { return keyID == "" || keyID == DefaultKeyAlias }
