package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// repoCommands returns the commands of the "repo" group.
//
// Repository commands create a TUF repository, add targets, sign
// metadata with the roles' keys and publish it.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func repoCommands() []*cobra.Command {
	return []*cobra.Command{newRepoCommand()}
}

const repoLong = `Maintain a TUF repository: create it, add targets, delegate, sign with
keys held offline or by several people, rotate keys, and publish metadata
and targets for any static web server, or to a metadata server (rampart
serve) that signs timestamp and snapshot with its online keys.

A repository is a directory (DIR) holding its configuration (repo.json),
the staged metadata of every role (staged/), every root version (roots/),
the content of targets added from files (targets/) and the keys it
generated (keys/). Every command changes it atomically: an interrupted
command leaves the previous state. 'rampart repo publish' writes what
clients fetch to another directory.

A typical session:

  rampart repo init myrepo
  rampart repo add myrepo dist/app-1.0.tar.gz --as app/app-1.0.tar.gz
  rampart repo publish myrepo --out /srv/www/tuf
  rampart repo status myrepo

On a metadata server, with a push token in RAMPART_TOKEN:

  rampart repo init app --server https://tuf.example.com --gun example.com/acme/app
  rampart repo add app dist/
  rampart repo publish app`

func newRepoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Create, sign and publish a TUF repository",
		Long:  repoLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	for _, sub := range repoSubcommands() {
		sub.PostRun = func(cmd *cobra.Command, args []string) { releaseKeyStore(cmd) }
		cmd.AddCommand(sub)
	}
	return cmd
}

func repoSubcommands() []*cobra.Command {
	return []*cobra.Command{
		newRepoInitCommand(),
		newRepoAddCommand(),
		newRepoRemoveCommand(),
		newRepoDelegateCommand(),
		newRepoImportSignatureCommand(),
		newRepoSignCommand(),
		newRepoMergeCommand(),
		newRepoRotateCommand(),
		newRepoPublishCommand(),
		newRepoPullCommand(),
		newRepoCloneCommand(),
		newRepoStatusCommand(),
		newRepoExpiryCommand(),
		newRepoRefreshCommand(),
		newRepoImportDelegationCommand(),
		newRepoInTotoSetupCommand(),
	}
}

// repoKeyStore is the key store of the repo commands: encrypted key files,
// with the passphrase from RAMPART_PASSPHRASE or asked on the terminal.
var repoKeyStore = func(cmd *cobra.Command) repo.KeyStore {
	return repo.NewEncryptedKeyStore(
		keystore.EnvOrPrompt(terminalIn(cmd), cmd.ErrOrStderr()),
		keystore.EnvOrPromptNew(terminalIn(cmd), cmd.ErrOrStderr()))
}

// repoOptions returns the options of a command's repository; its key
// store is made once per command, so that a passphrase is asked once.
func repoOptions(cmd *cobra.Command) repo.Options {
	return repo.Options{Keys: commandKeyStore(cmd), Progress: cmd.ErrOrStderr()}
}

var (
	keyStoresMu sync.Mutex
	keyStores   = map[*cobra.Command]repo.KeyStore{}
)

func commandKeyStore(cmd *cobra.Command) repo.KeyStore {
	keyStoresMu.Lock()
	defer keyStoresMu.Unlock()
	ks, ok := keyStores[cmd]
	if !ok {
		ks = repoKeyStore(cmd)
		keyStores[cmd] = ks
	}
	return ks
}

// releaseKeyStore forgets the key store of cmd (and its passphrase).
func releaseKeyStore(cmd *cobra.Command) {
	keyStoresMu.Lock()
	delete(keyStores, cmd)
	keyStoresMu.Unlock()
}

func openRepo(cmd *cobra.Command, dir string) (*repo.Repo, error) {
	return repo.Open(cmd.Context(), dir, repoOptions(cmd))
}

// printNotes tells, on standard error, what the last change left to do.
func printNotes(cmd *cobra.Command, r *repo.Repo) {
	for _, n := range r.Notes() {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s\n", n)
	}
}

