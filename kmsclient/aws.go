package kmsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
	"github.com/cofferdb/coffer/kmsclient/internal/wire"
)

const (
	awsName              = "aws-kms"
	maxAWSResponseSize   = 1 << 20
	defaultMaxAttempts   = 3
	defaultRetryBase     = 50 * time.Millisecond
	defaultRetryMax      = 2 * time.Second
	defaultRequestTimout = 30 * time.Second
)

// AWSCredentials are an AWS access key pair and optional session token.
// String and GoString redact the secret.
type AWSCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// String redacts the secret and token.
func (c AWSCredentials) String() string {
	return fmt.Sprintf("AWSCredentials{AccessKeyID: %q, SecretAccessKey: <redacted>, SessionToken: %s}", c.AccessKeyID, redactedIf(c.SessionToken))
}

// GoString is String.
func (c AWSCredentials) GoString() string { return c.String() }

func redactedIf(s string) string {
	if s == "" {
		return "<none>"
	}
	return "<redacted>"
}

// CredentialsProvider supplies credentials for each request; implementations
// must be safe for concurrent use.
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (AWSCredentials, error)
}

// StaticCredentials always returns the same credentials.
type StaticCredentials AWSCredentials

// Retrieve returns the credentials.
func (s StaticCredentials) Retrieve(context.Context) (AWSCredentials, error) {
	return AWSCredentials(s), nil
}

// String redacts the secret.
func (s StaticCredentials) String() string { return AWSCredentials(s).String() }

// GoString redacts the secret.
func (s StaticCredentials) GoString() string { return AWSCredentials(s).String() }

// EnvCredentials reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN on every call. Getenv nil means os.Getenv.
type EnvCredentials struct {
	Getenv func(string) string
}

// Retrieve reads the environment.
func (e EnvCredentials) Retrieve(context.Context) (AWSCredentials, error) {
	get := e.Getenv
	if get == nil {
		get = os.Getenv
	}
	c := AWSCredentials{AccessKeyID: get("AWS_ACCESS_KEY_ID"), SecretAccessKey: get("AWS_SECRET_ACCESS_KEY"), SessionToken: get("AWS_SESSION_TOKEN")}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return AWSCredentials{}, errors.New("kmsclient: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	return c, nil
}

// AWSOptions configures NewAWSClient.
type AWSOptions struct {
	// Region is the KMS region, e.g. "us-east-1". Required.
	Region string
	// Endpoint is the base URL; default https://kms.<Region>.amazonaws.com.
	// Use it for AWS-compatible servers such as kmsserver.
	Endpoint string
	// Credentials signs requests. Required.
	Credentials CredentialsProvider
	// HTTPClient sends requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxAttempts bounds tries per call for retryable errors (default 3).
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape exponential backoff with full
	// jitter (defaults 50 ms and 2 s).
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time
}

// Validate reports every problem with the options at once.
func (o *AWSOptions) Validate() error {
	var errs []error
	if o.Region == "" || !validRegion(o.Region) {
		errs = append(errs, fmt.Errorf("kmsclient: AWSOptions.Region %q is not a region name", o.Region))
	}
	if o.Credentials == nil {
		errs = append(errs, errors.New("kmsclient: AWSOptions.Credentials is required"))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("kmsclient: AWSOptions.Endpoint %q must be http(s)://host[:port]", o.Endpoint))
		}
	}
	if o.MaxAttempts < 0 || o.MaxAttempts > 10 {
		errs = append(errs, fmt.Errorf("kmsclient: AWSOptions.MaxAttempts %d outside 0..10", o.MaxAttempts))
	}
	if o.RetryBaseDelay < 0 || o.RetryMaxDelay < 0 {
		errs = append(errs, errors.New("kmsclient: AWSOptions retry delays must not be negative"))
	}
	return errors.Join(errs...)
}

// AWSClient speaks the AWS KMS JSON protocol (TrentService, SigV4) to AWS
// KMS or any compatible endpoint, on the standard library only. It
// implements KeyManager, Encrypter, KeyAdmin and HealthChecker and is safe
// for concurrent use.
type AWSClient struct {
	endpoint string
	host     string
	region   string
	creds    CredentialsProvider
	client   *http.Client
	retry    retryPolicy
	now      func() time.Time
	signer   sigv4.Signer
}

