package s3facade

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/cofferdb/coffer/engine"
)

// S3 error codes the facade sends.
const (
	CodeAccessDenied                   ErrorCode = "AccessDenied"
	CodeAccessControlListNotSupported  ErrorCode = "AccessControlListNotSupported"
	CodeAuthorizationHeaderMalformed   ErrorCode = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParameters   ErrorCode = "AuthorizationQueryParametersError"
	CodeBadDigest                      ErrorCode = "BadDigest"
	CodeBucketAlreadyOwnedByYou        ErrorCode = "BucketAlreadyOwnedByYou"
	CodeBucketAlreadyExists            ErrorCode = "BucketAlreadyExists"
	CodeBucketNotEmpty                 ErrorCode = "BucketNotEmpty"
	CodeEntityTooLarge                 ErrorCode = "EntityTooLarge"
	CodeExpiredToken                   ErrorCode = "ExpiredToken"
	CodeIllegalLocationConstraint      ErrorCode = "IllegalLocationConstraintException"
	CodeIncompleteBody                 ErrorCode = "IncompleteBody"
	CodeInternalError                  ErrorCode = "InternalError"
	CodeInvalidAccessKeyID             ErrorCode = "InvalidAccessKeyId"
	CodeInvalidArgument                ErrorCode = "InvalidArgument"
	CodeInvalidBucketName              ErrorCode = "InvalidBucketName"
	CodeInvalidDigest                  ErrorCode = "InvalidDigest"
	CodeInvalidRange                   ErrorCode = "InvalidRange"
	CodeInvalidRequest                 ErrorCode = "InvalidRequest"
	CodeInvalidToken                   ErrorCode = "InvalidToken"
	CodeInvalidURI                     ErrorCode = "InvalidURI"
	CodeKeyTooLong                     ErrorCode = "KeyTooLongError"
	CodeMalformedXML                   ErrorCode = "MalformedXML"
	CodeMaxMessageLengthExceeded       ErrorCode = "MaxMessageLengthExceeded"
	CodeMetadataTooLarge               ErrorCode = "MetadataTooLarge"
	CodeMethodNotAllowed               ErrorCode = "MethodNotAllowed"
	CodeMissingContentLength           ErrorCode = "MissingContentLength"
	CodeMissingSecurityHeader          ErrorCode = "MissingSecurityHeader"
	CodeNoSuchBucket                   ErrorCode = "NoSuchBucket"
	CodeNoSuchKey                      ErrorCode = "NoSuchKey"
	CodeNoSuchUpload                   ErrorCode = "NoSuchUpload"
	CodeNoSuchVersion                  ErrorCode = "NoSuchVersion"
	CodeNotImplemented                 ErrorCode = "NotImplemented"
	CodeNotModified                    ErrorCode = "NotModified"
	CodePreconditionFailed             ErrorCode = "PreconditionFailed"
	CodeRequestTimeout                 ErrorCode = "RequestTimeout"
	CodeRequestTimeTooSkewed           ErrorCode = "RequestTimeTooSkewed"
	CodeServiceUnavailable             ErrorCode = "ServiceUnavailable"
	CodeSignatureDoesNotMatch          ErrorCode = "SignatureDoesNotMatch"
	CodeSlowDown                       ErrorCode = "SlowDown"
	CodeXAmzContentSHA256Mismatch      ErrorCode = "XAmzContentSHA256Mismatch"
	CodeInvalidStorageClass            ErrorCode = "InvalidStorageClass"
	CodeInvalidLocationConstraint      ErrorCode = "InvalidLocationConstraint"
	CodeUnexpectedContent              ErrorCode = "UnexpectedContent"
	CodeRequestHeaderSectionTooLarge   ErrorCode = "RequestHeaderSectionTooLarge"
	CodeInvalidEncryptionAlgorithm     ErrorCode = "InvalidEncryptionAlgorithmError"
	CodeInsufficientStorage            ErrorCode = "XCofferInsufficientDrives"
	CodeStorageFull                    ErrorCode = "XCofferStorageFull"
	CodeConditionalRequestConflict     ErrorCode = "ConditionalRequestConflict"
	CodeInvalidPart                    ErrorCode = "InvalidPart"
	CodeMalformedPOSTRequest           ErrorCode = "MalformedPOSTRequest"
	CodeInvalidObjectState             ErrorCode = "InvalidObjectState"
	CodeUnsupportedSignatureAlgorithm  ErrorCode = "XCofferUnsupportedSignature"
	CodeInvalidChunkSizeError          ErrorCode = "InvalidChunkSizeError"
	CodeInvalidTag                     ErrorCode = "InvalidTag"
	CodeMissingRequestBodyError        ErrorCode = "MissingRequestBodyError"
	CodeInvalidBucketState             ErrorCode = "InvalidBucketState"
	CodeOperationAborted               ErrorCode = "OperationAborted"
	CodeTooManyBuckets                 ErrorCode = "TooManyBuckets"
	CodeIncorrectNumberOfFilesInPost   ErrorCode = "IncorrectNumberOfFilesInPostRequest"
	CodeCrossLocationLoggingProhibited ErrorCode = "CrossLocationLoggingProhibited"
	// Multipart uploads (issue 5).
	CodeEntityTooSmall    ErrorCode = "EntityTooSmall"
	CodeInvalidPartOrder  ErrorCode = "InvalidPartOrder"
	CodeInvalidPartNumber ErrorCode = "InvalidPartNumber"
	// POST Object (browser form uploads).
	CodeMaxPostPreDataLengthExceeded ErrorCode = "MaxPostPreDataLengthExceededError"
	CodeInvalidPolicyDocument        ErrorCode = "InvalidPolicyDocument"
	// Object tagging: S3 answers more than ten tags with this generic code.
	CodeBadRequest ErrorCode = "BadRequest"
	// ACLs (disabled, as under BucketOwnerEnforced) and bucket settings
	// that are never configured (acl.go, handlers_settings.go).
	CodeInvalidBucketAclWithObjectOwnership ErrorCode = "InvalidBucketAclWithObjectOwnership"
	CodeMalformedACLError                   ErrorCode = "MalformedACLError"
	CodeNoSuchBucketPolicy                  ErrorCode = "NoSuchBucketPolicy"
	CodeNoSuchCORSConfiguration             ErrorCode = "NoSuchCORSConfiguration"
	CodeNoSuchLifecycleConfiguration        ErrorCode = "NoSuchLifecycleConfiguration"
	CodeNoSuchTagSet                        ErrorCode = "NoSuchTagSet"
	CodeNoSuchWebsiteConfiguration          ErrorCode = "NoSuchWebsiteConfiguration"
	CodeReplicationConfigurationNotFound    ErrorCode = "ReplicationConfigurationNotFoundError"
	CodeObjectLockConfigurationNotFound     ErrorCode = "ObjectLockConfigurationNotFoundError"
)

