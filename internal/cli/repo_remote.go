package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server/apiclient"
)

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
			return withRepo(cmd, args[0], func(r *repo.Repo) error {
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
			})
		},
	}
	tok.add(cmd.Flags(), "token for the repository's server, if it needs one")
	return cmd
}

func newRepoCloneCommand() *cobra.Command {
	var serverURL, gun, rootFile, content string
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
that, the copy works like any other: add, sign, publish, pull. The server
does not know where the repository's target content is served from: give
--content external for a repository whose content is hosted elsewhere (or
set it later with 'rampart repo content DIR external').`,
		Example: `  rampart repo clone app --server https://tuf.example.com --gun example.com/acme/app \
      --root root.json --key ~/keys/releases.key`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if serverURL == "" || gun == "" || rootFile == "" {
				return usageErrorf("clone needs --server URL, --gun GUN and --root ROOT.json")
			}
			mode, err := repo.ParseContentMode(content)
			if err != nil {
				return usageErrorf("--content: %v", err)
			}
			root, err := os.ReadFile(rootFile)
			if err != nil {
				return fmt.Errorf("reading the trusted root: %w", err)
			}
			c, err := tok.client(serverURL)
			if err != nil {
				return err
			}
			r, res, err := repo.Clone(cmd.Context(), args[0], repo.CloneOptions{Server: c, GUN: gun, Root: root, Keys: keyFiles, Content: mode}, repoOptions(cmd))
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
	stringsVar(f, &keyFiles, "key", "", false, "a private key file (`KEYFILE`) of yours to sign with (repeatable)")
	tok.add(f, "push token for --server")
	f.StringVar(&content, "content", string(repo.ContentStored), "where target content is served from: `MODE` stored or external (hosted elsewhere; see 'rampart repo content --help')")
	return cmd
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
