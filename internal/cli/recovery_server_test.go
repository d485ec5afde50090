package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
)

// serverRecovery is the setting of the server procedures of
// docs/recovery.md: `rampart serve` on loopback, a maintainer's
// repository "app" kept on it, and a client of it.
type serverRecovery struct {
	t         *testing.T
	tmp, addr string
	base      string // http://addr
	app       string // the maintainer's repository directory
	client    string // the client directory
	src       string // the file the maintainer publishes
}

const recoveryGUN = "example.com/app"

// newServerRecovery starts `rampart serve --data DATA` and has a
// maintainer create app on it with a push token, publish app.tgz = "1.0",
// and a client fetch it. It returns the setting and the function that
// stops the server.
func newServerRecovery(t *testing.T, data string, serveArgs ...string) (*serverRecovery, func()) {
	t.Helper()
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	s := &serverRecovery{t: t, tmp: tmp, addr: freeAddr(t), app: filepath.Join(tmp, "app"), client: filepath.Join(tmp, "client"), src: filepath.Join(tmp, "app.tgz")}
	s.base = "http://" + s.addr
	stop := s.serve(data, serveArgs...)
	push := s.pushToken(data)
	mustRun(t, "repo", "init", s.app, "--server", s.base, "--gun", recoveryGUN, "--token", push)
	s.publish("1.0", push)
	mustRun(t, "client", "init", "--url", s.base+"/tuf/"+recoveryGUN, "--root", filepath.Join(s.app, "roots", "1.root.json"), "--dir", s.client)
	s.get("1.0")
	return s, stop
}

// serve starts `rampart serve` on s.addr with DATA and waits until it
// answers.
func (s *serverRecovery) serve(data string, args ...string) (stop func()) {
	s.t.Helper()
	log, stop := serveUntilStopped(s.t, append([]string{"--addr", s.addr, "--data", data}, args...)...)
	waitFor(s.t, http.DefaultClient, s.base+"/healthz", log).Body.Close()
	return stop
}

// pushToken creates a push token for example.com with the admin token
// the server wrote in DATA.
func (s *serverRecovery) pushToken(data string) string {
	s.t.Helper()
	return strings.TrimSpace(mustRun(s.t, "token", "create", "--server", s.base, "--token-file", filepath.Join(data, "admin.token"),
		"--scope", "push", "--gun-prefix", "example.com"))
}

// publish adds app.tgz with content to app and publishes it.
func (s *serverRecovery) publish(content, push string) string {
	s.t.Helper()
	os.WriteFile(s.src, []byte(content), 0o644)
	mustRun(s.t, "repo", "add", s.app, s.src)
	return mustRun(s.t, "repo", "publish", s.app, "--token", push)
}

// refresh runs `rampart client refresh` and returns its exit code and
// output (standard output, or standard error on failure).
func (s *serverRecovery) refresh() (int, string) {
	s.t.Helper()
	code, out, errOut := runCLI(s.t, "client", "refresh", "--dir", s.client)
	if code != ExitOK {
		return code, errOut
	}
	return code, out
}

// get has the client fetch app.tgz and checks its content.
func (s *serverRecovery) get(want string) {
	s.t.Helper()
	got := filepath.Join(s.tmp, "got")
	os.Remove(got) // a download each time, not "already up to date"
	mustRun(s.t, "client", "get", "--dir", s.client, "app.tgz", "-o", got)
	if b, _ := os.ReadFile(got); string(b) != want {
		s.t.Fatalf("the client got app.tgz = %q, want %q", b, want)
	}
}

// TestRecoveryServerCompromised runs "The server itself" of
// docs/recovery.md: the server machine is compromised, so its store, its
// online-key secret and its tokens are the attacker's. A new server on a
// new, empty data directory; the maintainer has it make new online keys
// (which creates the repository on it), trusts them in a new root and
// publishes from their copy; clients follow.
func TestRecoveryServerCompromised(t *testing.T) {
	old := filepath.Join(t.TempDir(), "data")
	s, stop := newServerRecovery(t, old)
	oldPush := s.pushToken(old)
	s.publish("1.1", oldPush)
	s.get("1.1")

	// 1. Stop the server; keep its data directory for investigation only.
	stop()
	if code, out := s.refresh(); code != ExitFailure || !strings.Contains(out, "cannot reach the repository") {
		t.Errorf("with the server stopped the client said: %d %q", code, out)
	}

	// 2. A new server on a new, empty data directory, with a new admin
	// token and online-key secret; the old tokens mean nothing to it.
	data := filepath.Join(t.TempDir(), "data-new")
	stop = s.serve(data)
	defer stop()
	if code, _, errOut := runCLI(t, "repo", "publish", s.app, "--token", oldPush); code != ExitFailure || !strings.Contains(errOut, "unknown or revoked token") {
		t.Errorf("publish with a token of the old server: exit %d, %q", code, errOut)
	}
	// Clients keep what they trust and see no repository until the
	// maintainer publishes.
	if code, out := s.refresh(); code != ExitFailure || !strings.Contains(out, "404") {
		t.Errorf("before the publish the client said: %d %q", code, out)
	}

	// 3. New push tokens for the maintainers, from the new admin token.
	push := s.pushToken(data)

	// 4. The maintainer, from their copy: new online keys, which creates
	// the repository on the new server, then every root version and role.
	admin := filepath.Join(data, "admin.token")
	for _, role := range []string{"timestamp", "snapshot"} {
		code, _, errOut := runCLI(t, "repo", "rotate", s.app, role, "--server-key", "--token-file", admin)
		if code != ExitOK || (role == "timestamp") != strings.Contains(errOut, "had no repository "+recoveryGUN) {
			t.Fatalf("rotate %s --server-key on the new server: exit %d, %q", role, code, errOut)
		}
	}
	t.Setenv("RAMPART_TOKEN", push) // `rampart repo publish app` as written
	out := mustRun(t, "repo", "publish", s.app)
	if !strings.Contains(out, "root v3") || !strings.Contains(out, "2 targets uploaded") {
		t.Errorf("publish to the new server: %q", out)
	}

	// Clients follow the new root and accept the timestamp and snapshot
	// the new keys signed, although their versions start again at 1.
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "root v1 → v3") || !strings.Contains(out, "timestamp v2 → v1") {
		t.Errorf("after the recovery the client said: %d %q", code, out)
	}
	s.get("1.1")
	s.publish("1.2", push)
	s.get("1.2")

	// The old server's keys sign nothing clients accept any more: served
	// again (as an attacker holding its store could), it is refused.
	stop()
	defer s.serve(old)()
	if code, out := s.refresh(); code != ExitFailure || !strings.Contains(out, "timestamp.json: signatures") {
		t.Errorf("the compromised server's metadata: the client said %d %q", code, out)
	}
}