// parseRoleValues reads ROLE=VALUE flags.
func parseRoleValues(flag string, values []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, v := range values {
		role, val, ok := strings.Cut(v, "=")
		if !ok || role == "" || val == "" {
			return nil, usageErrorf("--%s %q: want ROLE=VALUE, like --%s targets=...", flag, v, flag)
		}
		if !repo.IsInitRole(role) {
			return nil, usageErrorf("--%s %s: unknown role %q: want root, targets, snapshot, timestamp or bins", flag, v, role)
		}
		out[role] = append(out[role], val)
	}
	return out, nil
}

func newRepoInitCommand() *cobra.Command {
	var bins int
	var binPrefix, serverURL, gun string
	var tok tokenFlags
	var thresholds, expires, keyFlags []string
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Create a repository with new keys",
		Long: `Create a TUF repository in DIR (which must not exist, or be empty).

Every top-level role (root, targets, snapshot, timestamp) gets new keys,
written encrypted to DIR/keys, unless --key gives key files: a private key
file (.key) is used for signing whenever it is there, a public key file
(.pub) names a key held elsewhere, which signs later with 'rampart repo
sign'. With --bins, targets are spread over 2^BITS hashed bins (TAP 15).

With --server and --gun, the repository lives on a metadata server
(rampart serve) under that GUN: root trusts the server's online timestamp
key and, unless --key gives snapshot keys, its snapshot key, both fetched
from the server with a push token (--token, RAMPART_TOKEN or --token-file).
The server then signs timestamp (and snapshot) whenever the repository is
published to it with 'rampart repo publish DIR', and keeps them fresh.

Metadata is staged in DIR; 'rampart repo publish' writes what clients
fetch.`,
		Example: `  rampart repo init myrepo
  rampart repo init registry --bins 12 --expires timestamp=1d
  rampart repo init secure --threshold root=2 --key root=/media/usb/root-1.pub --key root=/media/usb/root-2.pub
  RAMPART_TOKEN=rpt_... rampart repo init app --server https://tuf.example.com --gun example.com/acme/app`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := repo.InitOptions{Bins: bins, BinPrefix: binPrefix, Thresholds: map[string]int{}, Expires: map[string]time.Duration{}}
			th, err := parseRoleValues("threshold", thresholds)
			if err != nil {
				return err
			}
			for role, vs := range th {
				n, err := strconv.Atoi(vs[len(vs)-1])
				if err != nil || n < 1 {
					return usageErrorf("--threshold %s=%s: want a positive number", role, vs[len(vs)-1])
				}
				o.Thresholds[role] = n
			}
			ex, err := parseRoleValues("expires", expires)
			if err != nil {
				return err
			}
			for role, vs := range ex {
				d, err := repo.ParseDuration(vs[len(vs)-1])
				if err != nil {
					return usageErrorf("--expires %s: %v", role, err)
				}
				o.Expires[role] = d
			}
			if o.Keys, err = parseRoleValues("key", keyFlags); err != nil {
				return err
			}
			if gun != "" && serverURL == "" {
				return usageErrorf("--gun names the repository on a server: give the server with --server URL")
			}
			if serverURL != "" {
				if gun == "" {
					return usageErrorf("--server needs the repository's name there: give it with --gun GUN")
				}
				if o.Server, err = tok.client(serverURL); err != nil {
					return err
				}
				o.GUN = gun
			}
			r, err := repo.Init(cmd.Context(), args[0], o, repoOptions(cmd))
			if errors.Is(err, repo.ErrExistsOnServer) {
				return fmt.Errorf("%w; to work on it, make a copy of it with 'rampart repo clone %s --server %s --gun %s --root ROOT.json --key KEYFILE' (ROOT.json obtained from its maintainers, KEYFILE your own key)", err, args[0], serverURL, gun)
			}
			if err != nil {
				return err
			}
			defer r.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Created repository %s\n", args[0])
			printKeys(out, r)
			if b := r.Config().Bins; b != nil {
				fmt.Fprintf(out, "Targets go into %d hashed bins (%s-...)\n", 1<<b.Bits, b.Prefix)
			}
			if sc := r.Server(); sc != nil {
				fmt.Fprintf(out, "Publishes to %s as %s; clients use %s\n", sc.URL, sc.GUN, o.Server.RepositoryURL(sc.GUN))
				fmt.Fprintf(out, "Next: rampart repo add %s FILE, then rampart repo publish %s\n", args[0], args[0])
			} else {
				fmt.Fprintf(out, "Next: rampart repo add %s FILE, then rampart repo publish %s --out PUBDIR\n", args[0], args[0])
			}
			printNotes(cmd, r)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "metadata server (`URL`, rampart serve) the repository publishes to; it signs timestamp and snapshot")
	f.StringVar(&gun, "gun", "", "name of the repository on --server, such as example.com/acme/app")
	tok.add(f, "push token for --server")
	intRangeVar(f, &bins, "bins", 0, 1, 16, "spread targets over 2^`BITS` hashed bins (TAP 15 succinct roles), 1 to 16")
	f.StringVar(&binPrefix, "bin-prefix", "bins", "name prefix of the hashed bins")
	f.StringArrayVar(&thresholds, "threshold", nil, "signature threshold of a role, as `ROLE=N` (repeatable)")
	f.StringArrayVar(&expires, "expires", nil, "expiry period of a role, as `ROLE=DURATION` such as targets=90d, timestamp=1d (repeatable)")
	f.StringArrayVar(&keyFlags, "key", nil, "use an existing key for a role, as `ROLE=KEYFILE` (.key or .pub; repeatable)")
	return cmd
}

