package s3facade

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// ACLs: every bucket behaves like an S3 bucket whose Object Ownership is
// BucketOwnerEnforced (the S3 default since April 2023). ACLs are disabled:
// the bucket owner owns every object and has FULL_CONTROL of it, reading
// an ACL always answers exactly that, and a request that would set any
// other ACL fails before anything is read or written.

// aclUse is the kind of request an ACL arrives on; each accepts a
// different set of owner-only forms and refuses the rest with its own
// code.
type aclUse uint8

const (
	// aclObjectWrite: PutObject, CopyObject, CreateMultipartUpload and
	// POST Object accept no ACL, private or bucket-owner-full-control.
	aclObjectWrite aclUse = iota
	// aclCreateBucket: CreateBucket accepts no ACL or private (and
	// bucket-owner-full-control, which gives nobody else anything); the
	// rest is InvalidBucketAclWithObjectOwnership.
	aclCreateBucket
	// aclPut: PutBucketAcl and PutObjectAcl accept only the forms of
	// "the bucket owner has FULL_CONTROL": bucket-owner-full-control, an
	// x-amz-grant-full-control naming the owner, or that document.
	aclPut
)

// The ACL vocabulary of S3.
const (
	aclFullControl      = "FULL_CONTROL"
	aclCanonicalUser    = "CanonicalUser"
	xsiNamespace        = "http://www.w3.org/2001/XMLSchema-instance"
	cannedOwnerFull     = "bucket-owner-full-control"
	cannedPrivate       = "private"
	headerGrantFull     = "X-Amz-Grant-Full-Control"
	msgBothACLKinds     = "Specifying both Canned ACLs and Header Grants is not allowed"
	msgArgumentFormat   = "Argument format not recognized"
	maxACLArgumentValue = 64 // bytes of a refused value echoed in ArgumentValue
)

// cannedACLs are the canned ACL names S3 knows. Never modified.
var cannedACLs = map[string]bool{
	"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
	"aws-exec-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true, "log-delivery-write": true,
}

// grantHeaders are the explicit-grant headers, full control first.
var grantHeaders = [...]string{headerGrantFull, "X-Amz-Grant-Read", "X-Amz-Grant-Read-Acp", "X-Amz-Grant-Write", "X-Amz-Grant-Write-Acp"}

// aclRefused is the error for an ACL S3 refuses on a bucket whose ACLs
// are disabled.
func aclRefused(use aclUse) error {
	if use == aclCreateBucket {
		return errorf(CodeInvalidBucketAclWithObjectOwnership, "")
	}
	return errorf(CodeAccessControlListNotSupported, "")
}

// invalidACLArgument is S3's InvalidArgument naming the header (or form
// field) and, shortened, its value.
func invalidACLArgument(msg, name, value string) error {
	e := errorf(CodeInvalidArgument, msg)
	e.extra = [][2]string{{"ArgumentName", name}, {"ArgumentValue", truncate(value, maxACLArgumentValue)}}
	return e
}

// checkCannedACL checks a canned ACL value (x-amz-acl, or the acl field of
// a POST form named by arg): empty or an owner-only value for use passes,
// another known value is refused, an unknown one is InvalidArgument.
func checkCannedACL(value, arg string, use aclUse) error {
	if value == "" {
		return nil
	}
	if !cannedACLs[value] {
		return invalidACLArgument("", arg, value)
	}
	switch {
	case value == cannedOwnerFull:
		return nil
	case value == cannedPrivate && use != aclPut:
		return nil
	}
	return aclRefused(use)
}

// checkACLHeaders checks x-amz-acl and x-amz-grant-* for use and reports
// whether the request carried either. owner gives the bucket owner's
// Owner element; it is called only when a grant names someone. It never
// reads the body.
func checkACLHeaders(r *request, use aclUse, owner func() (owner, error)) (bool, error) {
	canned := r.header("X-Amz-Acl")
	granted := false
	for _, h := range grantHeaders {
		if r.header(h) != "" {
			granted = true
		}
	}
	switch {
	case canned != "" && granted:
		return true, errorf(CodeInvalidRequest, msgBothACLKinds)
	case canned != "":
		return true, checkCannedACL(canned, "x-amz-acl", use)
	case !granted:
		return false, nil
	}
	for _, h := range grantHeaders[1:] {
		if r.header(h) != "" {
			return true, aclRefused(use)
		}
	}
	ids, err := parseGrantees(r.header(headerGrantFull))
	if err != nil {
		return true, err
	}
	o, err := owner()
	if err != nil {
		return true, err
	}
	for _, id := range ids {
		if id == "" || id != o.ID {
			return true, aclRefused(use)
		}
	}
	return true, nil
}

// parseGrantees parses an x-amz-grant-full-control value, a comma
// separated list of id="…", uri="…" or emailAddress="…", and returns the
// canonical ids; a uri or email grantee is returned as "" (never the
// owner). A list S3 could not parse is InvalidArgument.
func parseGrantees(v string) ([]string, error) {
	var ids []string
	for item := range strings.SplitSeq(v, ",") {
		kind, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		if !ok || val == "" {
			return nil, invalidACLArgument(msgArgumentFormat, strings.ToLower(headerGrantFull), v)
		}
		switch strings.TrimSpace(kind) {
		case "id":
			ids = append(ids, val)
		case "uri", "emailAddress":
			ids = append(ids, "")
		default:
			return nil, invalidACLArgument(msgArgumentFormat, strings.ToLower(headerGrantFull), v)
		}
	}
	return ids, nil
}

// checkWriteACL is the ACL check of object writes (PutObject, CopyObject,
// CreateMultipartUpload): the bucket owner is looked up only when a grant
// header names someone.
func checkWriteACL(r *request) error {
	_, err := checkACLHeaders(r, aclObjectWrite, func() (owner, error) { return r.s.bucketOwner(r) })
	return err
}

