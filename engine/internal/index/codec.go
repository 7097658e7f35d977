package index

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Records are encoded as a format version byte followed by tagged fields:
// uvarint tag, uvarint length, bytes. Unknown tags are skipped, so a newer
// writer's extra fields do not break an older reader; a removed or retyped
// field takes a new tag. Integers are uvarints (zigzag for signed values).

const recordVersion = 1

type encoder struct{ b []byte }

func (e *encoder) bytes(tag uint64, v []byte) {
	e.b = binary.AppendUvarint(e.b, tag)
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) str(tag uint64, v string) {
	if v == "" {
		return
	}
	e.b = binary.AppendUvarint(e.b, tag)
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) uint(tag uint64, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	e.bytes(tag, binary.AppendUvarint(tmp[:0], v))
}

func (e *encoder) int(tag uint64, v int64) {
	var tmp [binary.MaxVarintLen64]byte
	e.bytes(tag, binary.AppendVarint(tmp[:0], v))
}

type decoder struct {
	b   []byte
	err error
}

// next returns the next field, or ok=false at the end or on error.
func (d *decoder) next() (tag uint64, v []byte, ok bool) {
	if d.err != nil || len(d.b) == 0 {
		return 0, nil, false
	}
	tag, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("%w: field tag", ErrCorrupt)
		return 0, nil, false
	}
	l, m := binary.Uvarint(d.b[n:])
	if m <= 0 || l > uint64(len(d.b)-n-m) {
		d.err = fmt.Errorf("%w: field %d length", ErrCorrupt, tag)
		return 0, nil, false
	}
	v = d.b[n+m : n+m+int(l)]
	d.b = d.b[n+m+int(l):]
	return tag, v, true
}

func (d *decoder) uint(v []byte) uint64 {
	x, n := binary.Uvarint(v)
	if n != len(v) {
		d.err = fmt.Errorf("%w: integer", ErrCorrupt)
	}
	return x
}

func (d *decoder) int(v []byte) int64 {
	x, n := binary.Varint(v)
	if n != len(v) {
		d.err = fmt.Errorf("%w: integer", ErrCorrupt)
	}
	return x
}

func start(b []byte) (decoder, error) {
	if len(b) == 0 || b[0] != recordVersion {
		return decoder{}, fmt.Errorf("%w: record version", ErrCorrupt)
	}
	return decoder{b: b[1:]}, nil
}

// Bucket is the record of one bucket.
type Bucket struct {
	Created int64 // Unix nanoseconds
	// Config holds the engine's per-bucket configuration (encryption
	// defaults and the like), encoded by the engine.
	Config []byte
	// Owner is the opaque id of the bucket's owner; empty means the root
	// user. Records written before owners existed have no field 3 and
	// decode with an empty Owner.
	Owner string
}

// Marshal encodes the record.
func (r *Bucket) Marshal() []byte {
	e := encoder{b: []byte{recordVersion}}
	e.int(1, r.Created)
	if r.Config != nil {
		e.bytes(2, r.Config)
	}
	e.str(3, r.Owner)
	return e.b
}

// Unmarshal decodes a record; the result does not alias b.
func (r *Bucket) Unmarshal(b []byte) error {
	d, err := start(b)
	if err != nil {
		return err
	}
	*r = Bucket{}
	for tag, v, ok := d.next(); ok; tag, v, ok = d.next() {
		switch tag {
		case 1:
			r.Created = d.int(v)
		case 2:
			r.Config = slices.Clone(v)
		case 3:
			r.Owner = string(v)
		}
	}
	return d.err
}

// Object is the record of one object version. Exactly one of Inline and
// Layout describes where its stored stream lives (an empty object stored
// inline has a non-nil empty Inline).
type Object struct {
	DataID  [16]byte // immutable id of the stored stream; keys are bound to it
	Size    int64    // plaintext size
	ETag    string   // as S3 reports it, without quotes
	ModTime int64    // Unix nanoseconds

	ContentType        string
	ContentEncoding    string
	CacheControl       string
	ContentDisposition string
	ContentLanguage    string
	Expires            string
	UserMeta           [][2]string // sorted by name

	StoredSize int64  // size of the stored (possibly sealed) stream
	Inline     []byte // the stored stream itself, for small objects
	InlineSum  uint32 // CRC-32C of Inline
	Layout     []byte // chunkstore layout, for sharded objects
	Crypto     []byte // the engine's encryption record; nil for plain objects
	Parts      []Part // the parts of a multipart object, in order

	ChecksumAlgorithm string // additional checksum (CRC32, SHA256, …), if any
	ChecksumValue     string // its base64 value as S3 returns it

	// Tags are the object's tags (key, value), sorted by key. Records
	// written before tags existed have no field 20 and decode with none.
	Tags [][2]string
}

