package s3facade

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/internal/sigv4"
)

// Payload hash values of x-amz-content-sha256 besides a hex SHA-256.
const (
	unsignedPayload         = "UNSIGNED-PAYLOAD"
	streamingSigned         = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedTrailr = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	streamingECDSAPrefix    = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	maxPresignExpiry        = 7 * 24 * time.Hour
	maxSkew                 = 15 * time.Minute
)

// payloadMode says how the request body is protected.
type payloadMode uint8

const (
	payloadHashed           payloadMode = iota // hex SHA-256 signed; checked at EOF
	payloadUnsigned                            // UNSIGNED-PAYLOAD
	payloadStreaming                           // aws-chunked, chunk signatures
	payloadStreamingTrailer                    // aws-chunked, chunk signatures, signed trailer
	payloadUnsignedTrailer                     // aws-chunked, no signatures, trailer
)

// authInfo is the outcome of authentication: who signed, and how the body
// must be read. Only authenticate creates it; a request without one never
// reaches a handler of a non-public operation.
type authInfo struct {
	user      *User
	presigned bool
	mode      payloadMode
	signer    *chunkSigner // streaming modes with chunk signatures
	// bucket is the addressed bucket as authorize read it, or nil when it
	// needed no lookup (root, a granted bucket).
	bucket *engine.BucketInfo
}

// fastHeaders adapts a fasthttp request header to sigv4.HeaderGetter.
type fastHeaders struct{ h *fasthttp.RequestHeader }