// printKeys lists the keys of the top-level roles.
func printKeys(w io.Writer, r *repo.Repo) {
	root := r.Root().Signed
	cfg := r.Config()
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		rk := root.Roles[role]
		fmt.Fprintf(w, "  %-9s threshold %d:", role, rk.Threshold)
		for _, id := range rk.KeyIDs {
			ref := cfg.Keys[id]
			where := ref.Private
			switch {
			case ref.Server:
				where = "held by the server"
			case where == "" && ref.Public == "":
				where = "held elsewhere"
			case where == "":
				where = ref.Public + ", offline"
			}
			fmt.Fprintf(w, " %s (%s)", id[:12], where)
		}
		fmt.Fprintln(w)
	}
}

func newRepoAddCommand() *cobra.Command {
	var as, role, custom, manifest string
	var inToto repoInTotoFlags
	cmd := &cobra.Command{
		Use:   "add DIR [SOURCE]",
		Short: "Add target files to a repository",
		Long: `Add target files to the repository in DIR.

SOURCE is a file, added as its base name (or --as TARGETPATH), or a
directory, whose files are added recursively with their paths relative to
it (under the prefix --as, if given). The content is copied into the
repository and published with the metadata.

With --from-manifest, targets whose content lives elsewhere are registered
by length and SHA-256: each line of the manifest is
TARGETPATH<TAB>LENGTH<TAB>SHA256HEX.

Targets go into their hashed bin when the repository has bins, otherwise
into the first delegated role trusted for their path, or targets; --role
chooses a role. Changed roles are signed with the keys at hand.`,
		Example: `  rampart repo add myrepo dist/app-1.2.0.tar.gz --as app/app-1.2.0.tar.gz
  rampart repo add myrepo site/ --custom '{"channel":"stable"}'
  rampart repo add registry --from-manifest packages.tsv`,
		Args: checkArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inToto.used(cmd) {
				return inToto.add(cmd, args, as, role, custom != "" || manifest != "")
			}
			if (len(args) == 2) == (manifest != "") {
				return usageErrorf("give either SOURCE or --from-manifest FILE")
			}
			if manifest != "" && as != "" {
				return usageErrorf("--as does not apply to --from-manifest")
			}
			o := repo.AddOptions{Role: role}
			if custom != "" {
				o.Custom = []byte(custom)
			}
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			var res *repo.AddResult
			if manifest != "" {
				f, err := os.Open(manifest)
				if err != nil {
					return err
				}
				defer f.Close()
				var size int64
				if fi, err := f.Stat(); err == nil {
					size = fi.Size()
				}
				res, err = r.AddManifest(cmd.Context(), f, size, o)
				if err != nil {
					return err
				}
			} else {
				if res, err = r.AddFiles(cmd.Context(), args[1], as, o); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if len(res.Targets) <= 20 {
				for _, t := range res.Targets {
					fmt.Fprintf(out, "added %s (%s)\n", t.Path, plural(t.File.Length, "byte"))
				}
			}
			fmt.Fprintf(out, "%s added to %s\n", plural(res.Count, "target"), summarizeRoles(res.Roles))
			printNotes(cmd, r)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&as, "as", "", "`TARGETPATH` of a file, or path prefix for a directory")
	f.StringVar(&role, "role", "", "`ROLE` to list the targets in (default: automatic)")
	f.StringVar(&custom, "custom", "", "custom metadata for the targets, as a `JSON` object")
	f.StringVar(&manifest, "from-manifest", "", "register the targets listed in `FILE` (TARGETPATH<TAB>LENGTH<TAB>SHA256HEX lines)")
	inToto.addFlags(f)
	return cmd
}

// summarizeRoles writes "targets" or "3 roles (bins-000: 2, ...)".
func summarizeRoles(perRole map[string]int) string {
	names := make([]string, 0, len(perRole))
	for n := range perRole {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 1 {
		return "role " + names[0]
	}
	if len(names) > 6 {
		return fmt.Sprintf("%d roles", len(names))
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, perRole[n])
	}
	return fmt.Sprintf("%d roles (%s)", len(names), strings.Join(parts, ", "))
}

func newRepoRemoveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove DIR TARGETPATH...",
		Short: "Remove targets from a repository",
		Long: `Remove targets from every role of the repository in DIR that lists them.
Their content stays in the repository, since metadata already published
may still refer to it.`,
		Args: checkArgs(cobra.MinimumNArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			perRole, err := r.Remove(cmd.Context(), args[1:]...)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s removed from %s\n", plural(len(args)-1, "target"), summarizeRoles(perRole))
			printNotes(cmd, r)
			return nil
		},
	}
}

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
prefixes of the SHA-256 of target paths.`,
		Example: `  rampart repo delegate myrepo releases --key alice.pub --key bob.pub --threshold 2 --paths 'releases/*'
  rampart repo delegate myrepo nightly --key ci.key --paths 'nightly/*' --terminating
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
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
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
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Keys, "key", nil, "public key file (`PUBFILE`) of a key of the role (repeatable)")
	certFlag(cmd, &certs)
	f.StringArrayVar(&o.Paths, "paths", nil, "target path `GLOB` the role is trusted for (repeatable)")
	f.StringSliceVar(&o.HashPrefixes, "hash-prefixes", nil, "`HEX` prefix of path hashes the role is trusted for (repeatable)")
	intRangeVar(f, &o.Threshold, "threshold", 1, 1, math.MaxInt, "number (`N`) of the role's keys that must sign")
	f.BoolVar(&o.Terminating, "terminating", false, "clients stop at this role for its paths")
	f.StringVar(&o.From, "from", "", "delegating `PARENT` role (default targets)")
	f.Var(durationValue{&o.Expires}, "expires", "expiry period of the role, such as 30d (default: that of targets)")
	return cmd
}

func newRepoExpiryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "expiry DIR ROLE DURATION",
		Short: "Set how long a role's metadata stays valid",
		Long: `Set the expiry policy of ROLE ("bins" for all hashed bins): every time the
role is signed, its metadata expires DURATION later (90d, 2w, 1y, 36h). The
role is signed again at once with the new expiry.`,
		Example: `  rampart repo expiry myrepo timestamp 1d
  rampart repo expiry myrepo bins 30d`,
		Args: checkArgs(cobra.ExactArgs(3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := repo.ParseDuration(args[2])
			if err != nil {
				return usageError{err}
			}
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			if err := r.SetExpiry(cmd.Context(), args[1], d); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s now expires %s after each signing\n", args[1], repo.FormatDuration(d))
			printNotes(cmd, r)
			return nil
		},
	}
}

func newRepoRefreshCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "refresh DIR [ROLE]...",
		Short: "Sign roles again before they expire",
		Long: `Sign ROLEs again, unchanged but with a new version and expiry, with the
keys at hand. Without ROLE, every role with less than half of its expiry
period left is refreshed ("bins" stands for all hashed bins). Publish
afterwards; publish itself refreshes snapshot and timestamp.`,
		Args: checkArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			done, err := r.Refresh(cmd.Context(), args[1:]...)
			if err != nil {
				return err
			}
			if len(done) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no role needs refreshing")
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "refreshed %s\n", strings.Join(done, ", "))
			printNotes(cmd, r)
			return nil
		},
	}
}

