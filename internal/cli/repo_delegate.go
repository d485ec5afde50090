package cli

import (
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoDelegateCommand() *cobra.Command {
	var o repo.DelegateOptions
	var certs []string
	cmd := &cobra.Command{
		Use:   "delegate DIR ROLE (--key PUBFILE... | --cert CERT.pem...) (--paths GLOB... | --hash-prefixes HEX...)",
		Short: "Delegate target paths to a role",
		Long: `Delegate trust for target paths to ROLE, creating it if it is new or
replacing its delegation if it exists. --from names the delegating role
(targets by default), so delegations nest. Paths are glob patterns matched
segment by segment ('*' never matches '/'); hash prefixes are lowercase hex
prefixes of the SHA-256 of target paths.

ROLE is 1 to 255 bytes of '/'-separated parts, each letters, digits, '.',
'_' and '-' starting with a letter or digit, as Notary's and CNAB's
'targets/releases'; such a role is published as
metadata/N.targets/releases.json.`,
		Example: `  rampart repo delegate myrepo releases --key alice.pub --key bob.pub --threshold 2 --paths 'releases/*'
  rampart repo delegate myrepo nightly --key ci.key --paths 'nightly/*' --terminating
  rampart repo delegate myrepo targets/releases --key ci.pub --paths 'example.com/org/bundle:*'
  rampart repo delegate myrepo bin-0 --key bins.pub --hash-prefixes 0 --hash-prefixes 1`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Role = args[1]
			if len(o.Keys) == 0 && len(certs) == 0 {
				return usageErrorf("give the role's keys with --key PUBFILE (or --cert CERT.pem)")
			}
			var err error
			if o.KeyObjects, err = repo.CertKeys(certs); err != nil {
				return err
			}
			if cmd.Flags().Changed("paths") == cmd.Flags().Changed("hash-prefixes") {
				return usageErrorf("give either --paths or --hash-prefixes")
			}
			if !cmd.Flags().Changed("paths") {
				o.Paths = nil
			}
			if !cmd.Flags().Changed("hash-prefixes") {
				o.HashPrefixes = nil
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				if err := r.Delegate(cmd.Context(), o); err != nil {
					return err
				}
				from := o.From
				if from == "" {
					from = "targets"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s delegates to %s (threshold %d of %s)\n", from, o.Role, max(o.Threshold, 1), plural(len(o.Keys)+len(o.KeyObjects), "key"))
				printNotes(cmd, r)
				return nil
			})
		},
	}
	f := cmd.Flags()
	stringsVar(f, &o.Keys, "key", "", false, "public key file (`PUBFILE`) of a key of the role (repeatable)")
	certFlag(cmd, &certs)
	stringsVar(f, &o.Paths, "paths", "", false, "target path `GLOB` the role is trusted for (repeatable)")
	stringsVar(f, &o.HashPrefixes, "hash-prefixes", "", true, "`HEX` prefix of path hashes the role is trusted for (repeatable)")
	intRangeVar(f, &o.Threshold, "threshold", 1, 1, math.MaxInt, "number (`N`) of the role's keys that must sign")
	f.BoolVar(&o.Terminating, "terminating", false, "clients stop at this role for its paths")
	f.StringVar(&o.From, "from", "", "delegating `PARENT` role (default targets)")
	f.Var(durationValue{&o.Expires}, "expires", "expiry period of the role, such as 30d (default: that of targets)")
	return cmd
}