// NewAWSClient returns a client for opts.
func NewAWSClient(opts AWSOptions) (*AWSClient, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &AWSClient{endpoint: strings.TrimSuffix(opts.Endpoint, "/"), region: opts.Region, creds: opts.Credentials,
		client: opts.HTTPClient, retry: retryPolicy{opts.MaxAttempts, opts.RetryBaseDelay, opts.RetryMaxDelay}, now: opts.Now}
	if c.endpoint == "" {
		c.endpoint = "https://kms." + opts.Region + ".amazonaws.com"
	}
	u, _ := url.Parse(c.endpoint)
	c.host = u.Host
	if c.client == nil {
		c.client = &http.Client{Timeout: defaultRequestTimout}
	}
	c.retry = c.retry.withDefaults()
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Name returns "aws-kms".
func (c *AWSClient) Name() string { return awsName }

// call performs one TrentService operation with retries.
func (c *AWSClient) call(ctx context.Context, op, keyID string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return newError(awsName, op, keyID, ErrInvalidArgument, "encoding request: %v", err)
	}
	defer clear(body) // Encrypt requests carry plaintext
	return c.retry.do(ctx, awsName, op, keyID, func() error { return c.try(ctx, op, keyID, body, out) })
}

func (c *AWSClient) try(ctx context.Context, op, keyID string, body []byte, out any) error {
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return &Error{Op: op, Backend: awsName, KeyID: keyID, Code: CodeUnrecognizedClient, Message: err.Error(), Err: errors.Join(ErrAccessDenied, err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return newError(awsName, op, keyID, ErrInvalidArgument, "building request: %v", err)
	}
	req.Header.Set("Content-Type", wire.ContentType)
	req.Header.Set(wire.HeaderTarget, wire.TargetPrefix+op)
	if _, err := c.signer.Sign(req, sigv4.PayloadHash(body),
		sigv4.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
		c.region, "kms", c.now(), sigv4.Options{NormalizePath: true}); err != nil {
		return newError(awsName, op, keyID, ErrInvalidArgument, "signing request: %v", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return unavailable(awsName, op, keyID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAWSResponseSize+1))
	if err != nil {
		return unavailable(awsName, op, keyID, err)
	}
	defer clear(data) // responses carry plaintext data keys
	if len(data) > maxAWSResponseSize {
		return newError(awsName, op, keyID, ErrUnavailable, "response larger than %d bytes", maxAWSResponseSize)
	}
	if resp.StatusCode/100 != 2 {
		code, msg := wire.ErrorCode(resp.Header.Get(wire.HeaderErrType), data)
		if msg == "" && code == "" {
			msg = strings.TrimSpace(string(data[:min(len(data), 200)]))
		}
		return fromCode(awsName, op, keyID, code, msg, resp.StatusCode)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return newError(awsName, op, keyID, ErrUnavailable, "malformed %s response: %v", op, err)
		}
	}
	return nil
}

// GenerateDataKey calls GenerateDataKey (or GenerateDataKeyWithoutPlaintext).
func (c *AWSClient) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	op := "GenerateDataKey"
	o, err := collectDataKeyOptions(opts)
	if o.noPlaintext {
		op = "GenerateDataKeyWithoutPlaintext"
	}
	if err != nil {
		return DataKey{}, newError(awsName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	if err := ec.Validate(); err != nil {
		return DataKey{}, newError(awsName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	in := wire.GenerateDataKeyRequest{KeyId: defaultIfEmpty(keyID), EncryptionContext: ec}
	switch o.size {
	case 32:
		in.KeySpec = "AES_256"
	case 16:
		in.KeySpec = "AES_128"
	default:
		n := int32(o.size)
		in.NumberOfBytes = &n
	}
	var out wire.GenerateDataKeyResponse
	if err := c.call(ctx, op, keyID, in, &out); err != nil {
		return DataKey{}, err
	}
	if out.KeyId == "" || len(out.CiphertextBlob) == 0 || (!o.noPlaintext && len(out.Plaintext) != o.size) {
		clear(out.Plaintext)
		return DataKey{}, newError(awsName, op, keyID, ErrUnavailable, "malformed response: %d-byte plaintext, %d-byte blob", len(out.Plaintext), len(out.CiphertextBlob))
	}
	if o.noPlaintext {
		clear(out.Plaintext)
		out.Plaintext = nil
	}
	return DataKey{KeyID: out.KeyId, Plaintext: out.Plaintext, Ciphertext: out.CiphertextBlob}, nil
}

// Decrypt calls Decrypt, passing keyID (if set) so that AWS refuses a blob
// made under another key.
func (c *AWSClient) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	const op = "Decrypt"
	if len(ciphertext) == 0 || len(ciphertext) > MaxCiphertextSize {
		return nil, newError(awsName, op, keyID, ErrInvalidCiphertext, "ciphertext must be 1 to %d bytes", MaxCiphertextSize)
	}
	if err := ec.Validate(); err != nil {
		return nil, newError(awsName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	var out wire.DecryptResponse
	if err := c.call(ctx, op, keyID, wire.DecryptRequest{CiphertextBlob: ciphertext, EncryptionContext: ec, KeyId: keyID}, &out); err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// Encrypt calls Encrypt.
func (c *AWSClient) Encrypt(ctx context.Context, keyID string, plaintext []byte, ec EncryptionContext) ([]byte, string, error) {
	const op = "Encrypt"
	if len(plaintext) == 0 || len(plaintext) > MaxPlaintextSize {
		return nil, "", newError(awsName, op, keyID, ErrInvalidArgument, "plaintext must be 1 to %d bytes", MaxPlaintextSize)
	}
	if err := ec.Validate(); err != nil {
		return nil, "", newError(awsName, op, keyID, ErrInvalidArgument, "%v", err)
	}
	var out wire.EncryptResponse
	if err := c.call(ctx, op, keyID, wire.EncryptRequest{KeyId: defaultIfEmpty(keyID), Plaintext: plaintext, EncryptionContext: ec}, &out); err != nil {
		return nil, "", err
	}
	return out.CiphertextBlob, out.KeyId, nil
}

// DescribeKey calls DescribeKey.
func (c *AWSClient) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	var out wire.DescribeKeyResponse
	if err := c.call(ctx, "DescribeKey", keyID, wire.KeyIDRequest{KeyId: defaultIfEmpty(keyID)}, &out); err != nil {
		return KeyInfo{}, err
	}
	return keyInfoFromMetadata(out.KeyMetadata), nil
}

func keyInfoFromMetadata(m wire.KeyMetadata) KeyInfo {
	info := KeyInfo{KeyID: m.KeyId, ARN: m.Arn, Description: m.Description, State: KeyState(m.KeyState), Spec: KeySpec(m.KeySpec),
		Usage: KeyUsage(m.KeyUsage), AWSManaged: m.KeyManager == "AWS"}
	if info.Spec == "" {
		info.Spec = KeySpec(m.CustomerMasterKeySpec)
	}
	if m.CreationDate != nil {
		info.CreatedAt = m.CreationDate.Time
	}
	if m.DeletionDate != nil {
		info.DeletionDate = m.DeletionDate.Time
	}
	return info
}

// Check calls ListKeys with Limit 1 to prove reachability and credentials.
func (c *AWSClient) Check(ctx context.Context) error {
	one := int32(1)
	return c.call(ctx, "ListKeys", "", wire.ListRequest{Limit: &one}, &wire.ListKeysResponse{})
}

// CreateKey calls CreateKey.
func (c *AWSClient) CreateKey(ctx context.Context, in CreateKeyInput) (KeyInfo, error) {
	req := wire.CreateKeyRequest{Description: in.Description, KeySpec: string(in.Spec), KeyUsage: string(in.Usage)}
	for k, v := range in.Tags {
		req.Tags = append(req.Tags, wire.Tag{TagKey: k, TagValue: v})
	}
	var out wire.CreateKeyResponse
	if err := c.call(ctx, "CreateKey", "", req, &out); err != nil {
		return KeyInfo{}, err
	}
	info := keyInfoFromMetadata(out.KeyMetadata)
	if in.Alias != "" {
		if err := c.CreateAlias(ctx, in.Alias, info.KeyID); err != nil {
			return info, err
		}
		info.Aliases = []string{in.Alias}
	}
	return info, nil
}

// ListKeys pages through ListKeys and describes every key.
func (c *AWSClient) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	var out []KeyInfo
	marker := ""
	for page := 0; page < 10000; page++ {
		var resp wire.ListKeysResponse
		if err := c.call(ctx, "ListKeys", "", wire.ListRequest{Marker: marker}, &resp); err != nil {
			return nil, err
		}
		for _, k := range resp.Keys {
			info, err := c.DescribeKey(ctx, k.KeyArn)
			if err != nil {
				return nil, err
			}
			out = append(out, info)
		}
		if !resp.Truncated || resp.NextMarker == "" {
			return out, nil
		}
		marker = resp.NextMarker
	}
	return out, nil
}

// CreateAlias calls CreateAlias.
func (c *AWSClient) CreateAlias(ctx context.Context, alias, targetKeyID string) error {
	return c.call(ctx, "CreateAlias", targetKeyID, wire.AliasRequest{AliasName: alias, TargetKeyId: targetKeyID}, nil)
}

// DeleteAlias calls DeleteAlias.
func (c *AWSClient) DeleteAlias(ctx context.Context, alias string) error {
	return c.call(ctx, "DeleteAlias", alias, wire.AliasRequest{AliasName: alias}, nil)
}

// ListAliases pages through ListAliases (of one key if keyID is set).
func (c *AWSClient) ListAliases(ctx context.Context, keyID string) ([]Alias, error) {
	var out []Alias
	marker := ""
	for page := 0; page < 10000; page++ {
		var resp wire.ListAliasesResponse
		if err := c.call(ctx, "ListAliases", keyID, wire.ListRequest{KeyId: keyID, Marker: marker}, &resp); err != nil {
			return nil, err
		}
		for _, a := range resp.Aliases {
			al := Alias{Name: a.AliasName, ARN: a.AliasArn, TargetKeyID: a.TargetKeyId}
			if a.CreationDate != nil {
				al.CreatedAt = a.CreationDate.Time
			}
			out = append(out, al)
		}
		if !resp.Truncated || resp.NextMarker == "" {
			return out, nil
		}
		marker = resp.NextMarker
	}
	return out, nil
}

// EnableKey calls EnableKey.
func (c *AWSClient) EnableKey(ctx context.Context, keyID string) error {
	return c.call(ctx, "EnableKey", keyID, wire.KeyIDRequest{KeyId: keyID}, nil)
}

// DisableKey calls DisableKey.
func (c *AWSClient) DisableKey(ctx context.Context, keyID string) error {
	return c.call(ctx, "DisableKey", keyID, wire.KeyIDRequest{KeyId: keyID}, nil)
}

// ScheduleKeyDeletion calls ScheduleKeyDeletion with a whole number of days.
func (c *AWSClient) ScheduleKeyDeletion(ctx context.Context, keyID string, window time.Duration) (time.Time, error) {
	const op = "ScheduleKeyDeletion"
	if window%(24*time.Hour) != 0 || window < 24*time.Hour || window > 365*24*time.Hour {
		return time.Time{}, newError(awsName, op, keyID, ErrInvalidArgument, "window must be a whole number of days")
	}
	days := int32(window / (24 * time.Hour))
	var out wire.ScheduleKeyDeletionResponse
	if err := c.call(ctx, op, keyID, wire.ScheduleKeyDeletionRequest{KeyId: keyID, PendingWindowInDays: &days}, &out); err != nil {
		return time.Time{}, err
	}
	if out.DeletionDate == nil {
		return time.Time{}, nil
	}
	return out.DeletionDate.Time, nil
}

// CancelKeyDeletion calls CancelKeyDeletion.
func (c *AWSClient) CancelKeyDeletion(ctx context.Context, keyID string) error {
	return c.call(ctx, "CancelKeyDeletion", keyID, wire.KeyIDRequest{KeyId: keyID}, &wire.KeyIDResponse{})
}

// RotateKey calls RotateKeyOnDemand.
func (c *AWSClient) RotateKey(ctx context.Context, keyID string) error {
	return c.call(ctx, "RotateKeyOnDemand", keyID, wire.KeyIDRequest{KeyId: keyID}, &wire.KeyIDResponse{})
}

// Compile-time checks.
var (
	_ KeyManager    = (*AWSClient)(nil)
	_ Encrypter     = (*AWSClient)(nil)
	_ KeyAdmin      = (*AWSClient)(nil)
	_ HealthChecker = (*AWSClient)(nil)
)
