package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/server/store/postgres"
)

// buildRampart builds the rampart binary once per test binary.
func buildRampart(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		// The race detector's run is -short: it does not instrument a
		// separate process, and the full test run covers these tests.
		t.Skip("-short: builds and runs a separate rampart process")
	}
	bin := filepath.Join(t.TempDir(), "rampart")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/rampart-tuf/rampart/cmd/rampart")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs "rampart serve" and waits for /healthz.
// startServeProcess starts `rampart serve` (bin) on a new data directory
// and, for kind "postgres", a new database, and returns them with the
// process and a testServer holding the admin token it wrote.
func startServeProcess(t *testing.T, bin, kind string) (dir, storeURL string, cmd *exec.Cmd, ts *testServer) {
	t.Helper()
	dir = t.TempDir()
	if kind == "postgres" {
		storeURL = pg.NewDatabase(t)
	}
	cmd, url := startProcess(t, bin, dir, storeURL)
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, storeURL, cmd, &testServer{URL: url, Admin: strings.TrimSpace(string(tok))}
}

func startProcess(t *testing.T, bin, dir, storeURL string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	args := []string{"serve", "--data", dir, "--addr", addr}
	if storeURL != "" {
		args = append(args, "--store", storeURL)
	}
	return runUntilHealthy(t, exec.Command(bin, args...), dir, addr)
}

// startPausingProcess runs this test binary as a server like "rampart
// serve" on dir and storeURL (see serveCrashChild), whose store pauses in
// every publish's transaction after creating the file marker.
func startPausingProcess(t *testing.T, dir, storeURL, marker string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envCrashChild+"="+addr, "RAMPART_TEST_DATA="+dir, "RAMPART_TEST_STORE="+storeURL, "RAMPART_TEST_MARKER="+marker)
	return runUntilHealthy(t, cmd, dir, addr)
}

