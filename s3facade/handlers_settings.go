package s3facade

import (
	"encoding/xml"
	"strings"
)

// Bucket settings Coffer does not have. Reading one answers what S3
// answers for a bucket where it was never configured, so that clients
// which only read settings (rclone, terraform, Cyberduck, the AWS CLI)
// work; changing one stays NotImplemented, except deleting a setting that
// S3 answers with 204 when there is nothing to delete. Object ownership
// is always BucketOwnerEnforced and public access always blocked, as on a
// new S3 bucket.

// The fixed documents. They are only marshalled, never modified.
var (
	versioningUnset     = &emptyConfig{XMLName: xml.Name{Local: "VersioningConfiguration"}, Xmlns: s3Namespace}
	loggingUnset        = &emptyConfig{XMLName: xml.Name{Local: "BucketLoggingStatus"}, Xmlns: s3Namespace}
	notificationUnset   = &emptyConfig{XMLName: xml.Name{Local: "NotificationConfiguration"}, Xmlns: s3Namespace}
	accelerateUnset     = &emptyConfig{XMLName: xml.Name{Local: "AccelerateConfiguration"}, Xmlns: s3Namespace}
	requestPaymentOwner = &struct {
		XMLName xml.Name `xml:"RequestPaymentConfiguration"`
		Xmlns   string   `xml:"xmlns,attr"`
		Payer   string   `xml:"Payer"`
	}{Xmlns: s3Namespace, Payer: "BucketOwner"}
	publicAccessBlocked = &struct {
		XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
		Xmlns                 string   `xml:"xmlns,attr"`
		BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
		IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
		BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
		RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
	}{Xmlns: s3Namespace, BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	ownershipEnforced = &ownershipControls{Xmlns: s3Namespace, Rules: []ownershipRule{{ObjectOwnership: ownershipBucketOwnerEnforced}}}
)

const ownershipBucketOwnerEnforced = "BucketOwnerEnforced"

// emptyConfig is a settings document with nothing set: its root element
// (XMLName) alone.
type emptyConfig struct {
	XMLName xml.Name
	Xmlns   string `xml:"xmlns,attr"`
}

// ownershipControls is S3's OwnershipControls document.
type ownershipControls struct {
	XMLName xml.Name        `xml:"OwnershipControls"`
	Xmlns   string          `xml:"xmlns,attr,omitempty"`
	Rules   []ownershipRule `xml:"Rule"`
}

type ownershipRule struct {
	ObjectOwnership string `xml:"ObjectOwnership"`
}

// settingDocument serves a GET of a setting with a fixed document once
// the bucket is known to exist.
func settingDocument(doc any) handlerFunc {
	return func(s *Server, r *request) (*response, error) {
		if err := s.bucketExists(r); err != nil {
			return nil, err
		}
		return &response{xml: doc}, nil
	}
}

// settingNotFound serves a GET of a setting that is never configured with
// S3's error for it once the bucket is known to exist.
func settingNotFound(code ErrorCode) handlerFunc {
	return func(s *Server, r *request) (*response, error) {
		if err := s.bucketExists(r); err != nil {
			return nil, err
		}
		e := errorf(code, "")
		e.extra = [][2]string{{"BucketName", r.t.bucket}}
		return nil, e
	}
}

// settingDeleted serves a DELETE of a setting that is never configured:
// S3 answers 204 when there is nothing to delete.
func settingDeleted(s *Server, r *request) (*response, error) {
	if err := s.bucketExists(r); err != nil {
		return nil, err
	}
	return &response{status: 204}, nil
}

// putBucketOwnershipControls accepts BucketOwnerEnforced, which every
// bucket already has. The two settings that enable ACLs are not
// implemented; anything else is MalformedXML.
func (s *Server) putBucketOwnershipControls(r *request) (*response, error) {
	if err := s.bucketExists(r); err != nil {
		return nil, err
	}
	var c ownershipControls
	ok, err := s.readXMLBody(r, &c)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, errorf(CodeMissingRequestBodyError, "")
	case len(c.Rules) != 1:
		return nil, errorf(CodeMalformedXML, "")
	}
	switch strings.TrimSpace(c.Rules[0].ObjectOwnership) {
	case ownershipBucketOwnerEnforced:
	case "BucketOwnerPreferred", "ObjectWriter":
		return nil, errorf(CodeNotImplemented, "Only BucketOwnerEnforced object ownership is supported: ACLs are disabled.")
	default:
		return nil, errorf(CodeMalformedXML, "")
	}
	return &response{}, nil
}
