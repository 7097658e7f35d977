package kmsserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cofferdb/coffer/internal/sigv4"
	"github.com/cofferdb/coffer/kmsclient"
	"github.com/cofferdb/coffer/kmsclient/internal/wire"
)

// Defaults.
const (
	DefaultMaxBodySize = 64 << 10
	DefaultMaxSkew     = 5 * time.Minute
)

// Options configures New.
type Options struct {
	// Keyring backs every operation. Required.
	Keyring *kmsclient.Keyring
	// Credentials returns the secret access key of an access key id.
	// Required. StaticCredentials builds one from a map.
	Credentials func(accessKeyID string) (secret string, ok bool)
	// Region is the region requests must be signed for; default the
	// keyring's region.
	Region string
	// MaxSkew bounds the difference between request and server time
	// (default 5 minutes).
	MaxSkew time.Duration
	// MaxBodySize bounds request bodies (default 64 KiB).
	MaxBodySize int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one debug line per failed request (operation and
	// error code only); nil discards.
	Logger *slog.Logger
}

// Validate reports every problem with the options at once.
func (o *Options) Validate() error {
	var errs []error
	if o.Keyring == nil {
		errs = append(errs, errors.New("kmsserver: Options.Keyring is required"))
	}
	if o.Credentials == nil {
		errs = append(errs, errors.New("kmsserver: Options.Credentials is required"))
	}
	if o.MaxSkew < 0 {
		errs = append(errs, errors.New("kmsserver: Options.MaxSkew must not be negative"))
	}
	if o.MaxBodySize < 0 || o.MaxBodySize > 16<<20 {
		errs = append(errs, errors.New("kmsserver: Options.MaxBodySize must be 0..16 MiB"))
	}
	return errors.Join(errs...)
}

// StaticCredentials returns a credentials lookup over a fixed map of
// access key id to secret. The map is copied.
func StaticCredentials(m map[string]string) func(string) (string, bool) {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return func(id string) (string, bool) {
		s, ok := c[id]
		return s, ok
	}
}

// Handler is the http.Handler. Create it with New.
type Handler struct {
	kr       *kmsclient.Keyring
	verifier sigv4.Verifier
	maxBody  int64
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Handler for opts.
func New(opts Options) (*Handler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{kr: opts.Keyring, maxBody: opts.MaxBodySize, now: opts.Now, log: opts.Logger}
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxBodySize
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	region := opts.Region
	if region == "" {
		region = opts.Keyring.Region()
	}
	skew := opts.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	h.verifier = sigv4.Verifier{Region: region, Service: "kms", NormalizePath: true, MaxSkew: skew, Lookup: opts.Credentials}
	return h, nil
}

// apiError is an error in AWS's shape.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newAPIError(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func validation(format string, args ...any) *apiError {
	return newAPIError(http.StatusBadRequest, kmsclient.CodeValidation, format, args...)
}

// ServeHTTP authenticates and dispatches one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	op, body, aerr := h.authenticate(r)
	var status int
	var resp []byte
	if aerr != nil {
		status, resp = errorResponse(aerr)
	} else {
		status, resp = h.dispatch(r.Context(), op, body)
		clear(body) // may hold Encrypt plaintext
	}
	if status != http.StatusOK {
		h.log.Debug("kmsserver: request failed", "op", op, "status", status, "request_id", reqID)
	}
	w.Header().Set("Content-Type", wire.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.WriteHeader(status)
	w.Write(resp)
	clear(resp) // may hold plaintext data keys
}

func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// authenticate reads the body and checks framing and the signature.
func (h *Handler) authenticate(r *http.Request) (op string, body []byte, _ *apiError) {
	if r.Method != http.MethodPost || (r.URL.Path != "/" && r.URL.Path != "") {
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnknownOperation, "only POST / is served")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil {
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeSerialization, "reading request body failed")
	}
	if int64(len(body)) > h.maxBody {
		clear(body)
		return "", nil, newAPIError(http.StatusRequestEntityTooLarge, kmsclient.CodeValidation, "request body larger than %d bytes", h.maxBody)
	}
	m := &sigv4.Message{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Host: r.Host, Header: r.Header}
	sum := sha256.Sum256(body)
	v, err := h.verifier.Verify(m, hex.EncodeToString(sum[:]), h.now())
	if err != nil {
		clear(body)
		return "", nil, signatureError(err)
	}
	if v.Presigned {
		clear(body)
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeIncompleteSignature, "presigned requests are not accepted")
	}
	if v.SecurityToken != "" || r.Header.Get(sigv4.HeaderSecurityToken) != "" {
		clear(body)
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnrecognizedClient, "The security token included in the request is invalid.")
	}
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/x-amz-json-1.1") && !strings.HasPrefix(ct, "application/x-amz-json-1.0") {
		clear(body)
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeSerialization, "Content-Type must be %s", wire.ContentType)
	}
	target := r.Header.Get(wire.HeaderTarget)
	op, ok := strings.CutPrefix(target, wire.TargetPrefix)
	if !ok || op == "" {
		clear(body)
		return "", nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnknownOperation, "X-Amz-Target must name a TrentService operation")
	}
	return op, body, nil
}

