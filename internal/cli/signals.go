package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// signalGrace is how long a command has, once Ctrl-C or SIGTERM cancelled
// its context, to clean up (remove temporary files, close connections)
// before the process exits anyway. Commands stop at their next check of
// the context, usually at once; the grace is long enough for a step that
// cannot be cut short, such as encrypting a key with argon2id on a busy
// machine, to end and have what it wrote removed.
const signalGrace = 10 * time.Second

// Main runs rampart on the process's arguments and standard streams and
// returns its exit code; cmd/rampart exits with it. Ctrl-C and SIGTERM
// cancel the command's context; a command that has not returned within
// signalGrace after that is abandoned, and a second signal kills the
// process at once.
func Main() int {
	code := run()
	for _, f := range afterRun {
		f()
	}
	return code
}

// afterRun are called when a command has returned, before the process
// exits (see cpuprofile.go).
var afterRun []func()

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }()
	select {
	case code := <-done:
		return code
	case <-ctx.Done():
	}
	stop() // a second signal has its default effect
	select {
	case code := <-done:
		return code
	case <-time.After(signalGrace):
		fmt.Fprintln(os.Stderr, "rampart: interrupted")
		return ExitFailure
	}
}

// interrupted reports whether err comes from ctx being cancelled by a
// signal, so that Run prints "interrupted" rather than "context canceled".
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, context.Canceled)
}
