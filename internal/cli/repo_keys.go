package cli

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

func newRepoSignCommand() *cobra.Command {
	var keyFiles []string
	cmd := &cobra.Command{
		Use:   "sign DIR ROLE --key KEYFILE",
		Short: "Sign a role's staged metadata with a key",
		Long: `Add signatures to the staged metadata of ROLE without changing it: how a
key kept offline or by another person signs. ROLE "bins" signs every hashed
bin. For a threshold role, each key holder signs in a copy of the repository
and the copies are brought together with 'rampart repo merge'.`,
		Example: `  rampart repo sign myrepo root --key /media/usb/root-2.key
  rampart repo sign registry bins --key bins.key`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keyFiles) == 0 {
				return usageErrorf("give the key to sign with: --key KEYFILE")
			}
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				signers, err := loadSigners(cmd, keyFiles)
				if err != nil {
					return err
				}
				defer func() {
					for _, s := range signers {
						if c, ok := s.(io.Closer); ok {
							c.Close()
						}
					}
				}()
				out := cmd.OutOrStdout()
				for i, s := range signers {
					res, err := r.Sign(cmd.Context(), args[1], s)
					if err != nil {
						return err
					}
					id := repo.KeyID(s.PublicKey())[:12]
					switch {
					case len(res.Signed) > 1:
						fmt.Fprintf(out, "%s signed %s with key %s (%s)\n", args[1], plural(len(res.Signed), "role"), id, keyFiles[i])
					case len(res.Signed) == 1:
						fmt.Fprintf(out, "%s signed with key %s (%s)\n", res.Signed[0], id, keyFiles[i])
					default:
						fmt.Fprintf(out, "%s was already signed with key %s\n", args[1], id)
					}
					for _, role := range res.Refreshed {
						fmt.Fprintf(out, "%s signed again to match\n", role)
					}
				}
				return nil
			})
		},
	}
	stringsVar(cmd.Flags(), &keyFiles, "key", "", false, "private key file (`KEYFILE`) to sign with (repeatable)")
	return cmd
}

// loadSigners reads private key files given on the command line.
func loadSigners(cmd *cobra.Command, files []string) ([]keys.Signer, error) {
	ks := commandKeyStore(cmd)
	var out []keys.Signer
	for _, f := range files {
		s, err := repo.LoadSigner(cmd.Context(), ks, "", f) // the agent's key, when it holds it
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func newRepoMergeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "merge DIR SOURCE...",
		Short: "Collect signatures made in other copies of a repository",
		Long: `Add to the staged metadata of DIR the valid signatures found in SOURCE: the
directory of another copy of the repository, or a metadata file (its
staged/ROLE.json). Only signatures over exactly the metadata staged in DIR,
by keys the role trusts, are taken.`,
		Example: `  rampart repo merge myrepo /media/usb/myrepo-alice /media/usb/myrepo-bob`,
		Args:    checkArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				out := cmd.OutOrStdout()
				for _, src := range args[1:] {
					res, err := r.Merge(cmd.Context(), src)
					if err != nil {
						return err
					}
					if len(res.Signed) == 0 {
						fmt.Fprintf(out, "%s: no new signatures\n", src)
						continue
					}
					fmt.Fprintf(out, "%s: new signatures for %s\n", src, strings.Join(res.Signed, ", "))
				}
				return nil
			})
		},
	}
}

func newRepoRotateCommand() *cobra.Command {
	var o repo.RotateOptions
	var serverKey bool
	var tok tokenFlags
	cmd := &cobra.Command{
		Use:   "rotate DIR ROLE [--add-key PUBFILE]... [--remove-key KEYID]... [--server-key]",
		Short: "Change the keys or threshold of a role",
		Long: `Add or revoke keys of ROLE, or change its threshold. For a top-level role
this makes a new root version, which must be signed by a threshold of the
old root keys and of the new ones (sign with 'rampart repo sign DIR root'
if they are not all at hand); every root version is kept and published, so
clients follow the chain. A role whose keys changed is signed again with
its new keys. ROLE "bins" changes the keys of all hashed bins.

For a repository on a metadata server, --server-key has the server make a
new online key for ROLE (timestamp or snapshot; an admin token is needed)
and trusts it instead of the server's previous key. For a snapshot key you
held so far, add --remove-key with its ID to hand snapshot signing to the
server. The server signs with the new key once the new root is published.`,
		Example: `  rampart repo rotate myrepo targets --add-key new-targets.key --remove-key 3f2a9c
  rampart repo rotate myrepo root --add-key root-3.pub --threshold 2
  rampart repo rotate app timestamp --server-key --token-file admin.token`,
		Args: checkArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Role = args[1]
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
				if serverKey {
					if err := addServerKey(cmd, r, &o, &tok); err != nil {
						return err
					}
				}
				if err := r.Rotate(cmd.Context(), o); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "rotated keys of %s; root is at version %d\n", o.Role, r.Root().Signed.Version)
				printNotes(cmd, r)
				return nil
			})
		},
	}
	f := cmd.Flags()
	stringsVar(f, &o.AddKeys, "add-key", "", false, "key file (`PUBFILE`) of a key to trust (repeatable)")
	stringsVar(f, &o.RemoveKeys, "remove-key", "", false, "ID (`KEYID`, or a unique prefix) of a key to revoke (repeatable)")
	intRangeVar(f, &o.Threshold, "threshold", 0, 1, math.MaxInt, "new threshold (`N`) of the role")
	f.BoolVar(&serverKey, "server-key", false, "have the repository's server make a new online key for ROLE and trust it instead of its previous one")
	tok.add(f, "admin token for --server-key")
	return cmd
}

// addServerKey asks the repository's server for a new online key of
// o.Role and sets o to trust it in place of the server's current keys of
// the role. A role the server holds no key of yet gets the server's
// current key, made if need be.
func addServerKey(cmd *cobra.Command, r *repo.Repo, o *repo.RotateOptions, tok *tokenFlags) error {
	sc := r.Server()
	if sc == nil {
		return usageErrorf("--server-key: %s does not publish to a metadata server", r.Dir())
	}
	if o.Role != "timestamp" && o.Role != "snapshot" {
		return usageErrorf("--server-key: the server holds timestamp and snapshot keys, not %s keys", o.Role)
	}
	c, err := tok.client(sc.URL)
	if err != nil {
		return err
	}
	cfg := r.Config()
	var old []string
	for _, id := range r.Root().Signed.Roles[o.Role].KeyIDs {
		if cfg.Keys[id].Server {
			old = append(old, id)
		}
	}
	get := c.RotateOnlineKey
	if len(old) == 0 {
		get = c.OnlineKey
	}
	k, err := get(cmd.Context(), sc.GUN, o.Role)
	if errors.Is(err, apiclient.ErrNotFound) {
		// A new server, or one whose store was lost: create the
		// repository there, which makes its online keys, all new.
		created, cerr := c.CreateRepository(cmd.Context(), sc.GUN)
		if cerr != nil {
			return fmt.Errorf("%s has no repository %s; creating it: %w", sc.URL, sc.GUN, cerr)
		}
		if created {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s had no repository %s (a new server, or a lost store): created it, with new online keys\n", sc.URL, sc.GUN)
			k, err = c.OnlineKey(cmd.Context(), sc.GUN, o.Role)
		}
	}
	if err != nil {
		return fmt.Errorf("asking %s for a new %s key: %w", sc.URL, o.Role, err)
	}
	o.ServerKeys = append(o.ServerKeys, k.PublicKey)
	o.RemoveKeys = append(o.RemoveKeys, old...)
	return nil
}
