package kmsclient

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"
)

// RequestInfo is what the S3 layer knows about the request that caused a
// key manager call. It only feeds audit records.
type RequestInfo struct {
	Bucket    string
	Object    string
	RequestID string
}

type requestInfoKey struct{}

// WithRequestInfo returns a context carrying ri for audit records.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFromContext returns the RequestInfo stored by WithRequestInfo.
func RequestInfoFromContext(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return ri
}

// AuditRecord is one line of the audit log. It never holds key material:
// no plaintext, no ciphertext, no credentials.
type AuditRecord struct {
	Time              time.Time         `json:"time"`
	Op                string            `json:"op"`
	Backend           string            `json:"backend"`
	KeyID             string            `json:"key_id,omitempty"`
	KeyARN            string            `json:"key_arn,omitempty"`
	EncryptionContext map[string]string `json:"encryption_context,omitempty"`
	Bucket            string            `json:"bucket,omitempty"`
	Object            string            `json:"object,omitempty"`
	RequestID         string            `json:"request_id,omitempty"`
	Result            string            `json:"result"`
	ErrorCode         string            `json:"error_code,omitempty"`
	Error             string            `json:"error,omitempty"`
	DurationMS        float64           `json:"duration_ms"`
}

// AuditOptions configures NewAudit.
type AuditOptions struct {
	// RequestInfo extracts request details from a call's context; nil means
	// RequestInfoFromContext. When it yields no bucket, the bucket and
	// object are taken from the context's aws:s3:arn, if any.
	RequestInfo func(context.Context) RequestInfo
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnError is told about failed writes to the log; nil ignores them
	// (the key manager call itself is not failed).
	OnError func(error)
}

// Audit is a KeyManager decorator that writes one JSON line per
// GenerateDataKey, Decrypt and DescribeKey call to an io.Writer: the
// operation, key id, resolved key id, encryption context, bucket/object,
// request id, result and error code. It is safe for concurrent use; lines
// are written whole, one Write call each.
type Audit struct {
	km   KeyManager
	w    io.Writer
	opts AuditOptions
	mu   sync.Mutex
}

// NewAudit wraps km, writing records to w.
func NewAudit(km KeyManager, w io.Writer, opts AuditOptions) *Audit {
	if opts.RequestInfo == nil {
		opts.RequestInfo = RequestInfoFromContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Audit{km: km, w: w, opts: opts}
}

// Name returns the wrapped backend's name.
func (a *Audit) Name() string { return a.km.Name() }

// Unwrap returns the wrapped KeyManager.
func (a *Audit) Unwrap() KeyManager { return a.km }

// GenerateDataKey calls the backend and records the call.
func (a *Audit) GenerateDataKey(ctx context.Context, keyID string, ec EncryptionContext, opts ...DataKeyOption) (DataKey, error) {
	start := a.opts.Now()
	dk, err := a.km.GenerateDataKey(ctx, keyID, ec, opts...)
	a.record(ctx, start, "GenerateDataKey", keyID, dk.KeyID, ec, err)
	return dk, err
}

// Decrypt calls the backend and records the call.
func (a *Audit) Decrypt(ctx context.Context, keyID string, ciphertext []byte, ec EncryptionContext) ([]byte, error) {
	start := a.opts.Now()
	pt, err := a.km.Decrypt(ctx, keyID, ciphertext, ec)
	a.record(ctx, start, "Decrypt", keyID, "", ec, err)
	return pt, err
}

// DescribeKey calls the backend and records the call.
func (a *Audit) DescribeKey(ctx context.Context, keyID string) (KeyInfo, error) {
	start := a.opts.Now()
	info, err := a.km.DescribeKey(ctx, keyID)
	a.record(ctx, start, "DescribeKey", keyID, info.CanonicalID(), nil, err)
	return info, err
}

func (a *Audit) record(ctx context.Context, start time.Time, op, keyID, resolved string, ec EncryptionContext, err error) {
	ri := a.opts.RequestInfo(ctx)
	if ri.Bucket == "" {
		ri.Bucket, ri.Object = bucketObjectFromARN(ec["aws:s3:arn"])
	}
	rec := AuditRecord{Time: start.UTC(), Op: op, Backend: a.km.Name(), KeyID: keyID, KeyARN: resolved,
		EncryptionContext: ec, Bucket: ri.Bucket, Object: ri.Object, RequestID: ri.RequestID, Result: "ok",
		DurationMS: float64(a.opts.Now().Sub(start).Microseconds()) / 1000}
	if err != nil {
		rec.Result, rec.ErrorCode, rec.Error = "error", CodeOf(err), err.Error()
	}
	line, merr := json.Marshal(rec)
	if merr != nil {
		a.fail(merr)
		return
	}
	line = append(line, '\n')
	a.mu.Lock()
	_, werr := a.w.Write(line)
	a.mu.Unlock()
	if werr != nil {
		a.fail(werr)
	}
}

func (a *Audit) fail(err error) {
	if a.opts.OnError != nil {
		a.opts.OnError(err)
	}
}

// bucketObjectFromARN splits arn:<partition>:s3:::bucket[/object].
func bucketObjectFromARN(arn string) (bucket, object string) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", ""
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "s3" {
		return "", ""
	}
	bucket, object, _ = strings.Cut(parts[5], "/")
	return bucket, object
}

var _ KeyManager = (*Audit)(nil)
