package server_test

// Attacks on a running server (issue 9, "server hardening"): each test
// does what an attacker with a push token, or with no token, would do,
// and checks that the server refuses it.

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestVersionBounds: a new repository's first root must be version 1, and
// no document may carry a version above 2^53-1; a targets version of
// 2^63-1 used to freeze a repository for good.
func TestVersionBounds(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/versions")
		targets := servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)
		for _, v := range []int64{1000, math.MaxInt64, 2} {
			code, e, _ := m.Publish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(v), m.Root), "targets": targets})
			if code != http.StatusBadRequest || e.Role != "root" || e.Check != "version" {
				t.Errorf("first root version %d: %d %+v, want 400 root version", v, code, e)
			}
		}
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": targets})

		for _, v := range []int64{math.MaxInt64, metadata.MaxVersion + 1} {
			code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(v, nil), m.Targets)})
			if code != http.StatusBadRequest || e.Role != "targets" || e.Check != "version" || !strings.Contains(e.Error, strconv.FormatInt(v, 10)) || strings.Contains(e.Error, "-9") {
				t.Errorf("targets version %d: %d %+v, want 400 targets version naming the version", v, code, e)
			}
		}
		tg := m.TargetsDoc(2, nil)
		m.DelegateTo(tg, "role1")
		code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, tg, m.Targets), "role1": servertest.Sign(t, m.TargetsDoc(math.MaxInt64, nil), m.Delegate)})
		if code != http.StatusBadRequest || e.Role != "role1" || e.Check != "version" {
			t.Errorf("delegated role at version 2^63-1: %d %+v", code, e)
		}
		code, e, _ = m.Publish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(metadata.MaxVersion+1), m.Root)})
		if code != http.StatusBadRequest || e.Role != "root" || e.Check != "version" {
			t.Errorf("root at version 2^53: %d %+v", code, e)
		}
		// The repository is not frozen: the largest version is accepted
		// and the next publish still works from version 2.
		m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})
		m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(metadata.MaxVersion, nil), m.Targets)})
	})
}

// TestSnapshotMetaHashes: a snapshot signed by the maintainer is checked
// on every hash and length it gives, as a client checks them; a wrong
// SHA-512 used to be accepted and broke every client afterwards.
func TestSnapshotMetaHashes(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/offline-snapshot")
		m.Snapshot = repotest.NewSigner(t)
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		targets := servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)
		both := metadata.HashesOf(targets, true)
		wrong512 := metadata.Hashes{SHA256: both.SHA256, SHA512: metadata.HashesOf([]byte("other"), true).SHA512}
		for _, tc := range []struct {
			name string
			mf   metadata.MetaFile
		}{
			{"wrong sha512", metadata.MetaFile{Version: 1, Length: int64(len(targets)), Hashes: wrong512}},
			{"only a wrong sha512", metadata.MetaFile{Version: 1, Hashes: metadata.Hashes{SHA512: wrong512.SHA512}}},
			{"wrong length", metadata.MetaFile{Version: 1, Length: int64(len(targets)) + 1, Hashes: both}},
			{"wrong length alone", metadata.MetaFile{Version: 1, Length: 3}},
		} {
			sn := metadata.NewSnapshot(m.Expires)
			sn.Meta["targets.json"] = tc.mf
			code, e, _ := m.Publish(map[string][]byte{"root": root, "targets": targets, "snapshot": servertest.Sign(t, sn, m.Snapshot)})
			if code != http.StatusBadRequest || e.Role != "snapshot" || e.Check != "hashes" {
				t.Errorf("%s: %d %+v, want 400 snapshot hashes", tc.name, code, e)
			}
		}
		sn := metadata.NewSnapshot(m.Expires)
		sn.Meta["targets.json"] = metadata.MetaFile{Version: 1, Length: int64(len(targets)), Hashes: both}
		m.MustPublish(map[string][]byte{"root": root, "targets": targets, "snapshot": servertest.Sign(t, sn, m.Snapshot)})
		// An unchanged role listed again with a wrong SHA-512 is refused
		// too.
		sn = metadata.NewSnapshot(m.Expires)
		sn.Version = 2
		sn.Meta["targets.json"] = metadata.MetaFile{Version: 1, Hashes: wrong512}
		code, e, _ := m.Publish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(2), m.Root), "snapshot": servertest.Sign(t, sn, m.Snapshot)})
		if code != http.StatusBadRequest || e.Role != "snapshot" || e.Check != "hashes" {
			t.Errorf("unchanged targets listed with a wrong sha512: %d %+v", code, e)
		}
		if _, err := newClient(t, ts.URL, m.GUN, root).refresh(); err != nil {
			t.Fatalf("client after the refused snapshots: %v", err)
		}
	})
}

