package erasure

import (
	"encoding/binary"
	"hash/crc32"
)

// ChecksumSize is the length in bytes of a shard block checksum as it is
// stored (little-endian uint32).
const ChecksumSize = 4

// castagnoli is the CRC-32C table; with it hash/crc32 uses the SSE4.2 (or
// ARMv8 CRC) instructions. Immutable after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of one shard block bound to its position:
// stream identifies the stream (any 16 bytes unique per stream), shard is the
// shard index (0..k+m-1) and block the stripe index within the stream. The
// position is hashed ahead of p, so an intact block moved to another shard,
// stripe or stream does not match its new position's checksum.
//
// Checksum does not allocate and is safe for concurrent use.
func Checksum(stream [16]byte, shard int, block uint64, p []byte) uint32 {
	var pos [28]byte
	copy(pos[:16], stream[:])
	binary.LittleEndian.PutUint32(pos[16:20], uint32(shard))
	binary.LittleEndian.PutUint64(pos[20:28], block)
	// The 28 position bytes go through the table byte by byte: handing a
	// stack array to crc32.Update would make it escape (the accelerated
	// implementation is called through a function value) and allocate.
	crc := ^uint32(0)
	for _, b := range pos {
		crc = castagnoli[byte(crc)^b] ^ crc>>8
	}
	return crc32.Update(^crc, castagnoli, p)
}
