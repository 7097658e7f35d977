package s3facade

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"strings"
)

// checksumAlg is one of S3's additional checksum algorithms.
type checksumAlg uint8

const (
	ckNone checksumAlg = iota
	ckCRC32
	ckCRC32C
	ckCRC64NVME
	ckSHA1
	ckSHA256
)

// crc64NVMETable is the reflected CRC-64/NVME polynomial (check value of
// "123456789": 0xae8b14860a799888). Immutable after init.
var crc64NVMETable = crc64.MakeTable(0x9a6c9329ac4bc9b5)

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

// checksumAlgs describes each algorithm: S3's name (x-amz-checksum-algorithm,
// x-amz-sdk-checksum-algorithm), its header and trailer name, and its raw
// size. Indexed by checksumAlg; never modified.
var checksumAlgs = [...]struct {
	name   string
	header string
	size   int
}{
	ckNone:      {},
	ckCRC32:     {"CRC32", "x-amz-checksum-crc32", 4},
	ckCRC32C:    {"CRC32C", "x-amz-checksum-crc32c", 4},
	ckCRC64NVME: {"CRC64NVME", "x-amz-checksum-crc64nvme", 8},
	ckSHA1:      {"SHA1", "x-amz-checksum-sha1", sha1.Size},
	ckSHA256:    {"SHA256", "x-amz-checksum-sha256", sha256.Size},
}

func (a checksumAlg) String() string { return checksumAlgs[a].name }

// header returns the x-amz-checksum-* header (and trailer) name.
func (a checksumAlg) header() string { return checksumAlgs[a].header }

func (a checksumAlg) newHash() hash.Hash {
	switch a {
	case ckCRC32:
		return crc32.NewIEEE()
	case ckCRC32C:
		return crc32.New(crc32cTable)
	case ckCRC64NVME:
		return crc64.New(crc64NVMETable)
	case ckSHA1:
		return sha1.New()
	case ckSHA256:
		return sha256.New()
	}
	return nil
}

// checksumByName returns the algorithm S3 names name (case-insensitive).
func checksumByName(name string) (checksumAlg, bool) {
	for a := ckCRC32; a <= ckSHA256; a++ {
		if strings.EqualFold(checksumAlgs[a].name, name) {
			return a, true
		}
	}
	return ckNone, false
}

// checksumByHeader returns the algorithm whose header is name (lower case).
func checksumByHeader(name string) (checksumAlg, bool) {
	for a := ckCRC32; a <= ckSHA256; a++ {
		if checksumAlgs[a].header == name {
			return a, true
		}
	}
	return ckNone, false
}

// validChecksumValue reports whether v is the base64 of a checksum of a's size.
func validChecksumValue(a checksumAlg, v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == checksumAlgs[a].size
}

// digestReader passes a body through while hashing it, and at EOF checks
// the hashes against what the request promised: the hex SHA-256 signed in
// x-amz-content-sha256, and an additional checksum from a header or a
// trailer. A mismatch replaces io.EOF with an error, so a consumer that
// commits only on a clean EOF (the engine) commits nothing. It belongs to
// one request and one goroutine.
type digestReader struct {
	r io.Reader

	payload    hash.Hash // nil: no payload hash to check
	payloadHex string

	alg      checksumAlg
	sum      hash.Hash // nil: no checksum to compute
	want     string    // base64, when known up front
	fromTail func() (string, bool)
	got      string // base64 of the computed checksum, set at EOF

	done bool
	err  error
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.done {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	if n > 0 {
		if d.payload != nil {
			d.payload.Write(p[:n])
		}
		if d.sum != nil {
			d.sum.Write(p[:n])
		}
	}
	if err == io.EOF {
		d.done = true
		d.err = d.finish()
		return n, d.err
	}
	if err != nil {
		d.done, d.err = true, err
	}
	return n, err
}

// finish checks the digests at the end of the body.
func (d *digestReader) finish() error {
	if d.payload != nil {
		var buf [sha256.Size]byte
		var hx [2 * sha256.Size]byte
		hex.Encode(hx[:], d.payload.Sum(buf[:0]))
		if subtle.ConstantTimeCompare(hx[:], []byte(d.payloadHex)) != 1 {
			return errPayloadHash
		}
	}
	if d.sum != nil {
		var buf [sha256.Size]byte
		d.got = base64.StdEncoding.EncodeToString(d.sum.Sum(buf[:0]))
		want := d.want
		if d.fromTail != nil {
			v, ok := d.fromTail()
			if !ok {
				return wrapErr(CodeInvalidRequest, "The trailing checksum the request declared in x-amz-trailer was not sent.", errChecksum)
			}
			want = v
		}
		if subtle.ConstantTimeCompare([]byte(d.got), []byte(want)) != 1 {
			return wrapErr(CodeBadDigest, "The "+d.alg.String()+" you specified did not match the calculated checksum.", errChecksum)
		}
	}
	return io.EOF
}

// checksum returns the verified checksum once the body ended cleanly.
func (d *digestReader) checksum() (checksumAlg, string, bool) {
	if !d.done || d.err != io.EOF || d.sum == nil {
		return ckNone, "", false
	}
	return d.alg, d.got, true
}
