// Command tuf-conformance-client is Rampart's client under the TUF
// community's client-conformance CLI protocol:
//
//	tuf-conformance-client --metadata-dir DIR init TRUSTED_ROOT
//	tuf-conformance-client --metadata-dir DIR --metadata-url URL refresh
//	tuf-conformance-client --metadata-dir DIR --metadata-url URL \
//	    --target-name PATH [--target-name PATH...] --target-base-url URL --target-dir DIR download
//
// It exits 0 on success and 1 on any failure. When FAKETIME is set, as the
// harness does when it runs clients under libfaketime, the reference time
// comes from it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/internal/faketime"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// options are the protocol's global flags.
type options struct {
	metadataDir, metadataURL string
	targetNames              stringList
	targetBaseURL, targetDir string
	now                      time.Time
}

// run executes one command and returns the exit code: 0 or 1, never
// anything else, even on a panic.
func run(ctx context.Context, args []string, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tuf-conformance-client: internal error: %v\n", r)
			code = 1
		}
	}()
	if err := execute(ctx, args, stderr); err != nil {
		fmt.Fprintf(stderr, "tuf-conformance-client: %v\n", err)
		return 1
	}
	return 0
}

func execute(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("tuf-conformance-client", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	fs.StringVar(&o.metadataDir, "metadata-dir", "", "directory of trusted metadata")
	fs.StringVar(&o.metadataURL, "metadata-url", "", "base URL of the repository's metadata")
	fs.Var(&o.targetNames, "target-name", "target path to download (repeatable)")
	fs.StringVar(&o.targetBaseURL, "target-base-url", "", "base URL of the repository's targets")
	fs.StringVar(&o.targetDir, "target-dir", "", "directory for downloaded targets")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("usage: %v", err)
	}
	now, err := faketime.Now(os.Getenv("FAKETIME"), time.Now())
	if err != nil {
		return err
	}
	o.now = now
	rest := fs.Args()
	if len(rest) == 0 {
		return errors.New("usage: missing command (init, refresh or download)")
	}
	if o.metadataDir == "" {
		return errors.New("usage: --metadata-dir is required")
	}
	switch cmd := rest[0]; cmd {
	case "init":
		if len(rest) != 2 {
			return errors.New("usage: init TRUSTED_ROOT")
		}
		return initialize(o, rest[1])
	case "refresh":
		if len(rest) != 1 || o.metadataURL == "" {
			return errors.New("usage: --metadata-url URL refresh")
		}
		return refresh(ctx, o)
	case "download":
		if len(rest) != 1 || o.metadataURL == "" || len(o.targetNames) == 0 || o.targetBaseURL == "" || o.targetDir == "" {
			return errors.New("usage: --metadata-url URL --target-name PATH --target-base-url URL --target-dir DIR download")
		}
		return download(ctx, o, stderr)
	default:
		return fmt.Errorf("usage: unknown command %q", cmd)
	}
}
