package s3facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// Multipart uploads over S3 (issue 5). The engine does the work; this
// file reads S3's parameters, applies S3's request-level errors, computes
// the per-part and whole-object additional checksums the way S3 does, and
// writes S3's XML.
//
// CompleteMultipartUpload answers with an ordinary status: completion is
// one index commit over parts already on the drives (no data is copied),
// so it never runs long enough to need S3's "200 OK, whitespace, then an
// error document" keep-alive form. Clients handle both.

const (
	maxListParts   = 1000
	maxListUploads = 1000
	// maxCompleteXML bounds a CompleteMultipartUpload body: 10,000 parts
	// with the longest checksum element fit well within it.
	maxCompleteXML = 4 << 20
)

// Checksum types of a multipart upload (x-amz-checksum-type).
const (
	checksumComposite  = "COMPOSITE"
	checksumFullObject = "FULL_OBJECT"
)

var errPartNumberRange = errorf(CodeInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")

// uploadChecksum is the additional checksum an upload was created with:
// the algorithm and how part checksums combine into the object's.
//
// The engine keeps one string per upload (Upload.ChecksumAlgorithm); the
// facade stores "ALG" for S3's default type of ALG and "ALG/FULL_OBJECT"
// for a CRC32 or CRC32C upload that asked for a full-object checksum.
// encode and parseUploadChecksum are the only readers and writers of that
// form.
type uploadChecksum struct {
	alg  checksumAlg
	full bool // FULL_OBJECT; else COMPOSITE
}

func (u uploadChecksum) encode() string {
	if u.alg == ckNone {
		return ""
	}
	if u.full && u.alg != ckCRC64NVME {
		return u.alg.String() + "/" + checksumFullObject
	}
	return u.alg.String()
}

func (u uploadChecksum) typ() string {
	if u.full {
		return checksumFullObject
	}
	return checksumComposite
}

func parseUploadChecksum(s string) uploadChecksum {
	name, typ, _ := strings.Cut(s, "/")
	a, ok := checksumByName(name)
	if !ok {
		return uploadChecksum{}
	}
	return uploadChecksum{alg: a, full: a == ckCRC64NVME || typ == checksumFullObject}
}

// parsePartNumber reads the partNumber query parameter (1..10000).
func parsePartNumber(r *request) (int, error) {
	v := r.t.query.Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > engine.MaxParts {
		return 0, errPartNumberRange
	}
	return n, nil
}

// uploadID returns the uploadId query parameter; an empty one names no
// upload.
func uploadID(r *request) (string, error) {
	id := r.t.query.Get("uploadId")
	if id == "" {
		return "", errorf(CodeNoSuchUpload, "")
	}
	return id, nil
}

// uploadOf looks up an upload's parameters without reading its parts.
func (s *Server) uploadOf(r *request, id string) (engine.Upload, error) {
	res, err := s.e.ListParts(context.Background(), r.t.bucket, r.t.key, id,
		engine.ListPartsOptions{PartNumberMarker: engine.MaxParts, MaxParts: 1})
	return res.Upload, err
}

// createMultipartUpload serves POST /bucket/key?uploads.
func (s *Server) createMultipartUpload(r *request) (*response, error) {
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	if err := rejectUnsupported(r); err != nil {
		return nil, err
	}
	opts := &engine.MultipartOptions{Headers: contentHeaders(r)}
	var err error
	if opts.UserMetadata, err = userMetadata(r); err != nil {
		return nil, err
	}
	if opts.Tags, err = taggingHeader(r); err != nil {
		return nil, err
	}
	var ck uploadChecksum
	if v := r.header("X-Amz-Checksum-Algorithm"); v != "" {
		a, ok := checksumByName(v)
		if !ok {
			return nil, errorf(CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
		}
		ck.alg = a
		ck.full = a == ckCRC64NVME
	}
	switch typ := strings.ToUpper(r.header("X-Amz-Checksum-Type")); typ {
	case "":
	case checksumComposite, checksumFullObject:
		switch {
		case ck.alg == ckNone:
			return nil, errorf(CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		case typ == checksumFullObject && (ck.alg == ckSHA1 || ck.alg == ckSHA256):
			return nil, errorf(CodeInvalidRequest, "The FULL_OBJECT checksum type cannot be used with the "+strings.ToLower(ck.alg.String())+" checksum algorithm.")
		case typ == checksumComposite && ck.alg == ckCRC64NVME:
			return nil, errorf(CodeInvalidRequest, "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
		}
		ck.full = typ == checksumFullObject
	default:
		return nil, errorf(CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	opts.ChecksumAlgorithm = ck.encode()
	if opts.SSE, err = parseWriteSSE(r, opCreateMultipart); err != nil {
		return nil, err
	}
	if opts.SSE != nil {
		defer clear(opts.SSE.CustomerKey)
	}
	up, err := s.e.CreateMultipartUpload(context.Background(), r.t.bucket, r.t.key, opts)
	if err != nil {
		return nil, err
	}
	resp := &response{xml: &initiateMultipartUploadResult{Xmlns: s3Namespace, Bucket: r.t.bucket, Key: r.t.key, UploadID: up.UploadID}}
	if ck.alg != ckNone {
		resp.set("X-Amz-Checksum-Algorithm", ck.alg.String())
		resp.set("X-Amz-Checksum-Type", ck.typ())
	}
	setSSEHeaders(resp, up.SSE, opCreateMultipart)
	return resp, nil
}

// hashingReader computes a part's checksum when the upload has an
// algorithm and the request sent none.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

// uploadPart serves PUT /bucket/key?partNumber=N&uploadId=ID.
func (s *Server) uploadPart(r *request) (*response, error) {
	n, err := parsePartNumber(r)
	if err != nil {
		return nil, err
	}
	id, err := uploadID(r)
	if err != nil {
		return nil, err
	}
	if err := requireLength(r); err != nil {
		return nil, err
	}
	if r.bodySize > engine.MaxPutPartSize {
		return nil, errorf(CodeEntityTooLarge, "")
	}
	opts := &engine.PartOptions{Size: max(r.bodySize, 0)}
	if opts.ContentMD5, err = contentMD5(r); err != nil {
		return nil, err
	}
	if opts.CustomerKey, err = parseCustomerKey(r, false); err != nil {
		return nil, err
	}
	defer clear(opts.CustomerKey)
	up, err := s.uploadOf(r, id)
	if err != nil {
		return nil, err
	}
	ck := parseUploadChecksum(up.ChecksumAlgorithm)
	if err := r.setupChecksum(); err != nil {
		return nil, err
	}
	d := r.digest
	if d.sum != nil && ck.alg != ckNone && d.alg != ck.alg {
		return nil, errorf(CodeInvalidRequest, "Checksum Type mismatch occurred, expected checksum Type: "+
			strings.ToLower(ck.alg.String())+", actual checksum Type: "+strings.ToLower(d.alg.String()))
	}
	body := r.body
	var own *hashingReader
	if ck.alg != ckNone && d.sum == nil {
		own = &hashingReader{r: r.body, h: ck.alg.newHash()}
		body = own
	}
	if ck.alg != ckNone && d.sum != nil && d.fromTail == nil {
		opts.Checksum = d.want // known up front; verified at EOF
	}
	var sum string // the part's verified checksum, base64
	opts.Verify = func() error {
		if !d.done || d.err != io.EOF {
			return errorf(CodeIncompleteBody, "")
		}
		if _, v, ok := d.checksum(); ok {
			sum = v
		} else if own != nil {
			sum = base64.StdEncoding.EncodeToString(own.h.Sum(nil))
		}
		if ck.alg != ckNone {
			opts.Checksum = sum
		}
		return nil
	}
	info, err := s.e.UploadPart(context.Background(), r.t.bucket, r.t.key, id, n, body, opts)
	if err != nil {
		return nil, err
	}
	resp := &response{}
	resp.set("ETag", `"`+info.ETag+`"`)
	if d.sum != nil {
		resp.set(d.alg.header(), sum)
	} else if ck.alg != ckNone {
		resp.set(ck.alg.header(), sum)
	}
	setSSEHeaders(resp, info.SSE, opUploadPart)
	return resp, nil
}

// copySourceRange parses x-amz-copy-source-range ("bytes=first-last").
func copySourceRange(v string) (first, last int64, err error) {
	bad := errorf(CodeInvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(v, "bytes=")
	if !ok {
		return 0, 0, bad
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, bad
	}
	digits := func(s string) bool {
		if s == "" || len(s) > 18 {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if !digits(a) || !digits(b) {
		return 0, 0, bad
	}
	first, _ = strconv.ParseInt(a, 10, 64)
	last, _ = strconv.ParseInt(b, 10, 64)
	if last < first {
		return 0, 0, bad
	}
	return first, last, nil
}

// uploadPartCopy serves PUT /bucket/key?partNumber=N&uploadId=ID with
// x-amz-copy-source.
func (s *Server) uploadPartCopy(r *request) (*response, error) {
	n, err := parsePartNumber(r)
	if err != nil {
		return nil, err
	}
	id, err := uploadID(r)
	if err != nil {
		return nil, err
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
	opts := &engine.PartCopyOptions{SourceConditions: conditions(r, "X-Amz-Copy-Source-")}
	if opts.SourceCustomerKey, err = parseCustomerKey(r, true); err != nil {
		return nil, err
	}
	defer clear(opts.SourceCustomerKey)
	if opts.CustomerKey, err = parseCustomerKey(r, false); err != nil {
		return nil, err
	}
	defer clear(opts.CustomerKey)
	if v := r.header("X-Amz-Copy-Source-Range"); v != "" {
		first, last, err := copySourceRange(v)
		if err != nil {
			return nil, err
		}
		if _, err := s.uploadOf(r, id); err != nil {
			return nil, err
		}
		src, err := s.e.HeadObject(context.Background(), srcBucket, srcKey, &engine.GetOptions{CustomerKey: opts.SourceCustomerKey})
		if err != nil {
			return nil, err
		}
		switch {
		case first >= src.Size:
			return nil, errorf(CodeInvalidRequest, "The specified copy range is invalid for the source object size")
		case last >= src.Size:
			return nil, errorf(CodeInvalidArgument, "Range specified is not valid for source object of size: "+itoa(src.Size))
		}
		opts.Range = engine.ByteRange(first, last)
	}
	info, err := s.e.UploadPartCopy(context.Background(), r.t.bucket, r.t.key, id, n, srcBucket, srcKey, opts)
	if err != nil {
		return nil, err
	}
	res := &copyPartResult{Xmlns: s3Namespace, LastModified: s3Time(info.ModTime), ETag: `"` + info.ETag + `"`}
	resp := &response{xml: res}
	setSSEHeaders(resp, info.SSE, opUploadPartCopy)
	return resp, nil
}

// readCompleteBody reads and decodes a CompleteMultipartUpload body, with
// readXMLBody's checks and a limit sized for 10,000 parts.
func readCompleteBody(r *request, v *completeMultipartUpload) error {
	if err := r.setupChecksum(); err != nil {
		return err
	}
	if r.bodySize > maxCompleteXML {
		return errorf(CodeMaxMessageLengthExceeded, "")
	}
	buf, err := io.ReadAll(io.LimitReader(r.body, maxCompleteXML+1))
	if err != nil {
		return err
	}
	if len(buf) > maxCompleteXML {
		return errorf(CodeMaxMessageLengthExceeded, "")
	}
	if err := checkBodyMD5(r, buf); err != nil {
		return err
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return errorf(CodeMalformedXML, "")
	}
	return decodeXML(buf, v)
}

// completeMultipartUpload serves POST /bucket/key?uploadId=ID.
func (s *Server) completeMultipartUpload(r *request) (*response, error) {
	id, err := uploadID(r)
	if err != nil {
		return nil, err
	}
	var req completeMultipartUpload
	if err := readCompleteBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Parts) == 0 || len(req.Parts) > engine.MaxParts {
		return nil, errorf(CodeMalformedXML, "")
	}
	parts := make([]engine.CompletePart, len(req.Parts))
	for i, p := range req.Parts {
		if p.PartNumber < 1 || p.PartNumber > engine.MaxParts {
			return nil, errorf(CodeInvalidArgument, "PartNumber must be >= 1 and <= 10000")
		}
		parts[i] = engine.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag}
	}
	opts := &engine.CompleteOptions{Conditions: conditions(r, "")}
	if inm := opts.Conditions.IfNoneMatch; inm != "" && inm != "*" {
		return nil, errorf(CodeNotImplemented, "If-None-Match on CompleteMultipartUpload supports only '*'.")
	}
	up, err := s.uploadOf(r, id)
	if err != nil {
		return nil, err
	}
	ck := parseUploadChecksum(up.ChecksumAlgorithm)
	if typ := strings.ToUpper(r.header("X-Amz-Checksum-Type")); typ != "" && (ck.alg == ckNone || typ != ck.typ()) {
		return nil, errorf(CodeInvalidRequest, "The upload was created using the "+orNone(ck)+" checksum mode. The complete request must use the same checksum mode.")
	}
	var stored map[int]engine.PartInfo
	if ck.alg != ckNone {
		if stored, err = s.allParts(r, id); err != nil {
			return nil, err
		}
		v, err := objectChecksum(ck, &req, stored)
		if err != nil {
			return nil, err
		}
		if v != "" {
			opts.Checksum = engine.Checksum{Algorithm: ck.alg.String(), Value: v}
		}
		if want := r.header(ck.alg.header()); want != "" && want != v {
			return nil, errorf(CodeBadDigest, "The "+ck.alg.String()+" you specified did not match the calculated checksum.")
		}
	}
	info, err := s.e.CompleteMultipartUpload(context.Background(), r.t.bucket, r.t.key, id, parts, opts)
	if errors.Is(err, engine.ErrEntityTooSmall) {
		return nil, s.entityTooSmall(r, id, parts, stored, err)
	}
	if err != nil {
		return nil, err
	}
	res := &completeMultipartUploadResult{Xmlns: s3Namespace, Location: "/" + r.t.bucket + "/" + r.t.key,
		Bucket: r.t.bucket, Key: r.t.key, ETag: `"` + info.ETag + `"`}
	if opts.Checksum.Value != "" {
		res.checksums.set(ck.alg, opts.Checksum.Value)
		res.ChecksumType = ck.typ()
	}
	resp := &response{xml: res}
	setSSEHeaders(resp, info.SSE, opComplete)
	return resp, nil
}

func orNone(ck uploadChecksum) string {
	if ck.alg == ckNone {
		return "no"
	}
	return ck.typ()
}

// allParts returns every committed part of an upload by number.
func (s *Server) allParts(r *request, id string) (map[int]engine.PartInfo, error) {
	out := map[int]engine.PartInfo{}
	marker := 0
	for {
		res, err := s.e.ListParts(context.Background(), r.t.bucket, r.t.key, id,
			engine.ListPartsOptions{PartNumberMarker: marker, MaxParts: maxListParts})
		if err != nil {
			return nil, err
		}
		for _, p := range res.Parts {
			out[p.PartNumber] = p
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			return out, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// objectChecksum checks the part checksums a complete request names
// against the stored ones and returns the object's checksum as S3 computes
// it: for COMPOSITE, the checksum of the concatenated raw part checksums,
// base64, then "-N"; for FULL_OBJECT, the CRC of the whole object,
// combined from the part CRCs. It returns "" when a part has no stored
// checksum (a copied part); parts missing altogether are left for the
// engine to report as InvalidPart.
func objectChecksum(ck uploadChecksum, req *completeMultipartUpload, stored map[int]engine.PartInfo) (string, error) {
	var cat []byte
	var crc uint64
	missing := false
	for i := range req.Parts {
		p := &req.Parts[i]
		sp, ok := stored[p.PartNumber]
		if !ok {
			return "", nil
		}
		if given := p.checksums.get(ck.alg); given != "" && sp.Checksum != "" && given != sp.Checksum {
			return "", errorf(CodeInvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
		}
		raw, err := base64.StdEncoding.DecodeString(sp.Checksum)
		if err != nil || len(raw) != checksumAlgs[ck.alg].size {
			missing = true
			continue
		}
		if ck.full {
			var v uint64
			if len(raw) == 4 {
				v = uint64(binary.BigEndian.Uint32(raw))
			} else {
				v = binary.BigEndian.Uint64(raw)
			}
			if i == 0 {
				crc = v
			} else {
				crc = crcCombine(ck.alg, crc, v, sp.Size)
			}
			continue
		}
		cat = append(cat, raw...)
	}
	if missing {
		return "", nil
	}
	if ck.full {
		var b [8]byte
		if checksumAlgs[ck.alg].size == 4 {
			binary.BigEndian.PutUint32(b[:4], uint32(crc))
			return base64.StdEncoding.EncodeToString(b[:4]), nil
		}
		binary.BigEndian.PutUint64(b[:], crc)
		return base64.StdEncoding.EncodeToString(b[:]), nil
	}
	h := ck.alg.newHash()
	h.Write(cat)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(req.Parts)), nil
}

// entityTooSmall adds S3's details (the first offending part, its size
// and the minimum) to an EntityTooSmall answer.
func (s *Server) entityTooSmall(r *request, id string, parts []engine.CompletePart, stored map[int]engine.PartInfo, cause error) error {
	e := wrapErr(CodeEntityTooSmall, "", cause)
	if stored == nil {
		var err error
		if stored, err = s.allParts(r, id); err != nil {
			return e
		}
	}
	for _, p := range parts[:len(parts)-1] {
		if sp, ok := stored[p.PartNumber]; ok && sp.Size < engine.MinPartSize {
			e.extra = [][2]string{{"ProposedSize", itoa(sp.Size)}, {"MinSizeAllowed", itoa(engine.MinPartSize)},
				{"PartNumber", strconv.Itoa(p.PartNumber)}, {"ETag", sp.ETag}}
			break
		}
	}
	return e
}

// abortMultipartUpload serves DELETE /bucket/key?uploadId=ID.
func (s *Server) abortMultipartUpload(r *request) (*response, error) {
	id, err := uploadID(r)
	if err != nil {
		return nil, err
	}
	if err := s.e.AbortMultipartUpload(context.Background(), r.t.bucket, r.t.key, id); err != nil {
		return nil, err
	}
	return &response{status: 204}, nil
}

// queryInt reads a non-negative integer query parameter.
func queryInt(r *request, name string, def int) (int, error) {
	v := r.t.query.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errorf(CodeInvalidArgument, "Provided "+name+" not an integer or within integer range")
	}
	return n, nil
}

func encodingType(r *request) (listParams, error) {
	var p listParams
	switch et := r.t.query.Get("encoding-type"); et {
	case "":
	case "url":
		p.urlEncode = true
	default:
		return p, errorf(CodeInvalidArgument, "Invalid Encoding Method specified in Request")
	}
	return p, nil
}

// listParts serves GET /bucket/key?uploadId=ID.
func (s *Server) listParts(r *request) (*response, error) {
	id, err := uploadID(r)
	if err != nil {
		return nil, err
	}
	enc, err := encodingType(r)
	if err != nil {
		return nil, err
	}
	maxParts, err := queryInt(r, "max-parts", maxListParts)
	if err != nil {
		return nil, err
	}
	maxParts = min(maxParts, maxListParts)
	marker, err := queryInt(r, "part-number-marker", 0)
	if err != nil {
		return nil, err
	}
	if k, err := parseCustomerKey(r, false); err != nil {
		return nil, err
	} else {
		clear(k)
	}
	res, err := s.e.ListParts(context.Background(), r.t.bucket, r.t.key, id,
		engine.ListPartsOptions{PartNumberMarker: marker, MaxParts: max(maxParts, 1)})
	if err != nil {
		return nil, err
	}
	if maxParts == 0 {
		res.IsTruncated = res.IsTruncated || len(res.Parts) > 0
		res.Parts = nil
		res.NextPartNumberMarker = 0
	}
	ck := parseUploadChecksum(res.Upload.ChecksumAlgorithm)
	initiator, own, err := s.uploadOwners(r)
	if err != nil {
		return nil, err
	}
	out := &listPartsResult{Xmlns: s3Namespace, Bucket: r.t.bucket, Key: enc.enc(r.t.key), UploadID: id,
		PartNumberMarker: marker, NextPartNumberMarker: res.NextPartNumberMarker, MaxParts: maxParts,
		IsTruncated: res.IsTruncated, Initiator: &initiator, Owner: &own, StorageClass: "STANDARD"}
	if enc.urlEncode {
		out.EncodingType = "url"
	}
	if ck.alg != ckNone {
		out.ChecksumAlgorithm, out.ChecksumType = ck.alg.String(), ck.typ()
	}
	out.Parts = make([]partXML, len(res.Parts))
	for i, p := range res.Parts {
		out.Parts[i] = partXML{PartNumber: p.PartNumber, LastModified: s3Time(p.ModTime), ETag: `"` + p.ETag + `"`, Size: p.Size}
		if ck.alg != ckNone && p.Checksum != "" {
			out.Parts[i].checksums.set(ck.alg, p.Checksum)
		}
	}
	return &response{xml: out}, nil
}

// listMultipartUploads serves GET /bucket?uploads.
func (s *Server) listMultipartUploads(r *request) (*response, error) {
	enc, err := encodingType(r)
	if err != nil {
		return nil, err
	}
	maxUploads, err := queryInt(r, "max-uploads", maxListUploads)
	if err != nil {
		return nil, err
	}
	maxUploads = min(maxUploads, maxListUploads)
	q := r.t.query
	opts := engine.ListUploadsOptions{Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"),
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: max(maxUploads, 1)}
	if len(opts.Prefix) > engine.MaxKeyLength || len(opts.Delimiter) > engine.MaxKeyLength || len(opts.KeyMarker) > engine.MaxKeyLength {
		return nil, errorf(CodeKeyTooLong, "")
	}
	if opts.KeyMarker == "" {
		opts.UploadIDMarker = "" // S3 ignores an upload-id-marker without a key-marker
	}
	res, err := s.e.ListMultipartUploads(context.Background(), r.t.bucket, opts)
	if err != nil {
		return nil, err
	}
	if maxUploads == 0 {
		res.IsTruncated = res.IsTruncated || len(res.Uploads)+len(res.CommonPrefixes) > 0
		res.Uploads, res.CommonPrefixes = nil, nil
		res.NextKeyMarker, res.NextUploadIDMarker = "", ""
	}
	initiator, own, err := s.uploadOwners(r)
	if err != nil {
		return nil, err
	}
	out := &listMultipartUploadsResult{Xmlns: s3Namespace, Bucket: r.t.bucket, KeyMarker: enc.enc(opts.KeyMarker),
		UploadIDMarker: opts.UploadIDMarker, NextKeyMarker: enc.enc(res.NextKeyMarker), NextUploadIDMarker: res.NextUploadIDMarker,
		Prefix: enc.enc(opts.Prefix), Delimiter: enc.enc(opts.Delimiter), MaxUploads: maxUploads, IsTruncated: res.IsTruncated}
	if enc.urlEncode {
		out.EncodingType = "url"
	}
	out.Uploads = make([]uploadXML, len(res.Uploads))
	for i, u := range res.Uploads {
		out.Uploads[i] = uploadXML{Key: enc.enc(u.Key), UploadID: u.UploadID, Initiator: &initiator, Owner: &own,
			StorageClass: "STANDARD", Initiated: s3Time(u.Initiated)}
		if ck := parseUploadChecksum(u.ChecksumAlgorithm); ck.alg != ckNone {
			out.Uploads[i].ChecksumAlgorithm, out.Uploads[i].ChecksumType = ck.alg.String(), ck.typ()
		}
	}
	out.CommonPrefixes = make([]commonPrefix, len(res.CommonPrefixes))
	for i, cp := range res.CommonPrefixes {
		out.CommonPrefixes[i] = commonPrefix{Prefix: enc.enc(cp)}
	}
	return &response{xml: out}, nil
}

// checksumElems are the per-algorithm checksum elements of S3's part and
// result documents.
type checksumElems struct {
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

func (c *checksumElems) field(a checksumAlg) *string {
	switch a {
	case ckCRC32:
		return &c.ChecksumCRC32
	case ckCRC32C:
		return &c.ChecksumCRC32C
	case ckCRC64NVME:
		return &c.ChecksumCRC64NVME
	case ckSHA1:
		return &c.ChecksumSHA1
	case ckSHA256:
		return &c.ChecksumSHA256
	}
	return nil
}

func (c *checksumElems) set(a checksumAlg, v string) {
	if f := c.field(a); f != nil {
		*f = v
	}
}

func (c *checksumElems) get(a checksumAlg) string {
	if f := c.field(a); f != nil {
		return *f
	}
	return ""
}

// XML documents of the multipart APIs.

type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int
		ETag       string
		checksums
	} `xml:"Part"`
}

// checksums is embedded in documents that carry per-algorithm checksums.
type checksums = checksumElems

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string
	Key      string
	UploadID string `xml:"UploadId"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string
	ETag         string
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string
	Bucket   string
	Key      string
	ETag     string
	checksums
	ChecksumType string `xml:",omitempty"`
}

type partXML struct {
	PartNumber   int
	LastModified string
	ETag         string
	Size         int64
	checksums
}

type listPartsResult struct {
	XMLName              xml.Name `xml:"ListPartsResult"`
	Xmlns                string   `xml:"xmlns,attr"`
	Bucket               string
	Key                  string
	UploadID             string `xml:"UploadId"`
	PartNumberMarker     int
	NextPartNumberMarker int
	MaxParts             int
	IsTruncated          bool
	EncodingType         string    `xml:",omitempty"`
	Parts                []partXML `xml:"Part"`
	Initiator            *owner
	Owner                *owner
	StorageClass         string
	ChecksumAlgorithm    string `xml:",omitempty"`
	ChecksumType         string `xml:",omitempty"`
}

type uploadXML struct {
	Key               string
	UploadID          string `xml:"UploadId"`
	Initiator         *owner
	Owner             *owner
	StorageClass      string
	Initiated         string
	ChecksumAlgorithm string `xml:",omitempty"`
	ChecksumType      string `xml:",omitempty"`
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name `xml:"ListMultipartUploadsResult"`
	Xmlns              string   `xml:"xmlns,attr"`
	Bucket             string
	KeyMarker          string
	UploadIDMarker     string `xml:"UploadIdMarker"`
	NextKeyMarker      string
	NextUploadIDMarker string `xml:"NextUploadIdMarker"`
	Prefix             string
	Delimiter          string `xml:",omitempty"`
	MaxUploads         int
	IsTruncated        bool
	EncodingType       string      `xml:",omitempty"`
	Uploads            []uploadXML `xml:"Upload"`
	CommonPrefixes     []commonPrefix
}

// crcCombine returns the CRC of A||B from crcA, crcB and len(B), for the
// reflected CRCs S3 uses (CRC32, CRC32C, CRC64NVME; each with all-ones
// initial value and final xor, which cancel out in the combination):
// crc(A||B) = crcA·x^(8·lenB) mod P xor crcB.
func crcCombine(a checksumAlg, crcA, crcB uint64, lenB int64) uint64 {
	var poly, top uint64
	switch a {
	case ckCRC32:
		poly, top = 0xedb88320, 1<<31
	case ckCRC32C:
		poly, top = 0x82f63b78, 1<<31
	case ckCRC64NVME:
		poly, top = 0x9a6c9329ac4bc9b5, 1<<63
	default:
		return 0
	}
	// In the reflected representation the top bit is x^0.
	mul := func(x, y uint64) uint64 {
		var p uint64
		for m := top; m != 0; m >>= 1 {
			if x&m != 0 {
				p ^= y
			}
			if y&1 != 0 {
				y = y>>1 ^ poly
			} else {
				y >>= 1
			}
		}
		return p
	}
	xn := top        // x^0
	base := top >> 8 // x^8
	for n := lenB; n > 0; n >>= 1 {
		if n&1 != 0 {
			xn = mul(xn, base)
		}
		base = mul(base, base)
	}
	return mul(xn, crcA) ^ crcB
}

// getPartNumber reads ?partNumber= of GET and HEAD, which excludes Range.
func getPartNumber(r *request) (int, error) {
	n, err := parsePartNumber(r)
	if err != nil {
		return 0, err
	}
	if r.header("Range") != "" {
		return 0, errorf(CodeInvalidRequest, "Cannot specify both Range header and partNumber query parameter")
	}
	return n, nil
}

// partNumberError adds S3's details to InvalidPartNumber: the object's
// part count and the number asked for.
func (s *Server) partNumberError(r *request, opts *engine.GetOptions, err error) error {
	if opts.PartNumber == 0 || !errors.Is(err, engine.ErrInvalidPartNumber) {
		return err
	}
	e := wrapErr(CodeInvalidPartNumber, "", err)
	ho := *opts
	ho.PartNumber = 0
	if info, herr := s.e.HeadObject(context.Background(), r.t.bucket, r.t.key, &ho); herr == nil {
		e.extra = [][2]string{{"ActualPartCount", strconv.Itoa(max(info.PartsCount, 1))}, {"PartNumberRequested", strconv.Itoa(opts.PartNumber)}}
	}
	return e
}

// objectChecksumType is the x-amz-checksum-type of a stored checksum: a
// multipart composite checksum ends in "-N".
func objectChecksumType(v string) string {
	if strings.Contains(v, "-") {
		return checksumComposite
	}
	return checksumFullObject
}

// uploadOwners are the Initiator and Owner elements of the uploads in
// the addressed bucket: the owner is the bucket's owner, who owns every
// object in it (BucketOwnerEnforced). Who started an upload is not
// recorded, so the requester stands as its initiator.
func (s *Server) uploadOwners(r *request) (initiator, own owner, err error) {
	own, err = s.bucketOwner(r)
	return ownerOf(r), own, err
}
