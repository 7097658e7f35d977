package s3facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cofferdb/coffer/engine"
	"github.com/cofferdb/coffer/internal/sigv4"
)

// This file is POST Object, S3's browser form upload (s3-sse-spec.md
// §1.10): a multipart/form-data body on POST /bucket whose fields come
// before the one "file" field, signed by a SigV4 POST policy.
//
// Flow. authenticate calls authPostForm, which reads the fields (never the
// file), verifies the policy's signature, its expiration and every
// condition, and leaves the form on the request with the file part
// positioned at its first byte. The handler, postObject, streams that
// part into engine.PutObject; content-length-range is enforced while it
// streams and in Verify, so nothing is stored when the file is too large
// or too small. Whatever follows the file is ignored (and drained up to a
// bound so that the client reads the response).
//
// Choices where S3's behaviour is not documented:
//   - Field names are matched case-insensitively (browsers and SDKs differ
//     in case, e.g. minio-go sends X-Amz-Server-Side-Encryption); values
//     are compared exactly.
//   - ${filename} is substituted into key before the conditions are
//     checked, so the policy governs the key that is stored.
//   - A field sent twice is InvalidArgument.
//   - x-amz-checksum-* fields are NotImplemented.

const (
	// maxPostFields bounds the fields and boundaries before the file
	// (§1.17: 20 KB).
	maxPostFields = 20 << 10
	// postReadAhead is how far multipart.Reader may read past what it has
	// returned (its buffer is 4 KiB); the raw cap allows for it.
	postReadAhead = 8 << 10
	// maxPostDrain bounds what is read after the file part, or after an
	// error, so that the client sees the response.
	maxPostDrain = 1 << 20
	// maxPostKey bounds a field name.
	maxPostName = 1 << 10
)

