package s3facade

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/cofferdb/coffer/internal/sigv4"
)

// Limits of the aws-chunked framing.
const (
	chunkReaderSize  = 64 << 10 // bufio size; also bounds a chunk header line
	maxChunkSize     = 1 << 34  // 16 GiB: larger than any single PUT S3 allows
	maxTrailerBytes  = 4 << 10  // the whole trailer section
	maxTrailerFields = 8
	chunkSigPrefix   = ";chunk-signature="
	trailerSigName   = "x-amz-trailer-signature"
)

var chunkReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, chunkReaderSize) }}

// chunkSigner holds what chunk and trailer signatures chain from: the
// signing key of the request's scope, its X-Amz-Date, its scope string
// and the previous signature (the seed signature first). The fixed parts
// of the strings to sign are built once so a chunk costs no allocation.
type chunkSigner struct {
	mac     hash.Hash // HMAC-SHA256 under the derived signing key
	chunkP  []byte    // "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n"
	trailP  []byte    // "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n"
	emptyNL []byte    // "\n<hash of empty>\n"
	prev    [64]byte  // hex of the previous signature
	hx      [65]byte  // scratch (fields, not locals: hash.Hash calls make locals escape)
	sum     [sha256.Size]byte
}

func newChunkSigner(key sigv4.Key, amzDate, scope, seed string) *chunkSigner {
	s := &chunkSigner{
		mac:     hmac.New(sha256.New, key[:]),
		chunkP:  []byte("AWS4-HMAC-SHA256-PAYLOAD\n" + amzDate + "\n" + scope + "\n"),
		trailP:  []byte("AWS4-HMAC-SHA256-TRAILER\n" + amzDate + "\n" + scope + "\n"),
		emptyNL: []byte("\n" + sigv4.EmptyPayloadHash + "\n"),
	}
	copy(s.prev[:], seed)
	return s
}

// next checks got against the signature of the next chunk, whose data
// hashed to dataSum, and advances the chain.
func (s *chunkSigner) next(dataSum []byte, got []byte) bool {
	s.mac.Reset()
	s.mac.Write(s.chunkP)
	s.mac.Write(s.prev[:])
	s.mac.Write(s.emptyNL)
	hex.Encode(s.hx[:64], dataSum)
	s.mac.Write(s.hx[:64])
	return s.finish(got)
}

// trailer checks got against the signature of the trailer section whose
// canonical form ("name:value\n" per field) hashed to sum.
func (s *chunkSigner) trailer(sum []byte, got []byte) bool {
	s.mac.Reset()
	s.mac.Write(s.trailP)
	s.mac.Write(s.prev[:])
	s.hx[0] = '\n'
	hex.Encode(s.hx[1:], sum)
	s.mac.Write(s.hx[:])
	return s.finish(got)
}

func (s *chunkSigner) finish(got []byte) bool {
	hex.Encode(s.prev[:], s.mac.Sum(s.sum[:0]))
	return len(got) == len(s.prev) && subtle.ConstantTimeCompare(s.prev[:], got) == 1
}

// chunkedReader decodes an aws-chunked body: chunks "<hex>[;chunk-signature=
// <sig>]\r\n<data>\r\n", a final zero-size chunk, then either "\r\n" or a
// trailer section. With a signer every chunk signature and the trailer
// signature are checked; a chunk's bytes may be returned before its
// signature is checked at its end, so consumers must commit only on a clean
// io.EOF (the engine does). It belongs to one request and one goroutine;
// call release when done.
type chunkedReader struct {
	br       *bufio.Reader
	sig      *chunkSigner // nil: unsigned chunks
	sha      hash.Hash    // chunk data hash (signed only)
	trailers []string     // allowed trailer names; nil: no trailer section
	declared int64        // x-amz-decoded-content-length, -1 if absent

	left    int64 // bytes left in the current chunk
	decoded int64
	inData  bool
	err     error    // sticky; io.EOF after a clean end
	pending [64]byte // signature of the current chunk (signed only)
	crlf    [2]byte  // scratch
	sum     [sha256.Size]byte
	fields  []trailerField
}

type trailerField struct{ name, value string }

// newChunkedReader wraps body. sig is nil for STREAMING-UNSIGNED-PAYLOAD-
// TRAILER; trailers lists the names x-amz-trailer announced (nil for no
// trailer section).
func newChunkedReader(body io.Reader, sig *chunkSigner, trailers []string, declared int64) *chunkedReader {
	br := chunkReaders.Get().(*bufio.Reader)
	br.Reset(body)
	c := &chunkedReader{br: br, sig: sig, trailers: trailers, declared: declared}
	if sig != nil {
		c.sha = sha256.New()
	}
	return c
}

// release returns the buffer to the pool; the reader is unusable after.
func (c *chunkedReader) release() {
	if c.br != nil {
		c.br.Reset(nil)
		chunkReaders.Put(c.br)
		c.br = nil
	}
	if c.err == nil {
		c.err = io.ErrClosedPipe
	}
}

