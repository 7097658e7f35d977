package s3facade

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"time"
)

const (
	s3Namespace  = "http://s3.amazonaws.com/doc/2006-03-01/"
	timeFormatS3 = "2006-01-02T15:04:05.000Z"
	maxXMLDepth  = 16
	maxDeleteKey = 1000
)

func s3Time(t time.Time) string { return t.UTC().Format(timeFormatS3) }

// Request bodies.

type createBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool
	Objects []struct {
		Key       string
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

// Response bodies.

type owner struct {
	ID          string
	DisplayName string
}

type listAllMyBucketsResult struct {
	XMLName           xml.Name    `xml:"ListAllMyBucketsResult"`
	Xmlns             string      `xml:"xmlns,attr"`
	Owner             owner       `xml:"Owner"`
	Buckets           []bucketXML `xml:"Buckets>Bucket"`
	ContinuationToken string      `xml:",omitempty"`
	Prefix            string      `xml:",omitempty"`
}

type bucketXML struct {
	Name         string
	CreationDate string
	BucketRegion string `xml:",omitempty"`
}

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Value   string   `xml:",chardata"`
}

type objectXML struct {
	Key               string
	LastModified      string
	ETag              string
	Size              int64
	Owner             *owner `xml:",omitempty"`
	StorageClass      string
	ChecksumAlgorithm string `xml:",omitempty"`
}

type commonPrefix struct {
	Prefix string
}

type listBucketResult struct {
	XMLName        xml.Name `xml:"ListBucketResult"`
	Xmlns          string   `xml:"xmlns,attr"`
	Name           string
	Prefix         string
	Marker         string
	NextMarker     string `xml:",omitempty"`
	MaxKeys        int
	Delimiter      string `xml:",omitempty"`
	IsTruncated    bool
	EncodingType   string `xml:",omitempty"`
	Contents       []objectXML
	CommonPrefixes []commonPrefix
}

type listBucketResultV2 struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Xmlns                 string   `xml:"xmlns,attr"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	EncodingType          string  `xml:",omitempty"`
	ContinuationToken     *string `xml:",omitempty"` // echoed when sent, even empty
	NextContinuationToken string  `xml:",omitempty"`
	StartAfter            string  `xml:",omitempty"`
	Contents              []objectXML
	CommonPrefixes        []commonPrefix
}

// listVersionsResult is ListObjectVersions' answer (handlers_list.go).
type listVersionsResult struct {
	XMLName             xml.Name `xml:"ListVersionsResult"`
	Xmlns               string   `xml:"xmlns,attr"`
	Name                string
	Prefix              string
	KeyMarker           string
	VersionIdMarker     string
	NextKeyMarker       string `xml:",omitempty"`
	NextVersionIdMarker string `xml:",omitempty"`
	MaxKeys             int
	Delimiter           string `xml:",omitempty"`
	IsTruncated         bool
	EncodingType        string       `xml:",omitempty"`
	Versions            []versionXML `xml:"Version"`
	CommonPrefixes      []commonPrefix
}

type versionXML struct {
	Key               string
	VersionId         string
	IsLatest          bool
	LastModified      string
	ETag              string
	Size              int64
	Owner             *owner `xml:",omitempty"`
	StorageClass      string
	ChecksumAlgorithm string `xml:",omitempty"`
}

type deleteResult struct {
	XMLName xml.Name `xml:"DeleteResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Deleted []struct {
		Key string
	} `xml:"Deleted"`
	Errors []deleteError `xml:"Error"`
}

type deleteError struct {
	Key     string
	Code    ErrorCode
	Message string
}

type copyObjectResult struct {
	XMLName           xml.Name `xml:"CopyObjectResult"`
	Xmlns             string   `xml:"xmlns,attr"`
	LastModified      string
	ETag              string
	ChecksumCRC32     string `xml:",omitempty"`
	ChecksumCRC32C    string `xml:",omitempty"`
	ChecksumCRC64NVME string `xml:",omitempty"`
	ChecksumSHA1      string `xml:",omitempty"`
	ChecksumSHA256    string `xml:",omitempty"`
}

// readXMLBody reads an XML request body of at most Config.MaxXMLBytes
// through the request's verified body reader, checks Content-MD5 and any
// x-amz-checksum-* header, and decodes it into v after a depth and
// directive pre-scan. An empty body leaves v untouched and returns
// (false, nil).
func (s *Server) readXMLBody(r *request, v any) (bool, error) {
	return s.readXMLBodyLimit(r, v, s.cfg.MaxXMLBytes)
}

// readXMLBodyLimit is readXMLBody for documents with a smaller bound of
// their own: the body may hold at most min(bound, Config.MaxXMLBytes) bytes.
func (s *Server) readXMLBodyLimit(r *request, v any, bound int) (bool, error) {
	if err := r.setupChecksum(); err != nil {
		return false, err
	}
	limit := int64(min(bound, s.cfg.MaxXMLBytes))
	if r.bodySize > limit {
		return false, errorf(CodeMaxMessageLengthExceeded, "")
	}
	buf, err := io.ReadAll(io.LimitReader(r.body, limit+1))
	if err != nil {
		return false, err
	}
	if int64(len(buf)) > limit {
		return false, errorf(CodeMaxMessageLengthExceeded, "")
	}
	if err := checkBodyMD5(r, buf); err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return false, nil
	}
	if err := decodeXML(buf, v); err != nil {
		return false, err
	}
	return true, nil
}

// decodeXML decodes one S3 request document: no DTDs or entities, bounded
// nesting, nothing after the root element.
func decodeXML(buf []byte, v any) error {
	d := xml.NewDecoder(bytes.NewReader(buf))
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wrapErr(CodeMalformedXML, "", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if depth > maxXMLDepth || roots > 1 {
				return errorf(CodeMalformedXML, "")
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return errorf(CodeMalformedXML, "DTDs and entities are not allowed.")
		}
	}
	if depth != 0 || roots != 1 {
		return errorf(CodeMalformedXML, "")
	}
	if err := xml.Unmarshal(buf, v); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return wrapErr(CodeMalformedXML, "", err)
		}
		return wrapErr(CodeMalformedXML, "", err)
	}
	return nil
}
