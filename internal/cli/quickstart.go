package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/internal/quickstart"
)

// startCommands returns the commands of the "start" group, shown first in
// the help output.
func startCommands() []*cobra.Command {
	return []*cobra.Command{newQuickstartCommand()}
}

// runQuickstart does the work of `rampart quickstart`. It gets the command
// for its context (cmd.Context()), its output (cmd.OutOrStdout() for
// results, cmd.ErrOrStderr() for progress) and its flags.
var runQuickstart func(cmd *cobra.Command, args []string) error

func init() { runQuickstart = defaultQuickstart }

// defaultQuickstart runs the demonstration, with its client steps as
// rampart commands run in this process.
func defaultQuickstart(cmd *cobra.Command, args []string) error {
	keep, _ := cmd.Flags().GetBool("keep")
	self := func(ctx context.Context, args []string, stdout io.Writer) error {
		var stderr bytes.Buffer
		if code := execute(ctx, NewRootCommand(), args, strings.NewReader(""), stdout, &stderr); code != ExitOK {
			return errors.New(strings.TrimSpace(strings.TrimPrefix(stderr.String(), "rampart: ")))
		}
		return nil
	}
	return quickstart.Run(cmd.Context(), cmd.OutOrStdout(), "", keep, self)
}

func newQuickstartCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Try Rampart end to end on this machine",
		Long: `Run a self-contained demonstration of Rampart on this machine.

It creates a repository with encrypted keys, publishes it to a directory
served on loopback, fetches a target with 'rampart client', shows a
tampered target refused and an update picked up; then it starts the
metadata server on loopback, keeps a repository on it whose timestamp and
snapshot the server signs, and fetches from it.

It needs nothing but this checkout and Go, and it leaves nothing behind
outside a temporary directory.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runQuickstart(cmd, args)
		},
	}
	cmd.Flags().Bool("keep", false, "keep the temporary directory and print where it is")
	return cmd
}