// runUntilHealthy starts cmd, a server on addr logging to DIR/serve.log,
// and waits for its /healthz.
func runUntilHealthy(t *testing.T, cmd *exec.Cmd, dir, addr string) (*exec.Cmd, string) {
	t.Helper()
	logf, _ := os.OpenFile(filepath.Join(dir, "serve.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, url
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
			t.Fatalf("server did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// envCrashChild, set to an address, makes the test binary serve there
// instead of running tests (see TestMain).
const envCrashChild = "RAMPART_TEST_CRASH_CHILD_ADDR"

// serveCrashChild is the test binary run by startPausingProcess: a server
// over the data directory of "rampart serve" (its database or the
// PostgreSQL store, its online-key secret and target content) whose store
// creates the marker file and blocks for a minute inside every publish's
// transaction, so that the test can kill it there.
func serveCrashChild(addr string) error {
	dir, storeURL, marker := os.Getenv("RAMPART_TEST_DATA"), os.Getenv("RAMPART_TEST_STORE"), os.Getenv("RAMPART_TEST_MARKER")
	pause := func() {
		os.WriteFile(marker, nil, 0o600)
		time.Sleep(time.Minute)
	}
	ctx := context.Background()
	var st store.Store
	var blobs blob.Store
	if storeURL != "" {
		ps, err := postgres.Open(ctx, storeURL)
		if err != nil {
			return err
		}
		ps.SetInCommitHook(pause)
		st, blobs = ps, ps.Blobs()
	} else {
		bs, err := bolt.Open(filepath.Join(dir, "rampart.db"))
		if err != nil {
			return err
		}
		bs.SetInCommitHook(pause)
		if blobs, err = blob.OpenDir(filepath.Join(dir, "blobs")); err != nil {
			return err
		}
		st = bs
	}
	secret, err := signer.LoadOrCreateSecret(filepath.Join(dir, "online-keys.secret"))
	if err != nil {
		return err
	}
	sg, err := signer.NewLocal(st, secret)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{Store: st, Signer: sg, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	go srv.Run(ctx)
	hs := srv.HTTPServer()
	hs.Addr = addr
	return hs.ListenAndServe()
}

// TestSIGKILLMidPublish kills the server process with SIGKILL while a
// large publish is being sent or committed, restarts it, and checks that
// the repository is in the old state or the new one, never between.
func TestSIGKILLMidPublish(t *testing.T) {
	bin := buildRampart(t)
	forEachStore(t, func(t *testing.T, kind string) {
		dir, storeURL, cmd, ts := startServeProcess(t, bin, kind)
		url := ts.URL
		m := newMaintainer(t, ts, "example.com/killed")
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})

		// A large targets document, about 6 MB.
		files := map[string]string{}
		for i := range 40000 {
			files[fmt.Sprintf("pkg/%06d/file-with-a-long-name.tar.gz", i)] = fmt.Sprint(i)
		}
		version := int64(2)
		for round, delay := range []time.Duration{20 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond, 900 * time.Millisecond, 2 * time.Second} {
			b := body(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(version, files), m.Targets)})
			// Stream the body slowly for the first rounds, at once for the
			// later ones, so that kills land in the upload, the checks and
			// the commit.
			var rd io.Reader = bytes.NewReader(b)
			if round < 2 {
				rd = &slowReader{r: bytes.NewReader(b), chunk: 256 << 10, pause: 20 * time.Millisecond}
			}
			req, _ := http.NewRequest("POST", url+"/api/v1/repositories/"+m.GUN+"/metadata", rd)
			req.Header.Set("Authorization", "Bearer "+ts.Admin)
			req.Header.Set("Content-Type", "application/json")
			done := make(chan int, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					done <- 0
					return
				}
				resp.Body.Close()
				done <- resp.StatusCode
			}()
			time.Sleep(delay)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			status := <-done

			cmd, url = startProcess(t, bin, dir, storeURL)
			ts.URL = url
			cur, _, err := currentTargets(url, m.GUN)
			if err != nil {
				t.Fatalf("round %d: reading after restart: %v", round, err)
			}
			switch {
			case cur.Version == version-1:
				if status == 200 {
					t.Fatalf("round %d: publish answered 200 but the old state remains", round)
				}
			case cur.Version == version && len(cur.Targets) == len(files):
				version++
			default:
				t.Fatalf("round %d: targets version %d with %d targets: neither the old state nor the new", round, cur.Version, len(cur.Targets))
			}
			if _, err := newClient(t, url, m.GUN, root).refresh(); err != nil {
				t.Fatalf("round %d: client after restart: %v", round, err)
			}
			t.Logf("round %d: killed after %v; request status %d; targets version now %d", round, delay, status, cur.Version)
		}
		// A kill that certainly lands inside the store's transaction: a
		// server whose store pauses there (its test-only hook) tells us so.
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		marker := filepath.Join(t.TempDir(), "in-commit")
		cmd, url = startPausingProcess(t, dir, storeURL, marker)
		ts.URL = url
		// The publish killed lists content of its own: its listing is
		// in the index only once the publish commits.
		const newPath, newContent = "pkg/listed-by-the-killed-publish.txt", "content of the killed publish"
		files[newPath] = newContent
		m.Upload(newPath, newContent)
		getNew := func() int {
			code, _, _ := request(t, "GET", url+"/tuf/"+m.GUN+"/targets/pkg/"+sha256hex(newContent)+".listed-by-the-killed-publish.txt", "", nil)
			return code
		}
		pending := body(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(version, files), m.Targets)})
		go func() {
			req, _ := http.NewRequest("POST", url+"/api/v1/repositories/"+m.GUN+"/metadata", bytes.NewReader(pending))
			req.Header.Set("Authorization", "Bearer "+ts.Admin)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil { // the kill ends it
				resp.Body.Close()
			}
		}()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the publish never reached the store's transaction")
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cmd, url = startProcess(t, bin, dir, storeURL)
		cur, _, err := currentTargets(url, m.GUN)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Version != version-1 {
			t.Fatalf("killed inside the transaction: targets version %d, want the old %d", cur.Version, version-1)
		}
		if code := getNew(); code != http.StatusNotFound {
			t.Errorf("content listed only by the publish killed inside its transaction: %d, want 404", code)
		}
		if _, err := newClient(t, url, m.GUN, root).refresh(); err != nil {
			t.Fatalf("client after a kill inside the transaction: %v", err)
		}
		// The repository still accepts that publish afterwards.
		m.Server = &testServer{URL: url, Admin: ts.Admin}
		m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(version, files), m.Targets)})
		if code := getNew(); code != http.StatusOK {
			t.Errorf("content listed by the publish once it committed: %d, want 200", code)
		}

		if kind == "bolt" {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			st, err := bolt.Open(filepath.Join(dir, "rampart.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.Repo(context.Background(), m.GUN); err != nil {
				t.Fatal(err)
			}
		}
	})
}

type slowReader struct {
	r     io.Reader
	chunk int
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	if len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}
