package s3facade

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

const maxListKeys = 1000

// listParams are the parameters both ListObjects versions share.
type listParams struct {
	prefix, delimiter string
	maxKeys           int
	urlEncode         bool
}

func parseListParams(r *request) (listParams, error) {
	q := r.t.query
	p := listParams{prefix: q.Get("prefix"), delimiter: q.Get("delimiter"), maxKeys: maxListKeys}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, errorf(CodeInvalidArgument, "Provided max-keys not an integer or within integer range")
		}
		p.maxKeys = min(n, maxListKeys)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, errorf(CodeInvalidArgument, "Invalid Encoding Method specified in Request")
	}
	if len(p.prefix) > engine.MaxKeyLength || len(p.delimiter) > engine.MaxKeyLength {
		return p, errorf(CodeKeyTooLong, "")
	}
	return p, nil
}

// encodeKey applies encoding-type=url: every byte outside the unreserved
// set and '/' is percent-encoded (never '+', so either kind of URL decoding
// reads it back).
func (p *listParams) enc(s string) string {
	if !p.urlEncode {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		const hexd = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// list runs one engine listing page.
func (s *Server) list(r *request, p *listParams, after string) (engine.ListResult, error) {
	if p.maxKeys == 0 {
		if _, err := s.e.HeadBucket(context.Background(), r.t.bucket); err != nil {
			return engine.ListResult{}, err
		}
		return engine.ListResult{}, nil
	}
	return s.e.ListObjects(context.Background(), r.t.bucket, engine.ListOptions{
		Prefix: p.prefix, Delimiter: p.delimiter, StartAfter: after, MaxKeys: p.maxKeys,
	})
}

func (p *listParams) contents(res *engine.ListResult, own *owner) ([]objectXML, []commonPrefix) {
	objs := make([]objectXML, len(res.Objects))
	for i := range res.Objects {
		o := &res.Objects[i]
		objs[i] = objectXML{Key: p.enc(o.Key), LastModified: s3Time(o.ModTime), ETag: `"` + o.ETag + `"`,
			Size: o.Size, Owner: own, StorageClass: "STANDARD", ChecksumAlgorithm: o.Checksum.Algorithm}
	}
	cps := make([]commonPrefix, len(res.CommonPrefixes))
	for i, cp := range res.CommonPrefixes {
		cps[i] = commonPrefix{Prefix: p.enc(cp)}
	}
	return objs, cps
}

func (s *Server) listObjectsV1(r *request) (*response, error) {
	p, err := parseListParams(r)
	if err != nil {
		return nil, err
	}
	marker := r.t.query.Get("marker")
	res, err := s.list(r, &p, marker)
	if err != nil {
		return nil, err
	}
	own, err := s.bucketOwner(r)
	if err != nil {
		return nil, err
	}
	out := &listBucketResult{Xmlns: s3Namespace, Name: r.t.bucket, Prefix: p.enc(p.prefix), Marker: p.enc(marker),
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: res.IsTruncated}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	out.Contents, out.CommonPrefixes = p.contents(&res, &own)
	if res.IsTruncated && p.delimiter != "" {
		out.NextMarker = p.enc(res.Next)
	}
	return &response{xml: out}, nil
}

func (s *Server) listObjectsV2(r *request) (*response, error) {
	if lt := r.t.query.Get("list-type"); lt != "2" {
		return nil, errorf(CodeInvalidArgument, "Invalid list-type; only 2 is supported with this parameter.")
	}
	p, err := parseListParams(r)
	if err != nil {
		return nil, err
	}
	q := r.t.query
	startAfter := q.Get("start-after")
	after := startAfter
	// An empty token is no token: S3 lists from the start and echoes it.
	var echo *string
	if q.Has("continuation-token") {
		echo = new(q.Get("continuation-token"))
	}
	if token := q.Get("continuation-token"); token != "" {
		k, err := decodeToken(token)
		if err != nil {
			return nil, err
		}
		after = k
	}
	res, err := s.list(r, &p, after)
	if err != nil {
		return nil, err
	}
	out := &listBucketResultV2{Xmlns: s3Namespace, Name: r.t.bucket, Prefix: p.enc(p.prefix), Delimiter: p.enc(p.delimiter),
		MaxKeys: p.maxKeys, IsTruncated: res.IsTruncated, ContinuationToken: echo, StartAfter: p.enc(startAfter)}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	var own *owner
	if q.Get("fetch-owner") == "true" {
		o, err := s.bucketOwner(r)
		if err != nil {
			return nil, err
		}
		own = &o
	}
	out.Contents, out.CommonPrefixes = p.contents(&res, own)
	out.KeyCount = len(out.Contents) + len(out.CommonPrefixes)
	if res.IsTruncated {
		out.NextContinuationToken = encodeToken(res.Next)
	}
	return &response{xml: out}, nil
}

// listObjectVersions serves ListObjectVersions. Coffer keeps one version
// of each key: the "null" version S3 reports in a bucket that never had
// versioning enabled. So every object is listed once, as that version and
// the latest, with no delete markers, and the key marker pages as
// ListObjects' marker does.
func (s *Server) listObjectVersions(r *request) (*response, error) {
	p, err := parseListParams(r)
	if err != nil {
		return nil, err
	}
	q := r.t.query
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	switch {
	case vidMarker != "" && keyMarker == "":
		return nil, errorf(CodeInvalidArgument, "A version-id marker cannot be specified without a key marker.")
	case vidMarker != "" && vidMarker != "null":
		return nil, errorf(CodeInvalidArgument, "Invalid version id specified")
	case len(keyMarker) > engine.MaxKeyLength:
		return nil, errorf(CodeKeyTooLong, "")
	}
	res, err := s.list(r, &p, keyMarker)
	if err != nil {
		return nil, err
	}
	own, err := s.bucketOwner(r)
	if err != nil {
		return nil, err
	}
	out := &listVersionsResult{Xmlns: s3Namespace, Name: r.t.bucket, Prefix: p.enc(p.prefix), KeyMarker: p.enc(keyMarker),
		VersionIdMarker: vidMarker, MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: res.IsTruncated}
	if p.urlEncode {
		out.EncodingType = "url"
	}
	objs, cps := p.contents(&res, &own)
	out.CommonPrefixes = cps
	out.Versions = make([]versionXML, len(objs))
	for i, o := range objs {
		out.Versions[i] = versionXML{Key: o.Key, VersionId: "null", IsLatest: true, LastModified: o.LastModified, ETag: o.ETag,
			Size: o.Size, Owner: o.Owner, StorageClass: o.StorageClass, ChecksumAlgorithm: o.ChecksumAlgorithm}
	}
	if res.IsTruncated {
		out.NextKeyMarker = p.enc(res.Next)
		out.NextVersionIdMarker = "null"
	}
	return &response{xml: out}, nil
}

// Continuation tokens are opaque to clients: a version byte and the key
// (or common prefix) the next page starts after.
func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{1}, after...))
}

func decodeToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) == 0 || b[0] != 1 || len(b)-1 > engine.MaxKeyLength {
		return "", errorf(CodeInvalidArgument, "The continuation token provided is incorrect")
	}
	return string(b[1:]), nil
}