// Fields that need no policy condition (§1.10).
func postFieldExempt(name string) bool {
	switch name {
	case "awsaccesskeyid", "signature", "x-amz-signature", "file", "policy":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

// isFormPost reports whether a request body is multipart/form-data.
func isFormPost(h *fasthttp.RequestHeader) bool {
	mt, _, err := mime.ParseMediaType(string(h.ContentType()))
	return err == nil && mt == "multipart/form-data"
}

// postForm is a POST Object request's form: the fields (lower-case names)
// and the file part, ready to be read. It lives as long as the request.
type postForm struct {
	fields   map[string]string
	order    []string // field names in the order sent
	file     *multipart.Part
	filename string
	key      string // the key field with ${filename} substituted
	policy   *postPolicy
	raw      *capReader
}

func (f *postForm) get(name string) string { return f.fields[name] }

// header adapts the fields to parseWriteSSEFrom's header getter.
func (f *postForm) header(name string) string { return f.fields[strings.ToLower(name)] }

// finish drains what the client is still sending (up to maxPostDrain) so
// that it reads the response, and closes the connection if more is left.
func (f *postForm) finish(r *request) {
	f.raw.limit = -1
	n, err := io.CopyN(io.Discard, f.raw, maxPostDrain)
	if err == nil && n == maxPostDrain || err != nil && err != io.EOF {
		r.ctx.SetConnectionClose()
	}
}

// capReader counts what it reads and fails once more than limit bytes
// were read (limit < 0: no limit).
type capReader struct {
	r     io.Reader
	n     int64
	limit int64
}

var errPostFieldsTooLarge = errors.New("s3facade: POST form fields too large")

func (c *capReader) Read(p []byte) (int, error) {
	if c.limit >= 0 {
		if c.n >= c.limit {
			return 0, errPostFieldsTooLarge
		}
		if rem := c.limit - c.n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// readPostForm reads the fields of a form up to and including the file
// part's headers.
func readPostForm(r *request) (*postForm, error) {
	_, params, err := mime.ParseMediaType(string(r.ctx.Request.Header.ContentType()))
	boundary := params["boundary"]
	if err != nil || boundary == "" || len(boundary) > 70 {
		return nil, errorf(CodeMalformedPOSTRequest, "")
	}
	f := &postForm{fields: map[string]string{}, raw: &capReader{r: r.rawBody(), limit: maxPostFields + postReadAhead}}
	r.post = f
	mr := multipart.NewReader(f.raw, boundary)
	used := 0
	tooLarge := errorf(CodeMaxPostPreDataLengthExceeded, "")
	for {
		p, err := mr.NextRawPart()
		switch {
		case err == io.EOF:
			return nil, errorf(CodeIncorrectNumberOfFilesInPost, "")
		case errors.Is(err, errPostFieldsTooLarge):
			return nil, tooLarge
		case isTimeout(err):
			return nil, wrapErr(CodeRequestTimeout, "", err)
		case err != nil:
			return nil, wrapErr(CodeMalformedPOSTRequest, "", err)
		}
		// The boundary line, the part's headers and the blank line.
		used += len(boundary) + 6
		for k, vs := range p.Header {
			for _, v := range vs {
				used += len(k) + len(v) + 4
			}
		}
		name := strings.ToLower(p.FormName())
		if name == "" || len(name) > maxPostName {
			return nil, errorf(CodeMalformedPOSTRequest, "")
		}
		if used > maxPostFields {
			return nil, tooLarge
		}
		if name == "file" {
			f.file, f.filename = p, p.FileName()
			f.raw.limit = -1
			return f, nil
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(maxPostFields-used+1)))
		switch {
		case errors.Is(err, errPostFieldsTooLarge):
			return nil, tooLarge
		case isTimeout(err):
			return nil, wrapErr(CodeRequestTimeout, "", err)
		case err != nil:
			return nil, wrapErr(CodeMalformedPOSTRequest, "", err)
		}
		used += len(v) + 2
		if used > maxPostFields {
			return nil, tooLarge
		}
		if _, dup := f.fields[name]; dup {
			return nil, errorf(CodeInvalidArgument, "The POST form field '"+truncate(name, 64)+"' was given more than once.")
		}
		f.fields[name] = string(v)
		f.order = append(f.order, name)
	}
}

func isTimeout(err error) bool {
	return err != nil && errors.Is(err, os.ErrDeadlineExceeded)
}

// authPostForm authenticates a POST Object request from its form: the
// SigV4 POST policy signature, the policy's expiration and conditions. It
// sets r.auth and r.post. Anonymous forms are refused.
func (s *Server) authPostForm(r *request) error {
	f, err := readPostForm(r)
	if err != nil {
		return err
	}
	sig, policyB64 := f.get("x-amz-signature"), f.get("policy")
	switch {
	case sig == "" && (f.get("signature") != "" || f.get("awsaccesskeyid") != ""):
		return errorf(CodeUnsupportedSignatureAlgorithm, "")
	case sig == "" && policyB64 == "":
		return errorf(CodeAccessDenied, "Anonymous access is not allowed.")
	case policyB64 == "":
		return postArgError("Bucket POST must contain a field named 'policy'.", "policy")
	case sig == "":
		return postArgError("Bucket POST must contain a field named 'x-amz-signature'.", "x-amz-signature")
	case f.get("x-amz-algorithm") != sigv4.Algorithm:
		return errorf(CodeUnsupportedSignatureAlgorithm, "")
	case f.get("x-amz-security-token") != "":
		return errorf(CodeInvalidToken, "")
	}
	cred, err := sigv4.ParseCredential(f.get("x-amz-credential"))
	if err != nil {
		return postArgError("Invalid credential in x-amz-credential.", "x-amz-credential")
	}
	t, err := sigv4.ParseTime(f.get("x-amz-date"))
	if err != nil {
		return postArgError("Invalid date in x-amz-date.", "x-amz-date")
	}
	if cred.Scope.Date != t.UTC().Format(sigv4.DateFormat) || cred.Scope.Region != s.cfg.Region || cred.Scope.Service != "s3" {
		return postArgError("The credential scope (date, region or service) does not match this request; the region must be "+
			s.cfg.Region+" and the service s3.", "x-amz-credential")
	}
	u, ok := s.users[cred.AccessKeyID]
	if !ok {
		return errorf(CodeInvalidAccessKeyID, "")
	}
	key := sigv4.DeriveKey(u.SecretKey, cred.Scope)
	want := sigv4.Signature(key, policyB64)
	key.Zero()
	if !sigv4.Equal(want, sig) {
		return errorf(CodeSignatureDoesNotMatch, "")
	}
	pol, err := parsePostPolicy(policyB64)
	if err != nil {
		return err
	}
	f.policy = pol
	if !r.now.Before(pol.expiration) {
		return errorf(CodeAccessDenied, "Invalid according to Policy: Policy expired.")
	}
	f.key = strings.ReplaceAll(f.get("key"), "${filename}", f.filename)
	if err := pol.check(f, r.t.bucket); err != nil {
		return err
	}
	r.auth = &authInfo{user: u, mode: payloadUnsigned}
	return nil
}

func postArgError(msg, name string) *Error {
	e := errorf(CodeInvalidArgument, msg)
	e.extra = [][2]string{{"ArgumentName", name}}
	return e
}

// postPolicy is a decoded POST policy document.
type postPolicy struct {
	expiration time.Time
	conds      []postCond
	// content-length-range, when hasRange.
	hasRange       bool
	minLen, maxLen int64
}

// postCond is one eq or starts-with condition on a field (lower case,
// without the '$').
type postCond struct {
	startsWith bool
	field      string
	value      string
}

func (c postCond) String() string {
	op := "eq"
	if c.startsWith {
		op = "starts-with"
	}
	b, _ := json.Marshal([]string{op, "$" + c.field, c.value})
	return strings.ReplaceAll(string(b), `","`, `", "`)
}

func policyError(msg string) *Error {
	return errorf(CodeInvalidPolicyDocument, "Invalid Policy: "+msg)
}

// parsePostPolicy decodes the base64 policy field: a JSON object with an
// ISO 8601 "expiration" and a "conditions" array of exact-match objects,
// ["eq", "$f", "v"], ["starts-with", "$f", "prefix"] and
// ["content-length-range", min, max]. Errors are InvalidPolicyDocument.
func parsePostPolicy(b64 string) (*postPolicy, error) {
	if len(b64) > maxPostFields {
		return nil, policyError("Policy too large.")
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, policyError("Invalid base64 encoding.")
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return nil, policyError("Invalid JSON.")
	}
	p := &postPolicy{}
	var exp string
	if err := json.Unmarshal(doc["expiration"], &exp); err != nil || exp == "" {
		return nil, policyError("Policy missing expiration.")
	}
	if p.expiration, err = time.Parse(time.RFC3339Nano, exp); err != nil {
		return nil, policyError("Invalid 'expiration' value: '" + truncate(exp, 64) + "'")
	}
	var conds []json.RawMessage
	if err := json.Unmarshal(doc["conditions"], &conds); err != nil || conds == nil {
		return nil, policyError("Policy missing conditions.")
	}
	for _, c := range conds {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *postPolicy) addCondition(c json.RawMessage) error {
	bad := policyError("Invalid Condition: " + truncate(string(c), 128))
	c = bytes.TrimSpace(c)
	if len(c) == 0 {
		return bad
	}
	switch c[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c, &m); err != nil || len(m) == 0 {
			return bad
		}
		for k, raw := range m {
			var v string
			if json.Unmarshal(raw, &v) != nil || k == "" {
				return bad
			}
			p.conds = append(p.conds, postCond{field: strings.ToLower(strings.TrimPrefix(k, "$")), value: v})
		}
		return nil
	case '[':
		var a []json.RawMessage
		if err := json.Unmarshal(c, &a); err != nil || len(a) != 3 {
			return bad
		}
		var op string
		if json.Unmarshal(a[0], &op) != nil {
			return bad
		}
		switch strings.ToLower(op) {
		case "eq", "starts-with":
			var field, v string
			if json.Unmarshal(a[1], &field) != nil || json.Unmarshal(a[2], &v) != nil ||
				len(field) < 2 || field[0] != '$' {
				return bad
			}
			p.conds = append(p.conds, postCond{startsWith: strings.ToLower(op) == "starts-with",
				field: strings.ToLower(field[1:]), value: v})
			return nil
		case "content-length-range":
			lo, ok1 := policyInt(a[1])
			hi, ok2 := policyInt(a[2])
			if !ok1 || !ok2 || lo > hi {
				return bad
			}
			if p.hasRange { // several ranges: all must hold
				lo, hi = max(lo, p.minLen), min(hi, p.maxLen)
			}
			p.hasRange, p.minLen, p.maxLen = true, lo, hi
			return nil
		}
	}
	return bad
}

// policyInt reads a non-negative integer given as a JSON number or a
// string of digits.
func policyInt(raw json.RawMessage) (int64, bool) {
	s := string(bytes.TrimSpace(raw))
	if len(s) >= 2 && s[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// check applies the conditions to the form (bucket is the addressed
// bucket) and refuses fields no condition names.
func (p *postPolicy) check(f *postForm, bucket string) error {
	covered := make(map[string]bool, len(p.conds))
	for _, c := range p.conds {
		covered[c.field] = true
		var v string
		switch c.field {
		case "bucket":
			v = bucket
		case "key":
			v = f.key
		default:
			v = f.fields[c.field]
		}
		if !c.holds(v) {
			return errorf(CodeAccessDenied, "Invalid according to Policy: Policy Condition failed: "+c.String())
		}
	}
	var extra []string
	for _, name := range f.order {
		if !postFieldExempt(name) && !covered[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		return errorf(CodeAccessDenied, "Invalid according to Policy: Extra input fields: "+strings.Join(extra, ", "))
	}
	return nil
}

func (c postCond) holds(v string) bool {
	if !c.startsWith {
		return v == c.value
	}
	if c.field == "content-type" {
		// S3 allows a comma-separated list of types; each must match.
		for _, t := range strings.Split(v, ",") {
			if !strings.HasPrefix(strings.TrimSpace(t), c.value) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(v, c.value)
}

// postBody is the file part as the engine reads it: it stops with
// EntityTooLarge past max bytes and maps multipart errors to S3's.
type postBody struct {
	r   io.Reader
	n   int64
	max int64
	eof bool
}

func (b *postBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		return 0, errorf(CodeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case isTimeout(err):
		err = wrapErr(CodeRequestTimeout, "", err)
	case err != nil:
		err = wrapErr(CodeIncompleteBody, "", err)
	}
	return n, err
}

// postResponseXML is the body of success_action_status 201.
type postResponseXML struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string
	Bucket   string
	Key      string
	ETag     string
}

// postObject stores the file of an authenticated form (authPostForm ran).
func (s *Server) postObject(r *request) (*response, error) {
	f := r.post
	if f == nil { // a signed POST that is not a form
		e := errorf(CodePreconditionFailed, "Bucket POST must be of the enclosure-type multipart/form-data")
		e.extra = [][2]string{{"Condition", "Bucket POST must be of the enclosure-type multipart/form-data"}}
		return nil, e
	}
	if f.get("key") == "" {
		return nil, postArgError("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", "key")
	}
	key := f.key
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := rejectUnsupportedFields(f); err != nil {
		return nil, err
	}
	sse, err := parseWriteSSEFrom(f.header, r.secureForSSEC(), opPost)
	if err != nil {
		return nil, err
	}
	if sse != nil {
		defer clear(sse.CustomerKey)
	}
	opts := &engine.PutOptions{SSE: sse, Headers: engine.Headers{
		ContentType:        f.get("content-type"),
		ContentEncoding:    f.get("content-encoding"),
		CacheControl:       f.get("cache-control"),
		ContentDisposition: f.get("content-disposition"),
		Expires:            f.get("expires"),
	}}
	// The tagging field is a Tagging XML document, as PutObjectTagging's
	// body.
	if opts.Tags, err = parseTaggingDocument(f.get("tagging")); err != nil {
		return nil, err
	}
	total := 0
	for _, name := range f.order {
		m, ok := strings.CutPrefix(name, "x-amz-meta-")
		if !ok || m == "" {
			continue
		}
		if opts.UserMetadata == nil {
			opts.UserMetadata = map[string]string{}
		}
		v := f.fields[name]
		if total += len(m) + len(v); total > engine.MaxUserMetadata {
			return nil, errorf(CodeMetadataTooLarge, "")
		}
		opts.UserMetadata[m] = v
	}
	body := &postBody{r: f.file, max: engine.MaxPutPartSize}
	pol := f.policy
	if pol.hasRange {
		body.max = min(body.max, pol.maxLen)
	}
	opts.Verify = func() error {
		if !body.eof {
			return errorf(CodeIncompleteBody, "")
		}
		if pol.hasRange && body.n < pol.minLen {
			return errorf(CodeEntityTooSmall, "Your proposed upload is smaller than the minimum allowed size")
		}
		return nil
	}
	info, err := s.e.PutObject(context.Background(), r.t.bucket, key, body, opts)
	if err != nil {
		return nil, err
	}
	etag := `"` + info.ETag + `"`
	loc := objectURL(r, key)
	resp := &response{status: 204}
	resp.set("ETag", etag)
	resp.set("Location", loc)
	setSSEHeaders(resp, info.SSE, opPost)
	if redirect := postRedirect(f); redirect != nil {
		q := redirect.Query()
		q.Set("bucket", r.t.bucket)
		q.Set("key", key)
		q.Set("etag", etag)
		redirect.RawQuery = q.Encode()
		resp.status = 303
		resp.set("Location", redirect.String())
		return resp, nil
	}
	switch f.get("success_action_status") {
	case "200":
		resp.status = 200
	case "201":
		resp.status = 201
		resp.xml = &postResponseXML{Location: loc, Bucket: r.t.bucket, Key: key, ETag: etag}
	}
	return resp, nil
}

// postRedirect returns success_action_redirect (or the older redirect)
// when it is an absolute http(s) URL; S3 ignores an invalid one.
func postRedirect(f *postForm) *url.URL {
	v := f.get("success_action_redirect")
	if v == "" {
		v = f.get("redirect")
	}
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil
	}
	return u
}

// objectURL is the URL of bucket/key as the request addressed the bucket.
func objectURL(r *request, key string) string {
	scheme := "http://"
	if r.ctx.IsTLS() {
		scheme = "https://"
	}
	host := string(r.ctx.Request.Header.Host())
	esc := sigv4.URIEncode(key)
	esc = strings.ReplaceAll(esc, "%2F", "/")
	if r.t.vhost {
		return scheme + host + "/" + esc
	}
	return scheme + host + "/" + r.t.bucket + "/" + esc
}

// rejectUnsupportedFields is rejectUnsupported for form fields.
func rejectUnsupportedFields(f *postForm) error {
	if err := checkCannedACL(f.get("acl"), "acl", aclObjectWrite); err != nil {
		return err
	}
	if sc := f.get("x-amz-storage-class"); sc != "" && sc != "STANDARD" {
		return errorf(CodeNotImplemented, "Only the STANDARD storage class is supported.")
	}
	for _, name := range f.order {
		switch {
		case name == "x-amz-website-redirect-location", strings.HasPrefix(name, "x-amz-object-lock-"),
			strings.HasPrefix(name, "x-amz-checksum-"), name == "x-amz-sdk-checksum-algorithm":
			return errorf(CodeNotImplemented, "The "+name+" form field is not supported.")
		}
	}
	return nil
}
