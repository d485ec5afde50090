package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/atomicfile"
)

// Bundles carry a client's verified metadata and targets across an air
// gap: 'client export' on a machine that reaches the repository, 'client
// import' on one that does not.

func newClientExportCommand() *cobra.Command {
	var dir, out string
	var limits clientLimits
	cmd := &cobra.Command{
		Use:   "export --dir DIR -o BUNDLE [TARGET...]",
		Short: "Refresh, then write the verified metadata and the named targets to one file",
		Long: `Refresh the metadata, load every role the delegations reach, download and
verify the named targets, and write all of it, with the repository's root
versions, to BUNDLE (a tar archive), for 'rampart client import' on a
machine that cannot reach the repository.`,
		Args: checkArgs(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := refreshedClient(cmd, dir, &limits)
			if err != nil {
				return unreachableHint(err, dir)
			}
			f, err := atomicfile.Create(out, 0o600)
			if err != nil {
				return err
			}
			defer f.Abort()
			if err := c.WriteBundle(cmd.Context(), f, args); err != nil {
				return err
			}
			if err := f.Commit(); err != nil {
				return err
			}
			st, _ := os.Stat(out)
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d bytes): the metadata trusted in %s and %s\n", out, st.Size(), dir, plural(len(args), "target"))
			return nil
		},
	}
	addClientFlags(cmd, &dir, &limits)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the bundle to write")
	cmd.MarkFlagRequired("output")
	return cmd
}

func newClientImportCommand() *cobra.Command {
	var dir string
	var limits clientLimits
	cmd := &cobra.Command{
		Use:   "import --dir DIR BUNDLE",
		Short: "Verify a bundle as a refresh would, then trust its metadata and keep its targets (no network access)",
		Long: `Check BUNDLE (made by 'rampart client export') as a refresh checks a
repository: the root chain from the root DIR trusts, signatures, no version
older than what DIR already trusts, no expired metadata, every role's and
every target's length and hashes. Only if all of it checks does anything in
DIR change: the metadata becomes DIR's trusted metadata and the targets are
kept for 'rampart client get --offline'.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := os.Stat(filepath.Join(dir, "client.json")); err != nil {
				return fmt.Errorf("%s is not a client directory (run 'rampart client init'): %w", dir, err)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			res, err := client.ImportBundle(cmd.Context(), filepath.Join(dir, "metadata"), targetStore(dir), f, limits.limits, nil)
			if err != nil {
				return fmt.Errorf("%s: %w (nothing in %s was changed)", args[0], err, dir)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s into %s: root version %d, timestamp version %d, %s and %s, all verified\n",
				args[0], dir, res.RootVersion, res.TimestampVersion, plural(res.Roles, "role"), plural(len(res.Targets), "target"))
			return nil
		},
	}
	addClientFlags(cmd, &dir, &limits)
	return cmd
}
