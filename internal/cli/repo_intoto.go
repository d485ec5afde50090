package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/repo"
)

// repoInTotoFlags are the flags of 'repo add' for a package with in-toto
// metadata.
type repoInTotoFlags struct {
	o repo.InTotoAddOptions
}

func (f *repoInTotoFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.o.Layout, "in-toto-layout", "", "in-toto root layout (`FILE`) of the package: add SOURCE with its in-toto metadata")
	stringsVar(fs, &f.o.Links, "in-toto-link", "", false, "in-toto link `FILE` of the package (repeatable)")
	stringsVar(fs, &f.o.Keys, "in-toto-key", "", false, "public key `FILE` that verifies the layout (repeatable); adds the layout and keys to targets")
	fs.StringVar(&f.o.Product, "in-toto-product", "", "the package's `NAME` among the last step's products (default: its target path's base name)")
	stringsVar(fs, &f.o.AllowInspections, "in-toto-allow-inspection", "", true, "run the layout inspection of this `NAME` when verifying before adding")
}

// used reports whether any in-toto flag was given.
func (f *repoInTotoFlags) used(cmd *cobra.Command) bool {
	for _, n := range []string{"in-toto-layout", "in-toto-link", "in-toto-key", "in-toto-product", "in-toto-allow-inspection"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}

// add is 'repo add DIR PACKAGE --in-toto-layout ...'.
func (f *repoInTotoFlags) add(cmd *cobra.Command, args []string, as, role string, other bool) error {
	if len(args) != 2 || other {
		return usageErrorf("with --in-toto-layout, give one package file as SOURCE, and no --custom or --from-manifest")
	}
	if f.o.Layout == "" || len(f.o.Links) == 0 {
		return usageErrorf("a package with in-toto metadata needs --in-toto-layout FILE and its --in-toto-link FILEs")
	}
	f.o.Package, f.o.As, f.o.Role = args[1], as, role
	return withRepo(cmd, args[0], func(r *repo.Repo) error {
		res, err := r.AddInToto(cmd.Context(), f.o)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		for _, t := range res.Targets {
			fmt.Fprintf(out, "added %s (%d bytes)\n", t.Path, t.File.Length)
		}
		fmt.Fprintf(out, "%s added to %s; the in-toto supply chain of %s verifies\n", plural(res.Count, "target"), summarizeRoles(res.Roles), res.Targets[0].Path)
		printNotes(cmd, r)
		return nil
	})
}

func newRepoInTotoSetupCommand() *cobra.Command {
	var o repo.InTotoSetupOptions
	cmd := &cobra.Command{
		Use:   "in-toto-setup DIR --key PUBFILE [--cnab BUNDLE]",
		Short: "Set the repository up to distribute in-toto metadata (in-toto ITE-2)",
		Long: `Set up the security model of in-toto ITE-2: the top-level targets role,
whose keys should be offline, signs the in-toto layouts and the keys that
verify them; an online role signs packages and their links.

By default this delegates '*' and the links ('in-toto-metadata/*/*.link'),
terminating, to the role package-and-in-toto-metadata-signer, whose key is
--key and whose metadata expires daily. With --cnab BUNDLE (CNAB security),
the role is 'targets/releases' (as CNAB security and Notary name it),
trusted for BUNDLE:* and BUNDLE/in-toto-metadata/*/*.link, and in-toto
paths are put under BUNDLE/. Its metadata is published as
metadata/N.targets/releases.json.

'rampart repo publish' refuses a package whose in-toto metadata has become
incomplete since it was added (its layout, a key of the layout or a link
removed, a link for a step the layout does not have).

Then add packages with 'rampart repo add DIR PACKAGE --in-toto-layout ...'.`,
		Example: `  rampart repo in-toto-setup myrepo --key ci.pub
  rampart repo in-toto-setup bundles --key ci.pub --cnab example.com/org/bundle`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				m, err := r.SetupInToto(cmd.Context(), o)
				if err != nil {
					return err
				}
				role := repo.InTotoSignerRole
				if m.Model == "cnab" {
					role = repo.InTotoReleasesRole
				}
				fmt.Fprintf(cmd.OutOrStdout(), "targets delegates packages and links to %s (%s model); layouts and their keys go to targets\n", role, m.Model)
				printNotes(cmd, r)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&o.Key, "key", "", "key file (`PUBFILE`, or a private key to sign with) of the online role")
	cmd.Flags().StringVar(&o.CNAB, "cnab", "", "set up the CNAB variant for `BUNDLE` (example.com/org/bundle)")
	cmd.Flags().Var(durationValue{&o.Expires}, "expires", "expiry period of the online role (default 1d)")
	cmd.MarkFlagRequired("key")
	return cmd
}
