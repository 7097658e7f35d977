package loadgen

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkClient drives the server through aws-sdk-go-v2, configured to add as
// little client work as the SDK allows: no retries, checksums only where
// S3 requires them, and an unsigned payload (no SHA-256 of the body).
type sdkClient struct {
	c      *s3.Client
	bucket *string
	o      *Options
	key    string // SSE-C key, base64
	keyMD5 string
}

func newSDKClient(o *Options, hc *http.Client, ssecKey []byte) *sdkClient {
	c := s3.New(s3.Options{
		Region:       o.Region,
		BaseEndpoint: aws.String(o.Endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: o.AccessKey, SecretAccessKey: o.SecretKey}, nil
		}),
		HTTPClient:                 hc,
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		APIOptions:                 []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	})
	s := &sdkClient{c: c, bucket: aws.String(o.Bucket), o: o}
	if o.SSE == SSEC {
		sum := md5.Sum(ssecKey)
		s.key, s.keyMD5 = base64.StdEncoding.EncodeToString(ssecKey), base64.StdEncoding.EncodeToString(sum[:])
	}
	return s
}

// sdkError converts an SDK error into a RequestError.
func sdkError(op, key string, err error) error {
	re := &RequestError{Op: op, Key: key, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		re.Code, re.Message, re.Err = ae.ErrorCode(), truncate(ae.ErrorMessage(), 200), nil
	}
	var he *smithyhttp.ResponseError
	if errors.As(err, &he) {
		re.Status = he.HTTPStatusCode()
	}
	if re.Code == "NotImplemented" || re.Status == http.StatusNotImplemented {
		re.Err = ErrNotImplemented
	}
	return re
}

func (s *sdkClient) createBucket(ctx context.Context) error {
	_, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return sdkError("CREATE-BUCKET", "", err)
	}
	return nil
}

func (s *sdkClient) put(ctx context.Context, key string, b *body) error {
	in := &s3.PutObjectInput{Bucket: s.bucket, Key: aws.String(key), Body: b, ContentLength: aws.Int64(b.size)}
	switch s.o.SSE {
	case SSES3:
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	case SSEKMS, SSEKMSBucketKey:
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
	case SSEDSSE:
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKmsDsse
	case SSEC:
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(s.key), aws.String(s.keyMD5)
	}
	if s.o.KMSKeyID != "" && (s.o.SSE == SSEKMS || s.o.SSE == SSEKMSBucketKey || s.o.SSE == SSEDSSE) {
		in.SSEKMSKeyId = aws.String(s.o.KMSKeyID)
	}
	if s.o.SSE == SSEKMSBucketKey {
		in.BucketKeyEnabled = aws.Bool(true)
	}
	if _, err := s.c.PutObject(ctx, in); err != nil {
		return sdkError("PUT", key, err)
	}
	return nil
}

func (s *sdkClient) get(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	in := &s3.GetObjectInput{Bucket: s.bucket, Key: aws.String(key)}
	if s.o.SSE == SSEC {
		in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String(s.key), aws.String(s.keyMD5)
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		return nil, 0, sdkError("GET", key, err)
	}
	if out.ContentLength == nil {
		return out.Body, -1, nil
	}
	return out.Body, *out.ContentLength, nil
}

func (s *sdkClient) list(ctx context.Context, prefix, token string) (int, string, error) {
	in := &s3.ListObjectsV2Input{Bucket: s.bucket, Prefix: aws.String(prefix), MaxKeys: aws.Int32(DefaultListPage)}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return 0, "", sdkError("LIST", "", err)
	}
	next := ""
	if aws.ToBool(out.IsTruncated) {
		next = aws.ToString(out.NextContinuationToken)
		if next == "" {
			return 0, "", &RequestError{Op: "LIST", Message: "truncated page without a continuation token"}
		}
	}
	return len(out.Contents), next, nil
}

func (s *sdkClient) del(ctx context.Context, key string) error {
	if _, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: s.bucket, Key: aws.String(key)}); err != nil {
		return sdkError("DELETE", key, err)
	}
	return nil
}
