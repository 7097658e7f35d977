package erasure

import (
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/reedsolomon"
)

func benchEncode(b *testing.B, c *Codec) {
	stripe := make([]byte, c.BlockSize(), c.StripeBufferSize())
	fillPattern(stripe, 1)
	shards := make([][]byte, c.TotalShards())
	parity := make([][]byte, c.ParityShards())
	for j := range parity {
		parity[j] = make([]byte, c.ShardBlockSize())
	}
	b.SetBytes(int64(c.BlockSize()))
	b.ReportAllocs()
	for b.Loop() {
		copy(shards[c.DataShards():], parity)
		if err := c.Encode(stripe, shards); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, l := range []struct{ k, m int }{{4, 2}, {8, 4}, {12, 4}} {
		c, err := New(l.k, l.m, DefaultBlockSize)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%d+%d/1MiB", l.k, l.m), func(b *testing.B) { benchEncode(b, c) })
	}
	// The library's own goroutine splitting, for comparison with the
	// single-goroutine configuration New uses.
	c, err := newCodec(4, 2, DefaultBlockSize, reedsolomon.WithMaxGoroutines(8))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("4+2/1MiB/lib-goroutines", func(b *testing.B) { benchEncode(b, c) })
}

func BenchmarkReconstruct(b *testing.B) {
	c, err := New(4, 2, DefaultBlockSize)
	if err != nil {
		b.Fatal(err)
	}
	stripe := make([]byte, c.BlockSize(), c.StripeBufferSize())
	fillPattern(stripe, 2)
	shards := make([][]byte, 6)
	shards[4], shards[5] = make([]byte, c.ShardBlockSize()), make([]byte, c.ShardBlockSize())
	if err := c.Encode(stripe, shards); err != nil {
		b.Fatal(err)
	}
	lost0, lost2 := shards[0][:0], shards[2][:0]
	required := []bool{true, true, true, true}
	b.SetBytes(int64(c.BlockSize()))
	b.ReportAllocs()
	for b.Loop() {
		shards[0], shards[2] = lost0, lost2
		if err := c.Reconstruct(shards, required); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	p := make([]byte, 256<<10)
	fillPattern(p, 3)
	var id [16]byte
	b.Run("position-bound/256KiB", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			_ = Checksum(id, 1, 2, p)
		}
	})
	b.Run("raw-crc32c/256KiB", func(b *testing.B) {
		tab := crc32.MakeTable(crc32.Castagnoli)
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			_ = crc32.Checksum(p, tab)
		}
	})
}
