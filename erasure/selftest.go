package erasure

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/klauspost/reedsolomon"
)

// selfTestWant is the SHA-256 of every shard block and checksum that
// selfTestDigest produces. It was computed with the library's generic
// (non-SIMD) kernels; TestSelfTestGeneric keeps it honest on every kernel the
// test machine has.
const selfTestWant = "7c7972a070a6fa7fe13e0c8e125b95b3fa67c71e6e8f668c68483b98c87abb86"

// selfTestLayouts covers one shard (replication), single parity, the common
// layouts and a wide one; the block sizes are not multiples of the SIMD
// width, so the kernels' tail handling is exercised too.
var selfTestLayouts = [...]struct{ k, m, blockSize int }{
	{1, 0, 1000},
	{1, 2, 4099},
	{2, 1, 8191},
	{4, 2, 65536 + 17},
	{6, 3, 40000},
	{8, 4, 131072 - 5},
	{12, 4, 12*4096 + 7},
	{16, 16, 16*1024 + 1},
}

// SelfTest encodes a fixed pattern with every layout in a small table,
// checksums the shard blocks, drops up to m shards and reconstructs them, and
// compares a digest of the output with a known answer computed once with
// portable code. A mismatch means the Reed-Solomon or CRC kernels picked for
// this CPU produce wrong output: the caller must not store data. Run it once
// at startup; it takes about a millisecond.
func SelfTest() error {
	got, err := selfTestDigest()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSelfTest, err)
	}
	if hex.EncodeToString(got[:]) != selfTestWant {
		return fmt.Errorf("%w: digest %x, want %s", ErrSelfTest, got, selfTestWant)
	}
	return nil
}

func selfTestDigest(opts ...reedsolomon.Option) ([32]byte, error) {
	h := sha256.New()
	var stream [16]byte
	copy(stream[:], "coffer self-test")
	for li, l := range selfTestLayouts {
		c, err := newCodec(l.k, l.m, l.blockSize, opts...)
		if err != nil {
			return [32]byte{}, err
		}
		// A full stripe and a short one, whose padding must be zeroed.
		for _, n := range [...]int{l.blockSize, l.blockSize - 3} {
			stripe := make([]byte, n, c.StripeBufferSize())
			fillPattern(stripe, uint32(li*7919+n))
			// Garbage in the padding must not reach the output.
			for i := n; i < cap(stripe); i++ {
				stripe[:cap(stripe)][i] = 0xa5
			}
			shards := make([][]byte, c.TotalShards())
			for j := l.k; j < len(shards); j++ {
				shards[j] = make([]byte, c.ShardBlockSize())
			}
			if err := c.Encode(stripe, shards); err != nil {
				return [32]byte{}, err
			}
			var sum [4]byte
			for i, sh := range shards {
				h.Write(sh)
				binary.LittleEndian.PutUint32(sum[:], Checksum(stream, i, uint64(n), sh))
				h.Write(sum[:])
			}
			if err := selfTestReconstruct(c, shards); err != nil {
				return [32]byte{}, fmt.Errorf("layout %d+%d: %w", l.k, l.m, err)
			}
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	return d, nil
}

// selfTestReconstruct drops m shards (data first, then parity, from both
// ends) and checks that reconstruction restores them exactly.
func selfTestReconstruct(c *Codec, shards [][]byte) error {
	if c.m == 0 {
		return nil
	}
	work := make([][]byte, len(shards))
	for i, sh := range shards {
		work[i] = append([]byte(nil), sh...)
	}
	for d := 0; d < c.m; d++ {
		i := d / 2
		if d%2 == 1 {
			i = len(work) - 1 - d/2
		}
		work[i] = work[i][:0]
	}
	if err := c.Reconstruct(work, nil); err != nil {
		return err
	}
	for i := range shards {
		if !bytes.Equal(work[i], shards[i]) {
			return fmt.Errorf("shard %d reconstructed wrong", i)
		}
	}
	return nil
}

// fillPattern fills p with a xorshift32 sequence from seed.
func fillPattern(p []byte, seed uint32) {
	x := seed*2654435761 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x >> 24)
	}
}