// TestTargetPaths: target names that are not clean relative paths are
// refused at publish, in top-level and delegated targets, and nothing is
// stored.
func TestTargetPaths(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/paths")
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		bad := []string{"", "../../etc/passwd", "/abs/path", "a//b", `a\..\b`, "invoice\u202Etxt.exe", "a\nb", "delegated/../x"}
		for _, p := range bad {
			code, e, _ := m.Publish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{p: "x"}), m.Targets)})
			if code != http.StatusBadRequest || e.Role != "targets" || e.Check != "target-path" {
				t.Errorf("new repository listing %q: %d %+v, want 400 targets target-path", p, code, e)
			}
		}
		if _, err := ts.Store.Repo(context.Background(), m.GUN); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a refused publish created the repository: %v", err)
		}
		tg := m.TargetsDoc(1, map[string]string{"ok.txt": "x"})
		m.DelegateTo(tg, "role1")
		m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, tg, m.Targets)})
		for _, p := range bad {
			code, e, _ := m.Publish(map[string][]byte{"role1": servertest.Sign(t, m.TargetsDoc(1, map[string]string{p: "x"}), m.Delegate)})
			if code != http.StatusBadRequest || e.Role != "role1" || e.Check != "target-path" {
				t.Errorf("delegated role listing %q: %d %+v, want 400 role1 target-path", p, code, e)
			}
		}
	})
}

