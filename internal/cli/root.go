// Package cli holds every command of the rampart command-line tool.
//
// cmd/rampart only calls [Run]. Each command group ("client", "repo", "key",
// "server") lives in its own file and returns its commands from one function
// listed in [commandGroups]; a group shows up in the help output as soon as
// it has a command. Commands write results to cmd.OutOrStdout(), and
// progress and diagnostics to cmd.ErrOrStderr(), so that tests can run them
// in-process. They report failure by returning an error: [Run] prints it once
// as "rampart: <message>" and returns exit code 1.
//
// See docs/README.md for the conventions the commands follow.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes returned by [Run].
const (
	ExitOK      = 0
	ExitFailure = 1
)

// envPrefix is the prefix of the environment variables that set flags:
// --repo-dir can also be given as RAMPART_REPO_DIR.
const envPrefix = "RAMPART_"

// commandGroup is one heading of the help output and the function, in its
// own file, that returns the commands under it.
type commandGroup struct {
	id       string
	title    string
	commands func() []*cobra.Command
	// names are the names of the commands, so that a command line naming
	// one builds only its group (see newRootCommandFor).
	names []string
	// commandsFor, when set, returns the commands of a group whose command
	// has subcommands with only the subcommand that sub, the next word of
	// the command line, names, or all of them when it names none.
	commandsFor func(sub string) []*cobra.Command
}

// commandGroups lists the groups in the order the help output shows them.
// Groups without commands are left out of the help output.
var commandGroups = []commandGroup{
	{id: "start", title: "Getting started:", commands: startCommands, names: []string{"quickstart"}},
	{id: "client", title: "Client commands (fetch and verify updates):", commands: clientCommands, names: []string{"client"}},
	{id: "mirror", title: "Mirror commands (copy a repository, verified):", commands: mirrorCommands, names: []string{"mirror"}},
	{id: "repo", title: "Repository commands (create, sign and publish metadata):", commands: repoCommands, commandsFor: repoCommandsFor, names: []string{"repo"}},
	{id: "key", title: "Key commands:", commands: keyCommands, names: []string{"key", "agent"}},
	{id: "server", title: "Server commands:", commands: serverCommands, names: []string{"serve", "token"}},
	{id: "signer", title: "Signer commands (online-key signing service):", commands: signerCommands, names: []string{"signer"}},
	{id: "notary", title: "Notary v1 compatibility:", commands: notaryCommands, names: []string{"notary"}},
	{id: "oci", title: "OCI artifact commands (container image signatures):", commands: ociCommands, names: []string{"oci"}},
}

// otherGroup holds version, help and completion.
var otherGroup = cobra.Group{ID: "other", Title: "Other commands:"}

func init() {
	// Run the PersistentPreRunE of every ancestor, not only the nearest one,
	// so that the root's environment handling cannot be shadowed by a
	// subcommand that has a persistent hook of its own.
	cobra.EnableTraverseRunHooks = true
}

const rootLong = `Rampart secures software updates with The Update Framework (TUF).

A TUF repository publishes signed metadata that says which files (targets)
exist, what their hashes and lengths are, and which keys may vouch for them.
Rampart's client checks that metadata exactly as the TUF 1.0 specification
requires, so that a compromised mirror or network cannot roll it back, freeze
it, mix old and new metadata, feed it endless data or slip it files that the
repository's keys never signed. Its repository commands create keys and
roles, sign metadata and publish it.

Commands are grouped below by what they act on. Results go to standard
output; progress, warnings and errors go to standard error. Any flag can also
be set through the environment: --some-flag as RAMPART_SOME_FLAG.`

// NewRootCommand returns the rampart command with all of its subcommands.
// Every call returns a fresh tree, so tests can run commands independently.
func NewRootCommand() *cobra.Command { return newRootCommandFor(nil) }

// newRootCommandFor returns the rampart command for the command line args
// (without the program name): with the group of subcommands that its first
// word names, or with all of them when it names none (help, completion, a
// flag, a mistake). Within a group that can (see commandGroup.commandsFor),
// only the subcommand that the second word names is built. A process runs
// one command: building the others, with all their flags, would be
// start-up work for nothing.
func newRootCommandFor(args []string) *cobra.Command {
	var first, second string
	if len(args) > 0 {
		first = args[0]
	}
	if len(args) > 1 {
		second = args[1]
	}
	groups := commandGroups
	for _, g := range commandGroups {
		if slices.Contains(g.names, first) {
			groups = []commandGroup{g}
		}
	}
	root := newRoot(len(groups) == len(commandGroups))
	for _, g := range groups {
		if g.commandsFor != nil && len(groups) == 1 {
			addGroup(root, g, g.commandsFor(second))
		} else {
			addGroup(root, g, g.commands())
		}
	}
	root.AddGroup(&otherGroup)
	version := newVersionCommand()
	version.GroupID = otherGroup.ID
	root.AddCommand(version)
	root.SetHelpCommandGroupID(otherGroup.ID)
	root.SetCompletionCommandGroupID(otherGroup.ID)
	// The completion command (and its script generators) only where the
	// command line may ask for it.
	root.CompletionOptions.DisableDefaultCmd = len(groups) == 1
	return root
}

