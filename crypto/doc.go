// Package crypto owns Coffer's sealed formats: the chunked AES-256-GCM
// stream that object data is stored in, the exact size and range arithmetic
// over it, and the key hierarchy that produces and seals the keys. The byte
// layouts are specified in FORMAT.md, with known-answer vectors in testdata.
//
// The package name shadows the standard library's crypto; import this
// package under its own name and alias the stdlib packages in files that
// need both.
//
// # What it owns
//
//   - The version-1 sealed stream: 64 KiB plaintext chunks, each sealed with
//     AES-256-GCM under a key derived from the object (or part) key and an
//     Identity, with a counter nonce that is never stored and a final-chunk
//     flag in the associated data. EncryptWriter writes it; DecryptReader
//     reads any plaintext range of it from whole chunks.
//   - Size arithmetic: SealedSize, PlainSize and MapRange, exact both ways.
//   - Keys: Key (GenerateKey, NewKey, Zero), Salt (GenerateSalt, NewSalt),
//     DerivePartKey, DeriveS3KEK,
//     DeriveKEK (S3 Bucket Keys), SealKey/UnsealKey, and the SSE-C
//     CustomerKeyMAC/CheckCustomerKey.
//
// It does not know SSE modes, key managers, objects or drives: the engine
// decides which key seals which, records versions, sizes, salts and sealed
// keys, and passes Identity values. Names like DeriveS3KEK say which use a
// derivation is for; the labels inside keep those uses apart.
//
// # Guarantees
//
// A DecryptReader releases no byte of a chunk before that whole chunk has
// been authenticated. Flipped bits, swapped, reordered, dropped or spliced
// chunks, truncation at or inside a chunk, a missing final chunk, a wrong key
// and a wrong Identity all fail with ErrAuth or ErrTruncated (wrapped in a
// *ChunkError) before any plaintext of the failing chunk leaves.
//
// No (key, nonce) pair repeats as long as each key encrypts one stream;
// FORMAT.md explains why that is the contract and how the key hierarchy
// keeps it (fresh object keys, a fresh salt per part attempt).
//
// UnsealKey fails with the single error ErrUnseal for every malformed,
// tampered, wrong-KEK or wrong-binding blob. CheckCustomerKey compares in
// constant time.
//
// # Layers (DSSE)
//
// Two layers stack: the outer layer's plaintext is the inner layer's sealed
// stream, so its plaintext size is SealedSize(P) and the stored size
// SealedSize(SealedSize(P)). To read a range, map it on the inner layer with
// MapRange, then map the inner layer's sealed range on the outer layer; see
// FORMAT.md, "Two layers".
//
// # Concurrency
//
// Stages are not safe for concurrent use, and share no mutable state with
// each other: an EncryptWriter may run on one goroutine and the erasure
// stage it writes to on another. All functions are safe for concurrent use.
// The package keeps no mutable state apart from a sync.Pool of chunk
// buffers.
//
// # Buffer ownership
//
// Each stage takes one sealed-chunk buffer (64 KiB + 16) from a pool when it
// is created (EncryptWriter.ReadFrom takes a second one to look ahead) and
// reuses it for every chunk; Write, ReadFrom, Read and WriteTo
// allocate nothing per chunk. Buffers are cleared before they return to the
// pool, on EncryptWriter.Close/Abort and DecryptReader.Close; a stage that is
// never closed leaves its buffer to the garbage collector. Slices a stage
// passes to an io.Writer alias its buffer and must not be retained, as the
// io.Writer contract already says.
//
// # Key material
//
// Whoever receives a *Key owns it and calls Zero when done; the package never
// retains a *Key it is given, so a caller may zero its key as soon as a stage
// constructor returns. Derived bytes the package does not hand out (stream
// keys, one-time seal keys) are cleared as soon as the AEAD is built. State
// inside Go's HKDF, HMAC and AES implementations (pseudorandom keys, key
// schedules) cannot be wiped from here; stages drop their AEAD on Close and
// the rest becomes garbage when the call returns. Key values print as
// "crypto.Key(redacted)".
//
// # Errors
//
// Sentinels live in errors.go and read "crypto: ...". ChunkError names the
// failing chunk and unwraps to ErrAuth or ErrTruncated. I/O errors from a
// stage's source or destination are returned unchanged.
package crypto