func signatureError(err error) *apiError {
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return newAPIError(http.StatusBadRequest, kmsclient.CodeMissingAuthToken, "Missing Authentication Token")
	case errors.Is(err, sigv4.ErrUnknownAccessKey):
		return newAPIError(http.StatusBadRequest, kmsclient.CodeUnrecognizedClient, "The security token included in the request is invalid.")
	case errors.Is(err, sigv4.ErrExpired):
		return newAPIError(http.StatusBadRequest, kmsclient.CodeInvalidSignature, "Signature expired or not yet valid.")
	case errors.Is(err, sigv4.ErrScopeMismatch):
		return newAPIError(http.StatusBadRequest, kmsclient.CodeInvalidSignature, "Credential should be scoped to a valid region and to service kms.")
	case errors.Is(err, sigv4.ErrSignatureMismatch):
		return newAPIError(http.StatusBadRequest, kmsclient.CodeInvalidSignature,
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	default:
		return newAPIError(http.StatusBadRequest, kmsclient.CodeIncompleteSignature, "The Authorization header is malformed or incomplete.")
	}
}

func errorResponse(e *apiError) (int, []byte) {
	b, _ := json.Marshal(wire.ErrorBody{Type: e.code, Message: e.message})
	return e.status, b
}

// toAPIError converts a keyring error.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ke *kmsclient.Error
	if errors.As(err, &ke) {
		return &apiError{status: ke.HTTPStatus(), code: ke.Code, message: ke.Message}
	}
	return newAPIError(http.StatusInternalServerError, kmsclient.CodeInternal, "internal error")
}

// decode parses a JSON request body into v. An empty body is {}.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return newAPIError(http.StatusBadRequest, kmsclient.CodeSerialization, "request body is not valid JSON for this operation")
	}
	if dec.More() {
		return newAPIError(http.StatusBadRequest, kmsclient.CodeSerialization, "trailing data after the request object")
	}
	return nil
}

// dispatch runs one operation on a decoded body and returns the status and
// JSON response. It is separate from ServeHTTP so that it can be fuzzed.
func (h *Handler) dispatch(ctx context.Context, op string, body []byte) (int, []byte) {
	out, err := h.run(ctx, op, body)
	if err != nil {
		return errorResponse(toAPIError(err))
	}
	if out == nil {
		return http.StatusOK, nil
	}
	b, jerr := json.Marshal(out)
	// The response bytes are wiped by ServeHTTP; wipe the decoded key too.
	switch r := out.(type) {
	case wire.GenerateDataKeyResponse:
		clear(r.Plaintext)
	case wire.DecryptResponse:
		clear(r.Plaintext)
	}
	if jerr != nil {
		return errorResponse(newAPIError(http.StatusInternalServerError, kmsclient.CodeInternal, "encoding response failed"))
	}
	return http.StatusOK, b
}

