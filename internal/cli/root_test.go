package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCLI runs rampart in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runTree(t, NewRootCommand(), args...)
}

func runTree(t *testing.T, root *cobra.Command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), root, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "version")
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want empty", errOut)
	}
	if !strings.HasPrefix(out, "rampart ") {
		t.Errorf("output does not start with %q:\n%s", "rampart ", out)
	}
	if !strings.Contains(out, runtime.Version()) {
		t.Errorf("output does not name Go version %s:\n%s", runtime.Version(), out)
	}
}

func TestVersionFromLdflags(t *testing.T) {
	defer func(v string) { Version = v }(Version)
	Version = "v9.8.7"

	code, out, _ := runCLI(t, "version")
	if code != ExitOK {
		t.Fatalf("exit code %d", code)
	}
	if first, _, _ := strings.Cut(out, "\n"); first != "rampart v9.8.7" {
		t.Errorf("first line = %q, want %q", first, "rampart v9.8.7")
	}
	if _, out, _ := runCLI(t, "--version"); out != "rampart v9.8.7\n" {
		t.Errorf("--version printed %q", out)
	}
}

func TestResolveVersion(t *testing.T) {
	withVCS := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "github.com/rampart-tuf/rampart", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2025-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	devel := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}

	tests := []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    versionInfo
	}{
		{"ldflags wins", "v1.0.0", withVCS, versionInfo{Version: "v1.0.0", Revision: "0123abcd", Time: "2025-01-02T03:04:05Z", Modified: true, GoVersion: "go1.99.1"}},
		{"module version", "", withVCS, versionInfo{Version: "v0.3.0", Revision: "0123abcd", Time: "2025-01-02T03:04:05Z", Modified: true, GoVersion: "go1.99.1"}},
		{"devel build", "", devel, versionInfo{Version: "devel", GoVersion: runtime.Version()}},
		{"no build info", "", nil, versionInfo{Version: "devel", GoVersion: runtime.Version()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveVersion(tt.ldflags, tt.bi)
			tt.want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUnknownCommandFails(t *testing.T) {
	code, out, errOut := runCLI(t, "no-such-command")
	if code != ExitFailure {
		t.Fatalf("exit code %d, want %d", code, ExitFailure)
	}
	if out != "" {
		t.Errorf("stdout = %q, want empty", out)
	}
	if !strings.HasPrefix(errOut, `rampart: unknown command "no-such-command"`) {
		t.Errorf("stderr = %q", errOut)
	}
	if n := strings.Count(errOut, "rampart: "); n != 1 {
		t.Errorf("error printed %d times:\n%s", n, errOut)
	}
	if !strings.HasSuffix(errOut, "Run 'rampart --help' for usage.\n") {
		t.Errorf("stderr lacks the usage hint:\n%s", errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--no-such-flag"},
		{"version", "extra"},
		{"-v"}, // no shorthand is taken for --version
	} {
		code, out, errOut := runCLI(t, args...)
		if code != ExitFailure || out != "" {
			t.Errorf("%q: exit code %d, stdout %q", args, code, out)
		}
		if !strings.HasPrefix(errOut, "rampart: ") || !strings.Contains(errOut, "--help' for usage.") {
			t.Errorf("%q: stderr = %q", args, errOut)
		}
	}
}

func TestRuntimeErrorPrintedOnce(t *testing.T) {
	defer func(f func(*cobra.Command, []string) error) { runQuickstart = f }(runQuickstart)
	runQuickstart = func(*cobra.Command, []string) error { return errors.New("quickstart: not implemented yet") }
	code, out, errOut := runCLI(t, "quickstart")
	if code != ExitFailure {
		t.Fatalf("exit code %d, want %d", code, ExitFailure)
	}
	if out != "" {
		t.Errorf("stdout = %q, want empty", out)
	}
	if want := "rampart: quickstart: not implemented yet\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
}

func TestRunQuickstartIsReplaceable(t *testing.T) {
	defer func(f func(*cobra.Command, []string) error) { runQuickstart = f }(runQuickstart)
	runQuickstart = func(cmd *cobra.Command, _ []string) error {
		fmt.Fprintln(cmd.OutOrStdout(), "done")
		return nil
	}
	if code, out, _ := runCLI(t, "quickstart"); code != ExitOK || out != "done\n" {
		t.Errorf("exit code %d, stdout %q", code, out)
	}
}

func TestHelpListsCommandsAndGroups(t *testing.T) {
	code, out, errOut := runCLI(t, "--help")
	if code != ExitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"quickstart", "version", "completion", "help", otherGroup.Title} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not list %q:\n%s", want, out)
		}
	}
	for _, g := range commandGroups {
		shown := strings.Contains(out, g.title)
		if has := len(g.commands()) > 0; shown != has {
			t.Errorf("group %q: shown in help = %v, has commands = %v", g.id, shown, has)
		}
	}
}

// TestCommandGroupNames checks that each group names exactly the commands
// it makes, so that a command line builds the group of its command, and
// that a tree built for one command has that command (and version; cobra
// adds help and completion when it runs) and no other group.
func TestCommandGroupNames(t *testing.T) {
	for _, g := range commandGroups {
		var got []string
		for _, c := range g.commands() {
			got = append(got, c.Name())
		}
		if !slices.Equal(got, g.names) {
			t.Errorf("group %q makes %v, names %v", g.id, got, g.names)
		}
		for _, name := range g.names {
			root := newRootCommandFor([]string{name})
			if c, _, err := root.Find([]string{name}); err != nil || c.Name() != name {
				t.Errorf("tree for %s: %v, %v", name, c, err)
			}
			if c, _, err := root.Find([]string{"version"}); err != nil || c.Name() != "version" {
				t.Errorf("tree for %s has no version command: %v", name, err)
			}
			if !root.CompletionOptions.DisableDefaultCmd {
				t.Errorf("tree for %s makes the completion command", name)
			}
			if n := len(root.Groups()); n != 2 {
				t.Errorf("tree for %s has %d groups, want its own and the other commands", name, n)
			}
		}
	}
	if n, all := len(newRootCommandFor([]string{"nonesuch"}).Commands()), len(NewRootCommand().Commands()); n != all || n < len(commandGroups) {
		t.Errorf("tree for an unknown command has %d commands, the full tree %d", n, all)
	}
	if NewRootCommand().CompletionOptions.DisableDefaultCmd {
		t.Error("the full tree has no completion command")
	}
}

// TestRepoSubcommandNames checks that each repo subcommand is listed under
// its own name, so that "rampart repo NAME" builds NAME alone, and that a
// second word naming no subcommand (help, a flag, a mistake) builds them
// all.
func TestRepoSubcommandNames(t *testing.T) {
	all := len(repoSubcommands)
	for _, s := range repoSubcommands {
		if got := s.build().Name(); got != s.name {
			t.Errorf("repo subcommand listed as %q is named %q", s.name, got)
		}
		repoCmd, _, err := newRootCommandFor([]string{"repo", s.name}).Find([]string{"repo"})
		if err != nil {
			t.Fatal(err)
		}
		if subs := repoCmd.Commands(); len(subs) != 1 || subs[0].Name() != s.name {
			t.Errorf("tree for repo %s has %d subcommands under repo", s.name, len(subs))
		}
	}
	for _, second := range []string{"", "--help", "help", "nonesuch"} {
		repoCmd, _, err := newRootCommandFor([]string{"repo", second}).Find([]string{"repo"})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(repoCmd.Commands()); n != all {
			t.Errorf("tree for repo %q has %d subcommands, want all %d", second, n, all)
		}
	}
	if c, _, err := NewRootCommand().Find([]string{"repo"}); err != nil || len(c.Commands()) != all {
		t.Errorf("the full tree's repo command: %v", err)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != ExitOK || !strings.Contains(out, "rampart") {
			t.Errorf("completion %s: exit code %d, %d bytes out, stderr %q", shell, code, len(out), errOut)
		}
	}
}

// treeWithFlags returns a root with an extra command that prints its flags.
func treeWithFlags() *cobra.Command {
	root := NewRootCommand()
	cmd := &cobra.Command{
		Use:  "show",
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, _ := cmd.Flags().GetString("repo-dir")
			n, _ := cmd.Flags().GetInt("threshold")
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d\n", dir, n)
			return nil
		},
	}
	cmd.Flags().String("repo-dir", "default", "")
	cmd.Flags().Int("threshold", 1, "")
	root.AddCommand(cmd)
	return root
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("RAMPART_REPO_DIR", "/from/env")
	t.Setenv("RAMPART_THRESHOLD", "3")

	if _, out, _ := runTree(t, treeWithFlags(), "show"); out != "/from/env 3\n" {
		t.Errorf("environment not applied: %q", out)
	}
	if _, out, _ := runTree(t, treeWithFlags(), "show", "--repo-dir=/flag"); out != "/flag 3\n" {
		t.Errorf("flag should win over environment: %q", out)
	}

	t.Setenv("RAMPART_THRESHOLD", "many")
	code, out, errOut := runTree(t, treeWithFlags(), "show")
	if code != ExitFailure || out != "" {
		t.Errorf("bad environment value: exit code %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, `rampart: invalid value "many" for RAMPART_THRESHOLD (--threshold)`) {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestEnvName(t *testing.T) {
	if got := envName("repo-dir"); got != "RAMPART_REPO_DIR" {
		t.Errorf("envName(repo-dir) = %q", got)
	}
}
