package erasure

import (
	"errors"

	"github.com/klauspost/reedsolomon"
)

const (
	// MaxShards is the largest k+m a Codec accepts (the limit of GF(2^8)
	// Reed-Solomon coding).
	MaxShards = 256

	// MaxBlockSize is the largest stripe a Codec accepts. Stripes near 1 MiB
	// keep the coding in cache; much larger ones are slower, not faster.
	MaxBlockSize = 16 << 20

	// DefaultBlockSize is the stripe size callers should use unless they have
	// measured something better.
	DefaultBlockSize = 1 << 20
)

// Codec encodes and reconstructs the stripes of one erasure layout: k data
// shards, m parity shards and a fixed block (stripe) size.
//
// A Codec is immutable and safe for concurrent use.
type Codec struct {
	k, m       int
	blockSize  int
	shardBlock int // ceil(blockSize / k)
	enc        reedsolomon.Encoder
}

// New returns a Codec for dataShards (k >= 1) data shards and parityShards
// (m >= 0) parity shards, k+m <= MaxShards, striping the stream in blocks of
// blockSize bytes (1..MaxBlockSize). Invalid arguments give ErrShardCount or
// ErrBlockSize, both reported if both are wrong.
func New(dataShards, parityShards, blockSize int) (*Codec, error) {
	return newCodec(dataShards, parityShards, blockSize)
}

