package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/repo"
)

// TestRepoHint checks that the CLI, not the repository library, names the
// command that deals with an error, and that the error stays matchable.
func TestRepoHint(t *testing.T) {
	dir := t.TempDir()
	_, openErr := repo.Open(context.Background(), dir, repo.Options{})
	if !errors.Is(openErr, repo.ErrNotRepository) {
		t.Fatalf("Open of an empty directory: %v, want ErrNotRepository", openErr)
	}
	if strings.Contains(openErr.Error(), "rampart ") {
		t.Errorf("the library's error quotes a command: %v", openErr)
	}
	sigErr := fmt.Errorf("not publishing: %w", &repo.SignatureError{Problems: []*repo.SignatureProblem{{Role: "targets", Version: 2, Threshold: 2}}})
	if strings.Contains(sigErr.Error(), "rampart ") {
		t.Errorf("the library's error quotes a command: %v", sigErr)
	}
	notDelegated := fmt.Errorf("role %q: %w", "acme", repo.ErrNotDelegated)
	other := errors.New("disk full")
	for _, c := range []struct {
		err  error
		want string
	}{
		{openErr, "create one with 'rampart repo init " + dir + "'"},
		{sigErr, "sign with 'rampart repo sign " + dir + " targets --key KEYFILE'"},
		{notDelegated, "delegate it first with 'rampart repo delegate " + dir + " ROLE --cert CERT.pem'"},
		{fmt.Errorf("x: %w", repo.ErrServerNewer), "bring this copy up to date with 'rampart repo pull " + dir + "' first"},
		{fmt.Errorf("x: %w", repo.ErrDiverged), "a copy brought up to date with 'rampart repo pull " + dir + "'"},
		{fmt.Errorf("x: %w", repo.ErrNoServer), "'rampart repo publish " + dir + " --out DIR'"},
		{fmt.Errorf("x: %w", repo.ErrNotOnServer), "publish it there first with 'rampart repo publish " + dir + "'"},
		{fmt.Errorf("x: %w", repo.ErrServerSignsTimestamp), "publish there with 'rampart repo publish " + dir + "' (without --out)"},
		{fmt.Errorf("x: %w", repo.ErrStaleTimestamp), "'rampart repo sign " + dir + " snapshot'"},
		{fmt.Errorf("x: %w", repo.ErrNoRole), "'rampart repo delegate " + dir + " ROLE --key PUBFILE --paths GLOB'"},
		{fmt.Errorf("x: %w", repo.ErrImportedRole), "'rampart repo import-delegation " + dir + " ROLE'"},
		{other, "disk full"},
		{nil, ""},
	} {
		got := repoHint(dir, c.err)
		if c.err == nil {
			if got != nil {
				t.Errorf("repoHint(nil) = %v", got)
			}
			continue
		}
		if !errors.Is(got, c.err) {
			t.Errorf("repoHint(%v) = %v, which no longer wraps it", c.err, got)
		}
		if !strings.Contains(got.Error(), c.want) || !strings.HasPrefix(got.Error(), c.err.Error()) {
			t.Errorf("repoHint(%v) = %q, want it followed by %q", c.err, got, c.want)
		}
	}
}
