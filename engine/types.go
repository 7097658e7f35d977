package engine

import (
	"io"
	"time"
)

// BucketInfo describes a bucket. It is a value the caller owns.
type BucketInfo struct {
	Name    string
	Created time.Time
	// Owner is the id of the user that owns the bucket, as given to
	// CreateBucketWithOptions or SetBucketOwner. Empty means the root user:
	// buckets created with CreateBucket, before owners were recorded, or
	// restored by RebuildIndex from objects alone.
	Owner string
}

// MaxOwnerLength bounds BucketOptions.Owner, in bytes.
const MaxOwnerLength = 256

// BucketOptions are the optional parameters of CreateBucketWithOptions.
// The zero value (or nil) creates a bucket owned by the root user.
type BucketOptions struct {
	// Owner is an opaque, stable id of the owning user (the S3 facade
	// stores a canonical user id). The engine records it and returns it in
	// BucketInfo; it enforces nothing with it. At most MaxOwnerLength
	// bytes of printable UTF-8.
	Owner string
}

// ObjectInfo describes a stored object. It is a value the caller owns.
type ObjectInfo struct {
	Bucket  string
	Key     string
	Size    int64     // plaintext size in bytes
	ETag    string    // without quotes: hex MD5 for single-part plain objects
	ModTime time.Time // when the write that stored it was acknowledged
	Headers
	// UserMetadata holds the x-amz-meta-* pairs, names in lower case
	// without the prefix.
	UserMetadata map[string]string
	// Checksum is the additional checksum stored with the object, if any.
	Checksum Checksum
	// PartsCount is the number of parts of a multipart object, else 0.
	PartsCount int
	// SSE says how the object is encrypted.
	SSE SSEInfo
	// Tags are the object's tags sorted by key (nil: none). Changing them
	// (PutObjectTagging) changes neither ETag nor ModTime.
	Tags []Tag
}

// Checksum is an S3 additional checksum: the algorithm name as S3 spells
// it in x-amz-checksum-algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)
// and the base64 value. The engine stores and returns it; the caller that
// received the body verifies it before the put completes (see
// PutOptions.Verify).
type Checksum struct {
	Algorithm string
	Value     string
}

// Headers are the standard content headers stored with an object.
type Headers struct {
	ContentType        string
	ContentEncoding    string
	CacheControl       string
	ContentDisposition string
	ContentLanguage    string
	Expires            string
}

// Conditions are the HTTP conditional request fields. Empty fields are
// absent. ETags are compared without quotes; "*" matches any object.
type Conditions struct {
	IfMatch           string
	IfNoneMatch       string
	IfModifiedSince   time.Time
	IfUnmodifiedSince time.Time
}

// PutOptions are the optional parameters of PutObject. The zero value (or
// nil) stores an object with no metadata.
type PutOptions struct {
	// Size is the exact body length when positive; zero or negative means
	// unknown (the body is read to EOF). A body that does not match a
	// positive Size fails the put with ErrIncompleteBody.
	Size int64
	Headers
	UserMetadata map[string]string
	// ContentMD5, when set (16 bytes), must equal the MD5 of the body or
	// the put fails with ErrBadDigest and nothing is stored.
	ContentMD5 []byte
	// SSE is the encryption to apply; nil takes the bucket default.
	SSE *SSE
	// Checksum is stored with the object and returned by Head and Get. It
	// is read after Verify returns, so Verify may fill it in.
	Checksum Checksum
	// Verify, if set, is called after the whole body was read and before
	// anything becomes visible; an error aborts the put and is returned
	// as is. The S3 facade checks trailing checksums and signatures here,
	// and records a trailing checksum into Checksum.
	Verify func() error
	// Conditions: IfNoneMatch "*" stores only if the key is absent;
	// IfMatch stores only over an object with that ETag. Other fields are
	// ignored on writes. They are evaluated atomically with the write.
	Conditions Conditions
	// Tags are stored with the object (see ValidateTags; a bad set fails
	// the put with a *TagError before anything is read).
	Tags []Tag
}

