package kmsclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Environment variables Open reads secrets from (besides the keyring's
// EnvRootKey and EnvRootKeyFile and AWS's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN).
const (
	// EnvKESAPIKey holds the KES API key ("kes:v1:…") for kes:// URIs.
	EnvKESAPIKey = "COFFER_KMS_KES_API_KEY"
	// EnvPKCS11PIN holds the user PIN of the token for pkcs11: URIs.
	EnvPKCS11PIN = "COFFER_KMS_PKCS11_PIN"
	// EnvAWSRegion is read for an aws-kms:// URI that names no region.
	EnvAWSRegion = "AWS_REGION"
)

// maxSecretFileSize bounds files named by *_file= parameters.
const maxSecretFileSize = 4096

// Config configures Open. URI selects the backend; the other fields are
// what a URI cannot or must not carry.
//
// The URI forms (parameters in brackets are optional):
//
//	local:[?region=R][&account=A][&root_key_file=PATH]    built-in keyring in Dir/kms (also builtin:)
//	aws-kms://[REGION][?endpoint=URL]                     AWS KMS or an AWS-compatible server
//	kes://HOST[:PORT][?ca=PEMFILE][&key=NAME][&api_key_file=PATH]
//	pkcs11:?module=PATH&token=LABEL[&key=LABEL][&pin_file=PATH][&sessions=N]
//
// Secrets never appear in a URI: Open refuses user:password@ and any
// parameter that looks like a secret (pin, password, secret, api_key, …)
// without echoing its value. They come from the environment or from a file
// a *_file= parameter names:
//
//   - local:   COFFER_KMS_ROOT_KEY, else COFFER_KMS_ROOT_KEY_FILE, else
//     root_key_file=, else Dir/kms/root.key (generated with a loud warning);
//     root_key_file= overrides both variables.
//   - aws-kms: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and optional
//     AWS_SESSION_TOKEN (read on every request); the region defaults to
//     AWS_REGION; the endpoint to https://kms.REGION.amazonaws.com.
//   - kes:     COFFER_KMS_KES_API_KEY or api_key_file= (not both).
//   - pkcs11:  COFFER_KMS_PKCS11_PIN or pin_file= (not both); neither is
//     allowed only for a token that needs no login.
//
// A file named by *_file= holds the secret alone; surrounding white space
// (a trailing newline) is ignored.
type Config struct {
	// URI selects and configures the backend. Required.
	URI string
	// Dir is the data directory of the built-in keyring (local:, builtin:).
	Dir string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives warnings (a generated root key, a secret file that
	// others can read); nil means slog.Default().
	Logger *slog.Logger
	// Cache configures the Cache that Open puts in front of remote
	// backends (aws-kms, kes, pkcs11). The zero value is the Cache default.
	Cache CacheOptions
	// NoCache leaves remote backends without a Cache.
	NoCache bool
}

// ClosableKeyManager is the KeyManager Open returns. Close releases what
// the backend holds (the keyring's directory lock, connections, HSM
// sessions) and wipes cached keys; calls after Close fail or pass through
// uncached, depending on the backend. Close is idempotent.
type ClosableKeyManager interface {
	KeyManager
	io.Closer
}

// Backend schemes, as in Config.URI.
const (
	SchemeLocal  = "local"
	SchemeAWSKMS = "aws-kms"
	SchemeKES    = "kes"
	SchemePKCS11 = "pkcs11"
)

// backendSpec is a parsed backend URI.
type backendSpec struct {
	scheme string
	// local
	region, account, rootKeyFile string
	// aws-kms (region above)
	endpoint string
	// kes
	kesEndpoint, caFile, apiKeyFile string
	// kes and pkcs11: the default key
	key string
	// pkcs11
	module, token, pinFile string
	sessions               int
}

// allowedParams lists each scheme's URI parameters.
var allowedParams = map[string][]string{
	SchemeLocal:  {"region", "account", "root_key_file"},
	SchemeAWSKMS: {"endpoint"},
	SchemeKES:    {"ca", "key", "api_key_file"},
	SchemePKCS11: {"module", "token", "key", "pin_file", "sessions"},
}

// secretHints tells where each scheme's secret belongs instead.
var secretHints = map[string]string{
	SchemeLocal:  "set " + EnvRootKey + " or " + EnvRootKeyFile + ", or name a file with root_key_file=",
	SchemeAWSKMS: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)",
	SchemeKES:    "set " + EnvKESAPIKey + " or name a file with api_key_file=",
	SchemePKCS11: "set " + EnvPKCS11PIN + " or name a file with pin_file=",
}

// secretParam reports whether a URI parameter name looks like it carries a
// secret. File references (…_file) are fine.
func secretParam(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	if strings.HasSuffix(n, "_file") {
		return false
	}
	switch n {
	case "pin", "pin_value", "so_pin", "user_pin", "pass", "passwd", "password", "pwd", "passphrase",
		"secret", "api_key", "apikey", "access_key", "secret_key", "secret_access_key", "aws_secret_access_key",
		"session_token", "aws_session_token", "root_key", "private_key", "credentials", "credential", "auth",
		"authorization", "bearer", "key_value":
		return true
	}
	return strings.Contains(n, "secret") || strings.Contains(n, "passw") || strings.Contains(n, "pin_value") ||
		strings.Contains(n, "api_key") || strings.Contains(n, "private")
}

func uriError(format string, args ...any) error {
	return fmt.Errorf("%w: backend URI: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// parseBackendURI parses a Config.URI. Errors never repeat the URI (it
// might carry a secret by mistake) and wrap ErrInvalidArgument.
func parseBackendURI(s string) (backendSpec, error) {
	var spec backendSpec
	if s == "" {
		return spec, uriError("empty; want local:, aws-kms://REGION, kes://HOST:PORT or pkcs11:?module=…&token=…")
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return spec, uriError("not a URI; want local:, aws-kms://REGION, kes://HOST:PORT or pkcs11:?module=…&token=…")
	}
	scheme := u.Scheme
	if scheme == "builtin" {
		scheme = SchemeLocal
	}
	allowed, ok := allowedParams[scheme]
	if !ok {
		return spec, uriError("unknown scheme %q; want local, builtin, aws-kms, kes or pkcs11", u.Scheme)
	}
	spec.scheme = scheme
	if u.User != nil {
		return spec, uriError("%s: credentials in the URI (user:password@) are not allowed; %s", scheme, secretHints[scheme])
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return spec, uriError("%s: a fragment (#…) is not allowed", scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return spec, uriError("%s: malformed query (parameters are name=value joined by &)", scheme)
	}
	// Secrets first, so that the error names the right place for them.
	for name := range q {
		if secretParam(name) {
			return spec, uriError("%s: parameter %q would carry a secret in the URI; %s", scheme, name, secretHints[scheme])
		}
	}
	get := func(name string) string { return q.Get(name) }
	for name, vals := range q {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			return spec, uriError("%s: unknown parameter %q (allowed: %s)", scheme, name, strings.Join(allowed, ", "))
		}
		if len(vals) != 1 {
			return spec, uriError("%s: parameter %q given %d times", scheme, name, len(vals))
		}
		if vals[0] == "" {
			return spec, uriError("%s: parameter %q is empty", scheme, name)
		}
	}
	switch scheme {
	case SchemeLocal, SchemePKCS11:
		if u.Opaque != "" || u.Host != "" || u.Path != "" {
			return spec, uriError("%s: the URI takes parameters only, as in %s:?name=value&…", scheme, u.Scheme)
		}
	case SchemeAWSKMS, SchemeKES:
		if u.Opaque != "" {
			return spec, uriError("%s: want %s://HOST…", scheme, scheme)
		}
		if u.Path != "" && u.Path != "/" {
			return spec, uriError("%s: a path is not allowed", scheme)
		}
	}
	switch scheme {
	case SchemeLocal:
		spec.region, spec.account, spec.rootKeyFile = get("region"), get("account"), get("root_key_file")
		if spec.region != "" && !validRegion(spec.region) {
			return spec, uriError("local: region %q is not a region name", spec.region)
		}
		if spec.account != "" && !isAccount(spec.account) {
			return spec, uriError("local: account %q is not 12 digits", spec.account)
		}
	case SchemeAWSKMS:
		if u.Port() != "" {
			return spec, uriError("aws-kms: the host part is the region, not an address; put the server in endpoint=")
		}
		spec.region, spec.endpoint = u.Hostname(), get("endpoint")
		if spec.region != "" && !validRegion(spec.region) {
			return spec, uriError("aws-kms: region %q is not a region name", spec.region)
		}
		if spec.endpoint != "" {
			e, err := url.Parse(spec.endpoint)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil ||
				(e.Path != "" && e.Path != "/") || e.RawQuery != "" || e.Fragment != "" {
				return spec, uriError("aws-kms: endpoint must be http(s)://HOST[:PORT]")
			}
		}
	case SchemeKES:
		host := u.Hostname()
		if host == "" {
			return spec, uriError("kes: want kes://HOST[:PORT]")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return spec, uriError("kes: port %q out of range", p)
			}
		}
		spec.kesEndpoint = "https://" + u.Host
		spec.caFile, spec.key, spec.apiKeyFile = get("ca"), get("key"), get("api_key_file")
		if spec.key != "" && !validKESName(spec.key) {
			return spec, uriError("kes: key %q is not a KES key name", spec.key)
		}
	case SchemePKCS11:
		spec.module, spec.token, spec.key, spec.pinFile = get("module"), get("token"), get("key"), get("pin_file")
		if spec.module == "" || spec.token == "" {
			return spec, uriError("pkcs11: module= (the library path) and token= (the token label) are required")
		}
		if spec.key != "" && !validPKCS11Label(spec.key) {
			return spec, uriError("pkcs11: key %q is not a valid key label (1 to %d of A-Z a-z 0-9 . _ -)", spec.key, maxPKCS11LabelLen)
		}
		if v := get("sessions"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxPKCS11Sessions {
				return spec, uriError("pkcs11: sessions %q outside 1..%d", v, maxPKCS11Sessions)
			}
			spec.sessions = n
		}
	}
	return spec, nil
}

// readSecretFile reads a secret from a file named by a *_file= parameter,
// warning if group or others may read it.
func readSecretFile(log *slog.Logger, param, path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("kmsclient: %s: %w", param, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("kmsclient: %s: %s is not a regular file", param, path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		log.Warn("kmsclient: secret file is readable by group or others", "param", param, "path", path, "mode", info.Mode().Perm().String())
	}
	data, err := readBounded(path, maxSecretFileSize)
	if err != nil {
		return "", fmt.Errorf("kmsclient: %s: %w", param, err)
	}
	defer clear(data)
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("kmsclient: %s: %s is empty", param, path)
	}
	return s, nil
}

// secretFrom returns the secret from the environment variable env or the
// file parameter, refusing both at once.
func secretFrom(log *slog.Logger, getenv func(string) string, env, param, path string) (string, error) {
	v := getenv(env)
	switch {
	case v != "" && path != "":
		return "", fmt.Errorf("kmsclient: set %s or %s=, not both", env, param)
	case path != "":
		return readSecretFile(log, param, path)
	}
	return v, nil
}

// Open returns the key manager cfg.URI selects (see Config for the forms):
// the built-in keyring as it is, and remote backends (aws-kms, kes, pkcs11)
// behind a Cache unless cfg.NoCache. The caller owns the result and must
// Close it. Open makes no network call; for pkcs11 it loads the module,
// finds the token and logs in, so a wrong PIN fails here. Errors about the
// URI wrap ErrInvalidArgument; a pkcs11: URI in a build without the pkcs11
// tag (or without cgo) fails with ErrNotSupported.
func Open(ctx context.Context, cfg Config) (ClosableKeyManager, error) {
	spec, err := parseBackendURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if !cfg.NoCache {
		if err := cfg.Cache.Validate(); err != nil {
			return nil, err
		}
	}
	switch spec.scheme {
	case SchemeLocal:
		if cfg.Dir == "" {
			return nil, errors.New("kmsclient: Config.Dir is required for the built-in keyring (local:)")
		}
		env := getenv
		if spec.rootKeyFile != "" {
			env = func(k string) string {
				switch k {
				case EnvRootKey:
					return ""
				case EnvRootKeyFile:
					return spec.rootKeyFile
				}
				return getenv(k)
			}
		}
		return OpenKeyring(KeyringOptions{Dir: cfg.Dir, Region: spec.region, AccountID: spec.account, Getenv: env, Logger: log})
	case SchemeAWSKMS:
		region := spec.region
		if region == "" {
			region = getenv(EnvAWSRegion)
		}
		if region == "" {
			return nil, fmt.Errorf("kmsclient: aws-kms: no region (aws-kms://REGION or %s)", EnvAWSRegion)
		}
		creds := EnvCredentials{Getenv: getenv}
		if _, err := creds.Retrieve(ctx); err != nil {
			return nil, err
		}
		c, err := NewAWSClient(AWSOptions{Region: region, Endpoint: spec.endpoint, Credentials: creds})
		if err != nil {
			return nil, err
		}
		return wrapRemote(cfg, c, nil)
	case SchemeKES:
		apiKey, err := secretFrom(log, getenv, EnvKESAPIKey, "api_key_file", spec.apiKeyFile)
		if err != nil {
			return nil, err
		}
		if apiKey == "" {
			return nil, fmt.Errorf("kmsclient: kes: no API key (%s)", secretHints[SchemeKES])
		}
		opts := KESOptions{Endpoint: spec.kesEndpoint, APIKey: apiKey, DefaultKey: spec.key}
		if spec.caFile != "" {
			pem, err := readBounded(spec.caFile, 1<<20)
			if err != nil {
				return nil, fmt.Errorf("kmsclient: kes: ca: %w", err)
			}
			opts.RootCAs = x509.NewCertPool()
			if !opts.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kmsclient: kes: ca: %s holds no PEM certificate", spec.caFile)
			}
		}
		c, err := NewKESClient(opts)
		if err != nil {
			return nil, err
		}
		return wrapRemote(cfg, c, c.Close)
	case SchemePKCS11:
		pin, err := secretFrom(log, getenv, EnvPKCS11PIN, "pin_file", spec.pinFile)
		if err != nil {
			return nil, err
		}
		p, closeP, err := openPKCS11(ctx, PKCS11Options{Module: spec.module, TokenLabel: spec.token, PIN: pin,
			DefaultKey: spec.key, MaxSessions: spec.sessions})
		if err != nil {
			return nil, err
		}
		return wrapRemote(cfg, p, closeP)
	}
	return nil, uriError("unknown scheme %q", spec.scheme) // unreachable: parseBackendURI checked it
}

// wrapRemote puts a Cache in front of km (unless cfg.NoCache) and returns
// the stack with one Close that closes the cache, then the backend.
func wrapRemote(cfg Config, km KeyManager, closeBackend func() error) (ClosableKeyManager, error) {
	s := &stack{KeyManager: km, next: km, closeBackend: closeBackend}
	if !cfg.NoCache {
		c, err := NewCache(km, cfg.Cache)
		if err != nil {
			if closeBackend != nil {
				closeBackend()
			}
			return nil, err
		}
		s.KeyManager, s.next, s.cache = c, c, c
	}
	return s, nil
}

// stack is a backend with its decorators, closed as one. Its KeyManager
// methods are the outermost decorator's.
type stack struct {
	KeyManager
	next         KeyManager
	cache        *Cache
	closeBackend func() error

	once sync.Once
	err  error
}

// Unwrap returns the KeyManager this one wraps (the Cache, or the backend
// when there is no cache), as Cache.Unwrap does.
func (s *stack) Unwrap() KeyManager { return s.next }

// Close wipes and stops the cache and releases the backend.
func (s *stack) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.cache != nil {
			errs = append(errs, s.cache.Close())
		}
		if s.closeBackend != nil {
			errs = append(errs, s.closeBackend())
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

// Check forwards to the backend's health check, if it has one.
func (s *stack) Check(ctx context.Context) error {
	var km KeyManager = s
	for range 8 { // bounded walk down the decorators
		u, ok := km.(interface{ Unwrap() KeyManager })
		if !ok {
			break
		}
		km = u.Unwrap()
		if h, ok := km.(HealthChecker); ok {
			return h.Check(ctx)
		}
	}
	return nil
}
