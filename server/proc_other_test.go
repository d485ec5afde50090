//go:build !linux

package server_test

import "syscall"

// childProcAttr: without Linux's parent-death signal, a server process
// outlives a test process that dies (the test's cleanup kills it otherwise).
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