// TestDeletedRepositoryKeys replays the attack on a deleted repository:
// after an admin DELETE, a push token used to get the same online key
// back, publish a root 1 of its own that lists it, replay the genuine
// targets.json, and have clients pinned to the genuine root accept what
// the server signed. Now the keys are destroyed with the repository, only
// an admin may create the GUN again, and it gets new keys.
func TestDeletedRepositoryKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		push := pushToken(t, ts, "example.com/acme")
		m := newMaintainer(t, ts, "example.com/acme/app")
		m.Upload("app.txt", "genuine")
		genuineRoot := servertest.Sign(t, m.RootDoc(1), m.Root)
		genuineTargets := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"app.txt": "genuine"}), m.Targets)
		m.MustPublish(map[string][]byte{"root": genuineRoot, "targets": genuineTargets})
		oldKeys := map[string]string{"timestamp": m.Online["timestamp"].ID(), "snapshot": m.Online["snapshot"].ID()}

		if code, b, _ := request(t, "DELETE", ts.URL+"/api/v1/repositories/"+m.GUN, ts.Admin, nil); code != 200 {
			t.Fatalf("delete: %d %s", code, b)
		}
		for _, role := range []string{"timestamp", "snapshot"} {
			if ks, err := ts.Store.OnlineKeys(context.Background(), m.GUN, role); err != nil || len(ks) != 0 {
				t.Errorf("%s keys in the store after the deletion: %d, %v", role, len(ks), err)
			}
			code, b, _ := request(t, "GET", ts.URL+"/api/v1/repositories/"+m.GUN+"/keys/"+role, push, nil)
			if code != http.StatusNotFound {
				t.Errorf("GET %s key of the deleted repository with a push token: %d %s", role, code, b)
			}
		}
		// The attacker's own root 1, listing the old online keys, with
		// the genuine targets replayed.
		attacker := newMaintainer(t, ts, "example.com/other") // only for its keys
		attacker.GUN, attacker.Token = m.GUN, push
		attacker.Targets = m.Targets // its root lists the genuine targets key (public), to replay targets.json
		attacker.Online["timestamp"], attacker.Online["snapshot"] = m.Online["timestamp"], m.Online["snapshot"]
		evilRoot := servertest.Sign(t, attacker.RootDoc(1), attacker.Root)
		code, e, _ := attacker.Publish(map[string][]byte{"root": evilRoot, "targets": genuineTargets})
		if code != http.StatusNotFound {
			t.Errorf("publish to the deleted repository: %d %+v, want 404", code, e)
		}
		code, b, _ := request(t, "POST", ts.URL+"/api/v1/repositories/"+m.GUN, push, nil)
		if code != http.StatusForbidden || !strings.Contains(string(b), `"check":"scope"`) {
			t.Errorf("creating the deleted GUN again with a push token: %d %s, want 403 scope", code, b)
		}
		// Nor through the Notary API, whose key GET creates repositories.
		code, b, _ = request(t, "GET", ts.URL+"/v2/"+m.GUN+"/_trust/tuf/timestamp.key", push, nil)
		if code != http.StatusForbidden {
			t.Errorf("creating the deleted GUN again through the Notary API with a push token: %d %s, want 403", code, b)
		}
		// An admin may: the GUN gets new keys, and a root listing the
		// old ones cannot be published.
		code, b, _ = request(t, "POST", ts.URL+"/api/v1/repositories/"+m.GUN, ts.Admin, nil)
		if code != http.StatusCreated {
			t.Fatalf("creating the deleted GUN again as admin: %d %s", code, b)
		}
		attacker.Token = ts.Admin
		for _, role := range []string{"timestamp", "snapshot"} {
			if k := attacker.OnlineKey(role); k.ID() == oldKeys[role] {
				t.Errorf("the re-created GUN has the old %s key", role)
			}
		}
		code, e, _ = attacker.Publish(map[string][]byte{"root": evilRoot, "targets": genuineTargets})
		if code != http.StatusBadRequest || e.Check != "online-key" {
			t.Errorf("publish of a root listing the destroyed keys: %d %+v, want 400 online-key", code, e)
		}
		// Whatever is published now, a client pinned to the genuine root
		// refuses it.
		for _, role := range []string{"timestamp", "snapshot"} {
			attacker.Online[role] = attacker.OnlineKey(role)
		}
		attacker.MustPublish(map[string][]byte{"root": servertest.Sign(t, attacker.RootDoc(1), attacker.Root), "targets": genuineTargets})
		if _, err := newClient(t, ts.URL, m.GUN, genuineRoot).refresh(); err == nil {
			t.Error("a client pinned to the genuine root accepted the re-created repository")
		}
	})
}

