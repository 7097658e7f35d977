// Package wire holds the JSON shapes of the AWS KMS protocol (TrentService,
// application/x-amz-json-1.1) shared by the kmsclient AWS client and the
// kmsserver handler. Field names are exactly those on the wire (as in
// aws-sdk-go-v2 service/kms v1.62.4); []byte fields travel as standard
// base64 and timestamps as epoch seconds.
//
// # Concurrency and ownership
//
// Plain data types; callers own every value.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Protocol constants.
const (
	ContentType   = "application/x-amz-json-1.1"
	TargetPrefix  = "TrentService."
	HeaderTarget  = "X-Amz-Target"
	HeaderErrType = "X-Amzn-Errortype"
	HeaderReqID   = "X-Amzn-Requestid"
)

// EpochTime is a timestamp encoded as (possibly fractional) epoch seconds.
type EpochTime struct{ time.Time }

// MarshalJSON writes seconds with millisecond precision.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads a JSON number of seconds.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return errors.New("wire: timestamp is not epoch seconds")
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
	return nil
}

// NewEpoch returns a pointer to t as EpochTime, or nil for the zero time.
func NewEpoch(t time.Time) *EpochTime {
	if t.IsZero() {
		return nil
	}
	return &EpochTime{t}
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Type     string `json:"__type,omitempty"`
	Message  string `json:"message,omitempty"`
	Message2 string `json:"Message,omitempty"`
	Code     string `json:"code,omitempty"`
}

// ErrorCode resolves an error's exception name as the AWS SDK does: the
// X-Amzn-ErrorType header if present, else __type, else code; then cut at
// the first ':' and drop everything up to the last '#'.
func ErrorCode(headerType string, body []byte) (code, message string) {
	var eb ErrorBody
	_ = json.Unmarshal(bytes.TrimSpace(body), &eb)
	code = headerType
	if code == "" {
		code = eb.Type
	}
	if code == "" {
		code = eb.Code
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	message = eb.Message
	if message == "" {
		message = eb.Message2
	}
	return strings.TrimSpace(code), message
}

// GenerateDataKeyRequest is the input of GenerateDataKey(WithoutPlaintext).
type GenerateDataKeyRequest struct {
	KeyId             string            `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext,omitempty"`
	KeySpec           string            `json:"KeySpec,omitempty"`
	NumberOfBytes     *int32            `json:"NumberOfBytes,omitempty"`
	GrantTokens       []string          `json:"GrantTokens,omitempty"`
	DryRun            *bool             `json:"DryRun,omitempty"`
}

// GenerateDataKeyResponse is the output of GenerateDataKey(WithoutPlaintext).
type GenerateDataKeyResponse struct {
	KeyId          string `json:"KeyId"`
	Plaintext      []byte `json:"Plaintext,omitempty"`
	CiphertextBlob []byte `json:"CiphertextBlob"`
}

// DecryptRequest is the input of Decrypt.
type DecryptRequest struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext,omitempty"`
	KeyId               string            `json:"KeyId,omitempty"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm,omitempty"`
	GrantTokens         []string          `json:"GrantTokens,omitempty"`
	DryRun              *bool             `json:"DryRun,omitempty"`
}

// DecryptResponse is the output of Decrypt.
type DecryptResponse struct {
	KeyId               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm,omitempty"`
}

// EncryptRequest is the input of Encrypt.
type EncryptRequest struct {
	KeyId               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext,omitempty"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm,omitempty"`
	GrantTokens         []string          `json:"GrantTokens,omitempty"`
	DryRun              *bool             `json:"DryRun,omitempty"`
}

// EncryptResponse is the output of Encrypt.
type EncryptResponse struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyId               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm,omitempty"`
}

// ReEncryptRequest is the input of ReEncrypt.
type ReEncryptRequest struct {
	CiphertextBlob               []byte            `json:"CiphertextBlob"`
	DestinationKeyId             string            `json:"DestinationKeyId"`
	SourceKeyId                  string            `json:"SourceKeyId,omitempty"`
	SourceEncryptionContext      map[string]string `json:"SourceEncryptionContext,omitempty"`
	DestinationEncryptionContext map[string]string `json:"DestinationEncryptionContext,omitempty"`
	GrantTokens                  []string          `json:"GrantTokens,omitempty"`
}

// ReEncryptResponse is the output of ReEncrypt.
type ReEncryptResponse struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	KeyId          string `json:"KeyId"`
	SourceKeyId    string `json:"SourceKeyId"`
}

// KeyIDRequest is the input of operations that take only a key id
// (DescribeKey, EnableKey, DisableKey, CancelKeyDeletion, RotateKeyOnDemand).
type KeyIDRequest struct {
	KeyId       string   `json:"KeyId"`
	GrantTokens []string `json:"GrantTokens,omitempty"`
}

