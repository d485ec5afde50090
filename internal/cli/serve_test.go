package cli

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server/store/bolt"
)

// waitFor polls url with c until it answers or the deadline passes.
func waitFor(t *testing.T, c *http.Client, url string, log *syncBuffer) *http.Response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer from %s: %v\n%s", url, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeTokens starts `rampart serve` with authentication, reads the
// admin token it writes, and creates scoped tokens with `rampart token
// create`, checking what each may do.
func TestServeTokens(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	log := startCommand(t, "serve", "--addr", addr, "--data", data)
	base := "http://" + addr
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	st, err := os.Stat(filepath.Join(data, "admin.token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v", err, st)
	}
	if !strings.Contains(log.String(), "admin.token") {
		t.Errorf("the server did not log where the admin token is:\n%s", log.String())
	}
	create := func(args ...string) string {
		t.Helper()
		args = append([]string{"token", "create", "--server", base, "--token-file", filepath.Join(data, "admin.token")}, args...)
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("%q: %s", args, errOut)
		}
		return strings.TrimSpace(out)
	}
	push := create("--scope", "push", "--gun-prefix", "example.com/acme")
	pull := create("--scope", "pull", "--gun-prefix", "example.com/acme")
	status := func(token, gun string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/repositories/"+gun, nil) // create: push scope
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			return http.StatusOK
		}
		return resp.StatusCode
	}
	for _, tt := range []struct {
		name, token, gun string
		want             int
	}{
		{"push token in its prefix", push, "example.com/acme/app", 200},
		{"push token outside its prefix", push, "example.org/other", 403},
		{"pull token cannot write", pull, "example.com/acme/app", 403},
		{"no token", "", "example.com/acme/app", 401},
		{"unknown token", "not-a-token", "example.com/acme/app", 401},
	} {
		if got := status(tt.token, tt.gun); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	if code, _, errOut := runCLI(t, "token", "create", "--server", base, "--token", pull, "--scope", "admin"); code != ExitFailure || errOut == "" {
		t.Errorf("a pull token created an admin token: %d %q", code, errOut)
	}
}

// TestServeClientCertificates starts `rampart serve` over TLS requiring
// client certificates: a client without one is refused at the handshake,
// one with a certificate from the configured CA is served.
func TestServeClientCertificates(t *testing.T) {
	dir := t.TempDir()
	caFile, srvCert, srvKey, cliCert, cliKey := signerTestPKI(t, dir)
	addr := freeAddr(t)
	log := startCommand(t, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--insecure-no-auth",
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-client-ca", caFile)
	caPEM, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	with := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
	resp := waitFor(t, with, "https://"+addr+"/healthz", log)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("with a client certificate: %s", resp.Status)
	}
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := without.Get("https://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate was served: %s", resp.Status)
	}
}

