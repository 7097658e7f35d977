package s3facade

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cofferdb/coffer/engine"
)

// Defaults of Config.
const (
	DefaultRegion           = "us-east-1"
	DefaultReadTimeout      = 30 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultBodyIdleTimeout  = 60 * time.Second
	DefaultWriteIdleTimeout = 60 * time.Second
	DefaultMaxHeaderBytes   = 16 << 10
	DefaultMaxXMLBytes      = 1 << 20
	// DefaultPrefetchBytes is how much of a request body is read before
	// the handler runs; larger bodies are streamed.
	DefaultPrefetchBytes = 64 << 10
)

// Role says what a user may do besides using the buckets granted to it.
type Role string

// The roles. The zero value keeps the meaning User had before roles
// existed, so that configurations written then work unchanged.
const (
	// RoleDefault: a user without Buckets is root; a user with Buckets
	// may create those buckets, and use them whoever owns them (the old
	// allowlist). Such a user owns the buckets it creates, and may delete
	// or reconfigure only those.
	RoleDefault Role = ""
	// RoleRoot uses, deletes and reconfigures every bucket, and creates
	// any. Buckets without a recorded owner (created before owners were
	// recorded, or through the engine API) belong to root.
	RoleRoot Role = "root"
	// RoleUser creates buckets of any free name and owns what it creates:
	// it uses, deletes and reconfigures the buckets it owns, and uses
	// (objects, listings, HEAD, location, reading the encryption rule)
	// the buckets listed in User.Buckets.
	RoleUser Role = "user"
)

// User is one access key pair and what it may do. The facade copies
// Users at New; the caller keeps ownership of the strings, and nothing
// ever logs or prints SecretKey.
type User struct {
	AccessKey string
	SecretKey string
	// Role is RoleRoot, RoleUser or RoleDefault (see each).
	Role Role
	// ID is the canonical user id recorded as the owner of the buckets
	// this user creates, shown as Owner ID in listings, and compared with
	// x-amz-expected-bucket-owner. Empty means CanonicalID(AccessKey).
	// Set it to keep ownership across an access-key rotation: several
	// users (keys) with one ID are one owner.
	ID string
	// DisplayName is the Owner DisplayName shown for this user's buckets,
	// also to the users granted them. Empty means AccessKey.
	DisplayName string
	// Buckets are grants: buckets this user may use whoever owns them
	// (and, with RoleDefault, the only buckets it may create). A request
	// never touches a bucket the user neither owns nor is granted (nor is
	// root for): it gets AccessDenied, and ListBuckets does not show it.
	Buckets []string
}

// String names the user without its secret.
func (u User) String() string {
	return "s3facade.User{AccessKey: " + u.AccessKey + ", Role: " + string(u.Role) + ", SecretKey: <redacted>}"
}

// GoString redacts like String.
func (u User) GoString() string { return u.String() }

// CanonicalID is the canonical user id S3 shows for an access key (and
// the default User.ID): a hash, so it reveals nothing but is stable.
func CanonicalID(accessKey string) string { return ownerID(accessKey) }

// isRoot reports whether u may use every bucket.
func (u *User) isRoot() bool {
	return u.Role == RoleRoot || u.Role == RoleDefault && len(u.Buckets) == 0
}

// granted reports whether bucket is in u's grants.
func (u *User) granted(bucket string) bool { return slices.Contains(u.Buckets, bucket) }

// mayCreate reports whether u may create a bucket of this name (if the
// name is free).
func (u *User) mayCreate(bucket string) bool {
	return u.isRoot() || u.Role == RoleUser || u.granted(bucket)
}

// owns reports whether u owns a bucket whose recorded owner is owner
// (empty: the root user). u must have been through withDefaults.
func (u *User) owns(owner string) bool {
	return owner == u.ID || owner == "" && u.isRoot()
}

// Config configures a Server. Zero fields take their defaults; New copies
// it, so the caller may reuse it.
type Config struct {
	// Region is the one region this endpoint serves, checked against every
	// credential scope. Default us-east-1.
	Region string
	// Users are the accepted credentials and what each may do (see User
	// and Role); at least one is required.
	Users []User
	// Domains are the base domains of virtual-host-style requests
	// ("s3.example.com" makes "photos.s3.example.com" bucket "photos").
	// Without them, every request is path-style.
	Domains []string
	// Logger receives one debug line per request and warnings; nil
	// discards. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock for signature time checks; nil means time.Now.
	Now func() time.Time

	// ReadTimeout bounds reading a request's headers (and a body that fits
	// the prefetch). Default 30 s.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Default 60 s.
	IdleTimeout time.Duration
	// BodyIdleTimeout bounds the time between two reads of a streamed body
	// that make progress; a slower client gets RequestTimeout. Default 60 s.
	BodyIdleTimeout time.Duration
	// WriteIdleTimeout bounds the time a response write may stall (a client
	// that stops reading). Default 60 s.
	WriteIdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line plus headers; larger requests
	// get 431. Default 16 KiB.
	MaxHeaderBytes int
	// MaxXMLBytes bounds XML request bodies (DeleteObjects,
	// CreateBucketConfiguration). Default 1 MiB.
	MaxXMLBytes int
	// PrefetchBytes is how much of a body is read before the handler runs
	// (so small PUTs cost one read); larger bodies are streamed. Default
	// 64 KiB.
	PrefetchBytes int
	// Concurrency bounds the requests served at once; 0 means fasthttp's
	// default. MaxConnsPerIP bounds connections per client address; 0 means
	// unlimited.
	Concurrency   int
	MaxConnsPerIP int
	// TLSConfig, when set, makes Serve speak TLS on the listener.
	TLSConfig *tls.Config
	// AllowInsecureSSECLoopback accepts SSE-C keys over plain HTTP from
	// loopback clients (127.0.0.0/8, ::1). S3 refuses SSE-C without TLS,
	// and so does the facade by default; this exists for tests and local
	// tools only. Never set it on a server reachable from a network.
	AllowInsecureSSECLoopback bool
	// Metrics serves Prometheus metrics at /metrics without
	// authentication. They hold request counts, sizes and latencies per API
	// and status; no bucket names, keys or credentials.
	Metrics bool
}

