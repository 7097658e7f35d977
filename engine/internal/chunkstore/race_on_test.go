//go:build race

package chunkstore

// raceEnabled: the race detector changes allocation counts (sync.Pool drops
// items at random under -race).
const raceEnabled = true