// TestCreationIsExplicit: reading a GUN's keys does not create it, GET on
// an unknown repository is 404, publishing or uploading to a GUN that was
// not created is 404, and the per-GUN locks do not pile up.
func TestCreationIsExplicit(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		push := pushToken(t, ts, "example.com/acme")
		ctx := context.Background()
		for i := range 50 {
			gun := fmt.Sprintf("example.com/acme/probe%d", i)
			for _, role := range []string{"timestamp", "snapshot"} {
				code, b, _ := request(t, "GET", ts.URL+"/api/v1/repositories/"+gun+"/keys/"+role, push, nil)
				if code != http.StatusNotFound || !strings.Contains(string(b), `"check":"not-found"`) {
					t.Fatalf("GET %s key of an unknown GUN: %d %s", role, code, b)
				}
				if ks, _ := ts.Store.OnlineKeys(ctx, gun, role); len(ks) != 0 {
					t.Fatalf("GET %s key of %s stored %d keys", role, gun, len(ks))
				}
			}
			code, e, _ := publishTo(t, ts.URL, push, gun, []byte(`{"roles":{"targets":{}}}`))
			if code != http.StatusNotFound {
				t.Fatalf("publish to an unknown GUN: %d %+v", code, e)
			}
			code, b, _ := request(t, "PUT", ts.URL+"/api/v1/repositories/"+gun+"/targets/x.html", push,
				strings.NewReader("<html>"), "X-Rampart-Sha256", sha256hex("<html>"))
			if code != http.StatusNotFound {
				t.Fatalf("upload to an unknown GUN: %d %s", code, b)
			}
			code, b, _ = request(t, "POST", ts.URL+"/api/v1/repositories/"+gun+"/keys/timestamp/rotate", ts.Admin, nil)
			if code != http.StatusNotFound {
				t.Fatalf("rotating a key of an unknown GUN: %d %s", code, b)
			}
		}
		if n := server.LockedGUNs(ts.Server); n != 0 {
			t.Errorf("%d GUN locks left after the requests ended", n)
		}
		// Creation is explicit, idempotent, and within the token's prefix.
		gun := "example.com/acme/new"
		if code, b, _ := request(t, "POST", ts.URL+"/api/v1/repositories/example.com/other", push, nil); code != http.StatusForbidden {
			t.Errorf("creating a GUN outside the token's prefix: %d %s", code, b)
		}
		var first, again server.CreateResult
		code, b, _ := request(t, "POST", ts.URL+"/api/v1/repositories/"+gun, push, nil)
		if code != http.StatusCreated || json.Unmarshal(b, &first) != nil || !first.Created {
			t.Fatalf("create: %d %s", code, b)
		}
		code, b, _ = request(t, "POST", ts.URL+"/api/v1/repositories/"+gun, push, nil)
		if code != http.StatusOK || json.Unmarshal(b, &again) != nil || again.Created {
			t.Fatalf("create again: %d %s", code, b)
		}
		if fmt.Sprint(first.Keys) != fmt.Sprint(again.Keys) {
			t.Errorf("creating an existing repository changed its keys")
		}
		if code, b, _ := request(t, "GET", ts.URL+"/api/v1/repositories/"+gun+"/keys/timestamp", push, nil); code != 200 {
			t.Errorf("GET key of a created repository: %d %s", code, b)
		}
	})
}

// pushToken creates a push token over prefix.
func pushToken(t *testing.T, ts *testServer, prefix string) string {
	t.Helper()
	tok, hash := auth.NewToken()
	if err := ts.Store.CreateToken(context.Background(), store.Token{Hash: hash, GUNPrefix: prefix, Scope: "push"}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSlowClients holds connections open the way a slowloris attack does:
// headers and no body, headers sent slowly, idle keep-alive connections,
// huge headers. Each is cut off; a body that keeps moving is not, however
// long it takes in all.
func TestSlowClients(t *testing.T) {
	const stall = 300 * time.Millisecond
	ts := newServer(t, openStore(t, "bolt"), func(c *server.Config) {
		c.ReadHeaderTimeout, c.StallTimeout, c.IdleTimeout = stall, stall, stall
	})
	m := newMaintainer(t, ts, "example.com/slow")
	addr := strings.TrimPrefix(ts.URL, "http://")
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin reads c until the server closes it, and fails the test
	// if that takes longer than limit. It returns what was read.
	closedWithin := func(c net.Conn, limit time.Duration, what string) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(limit))
		b, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection was still open after %s", what, limit)
		}
		return string(b)
	}

	// 50 connections send a publish's headers, with a token, and no body.
	conns := make([]net.Conn, 50)
	for i := range conns {
		conns[i] = dial()
		fmt.Fprintf(conns[i], "POST /api/v1/repositories/%s/metadata HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", m.GUN, ts.Admin)
	}
	for i, c := range conns {
		closedWithin(c, 20*stall, fmt.Sprintf("POST headers without a body, connection %d", i))
	}
	// The same without a token: the handler refuses at once, and the
	// unread body is not waited for forever either.
	c := dial()
	fmt.Fprintf(c, "PUT /api/v1/repositories/%s/targets/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", m.GUN)
	if got := closedWithin(c, 20*stall, "an upload without a token and without its body"); !strings.Contains(got, "401") {
		t.Errorf("upload without a token: %q, want a 401 answer", got)
	}
	// Headers sent one slow line at a time.
	c = dial()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			if _, err := fmt.Fprintf(c, "X-Slow-%d: y\r\n", i); err != nil {
				return
			}
			time.Sleep(stall / 3)
		}
	}()
	closedWithin(c, 20*stall, "headers sent slowly")
	<-done
	// An idle keep-alive connection.
	c = dial()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := closedWithin(c, 20*stall, "an idle connection"); !strings.Contains(got, "200 OK") {
		t.Errorf("GET /healthz before idling: %q", got)
	}
	// Headers over the limit.
	code, _, _ := request(t, "GET", ts.URL+"/healthz", "", nil, "X-Big", strings.Repeat("a", 100<<10))
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %d, want 431", code)
	}

	// An upload that keeps moving, slower than the stall timeout in all
	// (20 pieces, stall/4 apart: 5 stall timeouts), goes through.
	content := strings.Repeat("slow but steady\n", 1024)
	pr, pw := io.Pipe()
	go func() {
		piece := len(content) / 20
		for i := 0; i < len(content); i += piece {
			time.Sleep(stall / 4)
			if _, err := pw.Write([]byte(content[i:min(i+piece, len(content))])); err != nil {
				return
			}
		}
		pw.Close()
	}()
	code, b, _ := request(t, "PUT", ts.URL+"/api/v1/repositories/"+m.GUN+"/targets/slow.txt", ts.Admin, pr, "X-Rampart-Sha256", sha256hex(content))
	if code != http.StatusCreated {
		t.Errorf("a slow upload that keeps moving: %d %s", code, b)
	}
}

