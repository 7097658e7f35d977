package index

import "errors"

var (
	// ErrNotFound is returned by Get when a key is absent.
	ErrNotFound = errors.New("index: not found")
	// ErrCorrupt marks a value or key that does not decode.
	ErrCorrupt = errors.New("index: corrupt record")
	// ErrFailed is returned once the index has hit a fatal storage error;
	// the engine becomes read-only or failed and must be reopened.
	ErrFailed = errors.New("index: failed after a fatal storage error")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("index: closed")
	// ErrNoReplica is returned when no replica directory could be opened.
	ErrNoReplica = errors.New("index: no replica could be opened")
	// ErrLowSpace is returned by RestoreSpace while a replica's drive is
	// still too full to hold its ballast.
	ErrLowSpace = errors.New("index: drive full")
)
