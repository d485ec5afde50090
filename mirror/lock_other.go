//go:build !unix

package mirror

// lockDir does not lock on systems without flock.
func lockDir(string) (func(), error) { return func() {}, nil }
