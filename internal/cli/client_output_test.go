package cli

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestMain lets a test run the real rampart main function in a child
// process: the test binary re-executes itself with RAMPART_CLI_TEST_MAIN=1.
func TestMain(m *testing.M) {
	if os.Getenv("RAMPART_CLI_TEST_MAIN") == "1" {
		os.Args = append([]string{"rampart"}, os.Args[1:]...)
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// rampartProcess returns the command running rampart with args in a child
// process, whose temporary directory is tmpDir.
func rampartProcess(t *testing.T, tmpDir string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "RAMPART_CLI_TEST_MAIN=1", "TMPDIR="+tmpDir)
	return cmd
}

// servedClient serves a repository with one target, dir/app.tgz, and
// returns an initialised client directory for it.
func servedClient(t *testing.T) (dir string) {
	t.Helper()
	repo := repotest.New(t)
	repo.AddTarget("targets", "dir/app.tgz", []byte("the app"))
	repo.Publish()
	_, dir = initClient(t, repo)
	return dir
}

// initClient serves repo and makes a client of it with 'client init' in a
// new directory, dir; it returns the server and dir.
func initClient(t *testing.T, repo *repotest.Repo) (srv *httptest.Server, dir string) {
	t.Helper()
	srv = repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	dir = filepath.Join(tmp, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	return srv, dir
}

// noTempFiles fails if dir holds anything but the names given.
func noTempFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		found := false
		for _, w := range want {
			found = found || e.Name() == w
		}
		if !found {
			t.Errorf("%s holds %s, left behind", dir, e.Name())
		}
	}
}

func TestClientGetOutput(t *testing.T) {
	dir := servedClient(t)
	out := t.TempDir()
	get := func(o string) (int, string, string) {
		t.Helper()
		return runCLI(t, "client", "get", "--dir", dir, "dir/app.tgz", "-o", o)
	}

	// -o -: the target on standard output, the message on standard error.
	code, stdout, errOut := get("-")
	if code != 0 || stdout != "the app" || !strings.Contains(errOut, "downloaded dir/app.tgz (7 bytes, verified) to standard output") {
		t.Fatalf("-o -: %d %q %q", code, stdout, errOut)
	}

	// -o DIR/ and -o DIR (existing) write DIR/BASENAME.
	sub := filepath.Join(out, "sub")
	if code, stdout, errOut := get(sub + "/"); code != 0 || !strings.Contains(stdout, filepath.Join(sub, "app.tgz")) {
		t.Fatalf("-o DIR/: %d %q %q", code, stdout, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(sub, "app.tgz")); string(data) != "the app" {
		t.Fatalf("DIR/app.tgz = %q", data)
	}
	os.Remove(filepath.Join(sub, "app.tgz"))
	if code, _, errOut := get(sub); code != 0 {
		t.Fatalf("-o DIR: %d %q", code, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(sub, "app.tgz")); string(data) != "the app" {
		t.Fatalf("DIR/app.tgz = %q", data)
	}

	// A symlink: the file it points to gets the target, the link stays.
	real := filepath.Join(out, "real")
	os.WriteFile(real, []byte("old"), 0o644)
	link := filepath.Join(out, "link")
	os.Symlink(real, link)
	if code, _, errOut := get(link); code != 0 {
		t.Fatalf("-o symlink: %d %q", code, errOut)
	}
	if st, _ := os.Lstat(link); st.Mode()&fs.ModeSymlink == 0 {
		t.Error("the symlink was replaced")
	}
	if data, _ := os.ReadFile(real); string(data) != "the app" {
		t.Fatalf("symlink target = %q", data)
	}

	// A FIFO is written into, and stays a FIFO.
	fifo := filepath.Join(out, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		data, _ := io.ReadAll(f)
		got <- string(data)
	}()
	if code, _, errOut := get(fifo); code != 0 {
		t.Fatalf("-o FIFO: %d %q", code, errOut)
	}
	if data := <-got; data != "the app" {
		t.Fatalf("the FIFO's reader got %q", data)
	}
	if st, _ := os.Lstat(fifo); st.Mode()&fs.ModeNamedPipe == 0 {
		t.Error("the FIFO was replaced")
	}

	// A device is written into, never replaced.
	if code, _, errOut := get(os.DevNull); code != 0 {
		t.Fatalf("-o /dev/null: %d %q", code, errOut)
	}
	if st, _ := os.Lstat(os.DevNull); st.Mode()&fs.ModeCharDevice == 0 {
		t.Fatal("/dev/null is no longer a device")
	}
	noTempFiles(t, out, "sub", "real", "link", "fifo")
	noTempFiles(t, sub, "app.tgz")
}

// TestSignalStopsCommand runs rampart in a child process writing to a FIFO
// that nobody reads, and checks that SIGTERM stops it promptly, with a
// message, exit status 1 and no temporary file left.
func TestSignalStopsCommand(t *testing.T) {
	dir := servedClient(t)
	tmp := t.TempDir()
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := rampartProcess(t, tmp, "client", "get", "--dir", dir, "dir/app.tgz", "-o", fifo)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the target is verified and the command blocks on the FIFO:
	// its private temporary directory exists.
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(tmp)
		if len(entries) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the command never reached the FIFO")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("exit code %d (%v), want 1", code, err)
		}
	case <-time.After(signalGrace + 5*time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGTERM did not stop the command")
	}
	if took := time.Since(start); took > signalGrace {
		t.Errorf("the command took %v to stop", took)
	}
	if !strings.Contains(stderr.String(), "rampart: interrupted") {
		t.Errorf("stderr = %q", stderr.String())
	}
	noTempFiles(t, tmp)
}

func TestClientInitChecks(t *testing.T) {
	repo := repotest.New(t)
	repo.Publish()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	unsigned := filepath.Join(tmp, "unsigned.json")
	os.WriteFile(unsigned, repotest.Forge[*metadata.Root](t, repo.RootBytes(1), nil), 0o644)
	expired := filepath.Join(tmp, "expired.json")
	os.WriteFile(expired, repotest.Resign(repo, "root", repo.RootBytes(1), func(r *metadata.Root) {
		r.Expires = time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	}), 0o644)
	dir := filepath.Join(tmp, "client")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unsigned root", []string{"--url", "http://127.0.0.1:1", "--root", unsigned}, "signatures"},
		{"ftp URL", []string{"--url", "ftp://example.com/repo", "--root", root}, `--url: "ftp://example.com/repo" is not an http:// or https:// URL`},
		{"URL without scheme", []string{"--url", "127.0.0.1:4443/repo", "--root", root}, "did you mean http://127.0.0.1:4443/repo"},
		{"no targets URL", []string{"--metadata-url", "http://127.0.0.1:1/metadata", "--root", root}, "give --url, or both --metadata-url and --targets-url"},
		{"missing root file", []string{"--url", "http://127.0.0.1:1", "--root", filepath.Join(tmp, "nope.json")}, "--root: open"},
	}
	for _, tt := range tests {
		code, _, errOut := runCLI(t, append([]string{"client", "init", "--dir", dir}, tt.args...)...)
		if code != 1 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, %q, want %q", tt.name, code, errOut, tt.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("%s: left %s behind", tt.name, dir)
		}
	}

	// An expired first root is accepted: the first refresh follows newer roots.
	if code, _, errOut := runCLI(t, "client", "init", "--url", "http://127.0.0.1:1", "--root", expired, "--dir", dir); code != 0 {
		t.Fatalf("expired root: %d %q", code, errOut)
	}
	// An existing client is not overwritten without --force.
	code, _, errOut := runCLI(t, "client", "init", "--url", "http://127.0.0.1:2", "--root", root, "--dir", dir)
	if code != 1 || !strings.Contains(errOut, "is already a client directory") || !strings.Contains(errOut, "--force") {
		t.Fatalf("second init: %d %q", code, errOut)
	}
	if cfg, _ := os.ReadFile(filepath.Join(dir, "client.json")); !strings.Contains(string(cfg), "127.0.0.1:1/") {
		t.Fatalf("client.json changed: %s", cfg)
	}
	os.WriteFile(filepath.Join(dir, "metadata", "timestamp.json"), []byte("{}"), 0o644)
	if code, _, errOut := runCLI(t, "client", "init", "--url", "http://127.0.0.1:2", "--root", root, "--dir", dir, "--force"); code != 0 {
		t.Fatalf("init --force: %d %q", code, errOut)
	}
	if cfg, _ := os.ReadFile(filepath.Join(dir, "client.json")); !strings.Contains(string(cfg), "127.0.0.1:2/") {
		t.Fatalf("client.json not replaced: %s", cfg)
	}
	if _, err := os.Stat(filepath.Join(dir, "metadata", "timestamp.json")); err == nil {
		t.Error("init --force kept metadata trusted under the old root")
	}
}

