// Package s3facade serves a Coffer engine over the S3 REST API, on
// fasthttp.
//
// # What it owns
//
// Routing (path-style and virtual-host-style addressing), SigV4
// authentication in every form S3 clients use (Authorization header,
// presigned query, UNSIGNED-PAYLOAD, aws-chunked STREAMING-AWS4-HMAC-
// SHA256-PAYLOAD with chained chunk signatures, its -TRAILER variant and
// STREAMING-UNSIGNED-PAYLOAD-TRAILER), Content-MD5 and x-amz-checksum-*
// verification, the S3 XML bodies, and the one table (errtable.go) that
// maps engine and facade errors to S3 codes and statuses. The storage
// itself is the engine's; this package speaks HTTP and nothing else.
//
// # Guarantees
//
// Every request passes through Server.serve, which parses the target,
// picks an operation from the routing table and, for every operation but
// /health/live, /health/ready and /metrics, runs authenticate before the
// handler: there is no other path to a handler, unknown subresources are
// NotImplemented (after authentication), and anonymous requests are
// refused. Every response carries x-amz-request-id.
//
// Bodies are streamed, never buffered whole: the engine reads the request
// body through a verifying reader that checks the signed SHA-256, chunk
// signatures, the trailer signature, the declared decoded length and any
// additional checksum, and turns a mismatch into a read error instead of
// io.EOF. The engine commits only after a clean EOF, so a request whose
// body fails verification writes nothing.
//
// Users and buckets (config.go, auth.go): every bucket records the
// canonical id of the user that created it (User.ID, by default
// CanonicalID of the access key); buckets without one belong to root.
// After authentication, authorize decides before the handler runs: root
// (RoleRoot, or a User without role and buckets as before roles existed)
// may do anything; the owner may do anything with its bucket; a user
// granted a bucket (User.Buckets) may use it (objects, object tags and
// ACLs, listings, multipart, HEAD, location, reading the encryption rule
// and the other settings) but not delete it or change its configuration; everyone else gets AccessDenied (403,
// no body on HEAD) on every operation, copy sources included, and does
// not see the bucket in ListBuckets. CreateBucket of a taken name answers
// BucketAlreadyExists to others and, to its owner, 200 (changing nothing)
// in us-east-1 and BucketAlreadyOwnedByYou in other regions, as S3 does.
// Listings show the bucket's owner as the owner of its objects (S3's
// BucketOwnerEnforced), and x-amz-expected-bucket-owner (and
// x-amz-source-expected-bucket-owner) are compared with it. Root and
// grantees cost no extra index read; other users cost one per request.
//
// Time rules: a header-signed request must be within 15 minutes of the
// server clock (RequestTimeTooSkewed); a presigned URL is valid from
// X-Amz-Date (15 minutes of skew allowed) for X-Amz-Expires seconds, at
// most 7 days, and its window is not cut to 15 minutes. Replay: SigV4 does
// not prevent replaying a captured request inside its window; use TLS.
//
// Requests asking for something not implemented (object lock, enabling
// versioning, other versions than the one "null" version per key) get
// NotImplemented or S3's refusal, never a success that ignores what they
// asked.
//
// ACLs (acl.go) are disabled as on an S3 bucket with BucketOwnerEnforced:
// GetBucketAcl and GetObjectAcl answer the bucket owner's FULL_CONTROL;
// writes accept no ACL, private or bucket-owner-full-control (or a grant
// of full control to the bucket owner), and anything else is refused with
// AccessControlListNotSupported (InvalidBucketAclWithObjectOwnership on
// CreateBucket) before the body is read; PUT ?acl accepts only the
// owner's full control, which changes nothing. Bucket settings Coffer
// does not have (handlers_settings.go) read as S3 reads a bucket where
// they were never set (an empty versioning document, NoSuchBucketPolicy,
// NoSuchCORSConfiguration, ...; ownership BucketOwnerEnforced, public
// access blocked); changing one is NotImplemented, deleting one that S3
// deletes silently when absent is 204.
//
// Object tags (tagging.go): PUT/GET/DELETE ?tagging on an object,
// x-amz-tagging on PutObject, CreateMultipartUpload and CopyObject (with
// x-amz-tagging-directive COPY or REPLACE), POST's tagging field, and
// x-amz-tagging-count on GET and HEAD. The rules are engine.ValidateTags;
// more than ten tags is BadRequest, a bad tag InvalidTag naming it, and
// an x-amz-tagging header that does not parse InvalidArgument, as S3.
//
// Multipart uploads (handlers_multipart.go) stream every part like a PUT;
// CompleteMultipartUpload is one engine commit that copies no data, so it
// answers with a plain status, never S3's "200 then an error document".
// Part checksums combine into the object's as S3 does: COMPOSITE
// (checksum of the part checksums, "-N") or FULL_OBJECT (CRCs combined).
//
// Server-side encryption (sse.go, handlers_encryption.go): the SSE, KMS
// key id, context, bucket-key and SSE-C headers are parsed in the order of
// s3-sse-spec.md §1.18 into engine.SSE; responses carry the headers S3
// returns per operation (the context only on the writes that accept it);
// key-manager failures become KMS.<Exception> (400), AccessDenied (403),
// or 503 when the key manager cannot be reached. SSE-C keys are accepted
// only over TLS (or from loopback with Config.AllowInsecureSSECLoopback),
// checked against their MD5 in constant time, never logged, and cleared
// when the request ends. Every request is SigV4, so S3's "KMS needs
// SigV4" rule always holds. PutBucketEncryption/GetBucketEncryption/
// DeleteBucketEncryption use S3's XML; a bucket never configured reports
// AES256.
//
// # Limits
//
// Header section: Config.MaxHeaderBytes (431 beyond). XML bodies:
// Config.MaxXMLBytes, nesting depth 16, no DTDs; DeleteObjects takes at
// most 1000 keys; a Tagging document at most 64 KiB. User metadata: 2
// KiB. Keys: 1024 bytes. Slow clients: ReadTimeout bounds the header
// read, BodyIdleTimeout the stall between two body reads,
// WriteIdleTimeout the stall of a response write, IdleTimeout an idle
// keep-alive connection. Expect: 100-continue is answered only after
// authentication and the header checks of PutObject (ACLs, storage
// class, object lock), so a refused upload is not read.
//
// # Concurrency
//
// A Server is safe for concurrent use and keeps no package-level mutable
// state; several Servers (over several engines) may run in one process.
// Handlers run on fasthttp's goroutines and never keep the RequestCtx or
// its buffers after they return: a streamed GET body holds only the
// engine object and the connection (to re-arm its write deadline), and
// fasthttp closes it.
//
// # Buffer ownership
//
// Strings taken from a request are copies. Response bodies are written
// from pooled buffers that are returned before the handler returns, or
// streamed from the engine object, which fasthttp closes after the last
// byte.
package s3facade