// TestRecoveryServerStoreLost runs "The server's store is lost" of
// docs/recovery.md. With a backup: the data directory restored, clients
// that saw newer metadata refuse the restored timestamp as a rollback
// until the maintainer rotates the online keys and publishes again, with
// --recheck-targets for the content the backup lacks. Without a backup:
// a new, empty data directory, and the commands of "The server itself".
func TestRecoveryServerStoreLost(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s, stop := newServerRecovery(t, data)
	push := s.pushToken(data)

	// The backup: the server stopped, its data directory copied.
	stop()
	backup := filepath.Join(t.TempDir(), "backup")
	repotest.CopyDir(t, data, backup)
	stop = s.serve(data)
	s.publish("1.1", push)
	s.get("1.1")
	stop()

	// The store is lost; the backup is put back, and the server started.
	os.RemoveAll(data)
	repotest.CopyDir(t, backup, data)
	stop = s.serve(data)
	// The client saw timestamp v2; the backup has v1: a rollback.
	if code, out := s.refresh(); code != ExitFailure || !strings.Contains(out, "timestamp.json") || !strings.Contains(out, "is lower than the trusted version 2 (rollback attack?)") {
		t.Errorf("from the restored server the client said: %d %q", code, out)
	}
	// Rotating the online keys has clients discard the timestamp and
	// snapshot they trust (spec 5.3.11); the publish sends what the
	// backup lacks.
	admin := filepath.Join(data, "admin.token")
	mustRun(t, "repo", "rotate", s.app, "timestamp", "--server-key", "--token-file", admin)
	mustRun(t, "repo", "rotate", s.app, "snapshot", "--server-key", "--token-file", admin)
	t.Setenv("RAMPART_TOKEN", push)
	out := mustRun(t, "repo", "publish", s.app, "--recheck-targets")
	if !strings.Contains(out, "sent root v2, root v3, targets") || !strings.Contains(out, "1 target uploaded") {
		t.Errorf("publish to the restored server: %q", out)
	}
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "root v1 → v3") {
		t.Errorf("after the recovery from the backup the client said: %d %q", code, out)
	}
	s.get("1.1")
	stop()

	// No backup: a new, empty data directory; the repository is made
	// again from the maintainer's copy.
	data = filepath.Join(t.TempDir(), "data-new")
	stop = s.serve(data)
	defer stop()
	push = s.pushToken(data)
	admin = filepath.Join(data, "admin.token")
	mustRun(t, "repo", "rotate", s.app, "timestamp", "--server-key", "--token-file", admin)
	mustRun(t, "repo", "rotate", s.app, "snapshot", "--server-key", "--token-file", admin)
	t.Setenv("RAMPART_TOKEN", push)
	mustRun(t, "repo", "publish", s.app)
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "root v3 → v5") {
		t.Errorf("after the recovery without a backup the client said: %d %q", code, out)
	}
	s.get("1.1")
}

// TestRecoveryOnlineKeys runs "The server's online timestamp and snapshot
// keys" of docs/recovery.md: the server makes new online keys, a new root
// trusts them, and clients follow.
func TestRecoveryOnlineKeys(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s, stop := newServerRecovery(t, data)
	defer stop()
	push := s.pushToken(data)
	t.Setenv("RAMPART_TOKEN", push) // `rampart repo publish app` as written
	admin := filepath.Join(data, "admin.token")
	mustRun(t, "repo", "rotate", s.app, "timestamp", "--server-key", "--token-file", admin)
	mustRun(t, "repo", "rotate", s.app, "snapshot", "--server-key", "--token-file", admin)
	if out := mustRun(t, "repo", "publish", s.app); !strings.Contains(out, "sent root v2, root v3") {
		t.Errorf("publish: %q", out)
	}
	if code, out := s.refresh(); code != ExitOK || !strings.Contains(out, "root v1 → v3") || !strings.Contains(out, "timestamp v1 → v2") {
		t.Errorf("after the rotation the client said: %d %q", code, out)
	}
	s.get("1.0")
	s.publish("1.1", push)
	s.get("1.1")
}
