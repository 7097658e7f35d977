package s3facade

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/cofferdb/coffer/engine"
)

// This file is the S3 side of server-side encryption (issue 4): parsing
// the SSE request headers into engine parameters, in the decision order
// of s3-sse-spec.md §1.18, writing the SSE response headers (§1.1), and
// resolving the engine's SSE errors to S3's codes (§1.14). The multipart
// handlers (issue 5) call these functions too.
//
// Transport rules. The facade accepts only SigV4 (header, presigned and
// streaming forms, all of which are SigV4), so §1.3's "KMS needs SigV4"
// always holds and step 6 of §1.18 never fires; KMS objects may be read
// and written over plain HTTP because S3's rule is "TLS or SigV4" as the
// issue states it. SSE-C needs TLS (§1.5), except from a loopback client
// when Config.AllowInsecureSSECLoopback is set (tests).

// sseOp names the operation whose headers are parsed or written, since S3
// accepts and returns different SSE headers per operation (§1.1).
type sseOp uint8

const (
	opPut sseOp = iota
	opPost
	opCopy
	opCreateMultipart
	opUploadPart
	opUploadPartCopy
	opComplete
	opGet
	opHead
	opListParts
)

// SSE header names (canonical form, as fasthttp normalizes them).
const (
	hdrSSE          = "X-Amz-Server-Side-Encryption"
	hdrSSEKMSKeyID  = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
	hdrSSEContext   = "X-Amz-Server-Side-Encryption-Context"
	hdrSSEBucketKey = "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled"
	hdrSSECAlg      = "X-Amz-Server-Side-Encryption-Customer-Algorithm"
	hdrSSECKey      = "X-Amz-Server-Side-Encryption-Customer-Key"
	hdrSSECKeyMD5   = "X-Amz-Server-Side-Encryption-Customer-Key-Md5"
	hdrCopySourceC  = "X-Amz-Copy-Source-"
	argSSE          = "x-amz-server-side-encryption"
	maxKMSKeyID     = 2048 // §1.16
	maxSSECKeyB64   = 64   // base64 of 32 bytes is 44 characters
)

// S3's messages for SSE request errors (§1.3, §1.5).
const (
	msgKMSNeedsHeader   = "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms"
	msgSSECIncompatible = "Server Side Encryption with Customer provided key is incompatible with the encryption method specified"
	msgSSECAlgorithm    = "The Encryption request you specified is not valid. Supported value: AES256."
	msgSSECNoAlgorithm  = "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm."
	msgSSECNoKey        = "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key."
	msgSSECBadKey       = "The secret key was invalid for the specified algorithm."
	msgSSECNoMD5        = "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key."
	msgSSECBadMD5       = "The calculated MD5 hash of the key did not match the hash that was provided."
	msgSSECNeedsTLS     = "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection."
	msgSSEContext       = "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map"
	msgSSENotSupported  = "x-amz-server-side-encryption header is not supported for this operation."
)

// sseArgError is an InvalidArgument (or other code) naming the
// x-amz-server-side-encryption argument, as S3's SSE errors do.
func sseArgError(code ErrorCode, msg, value string) *Error {
	e := errorf(code, msg)
	e.extra = append(e.extra, [2]string{"ArgumentName", argSSE})
	if value != "" {
		e.extra = append(e.extra, [2]string{"ArgumentValue", value})
	}
	return e
}

// parseWriteSSE reads x-amz-server-side-encryption, the KMS key id,
// context and bucket-key headers and the SSE-C trio of a write (PUT,
// POST, COPY destination, CreateMultipartUpload) into engine.SSE. A nil
// result means "the bucket default". For opUploadPart and
// opUploadPartCopy, which take no SSE headers but the SSE-C trio, any of
// the four SSE headers is InvalidArgument and the result carries only
// CustomerKey (nil when the trio is absent).
//
// The returned CustomerKey is a fresh slice the caller owns; it should
// clear it once the engine call returns.
func parseWriteSSE(r *request, op sseOp) (*engine.SSE, error) {
	return parseWriteSSEFrom(r.header, r.secureForSSEC(), op)
}

