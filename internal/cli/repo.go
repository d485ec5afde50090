package cli

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/repo"
)

// repoCommands returns the commands of the "repo" group.
//
// Repository commands create a TUF repository, add targets, sign
// metadata with the roles' keys and publish it.
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func repoCommands() []*cobra.Command { return repoCommandsFor("") }

// repoCommandsFor returns the repo command with only the subcommand sub
// names, or with all of them when it names none.
func repoCommandsFor(sub string) []*cobra.Command {
	return []*cobra.Command{newRepoCommand(sub)}
}

const repoLong = `Maintain a TUF repository: create it, add targets, delegate, sign with
keys held offline or by several people, rotate keys, and publish metadata
and targets for any static web server, or to a metadata server (rampart
serve) that signs timestamp and snapshot with its online keys.

A repository is a directory (DIR) holding its configuration (repo.json),
the staged metadata of every role (staged/), every root version (roots/),
the content of targets added from files (targets/, unless the content is
hosted elsewhere: see 'rampart repo content') and the keys it generated
(keys/). A repository that publishes to a metadata server also keeps two
caches of what the server has (uploaded.txt, server-snapshot.txt); they
may be deleted at any time. Every command changes it atomically: an
interrupted command leaves the previous state. 'rampart repo publish' writes what
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

func newRepoCommand(sub string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Create, sign and publish a TUF repository",
		Long:  repoLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	subs := repoSubcommands
	if i := slices.IndexFunc(subs, func(s repoSubcommand) bool { return s.name == sub }); i >= 0 {
		subs = subs[i : i+1]
	}
	for _, s := range subs {
		c := s.build()
		c.PostRun = func(cmd *cobra.Command, args []string) { releaseKeyStore(cmd) }
		cmd.AddCommand(c)
	}
	return cmd
}

// repoSubcommand is a repo subcommand: its name, and the function that
// builds it.
type repoSubcommand struct {
	name  string
	build func() *cobra.Command
}

// repoSubcommands are the repo subcommands, in the order the help lists
// them.
var repoSubcommands = []repoSubcommand{
	{"init", newRepoInitCommand},
	{"add", newRepoAddCommand},
	{"remove", newRepoRemoveCommand},
	{"delegate", newRepoDelegateCommand},
	{"import-signature", newRepoImportSignatureCommand},
	{"sign", newRepoSignCommand},
	{"merge", newRepoMergeCommand},
	{"rotate", newRepoRotateCommand},
	{"publish", newRepoPublishCommand},
	{"pull", newRepoPullCommand},
	{"clone", newRepoCloneCommand},
	{"status", newRepoStatusCommand},
	{"content", newRepoContentCommand},
	{"expiry", newRepoExpiryCommand},
	{"refresh", newRepoRefreshCommand},
	{"import-delegation", newRepoImportDelegationCommand},
	{"in-toto-setup", newRepoInTotoSetupCommand},
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

// withRepo opens the repository in dir with the command's options, runs
// fn on it and closes it. Errors of the repository library get the
// command that deals with them (repoHint).
func withRepo(cmd *cobra.Command, dir string, fn func(r *repo.Repo) error) error {
	r, err := repo.Open(cmd.Context(), dir, repoOptions(cmd))
	if err != nil {
		return repoHint(dir, err)
	}
	defer r.Close()
	return repoHint(dir, fn(r))
}

// repoHint adds to an error of the repository in dir what to run about it.
func repoHint(dir string, err error) error {
	var se *repo.SignatureError
	if err == nil {
		return nil
	}
	if errors.As(err, &se) {
		return fmt.Errorf("%w\nsign with 'rampart repo sign %s %s --key KEYFILE' (or merge signatures made elsewhere with 'rampart repo merge'), then try again", err, dir, se.Role())
	}
	for _, h := range repoHints {
		if errors.Is(err, h.err) {
			return fmt.Errorf("%w; "+h.hint, err, dir)
		}
	}
	return err
}

// repoHints name, for each error of the repository library a user can do
// something about, the command that deals with it (%[2]s is the
// repository's directory).
var repoHints = []struct {
	err  error
	hint string
}{
	{repo.ErrNotRepository, "create one with 'rampart repo init %[2]s'"},
	{repo.ErrNotDelegated, "delegate it first with 'rampart repo delegate %[2]s ROLE --cert CERT.pem'"},
	{repo.ErrServerNewer, "bring this copy up to date with 'rampart repo pull %[2]s' first"},
	{repo.ErrDiverged, "make this copy's change again on a copy brought up to date with 'rampart repo pull %[2]s' (or a fresh 'rampart repo clone')"},
	{repo.ErrNoServer, "publish it to a directory with 'rampart repo publish %[2]s --out DIR', or create a repository on a server with 'rampart repo init DIR --server URL --gun GUN'"},
	{repo.ErrNotOnServer, "publish it there first with 'rampart repo publish %[2]s'"},
	{repo.ErrServerSignsTimestamp, "publish there with 'rampart repo publish %[2]s' (without --out)"},
	{repo.ErrStaleTimestamp, "make the timestamp key available, or sign with 'rampart repo sign %[2]s snapshot'"},
	{repo.ErrNoRole, "delegate it first with 'rampart repo delegate %[2]s ROLE --key PUBFILE --paths GLOB'"},
	{repo.ErrImportedRole, "import a newer version with 'rampart repo import-delegation %[2]s ROLE'"},
}

// printNotes tells, on standard error, what the last change left to do.
func printNotes(cmd *cobra.Command, r *repo.Repo) {
	for _, n := range r.Notes() {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: %s; sign it with 'rampart repo sign %s %s --key KEYFILE' before publishing\n", n.Text, r.Dir(), n.Role)
	}
}
