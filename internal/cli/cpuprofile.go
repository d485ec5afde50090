//go:build cpuprofile

package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// A rampart built with -tags cpuprofile writes a CPU profile of each
// command to the file RAMPART_CPUPROFILE names, for `go tool pprof`:
//
//	go build -tags cpuprofile -o rampart ./cmd/rampart
//	RAMPART_CPUPROFILE=add.prof ./rampart repo add R --from-manifest LIST
//
// Ordinary builds leave runtime/pprof out, so that no command pays for it
// at start.
func init() {
	path := os.Getenv("RAMPART_CPUPROFILE")
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rampart: RAMPART_CPUPROFILE: %v\n", err)
		os.Exit(ExitFailure)
	}
	afterRun = append(afterRun, func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "rampart: RAMPART_CPUPROFILE: %v\n", err)
		}
	})
}
