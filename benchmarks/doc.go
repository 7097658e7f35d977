// Package benchmarks holds Coffer's stage, engine and end-to-end
// benchmarks. Every suite measures the raw ceiling of its stage in the same
// run (raw AES-GCM, raw Reed-Solomon, raw MD5, ...), so that a figure is
// always read as a ratio on a shared, noisy machine. Results and the
// commands that produced them are in RESULTS.md. Nothing imports this
// package.
package benchmarks