// withDefaults returns a copy of c with zero fields defaulted.
func (c Config) withDefaults() Config {
	n := c
	n.Users = slices.Clone(c.Users)
	for i := range n.Users {
		u := &n.Users[i]
		u.Buckets = slices.Clone(u.Buckets)
		if u.ID == "" {
			u.ID = CanonicalID(u.AccessKey)
		}
		if u.DisplayName == "" {
			u.DisplayName = u.AccessKey
		}
	}
	n.Domains = nil
	for _, d := range c.Domains {
		n.Domains = append(n.Domains, strings.ToLower(strings.Trim(d, ".")))
	}
	if n.Region == "" {
		n.Region = DefaultRegion
	}
	if n.Logger == nil {
		n.Logger = slog.New(slog.DiscardHandler)
	}
	if n.Now == nil {
		n.Now = time.Now
	}
	if n.ReadTimeout == 0 {
		n.ReadTimeout = DefaultReadTimeout
	}
	if n.IdleTimeout == 0 {
		n.IdleTimeout = DefaultIdleTimeout
	}
	if n.BodyIdleTimeout == 0 {
		n.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if n.WriteIdleTimeout == 0 {
		n.WriteIdleTimeout = DefaultWriteIdleTimeout
	}
	if n.MaxHeaderBytes == 0 {
		n.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if n.MaxXMLBytes == 0 {
		n.MaxXMLBytes = DefaultMaxXMLBytes
	}
	if n.PrefetchBytes == 0 {
		n.PrefetchBytes = DefaultPrefetchBytes
	}
	return n
}

// Validate reports every problem with c (after defaults) at once; each
// wraps ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if strings.ContainsAny(c.Region, "/ \t") {
		bad("region %q", c.Region)
	}
	if len(c.Users) == 0 {
		bad("no users")
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		switch {
		case len(u.AccessKey) < 3 || len(u.AccessKey) > 128 || strings.ContainsAny(u.AccessKey, "/ \t\r\n:"):
			bad("user %d: access key must be 3 to 128 characters without '/', ':' or spaces", i)
		case seen[u.AccessKey]:
			bad("user %d: access key %q listed twice", i, u.AccessKey)
		}
		seen[u.AccessKey] = true
		if len(u.SecretKey) < 8 || len(u.SecretKey) > 128 {
			bad("user %d (%s): secret key must be 8 to 128 characters", i, u.AccessKey)
		}
		switch u.Role {
		case RoleDefault, RoleUser:
		case RoleRoot:
			if len(u.Buckets) > 0 {
				bad("user %d (%s): a root user uses every bucket; it takes no bucket list", i, u.AccessKey)
			}
		default:
			bad("user %d (%s): role %q is not %q or %q", i, u.AccessKey, u.Role, RoleRoot, RoleUser)
		}
		if !validID(u.ID) {
			bad("user %d (%s): id must be 1 to 128 letters, digits or -_.@+=", i, u.AccessKey)
		}
		if len(u.DisplayName) > 128 || strings.ContainsFunc(u.DisplayName, func(r rune) bool { return !unicode.IsPrint(r) }) ||
			!utf8.ValidString(u.DisplayName) {
			bad("user %d (%s): display name must be at most 128 printable characters", i, u.AccessKey)
		}
		for _, b := range u.Buckets {
			if err := engine.ValidateBucketName(b); err != nil {
				bad("user %d (%s): bucket %q: %v", i, u.AccessKey, b, err)
			}
		}
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, "/: \t") {
			bad("domain %q", d)
		}
	}
	for name, d := range map[string]time.Duration{"ReadTimeout": c.ReadTimeout, "IdleTimeout": c.IdleTimeout,
		"BodyIdleTimeout": c.BodyIdleTimeout, "WriteIdleTimeout": c.WriteIdleTimeout} {
		if d < 0 {
			bad("%s %v is negative", name, d)
		}
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 1<<20 {
		bad("MaxHeaderBytes %d outside [4 KiB, 1 MiB]", c.MaxHeaderBytes)
	}
	if c.MaxXMLBytes < 1<<10 || c.MaxXMLBytes > 64<<20 {
		bad("MaxXMLBytes %d outside [1 KiB, 64 MiB]", c.MaxXMLBytes)
	}
	if c.PrefetchBytes < 0 || c.PrefetchBytes > 16<<20 {
		bad("PrefetchBytes %d outside [0, 16 MiB]", c.PrefetchBytes)
	}
	if c.Concurrency < 0 || c.MaxConnsPerIP < 0 {
		bad("negative Concurrency or MaxConnsPerIP")
	}
	return errors.Join(errs...)
}

// validID reports whether id is usable as a canonical user id: 1 to 128
// bytes of letters, digits and -_.@+=, safe in XML, headers and logs.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.@+=", c) >= 0) {
			return false
		}
	}
	return true
}