// trailer returns the value of a trailer field after a clean EOF.
func (c *chunkedReader) trailer(name string) (string, bool) {
	if c.err != io.EOF {
		return "", false
	}
	for _, f := range c.fields {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

func malformed(msg string) error { return wrapErr(CodeIncompleteBody, msg, errChunkFormat) }

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !c.inData {
		if err := c.header(); err != nil {
			c.err = err
			return 0, err
		}
		if !c.inData {
			return 0, c.err // the final chunk: io.EOF or an error
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	if n > 0 {
		if c.sha != nil {
			c.sha.Write(p[:n])
		}
		c.left -= int64(n)
		c.decoded += int64(n)
	}
	if err == io.EOF {
		err = malformed("The aws-chunked body ended inside a chunk.")
	}
	if err != nil {
		c.err = err
		return n, err
	}
	if c.left == 0 {
		c.inData = false
		if err := c.endChunk(); err != nil {
			c.err = err
			return n, err
		}
	}
	return n, nil
}

// header reads a chunk header. For a non-final chunk it sets inData; for
// the final one it finishes the body and sets err to io.EOF or an error.
func (c *chunkedReader) header() error {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return malformed("An aws-chunked chunk header is too long.")
	}
	if err != nil {
		return malformed("The aws-chunked body ended before its final chunk.")
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return malformed("An aws-chunked chunk header does not end in CRLF.")
	}
	line = line[:len(line)-2]
	i := 0
	var size int64
	for ; i < len(line) && i < 16; i++ {
		v := unhex(line[i])
		if v < 0 {
			break
		}
		size = size<<4 | int64(v)
	}
	if i == 0 || size < 0 || size > maxChunkSize { // 16 hex digits can overflow
		return malformed("An aws-chunked chunk size is not valid.")
	}
	rest := line[i:]
	var got []byte
	if c.sig != nil {
		if !bytes.HasPrefix(rest, []byte(chunkSigPrefix)) || len(rest) != len(chunkSigPrefix)+64 {
			return wrapErr(CodeSignatureDoesNotMatch, "A chunk is missing its chunk-signature.", errChunkSignature)
		}
		got = rest[len(chunkSigPrefix):]
	} else if len(rest) != 0 {
		return malformed("An unsigned aws-chunked chunk carries an extension.")
	}
	if c.declared >= 0 && c.decoded+size > c.declared {
		return wrapErr(CodeIncompleteBody, "The aws-chunked body is longer than x-amz-decoded-content-length.", errDecodedLength)
	}
	if c.sig != nil {
		c.sha.Reset()
		// Keep the signature for endChunk: copy it, the bufio buffer moves.
		copy(c.pending[:], got)
	}
	if size > 0 {
		c.left, c.inData = size, true
		return nil
	}
	// The final chunk.
	if c.sig != nil {
		if !c.sig.next(c.sha.Sum(c.sum[:0]), c.pending[:]) {
			return wrapErr(CodeSignatureDoesNotMatch, "", errChunkSignature)
		}
	}
	if c.trailers == nil {
		if _, err := io.ReadFull(c.br, c.crlf[:]); err != nil || c.crlf != [2]byte{'\r', '\n'} {
			return malformed("The final aws-chunked chunk is not followed by CRLF.")
		}
	} else if err := c.readTrailers(); err != nil {
		return err
	}
	var one [1]byte
	if n, _ := c.br.Read(one[:]); n != 0 {
		return malformed("Data follows the end of the aws-chunked body.")
	}
	if c.declared >= 0 && c.decoded != c.declared {
		return wrapErr(CodeIncompleteBody, "", errDecodedLength)
	}
	return io.EOF
}

// endChunk reads the CRLF after a chunk's data and checks its signature.
func (c *chunkedReader) endChunk() error {
	if _, err := io.ReadFull(c.br, c.crlf[:]); err != nil || c.crlf != [2]byte{'\r', '\n'} {
		return malformed("An aws-chunked chunk is longer than its declared size.")
	}
	if c.sig != nil {
		if !c.sig.next(c.sha.Sum(c.sum[:0]), c.pending[:]) {
			return wrapErr(CodeSignatureDoesNotMatch, "", errChunkSignature)
		}
	}
	return nil
}

// readTrailers reads the trailer section to the end of the body. Lines end
// in LF with an optional CR; empty lines are skipped (some SDKs send an
// extra one before the signature).
func (c *chunkedReader) readTrailers() error {
	raw, err := io.ReadAll(io.LimitReader(c.br, maxTrailerBytes+1))
	if err != nil {
		return malformed("The trailer section could not be read.")
	}
	if len(raw) > maxTrailerBytes {
		return malformed("The trailer section is too large.")
	}
	var canon []byte
	var sig string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		if sig != "" {
			return malformed("A trailer follows x-amz-trailer-signature.")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return malformed("A trailer line has no colon.")
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if name == trailerSigName {
			if c.sig == nil {
				return malformed("An unsigned trailer section carries a signature.")
			}
			sig = value
			continue
		}
		if !contains(c.trailers, name) {
			return wrapErr(CodeInvalidRequest, "The request sent a trailer it did not declare in x-amz-trailer.", errChunkFormat)
		}
		for _, f := range c.fields {
			if f.name == name {
				return malformed("A trailer is sent twice.")
			}
		}
		if len(c.fields) >= maxTrailerFields {
			return malformed("Too many trailers.")
		}
		c.fields = append(c.fields, trailerField{name, value})
		canon = append(canon, name...)
		canon = append(canon, ':')
		canon = append(canon, value...)
		canon = append(canon, '\n')
	}
	if c.sig != nil {
		if sig == "" {
			return wrapErr(CodeSignatureDoesNotMatch, "The trailer section has no x-amz-trailer-signature.", errTrailerMismatch)
		}
		sum := sha256.Sum256(canon)
		if !c.sig.trailer(sum[:], []byte(sig)) {
			return wrapErr(CodeSignatureDoesNotMatch, "", errTrailerMismatch)
		}
	}
	return nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
