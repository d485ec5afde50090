package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/server/notaryapi"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

func newNotaryImportSignatureCommand() *cobra.Command {
	var serverURL, gun, caFile string
	var tok tokenFlags
	cmd := &cobra.Command{
		Use:   "import-signature --server URL --gun GUN ROLE SIG.json",
		Short: "Install a Notary-format signature as a delegated role of a Notary repository",
		Long: `Install SIG.json, a signature made by "rampart oci sign --format notary"
(Notary-dialect targets metadata, signed by its developer), as the metadata
of the delegated ROLE (targets/NAME) of the Notary repository GUN, through
the Notary API of the server (rampart serve, or notary-server): exactly as
it is, never signed again. The server checks it as it checks every publish:
against the keys ROLE is delegated to (register the signer's certificate
with "notary delegation add GUN ROLE CERT.pem --paths PREFIX" and publish),
within ROLE's path prefixes, newer than ROLE's current metadata, not
expired. The server must hold the repository's snapshot key ("notary key
rotate GUN snapshot -r"), since the signature comes without a snapshot.

The notary client cannot do this itself: it publishes only what it signs
with the keys in its trust directory.`,
		Example: `  notary delegation add example.com/acme/images targets/acme leaf.pem --paths registry.acme-rockets.io/
  notary publish example.com/acme/images
  RAMPART_TOKEN=rpt_... rampart notary import-signature --server https://notary.example.com:4443 \
      --gun example.com/acme/images targets/acme hello-world.sig.json
  notary lookup example.com/acme/images registry.acme-rockets.io/hello-world:v1`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			role, file := args[0], args[1]
			if serverURL == "" || gun == "" {
				return usageErrorf("--server and --gun are required")
			}
			if !notary.IsDelegation(role) {
				return usageErrorf("ROLE must be a delegated role of Notary, targets/NAME, not %q", role)
			}
			data, err := readLimited(file, signature.MaxSize)
			if err != nil {
				return err
			}
			d, err := notary.ParseAs(data, notary.TypeTargets)
			if err != nil {
				return fmt.Errorf("%s is not a signature in Notary's dialect (rampart oci sign --format notary makes one): %w", file, err)
			}
			token, err := readToken(tok.token, tok.file)
			if err != nil {
				return err
			}
			client, err := notaryHTTPClient(caFile)
			if err != nil {
				return err
			}
			if err := notaryapi.Upload(cmd.Context(), client, serverURL, token, gun, map[string][]byte{role: data}); err != nil {
				return fmt.Errorf("installing %s as %s of %s: %w", file, role, gun, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s of %s is now version %d, from %s (%s)\n", role, gun, d.Version, file, plural(len(d.Targets.Targets), "target"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "URL of the server's Notary API (https://HOST:PORT)")
	f.StringVar(&gun, "gun", "", "the Notary repository's GUN")
	f.StringVar(&caFile, "tlscacert", "", "PEM file of the CA certificates that sign the server's certificate (default: the system's)")
	tok.add(f, "push token of the server")
	return cmd
}
