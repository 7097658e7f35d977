package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Scenario is the kind of request a run issues.
type Scenario string

// Scenarios.
const (
	// Put writes new objects, each with its own key.
	Put Scenario = "put"
	// Get reads a prepared set of objects at random and verifies every byte.
	Get Scenario = "get"
	// Mixed issues 70% verified GETs and 30% PUTs (overwrites with the same
	// content) over a prepared set of objects.
	Mixed Scenario = "mixed"
	// List lists the prepared set of objects (ListObjectsV2, 1,000 keys a
	// page) and checks the key count.
	List Scenario = "list"
	// Delete deletes a prepared set of objects, each once.
	Delete Scenario = "delete"
)

// Scenarios lists every scenario in a stable order.
var Scenarios = []Scenario{Put, Get, Mixed, List, Delete}

// SSE is a server-side encryption mode, requested through S3 headers.
type SSE string

// SSE modes.
const (
	SSENone         SSE = "none"           // no SSE headers (S3 then applies the bucket default)
	SSES3           SSE = "AES256"         // x-amz-server-side-encryption: AES256
	SSEKMS          SSE = "aws:kms"        // SSE-KMS, optional key id
	SSEKMSBucketKey SSE = "aws:kms+bucket" // SSE-KMS with x-amz-server-side-encryption-bucket-key-enabled
	SSEDSSE         SSE = "aws:kms:dsse"   // DSSE-KMS
	SSEC            SSE = "sse-c"          // SSE-C with a 256-bit customer key, sent on PUT and GET
)

// SSEModes lists every SSE mode in a stable order.
var SSEModes = []SSE{SSENone, SSES3, SSEKMS, SSEKMSBucketKey, SSEDSSE, SSEC}

// ClientKind selects the S3 client implementation.
type ClientKind string

// Client kinds.
const (
	// ClientRaw is a lean net/http client signed with internal/sigv4 and
	// UNSIGNED-PAYLOAD: no payload hashing, no checksums, so the figures
	// measure the server, not the client. The default.
	ClientRaw ClientKind = "raw"
	// ClientSDK is aws-sdk-go-v2's S3 client (checksums only when required,
	// unsigned payload), for checking that the raw client agrees with it.
	ClientSDK ClientKind = "sdk"
)

// Defaults and bounds of Options.
const (
	DefaultDuration = 10 * time.Second
	// DefaultCount caps the operations of a run when no Count is given.
	DefaultCount = 1_000_000
	// MaxDuration bounds a run when only Count is given.
	MaxDuration      = time.Hour
	DefaultRegion    = "us-east-1"
	DefaultListPage  = 1000
	DefaultListKeys  = 1000
	DefaultDelete    = 1000
	MaxConcurrency   = 1024
	MaxObjectSize    = 5 << 30 // S3's single-PUT limit
	MaxPreparedBytes = 4 << 30 // bound on the objects a run prepares
	// DefaultMaxErrors stops a run after this many failed operations.
	DefaultMaxErrors = 1000
	// DefaultRequestTimeout bounds one request, body included.
	DefaultRequestTimeout = 5 * time.Minute
)

// Options configures one run. The zero value is not usable: Endpoint,
// credentials, Bucket, Scenario and Size are required. Run copies the
// Options; SSECKey is read, never retained past the run, and never printed.
type Options struct {
	// Endpoint is the server's base URL, "http://host:port" or https.
	// Requests are path-style.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Region of the signature scope. Default us-east-1.
	Region string
	Bucket string
	// CreateBucket creates Bucket first (an existing bucket owned by the
	// caller is fine).
	CreateBucket bool

	Scenario    Scenario
	Size        int64 // object size in bytes, 0..MaxObjectSize
	Concurrency int   // parallel clients; default 1
	SSE         SSE   // default SSENone
	// KMSKeyID is sent as x-amz-server-side-encryption-aws-kms-key-id for
	// the KMS modes; empty means the server's default key.
	KMSKeyID string
	// SSECKey is the 32-byte SSE-C key; nil derives one from Seed.
	SSECKey []byte

	// Duration and Count bound the measured phase: it stops at whichever
	// comes first. Both zero: DefaultDuration and DefaultCount; Count alone
	// is capped by MaxDuration, Duration alone by DefaultCount.
	Duration time.Duration
	Count    int64
	// Objects is the number of objects prepared before GET, mixed, LIST
	// and DELETE runs. Zero picks: GET/mixed max(2×Concurrency, min(256,
	// 1 GiB/Size)); LIST DefaultListKeys; DELETE min(Count, DefaultDelete).
	Objects int
	// MaxErrors stops the run early after this many failed operations.
	// Default DefaultMaxErrors.
	MaxErrors int64
	// Seed derives object contents and the random choices; 0 picks one
	// from the clock (reported in the Result).
	Seed uint64
	// Prefix is prepended to every key; empty means
	// "coffer-load/<seed>-<nanotime>/". Objects written are deleted after
	// the run unless Keep is set.
	Prefix string
	Keep   bool

	// ServerPID, if set, is the server's process id on this machine: its
	// resident memory is sampled during the measured phase (Linux).
	ServerPID int

	Client ClientKind // default ClientRaw
	// HTTPClient carries the requests; nil builds one sized for
	// Concurrency. Its Timeout should be zero: RequestTimeout applies.
	HTTPClient *http.Client
	// RequestTimeout bounds one request. Default DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Progress receives one line per second while the measured phase runs;
	// nil is silent.
	Progress io.Writer
}

