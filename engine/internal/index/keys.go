package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Key prefixes of the schema. Every key starts with one of them; the commit
// sequence key starts with 0x00 and sorts first.
const (
	prefixBucket = 'b' // b <bucket>                  → Bucket
	prefixObject = 'o' // o <bucket> '/' <key>         → Object
	prefixGC     = 'g' // g <data id>                  → layout of released data
	prefixMeta   = 'm' // m <name>                     → store metadata
	prefixUpload = 'u' // u <bucket> '/' <key> 0x00 <upload id> → Object (the upload)
	prefixPart   = 'p' // p <upload id> <part number, 4 bytes BE>   → Part
)

// BucketKey is the index key of a bucket record.
func BucketKey(bucket string) []byte {
	return append([]byte{prefixBucket}, bucket...)
}

// BucketPrefix bounds every bucket record.
func BucketPrefix() []byte { return []byte{prefixBucket} }

// BucketFromKey returns the bucket name of a bucket record key.
func BucketFromKey(k []byte) string { return string(k[1:]) }

// ObjectPrefix returns the prefix of every object key of bucket that starts
// with keyPrefix.
func ObjectPrefix(bucket, keyPrefix string) []byte {
	b := make([]byte, 0, 2+len(bucket)+len(keyPrefix))
	b = append(b, prefixObject)
	b = append(b, bucket...)
	b = append(b, '/')
	return append(b, keyPrefix...)
}

// ObjectKey is the index key of an object record.
func ObjectKey(bucket, key string) []byte { return ObjectPrefix(bucket, key) }

// SplitObjectKey returns the bucket and object key of an object record key.
func SplitObjectKey(k []byte) (bucket, key string, err error) {
	if len(k) < 2 || k[0] != prefixObject {
		return "", "", fmt.Errorf("%w: object key %q", ErrCorrupt, k)
	}
	i := bytes.IndexByte(k[1:], '/')
	if i < 0 {
		return "", "", fmt.Errorf("%w: object key %q", ErrCorrupt, k)
	}
	return string(k[1 : 1+i]), string(k[2+i:]), nil
}

// GCKey is the index key of a release record for data id.
func GCKey(id [16]byte) []byte { return append([]byte{prefixGC}, id[:]...) }

// GCPrefix bounds every release record.
func GCPrefix() []byte { return []byte{prefixGC} }

// GCIDFromKey returns the data id of a release record key.
func GCIDFromKey(k []byte) (id [16]byte, err error) {
	if len(k) != 17 || k[0] != prefixGC {
		return id, fmt.Errorf("%w: gc key", ErrCorrupt)
	}
	copy(id[:], k[1:])
	return id, nil
}

// MetaKey is the index key of a store metadata value.
func MetaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

// UploadPrefix returns the prefix of every upload record of bucket whose
// key starts with keyPrefix.
func UploadPrefix(bucket, keyPrefix string) []byte {
	b := make([]byte, 0, 2+len(bucket)+len(keyPrefix))
	b = append(b, prefixUpload)
	b = append(b, bucket...)
	b = append(b, '/')
	return append(b, keyPrefix...)
}

// UploadKey is the index key of an upload record. Object keys never hold
// NUL, so the separator keeps uploads of one key together, in upload id
// order.
func UploadKey(bucket, key, uploadID string) []byte {
	b := UploadPrefix(bucket, key)
	b = append(b, 0)
	return append(b, uploadID...)
}

// SplitUploadKey returns the object key and upload id of an upload record
// key of bucket.
func SplitUploadKey(bucket string, k []byte) (key, uploadID string, err error) {
	p := UploadPrefix(bucket, "")
	if !bytes.HasPrefix(k, p) {
		return "", "", fmt.Errorf("%w: upload key", ErrCorrupt)
	}
	rest := k[len(p):]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", "", fmt.Errorf("%w: upload key", ErrCorrupt)
	}
	return string(rest[:i]), string(rest[i+1:]), nil
}

// PartPrefix bounds the part records of an upload.
func PartPrefix(uploadID string) []byte {
	return append([]byte{prefixPart}, uploadID...)
}

// PartKey is the index key of a part record.
func PartKey(uploadID string, number int) []byte {
	return binary.BigEndian.AppendUint32(PartPrefix(uploadID), uint32(number))
}
