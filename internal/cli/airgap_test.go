package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// contacts records every address dialled through http.DefaultTransport,
// which the CLI's HTTP clients use (the server API client clones it).
type contacts struct {
	mu    sync.Mutex
	addrs []string
}

func (c *contacts) add(a string) {
	c.mu.Lock()
	c.addrs = append(c.addrs, a)
	c.mu.Unlock()
}

func (c *contacts) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.addrs)
}

// recordContacts makes http.DefaultTransport a fresh transport (no
// connection kept from before) that records every address it dials, until
// the test ends.
func recordContacts(t *testing.T) *contacts {
	rec := &contacts{}
	old := http.DefaultTransport
	tr := old.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		rec.add(addr)
		return d.DialContext(ctx, network, addr)
	}
	http.DefaultTransport = tr
	t.Cleanup(func() { http.DefaultTransport = old; tr.CloseIdleConnections() })
	return rec
}

// transcript keeps the commands of a test and what they printed.
type transcript struct {
	t *testing.T
	b strings.Builder
}

func (tr *transcript) run(want int, args ...string) string {
	tr.t.Helper()
	code, out, errOut := runCLI(tr.t, args...)
	fmt.Fprintf(&tr.b, "$ rampart %s\n%s%s", strings.Join(args, " "), out, errOut)
	if code != want {
		tr.t.Fatalf("rampart %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out + errOut
}

// TestAirGap is the deployment of issue 17 end to end, with the CLI: an
// outside repository on one loopback server is mirrored (served by a
// second) and exported from the mirror into a bundle; inside, with every
// address the inside machines contact recorded, a fresh client imports
// the bundle and gets a target offline, and a repository on a metadata
// server of its own (a third) imports the outside delegation from the
// bundle, with its original signatures, and serves it to an inside
// client. Nothing inside reaches the outside servers, and the delegated
// role's bytes inside are the outside bytes.
func TestAirGap(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	tmp := t.TempDir()
	tr := &transcript{t: t}

	// Outside: the origin, and a mirror of it.
	origin := repotest.New(t)
	origin.AddTarget("targets", "outside/readme", []byte("the outside's own file"))
	origin.Delegate("targets", "partner", []string{"partner/*"}, false)
	origin.AddTarget("partner", "partner/tool-1.0.tgz", []byte("partner tool 1.0"))
	origin.Publish()
	originSrv := origin.Serve()
	outsideRoot := filepath.Join(tmp, "outside-root.json")
	os.WriteFile(outsideRoot, origin.RootBytes(1), 0o644)
	mirrorDir := filepath.Join(tmp, "mirror")
	tr.run(0, "mirror", originSrv.URL, mirrorDir, "--root", outsideRoot)
	mirrorSrv := httptest.NewServer(http.FileServer(http.Dir(mirrorDir)))
	defer mirrorSrv.Close()
	exporter := filepath.Join(tmp, "exporter")
	bundle := filepath.Join(tmp, "partner.bundle")
	tr.run(0, "client", "init", "--url", mirrorSrv.URL, "--root", outsideRoot, "--dir", exporter)
	tr.run(0, "client", "export", "--dir", exporter, "-o", bundle, "partner/tool-1.0.tgz")

	// Inside: a metadata server of its own.
	inside := servertest.Start(t)
	t.Setenv("RAMPART_TOKEN", inside.Token(t, "push", "example.com/inside"))
	const gun = "example.com/inside/apps"
	insideRepo := filepath.Join(tmp, "inside")
	tr.run(0, "repo", "init", insideRepo, "--server", inside.URL, "--gun", gun)

	rec := recordContacts(t)
	// A fresh client, no network: the bundle, then an offline get.
	fresh := filepath.Join(tmp, "fresh")
	tr.run(0, "client", "init", "--root", outsideRoot, "--dir", fresh)
	tr.run(0, "client", "import", "--dir", fresh, bundle)
	got := filepath.Join(tmp, "tool.tgz")
	tr.run(0, "client", "get", "--dir", fresh, "--offline", "partner/tool-1.0.tgz", "-o", got)
	if data, _ := os.ReadFile(got); string(data) != "partner tool 1.0" {
		t.Fatalf("offline get: %q", data)
	}
	if c := rec.list(); len(c) != 0 {
		t.Fatalf("the fresh client used the network: %v", c)
	}

	// The re-rooted delegation, served inside.
	out := tr.run(0, "repo", "import-delegation", insideRepo, "partner", "--from-bundle", bundle)
	if !strings.Contains(out, "no --root") {
		t.Errorf("a first import from a bundle alone does not say where its trust starts:\n%s", out)
	}
	tr.run(0, "repo", "publish", insideRepo)
	insideClient := filepath.Join(tmp, "inside-client")
	tr.run(0, "client", "init", "--url", inside.URL+"/tuf/"+gun, "--root", filepath.Join(insideRepo, "roots", "1.root.json"), "--dir", insideClient)
	got2 := filepath.Join(tmp, "tool-inside.tgz")
	tr.run(0, "client", "get", "--dir", insideClient, "partner/tool-1.0.tgz", "-o", got2)
	if data, _ := os.ReadFile(got2); string(data) != "partner tool 1.0" {
		t.Fatalf("inside get: %q", data)
	}
	list := tr.run(0, "client", "list", "--dir", insideClient)
	if !strings.Contains(list, "partner/tool-1.0.tgz") || strings.Contains(list, "outside/readme") {
		t.Fatalf("inside list:\n%s", list)
	}

	// Where the inside machines went: the inside server only.
	insideHost := hostOf(t, inside.URL)
	for _, a := range rec.list() {
		if a != insideHost {
			t.Errorf("the inside reached %s (outside: origin %s, mirror %s)", a, hostOf(t, originSrv.URL), hostOf(t, mirrorSrv.URL))
		}
	}
	if !slices.Contains(rec.list(), insideHost) {
		t.Fatal("the recorder saw no contact with the inside server: it records nothing")
	}
	// The delegated role inside is the outside role, byte for byte.
	resp, err := http.Get(inside.URL + "/tuf/" + gun + "/metadata/1.partner.json")
	if err != nil {
		t.Fatal(err)
	}
	insideBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(insideBytes) != string(origin.Meta("partner")) {
		t.Fatalf("partner inside (%d bytes) is not partner outside (%d bytes)", len(insideBytes), len(origin.Meta("partner")))
	}
	if p := os.Getenv("RAMPART_AIRGAP_TRANSCRIPT"); p != "" {
		os.WriteFile(p, []byte(strings.ReplaceAll(tr.b.String(), tmp, "$TMP")), 0o644)
	}
}

func hostOf(t *testing.T, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}