// KeyIDResponse is the output of CancelKeyDeletion and RotateKeyOnDemand.
type KeyIDResponse struct {
	KeyId string `json:"KeyId"`
}

// KeyMetadata describes a key.
type KeyMetadata struct {
	AWSAccountId          string     `json:"AWSAccountId,omitempty"`
	KeyId                 string     `json:"KeyId"`
	Arn                   string     `json:"Arn,omitempty"`
	CreationDate          *EpochTime `json:"CreationDate,omitempty"`
	Enabled               bool       `json:"Enabled"`
	Description           string     `json:"Description"`
	KeyUsage              string     `json:"KeyUsage,omitempty"`
	KeyState              string     `json:"KeyState,omitempty"`
	DeletionDate          *EpochTime `json:"DeletionDate,omitempty"`
	Origin                string     `json:"Origin,omitempty"`
	KeyManager            string     `json:"KeyManager,omitempty"`
	KeySpec               string     `json:"KeySpec,omitempty"`
	CustomerMasterKeySpec string     `json:"CustomerMasterKeySpec,omitempty"`
	EncryptionAlgorithms  []string   `json:"EncryptionAlgorithms,omitempty"`
	SigningAlgorithms     []string   `json:"SigningAlgorithms,omitempty"`
	MacAlgorithms         []string   `json:"MacAlgorithms,omitempty"`
	MultiRegion           bool       `json:"MultiRegion"`
}

// DescribeKeyResponse is the output of DescribeKey.
type DescribeKeyResponse struct {
	KeyMetadata KeyMetadata `json:"KeyMetadata"`
}

// Tag is a key tag.
type Tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// CreateKeyRequest is the input of CreateKey.
type CreateKeyRequest struct {
	Description           string `json:"Description,omitempty"`
	KeySpec               string `json:"KeySpec,omitempty"`
	CustomerMasterKeySpec string `json:"CustomerMasterKeySpec,omitempty"`
	KeyUsage              string `json:"KeyUsage,omitempty"`
	Origin                string `json:"Origin,omitempty"`
	Policy                string `json:"Policy,omitempty"`
	Tags                  []Tag  `json:"Tags,omitempty"`
	MultiRegion           *bool  `json:"MultiRegion,omitempty"`
	CustomKeyStoreId      string `json:"CustomKeyStoreId,omitempty"`
}

// CreateKeyResponse is the output of CreateKey.
type CreateKeyResponse struct {
	KeyMetadata KeyMetadata `json:"KeyMetadata"`
}

// AliasRequest is the input of CreateAlias and DeleteAlias.
type AliasRequest struct {
	AliasName   string `json:"AliasName"`
	TargetKeyId string `json:"TargetKeyId,omitempty"`
}

// ListRequest is the input of ListKeys and ListAliases.
type ListRequest struct {
	KeyId  string `json:"KeyId,omitempty"`
	Limit  *int32 `json:"Limit,omitempty"`
	Marker string `json:"Marker,omitempty"`
}

// KeyListEntry is one key of ListKeys.
type KeyListEntry struct {
	KeyId  string `json:"KeyId"`
	KeyArn string `json:"KeyArn"`
}

// ListKeysResponse is the output of ListKeys.
type ListKeysResponse struct {
	Keys       []KeyListEntry `json:"Keys"`
	NextMarker string         `json:"NextMarker,omitempty"`
	Truncated  bool           `json:"Truncated"`
}

// AliasListEntry is one alias of ListAliases.
type AliasListEntry struct {
	AliasName    string     `json:"AliasName"`
	AliasArn     string     `json:"AliasArn"`
	TargetKeyId  string     `json:"TargetKeyId,omitempty"`
	CreationDate *EpochTime `json:"CreationDate,omitempty"`
}

// ListAliasesResponse is the output of ListAliases.
type ListAliasesResponse struct {
	Aliases    []AliasListEntry `json:"Aliases"`
	NextMarker string           `json:"NextMarker,omitempty"`
	Truncated  bool             `json:"Truncated"`
}

// ScheduleKeyDeletionRequest is the input of ScheduleKeyDeletion.
type ScheduleKeyDeletionRequest struct {
	KeyId               string `json:"KeyId"`
	PendingWindowInDays *int32 `json:"PendingWindowInDays,omitempty"`
}

// ScheduleKeyDeletionResponse is the output of ScheduleKeyDeletion.
type ScheduleKeyDeletionResponse struct {
	KeyId               string     `json:"KeyId"`
	DeletionDate        *EpochTime `json:"DeletionDate,omitempty"`
	KeyState            string     `json:"KeyState,omitempty"`
	PendingWindowInDays int32      `json:"PendingWindowInDays,omitempty"`
}