// loadSigners reads private key files given on the command line.
func loadSigners(cmd *cobra.Command, files []string) ([]keys.Signer, error) {
	ks := commandKeyStore(cmd)
	var out []keys.Signer
	for _, f := range files {
		s, err := ks.Load(cmd.Context(), f)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

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
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
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
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "private key file (`KEYFILE`) to sign with (repeatable)")
	return cmd
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
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
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
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
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
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.AddKeys, "add-key", nil, "key file (`PUBFILE`) of a key to trust (repeatable)")
	f.StringArrayVar(&o.RemoveKeys, "remove-key", nil, "ID (`KEYID`, or a unique prefix) of a key to revoke (repeatable)")
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

func newRepoPublishCommand() *cobra.Command {
	var out string
	var tok tokenFlags
	var so repo.ServerOptions
	cmd := &cobra.Command{
		Use:   "publish DIR [--out PUBDIR]",
		Short: "Write metadata and targets for clients to fetch",
		Long: `Check that every role is signed by its threshold of keys and publish the
repository.

With --out, write PUBDIR/metadata (N.ROLE.json for every version of every
role, every root version, root.json and timestamp.json) and PUBDIR/targets
(dir/HASH.name), ready for any static web server, bucket or CDN. Snapshot
and timestamp are signed again first when they need it and their keys are
at hand. Files already in PUBDIR are kept: publishing again writes only
what changed, and timestamp.json is replaced last.

Without --out, publish to the metadata server the repository was created
for ('rampart repo init DIR --server URL --gun GUN'), with a push token
(--token, RAMPART_TOKEN or --token-file). Publish reads what the server
has, uploads the target content it lacks (DIR/uploaded.txt remembers what
it has, so later publishes ask only about new content), then sends every
newer root version and the roles that changed (and snapshot, if you hold
its key) in one atomic update; the server checks them as a client would
and signs the new timestamp. Nothing is sent when a role is below its threshold or
expired, and the server's new state is read back and checked.`,
		Example: `  rampart repo publish myrepo --out /srv/www/tuf
  RAMPART_TOKEN=rpt_... rampart repo publish app`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			if out == "" {
				sc := r.Server()
				if sc == nil {
					return usageErrorf("give the output directory with --out PUBDIR (%s does not publish to a metadata server)", args[0])
				}
				c, err := tok.client(sc.URL)
				if err != nil {
					return err
				}
				res, err := r.PublishToServer(cmd.Context(), c, so)
				if err != nil {
					return err
				}
				printServerResult(cmd.OutOrStdout(), res)
				return nil
			}
			res, err := r.Publish(cmd.Context(), out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "published root v%d, snapshot v%d, timestamp v%d to %s: %s and %s written, %d unchanged\n",
				res.RootVersion, res.SnapshotVer, res.TimestampVer, res.Out, plural(res.MetadataFiles, "metadata file"), plural(res.TargetFiles, "target"), res.Unchanged)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory (`PUBDIR`) to publish to; without it, publish to the repository's server")
	tok.add(cmd.Flags(), "push token for the repository's server")
	cmd.Flags().BoolVar(&so.RecheckTargets, "recheck-targets", false, "ask the server about all target content, not only content added since DIR/uploaded.txt says it was uploaded")
	return cmd
}

func newRepoPullCommand() *cobra.Command {
	var tok tokenFlags
	cmd := &cobra.Command{
		Use:   "pull DIR",
		Short: "Bring a repository up to date with its metadata server",
		Long: `Fetch what others published to the repository's metadata server since
this copy last saw it: newer root versions and targets roles, including
delegations made elsewhere. Everything fetched is checked as a client
would check it (each root against the one before it, timestamp and
snapshot against the newest root, each role against the snapshot and its
delegator's keys) before it is staged, in one commit.

Roles staged here at a newer version than the server's are kept, to be
published; a role at the same version but with other content means this
copy and the server were changed apart, and nothing is pulled. The
server's public endpoints need no token; give one (--token, RAMPART_TOKEN
or --token-file) if the server is behind one anyway.`,
		Example: `  rampart repo pull app && rampart repo add app dist/ && rampart repo publish app`,
		Args:    checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			sc := r.Server()
			if sc == nil {
				return usageErrorf("%s does not publish to a metadata server: there is nothing to pull from", args[0])
			}
			c, err := tok.optionalClient(sc.URL)
			if err != nil {
				return err
			}
			res, err := r.PullFromServer(cmd.Context(), c)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			where := strings.TrimRight(sc.URL, "/") + " as " + sc.GUN
			if res.UpToDate {
				fmt.Fprintf(out, "%s has nothing newer than %s\n", where, args[0])
			} else {
				fmt.Fprintf(out, "pulled from %s: %s\n", where, strings.Join(rootsAndRoles(res.RootVersions, res.Roles), ", "))
			}
			if len(res.Ahead) > 0 {
				fmt.Fprintf(out, "not published yet, kept: %s\n", strings.Join(res.Ahead, ", "))
			}
			for _, e := range res.Expired {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: on the server, %s: clients refuse it until it is renewed (rampart repo sign, or publish a change)\n", e)
			}
			printNotes(cmd, r)
			return nil
		},
	}
	tok.add(cmd.Flags(), "token for the repository's server, if it needs one")
	return cmd
}

