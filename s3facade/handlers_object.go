package s3facade

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// checkVersionID accepts only the "null" version of an unversioned bucket.
func checkVersionID(r *request) error {
	if r.t.query.Has("versionId") && r.t.query.Get("versionId") != "null" {
		return errorf(CodeInvalidArgument, "Invalid version id specified")
	}
	return nil
}

func (s *Server) putObject(r *request) (*response, error) {
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	if err := rejectUnsupported(r); err != nil {
		return nil, err
	}
	if r.bodySize > engine.MaxPutPartSize {
		return nil, errorf(CodeEntityTooLarge, "")
	}
	if err := requireLength(r); err != nil {
		return nil, err
	}
	sse, err := parseWriteSSE(r, opPut)
	if err != nil {
		return nil, err
	}
	if sse != nil {
		defer clear(sse.CustomerKey)
	}
	// Size 0 means "unknown" to the engine; an empty body reads as empty.
	opts := &engine.PutOptions{Size: max(r.bodySize, 0), Headers: contentHeaders(r), SSE: sse}
	if opts.UserMetadata, err = userMetadata(r); err != nil {
		return nil, err
	}
	if opts.Tags, err = taggingHeader(r); err != nil {
		return nil, err
	}
	if opts.ContentMD5, err = contentMD5(r); err != nil {
		return nil, err
	}
	opts.Conditions = conditions(r, "")
	if inm := opts.Conditions.IfNoneMatch; inm != "" && inm != "*" {
		return nil, errorf(CodeNotImplemented, "If-None-Match on PUT supports only '*'.")
	}
	if err := r.setupChecksum(); err != nil {
		return nil, err
	}
	d := r.digest
	if d.sum != nil && d.fromTail == nil {
		opts.Checksum = engine.Checksum{Algorithm: d.alg.String(), Value: d.want}
	}
	opts.Verify = func() error {
		if !d.done || d.err != io.EOF {
			return errorf(CodeIncompleteBody, "")
		}
		if alg, v, ok := d.checksum(); ok {
			opts.Checksum = engine.Checksum{Algorithm: alg.String(), Value: v}
		}
		return nil
	}
	info, err := s.e.PutObject(context.Background(), r.t.bucket, r.t.key, r.body, opts)
	if err != nil {
		return nil, err
	}
	resp := &response{}
	resp.set("ETag", `"`+info.ETag+`"`)
	setSSEHeaders(resp, info.SSE, opPut)
	if alg, v, ok := d.checksum(); ok {
		resp.set(alg.header(), v)
		resp.set("X-Amz-Checksum-Type", "FULL_OBJECT")
	}
	return resp, nil
}

// requireLength answers MissingContentLength for a body framed by neither
// Content-Length nor Transfer-Encoding, which S3 refuses rather than
// storing an empty object. fasthttp reports such a body as Content-Length
// 0, so the headers as received are looked at.
func requireLength(r *request) error {
	// Above 0 the header was there; -1 is a chunked body. Only 0 (sent,
	// or made up by fasthttp for a body with no framing at all, or with a
	// Transfer-Encoding other than chunked) needs the raw headers.
	if r.ctx.Request.Header.ContentLength() != 0 {
		return nil
	}
	for raw := r.ctx.Request.Header.RawHeaders(); len(raw) > 0; {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.EqualFold(name, []byte("Content-Length")) {
			return nil
		}
	}
	return errorf(CodeMissingContentLength, "")
}