// Range selects bytes of an object. Use ByteRange, FromOffset or Suffix.
type Range struct {
	start, end int64 // end is inclusive; -1 = to the end
	suffix     int64 // >0: the last suffix bytes
}

// ByteRange selects bytes first through last inclusive (HTTP "bytes=a-b").
func ByteRange(first, last int64) *Range { return &Range{start: first, end: last} }

// FromOffset selects bytes from first to the end ("bytes=a-").
func FromOffset(first int64) *Range { return &Range{start: first, end: -1} }

// Suffix selects the last n bytes ("bytes=-n").
func Suffix(n int64) *Range { return &Range{start: -1, end: -1, suffix: n} }

// Resolve returns the offset and length the range selects in an object of
// size bytes, with HTTP's rules: a last byte past the end is clamped, a
// suffix longer than the object selects all of it, and a first byte at or
// past the end (or a zero suffix) is ErrInvalidRange.
func (r *Range) Resolve(size int64) (off, n int64, err error) {
	if r.start < 0 {
		if r.suffix <= 0 {
			return 0, 0, ErrInvalidRange
		}
		n = min(r.suffix, size)
		return size - n, n, nil
	}
	if r.start >= size || (r.end >= 0 && r.end < r.start) {
		return 0, 0, ErrInvalidRange
	}
	last := size - 1
	if r.end >= 0 && r.end < last {
		last = r.end
	}
	return r.start, last - r.start + 1, nil
}

// GetOptions are the optional parameters of GetObject and HeadObject.
type GetOptions struct {
	Range *Range
	// PartNumber selects one part of a multipart object (1-based); a
	// single-part object has one part, the whole object. It excludes Range.
	PartNumber int
	Conditions Conditions
	// CustomerKey is the SSE-C key (32 bytes), required to read an object
	// written with one.
	CustomerKey []byte
}

// Object is an open object body. Read it to the end or Close it; it must
// be closed. It is used by one goroutine.
type Object struct {
	Info ObjectInfo
	// Offset and Length are the byte range the body holds (the whole
	// object unless a range was asked for).
	Offset, Length int64
	body           io.ReadCloser
}

// Read reads the body.
func (o *Object) Read(p []byte) (int, error) { return o.body.Read(p) }

// WriteTo streams the body to w without an intermediate copy when it can.
func (o *Object) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := o.body.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{o.body})
}

// Close releases the body.
func (o *Object) Close() error { return o.body.Close() }

// CopyOptions are the optional parameters of CopyObject.
type CopyOptions struct {
	// ReplaceMetadata takes Headers and UserMetadata from these options
	// (S3's REPLACE directive) instead of from the source.
	ReplaceMetadata bool
	Headers
	UserMetadata map[string]string
	// SourceConditions apply to the source object (x-amz-copy-source-if-*).
	SourceConditions Conditions
	// Conditions apply to the destination, as for PutObject.
	Conditions Conditions
	// SSE is the destination's encryption (nil: the destination bucket's
	// default; never the source's).
	SSE *SSE
	// SourceCustomerKey is the SSE-C key of the source.
	SourceCustomerKey []byte
	// ReplaceTags gives the copy Tags (S3's REPLACE tagging directive)
	// instead of the source's tags (COPY, the default).
	ReplaceTags bool
	// Tags are the copy's tags with ReplaceTags (see ValidateTags).
	Tags []Tag
}

// ListOptions are the parameters of ListObjects.
type ListOptions struct {
	Prefix    string
	Delimiter string
	// StartAfter lists keys strictly after this one (S3's start-after,
	// marker, and the continuation point).
	StartAfter string
	// MaxKeys bounds Objects+CommonPrefixes; zero or less means 1000.
	MaxKeys int
}

// ListResult is one page of ListObjects.
type ListResult struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	// IsTruncated says more entries follow; continue with StartAfter set
	// to Next.
	IsTruncated bool
	Next        string
}

// DeleteResult is the outcome for one key of DeleteObjects.
type DeleteResult struct {
	Key string
	Err error
}
