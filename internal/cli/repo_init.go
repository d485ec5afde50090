package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/repo"
)

func newRepoInitCommand() *cobra.Command {
	var bins int
	var binPrefix, serverURL, gun, content string
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

With --content external, the target content is hosted elsewhere (a
registry, a CDN, a release page): 'rampart repo add' only hashes files and
'rampart repo publish' sends or writes metadata only; 'rampart repo content'
shows and changes this later.

Metadata is staged in DIR; 'rampart repo publish' writes what clients
fetch.`,
		Example: `  rampart repo init myrepo
  rampart repo init registry --bins 12 --expires timestamp=1d
  rampart repo init secure --threshold root=2 --key root=/media/usb/root-1.pub --key root=/media/usb/root-2.pub
  RAMPART_TOKEN=rpt_... rampart repo init app --server https://tuf.example.com --gun example.com/acme/app
  rampart repo init images --server https://tuf.example.com --gun example.com/acme/images --content external`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := initOptions(bins, binPrefix, thresholds, expires, keyFlags, serverURL, gun, &tok)
			if err != nil {
				return err
			}
			if o.Content, err = repo.ParseContentMode(content); err != nil {
				return usageErrorf("--content: %v", err)
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
			if r.ContentMode() == repo.ContentExternal {
				fmt.Fprintf(out, "Target content is hosted elsewhere: files added are only hashed, and publishing sends metadata only\n")
			}
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
	f.StringVar(&content, "content", string(repo.ContentStored), "where target content is served from: `MODE` stored (copied into the repository, published with the metadata) or external (hosted elsewhere; metadata only)")
	stringsVar(f, &thresholds, "threshold", "", false, "signature threshold of a role, as `ROLE=N` (repeatable)")
	stringsVar(f, &expires, "expires", "", false, "expiry period of a role, as `ROLE=DURATION` such as targets=90d, timestamp=1d (repeatable)")
	stringsVar(f, &keyFlags, "key", "", false, "use an existing key for a role, as `ROLE=KEYFILE` (.key or .pub; repeatable)")
	return cmd
}

// initOptions reads the flags of 'repo init'.
func initOptions(bins int, binPrefix string, thresholds, expires, keyFlags []string, serverURL, gun string, tok *tokenFlags) (repo.InitOptions, error) {
	o := repo.InitOptions{Bins: bins, BinPrefix: binPrefix, Thresholds: map[string]int{}, Expires: map[string]time.Duration{}}
	th, err := parseRoleValues("threshold", thresholds)
	if err != nil {
		return o, err
	}
	for role, vs := range th {
		n, err := strconv.Atoi(vs[len(vs)-1])
		if err != nil || n < 1 {
			return o, usageErrorf("--threshold %s=%s: want a positive number", role, vs[len(vs)-1])
		}
		o.Thresholds[role] = n
	}
	ex, err := parseRoleValues("expires", expires)
	if err != nil {
		return o, err
	}
	for role, vs := range ex {
		d, err := repo.ParseDuration(vs[len(vs)-1])
		if err != nil {
			return o, usageErrorf("--expires %s: %v", role, err)
		}
		o.Expires[role] = d
	}
	if o.Keys, err = parseRoleValues("key", keyFlags); err != nil {
		return o, err
	}
	if gun != "" && serverURL == "" {
		return o, usageErrorf("--gun names the repository on a server: give the server with --server URL")
	}
	if serverURL != "" {
		if gun == "" {
			return o, usageErrorf("--server needs the repository's name there: give it with --gun GUN")
		}
		if o.Server, err = tok.client(serverURL); err != nil {
			return o, err
		}
		o.GUN = gun
	}
	return o, nil
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