// TestWrongOnlineKeySecret starts rampart serve with an online-key secret
// that is not the one the keys in the store were sealed with (a replica
// set up with another DATA directory): it refuses to start, naming the
// secret's file, instead of passing /healthz and failing every publish.
func TestWrongOnlineKeySecret(t *testing.T) {
	bin := buildRampart(t)
	forEachStore(t, func(t *testing.T, kind string) {
		dirA, dirB := t.TempDir(), t.TempDir()
		storeURL := ""
		if kind == "postgres" {
			storeURL = pg.NewDatabase(t)
		}
		a, urlA := startProcess(t, bin, dirA, storeURL)
		admin, err := os.ReadFile(filepath.Join(dirA, "admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		if code, b, _ := request(t, "POST", urlA+"/api/v1/repositories/example.com/app", strings.TrimSpace(string(admin)), nil); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, b)
		}
		wrong := filepath.Join(dirB, "online-keys.secret")
		args := []string{"serve", "--addr", freeAddr(t)}
		if kind == "postgres" {
			// A second replica on the same database, with its own
			// DATA (and so its own new secret).
			args = append(args, "--data", dirB, "--store", storeURL)
		} else {
			// The same DATA after a stop, with another secret file.
			a.Process.Kill()
			a.Wait()
			os.WriteFile(wrong, bytes.Repeat([]byte{1}, 32), 0o600)
			args = append(args, "--data", dirA, "--online-key-secret", wrong)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("rampart serve with the wrong secret kept running:\n%s", out)
		}
		if err == nil || !strings.Contains(string(out), wrong) || !strings.Contains(string(out), "does not open") {
			t.Errorf("rampart serve with the wrong secret: %v\n%s\nwant a failure naming %s", err, out, wrong)
		}
	})
}

// slowStore is a real store whose next Publish takes a while to commit, so
// that other publishes arrive while it runs.
type slowStore struct {
	store.Store
	delay chan time.Duration
}

func (s *slowStore) Publish(ctx context.Context, u store.Update) (store.Change, error) {
	select {
	case d := <-s.delay:
		time.Sleep(d)
	default:
	}
	return s.Store.Publish(ctx, u)
}

// TestRacingPublishersConflict: publishers without If-Match that all build
// on the same state and race get 409 conflict, as documented, and not 400
// version, except the one that wins.
func TestRacingPublishersConflict(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		st := &slowStore{Store: openStore(t, kind), delay: make(chan time.Duration, 1)}
		ts := newServer(t, st)
		m := newMaintainer(t, ts, "example.com/race")
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
		st.delay <- time.Second
		const n = 8
		codes := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i > 0 {
					time.Sleep(200 * time.Millisecond) // while the first commits
				}
				doc := servertest.Sign(t, m.TargetsDoc(2, map[string]string{fmt.Sprintf("f%d", i): "x"}), m.Targets)
				code, e, _ := m.Publish(map[string][]byte{"targets": doc})
				codes <- fmt.Sprintf("%d %s", code, e.Check)
			}()
		}
		wg.Wait()
		close(codes)
		got := map[string]int{}
		for c := range codes {
			got[c]++
		}
		if got["200 "] != 1 || got["409 conflict"] != n-1 {
			t.Errorf("racing publishes: %v, want one 200 and %d 409 conflict", got, n-1)
		}
		// A publish that did not race still gets 400 version.
		code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})
		if code != http.StatusBadRequest || e.Check != "version" {
			t.Errorf("a stale publish that did not race: %d %+v, want 400 version", code, e)
		}
	})
}

