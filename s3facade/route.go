package s3facade

import (
	"net/url"
)

// level is the addressing level of a request: the service, a bucket, or
// an object.
type level uint8

const (
	levelService level = iota
	levelBucket
	levelObject
)

// handlerFunc serves one authenticated request. It returns a response or
// an error; one function (Server.write) puts either on the wire. Handlers
// keep nothing of the request after they return.
type handlerFunc func(s *Server, r *request) (*response, error)

// operation is one S3 API (or one public endpoint). Every operation that
// is not public goes through Server.authenticate before its handler runs;
// the router has no other path to a handler.
type operation struct {
	name    string // S3 API name: metrics, logs
	handler handlerFunc
	public  bool // only the health and metrics endpoints
	body    bool // reads a request body (for the auth tamper matrix)
}

// route selects an operation by method, level, and a query subresource
// or header that must be present.
type route struct {
	method string
	level  level
	sub    string // query key that must be present; "" means none of subresources
	header string // request header that must be present
	op     *operation
}

// The operations. Immutable after init.
var (
	opListBuckets        = &operation{name: "ListBuckets", handler: (*Server).listBuckets}
	opCreateBucket       = &operation{name: "CreateBucket", handler: (*Server).createBucket, body: true}
	opHeadBucket         = &operation{name: "HeadBucket", handler: (*Server).headBucket}
	opDeleteBucket       = &operation{name: "DeleteBucket", handler: (*Server).deleteBucket}
	opGetBucketLocation  = &operation{name: "GetBucketLocation", handler: (*Server).getBucketLocation}
	opListObjects        = &operation{name: "ListObjects", handler: (*Server).listObjectsV1}
	opListObjectsV2      = &operation{name: "ListObjectsV2", handler: (*Server).listObjectsV2}
	opListObjectVersions = &operation{name: "ListObjectVersions", handler: (*Server).listObjectVersions}
	opDeleteObjects      = &operation{name: "DeleteObjects", handler: (*Server).deleteObjects, body: true}
	opPutObject          = &operation{name: "PutObject", handler: (*Server).putObject, body: true}
	opCopyObject         = &operation{name: "CopyObject", handler: (*Server).copyObject}
	opGetObject          = &operation{name: "GetObject", handler: (*Server).getObject}
	opHeadObject         = &operation{name: "HeadObject", handler: (*Server).headObject}
	opDeleteObject       = &operation{name: "DeleteObject", handler: (*Server).deleteObject}
	opPostObject         = &operation{name: "PostObject", handler: (*Server).postObject, body: true}

	opMPCreate      = &operation{name: "CreateMultipartUpload", handler: (*Server).createMultipartUpload}
	opMPPart        = &operation{name: "UploadPart", handler: (*Server).uploadPart, body: true}
	opMPPartCopy    = &operation{name: "UploadPartCopy", handler: (*Server).uploadPartCopy}
	opMPComplete    = &operation{name: "CompleteMultipartUpload", handler: (*Server).completeMultipartUpload, body: true}
	opMPAbort       = &operation{name: "AbortMultipartUpload", handler: (*Server).abortMultipartUpload}
	opMPListParts   = &operation{name: "ListParts", handler: (*Server).listParts}
	opMPListUploads = &operation{name: "ListMultipartUploads", handler: (*Server).listMultipartUploads}

	opPutBucketEncryption    = &operation{name: "PutBucketEncryption", handler: (*Server).putBucketEncryption, body: true}
	opGetBucketEncryption    = &operation{name: "GetBucketEncryption", handler: (*Server).getBucketEncryption}
	opDeleteBucketEncryption = &operation{name: "DeleteBucketEncryption", handler: (*Server).deleteBucketEncryption}

	// Object attributes (attributes.go).
	opGetObjectAttributes = &operation{name: "GetObjectAttributes", handler: (*Server).getObjectAttributes}

	// Object tags (tagging.go).
	opPutObjectTagging    = &operation{name: "PutObjectTagging", handler: (*Server).putObjectTagging, body: true}
	opGetObjectTagging    = &operation{name: "GetObjectTagging", handler: (*Server).getObjectTagging}
	opDeleteObjectTagging = &operation{name: "DeleteObjectTagging", handler: (*Server).deleteObjectTagging}

	// ACLs (acl.go) and the bucket settings Coffer does not have
	// (handlers_settings.go).
	opGetBucketACL               = &operation{name: "GetBucketAcl", handler: (*Server).getBucketACL}
	opPutBucketACL               = &operation{name: "PutBucketAcl", handler: (*Server).putBucketACL, body: true}
	opGetObjectACL               = &operation{name: "GetObjectAcl", handler: (*Server).getObjectACL}
	opPutObjectACL               = &operation{name: "PutObjectAcl", handler: (*Server).putObjectACL, body: true}
	opGetBucketOwnershipControls = &operation{name: "GetBucketOwnershipControls", handler: settingDocument(ownershipEnforced)}
	opPutBucketOwnershipControls = &operation{name: "PutBucketOwnershipControls", handler: (*Server).putBucketOwnershipControls, body: true}
	opGetBucketVersioning        = &operation{name: "GetBucketVersioning", handler: settingDocument(versioningUnset)}
	opGetBucketLogging           = &operation{name: "GetBucketLogging", handler: settingDocument(loggingUnset)}
	opGetBucketNotification      = &operation{name: "GetBucketNotificationConfiguration", handler: settingDocument(notificationUnset)}
	opGetBucketRequestPayment    = &operation{name: "GetBucketRequestPayment", handler: settingDocument(requestPaymentOwner)}
	opGetBucketAccelerate        = &operation{name: "GetBucketAccelerateConfiguration", handler: settingDocument(accelerateUnset)}
	opGetPublicAccessBlock       = &operation{name: "GetPublicAccessBlock", handler: settingDocument(publicAccessBlocked)}
	opGetBucketPolicy            = &operation{name: "GetBucketPolicy", handler: settingNotFound(CodeNoSuchBucketPolicy)}
	opGetBucketPolicyStatus      = &operation{name: "GetBucketPolicyStatus", handler: settingNotFound(CodeNoSuchBucketPolicy)}
	opGetBucketCors              = &operation{name: "GetBucketCors", handler: settingNotFound(CodeNoSuchCORSConfiguration)}
	opGetBucketLifecycle         = &operation{name: "GetBucketLifecycleConfiguration", handler: settingNotFound(CodeNoSuchLifecycleConfiguration)}
	opGetBucketTagging           = &operation{name: "GetBucketTagging", handler: settingNotFound(CodeNoSuchTagSet)}
	opGetBucketWebsite           = &operation{name: "GetBucketWebsite", handler: settingNotFound(CodeNoSuchWebsiteConfiguration)}
	opGetBucketReplication       = &operation{name: "GetBucketReplication", handler: settingNotFound(CodeReplicationConfigurationNotFound)}
	opGetObjectLockConfiguration = &operation{name: "GetObjectLockConfiguration", handler: settingNotFound(CodeObjectLockConfigurationNotFound)}
	opDeleteBucketPolicy         = &operation{name: "DeleteBucketPolicy", handler: settingDeleted}
	opDeleteBucketCors           = &operation{name: "DeleteBucketCors", handler: settingDeleted}
	opDeleteBucketLifecycle      = &operation{name: "DeleteBucketLifecycle", handler: settingDeleted}
	opDeleteBucketWebsite        = &operation{name: "DeleteBucketWebsite", handler: settingDeleted}
	opDeleteBucketTagging        = &operation{name: "DeleteBucketTagging", handler: settingDeleted}

	opNotImplemented   = &operation{name: "NotImplemented", handler: notImplemented, body: true}
	opMethodNotAllowed = &operation{name: "MethodNotAllowed", handler: methodNotAllowed}

	opHealthLive  = &operation{name: "HealthLive", handler: (*Server).healthLive, public: true}
	opHealthReady = &operation{name: "HealthReady", handler: (*Server).healthReady, public: true}
	opMetrics     = &operation{name: "Metrics", handler: (*Server).serveMetrics, public: true}
)

