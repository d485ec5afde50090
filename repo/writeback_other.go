//go:build !linux

package repo

import "os"

// startWriteback does nothing where the system cannot start writing a
// file's data without waiting for it: the batch's sync writes it.
func startWriteback(f *os.File) {}