// TestSmallerPoints: /metrics behind a token or elsewhere, a 416 in JSON,
// and duplicate members in the request envelope.
func TestSmallerPoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		st := openStore(t, kind)
		ts := newServer(t, st, func(c *server.Config) { c.Metrics = server.MetricsToken })
		pull := pushToken(t, ts, "example.com/x") // any known token will do
		if code, _, _ := request(t, "GET", ts.URL+"/metrics", "", nil); code != http.StatusUnauthorized {
			t.Errorf("/metrics without a token: %d, want 401", code)
		}
		if code, b, _ := request(t, "GET", ts.URL+"/metrics", pull, nil); code != 200 || !strings.Contains(string(b), "rampart_http_requests_total") {
			t.Errorf("/metrics with a token: %d", code)
		}
		elsewhere := newServer(t, st, func(c *server.Config) { c.Metrics = server.MetricsElsewhere })
		if code, _, _ := request(t, "GET", elsewhere.URL+"/metrics", elsewhere.Admin, nil); code != http.StatusNotFound {
			t.Errorf("/metrics on the main handler with MetricsElsewhere: %d, want 404", code)
		}
		rec := httptest.NewRecorder()
		elsewhere.Server.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "rampart_http_requests_total") {
			t.Errorf("MetricsHandler: %d", rec.Code)
		}

		m := newMaintainer(t, ts, "example.com/small")
		m.Upload("a.txt", "12345678")
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{"a.txt": "12345678"}), m.Targets)})
		code, b, h := request(t, "GET", ts.URL+"/tuf/"+m.GUN+"/targets/"+sha256hex("12345678")+".a.txt", "", nil, "Range", "bytes=100-")
		var e apiError
		if code != http.StatusRequestedRangeNotSatisfiable || json.Unmarshal(b, &e) != nil || e.Check != "request" ||
			h.Get("Content-Type") != "application/json" || h.Get("Content-Range") != "bytes */8" {
			t.Errorf("unsatisfiable range: %d %q %v, want a JSON 416", code, b, h)
		}

		targets := servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)
		other := servertest.Sign(t, m.TargetsDoc(3, nil), m.Targets)
		for name, body := range map[string]string{
			"role twice":  `{"roles": {"targets": ` + string(targets) + `, "targets": ` + string(other) + `}}`,
			"roles twice": `{"roles": {"targets": ` + string(targets) + `}, "roles": {}}`,
		} {
			code, e, _ := publishTo(t, ts.URL, ts.Admin, m.GUN, []byte(body))
			if code != http.StatusBadRequest || e.Check != "json" || !strings.Contains(e.Error, "twice") {
				t.Errorf("%s: %d %+v, want 400 json", name, code, e)
			}
		}
		code, b, _ = request(t, "POST", ts.URL+"/api/v1/tokens", ts.Admin, strings.NewReader(`{"scope":"pull","scope":"admin"}`))
		if code != http.StatusBadRequest || !strings.Contains(string(b), "twice") {
			t.Errorf("token request with scope twice: %d %s", code, b)
		}
	})
}

