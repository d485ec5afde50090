package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRepoInitInterrupted: SIGTERM while `rampart repo init` derives the
// passphrase's key and makes its keys stops it (after the key being made,
// well within signalGrace), with exit code 1, and leaves no half-made repository
// behind, so that the same command can be run again (issue 13: Ctrl-C and
// SIGTERM stop every command promptly, leaving no temporary file).
func TestRepoInitInterrupted(t *testing.T) {
	tmp := t.TempDir()
	for _, existing := range []bool{false, true} {
		dir := filepath.Join(tmp, "myrepo")
		if existing {
			os.Mkdir(dir, 0o755) // an empty directory given to init
		}
		cmd := rampartProcess(t, tmp, "repo", "init", dir)
		cmd.Env = append(cmd.Env, "RAMPART_PASSPHRASE=pw")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for init to lock the directory: it then derives the key of
		// the passphrase (Argon2id, a tenth of a second at least) before it
		// writes the first of its keys, so the signal comes in the middle.
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, ".lock")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("init did not lock %s: %s", dir, stderr.String())
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(signalGrace + 10*time.Second):
			cmd.Process.Kill()
			t.Fatal("SIGTERM did not stop repo init within its grace period")
		}
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("exit code %d, stderr %q", code, stderr.String())
		}
		entries, err := os.ReadDir(dir)
		switch {
		case !existing && !os.IsNotExist(err):
			t.Errorf("the interrupted init left %s behind (%v)", dir, err)
		case existing && (err != nil || len(entries) != 0):
			t.Errorf("the interrupted init left %d entries in %s (%v)", len(entries), dir, err)
		}
		os.RemoveAll(dir)
	}
}