func newRepoCloneCommand() *cobra.Command {
	var serverURL, gun, rootFile string
	var keyFiles []string
	var tok tokenFlags
	cmd := &cobra.Command{
		Use:   "clone DIR --server URL --gun GUN --root ROOT.json",
		Short: "Make a copy of a repository kept on a metadata server",
		Long: `Create DIR (new or empty) as a copy of the repository GUN on a metadata
server, for a maintainer who does not have its directory. ROOT.json is a
root of the repository obtained out of band, as clients get theirs: the
copy trusts only what chains to it. Every root version and every role is
fetched and checked as 'rampart repo pull' checks them, and repo.json
learns the server's online keys, the delegations and the hashed bins.

--key gives your own private key files (repeatable); the copy signs with
them whatever roles they are trusted for. A push token is needed (--token,
RAMPART_TOKEN or --token-file). Target content stays on the server. After
that, the copy works like any other: add, sign, publish, pull.`,
		Example: `  rampart repo clone app --server https://tuf.example.com --gun example.com/acme/app \
      --root root.json --key ~/keys/releases.key`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || gun == "" || rootFile == "" {
				return usageErrorf("clone needs --server URL, --gun GUN and --root ROOT.json")
			}
			root, err := os.ReadFile(rootFile)
			if err != nil {
				return fmt.Errorf("reading the trusted root: %w", err)
			}
			c, err := tok.client(serverURL)
			if err != nil {
				return err
			}
			r, res, err := repo.Clone(cmd.Context(), args[0], repo.CloneOptions{Server: c, GUN: gun, Root: root, Keys: keyFiles}, repoOptions(cmd))
			if err != nil {
				return err
			}
			defer r.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Cloned %s from %s into %s: root v%d, %s\n", gun, c.URL(), args[0], r.Root().Signed.Version, plural(len(res.Roles), "role"))
			printKeys(out, r)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "metadata server (`URL`) that keeps the repository")
	f.StringVar(&gun, "gun", "", "name of the repository on --server")
	f.StringVar(&rootFile, "root", "", "a root.json of the repository, obtained out of band")
	f.StringArrayVar(&keyFiles, "key", nil, "a private key file (`KEYFILE`) of yours to sign with (repeatable)")
	tok.add(f, "push token for --server")
	return cmd
}

// printServerResult says what a publish to a server did.
func printServerResult(w io.Writer, res *repo.ServerResult) {
	where := strings.TrimRight(res.URL, "/") + " as " + res.GUN
	if res.UpToDate {
		fmt.Fprintf(w, "%s is up to date: root v%d, snapshot v%d, timestamp v%d\n", where, res.RootVersion, res.SnapshotVersion, res.TimestampVersion)
		return
	}
	sent := rootsAndRoles(res.RootVersions, res.Roles)
	if len(sent) == 0 {
		sent = []string{"no metadata"}
	}
	fmt.Fprintf(w, "published to %s: root v%d, snapshot v%d, timestamp v%d (sent %s; %s uploaded, %s, %d already there)\n",
		where, res.RootVersion, res.SnapshotVersion, res.TimestampVersion, strings.Join(sent, ", "),
		plural(res.TargetsUploaded, "target"), formatSize(res.TargetBytes), res.TargetsPresent)
}

