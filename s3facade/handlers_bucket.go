package s3facade

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

func (s *Server) listBuckets(r *request) (*response, error) {
	q := r.t.query
	prefix := q.Get("prefix")
	maxBuckets := 10000
	if v := q.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return nil, errorf(CodeInvalidArgument, "max-buckets must be an integer from 1 to 10000.")
		}
		maxBuckets = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, errorf(CodeInvalidArgument, "The continuation token provided is incorrect.")
		}
		after = string(b)
	}
	if q.Get("bucket-region") != "" && q.Get("bucket-region") != s.cfg.Region {
		return &response{xml: &listAllMyBucketsResult{Xmlns: s3Namespace, Owner: ownerOf(r)}}, nil
	}
	all, err := s.e.ListBuckets(context.Background())
	if err != nil {
		return nil, err
	}
	u := r.auth.user
	res := &listAllMyBucketsResult{Xmlns: s3Namespace, Owner: ownerOf(r), Prefix: prefix}
	for _, b := range all {
		if !strings.HasPrefix(b.Name, prefix) || b.Name <= after {
			continue
		}
		if !u.isRoot() && !u.owns(b.Owner) && !u.granted(b.Name) {
			continue
		}
		if len(res.Buckets) == maxBuckets {
			res.ContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Buckets[len(res.Buckets)-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketXML{Name: b.Name, CreationDate: s3Time(b.Created), BucketRegion: s.cfg.Region})
	}
	return &response{xml: res}, nil
}

// ownerOf is the Owner element of the requester (ListBuckets' Owner, the
// initiator of an upload).
func ownerOf(r *request) owner {
	return owner{ID: r.auth.user.ID, DisplayName: r.auth.user.DisplayName}
}

// bucketOwner is the Owner element of the addressed bucket's owner, who
// owns every object in it (S3's BucketOwnerEnforced).
func (s *Server) bucketOwner(r *request) (owner, error) {
	info := r.auth.bucket
	if info == nil {
		i, err := s.e.HeadBucket(context.Background(), r.t.bucket)
		if err != nil {
			return owner{}, err
		}
		info = &i
	}
	return s.owners.of(info.Owner), nil
}

func (s *Server) createBucket(r *request) (*response, error) {
	name := r.t.bucket
	if reservedBuckets[name] {
		return nil, errorf(CodeInvalidBucketName, "The bucket name is reserved by this server.")
	}
	if v := r.header("X-Amz-Bucket-Object-Lock-Enabled"); strings.EqualFold(v, "true") {
		return nil, errorf(CodeNotImplemented, "Object Lock is not supported.")
	}
	if v := r.header("X-Amz-Object-Ownership"); v != "" && v != "BucketOwnerEnforced" {
		return nil, errorf(CodeNotImplemented, "Only BucketOwnerEnforced object ownership is supported.")
	}
	if _, err := checkACLHeaders(r, aclCreateBucket, func() (owner, error) { return ownerOf(r), nil }); err != nil {
		return nil, err
	}
	if err := parseSSE(r); err != nil {
		return nil, err
	}
	var cfg createBucketConfiguration
	if _, err := s.readXMLBody(r, &cfg); err != nil {
		return nil, err
	}
	if lc := cfg.LocationConstraint; lc != "" && lc != s.cfg.Region {
		if lc == "us-east-1" || s.cfg.Region == "us-east-1" && lc != "" {
			return nil, errorf(CodeInvalidLocationConstraint, "The specified location-constraint is not valid for this endpoint (region "+s.cfg.Region+").")
		}
		return nil, errorf(CodeIllegalLocationConstraint, "The "+lc+" location constraint is incompatible with the region of this endpoint ("+s.cfg.Region+").")
	}
	u := r.auth.user
	err := s.e.CreateBucketWithOptions(context.Background(), name, &engine.BucketOptions{Owner: u.ID})
	if errors.Is(err, engine.ErrBucketExists) {
		// S3's answer depends on who owns the name, and for the owner on
		// the region: us-east-1 keeps a legacy 200 that changes nothing.
		info, herr := s.e.HeadBucket(context.Background(), name)
		switch {
		case herr != nil || !u.owns(info.Owner):
			return nil, wrapErr(CodeBucketAlreadyExists, "", err)
		case s.cfg.Region != "us-east-1":
			return nil, wrapErr(CodeBucketAlreadyOwnedByYou, "", err)
		}
	} else if err != nil {
		return nil, err
	}
	resp := &response{}
	resp.set("Location", "/"+name)
	return resp, nil
}

func (s *Server) headBucket(r *request) (*response, error) {
	if _, err := s.e.HeadBucket(context.Background(), r.t.bucket); err != nil {
		return nil, err
	}
	resp := &response{noBody: true}
	resp.set("X-Amz-Bucket-Region", s.cfg.Region)
	return resp, nil
}

func (s *Server) deleteBucket(r *request) (*response, error) {
	if err := s.e.DeleteBucket(context.Background(), r.t.bucket); err != nil {
		return nil, err
	}
	return &response{status: 204}, nil
}

func (s *Server) getBucketLocation(r *request) (*response, error) {
	if _, err := s.e.HeadBucket(context.Background(), r.t.bucket); err != nil {
		return nil, err
	}
	loc := s.cfg.Region
	if loc == "us-east-1" {
		loc = "" // S3 answers an empty constraint for us-east-1
	}
	return &response{xml: &locationConstraint{Xmlns: s3Namespace, Value: loc}}, nil
}

func (s *Server) healthLive(*request) (*response, error) {
	return &response{status: 200}, nil
}

func (s *Server) healthReady(*request) (*response, error) {
	if s.closing.Load() {
		return nil, errorf(CodeServiceUnavailable, "The server is shutting down.")
	}
	_, err := s.e.HeadBucket(context.Background(), "health")
	if err != nil && !errors.Is(err, engine.ErrBucketNotFound) {
		return nil, wrapErr(CodeServiceUnavailable, "The storage engine is not ready.", err)
	}
	if err := s.e.Ready(); err != nil {
		return nil, wrapErr(CodeServiceUnavailable, "The storage engine is not ready.", err)
	}
	return &response{status: 200}, nil
}