// codeInfo is a code's HTTP status and default description.
type codeInfo struct {
	status int
	desc   string
}

// codes is the one table of S3 error codes: status and description. It is
// never modified.
var codes = map[ErrorCode]codeInfo{
	CodeAccessDenied:                   {http.StatusForbidden, "Access Denied."},
	CodeAccessControlListNotSupported:  {http.StatusBadRequest, "The bucket does not allow ACLs."},
	CodeAuthorizationHeaderMalformed:   {http.StatusBadRequest, "The authorization header is malformed."},
	CodeAuthorizationQueryParameters:   {http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter."},
	CodeBadDigest:                      {http.StatusBadRequest, "The digest you specified did not match what we received."},
	CodeBucketAlreadyOwnedByYou:        {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	CodeBucketAlreadyExists:            {http.StatusConflict, "The requested bucket name is not available."},
	CodeBucketNotEmpty:                 {http.StatusConflict, "The bucket you tried to delete is not empty."},
	CodeEntityTooLarge:                 {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size."},
	CodeExpiredToken:                   {http.StatusBadRequest, "The provided token has expired."},
	CodeIllegalLocationConstraint:      {http.StatusBadRequest, "The location constraint is incompatible with the region of this endpoint."},
	CodeIncompleteBody:                 {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	CodeInternalError:                  {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	CodeInvalidAccessKeyID:             {http.StatusForbidden, "The Access Key Id you provided does not exist in our records."},
	CodeInvalidArgument:                {http.StatusBadRequest, "Invalid Argument."},
	CodeInvalidBucketName:              {http.StatusBadRequest, "The specified bucket is not valid."},
	CodeInvalidDigest:                  {http.StatusBadRequest, "The Content-MD5 you specified is not valid."},
	CodeInvalidRange:                   {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable."},
	CodeInvalidRequest:                 {http.StatusBadRequest, "Invalid Request."},
	CodeInvalidToken:                   {http.StatusBadRequest, "The provided token is malformed or otherwise invalid."},
	CodeInvalidURI:                     {http.StatusBadRequest, "Couldn't parse the specified URI."},
	CodeKeyTooLong:                     {http.StatusBadRequest, "Your key is too long."},
	CodeMalformedXML:                   {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	CodeMaxMessageLengthExceeded:       {http.StatusBadRequest, "Your request was too big."},
	CodeMetadataTooLarge:               {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	CodeMethodNotAllowed:               {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	CodeMissingContentLength:           {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	CodeMissingSecurityHeader:          {http.StatusBadRequest, "Your request is missing a required header."},
	CodeNoSuchBucket:                   {http.StatusNotFound, "The specified bucket does not exist."},
	CodeNoSuchKey:                      {http.StatusNotFound, "The specified key does not exist."},
	CodeNoSuchUpload:                   {http.StatusNotFound, "The specified multipart upload does not exist."},
	CodeNoSuchVersion:                  {http.StatusNotFound, "The specified version does not exist."},
	CodeNotImplemented:                 {http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented."},
	CodeNotModified:                    {http.StatusNotModified, "Not Modified."},
	CodePreconditionFailed:             {http.StatusPreconditionFailed, "At least one of the preconditions you specified did not hold."},
	CodeRequestTimeout:                 {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	CodeRequestTimeTooSkewed:           {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	CodeServiceUnavailable:             {http.StatusServiceUnavailable, "Please reduce your request rate."},
	CodeSignatureDoesNotMatch:          {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	CodeSlowDown:                       {http.StatusServiceUnavailable, "Please reduce your request rate."},
	CodeXAmzContentSHA256Mismatch:      {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	CodeInvalidStorageClass:            {http.StatusBadRequest, "The storage class you specified is not valid."},
	CodeInvalidLocationConstraint:      {http.StatusBadRequest, "The specified location constraint is not valid."},
	CodeUnexpectedContent:              {http.StatusBadRequest, "This request does not support content."},
	CodeRequestHeaderSectionTooLarge:   {http.StatusBadRequest, "Your request header section exceeds the maximum allowed size."},
	CodeInvalidEncryptionAlgorithm:     {http.StatusBadRequest, "The encryption request you specified is not valid."},
	CodeInsufficientStorage:            {http.StatusServiceUnavailable, "Too few drives are available to serve this request."},
	CodeStorageFull:                    {http.StatusInsufficientStorage, "The drives are full; retry once space is freed."},
	CodeConditionalRequestConflict:     {http.StatusConflict, "A conflicting operation occurred. Retry the request."},
	CodeInvalidPart:                    {http.StatusBadRequest, "One or more of the specified parts could not be found."},
	CodeMalformedPOSTRequest:           {http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data."},
	CodeInvalidObjectState:             {http.StatusForbidden, "The operation is not valid for the current state of the object."},
	CodeUnsupportedSignatureAlgorithm:  {http.StatusBadRequest, "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."},
	CodeInvalidChunkSizeError:          {http.StatusBadRequest, "Only the last chunk is allowed to have a size less than 8192 bytes."},
	CodeInvalidTag:                     {http.StatusBadRequest, "The tag provided was not a valid tag."},
	CodeMissingRequestBodyError:        {http.StatusBadRequest, "Request body is empty."},
	CodeInvalidBucketState:             {http.StatusConflict, "The request is not valid with the current state of the bucket."},
	CodeOperationAborted:               {http.StatusConflict, "A conflicting conditional operation is currently in progress against this resource."},
	CodeTooManyBuckets:                 {http.StatusBadRequest, "You have attempted to create more buckets than allowed."},
	CodeIncorrectNumberOfFilesInPost:   {http.StatusBadRequest, "POST requires exactly one file upload per request."},
	CodeCrossLocationLoggingProhibited: {http.StatusForbidden, "Cross-location logging not allowed."},
	// Multipart uploads (issue 5).
	CodeEntityTooSmall:    {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size."},
	CodeInvalidPartOrder:  {http.StatusBadRequest, "The list of parts was not in ascending order. The parts list must be specified in order by part number."},
	CodeInvalidPartNumber: {http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"},
	// POST Object (browser form uploads).
	CodeMaxPostPreDataLengthExceeded: {http.StatusBadRequest, "Your POST request fields preceding the upload file were too large."},
	CodeInvalidPolicyDocument:        {http.StatusBadRequest, "The content of the form does not meet the conditions specified in the policy document."},
	// Object tagging.
	CodeBadRequest: {http.StatusBadRequest, "Bad Request"},
	// ACLs and bucket settings.
	CodeInvalidBucketAclWithObjectOwnership: {http.StatusBadRequest, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"},
	CodeMalformedACLError:                   {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema"},
	CodeNoSuchBucketPolicy:                  {http.StatusNotFound, "The bucket policy does not exist"},
	CodeNoSuchCORSConfiguration:             {http.StatusNotFound, "The CORS configuration does not exist"},
	CodeNoSuchLifecycleConfiguration:        {http.StatusNotFound, "The lifecycle configuration does not exist"},
	CodeNoSuchTagSet:                        {http.StatusNotFound, "The TagSet does not exist"},
	CodeNoSuchWebsiteConfiguration:          {http.StatusNotFound, "The specified bucket does not have a website configuration"},
	CodeReplicationConfigurationNotFound:    {http.StatusNotFound, "The replication configuration was not found"},
	CodeObjectLockConfigurationNotFound:     {http.StatusNotFound, "Object Lock configuration does not exist for this bucket"},
}

// Status returns the code's HTTP status (500 for a code not in the table).
func (c ErrorCode) Status() int {
	if i, ok := codes[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Description returns the code's default message.
func (c ErrorCode) Description() string {
	if i, ok := codes[c]; ok {
		return i.desc
	}
	return codes[CodeInternalError].desc
}

// engineErrors maps engine sentinels (and the facade's body errors) to
// codes, first match wins. It is never modified.
var engineErrors = []struct {
	err  error
	code ErrorCode
}{
	{errChunkSignature, CodeSignatureDoesNotMatch},
	{errTrailerMismatch, CodeSignatureDoesNotMatch},
	{errPayloadHash, CodeXAmzContentSHA256Mismatch},
	{errChecksum, CodeBadDigest},
	{errChunkFormat, CodeIncompleteBody},
	{errDecodedLength, CodeIncompleteBody},
	{errBodyTooLarge, CodeMaxMessageLengthExceeded},
	{engine.ErrBucketNotFound, CodeNoSuchBucket},
	{engine.ErrBucketExists, CodeBucketAlreadyOwnedByYou},
	{engine.ErrBucketNotEmpty, CodeBucketNotEmpty},
	{engine.ErrInvalidBucketName, CodeInvalidBucketName},
	{engine.ErrObjectNotFound, CodeNoSuchKey},
	{engine.ErrInvalidObjectName, CodeInvalidArgument},
	{engine.ErrPreconditionFailed, CodePreconditionFailed},
	{engine.ErrNotModified, CodeNotModified},
	{engine.ErrInvalidRange, CodeInvalidRange},
	{engine.ErrBadDigest, CodeBadDigest},
	{engine.ErrIncompleteBody, CodeIncompleteBody},
	{engine.ErrEntityTooLarge, CodeEntityTooLarge},
	{engine.ErrMetadataTooLarge, CodeMetadataTooLarge},
	{engine.ErrInvalidTag, CodeInvalidTag}, // handlers answer *engine.TagError with tagError first
	// Multipart uploads (issue 5). ErrInvalidPartNumber is GET/HEAD
	// ?partNumber= past the last part; UploadPart checks its own number.
	{engine.ErrNoSuchUpload, CodeNoSuchUpload},
	{engine.ErrInvalidPart, CodeInvalidPart},
	{engine.ErrInvalidPartOrder, CodeInvalidPartOrder},
	{engine.ErrInvalidPartNumber, CodeInvalidPartNumber},
	{engine.ErrEntityTooSmall, CodeEntityTooSmall},
	// Server-side encryption (issue 4); *engine.KMSError is resolved by
	// classifySSE before this table.
	{engine.ErrInvalidEncryptionContext, CodeInvalidArgument},
	{engine.ErrSSECustomerKeyRequired, CodeInvalidRequest},
	{engine.ErrSSECustomerKeyMismatch, CodeAccessDenied},
	{engine.ErrSSENotApplicable, CodeInvalidRequest},
	{engine.ErrSSEParametersMismatch, CodeInvalidRequest},
	{engine.ErrSSEPartParamsRequired, CodeInvalidRequest},
	{engine.ErrInvalidCustomerKey, CodeInvalidArgument},
	{engine.ErrEncryptionTypeBlocked, CodeAccessDenied},
	{engine.ErrNoKeyManager, CodeNotImplemented},
	{engine.ErrInvalidArgument, CodeInvalidArgument},
	{engine.ErrInvalidCopy, CodeInvalidRequest},
	{engine.ErrStorageFull, CodeStorageFull},
	{engine.ErrInsufficientDrives, CodeInsufficientStorage},
	{engine.ErrClosed, CodeServiceUnavailable},
	{engine.ErrFailed, CodeInternalError},
	{engine.ErrCorrupt, CodeInternalError},
	{os.ErrDeadlineExceeded, CodeRequestTimeout},
	{context.DeadlineExceeded, CodeRequestTimeout},
}

// messages overrides the description for engine errors whose S3 message
// differs from the code's default.
var engineMessages = map[error]string{
	engine.ErrInvalidPart: "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
	engine.ErrInvalidCopy: "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
	// Server-side encryption (issue 4).
	engine.ErrSSECustomerKeyRequired: "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
	engine.ErrSSECustomerKeyMismatch: "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
	engine.ErrSSENotApplicable:       "The encryption parameters are not applicable to this object.",
	engine.ErrSSEParametersMismatch:  "The provided encryption parameters did not match the ones used originally.",
	engine.ErrSSEPartParamsRequired:  "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.",
	engine.ErrInvalidCustomerKey:     msgSSECBadKey,
	engine.ErrEncryptionTypeBlocked:  "The bucket's default encryption configuration blocks this encryption type.",
	engine.ErrNoKeyManager:           "Server side encryption with a key manager was requested but no key manager is configured.",
}

// apiError is an error resolved to what goes on the wire.
type apiError struct {
	code    ErrorCode
	status  int
	message string
}

// classify resolves any error to its S3 code, status and message: a facade
// *Error carries its code; anything else goes through engineErrors; the
// rest is InternalError. The message never includes the cause's text,
// which may name internal paths.
func classify(err error) apiError {
	var fe *Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if msg == "" {
			msg = fe.Code.Description()
		}
		return apiError{code: fe.Code, status: fe.Code.Status(), message: msg}
	}
	if a, ok := classifySSE(err); ok {
		return a
	}
	for _, m := range engineErrors {
		if errors.Is(err, m.err) {
			msg := engineMessages[m.err]
			if m.err == engine.ErrInvalidEncryptionContext {
				msg = engineSSEMessage(err)
			}
			if msg == "" {
				msg = m.code.Description()
			}
			return apiError{code: m.code, status: m.code.Status(), message: msg}
		}
	}
	return apiError{code: CodeInternalError, status: http.StatusInternalServerError, message: CodeInternalError.Description()}
}
