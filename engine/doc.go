// Package engine is Coffer's embeddable object store: buckets and objects
// in S3-neutral terms, stored erasure-coded over several local drives with
// a Pebble index.
//
// # Using it
//
//	e, err := engine.Open("/var/lib/coffer", nil) // one drive, defaults
//	...
//	defer e.Close()
//	e.CreateBucket(ctx, "photos")
//	e.PutObject(ctx, "photos", "cat.jpg", file, &engine.PutOptions{Size: n})
//	obj, err := e.GetObject(ctx, "photos", "cat.jpg", nil)
//
// An Engine is safe for concurrent use. Errors are the sentinels in
// errors.go (test them with errors.Is); the engine never speaks HTTP.
//
// # Buckets and owners
//
// A bucket record keeps the id of its owner (CreateBucketWithOptions,
// SetBucketOwner; BucketInfo.Owner), copied into the per-drive bucket
// markers so that RebuildIndex keeps it. The id is opaque to the engine,
// which enforces no access rules: the S3 facade decides who may use a
// bucket. An empty owner is the root user; buckets written before owners
// were recorded decode that way.
//
// # Where data lives
//
// Objects larger than Options.InlineThreshold are striped into k data and
// m parity shards (package erasure), one shard file per drive, each block
// with its own checksum, each file ending in a self-description of the
// object. Smaller objects live inside the index record, so that a 4 KiB
// PUT costs one group-committed index write instead of k+m file creations
// and fsyncs.
//
// # Where the index lives, and why
//
// The index is a Pebble database replicated on the first max(m+1, 2)
// drives (fewer if there are fewer drives). Every commit goes to every
// replica, synced, before it is acknowledged; at Open the most recent
// replica levels the others. So losing any m drives leaves at least one
// replica, and every acknowledged object, inline or sharded, survives:
// sharded ones because k shards remain, inline ones because a replica
// remains. One Pebble on one drive would have been a single point of
// failure for inline objects; one Pebble on every drive would multiply
// every metadata write by k+m for no gain in tolerance. If every replica is
// lost anyway, Open rebuilds the index from the shard files' self-
// descriptions (RebuildIndex); only inline objects cannot come back that
// way.
//
// # Drives and layout
//
// Every drive carries an identity file (coffer-drive.json): the store's id,
// the drive's position and the store's layout (k, m, block size), written
// when the store is created or the drive joins. Open refuses a drive of
// another store or at another position, adopts the recorded layout when the
// Options leave it zero, and fails with ErrInvalidOptions when they ask for
// another. Once a store exists, a drive folder that does not exist is
// offline, never created (a missing mount must not fill the root file
// system), and an empty folder joins as a replacement and is refilled,
// unless it sits on the root file system's device while the store's drives
// are on others: an unmounted mount point, refused. Drives reports each
// drive's state and why.
//
// # Durability protocol
//
// A put writes and fsyncs its shard files and their directories, then
// commits one synced index batch that makes the object visible. An
// overwrite or delete writes a release record for the old stream in that
// same batch; the old shard files are deleted afterwards and the record
// dropped, and a crash in between is finished at the next Open. Shard files
// of writes that never committed are collected at Open after an unclean
// shutdown. Conditional writes (If-Match, If-None-Match) are checked inside
// the commit, so of concurrent conditional writers exactly one wins.
//
// # Tags
//
// Objects carry up to MaxTags tags (ValidateTags has S3's rules), given to
// PutObject, CopyObject (the source's, or new ones with ReplaceTags) and
// CreateMultipartUpload, and changed with PutObjectTagging and
// DeleteObjectTagging. Those two rewrite only the index record, inside one
// index transaction that reads the current record, so they never bring
// back an object that was overwritten or deleted meanwhile; ETag and
// ModTime do not change. Shard self-descriptions keep the tags the object
// was written with, so an index rebuilt from the drives (RebuildIndex)
// restores those, not later changes; DeleteObjectTagging removes tags from
// the index, not from the drives (rewrite the object, with CopyObject onto
// itself and ReplaceMetadata, to drop them there).
//
// # Degraded operation
//
// Reads succeed byte-exact with up to m shards missing or corrupt, and
// fail with an error wrapping ErrCorrupt beyond that; writes succeed with up
// to m drives unavailable and fail with ErrInsufficientDrives beyond.
//
// # Processes
//
// The engine never exits the process: Pebble's fatal logger is replaced,
// and a fatal storage error makes every later call fail with ErrFailed. It
// keeps no package-level mutable state; several engines can be open in one
// process.
package engine