// rootsAndRoles names root versions and roles for a message: "root v2",
// then the roles, or their number when there are many.
func rootsAndRoles(roots []int64, roles []string) []string {
	var out []string
	for _, v := range roots {
		out = append(out, fmt.Sprintf("root v%d", v))
	}
	if n := len(roles); n > 6 {
		return append(out, fmt.Sprintf("%d roles", n))
	}
	return append(out, roles...)
}

// formatSize writes n bytes for people.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return plural(n, "byte")
}

// readToken returns the token of a --token flag and a --token-file flag:
// the file's, when one is given, since RAMPART_TOKEN may have set --token
// to a token for other commands.
func readToken(flag, file string) (string, error) {
	if file == "" {
		return flag, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s holds no token", file)
	}
	return tok, nil
}

// tokenFlags are the --token and --token-file flags of commands that talk
// to a metadata server.
type tokenFlags struct {
	token, file string
}

func (t *tokenFlags) add(f *pflag.FlagSet, usage string) {
	f.StringVar(&t.token, "token", "", usage+" (or RAMPART_TOKEN)")
	f.StringVar(&t.file, "token-file", "", "file holding the token (wins over --token and RAMPART_TOKEN)")
}

// optionalClient is client, but a missing token is no error.
func (t *tokenFlags) optionalClient(url string) (*apiclient.Client, error) {
	if t.token == "" && t.file == "" {
		return newServerClient(url, "")
	}
	return t.client(url)
}

// client returns an API client for the server at url with the token.
func (t *tokenFlags) client(url string) (*apiclient.Client, error) {
	tok, err := readToken(t.token, t.file)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, usageErrorf("the server needs a token: give it with --token, RAMPART_TOKEN or --token-file (an admin makes one with 'rampart token create --scope push')")
	}
	return newServerClient(url, tok)
}

func newRepoStatusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status DIR",
		Short: "Show roles, versions, expiry and signatures",
		Long: `Show every role of the repository in DIR: version, expiry, signatures
present and missing, and number of targets. Warnings name roles below their
threshold, expired, or with less than a fifth of their expiry period left.
Hashed bins are summarised, and listed only when they need attention.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := openRepo(cmd, args[0])
			if err != nil {
				return err
			}
			defer r.Close()
			st, err := r.Status(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if st.Server != nil {
				fmt.Fprintf(out, "Publishes to %s as %s\n\n", st.Server.URL, st.Server.GUN)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ROLE\tVERSION\tEXPIRES\tSIGNATURES\tTARGETS\tMISSING KEYS")
			for _, rs := range st.Roles {
				exp := rs.Expires.Format("2006-01-02") + " (in " + rs.ExpiresIn + ")"
				if rs.Expired {
					exp = rs.Expires.Format("2006-01-02") + " (EXPIRED)"
				} else if rs.ExpiresSoon {
					exp += " !"
				}
				targets := "-"
				if rs.Name != "root" && rs.Name != "snapshot" && rs.Name != "timestamp" {
					targets = strconv.Itoa(rs.Targets)
				}
				var missing []string
				for _, k := range rs.Missing {
					m := k.ID[:12]
					if k.File != "" {
						m += " (" + k.File + ")"
					}
					missing = append(missing, m)
				}
				version, sigs := strconv.FormatInt(rs.Version, 10), fmt.Sprintf("%d/%d", len(rs.Signed), rs.Threshold)
				if rs.SignedByServer {
					version, exp, sigs, missing = "-", "-", "by server", nil
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rs.Name, version, exp, sigs, targets, strings.Join(missing, ", "))
			}
			tw.Flush()
			if b := st.Bins; b != nil {
				fmt.Fprintf(out, "\n%d hashed bins (%s-*): %s, %d below threshold, earliest expiry %s\n",
					b.Count, b.Prefix, plural(b.Targets, "target"), b.BelowThreshold, b.EarliestExpiry.Format("2006-01-02"))
			}
			if len(st.Warnings) > 0 {
				fmt.Fprintln(out, "\nWarnings:")
				for _, w := range st.Warnings {
					fmt.Fprintf(out, "  %s\n", strings.ReplaceAll(w, "\n", "\n  "))
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}
