package kmsclient

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const (
	kesName            = "kes"
	kesAPIKeyPrefix    = "kes:v1:"
	maxKESResponseSize = 1 << 20
	// DefaultKESKey is the KES key that stands in for the default key
	// (alias/aws/s3) unless KESOptions.DefaultKey names another.
	DefaultKESKey = "coffer-default"
)

// KESOptions configures NewKESClient. Either APIKey or Certificate
// authenticates the client (KES identifies clients by the hash of their
// certificate's public key).
type KESOptions struct {
	// Endpoint is the server, e.g. "https://127.0.0.1:7373". Required.
	Endpoint string
	// APIKey is a KES API key ("kes:v1:…"); the client derives its TLS
	// certificate from it.
	APIKey string
	// Certificate is a client certificate, used if APIKey is empty.
	Certificate *tls.Certificate
	// RootCAs verifies the server; nil means the system roots.
	RootCAs *x509.CertPool
	// DefaultKey is the key used for "" and alias/aws/s3 (default
	// DefaultKESKey). It is created on first use if it does not exist.
	DefaultKey string
	// Timeout bounds each request (default 15 s).
	Timeout time.Duration
	// MaxAttempts bounds tries for retryable failures (default 3).
	MaxAttempts int
	// RetryBaseDelay is the first backoff (default 50 ms).
	RetryBaseDelay time.Duration
}

// String redacts the API key.
func (o KESOptions) String() string {
	return fmt.Sprintf("KESOptions{Endpoint: %q, APIKey: %s, DefaultKey: %q}", o.Endpoint, redactedIf(o.APIKey), o.DefaultKey)
}

// GoString redacts the API key.
func (o KESOptions) GoString() string { return o.String() }

// Validate reports every problem with the options at once.
func (o *KESOptions) Validate() error {
	var errs []error
	u, err := url.Parse(o.Endpoint)
	if o.Endpoint == "" || err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") {
		errs = append(errs, fmt.Errorf("kmsclient: KESOptions.Endpoint %q must be https://host[:port]", o.Endpoint))
	}
	if o.APIKey == "" && o.Certificate == nil {
		errs = append(errs, errors.New("kmsclient: KESOptions needs an APIKey or a Certificate"))
	}
	if o.APIKey != "" {
		if _, err := ParseKESAPIKey(o.APIKey); err != nil {
			errs = append(errs, err)
		}
	}
	if o.DefaultKey != "" && !validKESName(o.DefaultKey) {
		errs = append(errs, fmt.Errorf("kmsclient: KESOptions.DefaultKey %q is not a valid KES key name", o.DefaultKey))
	}
	if o.Timeout < 0 || o.MaxAttempts < 0 || o.MaxAttempts > 10 || o.RetryBaseDelay < 0 {
		errs = append(errs, errors.New("kmsclient: KESOptions Timeout, MaxAttempts (0..10) and RetryBaseDelay must not be negative"))
	}
	return errors.Join(errs...)
}