// readOptions parses the conditional and Range headers of GET and HEAD.
func readOptions(r *request) (*engine.GetOptions, error) {
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	if err := rejectReadSSE(r); err != nil {
		return nil, err
	}
	ck, err := parseCustomerKey(r, false)
	if err != nil {
		return nil, err
	}
	opts := &engine.GetOptions{Conditions: conditions(r, ""), CustomerKey: ck}
	if v := r.header("Range"); v != "" {
		opts.Range = parseRange(v)
	}
	if r.t.query.Has("partNumber") {
		if opts.PartNumber, err = getPartNumber(r); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// responseOverrides are the response-* query parameters of GET and HEAD.
var responseOverrides = [...][2]string{
	{"response-content-type", "Content-Type"},
	{"response-content-language", "Content-Language"},
	{"response-expires", "Expires"},
	{"response-cache-control", "Cache-Control"},
	{"response-content-disposition", "Content-Disposition"},
	{"response-content-encoding", "Content-Encoding"},
}

func (s *Server) getObject(r *request) (*response, error) {
	return s.readObject(r, false)
}

func (s *Server) headObject(r *request) (*response, error) {
	return s.readObject(r, true)
}

func (s *Server) readObject(r *request, head bool) (*response, error) {
	opts, err := readOptions(r)
	if err != nil {
		return nil, err
	}
	// The engine keeps no reference to the key once the call returns (the
	// body's decryption keys are derived from it and owned by the body).
	defer clear(opts.CustomerKey)
	resp := &response{}
	var info engine.ObjectInfo
	var off, n int64
	if head && opts.PartNumber == 0 {
		if info, err = s.e.HeadObject(context.Background(), r.t.bucket, r.t.key, opts); err != nil {
			return notModified(&info, err)
		}
		off, n = 0, info.Size
		if opts.Range != nil {
			if off, n, err = opts.Range.Resolve(info.Size); err != nil {
				return nil, err
			}
		}
		resp.noBody = true
	} else {
		obj, err := s.e.GetObject(context.Background(), r.t.bucket, r.t.key, opts)
		if errors.Is(err, engine.ErrNotModified) {
			// The 304 carries the validators; HeadObject answers them
			// with the same verdict from one lookup.
			info, err := s.e.HeadObject(context.Background(), r.t.bucket, r.t.key, opts)
			return notModified(&info, err)
		}
		if err != nil {
			return nil, s.partNumberError(r, opts, err)
		}
		info, off, n = obj.Info, obj.Offset, obj.Length
		if head { // HEAD ?partNumber=: the part's size and position
			obj.Close()
			resp.noBody = true
		} else {
			resp.body = obj
		}
	}
	resp.size = n
	objectHeaders(resp, &info)
	op := opGet
	if head {
		op = opHead
	}
	setSSEHeaders(resp, info.SSE, op)
	if opts.Range != nil {
		resp.status = 206
		resp.set("Content-Range", "bytes "+itoa(off)+"-"+itoa(off+n-1)+"/"+itoa(info.Size))
	}
	if opts.PartNumber != 0 && info.PartsCount > 0 {
		resp.status = 206
		resp.set("Content-Range", "bytes "+itoa(off)+"-"+itoa(off+n-1)+"/"+itoa(info.Size))
		resp.set("X-Amz-Mp-Parts-Count", strconv.Itoa(info.PartsCount))
	}
	if strings.EqualFold(r.header("X-Amz-Checksum-Mode"), "ENABLED") && opts.Range == nil && opts.PartNumber == 0 && info.Checksum.Value != "" {
		if alg, ok := checksumByName(info.Checksum.Algorithm); ok {
			resp.set(alg.header(), info.Checksum.Value)
			resp.set("X-Amz-Checksum-Type", objectChecksumType(info.Checksum.Value))
		}
	}
	for _, o := range responseOverrides {
		if v := r.t.query.Get(o[0]); v != "" {
			resp.set(o[1], v)
		}
	}
	return resp, nil
}

// notModified turns ErrNotModified into S3's 304: no body, with the
// object's ETag, Last-Modified and caching headers as RFC 9110 asks. Any
// other outcome of the read (err nil included, when the object changed
// in between) is returned as the error it is, or as ErrNotModified
// without validators.
func notModified(info *engine.ObjectInfo, err error) (*response, error) {
	if !errors.Is(err, engine.ErrNotModified) {
		if err == nil {
			err = engine.ErrNotModified
		}
		return nil, err
	}
	resp := &response{status: 304, noBody: true}
	resp.set("ETag", `"`+info.ETag+`"`)
	resp.set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	// RFC 9110 §15.4.5: the caching headers a 200 would carry.
	if info.CacheControl != "" {
		resp.set("Cache-Control", info.CacheControl)
	}
	if info.Expires != "" {
		resp.set("Expires", info.Expires)
	}
	return resp, nil
}

func (s *Server) deleteObject(r *request) (*response, error) {
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	for _, h := range []string{"If-Match", "X-Amz-If-Match-Last-Modified-Time", "X-Amz-If-Match-Size"} {
		if r.header(h) != "" {
			return nil, errorf(CodeNotImplemented, "Conditional deletes are not supported.")
		}
	}
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	if err := s.e.DeleteObject(context.Background(), r.t.bucket, r.t.key); err != nil && !errors.Is(err, engine.ErrObjectNotFound) {
		return nil, err
	}
	return &response{status: 204}, nil
}

func (s *Server) deleteObjects(r *request) (*response, error) {
	var req deleteRequest
	ok, err := s.readXMLBody(r, &req)
	if err != nil {
		return nil, err
	}
	if !ok || len(req.Objects) == 0 || len(req.Objects) > maxDeleteKey {
		return nil, errorf(CodeMalformedXML, "")
	}
	res := &deleteResult{Xmlns: s3Namespace}
	keys := make([]string, 0, len(req.Objects))
	for _, o := range req.Objects {
		switch {
		case o.VersionID != "" && o.VersionID != "null":
			res.Errors = append(res.Errors, deleteError{Key: o.Key, Code: CodeNoSuchVersion, Message: CodeNoSuchVersion.Description()})
		case len(o.Key) > engine.MaxKeyLength:
			res.Errors = append(res.Errors, deleteError{Key: o.Key, Code: CodeKeyTooLong, Message: CodeKeyTooLong.Description()})
		default:
			keys = append(keys, o.Key)
		}
	}
	if len(keys) > 0 {
		out, err := s.e.DeleteObjects(context.Background(), r.t.bucket, keys)
		if err != nil {
			return nil, err
		}
		for _, d := range out {
			if d.Err != nil && !errors.Is(d.Err, engine.ErrObjectNotFound) {
				a := classify(d.Err)
				res.Errors = append(res.Errors, deleteError{Key: d.Key, Code: a.code, Message: a.message})
				continue
			}
			if !req.Quiet {
				res.Deleted = append(res.Deleted, struct{ Key string }{d.Key})
			}
		}
	}
	return &response{xml: res}, nil
}

// parseCopySource parses x-amz-copy-source: "[/]bucket/key[?versionId=v]",
// percent-encoded.
func parseCopySource(v string) (bucket, key string, err error) {
	raw, query, _ := strings.Cut(v, "?")
	if query != "" {
		if !strings.HasPrefix(query, "versionId=") || query != "versionId=null" {
			return "", "", errorf(CodeNotImplemented, "Copying a version other than null is not supported.")
		}
	}
	p, err := unescapePath(raw)
	if err != nil {
		return "", "", errorf(CodeInvalidArgument, "Invalid copy source encoding.")
	}
	p = strings.TrimPrefix(p, "/")
	bucket, key, ok := strings.Cut(p, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", errorf(CodeInvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, nil
}

func (s *Server) copyObject(r *request) (*response, error) {
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	if err := rejectUnsupported(r); err != nil {
		return nil, err
	}
	if r.header("X-Amz-Checksum-Algorithm") != "" {
		return nil, errorf(CodeNotImplemented, "Choosing a checksum algorithm for a copy is not supported; the source's checksum is kept.")
	}
	srcBucket, srcKey, err := parseCopySource(r.header("X-Amz-Copy-Source"))
	if err != nil {
		return nil, err
	}
	if _, err := s.bucketAccess(r.auth.user, srcBucket, accessUse, r.header("X-Amz-Source-Expected-Bucket-Owner")); err != nil {
		return nil, err
	}
	if err := checkKey(srcKey); err != nil {
		return nil, err
	}
	opts := &engine.CopyOptions{
		SourceConditions: conditions(r, "X-Amz-Copy-Source-"),
		Conditions:       conditions(r, ""),
	}
	switch dir := r.header("X-Amz-Metadata-Directive"); dir {
	case "", "COPY":
	case "REPLACE":
		opts.ReplaceMetadata = true
		opts.Headers = contentHeaders(r)
		if opts.UserMetadata, err = userMetadata(r); err != nil {
			return nil, err
		}
	default:
		return nil, errorf(CodeInvalidArgument, "Unknown metadata directive.")
	}
	if opts.ReplaceTags, opts.Tags, err = copyTags(r); err != nil {
		return nil, err
	}
	if r.header("X-Amz-Copy-Source-Range") != "" {
		return nil, errorf(CodeInvalidRequest, "x-amz-copy-source-range is only valid for UploadPartCopy.")
	}
	if opts.SourceCustomerKey, err = parseCustomerKey(r, true); err != nil {
		return nil, err
	}
	defer clear(opts.SourceCustomerKey)
	if opts.SSE, err = parseWriteSSE(r, opCopy); err != nil {
		return nil, err
	}
	if opts.SSE != nil {
		defer clear(opts.SSE.CustomerKey)
	}
	info, err := s.e.CopyObject(context.Background(), srcBucket, srcKey, r.t.bucket, r.t.key, opts)
	if err != nil {
		return nil, err
	}
	res := &copyObjectResult{Xmlns: s3Namespace, LastModified: s3Time(info.ModTime), ETag: `"` + info.ETag + `"`}
	if alg, ok := checksumByName(info.Checksum.Algorithm); ok {
		switch alg {
		case ckCRC32:
			res.ChecksumCRC32 = info.Checksum.Value
		case ckCRC32C:
			res.ChecksumCRC32C = info.Checksum.Value
		case ckCRC64NVME:
			res.ChecksumCRC64NVME = info.Checksum.Value
		case ckSHA1:
			res.ChecksumSHA1 = info.Checksum.Value
		case ckSHA256:
			res.ChecksumSHA256 = info.Checksum.Value
		}
	}
	resp := &response{xml: res}
	setSSEHeaders(resp, info.SSE, opCopy)
	return resp, nil
}

// copyTags reads x-amz-tagging-directive: COPY (the default) keeps the
// source's tags and ignores x-amz-tagging; REPLACE stores the tags of
// x-amz-tagging (none when it is absent).
func copyTags(r *request) (replace bool, tags []engine.Tag, err error) {
	switch dir := r.header("X-Amz-Tagging-Directive"); dir {
	case "", "COPY":
		return false, nil, nil
	case "REPLACE":
		tags, err = taggingHeader(r)
		return true, tags, err
	default:
		e := errorf(CodeInvalidArgument, "Unknown tagging directive.")
		e.extra = [][2]string{{"ArgumentName", "x-amz-tagging-directive"}, {"ArgumentValue", dir}}
		return false, nil, e
	}
}

// parseRange parses a Range header. S3 serves one range of the form
// bytes=a-b, bytes=a- or bytes=-n; anything else (a syntax error, several
// ranges) is ignored and the whole object is served, as S3 does.
func parseRange(v string) *engine.Range {
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 19 {
			return 0, false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	switch {
	case a == "":
		n, ok := num(b)
		if !ok {
			return nil
		}
		return engine.Suffix(n)
	case b == "":
		first, ok := num(a)
		if !ok {
			return nil
		}
		return engine.FromOffset(first)
	default:
		first, ok1 := num(a)
		last, ok2 := num(b)
		if !ok1 || !ok2 || last < first {
			return nil
		}
		return engine.ByteRange(first, last)
	}
}
