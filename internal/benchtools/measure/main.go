// Command measure runs a command several times and prints the median wall
// time and the largest peak resident memory (from the kernel's rusage) of
// its runs, as one line: NAME median_ms=... max_rss_mb=...
// Before each run it executes -setup with sh, untimed.
//
//	measure -name NAME -runs 5 [-setup 'rm -rf dir'] -- COMMAND ARGS...
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "run", "label")
	runs := flag.Int("runs", 5, "number of runs")
	setup := flag.String("setup", "", "shell command to run, untimed, before each run")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		log.Fatal("no command")
	}
	var times []time.Duration
	var maxRSS int64
	var cpu time.Duration // user and system time of every run
	for range *runs {
		if *setup != "" {
			if out, err := exec.Command("sh", "-c", *setup).CombinedOutput(); err != nil {
				log.Fatalf("setup: %v\n%s", err, out)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			log.Fatalf("%s: %v", *name, err)
		}
		times = append(times, time.Since(start))
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = max(maxRSS, ru.Maxrss) // KiB on Linux
		}
	}
	slices.Sort(times)
	fmt.Printf("%s median_ms=%.1f max_rss_mb=%.1f cpu_ms=%.1f\n", *name, float64(times[len(times)/2].Microseconds())/1000, float64(maxRSS)/1024,
		float64(cpu.Microseconds())/1000/float64(*runs))
}
