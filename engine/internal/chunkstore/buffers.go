package chunkstore

import (
	"sync"
	"sync/atomic"

	"github.com/cofferdb/coffer/erasure"
)

// stripeBuf holds one stripe in flight: the stream bytes (which double as
// the data shard blocks) and the parity blocks. Writers and readers keep two
// of them so the caller's work overlaps with coding and I/O; they come from
// the codec's pool and go back to it.
type stripeBuf struct {
	// data holds the stripe's stream bytes; data shard i of a stripe of n
	// bytes is data[i*s:(i+1)*s], s = ShardLen(n). Its capacity has
	// erasure.ChecksumSize spare bytes at the end so a reader can fetch the
	// last data block and its checksum with one read.
	data []byte
	// parity[j] has capacity ShardBlockSize+ChecksumSize.
	parity [][]byte
	// shards are the k+m shard blocks of the current stripe.
	shards [][]byte

	// Filled in per stripe.
	n     int    // stream bytes in the stripe
	index uint64 // stripe index within the stream

	// Writer: shard writers still to write this stripe; lost is set (by
	// the writer's caller only) when a detached shard kept the buffer.
	pending atomic.Int32
	lost    bool

	// Reader: the delivered byte range data[lo:hi], or the error that
	// ended the stream.
	lo, hi int
	err    error
	// Reader scratch, per stripe.
	good     []bool // block verified (or rebuilt) for this stripe
	tried    []bool
	required []bool
}

// bufferCache hands out stripe buffers of one codec. A few are kept in a
// bounded list that garbage collection does not empty, so the usual handful
// of concurrent writers and readers never reallocate their 1.5 MiB sets;
// bursts beyond it go through a sync.Pool.
type bufferCache struct {
	c    *erasure.Codec
	keep chan *stripeBuf
	pool sync.Pool
}

// keptStripeBufs is how many stripe buffers per codec a Store keeps
// regardless of garbage collection (two per active Writer or reader).
const keptStripeBufs = 8

func newBufferCache(c *erasure.Codec) *bufferCache {
	bc := &bufferCache{c: c, keep: make(chan *stripeBuf, keptStripeBufs)}
	bc.pool.New = func() any { return newStripeBuf(c) }
	return bc
}

func (bc *bufferCache) get() *stripeBuf {
	select {
	case b := <-bc.keep:
		return b
	default:
		return bc.pool.Get().(*stripeBuf)
	}
}

func (bc *bufferCache) put(b *stripeBuf) {
	b.err = nil
	select {
	case bc.keep <- b:
	default:
		bc.pool.Put(b)
	}
}

func newStripeBuf(c *erasure.Codec) *stripeBuf {
	k, m := c.DataShards(), c.ParityShards()
	sbs := c.ShardBlockSize()
	b := &stripeBuf{
		data:     erasure.AllocAligned(1, c.StripeBufferSize()+erasure.ChecksumSize)[0],
		shards:   make([][]byte, k+m),
		good:     make([]bool, k+m),
		tried:    make([]bool, k+m),
		required: make([]bool, k),
	}
	if m > 0 {
		b.parity = erasure.AllocAligned(m, sbs+erasure.ChecksumSize)
	}
	return b
}