// XML documents.

// accessControlPolicy is the AccessControlPolicy document Coffer answers:
// the owner, and FULL_CONTROL granted to the owner alone.
type accessControlPolicy struct {
	XMLName xml.Name   `xml:"AccessControlPolicy"`
	Xmlns   string     `xml:"xmlns,attr"`
	Owner   owner      `xml:"Owner"`
	Grants  []grantXML `xml:"AccessControlList>Grant"`
}

type grantXML struct {
	Grantee    granteeXML `xml:"Grantee"`
	Permission string     `xml:"Permission"`
}

type granteeXML struct {
	XsiNS       string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// ownerOnlyPolicy is the one ACL every bucket and object has.
func ownerOnlyPolicy(o owner) *accessControlPolicy {
	return &accessControlPolicy{Xmlns: s3Namespace, Owner: o, Grants: []grantXML{{
		Grantee:    granteeXML{XsiNS: xsiNamespace, Type: aclCanonicalUser, ID: o.ID, DisplayName: o.DisplayName},
		Permission: aclFullControl,
	}}}
}

// aclRequest is an AccessControlPolicy a client sends with PUT ?acl.
type aclRequest struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Owner   *struct {
		ID string `xml:"ID"`
	} `xml:"Owner"`
	Grants []struct {
		Grantee struct {
			Attrs        []xml.Attr `xml:",any,attr"`
			ID           string     `xml:"ID"`
			URI          string     `xml:"URI"`
			EmailAddress string     `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// ownerOnly reports whether p gives FULL_CONTROL to the owner with id and
// nothing to anyone else.
func (p *aclRequest) ownerOnly(id string) bool {
	if id == "" || p.Owner != nil && strings.TrimSpace(p.Owner.ID) != id || len(p.Grants) == 0 {
		return false
	}
	for _, g := range p.Grants {
		e := &g.Grantee
		if strings.TrimSpace(e.ID) != id || e.URI != "" || e.EmailAddress != "" ||
			strings.TrimSpace(g.Permission) != aclFullControl {
			return false
		}
		for _, a := range e.Attrs {
			if a.Name.Local == "type" && a.Value != aclCanonicalUser {
				return false
			}
		}
	}
	return true
}

// Handlers.

// getBucketACL serves GetBucketAcl.
func (s *Server) getBucketACL(r *request) (*response, error) {
	o, err := s.bucketOwner(r)
	if err != nil {
		return nil, err
	}
	return &response{xml: ownerOnlyPolicy(o)}, nil
}

// getObjectACL serves GetObjectAcl: the object must exist (an SSE-C
// object needs no key for it).
func (s *Server) getObjectACL(r *request) (*response, error) {
	if err := s.objectExists(r); err != nil {
		return nil, err
	}
	o, err := s.bucketOwner(r)
	if err != nil {
		return nil, err
	}
	return &response{xml: ownerOnlyPolicy(o)}, nil
}

// putBucketACL serves PutBucketAcl.
func (s *Server) putBucketACL(r *request) (*response, error) {
	return s.putACL(r, func() error { return s.bucketExists(r) })
}

// putObjectACL serves PutObjectAcl.
func (s *Server) putObjectACL(r *request) (*response, error) {
	return s.putACL(r, func() error { return s.objectExists(r) })
}

// putACL accepts an ACL that changes nothing (the owner's FULL_CONTROL,
// as a header or a document) and refuses every other with
// AccessControlListNotSupported. Headers are judged before exists runs
// and before any of the body is read.
func (s *Server) putACL(r *request, exists func() error) (*response, error) {
	owner := func() (owner, error) { return s.bucketOwner(r) }
	byHeader, err := checkACLHeaders(r, aclPut, owner)
	if err != nil {
		return nil, err
	}
	if err := exists(); err != nil {
		return nil, err
	}
	var p aclRequest
	hasBody, err := s.readXMLBody(r, &p)
	var fe *Error
	if errors.As(err, &fe) && fe.Code == CodeMalformedXML {
		return nil, wrapErr(CodeMalformedACLError, "", err)
	}
	switch {
	case err != nil:
		return nil, err
	case byHeader && hasBody:
		return nil, errorf(CodeUnexpectedContent, "")
	case byHeader:
		return &response{}, nil
	case !hasBody:
		e := errorf(CodeMissingSecurityHeader, "Your request was missing a required header")
		e.extra = [][2]string{{"MissingHeaderName", "x-amz-acl"}}
		return nil, e
	}
	o, err := owner()
	if err != nil {
		return nil, err
	}
	if !p.ownerOnly(o.ID) {
		return nil, errorf(CodeAccessControlListNotSupported, "")
	}
	return &response{}, nil
}

// bucketExists answers NoSuchBucket for a missing bucket. Authorization
// already read the bucket for most users; root and grantees cost a lookup.
func (s *Server) bucketExists(r *request) error {
	if r.auth.bucket != nil {
		return nil
	}
	_, err := s.e.HeadBucket(context.Background(), r.t.bucket)
	return err
}

// objectExists answers NoSuchKey (or NoSuchBucket) unless the addressed
// object exists; only the "null" version may be named. It needs no SSE-C
// key.
func (s *Server) objectExists(r *request) error {
	if err := checkKey(r.t.key); err != nil {
		return err
	}
	if err := checkVersionID(r); err != nil {
		return err
	}
	_, err := s.e.HeadObject(context.Background(), r.t.bucket, r.t.key, nil)
	if errors.Is(err, engine.ErrSSECustomerKeyRequired) {
		return nil
	}
	return err
}
