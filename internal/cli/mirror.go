package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/mirror"
)

// mirrorCommands returns the "mirror" command: a verified copy of a
// repository for a static web server.
func mirrorCommands() []*cobra.Command {
	return []*cobra.Command{newMirrorCommand()}
}

func newMirrorCommand() *cobra.Command {
	var root string
	var patterns []string
	var limits clientLimits
	var workers int
	cmd := &cobra.Command{
		Use:   "mirror URL DIR --root ROOT.json [--targets GLOB]...",
		Short: "Copy a TUF repository into a directory, verified as a client verifies it",
		Long: `Copy the TUF repository at URL (with metadata/ and targets/ below it; any
TUF 1.0 repository) into DIR, in the layout a static web server serves.
Everything is verified as 'rampart client' verifies it before it is written:
every root version from ROOT.json on, timestamp, snapshot, every role the
delegations reach, and the targets matched by --targets (all of them by
default, none with --targets ''). Clients use the mirror with the origin's
root, unchanged.

Run again, the mirror fetches only what changed. A run that fails changes
nothing in DIR, and one that succeeds puts timestamp.json in place last, so
that clients reading DIR meanwhile see the old state or the new one. The
mirror keeps its own trusted metadata in DIR/.rampart-mirror; on later runs
ROOT.json must be a root of the repository DIR mirrors. Give the oldest root
the mirror's clients trust: DIR holds the root versions from it on.`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			rootData, err := os.ReadFile(root)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("targets") {
				patterns = nil
			}
			res, err := mirror.Run(cmd.Context(), mirror.Options{
				URL: args[0], Dir: args[1], Root: rootData, Targets: patterns,
				Fetcher: &client.HTTPFetcher{Client: mirror.HTTPClient(workers), UserAgent: "rampart/" + Version,
					MinRate: limits.minRate, RateWindow: limits.window, Timeout: limits.timeout},
				Limits:   limits.limits,
				Workers:  workers,
				Progress: cmd.ErrOrStderr(),
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.UpToDate() {
				fmt.Fprintf(out, "%s is up to date: root version %d, timestamp version %d, %s\n", args[1], res.RootVersion, res.TimestampVersion, plural(res.Matched, "target"))
				return nil
			}
			fmt.Fprintf(out, "mirrored %s to %s: root version %d, timestamp version %d; %s and %d of %s (%s) copied, all verified\n",
				args[0], args[1], res.RootVersion, res.TimestampVersion, plural(len(res.Metadata), "metadata file"), res.Targets, plural(res.Matched, "target"), plural(res.TargetBytes, "byte"))
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "a root.json of the repository, obtained out of band")
	cmd.MarkFlagRequired("root")
	stringsVar(cmd.Flags(), &patterns, "targets", "", false, "copy only the targets matching this pattern (repeatable; '' copies none)")
	intRangeVar(cmd.Flags(), &workers, "workers", 8, 1, 256, "targets downloaded at once")
	limits.addFlags(cmd.Flags())
	return cmd
}