// subresources are the query keys that select an S3 API other than the
// plain one of a method. A request carrying one that no route names gets
// NotImplemented, never the plain API's answer.
var subresources = map[string]bool{
	"abac": true, "accelerate": true, "acl": true, "analytics": true, "attributes": true, "cors": true,
	"delete": true, "encryption": true, "intelligent-tiering": true, "inventory": true, "legal-hold": true,
	"lifecycle": true, "list-type": true, "location": true, "logging": true, "metadataConfiguration": true,
	"metadataTable": true, "metrics": true, "notification": true, "object-lock": true, "ownershipControls": true,
	"partNumber": true, "policy": true, "policyStatus": true, "publicAccessBlock": true, "renameObject": true,
	"replication": true, "requestPayment": true, "restore": true, "retention": true, "select": true,
	"session": true, "tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versioning": true,
	"versions": true, "website": true, "mtime": true, "append": true,
}

// routes is the routing table, most specific first within a method and
// level. Immutable.
var routes = []route{
	{method: "GET", level: levelService, op: opListBuckets},

	{method: "GET", level: levelBucket, sub: "location", op: opGetBucketLocation},
	{method: "GET", level: levelBucket, sub: "encryption", op: opGetBucketEncryption},
	{method: "PUT", level: levelBucket, sub: "encryption", op: opPutBucketEncryption},
	{method: "DELETE", level: levelBucket, sub: "encryption", op: opDeleteBucketEncryption},
	{method: "GET", level: levelBucket, sub: "acl", op: opGetBucketACL},
	{method: "PUT", level: levelBucket, sub: "acl", op: opPutBucketACL},
	{method: "GET", level: levelBucket, sub: "ownershipControls", op: opGetBucketOwnershipControls},
	{method: "PUT", level: levelBucket, sub: "ownershipControls", op: opPutBucketOwnershipControls},
	{method: "GET", level: levelBucket, sub: "versioning", op: opGetBucketVersioning},
	{method: "GET", level: levelBucket, sub: "logging", op: opGetBucketLogging},
	{method: "GET", level: levelBucket, sub: "notification", op: opGetBucketNotification},
	{method: "GET", level: levelBucket, sub: "requestPayment", op: opGetBucketRequestPayment},
	{method: "GET", level: levelBucket, sub: "accelerate", op: opGetBucketAccelerate},
	{method: "GET", level: levelBucket, sub: "publicAccessBlock", op: opGetPublicAccessBlock},
	{method: "GET", level: levelBucket, sub: "policy", op: opGetBucketPolicy},
	{method: "GET", level: levelBucket, sub: "policyStatus", op: opGetBucketPolicyStatus},
	{method: "GET", level: levelBucket, sub: "cors", op: opGetBucketCors},
	{method: "GET", level: levelBucket, sub: "lifecycle", op: opGetBucketLifecycle},
	{method: "GET", level: levelBucket, sub: "tagging", op: opGetBucketTagging},
	{method: "GET", level: levelBucket, sub: "website", op: opGetBucketWebsite},
	{method: "GET", level: levelBucket, sub: "replication", op: opGetBucketReplication},
	{method: "GET", level: levelBucket, sub: "object-lock", op: opGetObjectLockConfiguration},
	{method: "DELETE", level: levelBucket, sub: "policy", op: opDeleteBucketPolicy},
	{method: "DELETE", level: levelBucket, sub: "cors", op: opDeleteBucketCors},
	{method: "DELETE", level: levelBucket, sub: "lifecycle", op: opDeleteBucketLifecycle},
	{method: "DELETE", level: levelBucket, sub: "website", op: opDeleteBucketWebsite},
	{method: "DELETE", level: levelBucket, sub: "tagging", op: opDeleteBucketTagging},
	{method: "GET", level: levelBucket, sub: "list-type", op: opListObjectsV2},
	{method: "GET", level: levelBucket, sub: "versions", op: opListObjectVersions},
	{method: "GET", level: levelBucket, sub: "uploads", op: opMPListUploads},
	{method: "GET", level: levelBucket, op: opListObjects},
	{method: "HEAD", level: levelBucket, op: opHeadBucket},
	{method: "PUT", level: levelBucket, op: opCreateBucket},
	{method: "DELETE", level: levelBucket, op: opDeleteBucket},
	{method: "POST", level: levelBucket, sub: "delete", op: opDeleteObjects},
	{method: "POST", level: levelBucket, op: opPostObject}, // browser form upload, handlers_post.go

	{method: "GET", level: levelObject, sub: "acl", op: opGetObjectACL},
	{method: "PUT", level: levelObject, sub: "acl", op: opPutObjectACL},
	{method: "PUT", level: levelObject, sub: "tagging", op: opPutObjectTagging},
	{method: "GET", level: levelObject, sub: "tagging", op: opGetObjectTagging},
	{method: "DELETE", level: levelObject, sub: "tagging", op: opDeleteObjectTagging},
	{method: "PUT", level: levelObject, sub: "uploadId", header: "x-amz-copy-source", op: opMPPartCopy},
	{method: "PUT", level: levelObject, sub: "uploadId", op: opMPPart},
	{method: "POST", level: levelObject, sub: "uploads", op: opMPCreate},
	{method: "POST", level: levelObject, sub: "uploadId", op: opMPComplete},
	{method: "GET", level: levelObject, sub: "uploadId", op: opMPListParts},
	{method: "DELETE", level: levelObject, sub: "uploadId", op: opMPAbort},
	{method: "GET", level: levelObject, sub: "attributes", op: opGetObjectAttributes},
	{method: "GET", level: levelObject, sub: "partNumber", op: opGetObject},
	{method: "HEAD", level: levelObject, sub: "partNumber", op: opHeadObject},
	{method: "PUT", level: levelObject, header: "x-amz-copy-source", op: opCopyObject},
	{method: "PUT", level: levelObject, op: opPutObject},
	{method: "GET", level: levelObject, op: opGetObject},
	{method: "HEAD", level: levelObject, op: opHeadObject},
	{method: "DELETE", level: levelObject, op: opDeleteObject},
}