func (h *Handler) run(ctx context.Context, op string, body []byte) (any, error) {
	switch op {
	case "GenerateDataKey", "GenerateDataKeyWithoutPlaintext":
		var in wire.GenerateDataKeyRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.generateDataKey(ctx, in, op == "GenerateDataKeyWithoutPlaintext")
	case "Decrypt":
		var in wire.DecryptRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		defer clear(in.CiphertextBlob)
		return h.decrypt(ctx, in)
	case "Encrypt":
		var in wire.EncryptRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		defer clear(in.Plaintext)
		return h.encrypt(ctx, in)
	case "ReEncrypt":
		var in wire.ReEncryptRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.reEncrypt(ctx, in)
	case "DescribeKey":
		var in wire.KeyIDRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		if err := requireKeyID(in.KeyId); err != nil {
			return nil, err
		}
		info, err := h.kr.DescribeKey(ctx, in.KeyId)
		if err != nil {
			return nil, err
		}
		return wire.DescribeKeyResponse{KeyMetadata: h.metadata(info)}, nil
	case "CreateKey":
		var in wire.CreateKeyRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.createKey(ctx, in)
	case "CreateAlias", "DeleteAlias":
		var in wire.AliasRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		if in.AliasName == "" {
			return nil, validation("1 validation error detected: Value null at 'aliasName' failed to satisfy constraint: Member must not be null")
		}
		if op == "DeleteAlias" {
			return nil, h.kr.DeleteAlias(ctx, in.AliasName)
		}
		if err := requireKeyID(in.TargetKeyId); err != nil {
			return nil, err
		}
		return nil, h.kr.CreateAlias(ctx, in.AliasName, in.TargetKeyId)
	case "ListKeys":
		var in wire.ListRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.listKeys(ctx, in)
	case "ListAliases":
		var in wire.ListRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.listAliases(ctx, in)
	case "EnableKey", "DisableKey", "CancelKeyDeletion", "RotateKeyOnDemand":
		var in wire.KeyIDRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		if err := requireKeyID(in.KeyId); err != nil {
			return nil, err
		}
		return h.keyStateOp(ctx, op, in.KeyId)
	case "ScheduleKeyDeletion":
		var in wire.ScheduleKeyDeletionRequest
		if err := decode(body, &in); err != nil {
			return nil, err
		}
		return h.scheduleDeletion(ctx, in)
	default:
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnknownOperation, "unknown operation %q", truncate(op))
	}
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}