func TestClientRefreshSaysWhatChanged(t *testing.T) {
	repo := repotest.New(t)
	repo.AddTarget("targets", "a", []byte("a"))
	repo.Publish()
	srv := repo.Serve()
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root.json")
	os.WriteFile(root, repo.RootBytes(1), 0o644)
	dir := filepath.Join(tmp, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", srv.URL, "--root", root, "--dir", dir); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	refresh := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"client", "refresh", "--dir", dir}, args...)...)
		if code != 0 {
			t.Fatalf("refresh: %d %s", code, errOut)
		}
		return out
	}
	if out := refresh(); out != "timestamp v2 (new)\nsnapshot v2 (new)\ntargets v2 (new)\n" {
		t.Errorf("first refresh printed %q", out)
	}
	if out := refresh(); out != "nothing changed: root v1, timestamp v2, snapshot v2, targets v2\n" {
		t.Errorf("second refresh printed %q", out)
	}
	repo.RotateKeys("root", 1, 1)
	repo.AddTarget("targets", "b", []byte("b"))
	repo.Publish()
	if out := refresh(); out != "root v1 → v2\ntimestamp v2 → v3\nsnapshot v2 → v3\ntargets v2 → v3\n" {
		t.Errorf("refresh after a root rotation printed %q", out)
	}
	repo.MarkDirty("timestamp")
	repo.Publish()
	out := refresh("--json")
	want := `{
  "changed": true,
  "roles": [
    {
      "role": "root",
      "from": 2,
      "to": 2,
      "changed": false
    },
    {
      "role": "timestamp",
      "from": 3,
      "to": 4,
      "changed": true
    },
    {
      "role": "snapshot",
      "from": 3,
      "to": 4,
      "changed": true
    },
    {
      "role": "targets",
      "from": 3,
      "to": 3,
      "changed": false
    }
  ]
}
`
	if out != want {
		t.Errorf("refresh --json printed %s", out)
	}
}