// TestUnlistedContent: a push token used to host any file (an HTML page
// from a GUN never published). Content is served only under a path and
// hash that the repository's metadata lists, as an attachment that
// browsers do not sniff; content a new version no longer lists stays
// served until the snapshot that listed it expires.
func TestUnlistedContent(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var skew atomic.Int64
		ts := newServer(t, openStore(t, kind), func(c *server.Config) {
			c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		})
		push := pushToken(t, ts, "example.com/acme")
		m := newMaintainer(t, ts, "example.com/acme/app")
		m.Token = push
		get := func(name, content string, by512 bool) (int, http.Header) {
			t.Helper()
			digest := sha256hex(content)
			if by512 {
				sum := sha512.Sum512([]byte(content))
				digest = hex.EncodeToString(sum[:])
			}
			dir, base := path.Split(name)
			code, b, h := request(t, "GET", ts.URL+"/tuf/"+m.GUN+"/targets/"+dir+digest+"."+base, "", nil)
			if code == 200 && string(b) != content {
				t.Errorf("GET %s served %q", name, b)
			}
			return code, h
		}
		page := "<html><script>alert(1)</script></html>"
		m.Upload("evil.html", page)
		if code, _ := get("evil.html", page, false); code != http.StatusNotFound {
			t.Errorf("uploaded content that no metadata lists: %d, want 404", code)
		}
		if code, _ := get("evil.html", page, true); code != http.StatusNotFound {
			t.Errorf("uploaded content that no metadata lists, by SHA-512: %d, want 404", code)
		}

		m.Upload("dist/app.txt", "app 1")
		tg := m.TargetsDoc(1, nil)
		tg.Targets["dist/app.txt"] = metadata.NewTargetFile([]byte("app 1"), true)
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, tg, m.Targets)})
		for _, by512 := range []bool{false, true} {
			code, h := get("dist/app.txt", "app 1", by512)
			if code != 200 || h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") ||
				!strings.Contains(h.Get("Content-Disposition"), "app.txt") {
				t.Errorf("listed content (by SHA-512: %v): %d %v", by512, code, h)
			}
		}
		for _, other := range []string{"app.txt", "dist/app.html", "evil.html"} {
			if code, _ := get(other, "app 1", false); code != http.StatusNotFound {
				t.Errorf("listed content under another name, %s: %d, want 404", other, code)
			}
		}
		if code, _ := get("evil.html", page, false); code != http.StatusNotFound {
			t.Errorf("unlisted content after a publish: %d", code)
		}
		// Content uploaded to the GUN, under a listed path but by a digest
		// the metadata does not give for it.
		m.Upload("dist/other.txt", "app 2")
		for _, by512 := range []bool{false, true} {
			if code, _ := get("dist/app.txt", "app 2", by512); code != http.StatusNotFound {
				t.Errorf("a listed path with another digest (by SHA-512: %v): %d, want 404", by512, code)
			}
		}

		// Version 2 no longer lists it: still served while the snapshot
		// that listed it is valid, not after.
		m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)})
		if code, _ := get("dist/app.txt", "app 1", false); code != 200 {
			t.Errorf("content of the replaced version within the snapshot's expiry: %d, want 200", code)
		}
		skew.Store(int64(8 * 24 * time.Hour))
		if code, _ := get("dist/app.txt", "app 1", false); code != http.StatusNotFound {
			t.Errorf("content of the replaced version after the snapshot's expiry: %d, want 404", code)
		}
	})
}

