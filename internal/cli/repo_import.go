package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/repo"
)

func newRepoImportDelegationCommand() *cobra.Command {
	var fromURL, root, fromBundle string
	cmd := &cobra.Command{
		Use:   "import-delegation DIR ROLE (--from-url URL --root ROOT.json | --from-bundle BUNDLE)",
		Short: "Install a delegated role of an outside repository, with its original signatures",
		Long: `Read the delegated role ROLE of an outside repository, at URL (with
metadata/ and targets/ below it) or in a bundle made by 'rampart client
export', verified through that repository's own chain of trust; then make
this repository's targets role delegate ROLE with the outside keys, paths
and threshold, and install ROLE's metadata byte for byte, with its original
signatures: it is never signed here. The content of ROLE's targets comes
along (downloaded and verified, or from the bundle). This repository's own
root, snapshot and timestamp give its clients freshness; the outside
signatures still prove where the targets came from.

The outside repository's trusted metadata is kept in DIR/imports/ROLE, so a
later import cannot roll it back: a newer version of ROLE replaces the one
installed, an older one is refused. The first import from a URL needs a
root of the outside repository obtained out of band (--root); the first
from a bundle without --root starts from the oldest root the bundle holds,
and says so. Later imports continue the chain kept in DIR/imports/ROLE and
do not read --root.

ROLE keeps the outside expiry: clients here refuse it once it expires, so
import a newer version before then. 'rampart repo refresh' leaves it alone.`,
		Example: `  rampart repo import-delegation inside partner --from-url https://tuf.example.com --root example-root.json
  rampart repo import-delegation inside partner --from-bundle partner.bundle`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (fromURL == "") == (fromBundle == "") {
				return usageErrorf("give either --from-url URL --root ROOT.json or --from-bundle BUNDLE")
			}
			src := repo.ImportSource{URL: fromURL, Bundle: fromBundle,
				Fetcher: &client.HTTPFetcher{UserAgent: "rampart/" + Version}}
			if root != "" {
				data, err := os.ReadFile(root)
				if err != nil {
					return err
				}
				src.Root = data
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				imp, tofu, err := repo.ReadImport(cmd.Context(), args[0], args[1], src)
				if err != nil {
					return err
				}
				if tofu {
					fmt.Fprintf(cmd.ErrOrStderr(), "rampart: warning: no --root: the outside repository's chain of trust starts from the oldest root in %s, as carried in; later imports check against it\n", fromBundle)
				}
				res, err := r.ImportDelegation(cmd.Context(), imp)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				switch {
				case res.UpToDate && !res.Delegation:
					fmt.Fprintf(out, "%s version %d is installed already: nothing to do\n", args[1], res.Version)
				case res.Previous != 0:
					fmt.Fprintf(out, "imported %s version %d (replacing version %d) from %s, with its original signatures; %d target files stored\n", args[1], res.Version, res.Previous, imp.Source, res.Targets)
				default:
					fmt.Fprintf(out, "imported %s version %d from %s, with its original signatures: targets delegates %v to it; %d target files stored\n", args[1], res.Version, imp.Source, imp.Delegation.Paths, res.Targets)
				}
				if len(imp.Missing) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "rampart: warning: the bundle did not carry %d targets of %s (%s ...); clients here cannot download them\n", len(imp.Missing), args[1], imp.Missing[0])
				}
				printNotes(cmd, r)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&fromURL, "from-url", "", "base URL of the outside repository")
	f.StringVar(&root, "root", "", "a root.json of the outside repository, obtained out of band")
	f.StringVar(&fromBundle, "from-bundle", "", "a bundle made by 'rampart client export' of the outside repository")
	return cmd
}