// TestRepoOnServer runs the maintainer's path against a real `rampart
// serve`: `repo init --server --gun` puts the server's online keys into
// root, `repo publish` without --out uploads targets and metadata with the
// token from RAMPART_TOKEN, and `rampart client` reads the result from
// the server.
func TestRepoOnServer(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	log := startCommand(t, "serve", "--addr", addr, "--data", data)
	base := "http://" + addr
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	adminFile := filepath.Join(data, "admin.token")
	code, out, errOut := runCLI(t, "token", "create", "--server", base, "--token-file", adminFile, "--scope", "push", "--gun-prefix", "example.com/acme")
	if code != ExitOK {
		t.Fatalf("token create: %s", errOut)
	}
	push := strings.TrimSpace(out)
	const gun = "example.com/acme/app"
	repoDir := filepath.Join(dir, "app")

	// Without a token nothing is made.
	t.Setenv("RAMPART_TOKEN", "")
	os.Unsetenv("RAMPART_TOKEN")
	if code, _, errOut := runCLI(t, "repo", "init", repoDir, "--server", base, "--gun", gun); code != ExitFailure || !strings.Contains(errOut, "RAMPART_TOKEN") {
		t.Fatalf("init without a token: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(repoDir); err == nil {
		t.Fatal("init without a token left the repository directory behind")
	}
	if code, _, errOut := runCLI(t, "repo", "init", repoDir, "--gun", gun); code != ExitFailure || !strings.Contains(errOut, "--server") {
		t.Fatalf("init with --gun alone: exit %d, %q", code, errOut)
	}

	t.Setenv("RAMPART_TOKEN", push)
	code, out, errOut = runCLI(t, "repo", "init", repoDir, "--server", base, "--gun", gun)
	if code != ExitOK {
		t.Fatalf("repo init --server: %s", errOut)
	}
	if !strings.Contains(out, "held by the server") || !strings.Contains(out, base+"/tuf/"+gun) {
		t.Errorf("init output does not say the server holds the online keys and where clients go:\n%s", out)
	}
	if strings.Contains(errOut, "note:") {
		t.Errorf("init nags about the server's keys: %q", errOut)
	}
	src := filepath.Join(dir, "app-1.0.tgz")
	os.WriteFile(src, []byte("release 1.0"), 0o644)
	if code, _, errOut := runCLI(t, "repo", "add", repoDir, src, "--as", "app/app-1.0.tgz"); code != ExitOK || strings.Contains(errOut, "note:") {
		t.Fatalf("repo add: exit %d, %q", code, errOut)
	}
	code, out, errOut = runCLI(t, "repo", "publish", repoDir)
	if code != ExitOK {
		t.Fatalf("repo publish: %s", errOut)
	}
	if !strings.Contains(out, "published to "+base+" as "+gun) || !strings.Contains(out, "1 target uploaded, 11 bytes") {
		t.Errorf("publish output: %q", out)
	}
	code, out, _ = runCLI(t, "repo", "status", repoDir)
	if code != ExitOK || !strings.Contains(out, "by server") || strings.Contains(out, "Warnings") {
		t.Errorf("status of a repository on a server:\n%s", out)
	}

	clientDir := filepath.Join(dir, "client")
	if code, _, errOut := runCLI(t, "client", "init", "--url", base+"/tuf/"+gun, "--root", filepath.Join(repoDir, "roots", "1.root.json"), "--dir", clientDir); code != ExitOK {
		t.Fatalf("client init: %s", errOut)
	}
	got := filepath.Join(dir, "got")
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app/app-1.0.tgz", "-o", got); code != ExitOK {
		t.Fatalf("client get: %s", errOut)
	}
	if b, _ := os.ReadFile(got); string(b) != "release 1.0" {
		t.Fatalf("client got %q", b)
	}

	// Publishing again sends nothing; a refused publish names the role.
	if code, out, _ := runCLI(t, "repo", "publish", repoDir); code != ExitOK || !strings.Contains(out, "up to date") {
		t.Errorf("second publish: %q", out)
	}
	t.Setenv("RAMPART_TOKEN", "rpt_"+strings.Repeat("A", 43)) // well formed, unknown
	os.WriteFile(src, []byte("release 1.1"), 0o644)
	runCLI(t, "repo", "add", repoDir, src, "--as", "app/app-1.1.tgz")
	if code, _, errOut := runCLI(t, "repo", "publish", repoDir); code != ExitFailure || !strings.Contains(errOut, "401") {
		t.Errorf("publish with an unknown token: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "repo", "publish", repoDir, "--token", push); code != ExitOK {
		t.Fatalf("publish with --token: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app/app-1.1.tgz", "-o", got); code != ExitOK {
		t.Fatalf("client get of the update: %s", errOut)
	}
	if b, _ := os.ReadFile(got); string(b) != "release 1.1" {
		t.Fatalf("client got %q after the update", b)
	}

	oldCopy := filepath.Join(dir, "old-copy")
	repotest.CopyDir(t, repoDir, oldCopy)

	// A new online timestamp key: a push token may not rotate it, the
	// admin token may; clients follow the new root.
	if code, _, errOut := runCLI(t, "repo", "rotate", repoDir, "timestamp", "--server-key", "--token", push); code != ExitFailure || !strings.Contains(errOut, "403") {
		t.Errorf("rotate --server-key with a push token: exit %d, %q", code, errOut)
	}
	code, out, errOut = runCLI(t, "repo", "rotate", repoDir, "timestamp", "--server-key", "--token-file", adminFile)
	if code != ExitOK || !strings.Contains(out, "root is at version 2") {
		t.Fatalf("rotate --server-key: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "repo", "publish", repoDir, "--token", push); code != ExitOK || !strings.Contains(out, "root v2") {
		t.Fatalf("publish after rotating the timestamp key: %q %q", out, errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app/app-1.0.tgz", "-o", got); code != ExitOK {
		t.Fatalf("client get after the timestamp key rotation: %s", errOut)
	}

	// A second maintainer's copy from before the rotation: publish refuses
	// and points to pull; pull brings it up to date, with no token.
	if code, out, _ := runCLI(t, "repo", "pull", repoDir); code != ExitOK || !strings.Contains(out, "nothing newer") {
		t.Errorf("pull of an up-to-date repository: exit %d, %q", code, out)
	}
	second := filepath.Join(dir, "second")
	repotest.CopyDir(t, oldCopy, second)
	if code, _, errOut := runCLI(t, "repo", "publish", second, "--token", push); code != ExitFailure || !strings.Contains(errOut, "rampart repo pull") {
		t.Errorf("publish of a stale copy: exit %d, %q", code, errOut)
	}
	t.Setenv("RAMPART_TOKEN", "")
	os.Unsetenv("RAMPART_TOKEN")
	code, out, errOut = runCLI(t, "repo", "pull", second)
	if code != ExitOK || !strings.Contains(out, "pulled from "+base+" as "+gun+": root v2") {
		t.Fatalf("pull of a stale copy: exit %d, %q %q", code, out, errOut)
	}
	os.WriteFile(src, []byte("release 1.2"), 0o644)
	runCLI(t, "repo", "add", second, src, "--as", "app/app-1.2.tgz")
	if code, _, errOut := runCLI(t, "repo", "publish", second, "--token", push); code != ExitOK {
		t.Fatalf("publish after the pull: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app/app-1.2.tgz", "-o", got); code != ExitOK {
		t.Fatalf("client get of the second maintainer's target: %s", errOut)
	}

	// A third maintainer without the directory clones it, with the root
	// clients use and the targets key.
	third := filepath.Join(dir, "third")
	code, out, errOut = runCLI(t, "repo", "clone", third, "--server", base, "--gun", gun, "--root", filepath.Join(repoDir, "roots", "1.root.json"),
		"--key", filepath.Join(repoDir, "keys", "targets.key"), "--token", push)
	if code != ExitOK || !strings.Contains(out, "Cloned "+gun) || !strings.Contains(out, "held by the server") {
		t.Fatalf("repo clone: exit %d, %q %q", code, out, errOut)
	}
	os.WriteFile(src, []byte("release 1.3"), 0o644)
	if code, _, errOut := runCLI(t, "repo", "add", third, src, "--as", "app/app-1.3.tgz"); code != ExitOK || strings.Contains(errOut, "note:") {
		t.Fatalf("repo add in the clone: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "repo", "publish", third, "--token", push); code != ExitOK {
		t.Fatalf("publish from the clone: %s", errOut)
	}
	if code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, "app/app-1.3.tgz", "-o", got); code != ExitOK {
		t.Fatalf("client get of the clone's target: %s", errOut)
	}
	if b, _ := os.ReadFile(got); string(b) != "release 1.3" {
		t.Fatalf("client got %q from the clone's publish", b)
	}
}

// TestServeGC runs rampart serve gc on a data directory with the
// temporary file of an upload that a killed server left behind.
func TestServeGC(t *testing.T) {
	data := t.TempDir()
	tmp := filepath.Join(data, "blobs", "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(tmp, "upload-123")
	os.WriteFile(left, []byte("half an upload"), 0o600)
	st, err := bolt.Open(filepath.Join(data, "rampart.db")) // the server's database, as it leaves it
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runCLI(t, "serve", "gc", "--data", data)
	if code != 0 || !strings.Contains(out, "deleted 0 timestamp versions") {
		t.Fatalf("serve gc: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the abandoned upload is still there: %v", err)
	}
	if code, _, errOut := runCLI(t, "serve", "gc"); code == 0 || !strings.Contains(errOut, "--data") {
		t.Errorf("serve gc without --data: %d %q", code, errOut)
	}
}

// TestServeGCWithoutData: 'serve gc' on a directory that holds no server
// data says so, instead of creating an empty database to collect.
func TestServeGCWithoutData(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCLI(t, "serve", "gc", "--data", dir)
	if code != ExitFailure || !strings.Contains(errOut, "holds no server data (no rampart.db)") {
		t.Errorf("serve gc --data EMPTY: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "rampart.db")); err == nil {
		t.Error("serve gc created a database")
	}
}
