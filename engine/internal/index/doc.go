// Package index is Coffer's metadata index: the Pebble schema (key encoding,
// versioned value codecs), a group-committing transaction pipeline, and the
// replication of the index over several drives.
//
// # Replicas
//
// The index is kept as R identical Pebble databases, one per replica
// directory (the engine puts them on the first parity+1 drives). Every
// commit writes the same batch, stamped with a monotonically increasing
// commit sequence, to every healthy replica with Sync, in parallel; a commit
// is acknowledged once every healthy replica has it. A replica whose write
// fails is dropped for the rest of the process's life. On Open, the replica
// with the highest commit sequence is authoritative and every other replica
// is brought level with it by a key-by-key comparison, so losing any R-1
// replica directories loses nothing that was acknowledged.
//
// # Transactions
//
// Update runs a function against a transaction that reads through the writes
// of earlier transactions in the same group and buffers its own writes.
// Functions run one at a time on the committer goroutine, so a function may
// check a precondition and write in one atomic step (conditional puts). All
// transactions queued while a commit is in flight form the next group and
// share one synced batch (group commit).
//
// Reads outside Update (Get, NewIter) see committed state only.
//
// # Failure
//
// Pebble's fatal logger is replaced: a fatal Pebble error drops the replica
// it happened in (nothing waits on that replica or closes it again) and
// parks the goroutine that raised it instead of exiting the process. When
// no healthy replica is left, the DB is failed: every later call returns
// ErrFailed.
//
// Corrupt data that Pebble finds while reading a replica (a table block
// whose checksum fails) does not go to the fatal logger: the replica is
// dropped as long as another healthy one remains, and the read (Get, or an
// Iter, which resumes from its key) goes on in the next one. The last
// healthy replica is kept, so what is intact stays readable and reads of
// the damaged part fail with ErrCorrupt. Open reports every replica it
// cannot use, marking corruption with ErrCorrupt. A corrupt replica is not
// repaired: it is dropped again at every Open until its directory is
// removed (the next Open then recreates and levels it).
//
// A replica's drive that runs out of space gives up a reserved ballast
// first, so the write is retried and succeeds; LowSpace then tells the
// owner to refuse new data until RestoreSpace succeeds (ballast.go).
//
// # Concurrency
//
// A DB is safe for concurrent use. Values returned by Get are copies owned
// by the caller.
package index
