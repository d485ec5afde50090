package mirror

import (
	"io/fs"
	"syscall"
)

func inodeAndCtime(st fs.FileInfo) (ino uint64, ctime int64, ok bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return s.Ino, s.Ctim.Nano(), true
}
