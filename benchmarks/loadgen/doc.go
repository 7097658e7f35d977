// Package loadgen is Coffer's S3 load generator: it drives any S3
// endpoint (Coffer, MinIO, AWS) with PUT, GET, mixed 70/30, LIST and DELETE
// scenarios at a chosen object size, concurrency and SSE mode, checks the
// content of every object it reads, and reports throughput, objects/s,
// latency percentiles and time to first byte as a table, JSON and an SVG
// chart. Compare runs one scenario against two endpoints, alternating A and
// B round by round, and reports the ratio of each pair and their median.
//
// # What it owns
//
// The scenarios, the content pattern, the measurement and the reports. It
// speaks S3 through a lean client of its own (net/http signed by
// internal/sigv4 with UNSIGNED-PAYLOAD: no body hashing, no checksums, no
// retries) or, for cross-checking, aws-sdk-go-v2 configured as lean as the
// SDK allows (Options.Client). Requests are path-style.
//
// # Guarantees
//
//   - Every run is bounded: by Duration and by Count (defaults 10 s and
//     DefaultCount), by MaxErrors failed operations, and each request by
//     RequestTimeout. Prepared data is bounded by MaxPreparedBytes.
//   - Content is verified. Object bytes are a deterministic function of the
//     run's seed and the key (see pattern.go); every GET compares every byte
//     and the length, and a difference counts as an error (Mismatches).
//     LIST checks the number of keys it wrote.
//   - A server that answers NotImplemented (an SSE mode it lacks) ends the
//     run with Result.Unsupported set, not with a failure.
//   - Objects the run wrote are deleted after it, unless Options.Keep.
//   - Credentials and SSE-C keys never appear in a Result, a report or an
//     error.
//
// # Measurement
//
// Latency runs from the start of a request to the end of its response
// body; time to first byte ends at the first body byte of a GET, and at the
// response headers of other requests. Percentiles use the nearest-rank
// method over every successful request. MB/s is 10^6 bytes per second of
// object data, over the measured phase (its start to the end of its last
// request); preparing and cleaning up are not measured.
//
// # Concurrency
//
// Run and Compare may be called from several goroutines with separate
// Options. A Result is immutable once returned.
//
// # Buffer ownership
//
// Each worker owns one read buffer and one request body for the whole run;
// PUT bodies are served straight from the shared, read-only pattern, and
// GET verification compares against it, so the hot path allocates nothing
// per chunk (net/http allocates per request).
package loadgen
