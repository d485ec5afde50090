package server_test

import "syscall"

// childProcAttr has the kernel kill a server process the test started if
// the test process dies first.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
