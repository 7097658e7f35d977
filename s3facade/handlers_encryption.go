package s3facade

import (
	"context"
	"encoding/xml"
	"strings"

	"github.com/cofferdb/coffer/engine"
)

// Bucket default encryption: PutBucketEncryption, GetBucketEncryption and
// DeleteBucketEncryption (s3-sse-spec.md §1.6).

// sseConfiguration is S3's ServerSideEncryptionConfiguration document.
type sseConfiguration struct {
	XMLName xml.Name  `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string    `xml:"xmlns,attr,omitempty"`
	Rules   []sseRule `xml:"Rule"`
}

type sseRule struct {
	Default *sseByDefault `xml:"ApplyServerSideEncryptionByDefault"`
	// BucketKeyEnabled is a pointer so that an absent element reads as
	// false and an invalid one is MalformedXML.
	BucketKeyEnabled *string         `xml:"BucketKeyEnabled"`
	Blocked          *sseBlockedList `xml:"BlockedEncryptionTypes"`
}

type sseByDefault struct {
	SSEAlgorithm   string `xml:"SSEAlgorithm"`
	KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
}

type sseBlockedList struct {
	Types []string `xml:"EncryptionType"`
}

func (s *Server) putBucketEncryption(r *request) (*response, error) {
	var cfg sseConfiguration
	ok, err := s.readXMLBody(r, &cfg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(CodeMissingRequestBodyError, "")
	}
	rule, err := bucketRule(&cfg)
	if err != nil {
		return nil, err
	}
	if err := s.e.SetBucketEncryption(context.Background(), r.t.bucket, rule); err != nil {
		return nil, err
	}
	return &response{}, nil
}

// bucketRule validates a configuration as S3 does: exactly one Rule with
// an algorithm (else MalformedXML), KMSMasterKeyID only with aws:kms*.
func bucketRule(cfg *sseConfiguration) (engine.BucketEncryption, error) {
	var rule engine.BucketEncryption
	if len(cfg.Rules) != 1 || cfg.Rules[0].Default == nil {
		return rule, errorf(CodeMalformedXML, "")
	}
	in := cfg.Rules[0]
	t, err := engine.ParseSSEAlgorithm(strings.TrimSpace(in.Default.SSEAlgorithm))
	if err != nil {
		return rule, errorf(CodeMalformedXML, "")
	}
	rule.Algorithm = t
	rule.KMSKeyID = strings.TrimSpace(in.Default.KMSMasterKeyID)
	if rule.KMSKeyID != "" && t != engine.SSEKMS && t != engine.DSSEKMS {
		e := errorf(CodeInvalidArgument, "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
		e.extra = [][2]string{{"ArgumentName", "ApplyServerSideEncryptionByDefault"}}
		return rule, e
	}
	if len(rule.KMSKeyID) > maxKMSKeyID {
		return rule, errorf(CodeInvalidArgument, "The KMSMasterKeyID is too long.")
	}
	if in.BucketKeyEnabled != nil {
		v, ok := parseBool(strings.TrimSpace(*in.BucketKeyEnabled))
		if !ok {
			return rule, errorf(CodeMalformedXML, "")
		}
		rule.BucketKeyEnabled = v
	}
	if in.Blocked != nil {
		if len(in.Blocked.Types) > 2 {
			return rule, errorf(CodeMalformedXML, "")
		}
		for _, b := range in.Blocked.Types {
			b = strings.TrimSpace(b)
			if b != "SSE-C" && b != "NONE" {
				e := errorf(CodeInvalidArgument, "The encryption type "+truncate(b, 32)+" cannot be blocked.")
				e.extra = [][2]string{{"ArgumentName", "BlockedEncryptionTypes"}}
				return rule, e
			}
			if !containsString(rule.Blocked, b) {
				rule.Blocked = append(rule.Blocked, b)
			}
		}
	}
	return rule, nil
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) getBucketEncryption(r *request) (*response, error) {
	rule, err := s.e.GetBucketEncryption(context.Background(), r.t.bucket)
	if err != nil {
		return nil, err
	}
	// An embedder's plain bucket (engine.SSENone) has no S3 algorithm; it
	// is reported as "NONE".
	out := sseRule{Default: &sseByDefault{SSEAlgorithm: rule.Algorithm.String(), KMSMasterKeyID: rule.KMSKeyID}}
	bk := "false"
	if rule.BucketKeyEnabled {
		bk = "true"
	}
	out.BucketKeyEnabled = &bk
	if len(rule.Blocked) > 0 {
		out.Blocked = &sseBlockedList{Types: rule.Blocked}
	}
	return &response{xml: &sseConfiguration{Xmlns: s3Namespace, Rules: []sseRule{out}}}, nil
}

func (s *Server) deleteBucketEncryption(r *request) (*response, error) {
	if err := s.e.DeleteBucketEncryption(context.Background(), r.t.bucket); err != nil {
		return nil, err
	}
	return &response{status: 204}, nil
}
