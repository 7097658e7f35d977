// Package erasure stripes a byte stream into k data and m parity shards with
// Reed-Solomon coding, checksums every shard block for bitrot detection, and
// reconstructs lost or corrupt shards. It knows nothing about files, drives or
// keys: callers move the bytes, this package computes on them.
//
// # What it owns
//
// A stream is cut into stripes of BlockSize bytes (the last stripe may be
// shorter). Each stripe of n bytes becomes k data shard blocks and m parity
// shard blocks of ShardLen(n) = ceil(n/k) bytes each. Data shard block i of a
// stripe holds stream bytes [i*s, (i+1)*s) of that stripe, zero padded at the
// end, so the data shards of a stripe are simply consecutive slices of the
// stripe's bytes; splitting and joining never copy.
//
// Every shard block carries a CRC-32C (Castagnoli) checksum, computed by
// [Checksum]. The checksum is bound to the block's position: the stream id,
// the shard index and the block (stripe) index are hashed ahead of the data, so
// a block that is intact but sits in the wrong shard, stripe or stream fails
// its checksum like a rotten one. CRC-32C runs at tens of GB/s with the
// SSE4.2 instruction and catches every burst error of up to 32 bits; it is a
// bitrot detector, not a MAC (the crypto layer authenticates the data).
//
// # Guarantees
//
//   - Any m missing or corrupt shards of a stripe can be reconstructed; with
//     more, [Codec.Reconstruct] fails with [ErrTooFewShards] and changes
//     nothing the caller relies on.
//   - The coding is the systematic Reed-Solomon code of
//     github.com/klauspost/reedsolomon with its default (Vandermonde-derived)
//     matrix, using the fastest SIMD path the CPU offers. [SelfTest] checks
//     the output against a known answer so a miscompiled or misdetected SIMD
//     path cannot silently corrupt data; run it once at startup.
//   - Nothing panics on bad input: sizes and shard counts are checked.
//
// # Concurrency
//
// A [Codec] is immutable after [New] and safe for concurrent use by many
// goroutines. [Checksum] is a pure function.
//
// # Buffer ownership
//
// The caller owns every buffer. [Codec.Encode] fills parity into the caller's
// parity buffers and sets the data shard slices to alias the caller's stripe
// buffer; [Codec.Reconstruct] writes into the capacity of the caller's empty
// shard slices. Neither retains a buffer after it returns, and neither adds
// an allocation to what the Reed-Solomon library does per call: nothing for
// encoding on GFNI CPUs, one pooled 24-byte scratch slice boxed per call on
// AVX2-only CPUs, and a few small bookkeeping slices (not proportional to the
// data) when reconstructing. [Checksum] never allocates.
package erasure
