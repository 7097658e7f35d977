package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
)

const (
	nonceSize  = 12
	prefixSize = 4
	aadSize    = 2 + identitySize // version, flags, identity

	flagFinal = 0x01
)

// stream is the per-stream AEAD state shared by the writer and the reader:
// the derived AES-256-GCM instance, the nonce (prefix fixed, counter
// rewritten per chunk) and the associated data (flags rewritten per chunk).
// It is owned by exactly one stage and not safe for concurrent use.
type stream struct {
	aead  cipher.AEAD
	nonce [nonceSize]byte
	aad   [aadSize]byte
}

// init derives the stream key and nonce prefix from key and id
// (FORMAT.md, "Stream key and nonces") and prepares the AEAD.
func (s *stream) init(key *Key, id Identity) error {
	if key == nil {
		return ErrNilKey
	}
	var idb [identitySize]byte
	id.put(idb[:])
	okm, err := derive(key, nil, labelStream, KeySize+prefixSize, idb[:])
	if err != nil {
		return err
	}
	defer clear(okm)
	block, err := aes.NewCipher(okm[:KeySize])
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	s.aead = aead
	copy(s.nonce[:prefixSize], okm[KeySize:])
	s.aad[0] = FormatVersion
	s.aad[1] = 0
	copy(s.aad[2:], idb[:])
	return nil
}

// set writes the chunk counter into the nonce and the final flag into the
// associated data.
func (s *stream) set(index uint64, final bool) {
	binary.BigEndian.PutUint64(s.nonce[prefixSize:], index)
	s.aad[1] = 0
	if final {
		s.aad[1] = flagFinal
	}
}

// seal appends the sealed chunk to dst (cipher.AEAD aliasing rules apply).
func (s *stream) seal(dst, plain []byte, index uint64, final bool) []byte {
	s.set(index, final)
	return s.aead.Seal(dst, s.nonce[:], plain, s.aad[:])
}

// open appends the opened chunk to dst (cipher.AEAD aliasing rules apply).
func (s *stream) open(dst, sealed []byte, index uint64, final bool) ([]byte, error) {
	s.set(index, final)
	return s.aead.Open(dst, s.nonce[:], sealed, s.aad[:])
}

// release drops the AEAD. Go's AES key schedule cannot be wiped; dropping
// the reference is the best this package can do (doc.go, "Key material").
func (s *stream) release() { s.aead = nil }

// chunkBuf holds one sealed chunk.
type chunkBuf [SealedChunkSize]byte

var chunkPool = sync.Pool{New: func() any { return new(chunkBuf) }}

func getChunk() *chunkBuf { return chunkPool.Get().(*chunkBuf) }

// putChunk clears b, which may hold plaintext, and returns it to the pool.
func putChunk(b *chunkBuf) {
	if b != nil {
		clear(b[:])
		chunkPool.Put(b)
	}
}
