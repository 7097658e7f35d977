// Package lint holds repository-wide tests: the import arrows of
// ARCHITECTURE.md. It has no code of its own.
package lint
