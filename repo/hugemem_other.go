//go:build !linux

package repo

// adviseHuge does nothing where the system has no transparent huge pages
// to ask for.
func adviseHuge(b []byte) {}
