package pgtest

import "syscall"

// sysProcAttr runs a PostgreSQL program as cred in its own process group,
// killed by the kernel if the test process dies first.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
