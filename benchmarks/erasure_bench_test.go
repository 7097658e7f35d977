package benchmarks

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/cofferdb/coffer/erasure"
	"github.com/klauspost/reedsolomon"
)

// The erasure stage of the data path next to its ceilings, measured in the
// same run: Coffer's codec against the raw reedsolomon library (its default
// options, which pick the fastest SIMD kernels, and the single-goroutine
// configuration the codec uses), and the position-bound bitrot checksum
// against raw CRC-32C. MB/s counts stream bytes.

const stripeSize = 1 << 20

func randomStripe(n int) []byte {
	r := rand.New(rand.NewPCG(7, 11))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func BenchmarkErasureEncode4x2(b *testing.B) {
	data := randomStripe(stripeSize)
	b.Run("coffer", func(b *testing.B) {
		c, err := erasure.New(4, 2, stripeSize)
		if err != nil {
			b.Fatal(err)
		}
		stripe := erasure.AllocAligned(1, c.StripeBufferSize())[0][:stripeSize]
		copy(stripe, data)
		parity := erasure.AllocAligned(2, c.ShardBlockSize())
		shards := make([][]byte, 6)
		b.SetBytes(stripeSize)
		b.ReportAllocs()
		for b.Loop() {
			copy(shards[4:], parity)
			if err := c.Encode(stripe, shards); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, raw := range []struct {
		name string
		opts []reedsolomon.Option
	}{
		{"reedsolomon-default", nil},
		{"reedsolomon-1-goroutine", []reedsolomon.Option{reedsolomon.WithMaxGoroutines(1)}},
	} {
		b.Run(raw.name, func(b *testing.B) {
			enc, err := reedsolomon.New(4, 2, raw.opts...)
			if err != nil {
				b.Fatal(err)
			}
			shards := reedsolomon.AllocAligned(6, stripeSize/4)
			for i := range 4 {
				copy(shards[i], data[i*stripeSize/4:])
			}
			b.SetBytes(stripeSize)
			b.ReportAllocs()
			for b.Loop() {
				if err := enc.Encode(shards); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkErasureReconstruct4x2Lost2(b *testing.B) {
	data := randomStripe(stripeSize)
	b.Run("coffer", func(b *testing.B) {
		c, err := erasure.New(4, 2, stripeSize)
		if err != nil {
			b.Fatal(err)
		}
		stripe := erasure.AllocAligned(1, c.StripeBufferSize())[0][:stripeSize]
		copy(stripe, data)
		shards := make([][]byte, 6)
		copy(shards[4:], erasure.AllocAligned(2, c.ShardBlockSize()))
		if err := c.Encode(stripe, shards); err != nil {
			b.Fatal(err)
		}
		lost0, lost2 := shards[0][:0], shards[2][:0]
		required := []bool{true, true, true, true}
		b.SetBytes(stripeSize)
		b.ReportAllocs()
		for b.Loop() {
			shards[0], shards[2] = lost0, lost2
			if err := c.Reconstruct(shards, required); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reedsolomon-default", func(b *testing.B) {
		enc, err := reedsolomon.New(4, 2)
		if err != nil {
			b.Fatal(err)
		}
		shards := reedsolomon.AllocAligned(6, stripeSize/4)
		for i := range 4 {
			copy(shards[i], data[i*stripeSize/4:])
		}
		if err := enc.Encode(shards); err != nil {
			b.Fatal(err)
		}
		lost0, lost2 := shards[0][:0], shards[2][:0]
		b.SetBytes(stripeSize)
		b.ReportAllocs()
		for b.Loop() {
			shards[0], shards[2] = lost0, lost2
			if err := enc.ReconstructData(shards); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkBitrotChecksum checksums one 4+2 stripe's six shard blocks
// (1.5x the stream bytes), position-bound, against raw CRC-32C of the same
// blocks.
func BenchmarkBitrotChecksum4x2(b *testing.B) {
	blocks := make([][]byte, 6)
	all := randomStripe(6 * stripeSize / 4)
	for i := range blocks {
		blocks[i] = all[i*stripeSize/4 : (i+1)*stripeSize/4]
	}
	var id [16]byte
	b.Run("coffer-position-bound", func(b *testing.B) {
		b.SetBytes(stripeSize)
		b.ReportAllocs()
		for b.Loop() {
			for i, blk := range blocks {
				_ = erasure.Checksum(id, i, 3, blk)
			}
		}
	})
	b.Run("raw-crc32c", func(b *testing.B) {
		tab := crc32.MakeTable(crc32.Castagnoli)
		b.SetBytes(stripeSize)
		b.ReportAllocs()
		for b.Loop() {
			for _, blk := range blocks {
				_ = crc32.Checksum(blk, tab)
			}
		}
	})
}
