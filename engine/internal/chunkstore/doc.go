// Package chunkstore keeps the erasure-coded shards of byte streams in files
// on several drives. It places the k+m shards of a stream on k+m distinct
// drives, writes them as the stream arrives, syncs them, reads byte ranges
// back with bitrot checks, reconstructs from parity when shards are missing
// or corrupt, and lists what the drives hold so an index can be rebuilt. It
// knows nothing of buckets, objects or keys: a stream is an [ID] and the
// opaque trailer bytes its owner asks to store with it.
//
// All file I/O goes through a pebble [vfs.FS], so tests run on memory file
// systems, crash clones and fault-injecting wrappers.
//
// # Placement
//
// Each drive root holds shards/ and 256 fan-out directories shards/00 ..
// shards/ff. Shard i of stream id lives in <drive>/shards/<id[0] hex>/<id
// hex>.<i>, on drive Layout.Drives[i]. Placement rotates with the id, so
// parity shards spread evenly over the drives; online drives are preferred to
// drives found offline at Open. Files are created in their final place (ids
// are unique); a crash can leave orphan files behind, which the owner finds
// with [Store.Walk] and removes with [Store.RemoveAny].
//
// # Shard file format, version 1
//
// All integers are little-endian. A shard file is a header, one block per
// stripe, and a footer:
//
//	header (48 bytes)
//	  0  magic       "COFFERSH"
//	  8  version     uint16 = 1
//	 10  flags       uint16 = 0
//	 12  k           uint16   data shards
//	 14  m           uint16   parity shards
//	 16  shard       uint16   this file's shard index, 0..k+m-1
//	 18  reserved    uint16 = 0
//	 20  block size  uint32   stream bytes per stripe
//	 24  id          [16]byte stream id
//	 40  reserved    uint32 = 0
//	 44  crc         uint32   CRC-32C of bytes 0..43
//	blocks, for each stripe b = 0, 1, ...
//	  shard block    ceil(n_b/k) bytes, n_b = stream bytes in stripe b
//	  checksum       uint32   erasure.Checksum(id, shard, b, block)
//	footer
//	  trailer        T bytes, opaque, from Writer.Finish (T <= MaxTrailerSize)
//	  layout         L bytes, Layout.AppendBinary of the final layout
//	  stream size    uint64
//	  T              uint32
//	  L              uint32
//	  crc            uint32   erasure.Checksum(id, shard, 2^64-1, trailer|layout|size|T|L)
//	  magic          "COFFERFT"
//
// Every stripe but the last is full, so block b starts at byte
// 48 + b*(ceil(BlockSize/k)+4) and a range read seeks straight to it. The
// footer sits at the end so it is found from the file's length; its checksum
// is bound to the id and shard index, so a footer copied from another file
// does not verify. The file length is fully determined by k, the block size,
// the stream size, T and L, and readers of the footer check it.
//
// # Durability
//
// [Writer.Finish] syncs each shard file and then its fan-out directory
// before it returns (unless Options.NoSync). Open syncs the directories it
// creates. Nothing here is visible to the owner until Finish returns a
// Layout; making the stream reachable (an index commit) is the owner's job.
//
// # Degraded operation
//
// A write succeeds while at least k shards (all k+m when m is 0) were
// written and synced; the shards of failed drives are dropped and reported
// through Options.OnDamage. A read needs k good blocks per stripe: it reads
// only the data shards that cover the range, checks every block's checksum,
// and reads parity and reconstructs when a block is missing, short or
// corrupt. With more than m bad blocks in a stripe it fails with
// [ErrReadQuorum]; it never returns wrong bytes.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. A [Writer] and a reader returned by
// [Store.NewReader] belong to one goroutine each; internally both run
// helper goroutines so that the caller's work overlaps with coding and I/O.
// The OnDamage hook is called from those helper goroutines or from the
// caller's, possibly concurrently for different streams.
//
// # Buffer ownership
//
// Writer.Write copies what it is given; the caller may reuse p at once.
// Stripe buffers come from a per-Store pool and go back to it when a Writer
// finishes or aborts and when a reader is closed; a few are kept even across
// garbage collections. Beyond per-stream setup (files, goroutines, channels)
// the steady state of writing or reading a healthy stream allocates nothing
// per stripe, apart from what the Reed-Solomon library allocates per encode
// on CPUs without GFNI (one 24-byte scratch slice); degraded reads add the
// library's small per-stripe reconstruction bookkeeping.
package chunkstore
