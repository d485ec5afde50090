//go:build !unix

package storetest

import "time"

// cpuTime returns 0: the CPU time is reported on Unix only.
func cpuTime() time.Duration { return 0 }