// newCodec is New with extra reedsolomon options, for tests that compare the
// SIMD paths against the generic one.
func newCodec(k, m, blockSize int, opts ...reedsolomon.Option) (*Codec, error) {
	var errs []error
	if k < 1 || m < 0 || k > MaxShards || m > MaxShards || k+m > MaxShards {
		errs = append(errs, ErrShardCount)
	}
	if blockSize < 1 || blockSize > MaxBlockSize {
		errs = append(errs, ErrBlockSize)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Codec{k: k, m: m, blockSize: blockSize, shardBlock: ceilDiv(blockSize, k)}
	if m > 0 {
		// The library picks the fastest kernel the CPU has (GFNI/AVX-512,
		// AVX2, SSSE3, ...). Goroutine splitting is sized to our shard block
		// so a 1 MiB stripe is not cut into pieces too small to pay off.
		all := append([]reedsolomon.Option{reedsolomon.WithMaxGoroutines(1)}, opts...)
		enc, err := reedsolomon.New(k, m, all...)
		if err != nil {
			return nil, errors.Join(ErrShardCount, err)
		}
		c.enc = enc
	}
	return c, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// DataShards returns k.
func (c *Codec) DataShards() int { return c.k }

// ParityShards returns m.
func (c *Codec) ParityShards() int { return c.m }

// TotalShards returns k+m.
func (c *Codec) TotalShards() int { return c.k + c.m }

// BlockSize returns the number of stream bytes in a full stripe.
func (c *Codec) BlockSize() int { return c.blockSize }

// ShardBlockSize returns the length of every shard block of a full stripe,
// ceil(BlockSize/k). It is the capacity each parity buffer needs.
func (c *Codec) ShardBlockSize() int { return c.shardBlock }

// StripeBufferSize returns k*ShardBlockSize, the capacity a stripe buffer
// needs so that Encode can split any stripe in place.
func (c *Codec) StripeBufferSize() int { return c.k * c.shardBlock }

// ShardLen returns the length of each shard block of a stripe holding n
// stream bytes: ceil(n/k), or 0 for n <= 0.
func (c *Codec) ShardLen(n int) int {
	if n <= 0 {
		return 0
	}
	return ceilDiv(n, c.k)
}

// Stripes returns the number of stripes of a stream of streamSize bytes.
func (c *Codec) Stripes(streamSize int64) int64 {
	if streamSize <= 0 {
		return 0
	}
	bs := int64(c.blockSize)
	return (streamSize + bs - 1) / bs
}

// StripeLen returns the number of stream bytes in stripe b of a stream of
// streamSize bytes (0 if b is past the end).
func (c *Codec) StripeLen(streamSize, b int64) int {
	bs := int64(c.blockSize)
	if b < 0 || streamSize <= 0 || b >= c.Stripes(streamSize) {
		return 0
	}
	return int(min(bs, streamSize-b*bs))
}

// ShardSize returns the total length of the shard blocks (checksums not
// included) that one shard holds for a stream of streamSize bytes.
func (c *Codec) ShardSize(streamSize int64) int64 {
	if streamSize <= 0 {
		return 0
	}
	bs := int64(c.blockSize)
	full := streamSize / bs
	return full*int64(c.shardBlock) + int64(c.ShardLen(int(streamSize%bs)))
}

// Encode splits one stripe into k data shard blocks and computes the m parity
// blocks, without copying the data and without allocating.
//
// stripe holds the stripe's n stream bytes (1 <= n <= BlockSize) and must
// have capacity k*ShardLen(n) (StripeBufferSize always suffices); Encode
// zeroes the padding stripe[n:k*ShardLen(n)]. shards must have length k+m.
// On return, with s = ShardLen(n), shards[i] for i < k is stripe[i*s:(i+1)*s]
// (aliasing the caller's stripe) and shards[k+j] is shards[k+j][:s] holding
// parity j; each parity slice must come with capacity >= s. The caller keeps
// ownership of every buffer.
func (c *Codec) Encode(stripe []byte, shards [][]byte) error {
	n := len(stripe)
	switch {
	case n == 0:
		return ErrEmptyStripe
	case n > c.blockSize:
		return ErrBlockSize
	case len(shards) != c.k+c.m:
		return ErrShardSize
	}
	s := ceilDiv(n, c.k)
	need := c.k * s
	if cap(stripe) < need {
		return ErrShortBuffer
	}
	for j := c.k; j < c.k+c.m; j++ {
		if cap(shards[j]) < s {
			return ErrShortBuffer
		}
	}
	full := stripe[:need]
	clear(full[n:])
	for i := 0; i < c.k; i++ {
		shards[i] = full[i*s : (i+1)*s : (i+1)*s]
	}
	for j := c.k; j < c.k+c.m; j++ {
		shards[j] = shards[j][:s]
	}
	if c.m == 0 {
		return nil
	}
	return c.enc.Encode(shards)
}

// Reconstruct rebuilds the missing shard blocks of one stripe in place.
//
// shards has length k+m; a shard block that is missing or known to be corrupt
// is passed as an empty slice (len 0) whose capacity is at least the length s
// of the present blocks, which must all be equal. At least k blocks must be
// present, or ErrTooFewShards is returned. If required is nil every missing
// block is rebuilt; otherwise required has length k (only data blocks) or k+m
// and only the missing blocks marked true are rebuilt, the others stay empty.
// Rebuilt blocks are written into the capacity of their slices, which are
// resliced to length s. Reconstruct does not verify anything: check the
// blocks' checksums before, so that only good blocks are present.
func (c *Codec) Reconstruct(shards [][]byte, required []bool) error {
	if len(shards) != c.k+c.m || (required != nil && len(required) != c.k && len(required) != c.k+c.m) {
		return ErrShardSize
	}
	s, present := 0, 0
	for _, sh := range shards {
		if len(sh) == 0 {
			continue
		}
		if present > 0 && len(sh) != s {
			return ErrShardSize
		}
		s = len(sh)
		present++
	}
	if present < c.k {
		return ErrTooFewShards
	}
	if present == c.k+c.m {
		return nil
	}
	for i, sh := range shards {
		if len(sh) == 0 && (required == nil || (i < len(required) && required[i])) && cap(sh) < s {
			return ErrShortBuffer
		}
	}
	var err error
	if required == nil {
		err = c.enc.Reconstruct(shards)
	} else {
		err = c.enc.ReconstructSome(shards, required)
	}
	if errors.Is(err, reedsolomon.ErrTooFewShards) {
		return ErrTooFewShards
	}
	return err
}

// Verify reports whether the parity blocks of one stripe match its data
// blocks. All k+m blocks must be present and of equal length. It is meant for
// scrubbing; reads rely on the per-block checksums instead. Verify allocates
// scratch space.
func (c *Codec) Verify(shards [][]byte) (bool, error) {
	if len(shards) != c.k+c.m {
		return false, ErrShardSize
	}
	for _, sh := range shards {
		if len(sh) != len(shards[0]) {
			return false, ErrShardSize
		}
	}
	if len(shards[0]) == 0 {
		return false, ErrShardSize
	}
	if c.m == 0 {
		return true, nil
	}
	return c.enc.Verify(shards)
}

// AllocAligned returns n zeroed buffers of size bytes each, carved from one
// allocation and aligned to 64 bytes, which the SIMD kernels prefer. Use it
// for long-lived stripe and parity buffers.
func AllocAligned(n, size int) [][]byte { return reedsolomon.AllocAligned(n, size) }
