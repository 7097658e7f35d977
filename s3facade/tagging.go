package s3facade

import (
	"context"
	"encoding/xml"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cofferdb/coffer/engine"
)

// Object tagging: PUT/GET/DELETE /bucket/key?tagging, the x-amz-tagging
// header of PutObject, CreateMultipartUpload and CopyObject (with
// x-amz-tagging-directive), the tagging field of POST Object, and
// x-amz-tagging-count on GET and HEAD. The rules on tags are
// engine.ValidateTags; tagError turns its answer into S3's error.

// maxTaggingXML bounds a Tagging document: ten tags of the longest key
// and value, each character escaped, fit several times over.
const maxTaggingXML = 64 << 10

// msgTaggingHeader is S3's message for an x-amz-tagging header that does
// not parse.
const msgTaggingHeader = "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."

// taggingXML is the Tagging document of PutObjectTagging and of POST's
// tagging field. Pointers tell a missing element (MalformedXML) from an
// empty one.
type taggingXML struct {
	XMLName xml.Name   `xml:"Tagging"`
	TagSet  *tagSetXML `xml:"TagSet"`
}

type tagSetXML struct {
	Tags []tagXML `xml:"Tag"`
}

type tagXML struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

// taggingResult is GetObjectTagging's answer; an object without tags has
// an empty TagSet.
type taggingResult struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr"`
	TagSet  struct {
		Tags []tagOut `xml:"Tag"`
	} `xml:"TagSet"`
}

type tagOut struct {
	Key   string
	Value string
}

// tagError turns an engine *TagError into the error S3 answers (BadRequest
// for too many tags, else InvalidTag naming the tag); other errors pass.
func tagError(err error) error {
	var te *engine.TagError
	if !errors.As(err, &te) {
		return err
	}
	var msg string
	switch te.Problem {
	case engine.TagTooMany:
		return wrapErr(CodeBadRequest, "Object tags cannot be greater than "+strconv.Itoa(engine.MaxTags), err)
	case engine.TagDuplicateKey:
		msg = "Cannot provide multiple Tags with the same key"
	case engine.TagKeyTooLong:
		msg = "The TagKey you have provided is too long, max " + strconv.Itoa(engine.MaxTagKeyLength)
	case engine.TagReservedKey:
		msg = "Your TagKey cannot be prefixed with aws:"
	case engine.TagInvalidValue:
		msg = "The TagValue you have provided is invalid"
	case engine.TagValueTooLong:
		msg = "The TagValue you have provided is too long, max " + strconv.Itoa(engine.MaxTagValueLength)
	default:
		msg = "The TagKey you have provided is invalid"
	}
	e := wrapErr(CodeInvalidTag, msg, err)
	e.extra = [][2]string{{"TagKey", te.Key}}
	if te.Problem == engine.TagInvalidValue || te.Problem == engine.TagValueTooLong {
		e.extra = append(e.extra, [2]string{"TagValue", te.Value})
	}
	return e
}

// parseTaggingHeader parses an x-amz-tagging value: key=value pairs joined
// by '&', each part URL-query-encoded ('+' is a space); a pair without '='
// has the empty value. An empty value is no tags. A part that does not
// decode to UTF-8, an empty key or a key given twice is InvalidArgument;
// tags that decode but break S3's rules get tagError's answer.
func parseTaggingHeader(v string) ([]engine.Tag, error) {
	if v == "" {
		return nil, nil
	}
	bad := func() error {
		e := errorf(CodeInvalidArgument, msgTaggingHeader)
		e.extra = [][2]string{{"ArgumentName", "x-amz-tagging"}, {"ArgumentValue", truncate(v, maxACLArgumentValue)}}
		return e
	}
	var tags []engine.Tag
	seen := map[string]bool{}
	for _, pair := range strings.Split(v, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil || key == "" || !utf8.ValidString(key) || seen[key] {
			return nil, bad()
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil || !utf8.ValidString(value) {
			return nil, bad()
		}
		seen[key] = true
		tags = append(tags, engine.Tag{Key: key, Value: value})
	}
	if err := engine.ValidateTags(tags); err != nil {
		return nil, tagError(err)
	}
	return tags, nil
}

// taggingHeader reads the x-amz-tagging header of a write.
func taggingHeader(r *request) ([]engine.Tag, error) {
	return parseTaggingHeader(r.header("X-Amz-Tagging"))
}

// tagsFromXML checks a decoded Tagging document: TagSet, and Key and Value
// in every Tag, must be present (else MalformedXML); the tags must pass
// engine.ValidateTags.
func tagsFromXML(doc *taggingXML) ([]engine.Tag, error) {
	if doc.TagSet == nil {
		return nil, errorf(CodeMalformedXML, "")
	}
	tags := make([]engine.Tag, 0, len(doc.TagSet.Tags))
	for _, t := range doc.TagSet.Tags {
		if t.Key == nil || t.Value == nil {
			return nil, errorf(CodeMalformedXML, "")
		}
		tags = append(tags, engine.Tag{Key: *t.Key, Value: *t.Value})
	}
	if err := engine.ValidateTags(tags); err != nil {
		return nil, tagError(err)
	}
	return tags, nil
}

// parseTaggingDocument decodes a Tagging document held in memory (POST's
// tagging field).
func parseTaggingDocument(doc string) ([]engine.Tag, error) {
	if len(doc) > maxTaggingXML {
		return nil, errorf(CodeMalformedXML, "")
	}
	if strings.TrimSpace(doc) == "" {
		return nil, nil
	}
	var t taggingXML
	if err := decodeXML([]byte(doc), &t); err != nil {
		return nil, err
	}
	return tagsFromXML(&t)
}

// setTaggingCount sets x-amz-tagging-count on GET and HEAD of an object
// that has tags.
func setTaggingCount(resp *response, info *engine.ObjectInfo) {
	if n := len(info.Tags); n > 0 {
		resp.set("X-Amz-Tagging-Count", strconv.Itoa(n))
	}
}

// putObjectTagging serves PUT /bucket/key?tagging: the document's tag set
// replaces the object's (an empty one removes them). 200, no body.
func (s *Server) putObjectTagging(r *request) (*response, error) {
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	var doc taggingXML
	ok, err := s.readXMLBodyLimit(r, &doc, maxTaggingXML)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(CodeMissingRequestBodyError, "")
	}
	tags, err := tagsFromXML(&doc)
	if err != nil {
		return nil, err
	}
	if err := s.e.PutObjectTagging(context.Background(), r.t.bucket, r.t.key, tags); err != nil {
		return nil, tagError(err)
	}
	return &response{}, nil
}

// getObjectTagging serves GET /bucket/key?tagging.
func (s *Server) getObjectTagging(r *request) (*response, error) {
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	tags, err := s.e.GetObjectTagging(context.Background(), r.t.bucket, r.t.key)
	if err != nil {
		return nil, err
	}
	res := &taggingResult{Xmlns: s3Namespace}
	res.TagSet.Tags = make([]tagOut, len(tags))
	for i, t := range tags {
		res.TagSet.Tags[i] = tagOut(t)
	}
	return &response{xml: res}, nil
}

// deleteObjectTagging serves DELETE /bucket/key?tagging: 204.
func (s *Server) deleteObjectTagging(r *request) (*response, error) {
	if err := checkVersionID(r); err != nil {
		return nil, err
	}
	if err := checkKey(r.t.key); err != nil {
		return nil, err
	}
	if err := s.e.DeleteObjectTagging(context.Background(), r.t.bucket, r.t.key); err != nil {
		return nil, err
	}
	return &response{status: 204}, nil
}
