//go:build unix

package agent

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the user ID that owns a file.
func fileOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