// parseWriteSSEFrom is parseWriteSSE over a header getter (POST Object's
// form fields use it too). secure says the request may carry SSE-C.
func parseWriteSSEFrom(get func(string) string, secure bool, op sseOp) (*engine.SSE, error) {
	alg, keyID, ctxHdr, bk := get(hdrSSE), get(hdrSSEKMSKeyID), get(hdrSSEContext), get(hdrSSEBucketKey)
	if op == opUploadPart || op == opUploadPartCopy {
		if alg != "" || keyID != "" || ctxHdr != "" || bk != "" {
			return nil, sseArgError(CodeInvalidArgument, msgSSENotSupported, "")
		}
		ck, err := customerKeyFrom(get, "X-Amz-", secure)
		if err != nil || ck == nil {
			return nil, err
		}
		return &engine.SSE{Type: engine.SSEC, CustomerKey: ck}, nil
	}
	// §1.18 steps 1–2: TLS, then the trio in order.
	ck, err := customerKeyFrom(get, "X-Amz-", secure)
	if err != nil {
		return nil, err
	}
	// Step 3: SSE-C with x-amz-server-side-encryption.
	if ck != nil {
		if alg != "" {
			clear(ck)
			return nil, sseArgError(CodeInvalidArgument, msgSSECIncompatible, "")
		}
		if keyID != "" || ctxHdr != "" {
			clear(ck)
			return nil, sseArgError(CodeInvalidArgument, msgKMSNeedsHeader, "")
		}
		if bk != "" {
			clear(ck)
			return nil, sseArgError(CodeInvalidArgument, "Bucket Keys apply only to SSE-KMS.", "")
		}
		// Step 4 (a bucket that blocks SSE-C) is the engine's:
		// ErrEncryptionTypeBlocked, 403.
		return &engine.SSE{Type: engine.SSEC, CustomerKey: ck}, nil
	}
	// Step 5: the algorithm, and KMS headers without aws:kms*.
	sse := &engine.SSE{}
	if alg != "" {
		t, err := engine.ParseSSEAlgorithm(alg)
		if err != nil {
			return nil, sseArgError(CodeInvalidArgument, "The encryption method specified is not supported", alg)
		}
		sse.Type = t
	}
	kms := sse.Type == engine.SSEKMS || sse.Type == engine.DSSEKMS
	if (keyID != "" || ctxHdr != "") && !kms {
		return nil, sseArgError(CodeInvalidArgument, msgKMSNeedsHeader, "")
	}
	if bk != "" {
		// Choice: the bucket-key header is accepted alone (the bucket's
		// default decides the mode, and the flag overrides its Bucket Key
		// setting, §1.7) and with aws:kms or aws:kms:dsse (DSSE ignores it,
		// §1.4); with an explicit AES256 it is refused (§1.18 step 5).
		v, ok := parseBool(bk)
		if !ok {
			return nil, errorf(CodeInvalidArgument, "The x-amz-server-side-encryption-bucket-key-enabled header must be true or false.")
		}
		if sse.Type == engine.SSES3 {
			return nil, sseArgError(CodeInvalidArgument, msgKMSNeedsHeader, "")
		}
		sse.BucketKey = &v
	}
	if len(keyID) > maxKMSKeyID {
		return nil, sseArgError(CodeInvalidArgument, "The KMS key id is too long.", "")
	}
	sse.KMSKeyID = keyID
	// Step 6 holds by construction (SigV4 only). Step 7: the context's
	// form; its aws:s3:arn is checked by the engine, which knows whether
	// a Bucket Key is in effect.
	if ctxHdr != "" {
		m, err := parseContext(ctxHdr)
		if err != nil {
			return nil, err
		}
		sse.Context = m
	}
	if alg == "" && sse.BucketKey == nil {
		return nil, nil // step 8: the bucket default
	}
	return sse, nil
}

