package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo/notaryimport"
)

// notaryCommands returns "rampart notary": Notary v1 compatibility.
func notaryCommands() []*cobra.Command {
	cmd := &cobra.Command{
		Use:   "notary",
		Short: "Move Notary v1 repositories to TUF 1.0",
		Long: `Notary v1 (the notary client, notary-server, Docker Content Trust) uses a
pre-1.0 dialect of TUF. 'rampart serve' serves Notary's API, so the notary
client works against it unchanged; 'rampart notary import' turns a Notary
repository into a TUF 1.0 repository.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newNotaryImportCommand(), newNotaryImportSignatureCommand())
	return []*cobra.Command{cmd}
}

func newNotaryImportCommand() *cobra.Command {
	var serverURL, trustDir, gun, out, rootFile, caFile string
	cmd := &cobra.Command{
		Use:   "import --gun GUN --out DIR (--server URL | --trust-dir DIR)",
		Short: "Make a TUF 1.0 repository from a Notary repository",
		Long: `Read the Notary repository GUN from a notary server (--server: notary-server,
or 'rampart serve') or from a notary client's trust directory (--trust-dir,
such as ~/.notary or ~/.docker/trust), verify it as the notary client
does, and make a new Rampart repository in DIR with new keys (encrypted,
as 'rampart repo init' makes them) and the same targets and delegations.

Delegated roles keep their thresholds and are named after Notary's, with
dots for slashes (targets/releases becomes targets.releases). Notary's path
prefixes become TUF path patterns covering the same names up to 8
directory levels below the prefix (and at least as deep as the deepest
target). Every target keeps its length, hashes and custom metadata, and
records where it came from under "notary" in its custom metadata. Content
is not copied: Notary servers hold metadata only.

Without --root, the root the source holds is trusted as it is (as 'notary'
trusts a repository on first use); --root FILE pins a root.json you
obtained before, which the current root must be, or be signed by.
Publish the result with 'rampart repo publish DIR'.`,
		Example: `  rampart notary import --server https://notary.example.com:4443 --gun example.com/app --out app
  rampart notary import --trust-dir ~/.docker/trust --gun docker.io/library/alpine --out alpine`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (serverURL == "") == (trustDir == "") {
				return usageErrorf("give exactly one of --server URL and --trust-dir DIR")
			}
			if gun == "" || out == "" {
				return usageErrorf("--gun and --out are required")
			}
			var src notaryimport.Source
			var err error
			if serverURL != "" {
				client, cerr := notaryHTTPClient(caFile)
				if cerr != nil {
					return cerr
				}
				src, err = notaryimport.NewServerSource(serverURL, gun, client)
			} else {
				src, err = notaryimport.NewTrustDirSource(trustDir, gun)
			}
			if err != nil {
				return usageErrorf("%v", err)
			}
			var trusted []byte
			if rootFile != "" {
				if trusted, err = os.ReadFile(rootFile); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			nr, err := notaryimport.Load(ctx, src, gun, trusted, time.Now())
			if err != nil {
				if errors.Is(err, notaryimport.ErrNoTrustData) {
					return fmt.Errorf("%w (check --gun)", err)
				}
				return err
			}
			if trusted == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: trusting the root of %s as %s holds it (pin one with --root FILE)\n", gun, src)
			}
			res, err := notaryimport.Import(ctx, nr, out, repoOptions(cmd))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %s from %s into %s: %d targets, %d delegated roles\n", gun, src, out, res.Targets, len(res.Roles))
			for _, r := range res.Roles {
				fmt.Fprintf(cmd.OutOrStdout(), "  delegated role %s\n", r)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "URL of the notary server (https://HOST:PORT)")
	f.StringVar(&trustDir, "trust-dir", "", "a notary client's trust directory")
	f.StringVar(&gun, "gun", "", "the repository's GUN")
	f.StringVar(&out, "out", "", "directory of the new repository (must not exist, or be empty)")
	f.StringVar(&rootFile, "root", "", "a trusted Notary root.json to pin")
	f.StringVar(&caFile, "tlscacert", "", "PEM file of the CA certificates that sign the server's certificate (default: the system's)")
	return cmd
}

// notaryHTTPClient returns an HTTP client that trusts the certificates in
// caFile, or the system's when caFile is empty.
func notaryHTTPClient(caFile string) (*http.Client, error) {
	if caFile == "" {
		return &http.Client{Timeout: 5 * time.Minute}, nil
	}
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, usageErrorf("--tlscacert %s: no PEM certificate in it", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}, nil
}