// ParseKESAPIKey decodes "kes:v1:" + base64(0x00 ‖ 32-byte Ed25519 seed).
func ParseKESAPIKey(s string) (ed25519.PrivateKey, error) {
	b64, ok := strings.CutPrefix(s, kesAPIKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("kmsclient: KES API key must start with %q", kesAPIKeyPrefix)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	defer clear(raw)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 0 {
		return nil, errors.New("kmsclient: KES API key is malformed")
	}
	return ed25519.NewKeyFromSeed(raw[1:]), nil
}

// GenerateKESAPIKey returns a new random KES API key.
func GenerateKESAPIKey() (string, error) {
	raw := make([]byte, 1+ed25519.SeedSize)
	defer clear(raw)
	if _, err := rand.Read(raw[1:]); err != nil {
		return "", err
	}
	return kesAPIKeyPrefix + base64.StdEncoding.EncodeToString(raw), nil
}

// KESIdentity returns the identity KES assigns to an API key: the hex
// SHA-256 of the DER SubjectPublicKeyInfo of its public key.
func KESIdentity(apiKey string) (string, error) {
	priv, err := ParseKESAPIKey(apiKey)
	if err != nil {
		return "", err
	}
	defer clear(priv)
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}

// kesCertificate makes the self-signed client certificate for an API key.
func kesCertificate(apiKey string) (tls.Certificate, error) {
	priv, err := ParseKESAPIKey(apiKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "coffer kmsclient"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(90 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

// validKESName reports whether s is a KES key name: 1..80 characters of
// [0-9A-Za-z_-], '-' not first or last, not "_".
func validKESName(s string) bool {
	if s == "" || s == "_" || len(s) > 80 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// KESClient talks to a MinIO KES server (v0.23 API) over HTTPS with a
// client certificate, on the standard library only. Keys are named; the
// key name is the canonical key id. The encryption context is sent as its
// canonical JSON, which KES binds as AEAD associated data. It implements
// KeyManager, Encrypter and HealthChecker and is safe for concurrent use.
type KESClient struct {
	endpoint   string
	client     *http.Client
	defaultKey string
	retry      retryPolicy
}

// NewKESClient returns a client for opts.
func NewKESClient(opts KESOptions) (*KESClient, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var cert tls.Certificate
	if opts.APIKey != "" {
		c, err := kesCertificate(opts.APIKey)
		if err != nil {
			return nil, err
		}
		cert = c
	} else {
		cert = *opts.Certificate
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true, // KES v0.23 serves HTTP/2 only to TLS clients that offer h2
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	c := &KESClient{endpoint: strings.TrimSuffix(opts.Endpoint, "/"), client: &http.Client{Transport: tr, Timeout: timeout},
		defaultKey: opts.DefaultKey, retry: retryPolicy{opts.MaxAttempts, opts.RetryBaseDelay, 0}.withDefaults()}
	if c.defaultKey == "" {
		c.defaultKey = DefaultKESKey
	}
	return c, nil
}

// Close releases idle connections.
func (c *KESClient) Close() error {
	c.client.CloseIdleConnections()
	return nil
}

// Name returns "kes".
func (c *KESClient) Name() string { return kesName }

// keyName maps a key reference to a KES key name.
func (c *KESClient) keyName(op, keyID string) (name string, isDefault bool, err error) {
	if isDefaultKey(keyID) {
		return c.defaultKey, true, nil
	}
	if !validKESName(keyID) {
		return "", false, newError(kesName, op, keyID, ErrNotFound, "Invalid keyId '%s': not a KES key name", truncateID(keyID))
	}
	return keyID, false, nil
}

type kesContextRequest struct {
	Plaintext  []byte `json:"plaintext,omitempty"`
	Ciphertext []byte `json:"ciphertext,omitempty"`
	Context    []byte `json:"context"`
}

type kesDataResponse struct {
	Plaintext  []byte `json:"plaintext"`
	Ciphertext []byte `json:"ciphertext"`
}

type kesDescribeResponse struct {
	Name      string    `json:"name"`
	Algorithm string    `json:"algorithm"`
	CreatedAt time.Time `json:"created_at"`
}

// do sends one request (with retries) and decodes a JSON answer into out.
func (c *KESClient) do(ctx context.Context, op, keyID, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return newError(kesName, op, keyID, ErrInvalidArgument, "encoding request: %v", err)
		}
		defer clear(body)
	}
	return c.retry.do(ctx, kesName, op, keyID, func() error {
		req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
		if err != nil {
			return newError(kesName, op, keyID, ErrInvalidArgument, "building request: %v", err)
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return unavailable(kesName, op, keyID, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxKESResponseSize+1))
		if err != nil {
			return unavailable(kesName, op, keyID, err)
		}
		defer clear(data)
		if len(data) > maxKESResponseSize {
			return newError(kesName, op, keyID, ErrUnavailable, "response larger than %d bytes", maxKESResponseSize)
		}
		if resp.StatusCode != http.StatusOK {
			return kesError(op, keyID, resp.StatusCode, data)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return newError(kesName, op, keyID, ErrUnavailable, "malformed response: %v", err)
			}
		}
		return nil
	})
}

// kesError maps a KES error answer ({"message": "..."}) to an *Error.
func kesError(op, keyID string, status int, body []byte) *Error {
	var eb struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &eb)
	msg := eb.Message
	if msg == "" {
		msg = http.StatusText(status)
	}
	lower := strings.ToLower(msg)
	e := &Error{Op: op, Backend: kesName, KeyID: keyID, Message: msg, Status: status}
	switch {
	case status == http.StatusNotFound:
		e.Err, e.Code = ErrNotFound, CodeNotFound
	case strings.Contains(lower, "already exists"):
		e.Err, e.Code = ErrAlreadyExists, CodeAlreadyExists
	case strings.Contains(lower, "decryption failed") || strings.Contains(lower, "not authentic"):
		e.Err, e.Code = ErrInvalidCiphertext, CodeInvalidCiphertext
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Err, e.Code = ErrAccessDenied, CodeAccessDenied
	case status == http.StatusTooManyRequests:
		e.Err, e.Code, e.Retryable = ErrThrottled, CodeThrottling, true
	case status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented:
		e.Err, e.Code = ErrNotSupported, CodeUnsupported
	case status >= 500:
		e.Err, e.Code, e.Retryable = ErrUnavailable, CodeInternal, true
	default:
		e.Err, e.Code = ErrInvalidArgument, CodeValidation
	}
	return e
}

// CreateKey creates a KES key with the given name.
func (c *KESClient) CreateKey(ctx context.Context, name string) error {
	if !validKESName(name) {
		return newError(kesName, "CreateKey", name, ErrInvalidArgument, "%q is not a valid KES key name", truncateID(name))
	}
	return c.do(ctx, "CreateKey", name, http.MethodPost, "/v1/key/create/"+name, nil, nil)
}

// ensureDefault creates the default key if it is missing.
func (c *KESClient) ensureDefault(ctx context.Context) error {
	err := c.CreateKey(ctx, c.defaultKey)
	if errors.Is(err, ErrAlreadyExists) {
		return nil
	}
	return err
}

// GenerateDataKey asks KES for a 32-byte data key bound to ec.
func (c *KESClient) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	const op = "GenerateDataKey"
	o, err := collectDataKeyOptions(opts)
	if err != nil {
		return DataKey{}, newError(kesName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	if o.size != 32 {
		return DataKey{}, newError(kesName, op, keyID, ErrNotSupported, "KES generates 32-byte data keys only")
	}
	if err := ec.Validate(); err != nil {
		return DataKey{}, newError(kesName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	name, isDefault, err := c.keyName(op, keyID)
	if err != nil {
		return DataKey{}, err
	}
	var out kesDataResponse
	in := kesContextRequest{Context: ec.Canonical()}
	err = c.do(ctx, op, keyID, http.MethodPost, "/v1/key/generate/"+name, in, &out)
	if isDefault && errors.Is(err, ErrNotFound) {
		if err = c.ensureDefault(ctx); err == nil {
			err = c.do(ctx, op, keyID, http.MethodPost, "/v1/key/generate/"+name, in, &out)
		}
	}
	if err != nil {
		return DataKey{}, err
	}
	if len(out.Plaintext) != 32 || len(out.Ciphertext) == 0 {
		clear(out.Plaintext)
		return DataKey{}, newError(kesName, op, keyID, ErrUnavailable, "malformed response: %d-byte plaintext", len(out.Plaintext))
	}
	if o.noPlaintext {
		clear(out.Plaintext)
		out.Plaintext = nil
	}
	return DataKey{KeyID: name, Plaintext: out.Plaintext, Ciphertext: out.Ciphertext}, nil
}

// Decrypt asks KES to open a ciphertext made under the named key with ec.
func (c *KESClient) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	const op = "Decrypt"
	if len(ciphertext) == 0 || len(ciphertext) > MaxCiphertextSize {
		return nil, newError(kesName, op, keyID, ErrInvalidCiphertext, "ciphertext must be 1 to %d bytes", MaxCiphertextSize)
	}
	if err := ec.Validate(); err != nil {
		return nil, newError(kesName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	name, _, err := c.keyName(op, keyID)
	if err != nil {
		return nil, err
	}
	var out kesDataResponse
	if err := c.do(ctx, op, keyID, http.MethodPost, "/v1/key/decrypt/"+name, kesContextRequest{Ciphertext: ciphertext, Context: ec.Canonical()}, &out); err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// Encrypt asks KES to seal a small plaintext under the named key.
func (c *KESClient) Encrypt(ctx context.Context, keyID string, plaintext []byte, ec EncryptionContext) ([]byte, string, error) {
	const op = "Encrypt"
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintextSize {
		return nil, "", newError(kesName, op, keyID, ErrInvalidArgument, "plaintext must be 1 to %d bytes", MaxPlaintextSize)
	}
	if err := ec.Validate(); err != nil {
		return nil, "", newError(kesName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	name, isDefault, err := c.keyName(op, keyID)
	if err != nil {
		return nil, "", err
	}
	if isDefault {
		if err := c.ensureDefault(ctx); err != nil {
			return nil, "", err
		}
	}
	var out kesDataResponse
	if err := c.do(ctx, op, keyID, http.MethodPost, "/v1/key/encrypt/"+name, kesContextRequest{Plaintext: plaintext, Context: ec.Canonical()}, &out); err != nil {
		return nil, "", err
	}
	return out.Ciphertext, name, nil
}

// DescribeKey describes a KES key. KES keys are always enabled symmetric
// encryption keys; the default key is created if it does not exist.
func (c *KESClient) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	const op = "DescribeKey"
	name, isDefault, err := c.keyName(op, keyID)
	if err != nil {
		return KeyInfo{}, err
	}
	var out kesDescribeResponse
	err = c.do(ctx, op, keyID, http.MethodGet, "/v1/key/describe/"+name, nil, &out)
	if isDefault && errors.Is(err, ErrNotFound) {
		if err = c.ensureDefault(ctx); err == nil {
			err = c.do(ctx, op, keyID, http.MethodGet, "/v1/key/describe/"+name, nil, &out)
		}
	}
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{KeyID: name, State: KeyStateEnabled, Spec: KeySpecSymmetricDefault, Usage: KeyUsageEncryptDecrypt,
		CreatedAt: out.CreatedAt, AWSManaged: isDefault}, nil
}

// Check reports whether the server answers; any answer but a 5xx counts.
func (c *KESClient) Check(ctx context.Context) error {
	err := c.do(ctx, "Check", "", http.MethodGet, "/v1/status", nil, nil)
	var e *Error
	if err != nil && errors.As(err, &e) && !errors.Is(err, ErrUnavailable) {
		return nil
	}
	return err
}

// Compile-time checks.
var (
	_ KeyManager    = (*KESClient)(nil)
	_ Encrypter     = (*KESClient)(nil)
	_ HealthChecker = (*KESClient)(nil)
)