// withDefaults returns a copy of o with zero fields defaulted. It does not
// validate.
func (o Options) withDefaults() Options {
	n := o
	if n.Region == "" {
		n.Region = DefaultRegion
	}
	if n.Concurrency == 0 {
		n.Concurrency = 1
	}
	if n.SSE == "" {
		n.SSE = SSENone
	}
	if n.Client == "" {
		n.Client = ClientRaw
	}
	switch {
	case n.Duration == 0 && n.Count == 0:
		n.Duration, n.Count = DefaultDuration, DefaultCount
	case n.Duration == 0:
		n.Duration = MaxDuration
	case n.Count == 0:
		n.Count = DefaultCount
	}
	if n.MaxErrors == 0 {
		n.MaxErrors = DefaultMaxErrors
	}
	if n.RequestTimeout == 0 {
		n.RequestTimeout = DefaultRequestTimeout
	}
	if n.Objects == 0 {
		switch n.Scenario {
		case Get, Mixed:
			n.Objects = 256
			if n.Size > 0 {
				n.Objects = int(min(256, (1<<30)/n.Size))
			}
			n.Objects = max(n.Objects, 2*n.Concurrency)
		case List:
			n.Objects = DefaultListKeys
		case Delete:
			n.Objects = int(min(n.Count, DefaultDelete))
		}
	}
	return n
}

// Validate reports every problem with o at once; each wraps
// ErrInvalidOptions. It validates o as Run would use it, after defaults.
func (o *Options) Validate() error {
	n := o.withDefaults()
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, a...)...))
	}
	if u, err := url.Parse(n.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		bad("endpoint %q is not an http(s)://host[:port] URL", n.Endpoint)
	}
	if n.AccessKey == "" || n.SecretKey == "" {
		bad("access key and secret key are required")
	}
	if strings.ContainsAny(n.Region, "/ ") {
		bad("region %q is invalid", n.Region)
	}
	if !validBucket(n.Bucket) {
		bad("bucket %q is not a valid bucket name", n.Bucket)
	}
	switch n.Scenario {
	case Put, Get, Mixed, List, Delete:
	default:
		bad("scenario %q is not one of put, get, mixed, list, delete", n.Scenario)
	}
	if n.Size < 0 || n.Size > MaxObjectSize {
		bad("size %d outside 0..%d", n.Size, int64(MaxObjectSize))
	}
	if n.Concurrency < 1 || n.Concurrency > MaxConcurrency {
		bad("concurrency %d outside 1..%d", n.Concurrency, MaxConcurrency)
	}
	switch n.SSE {
	case SSENone, SSES3, SSEKMS, SSEKMSBucketKey, SSEDSSE, SSEC:
	default:
		bad("sse %q is not one of none, AES256, aws:kms, aws:kms+bucket, aws:kms:dsse, sse-c", n.SSE)
	}
	if n.SSECKey != nil && len(n.SSECKey) != 32 {
		bad("SSE-C key must be 32 bytes, not %d", len(n.SSECKey))
	}
	if n.Duration < 0 || n.Duration > MaxDuration {
		bad("duration %v outside 0..%v", n.Duration, MaxDuration)
	}
	if n.Count < 0 {
		bad("count %d is negative", n.Count)
	}
	if n.Objects < 0 {
		bad("objects %d is negative", n.Objects)
	}
	if (n.Scenario == Get || n.Scenario == Mixed || n.Scenario == List || n.Scenario == Delete) && n.Objects < 1 {
		bad("scenario %s needs at least one object", n.Scenario)
	}
	if n.Size > 0 && int64(n.Objects) > MaxPreparedBytes/n.Size {
		bad("objects %d × size %d exceeds the %d bytes a run may prepare", n.Objects, n.Size, int64(MaxPreparedBytes))
	}
	if n.MaxErrors < 0 {
		bad("max errors %d is negative", n.MaxErrors)
	}
	if n.RequestTimeout < 0 {
		bad("request timeout %v is negative", n.RequestTimeout)
	}
	if strings.HasPrefix(n.Prefix, "/") || len(n.Prefix) > 512 {
		bad("prefix %q must not start with / and must be at most 512 bytes", n.Prefix)
	}
	switch n.Client {
	case ClientRaw, ClientSDK:
	default:
		bad("client %q is not raw or sdk", n.Client)
	}
	return errors.Join(errs...)
}

// validBucket checks S3's bucket naming rules that matter for path-style
// URLs.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return b[0] != '-' && b[0] != '.' && b[len(b)-1] != '-' && b[len(b)-1] != '.'
}

// ParseSize parses "4KiB", "16MiB", "1GiB", "64k", "1m" or plain bytes.
// Suffixes are binary (KiB = 1024).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSuffix(t, u.suf), u.m
			break
		}
	}
	var n int64
	if t == "" || len(t) > 12 {
		return 0, fmt.Errorf("%w: size %q", ErrInvalidOptions, s)
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: size %q", ErrInvalidOptions, s)
		}
		n = n*10 + int64(c-'0')
	}
	if n > MaxObjectSize/mult {
		return 0, fmt.Errorf("%w: size %q exceeds %d bytes", ErrInvalidOptions, s, int64(MaxObjectSize))
	}
	return n * mult, nil
}

// FormatSize renders n bytes as the largest exact binary unit ("16MiB").
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
