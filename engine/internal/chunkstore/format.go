package chunkstore

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"strconv"

	"github.com/cofferdb/coffer/erasure"
)

// The shard file format; see the package documentation.
const (
	formatVersion = 1
	headerSize    = 48
	tailSize      = 28 // stream size, T, L, crc, magic
	headerMagic   = "COFFERSH"
	footerMagic   = "COFFERFT"

	// footerBlock is the block index the footer checksum is bound to; no
	// stripe has it.
	footerBlock = math.MaxUint64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the fixed header of a shard file.
type header struct {
	k, m, shard int
	blockSize   int
	id          ID
}

// encode writes h into b[:headerSize].
func (h *header) encode(b *[headerSize]byte) {
	*b = [headerSize]byte{}
	copy(b[0:8], headerMagic)
	binary.LittleEndian.PutUint16(b[8:], formatVersion)
	binary.LittleEndian.PutUint16(b[12:], uint16(h.k))
	binary.LittleEndian.PutUint16(b[14:], uint16(h.m))
	binary.LittleEndian.PutUint16(b[16:], uint16(h.shard))
	binary.LittleEndian.PutUint32(b[20:], uint32(h.blockSize))
	copy(b[24:40], h.id[:])
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
}

// parseHeader decodes and checks a header. Errors are marked ErrCorrupt.
func parseHeader(b []byte) (header, error) {
	if len(b) < headerSize {
		return header{}, corruptf("header is %d bytes", len(b))
	}
	b = b[:headerSize]
	if string(b[0:8]) != headerMagic {
		return header{}, corruptf("bad header magic")
	}
	if got, want := binary.LittleEndian.Uint32(b[44:]), crc32.Checksum(b[:44], castagnoli); got != want {
		return header{}, corruptf("header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != formatVersion {
		return header{}, corruptf("unknown format version %d", v)
	}
	if binary.LittleEndian.Uint16(b[10:]) != 0 || binary.LittleEndian.Uint16(b[18:]) != 0 || binary.LittleEndian.Uint32(b[40:]) != 0 {
		return header{}, corruptf("reserved header fields are set")
	}
	h := header{
		k:         int(binary.LittleEndian.Uint16(b[12:])),
		m:         int(binary.LittleEndian.Uint16(b[14:])),
		shard:     int(binary.LittleEndian.Uint16(b[16:])),
		blockSize: int(binary.LittleEndian.Uint32(b[20:])),
	}
	copy(h.id[:], b[24:40])
	if h.k < 1 || h.k+h.m > erasure.MaxShards || h.shard >= h.k+h.m ||
		h.blockSize < 1 || h.blockSize > erasure.MaxBlockSize {
		return header{}, corruptf("header out of range: %d+%d shard %d block size %d", h.k, h.m, h.shard, h.blockSize)
	}
	return h, nil
}

// footer is what the end of a shard file says about its stream.
type footer struct {
	size    int64
	trailer []byte // aliases the buffer it was parsed from
	layout  Layout
}

// appendFooter appends the footer of shard `shard` of stream id.
func appendFooter(dst []byte, id ID, shard int, trailer []byte, l Layout, size int64) []byte {
	start := len(dst)
	dst = append(dst, trailer...)
	dst = l.AppendBinary(dst)
	ll := len(dst) - start - len(trailer)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(size))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(trailer)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(ll))
	sum := erasure.Checksum(id, shard, footerBlock, dst[start:])
	dst = binary.LittleEndian.AppendUint32(dst, sum)
	return append(dst, footerMagic...)
}

// parseTail decodes the fixed-size end of a footer, giving the stream size
// and the lengths of the trailer and layout that precede it.
func parseTail(b []byte) (size int64, tl, ll int, err error) {
	if len(b) != tailSize {
		return 0, 0, 0, corruptf("footer tail is %d bytes", len(b))
	}
	if string(b[20:28]) != footerMagic {
		return 0, 0, 0, corruptf("bad footer magic")
	}
	s := binary.LittleEndian.Uint64(b[0:])
	t := binary.LittleEndian.Uint32(b[8:])
	l := binary.LittleEndian.Uint32(b[12:])
	if s > math.MaxInt64/2 || t > MaxTrailerSize || l > maxLayoutLen {
		return 0, 0, 0, corruptf("footer out of range: size %d trailer %d layout %d", s, t, l)
	}
	return int64(s), int(t), int(l), nil
}

// parseFooter decodes and checks a whole footer (trailer, layout and tail)
// of shard `shard` of stream id. The returned trailer aliases b.
func parseFooter(b []byte, id ID, shard int) (footer, error) {
	if len(b) < tailSize {
		return footer{}, corruptf("footer is %d bytes", len(b))
	}
	size, tl, ll, err := parseTail(b[len(b)-tailSize:])
	if err != nil {
		return footer{}, err
	}
	if tl+ll+tailSize != len(b) {
		return footer{}, corruptf("footer length %d, want %d", len(b), tl+ll+tailSize)
	}
	sumAt := len(b) - 8 - 4
	if got, want := binary.LittleEndian.Uint32(b[sumAt:]), erasure.Checksum(id, shard, footerBlock, b[:sumAt]); got != want {
		return footer{}, corruptf("footer checksum mismatch")
	}
	l, n, err := DecodeLayout(b[tl : tl+ll])
	if err != nil || n != ll {
		return footer{}, corruptf("footer layout: %v", err)
	}
	if shard >= len(l.Drives) {
		return footer{}, corruptf("shard %d outside its layout %d+%d", shard, l.DataShards, l.ParityShards)
	}
	return footer{size: size, trailer: b[:tl:tl], layout: l}, nil
}

// shardFileSize returns the length of a complete shard file.
func shardFileSize(k, blockSize int, size int64, tl, ll int) int64 {
	if size <= 0 {
		return headerSize + int64(tl+ll+tailSize)
	}
	bs := int64(blockSize)
	stripes := (size + bs - 1) / bs
	sbs := int64((blockSize + k - 1) / k)
	last := size - (stripes-1)*bs
	body := (stripes-1)*sbs + (last+int64(k)-1)/int64(k) + stripes*erasure.ChecksumSize
	return headerSize + body + int64(tl+ll+tailSize)
}

// blockOffset returns the file offset of block b of a shard with full
// shard blocks of sbs bytes.
func blockOffset(sbs int, b int64) int64 {
	return headerSize + b*int64(sbs+erasure.ChecksumSize)
}

// shardName returns the file name of shard `shard` of stream id.
func shardName(id ID, shard int) string {
	return id.String() + "." + strconv.Itoa(shard)
}

// parseShardName parses "<32 hex>.<shard>" as written by shardName.
func parseShardName(name string) (ID, int, bool) {
	if len(name) < 34 || name[32] != '.' {
		return ID{}, 0, false
	}
	id, err := ParseID(name[:32])
	if err != nil {
		return ID{}, 0, false
	}
	digits := name[33:]
	if len(digits) > 3 || (len(digits) > 1 && digits[0] == '0') {
		return ID{}, 0, false
	}
	shard, err := strconv.Atoi(digits)
	if err != nil || shard < 0 || shard >= erasure.MaxShards || digits[0] == '+' || digits[0] == '-' {
		return ID{}, 0, false
	}
	return id, shard, true
}

// fanout returns the fan-out directory name of id.
func fanout(id ID) string { return id.String()[:2] }
