package ocitest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// RegistryBinary is Debian's distribution registry (package docker-registry).
const RegistryBinary = "/usr/bin/docker-registry"

// Registry is a distribution registry running on loopback for one test.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// Username and Password are set when the registry requires them.
	Username, Password string
}

// StartRegistry starts Debian's docker-registry on a free loopback port,
// storing into a temporary directory, and stops it when the test ends. With
// a username, the registry requires HTTP basic authentication (htpasswd).
// The test fails at once if the binary is missing.
func StartRegistry(t testing.TB, username, password string) *Registry {
	t.Helper()
	bin := RegistryBinary
	if _, err := os.Stat(bin); err != nil {
		if p, lerr := exec.LookPath("docker-registry"); lerr == nil {
			bin = p
		} else {
			t.Fatalf("the OCI registry tests need Debian's docker-registry (distribution 2.8): apt-get install docker-registry (%v)", err)
		}
	}
	dir := t.TempDir()
	host := freeLoopbackAddr(t)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), host)
	if username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		config += fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htpasswd)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("docker-registry exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return &Registry{Host: host, Username: username, Password: password}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry on %s not ready after 20s: %v\n%s", host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