func (f fastHeaders) Values(name string) []string {
	all := f.h.PeekAll(name)
	if len(all) == 0 {
		return nil
	}
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

// authenticate is the one verification entry point: every request to a
// non-public operation passes here before its handler, whatever its auth
// type. It sets r.auth and r.body (the verified body reader) or returns
// the S3 error to send. Anonymous requests are refused.
func (s *Server) authenticate(r *request) error {
	h := &r.ctx.Request.Header
	if r.op == opPostObject && isFormPost(h) {
		// POST Object: the signed policy in the form is the credential
		// (handlers_post.go); an Authorization header is not consulted.
		return s.authPostForm(r)
	}
	authz := h.Peek("Authorization")
	presigned := sigv4.IsPresigned(r.t.query) || r.t.query.Has(sigv4.QueryExpires) ||
		r.t.query.Has(sigv4.QuerySignedHeaders)
	switch {
	case len(authz) > 0 && presigned:
		return errorf(CodeInvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified.")
	case len(authz) > 0:
		return s.authHeader(r, string(authz))
	case presigned:
		return s.authQuery(r)
	case r.t.query.Has("Signature") || r.t.query.Has("AWSAccessKeyId"):
		return errorf(CodeUnsupportedSignatureAlgorithm, "")
	}
	return errorf(CodeAccessDenied, "Anonymous access is not allowed.")
}

// message builds the SigV4 view of the request.
func (r *request) message(query url.Values) *sigv4.Message {
	h := &r.ctx.Request.Header
	return &sigv4.Message{
		Method: string(h.Method()),
		Path:   r.t.path,
		Query:  query,
		Host:   string(h.Host()),
		Header: fastHeaders{h},
	}
}

// checkSignedAmzHeaders enforces S3's rule that every x-amz-* header sent
// is signed.
func checkSignedAmzHeaders(h *fasthttp.RequestHeader, signed []string) error {
	var unsigned string
	for k := range h.All() {
		if len(k) < 6 || !strings.EqualFold(string(k[:6]), "x-amz-") {
			continue
		}
		lk := strings.ToLower(string(k))
		if !contains(signed, lk) {
			unsigned = lk
			break
		}
	}
	if unsigned != "" {
		e := errorf(CodeAccessDenied, "There were headers present in the request which were not signed")
		e.extra = [][2]string{{"HeadersNotSigned", unsigned}}
		return e
	}
	return nil
}

func (s *Server) lookup(akid string) (string, bool) {
	u, ok := s.users[akid]
	if !ok {
		return "", false
	}
	return u.SecretKey, true
}

// authHeader verifies SigV4 in the Authorization header.
func (s *Server) authHeader(r *request, authz string) error {
	h := &r.ctx.Request.Header
	a, err := sigv4.ParseAuthorization(authz)
	if err != nil {
		if errors.Is(err, sigv4.ErrUnsupportedAlgorithm) {
			return wrapErr(CodeUnsupportedSignatureAlgorithm, "", err)
		}
		return wrapErr(CodeAuthorizationHeaderMalformed, "", err)
	}
	if len(h.PeekAll("X-Amz-Security-Token")) > 0 {
		return errorf(CodeInvalidToken, "")
	}
	shaVals := h.PeekAll("X-Amz-Content-Sha256")
	if len(shaVals) != 1 {
		return errorf(CodeInvalidRequest, "Missing required header for this request: x-amz-content-sha256")
	}
	payload := string(shaVals[0])
	mode, err := classifyPayload(payload)
	if err != nil {
		return err
	}
	if err := checkSignedAmzHeaders(h, a.SignedHeaders); err != nil {
		return err
	}
	if _, ok := s.users[a.Credential.AccessKeyID]; !ok {
		return errorf(CodeInvalidAccessKeyID, "")
	}
	v, err := s.verifier.VerifyHeader(r.message(r.t.query), payload, r.now)
	if err != nil {
		return s.mapVerifyErr(err, false, r)
	}
	u := s.users[v.AccessKeyID]
	r.auth = &authInfo{user: u, mode: mode}
	if mode == payloadStreaming || mode == payloadStreamingTrailer {
		key := sigv4.DeriveKey(u.SecretKey, v.Scope)
		r.auth.signer = newChunkSigner(key, v.Time.UTC().Format(sigv4.TimeFormat), v.Scope.String(), a.Signature)
		key.Zero()
	}
	return s.openBody(r, payload)
}

// classifyPayload maps x-amz-content-sha256 to a payload mode.
func classifyPayload(v string) (payloadMode, error) {
	switch {
	case v == unsignedPayload:
		return payloadUnsigned, nil
	case v == streamingSigned:
		return payloadStreaming, nil
	case v == streamingSignedTrailer:
		return payloadStreamingTrailer, nil
	case v == streamingUnsignedTrailr:
		return payloadUnsignedTrailer, nil
	case strings.HasPrefix(v, streamingECDSAPrefix):
		return 0, errorf(CodeNotImplemented, "SigV4a (ECDSA) streaming signatures are not supported.")
	case isLowerHex(v, 64):
		return payloadHashed, nil
	}
	return 0, errorf(CodeInvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a STREAMING-* value or a SHA-256 hex digest.")
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// authQuery verifies a presigned request.
func (s *Server) authQuery(r *request) error {
	q := r.t.query
	if q.Has(sigv4.QueryExpires) {
		secs, err := strconv.ParseInt(q.Get(sigv4.QueryExpires), 10, 64)
		switch {
		case err != nil:
			return errorf(CodeAuthorizationQueryParameters, "X-Amz-Expires should be a number")
		case secs < 0:
			return errorf(CodeAuthorizationQueryParameters, "X-Amz-Expires must be non-negative")
		case secs > int64(maxPresignExpiry/time.Second):
			return errorf(CodeAuthorizationQueryParameters, "X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
	}
	p, err := sigv4.ParsePresigned(q)
	if err != nil {
		return wrapErr(CodeAuthorizationQueryParameters, "", err)
	}
	if p.SecurityToken != "" {
		return errorf(CodeInvalidToken, "")
	}
	if _, ok := s.users[p.Credential.AccessKeyID]; !ok {
		return errorf(CodeInvalidAccessKeyID, "")
	}
	if r.now.Before(p.Time.Add(-maxSkew)) {
		return errorf(CodeAccessDenied, "Request is not valid yet")
	}
	if r.now.After(p.Time.Add(p.Expires)) {
		return errorf(CodeAccessDenied, "Request has expired")
	}
	h := &r.ctx.Request.Header
	if err := checkSignedAmzHeaders(h, p.SignedHeaders); err != nil {
		return err
	}
	payload := unsignedPayload
	if v := q.Get("X-Amz-Content-Sha256"); v != "" {
		payload = v
	}
	mode, err := classifyPayload(payload)
	if err != nil {
		return err
	}
	if mode != payloadHashed && mode != payloadUnsigned {
		return errorf(CodeAuthorizationQueryParameters, "Presigned requests cannot use streaming payloads.")
	}
	v, err := s.verifier.VerifyQuery(r.message(q), payload, r.now)
	if err != nil {
		return s.mapVerifyErr(err, true, r)
	}
	r.auth = &authInfo{user: s.users[v.AccessKeyID], presigned: true, mode: mode}
	return s.openBody(r, payload)
}

// mapVerifyErr maps sigv4 verification errors to S3 codes.
func (s *Server) mapVerifyErr(err error, presigned bool, r *request) error {
	malformedCode := CodeAuthorizationHeaderMalformed
	if presigned {
		malformedCode = CodeAuthorizationQueryParameters
	}
	switch {
	case errors.Is(err, sigv4.ErrSignatureMismatch):
		return wrapErr(CodeSignatureDoesNotMatch, "", err)
	case errors.Is(err, sigv4.ErrUnknownAccessKey):
		return wrapErr(CodeInvalidAccessKeyID, "", err)
	case errors.Is(err, sigv4.ErrExpired):
		if presigned {
			return wrapErr(CodeAccessDenied, "Request has expired", err)
		}
		e := wrapErr(CodeRequestTimeTooSkewed, "", err)
		e.extra = [][2]string{
			{"RequestTime", string(r.ctx.Request.Header.Peek("X-Amz-Date"))},
			{"ServerTime", r.now.UTC().Format(time.RFC3339)},
			{"MaxAllowedSkewMilliseconds", "900000"},
		}
		return e
	case errors.Is(err, sigv4.ErrScopeMismatch):
		return wrapErr(malformedCode, "The credential scope (date, region or service) does not match this request; the region must be "+s.cfg.Region+" and the service s3.", err)
	case errors.Is(err, sigv4.ErrUnsupportedAlgorithm):
		return wrapErr(CodeUnsupportedSignatureAlgorithm, "", err)
	case errors.Is(err, sigv4.ErrMissingAuth):
		return wrapErr(CodeAccessDenied, "", err)
	}
	return wrapErr(malformedCode, "", err)
}

// openBody sets r.body to the verified body reader for the payload mode.
func (s *Server) openBody(r *request, payload string) error {
	raw := r.rawBody()
	d := &digestReader{r: raw}
	r.digest = d
	r.body = d
	r.bodySize = int64(r.ctx.Request.Header.ContentLength())
	if r.bodySize < 0 {
		r.bodySize = -1
		if r.ctx.Request.Header.ContentLength() == -2 {
			r.bodySize = 0
		}
	}
	switch r.auth.mode {
	case payloadHashed:
		d.payload = sha256.New()
		d.payloadHex = payload
	case payloadUnsigned:
	default:
		h := &r.ctx.Request.Header
		declared := int64(-1)
		if v := h.Peek("X-Amz-Decoded-Content-Length"); len(v) > 0 {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return errorf(CodeInvalidArgument, "x-amz-decoded-content-length is not a valid length.")
			}
			declared = n
		} else if r.auth.mode != payloadUnsignedTrailer {
			return errorf(CodeMissingContentLength, "x-amz-decoded-content-length is required with "+payload+".")
		}
		var trailers []string
		if r.auth.mode != payloadStreaming {
			for _, t := range strings.Split(string(h.Peek("X-Amz-Trailer")), ",") {
				if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
					if _, ok := checksumByHeader(t); !ok {
						return errorf(CodeInvalidRequest, "The only supported trailers are x-amz-checksum-*.")
					}
					trailers = append(trailers, t)
				}
			}
			if trailers == nil {
				trailers = []string{}
			}
		}
		c := newChunkedReader(raw, r.auth.signer, trailers, declared)
		r.chunked = c
		d.r = c
		r.bodySize = declared
	}
	return nil
}

// rawBody returns the request body stream wrapped with the idle read
// deadline.
func (r *request) rawBody() io.Reader {
	var body io.Reader = r.ctx.RequestBodyStream()
	if body == nil {
		body = strings.NewReader("")
	}
	r.raw = &idleReader{r: body, ctx: r.ctx, idle: r.s.cfg.BodyIdleTimeout}
	return r.raw
}

// idleReader re-arms the connection's read deadline as a body streams, so
// a client may take as long as it needs overall but never stall longer
// than the idle timeout between reads. It is used only inside the handler.
type idleReader struct {
	r     io.Reader
	ctx   *fasthttp.RequestCtx
	idle  time.Duration
	armed time.Time
	n     int64
}

func (i *idleReader) Read(p []byte) (int, error) {
	now := time.Now()
	if now.Sub(i.armed) > i.idle/8 {
		_ = i.ctx.SetReadDeadline(now.Add(i.idle))
		i.armed = now
	}
	n, err := i.r.Read(p)
	i.n += int64(n)
	return n, err
}

// access is what an operation needs of the bucket it addresses.
type access uint8

const (
	// accessUse: objects (their ACLs too), listings, multipart, HEAD,
	// location, reading the encryption rule, the ACL and the other
	// settings. Owners, root and grantees have it.
	accessUse access = iota + 1
	// accessOwner: deleting the bucket and changing its configuration.
	// Only the owner and root have it.
	accessOwner
)

// needs returns the access op needs of its bucket.
func needs(op *operation) access {
	switch op {
	case opDeleteBucket, opPutBucketEncryption, opDeleteBucketEncryption,
		opPutBucketACL, opPutBucketOwnershipControls, opDeleteBucketPolicy, opDeleteBucketCors,
		opDeleteBucketLifecycle, opDeleteBucketWebsite, opDeleteBucketTagging:
		return accessOwner
	}
	return accessUse
}

// authorize checks, after authenticate and before the handler, that the
// signer may do the operation on the bucket addressed: every bucket and
// object operation passes here (copy sources are checked by their
// handlers with bucketAccess). CreateBucket needs only the right to
// create; the handler answers for a name that is taken. A refusal is
// AccessDenied (403; HEAD gets no body).
func (s *Server) authorize(r *request) error {
	if r.t.bucket == "" {
		return nil
	}
	u := r.auth.user
	if r.op == opCreateBucket {
		if !u.mayCreate(r.t.bucket) {
			return errorf(CodeAccessDenied, "")
		}
		return nil
	}
	info, err := s.bucketAccess(u, r.t.bucket, needs(r.op), r.header("X-Amz-Expected-Bucket-Owner"))
	if err != nil {
		return err
	}
	r.auth.bucket = info
	return nil
}

// bucketAccess decides whether u may use bucket with access need, and
// checks an expected owner id (x-amz-expected-bucket-owner or
// x-amz-source-expected-bucket-owner; empty: none). Root and grantees
// need no lookup unless an owner is expected: they get (nil, nil), and
// a missing bucket is left for the handler to report. Others get the
// bucket's info, or NoSuchBucket, or AccessDenied.
//
// The decision is made before the handler runs: a bucket deleted and
// re-created by another user in between is not noticed by a request
// already authorized.
func (s *Server) bucketAccess(u *User, bucket string, need access, expectedOwner string) (*engine.BucketInfo, error) {
	root := u.isRoot()
	granted := need == accessUse && u.granted(bucket)
	if (root || granted) && expectedOwner == "" {
		return nil, nil
	}
	info, err := s.e.HeadBucket(context.Background(), bucket)
	if errors.Is(err, engine.ErrBucketNotFound) && (root || granted) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if expectedOwner != "" && expectedOwner != s.owners.of(info.Owner).ID {
		return nil, errorf(CodeAccessDenied, "")
	}
	if !root && !granted && !u.owns(info.Owner) {
		return nil, errorf(CodeAccessDenied, "")
	}
	return &info, nil
}

// ownerTable turns recorded bucket owners into S3 Owner elements. It is
// built once at New and only read afterwards.
type ownerTable struct {
	names map[string]string // user id → display name (the first user with that id)
	root  owner             // the owner of buckets without one: the first root user
}

func newOwnerTable(users []User) ownerTable {
	t := ownerTable{names: make(map[string]string, len(users)), root: owner{DisplayName: "root"}}
	rootFound := false
	for i := range users {
		u := &users[i]
		if _, ok := t.names[u.ID]; !ok {
			t.names[u.ID] = u.DisplayName
		}
		if !rootFound && u.isRoot() {
			t.root, rootFound = owner{ID: u.ID, DisplayName: u.DisplayName}, true
		}
	}
	return t
}

// of returns the Owner element of a bucket whose recorded owner is id. An
// id no configured user has (a user removed from the configuration) is
// shown as both ID and DisplayName.
func (t *ownerTable) of(id string) owner {
	if id == "" {
		return t.root
	}
	if name, ok := t.names[id]; ok {
		return owner{ID: id, DisplayName: name}
	}
	return owner{ID: id, DisplayName: id}
}