// addGroup adds the commands of group g to root, under its heading; a group
// without commands is left out.
func addGroup(root *cobra.Command, g commandGroup, cmds []*cobra.Command) {
	if len(cmds) == 0 {
		return
	}
	root.AddGroup(&cobra.Group{ID: g.id, Title: g.title})
	for _, c := range cmds {
		c.GroupID = g.id
		root.AddCommand(c)
	}
}

// newRoot returns the rampart command without subcommands. Only the full
// tree, the one built when the command line names no group, has --version:
// a command line that names a group cannot ask for it, and reading the
// version parses the build information.
func newRoot(full bool) *cobra.Command {
	root := &cobra.Command{
		Use:   "rampart",
		Short: "Secure software updates with The Update Framework (TUF)",
		Long:  rootLong,
		// Errors are printed once, by Run; usage is not dumped on errors.
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags(), os.LookupEnv)
		},
	}
	if full {
		root.Version = currentVersion().Version
		root.SetVersionTemplate("rampart {{.Version}}\n")
		// Declared here so that cobra does not take -v for it.
		root.Flags().Bool("version", false, "print the version of rampart")
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err}
	})
	return root
}

// Run runs the rampart command line args (without the program name) and
// returns the process exit code. Errors are printed to stderr once, as
// "rampart: <message>".
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return execute(ctx, newRootCommandFor(args), args, stdin, stdout, stderr)
}

// execute runs root with args; Run's tests use it on trees with extra commands.
func execute(ctx context.Context, root *cobra.Command, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if interrupted(ctx, err) {
		fmt.Fprintln(stderr, "rampart: interrupted")
		return ExitFailure
	}
	fmt.Fprintf(stderr, "rampart: %s\n", userMessage(strings.TrimRight(err.Error(), "\n")))
	if isUsageError(err) {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ExitFailure
}

// usageError marks an error in how a command was called (unknown command or
// flag, wrong number of arguments), as opposed to a failure while running it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns a usage error with a formatted message.
func usageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// isUsageError reports whether err is a usage error. Cobra reports unknown
// commands as plain errors, so those are recognised by their message.
func isUsageError(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// Cobra's own checks of commands and flags.
	for _, prefix := range []string{"unknown command ", "required flag(s) ", "if any flags in the group ", "at least one of the flags in the group "} {
		if strings.HasPrefix(err.Error(), prefix) {
			return true
		}
	}
	return false
}

// checkArgs wraps a cobra argument validator so that its errors count as
// usage errors. Commands set Args: checkArgs(cobra.ExactArgs(1)) and so on.
// When arguments are missing, the error names them from the command's Use
// line ("missing DIR and ROLE", "missing DIR, ROLE and DURATION").
func checkArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		err := v(cmd, args)
		if err == nil {
			return nil
		}
		if names := positionalNames(cmd.Use); len(args) < len(names) {
			return usageErrorf("missing %s", joinAnd(names[len(args):]))
		}
		return usageError{err}
	}
}

// positionalNames returns the required positional arguments named in a Use
// line: "get --dir DIR TARGETPATH -o FILE" gives [TARGETPATH], and
// "remove DIR TARGETPATH..." gives [DIR TARGETPATH]. Flag values and
// optional parts ([...], (...)) are left out.
func positionalNames(use string) []string {
	var names []string
	fields := strings.Fields(use)
	depth := 0
	for i := 1; i < len(fields); i++ {
		f := fields[i]
		opened := strings.Count(f, "[") + strings.Count(f, "(")
		closed := strings.Count(f, "]") + strings.Count(f, ")")
		wasNested := depth > 0
		depth += opened - closed
		switch {
		case wasNested || opened > 0:
		case strings.HasPrefix(f, "-"):
			i++ // its value
		case f[0] >= 'A' && f[0] <= 'Z':
			names = append(names, strings.TrimSuffix(f, "..."))
		}
	}
	return names
}

// applyEnv sets every flag that was not given on the command line from its
// environment variable, if that is set: --repo-dir from RAMPART_REPO_DIR.
// The help and version flags are never read from the environment.
func applyEnv(flags *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		name := envName(f.Name)
		v, ok := lookup(name)
		if !ok {
			return
		}
		if err := flags.Set(f.Name, v); err != nil {
			errs = append(errs, usageErrorf("invalid value %q for %s (--%s): %v", v, name, f.Name, err))
		}
	})
	return errors.Join(errs...)
}

// envName is the environment variable that sets the flag with the given name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// joinAnd lists names as a sentence does: "A", "A and B", "A, B and C".
func joinAnd(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
