package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// leafCommands returns the command paths ("repo init") of every command
// of the tree that does something of its own (not a group, help or
// completion).
func leafCommands(c *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		name := sub.Name()
		if name == "help" || name == "completion" || sub.Hidden {
			continue
		}
		path := append(append([]string{}, prefix...), name)
		if sub.Runnable() && len(sub.Commands()) == 0 || name == "serve" {
			out = append(out, path)
		}
		out = append(out, leafCommands(sub, path)...)
	}
	return out
}

// TestEveryCommandBareIsAUsageError runs every command with no argument
// and no flag, as a new user might (issue 13: a missing positional argument
// is named, and every usage error ends with the "Run 'rampart ... --help'"
// line): each fails with exit code 1, names what is missing, and points to
// its help, leaking no internal package name.
func TestEveryCommandBareIsAUsageError(t *testing.T) {
	leaves := leafCommands(NewRootCommand(), nil)
	if len(leaves) < 30 {
		t.Fatalf("only %d commands found: %v", len(leaves), leaves)
	}
	for _, path := range leaves {
		name := strings.Join(path, " ")
		if name == "quickstart" || name == "version" {
			continue // these run with no argument
		}
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, path...)
			if code != ExitFailure || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			if !strings.HasPrefix(errOut, "rampart: ") || !strings.HasSuffix(errOut, "Run 'rampart "+name+" --help' for usage.\n") {
				t.Errorf("stderr %q: want a usage error pointing to 'rampart %s --help'", errOut, name)
			}
			for _, internal := range internalPrefixes {
				if strings.Contains(errOut, internal) {
					t.Errorf("stderr %q names %q", errOut, internal)
				}
			}
			cmd, _, _ := NewRootCommand().Find(path)
			if names := positionalNames(cmd.Use); len(names) > 0 && !strings.Contains(errOut, "missing "+joinAnd(names)) &&
				!strings.Contains(errOut, "required") && !strings.Contains(errOut, "give ") {
				t.Errorf("stderr %q does not name the missing %s", errOut, joinAnd(names))
			}
		})
	}
}

// TestMissingArgumentsListed: three missing arguments read as a sentence.
func TestMissingArgumentsListed(t *testing.T) {
	code, _, errOut := runCLI(t, "repo", "expiry")
	if code != ExitFailure || !strings.HasPrefix(errOut, "rampart: missing DIR, ROLE and DURATION\n") {
		t.Errorf("repo expiry: exit %d, stderr %q", code, errOut)
	}
	for in, want := range map[string]string{"": "", "A": "A", "A B": "A and B", "A B C D": "A, B, C and D"} {
		if got := joinAnd(strings.Fields(in)); got != want {
			t.Errorf("joinAnd(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTokenCommandsCheckEarly: token create names --scope when it is
// missing, and --server without a token is refused before any connection
// (the address here refuses connections, which would be the error
// otherwise).
func TestTokenCommandsCheckEarly(t *testing.T) {
	t.Setenv("RAMPART_TOKEN", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create"}, "--scope is required: pull, push or admin"},
		{[]string{"token", "create", "--server", "http://127.0.0.1:1", "--scope", "push"}, "--server needs an admin token"},
		{[]string{"token", "list", "--server", "http://127.0.0.1:1"}, "--server needs an admin token"},
		{[]string{"token", "revoke", "0a1b68259df69e52", "--server", "http://127.0.0.1:1"}, "--server needs an admin token"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != ExitFailure || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help' for usage.") || strings.Contains(errOut, "connection refused") {
			t.Errorf("%v: exit %d, stderr %q; want a usage error with %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestMalformedTokenRefusedEarly: a token that cannot be one (a typo, a
// path given to --token instead of --token-file) is refused before any
// request, saying what a token looks like (issue 13: bad tokens get a
// message that says what was wrong).
func TestMalformedTokenRefusedEarly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("garbage\n"), 0o600)
	for _, args := range [][]string{
		{"token", "list", "--server", "http://127.0.0.1:1", "--token", "admin.token"},
		{"token", "create", "--server", "http://127.0.0.1:1", "--scope", "push", "--token-file", file},
		{"repo", "init", filepath.Join(dir, "app"), "--server", "http://127.0.0.1:1", "--gun", "example.com/app", "--token", "rpt_short"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != ExitFailure || !strings.Contains(errOut, "is not a Rampart token: want rpt_ followed by 43 base64url characters") ||
			strings.Contains(errOut, "connection refused") || !strings.Contains(errOut, "--help' for usage.") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
