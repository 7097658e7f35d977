package s3facade

import (
	"context"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// GetObjectAttributes (GET /bucket/key?attributes): what HeadObject and
// ListParts tell about an object, in one XML document holding only the
// attributes named in x-amz-object-attributes.

// The attribute names of x-amz-object-attributes.
const (
	attrETag         = "ETag"
	attrChecksum     = "Checksum"
	attrObjectParts  = "ObjectParts"
	attrStorageClass = "StorageClass"
	attrObjectSize   = "ObjectSize"
)

// attrSet is the set of attributes a request asks for.
type attrSet struct {
	etag, checksum, parts, storageClass, size bool
}

// errBadAttribute is S3's answer to a missing, empty or unknown name in
// x-amz-object-attributes.
func errBadAttribute(value string) *Error {
	e := errorf(CodeInvalidArgument, "Invalid attribute name specified.")
	e.extra = append(e.extra, [2]string{"ArgumentName", "x-amz-object-attributes"})
	if value != "" {
		e.extra = append(e.extra, [2]string{"ArgumentValue", truncate(value, 256)})
	}
	return e
}

// parseAttributes reads the comma-separated x-amz-object-attributes
// header. Names are case-sensitive, as S3's enum; at least one is needed.
func parseAttributes(v string) (attrSet, error) {
	var a attrSet
	named := false
	for name := range strings.SplitSeq(v, ",") {
		name = strings.TrimSpace(name)
		switch name {
		case "":
			continue
		case attrETag:
			a.etag = true
		case attrChecksum:
			a.checksum = true
		case attrObjectParts:
			a.parts = true
		case attrStorageClass:
			a.storageClass = true
		case attrObjectSize:
			a.size = true
		default:
			return a, errBadAttribute(name)
		}
		named = true
	}
	if !named {
		return a, errBadAttribute("")
	}
	return a, nil
}

// attributesHeader joins every x-amz-object-attributes header of r: SDKs
// send one header per name, or one comma-separated list.
func attributesHeader(r *request) string {
	var b strings.Builder
	for _, v := range r.ctx.Request.Header.PeekAll("X-Amz-Object-Attributes") {
		b.WriteString(",")
		b.Write(v)
	}
	return b.String()
}

// headerInt reads a non-negative integer request header; absent is def.
func headerInt(r *request, name string, def int) (int, error) {
	v := r.header(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, errorf(CodeInvalidArgument, "Provided "+strings.ToLower(name)+" not an integer or within integer range")
	}
	return n, nil
}

// partsPage is the x-amz-max-parts and x-amz-part-number-marker of a
// request: at most maxListParts parts after marker.
type partsPage struct {
	max, marker int
}

func parsePartsPage(r *request) (partsPage, error) {
	var p partsPage
	var err error
	if p.max, err = headerInt(r, "X-Amz-Max-Parts", maxListParts); err != nil {
		return p, err
	}
	p.max = min(p.max, maxListParts)
	if p.marker, err = headerInt(r, "X-Amz-Part-Number-Marker", 0); err != nil {
		return p, err
	}
	return p, nil
}

// getObjectAttributes serves GET /bucket/key?attributes. An SSE-C object
// needs its key, as on HEAD; SSE headers of other kinds are refused.
func (s *Server) getObjectAttributes(r *request) (*response, error) {
	want, err := parseAttributes(attributesHeader(r))
	if err != nil {
		return nil, err
	}
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	if err := rejectReadSSE(r); err != nil {
		return nil, err
	}
	page, err := parsePartsPage(r)
	if err != nil {
		return nil, err
	}
	ck, err := parseCustomerKey(r, false)
	if err != nil {
		return nil, err
	}
	defer clear(ck)
	info, parts, err := s.e.ObjectParts(context.Background(), r.t.bucket, r.t.key, &engine.GetOptions{CustomerKey: ck})
	if err != nil {
		return nil, err
	}
	out := &getObjectAttributesResponse{Xmlns: s3Namespace}
	if want.etag {
		out.ETag = info.ETag // unquoted in this API, as S3 returns it
	}
	if want.checksum {
		out.Checksum = attributesChecksum(info.Checksum)
	}
	if want.parts && info.PartsCount > 0 {
		out.ObjectParts = attributesParts(info, parts, page)
	}
	if want.storageClass {
		out.StorageClass = "STANDARD"
	}
	if want.size {
		out.ObjectSize = &info.Size
	}
	resp := &response{xml: out}
	resp.set("Last-Modified", info.ModTime.UTC().Format(http.TimeFormat))
	return resp, nil
}

// attributesChecksum is the Checksum element of a stored checksum, nil
// for an object stored without one.
func attributesChecksum(c engine.Checksum) *attrChecksumXML {
	alg, ok := checksumByName(c.Algorithm)
	if !ok || c.Value == "" {
		return nil
	}
	x := &attrChecksumXML{ChecksumType: objectChecksumType(c.Value)}
	x.set(alg, c.Value)
	return x
}

// attributesParts is the ObjectParts element of a multipart object. As
// on S3, the parts themselves are listed only for an object stored with
// an additional checksum; otherwise only their count is given.
func attributesParts(info engine.ObjectInfo, parts []engine.ObjectPart, page partsPage) *attrPartsXML {
	x := &attrPartsXML{PartsCount: info.PartsCount}
	alg, ok := checksumByName(info.Checksum.Algorithm)
	if !ok {
		return x
	}
	truncated := false
	next := 0
	x.Parts = []attrPartXML{}
	for _, p := range parts {
		if p.PartNumber <= page.marker {
			continue
		}
		if len(x.Parts) == page.max {
			truncated = true
			break
		}
		px := attrPartXML{PartNumber: p.PartNumber, Size: p.Size}
		if p.Checksum != "" {
			px.set(alg, p.Checksum)
		}
		x.Parts = append(x.Parts, px)
		next = p.PartNumber
	}
	x.PartNumberMarker, x.NextPartNumberMarker = &page.marker, &next
	x.MaxParts, x.IsTruncated = &page.max, &truncated
	return x
}

// XML documents of GetObjectAttributes.

type getObjectAttributesResponse struct {
	XMLName      xml.Name         `xml:"GetObjectAttributesResponse"`
	Xmlns        string           `xml:"xmlns,attr"`
	ETag         string           `xml:",omitempty"`
	Checksum     *attrChecksumXML `xml:",omitempty"`
	ObjectParts  *attrPartsXML    `xml:",omitempty"`
	StorageClass string           `xml:",omitempty"`
	ObjectSize   *int64           `xml:",omitempty"`
}

type attrChecksumXML struct {
	checksumElems
	ChecksumType string `xml:",omitempty"`
}

type attrPartsXML struct {
	PartsCount           int
	PartNumberMarker     *int          `xml:",omitempty"`
	NextPartNumberMarker *int          `xml:",omitempty"`
	MaxParts             *int          `xml:",omitempty"`
	IsTruncated          *bool         `xml:",omitempty"`
	Parts                []attrPartXML `xml:"Part"`
}

type attrPartXML struct {
	PartNumber int
	Size       int64
	checksumElems
}
