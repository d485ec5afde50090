package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/repo"
)

// certFlag adds --cert to "repo delegate": signers named by certificate.
func certFlag(cmd *cobra.Command, certs *[]string) {
	stringsVar(cmd.Flags(), certs, "cert", "", false, "certificate (`CERT.pem`) of a signer of OCI artifact signatures, trusted by its certificate (repeatable); see rampart repo import-signature")
}

func newRepoImportSignatureCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import-signature DIR ROLE SIG.json",
		Short: "Install a signature made elsewhere as a delegated role's metadata",
		Long: `Install SIG.json, targets metadata signed elsewhere (such as an OCI artifact
signature made by "rampart oci sign"), as the metadata of the delegated ROLE,
exactly as it is: it is checked against the keys ROLE is delegated to (for a
signer registered with "rampart repo delegate --cert", its certificate), and
never signed again. It must list only paths the delegation trusts ROLE for,
not have expired, and be newer than ROLE's current metadata. Snapshot and
timestamp are updated; publish as usual.`,
		Example: `  rampart repo delegate myrepo acme --cert acme.pem --paths 'registry.acme-rockets.io/*'
  rampart repo import-signature myrepo acme hello-world.sig.json
  rampart repo publish myrepo --out public`,
		Args: checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[2], signature.MaxSize)
			if err != nil {
				return err
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				v, err := r.ImportSignature(cmd.Context(), args[1], data)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now version %d, from %s\n", args[1], v, args[2])
				printNotes(cmd, r)
				return nil
			})
		},
	}
}