// Marshal appends the encoded record to dst.
func (r *Object) Marshal(dst []byte) []byte {
	e := encoder{b: append(dst, recordVersion)}
	e.bytes(1, r.DataID[:])
	e.int(2, r.Size)
	e.str(3, r.ETag)
	e.int(4, r.ModTime)
	e.str(5, r.ContentType)
	e.str(6, r.ContentEncoding)
	e.str(7, r.CacheControl)
	e.str(8, r.ContentDisposition)
	e.str(9, r.ContentLanguage)
	e.str(10, r.Expires)
	for _, kv := range r.UserMeta {
		e.bytes(11, pairField(kv))
	}
	e.int(12, r.StoredSize)
	if r.Inline != nil {
		e.bytes(13, r.Inline)
		e.uint(14, uint64(r.InlineSum))
	}
	if r.Layout != nil {
		e.bytes(15, r.Layout)
	}
	if r.Crypto != nil {
		e.bytes(16, r.Crypto)
	}
	for i := range r.Parts {
		e.bytes(17, r.Parts[i].Marshal(nil))
	}
	e.str(18, r.ChecksumAlgorithm)
	e.str(19, r.ChecksumValue)
	for _, kv := range r.Tags {
		e.bytes(20, pairField(kv))
	}
	return e.b
}

// pairField encodes a (name, value) pair as a nested record: field 1 the
// name, field 2 the value (absent when empty).
func pairField(kv [2]string) []byte {
	var m encoder
	m.str(1, kv[0])
	m.str(2, kv[1])
	return m.b
}

// decodePair decodes a pairField.
func decodePair(v []byte) ([2]string, error) {
	m := decoder{b: v}
	var kv [2]string
	for t, x, ok := m.next(); ok; t, x, ok = m.next() {
		if t == 1 || t == 2 {
			kv[t-1] = string(x)
		}
	}
	return kv, m.err
}

// Unmarshal decodes a record; the result does not alias b.
func (r *Object) Unmarshal(b []byte) error {
	d, err := start(b)
	if err != nil {
		return err
	}
	*r = Object{}
	for tag, v, ok := d.next(); ok; tag, v, ok = d.next() {
		switch tag {
		case 1:
			if len(v) != 16 {
				return fmt.Errorf("%w: data id", ErrCorrupt)
			}
			copy(r.DataID[:], v)
		case 2:
			r.Size = d.int(v)
		case 3:
			r.ETag = string(v)
		case 4:
			r.ModTime = d.int(v)
		case 5:
			r.ContentType = string(v)
		case 6:
			r.ContentEncoding = string(v)
		case 7:
			r.CacheControl = string(v)
		case 8:
			r.ContentDisposition = string(v)
		case 9:
			r.ContentLanguage = string(v)
		case 10:
			r.Expires = string(v)
		case 11:
			kv, err := decodePair(v)
			if err != nil {
				return err
			}
			r.UserMeta = append(r.UserMeta, kv)
		case 12:
			r.StoredSize = d.int(v)
		case 13:
			r.Inline = append([]byte{}, v...)
		case 14:
			r.InlineSum = uint32(d.uint(v))
		case 15:
			r.Layout = slices.Clone(v)
		case 16:
			r.Crypto = slices.Clone(v)
		case 17:
			var p Part
			if err := p.Unmarshal(v); err != nil {
				return err
			}
			r.Parts = append(r.Parts, p)
		case 18:
			r.ChecksumAlgorithm = string(v)
		case 19:
			r.ChecksumValue = string(v)
		case 20:
			kv, err := decodePair(v)
			if err != nil {
				return err
			}
			r.Tags = append(r.Tags, kv)
		}
	}
	if d.err != nil {
		return d.err
	}
	if r.Size < 0 || r.StoredSize < 0 {
		return fmt.Errorf("%w: negative size", ErrCorrupt)
	}
	return nil
}

// Part is the record of one uploaded part, and an entry of a multipart
// object's part table.
type Part struct {
	Number     int
	DataID     [16]byte // the part's stored stream
	Size       int64    // plaintext size
	StoredSize int64    // stored (possibly sealed) size
	ETag       string
	ModTime    int64
	Layout     []byte
	Checksum   string // base64 value of the upload's checksum algorithm
	Crypto     []byte // the engine's per-part encryption record
}

// Marshal appends the encoded record to dst.
func (p *Part) Marshal(dst []byte) []byte {
	e := encoder{b: append(dst, recordVersion)}
	e.uint(1, uint64(p.Number))
	e.bytes(2, p.DataID[:])
	e.int(3, p.Size)
	e.int(4, p.StoredSize)
	e.str(5, p.ETag)
	e.int(6, p.ModTime)
	e.bytes(7, p.Layout)
	e.str(8, p.Checksum)
	if p.Crypto != nil {
		e.bytes(9, p.Crypto)
	}
	return e.b
}

// Unmarshal decodes a record; the result does not alias b.
func (p *Part) Unmarshal(b []byte) error {
	d, err := start(b)
	if err != nil {
		return err
	}
	*p = Part{}
	for tag, v, ok := d.next(); ok; tag, v, ok = d.next() {
		switch tag {
		case 1:
			p.Number = int(d.uint(v))
		case 2:
			if len(v) != 16 {
				return fmt.Errorf("%w: part data id", ErrCorrupt)
			}
			copy(p.DataID[:], v)
		case 3:
			p.Size = d.int(v)
		case 4:
			p.StoredSize = d.int(v)
		case 5:
			p.ETag = string(v)
		case 6:
			p.ModTime = d.int(v)
		case 7:
			p.Layout = slices.Clone(v)
		case 8:
			p.Checksum = string(v)
		case 9:
			p.Crypto = slices.Clone(v)
		}
	}
	if d.err != nil {
		return d.err
	}
	if p.Size < 0 || p.StoredSize < 0 || p.Number < 0 || p.Number > 1<<20 {
		return fmt.Errorf("%w: part sizes", ErrCorrupt)
	}
	return nil
}