// TestAbandonedUploadsRemoved kills rampart serve in the middle of an
// upload, which leaves its temporary file in DATA/blobs/tmp, and starts it
// again: the file is removed at start.
func TestAbandonedUploadsRemoved(t *testing.T) {
	bin := buildRampart(t)
	dir := t.TempDir()
	cmd, url := startProcess(t, bin, dir, "")
	admin, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(admin))
	if code, b, _ := request(t, "POST", url+"/api/v1/repositories/example.com/app", tok, nil); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	content := strings.Repeat("x", 1<<20)
	go func() {
		req, _ := http.NewRequest("PUT", url+"/api/v1/repositories/example.com/app/targets/big", &slowReader{r: strings.NewReader(content), chunk: 4096, pause: 20 * time.Millisecond})
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Rampart-Sha256", sha256hex(content))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	tmp := filepath.Join(dir, "blobs", "tmp")
	var left []os.DirEntry
	for deadline := time.Now().Add(20 * time.Second); len(left) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the upload left no temporary file")
		}
		left, _ = os.ReadDir(tmp)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if left, _ = os.ReadDir(tmp); len(left) == 0 {
		t.Fatal("no temporary file after the kill")
	}
	startProcess(t, bin, dir, "")
	if left, _ = os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left after a restart: %v", left)
	}
}

// TestTimestampHistory: every publish and re-sign adds a timestamp
// version; beyond the configured history they are pruned, and clients are
// not disturbed.
func TestTimestampHistory(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		// No collection of the server's own (it would run first at start
		// and could prune some of the versions this one is to count).
		ts := newServer(t, openStore(t, kind), func(c *server.Config) { c.TimestampHistory, c.GCInterval = 2, -1 })
		m := newMaintainer(t, ts, "example.com/chatty")
		root := servertest.Sign(t, m.RootDoc(1), m.Root)
		m.MustPublish(map[string][]byte{"root": root, "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
		for v := int64(2); v <= 5; v++ {
			m.MustPublish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(v, nil), m.Targets)})
		}
		res, err := ts.Server.CollectGarbage(context.Background())
		if err != nil || res.Timestamps != 3 {
			t.Fatalf("CollectGarbage = %+v, %v; want 3 timestamps pruned", res, err)
		}
		for v := int64(1); v <= 5; v++ {
			_, err := ts.Store.File(context.Background(), m.GUN, "timestamp", v)
			if kept := v >= 4; kept != (err == nil) {
				t.Errorf("timestamp version %d after the collection: %v (want kept: %v)", v, err, kept)
			}
		}
		if _, err := newClient(t, ts.URL, m.GUN, root).refresh(); err != nil {
			t.Errorf("client after the collection: %v", err)
		}
	})
}

// TestOversizedBodyGets413 sends bodies far over the metadata and target
// limits, with a declared length (refused before reading) and chunked
// (refused at the limit), many times: the client must read the JSON 413
// every time, never a reset connection, since repo publish falls back to
// a staged upload only when it sees the 413.
func TestOversizedBodyGets413(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"), func(c *server.Config) { c.MaxMetadataBytes = 64 << 10; c.MaxTargetBytes = 64 << 10 })
	m := newMaintainer(t, ts, "example.com/big")
	m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
	big := bytes.Repeat([]byte("a"), 8<<20)
	base := ts.URL + "/api/v1/repositories/" + m.GUN
	for _, tc := range []struct {
		name, method, url string
		header            []string
	}{
		{"publish", "POST", base + "/metadata", nil},
		{"target", "PUT", base + "/targets/file.bin", []string{"X-Rampart-Sha256", strings.Repeat("0", 64)}},
	} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tc.name, chunked), func(t *testing.T) {
				for range 20 {
					var body io.Reader = bytes.NewReader(big)
					if chunked {
						body = io.MultiReader(body) // hides the length
					}
					code, b, _ := request(t, tc.method, tc.url, ts.Admin, body, tc.header...)
					var e apiError
					if code != http.StatusRequestEntityTooLarge || json.Unmarshal(b, &e) != nil || e.Check != "size" {
						t.Fatalf("got %d %s, want a JSON 413 with check size", code, b)
					}
				}
			})
		}
	}
}