// publicRoutes are served without authentication: exact paths, GET or
// HEAD, path-style only. Their first segments are reserved bucket names.
var publicRoutes = map[string]*operation{
	"/health/live":  opHealthLive,
	"/health/ready": opHealthReady,
	"/metrics":      opMetrics,
}

// reservedBuckets cannot be created: their names are the public paths.
var reservedBuckets = map[string]bool{"health": true, "metrics": true}

// hasHeader reports whether the request carries a header (lower-case name).
type hasHeader func(name string) bool

// selectOp picks the operation of a request. It never fails: requests no
// route serves get NotImplemented or MethodNotAllowed, which still go
// through authentication first.
func selectOp(method string, t *target, header hasHeader, metricsOn bool) *operation {
	if !t.vhost && (method == "GET" || method == "HEAD") && len(t.query) == 0 {
		if op, ok := publicRoutes[t.path]; ok && (op != opMetrics || metricsOn) {
			return op
		}
	}
	lvl := levelService
	switch {
	case t.bucket != "" && t.key != "":
		lvl = levelObject
	case t.bucket != "":
		lvl = levelBucket
	}
	anySub := hasSubresource(t.query)
	methodSeen := false
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || rt.level != lvl {
			continue
		}
		methodSeen = true
		if rt.sub != "" && !t.query.Has(rt.sub) {
			continue
		}
		if rt.sub == "" && anySub {
			continue
		}
		if rt.header != "" && !header(rt.header) {
			continue
		}
		return rt.op
	}
	if anySub || methodSeen {
		return opNotImplemented
	}
	return opMethodNotAllowed
}

func hasSubresource(q url.Values) bool {
	for k := range q {
		if subresources[k] {
			return true
		}
	}
	return false
}

func notImplemented(*Server, *request) (*response, error) {
	return nil, errorf(CodeNotImplemented, "")
}

func methodNotAllowed(*Server, *request) (*response, error) {
	return nil, errorf(CodeMethodNotAllowed, "")
}