// parseContext decodes x-amz-server-side-encryption-context (§1.15
// steps 2–4).
func parseContext(v string) (map[string]string, error) {
	bad := errorf(CodeInvalidArgument, msgSSEContext)
	bad.extra = [][2]string{{"ArgumentName", "x-amz-server-side-encryption-context"}}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || !utf8.Valid(raw) {
		return nil, bad
	}
	m, err := engine.ParseEncryptionContext(v)
	if err != nil {
		return nil, bad
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// parseCustomerKey reads the SSE-C trio (copySource: the
// x-amz-copy-source- trio) and returns the raw 32-byte key, or nil when
// the headers are absent. It applies §1.5's errors, in §1.18's order:
// transport, algorithm, key, MD5. The key is a fresh slice the caller
// owns and should clear after use.
func parseCustomerKey(r *request, copySource bool) ([]byte, error) {
	prefix := "X-Amz-"
	if copySource {
		prefix = hdrCopySourceC
	}
	return customerKeyFrom(r.header, prefix, r.secureForSSEC())
}

func customerKeyFrom(get func(string) string, prefix string, secure bool) ([]byte, error) {
	const trio = "Server-Side-Encryption-Customer-"
	alg, key, sum := get(prefix+trio+"Algorithm"), get(prefix+trio+"Key"), get(prefix+trio+"Key-Md5")
	if alg == "" && key == "" && sum == "" {
		return nil, nil
	}
	if !secure {
		return nil, errorf(CodeInvalidRequest, msgSSECNeedsTLS)
	}
	switch {
	case alg == "":
		return nil, sseArgError(CodeInvalidArgument, msgSSECNoAlgorithm, "")
	case alg != "AES256":
		return nil, sseArgError(CodeInvalidEncryptionAlgorithm, msgSSECAlgorithm, truncate(alg, 64))
	case key == "":
		return nil, sseArgError(CodeInvalidArgument, msgSSECNoKey, "")
	}
	if len(key) > maxSSECKeyB64 {
		return nil, sseArgError(CodeInvalidArgument, msgSSECBadKey, "")
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) != 32 {
		clear(raw)
		return nil, sseArgError(CodeInvalidArgument, msgSSECBadKey, "")
	}
	if sum == "" {
		clear(raw)
		return nil, sseArgError(CodeInvalidArgument, msgSSECNoMD5, "")
	}
	got := md5.Sum(raw)
	want, err := base64.StdEncoding.DecodeString(sum)
	if err != nil || subtle.ConstantTimeCompare(got[:], want) != 1 {
		clear(raw)
		return nil, sseArgError(CodeInvalidArgument, msgSSECBadMD5, "")
	}
	return raw, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// secureForSSEC reports whether the request may carry an SSE-C key: it
// came over TLS, or from a loopback address with
// Config.AllowInsecureSSECLoopback.
func (r *request) secureForSSEC() bool {
	if r.ctx.IsTLS() {
		return true
	}
	return r.s != nil && r.s.cfg.AllowInsecureSSECLoopback && r.ctx.RemoteIP().IsLoopback()
}

// rejectReadSSE answers GET and HEAD requests that carry
// x-amz-server-side-encryption or KMS headers, as S3 does (§1.2, §1.3:
// a client never resends the context).
func rejectReadSSE(r *request) error {
	for _, h := range []string{hdrSSE, hdrSSEKMSKeyID, hdrSSEContext, hdrSSEBucketKey} {
		if r.header(h) != "" {
			return sseArgError(CodeInvalidArgument, msgSSENotSupported, "")
		}
	}
	return nil
}

// setSSEHeaders writes the SSE response headers S3 returns for op (§1.1):
// x-amz-server-side-encryption, the KMS key ARN, bucket-key-enabled, the
// context where S3 echoes it, and the SSE-C algorithm and key MD5.
func setSSEHeaders(resp *response, info engine.SSEInfo, op sseOp) {
	if op == opListParts {
		return
	}
	switch info.Type {
	case engine.SSES3:
		resp.set(hdrSSE, "AES256")
	case engine.SSEKMS, engine.DSSEKMS:
		resp.set(hdrSSE, info.Type.String())
		if info.KMSKeyARN != "" {
			resp.set(hdrSSEKMSKeyID, info.KMSKeyARN)
		}
		if info.BucketKey {
			resp.set(hdrSSEBucketKey, "true")
		}
		// The context is echoed only by the writes that accept it, and
		// only when the client sent one (§1.1, §1.3). The engine keeps it
		// as a map: the echo is canonical JSON (sorted keys), the same
		// pairs the client sent.
		switch op {
		case opPut, opPost, opCopy, opCreateMultipart:
			if info.Context != nil {
				if b, err := json.Marshal(info.Context); err == nil {
					resp.set(hdrSSEContext, base64.StdEncoding.EncodeToString(b))
				}
			}
		}
	case engine.SSEC:
		if op == opComplete {
			return
		}
		resp.set(hdrSSECAlg, "AES256")
		if info.CustomerKeyMD5 != "" {
			resp.set(hdrSSECKeyMD5, info.CustomerKeyMD5)
		}
	}
}

// classifySSE resolves the engine's key-manager errors, whose S3 code
// depends on the key manager's exception name (§1.3): "KMS.<Name>" with
// 400 for a key that is unknown, disabled, pending deletion, of the wrong
// kind or a ciphertext it refuses; AccessDenied 403 for a refused
// permission. A key manager that cannot be reached is the server's
// problem, not the request's: our choice (S3 documents no code) is 503
// ServiceUnavailable for KMSInternalException, DependencyTimeoutException,
// KMSUnavailable-like and code-less failures, and 503 SlowDown for
// throttling, so that SDKs retry.
func classifySSE(err error) (apiError, bool) {
	var ke *engine.KMSError
	if !errors.As(err, &ke) {
		return apiError{}, false
	}
	mk := func(code ErrorCode, status int, msg string) (apiError, bool) {
		return apiError{code: code, status: status, message: msg}, true
	}
	switch ke.Code {
	case "AccessDeniedException":
		return mk(CodeAccessDenied, http.StatusForbidden, "The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access.")
	case "ThrottlingException", "LimitExceededException":
		return mk(CodeSlowDown, http.StatusServiceUnavailable, CodeSlowDown.Description())
	case "", "KMSInternalException", "DependencyTimeoutException", "KMSUnavailableException", "CloudHsmClusterNotActiveException", "CustomKeyStoreInvalidStateException":
		return mk(CodeServiceUnavailable, http.StatusServiceUnavailable, "The key manager is unavailable. Please try again.")
	case "NotFoundException":
		return mk(ErrorCode("KMS.NotFoundException"), http.StatusBadRequest, "Invalid keyId: the key does not exist.")
	case "DisabledException":
		return mk(ErrorCode("KMS.DisabledException"), http.StatusBadRequest, "The key is disabled.")
	case "KMSInvalidStateException":
		return mk(ErrorCode("KMS.KMSInvalidStateException"), http.StatusBadRequest, "The key is pending deletion or otherwise not usable.")
	}
	code := ke.Code
	if len(code) > 64 || strings.ContainsFunc(code, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	}) {
		return mk(CodeServiceUnavailable, http.StatusServiceUnavailable, "The key manager is unavailable. Please try again.")
	}
	return mk(ErrorCode("KMS."+code), http.StatusBadRequest, "The key manager refused the request ("+code+").")
}

// engineSSEMessage returns the engine's own S3-worded message for an
// invalid encryption context (two different texts share the sentinel).
func engineSSEMessage(err error) string {
	if !errors.Is(err, engine.ErrInvalidEncryptionContext) {
		return ""
	}
	s := err.Error()
	for _, m := range []string{"the context value for 'aws:s3:arn' shall be equal to object's ARN",
		"the context value for 'aws:s3:arn' shall be equal to the bucket's ARN"} {
		if strings.Contains(s, m) {
			return "The" + m[3:]
		}
	}
	return msgSSEContext
}