func requireKeyID(id string) *apiError {
	if id == "" {
		return validation("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	if len(id) > 2048 {
		return validation("1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	return nil
}

func (h *Handler) generateDataKey(ctx context.Context, in wire.GenerateDataKeyRequest, withoutPlaintext bool) (any, error) {
	if err := requireKeyID(in.KeyId); err != nil {
		return nil, err
	}
	var size int
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != nil:
		return nil, validation("Please specify either number of bytes or key spec, not both.")
	case in.KeySpec == "AES_256":
		size = 32
	case in.KeySpec == "AES_128":
		size = 16
	case in.KeySpec != "":
		return nil, validation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", truncate(in.KeySpec))
	case in.NumberOfBytes != nil:
		if *in.NumberOfBytes < 1 || *in.NumberOfBytes > kmsclient.MaxDataKeySize {
			return nil, validation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *in.NumberOfBytes)
		}
		size = int(*in.NumberOfBytes)
	default:
		return nil, validation("Please specify either number of bytes or key spec.")
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, newAPIError(http.StatusPreconditionFailed, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	opts := []kmsclient.DataKeyOption{kmsclient.WithNumberOfBytes(size)}
	if withoutPlaintext {
		opts = append(opts, kmsclient.WithoutPlaintext())
	}
	dk, err := h.kr.GenerateDataKey(ctx, in.KeyId, in.EncryptionContext, opts...)
	if err != nil {
		return nil, err
	}
	return wire.GenerateDataKeyResponse{KeyId: dk.KeyID, Plaintext: dk.Plaintext, CiphertextBlob: dk.Ciphertext}, nil
}

func (h *Handler) decrypt(ctx context.Context, in wire.DecryptRequest) (any, error) {
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > kmsclient.MaxCiphertextSize {
		return nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeInvalidKeyUsage, "EncryptionAlgorithm %s is not supported by this key", truncate(in.EncryptionAlgorithm))
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, newAPIError(http.StatusPreconditionFailed, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	pt, arn, err := h.kr.DecryptWithKeyID(ctx, in.KeyId, in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return wire.DecryptResponse{KeyId: arn, Plaintext: pt, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

func (h *Handler) encrypt(ctx context.Context, in wire.EncryptRequest) (any, error) {
	if err := requireKeyID(in.KeyId); err != nil {
		return nil, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > kmsclient.MaxPlaintextSize {
		return nil, validation("1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096")
	}
	if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != "SYMMETRIC_DEFAULT" {
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeInvalidKeyUsage, "EncryptionAlgorithm %s is not supported by this key", truncate(in.EncryptionAlgorithm))
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, newAPIError(http.StatusPreconditionFailed, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	ct, arn, err := h.kr.Encrypt(ctx, in.KeyId, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return wire.EncryptResponse{CiphertextBlob: ct, KeyId: arn, EncryptionAlgorithm: "SYMMETRIC_DEFAULT"}, nil
}

func (h *Handler) reEncrypt(ctx context.Context, in wire.ReEncryptRequest) (any, error) {
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > kmsclient.MaxCiphertextSize {
		return nil, validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if err := requireKeyID(in.DestinationKeyId); err != nil {
		return nil, err
	}
	pt, src, err := h.kr.DecryptWithKeyID(ctx, in.SourceKeyId, in.CiphertextBlob, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	ct, dst, err := h.kr.Encrypt(ctx, in.DestinationKeyId, pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return wire.ReEncryptResponse{CiphertextBlob: ct, KeyId: dst, SourceKeyId: src}, nil
}

func (h *Handler) createKey(ctx context.Context, in wire.CreateKeyRequest) (any, error) {
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnsupported, "Origin %s is not supported", truncate(in.Origin))
	}
	if in.MultiRegion != nil && *in.MultiRegion {
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnsupported, "multi-Region keys are not supported")
	}
	if in.CustomKeyStoreId != "" {
		return nil, newAPIError(http.StatusBadRequest, kmsclient.CodeUnsupported, "custom key stores are not supported")
	}
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	} else if in.CustomerMasterKeySpec != "" && in.CustomerMasterKeySpec != spec {
		return nil, validation("KeySpec and CustomerMasterKeySpec differ")
	}
	if len(in.Tags) > 50 {
		return nil, newAPIError(http.StatusBadRequest, "TagException", "at most 50 tags")
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		if t.TagKey == "" || len(t.TagKey) > 128 || len(t.TagValue) > 256 {
			return nil, newAPIError(http.StatusBadRequest, "TagException", "tag keys must be 1-128 and values 0-256 characters")
		}
		tags[t.TagKey] = t.TagValue
	}
	info, err := h.kr.CreateKey(ctx, kmsclient.CreateKeyInput{Description: in.Description, Spec: kmsclient.KeySpec(spec),
		Usage: kmsclient.KeyUsage(in.KeyUsage), Tags: tags})
	if err != nil {
		return nil, err
	}
	return wire.CreateKeyResponse{KeyMetadata: h.metadata(info)}, nil
}

// metadata renders KeyInfo as AWS's KeyMetadata.
func (h *Handler) metadata(k kmsclient.KeyInfo) wire.KeyMetadata {
	m := wire.KeyMetadata{AWSAccountId: h.kr.AccountID(), KeyId: k.KeyID, Arn: k.ARN, CreationDate: wire.NewEpoch(k.CreatedAt),
		Enabled: k.State == kmsclient.KeyStateEnabled, Description: k.Description, KeyUsage: string(k.Usage), KeyState: string(k.State),
		DeletionDate: wire.NewEpoch(k.DeletionDate), Origin: "AWS_KMS", KeyManager: "CUSTOMER", KeySpec: string(k.Spec),
		CustomerMasterKeySpec: string(k.Spec)}
	if k.AWSManaged {
		m.KeyManager = "AWS"
	}
	spec := string(k.Spec)
	switch {
	case k.Spec == kmsclient.KeySpecSymmetricDefault:
		m.EncryptionAlgorithms = []string{"SYMMETRIC_DEFAULT"}
	case strings.HasPrefix(spec, "RSA_") && k.Usage == kmsclient.KeyUsageEncryptDecrypt:
		m.EncryptionAlgorithms = []string{"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}
	case strings.HasPrefix(spec, "RSA_") && k.Usage == kmsclient.KeyUsageSignVerify:
		m.SigningAlgorithms = []string{"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
			"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512"}
	case strings.HasPrefix(spec, "ECC_") && k.Usage == kmsclient.KeyUsageSignVerify:
		m.SigningAlgorithms = []string{"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512"}
	case strings.HasPrefix(spec, "HMAC_"):
		m.MacAlgorithms = []string{"HMAC_" + strings.TrimPrefix(spec, "HMAC_")}
	}
	return m
}

// page applies Limit (1..max, default 100) and an opaque Marker (an
// offset) to n items.
func page(in wire.ListRequest, n, max int) (start, end int, next string, _ *apiError) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || int(*in.Limit) > max {
			return 0, 0, "", validation("1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", max)
		}
		limit = int(*in.Limit)
	}
	if in.Marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Marker)
		off, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || off < 0 || off > n {
			return 0, 0, "", newAPIError(http.StatusBadRequest, "InvalidMarkerException", "The marker is not valid.")
		}
		start = off
	}
	end = min(n, start+limit)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, nil
}

func (h *Handler) listKeys(ctx context.Context, in wire.ListRequest) (any, error) {
	keys, err := h.kr.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	start, end, next, aerr := page(in, len(keys), 1000)
	if aerr != nil {
		return nil, aerr
	}
	out := wire.ListKeysResponse{Keys: []wire.KeyListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, k := range keys[start:end] {
		out.Keys = append(out.Keys, wire.KeyListEntry{KeyId: k.KeyID, KeyArn: k.ARN})
	}
	return out, nil
}

func (h *Handler) listAliases(ctx context.Context, in wire.ListRequest) (any, error) {
	aliases, err := h.kr.ListAliases(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	start, end, next, aerr := page(in, len(aliases), 100)
	if aerr != nil {
		return nil, aerr
	}
	out := wire.ListAliasesResponse{Aliases: []wire.AliasListEntry{}, NextMarker: next, Truncated: next != ""}
	for _, a := range aliases[start:end] {
		out.Aliases = append(out.Aliases, wire.AliasListEntry{AliasName: a.Name, AliasArn: a.ARN, TargetKeyId: a.TargetKeyID, CreationDate: wire.NewEpoch(a.CreatedAt)})
	}
	return out, nil
}

func (h *Handler) keyStateOp(ctx context.Context, op, keyID string) (any, error) {
	var err error
	switch op {
	case "EnableKey":
		err = h.kr.EnableKey(ctx, keyID)
	case "DisableKey":
		err = h.kr.DisableKey(ctx, keyID)
	case "CancelKeyDeletion":
		err = h.kr.CancelKeyDeletion(ctx, keyID)
	case "RotateKeyOnDemand":
		err = h.kr.RotateKey(ctx, keyID)
	}
	if err != nil {
		return nil, err
	}
	if op == "EnableKey" || op == "DisableKey" {
		return nil, nil
	}
	info, err := h.kr.DescribeKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	return wire.KeyIDResponse{KeyId: info.ARN}, nil
}

func (h *Handler) scheduleDeletion(ctx context.Context, in wire.ScheduleKeyDeletionRequest) (any, error) {
	if err := requireKeyID(in.KeyId); err != nil {
		return nil, err
	}
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, validation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
	}
	when, err := h.kr.ScheduleKeyDeletion(ctx, in.KeyId, time.Duration(days)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	info, err := h.kr.DescribeKey(ctx, in.KeyId)
	if err != nil {
		return nil, err
	}
	return wire.ScheduleKeyDeletionResponse{KeyId: info.ARN, DeletionDate: wire.NewEpoch(when), KeyState: string(info.State), PendingWindowInDays: days}, nil
}
