//go:build !unix

package kmsclient

// dirLock is a no-op where flock is not available; callers must ensure a
// single owner of the keyring directory themselves.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (*dirLock) unlock() error { return nil }
