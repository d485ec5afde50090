package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/internal/intototest"
	"github.com/rampart-tuf/rampart/intoto"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// inTotoFiles writes a build's files into dir/name/.
func inTotoFiles(t *testing.T, dir, name string, b *intototest.Build) (pkg, layout string, links []string) {
	t.Helper()
	d := filepath.Join(dir, name)
	os.MkdirAll(d, 0o755)
	pkg, layout = filepath.Join(d, intototest.PackageName), filepath.Join(d, "root.layout")
	os.WriteFile(pkg, b.Package, 0o644)
	os.WriteFile(layout, b.Layout, 0o644)
	for n, data := range b.Links {
		p := filepath.Join(d, n)
		os.WriteFile(p, data, 0o644)
		links = append(links, p)
	}
	slices.Sort(links)
	return pkg, layout, links
}

// TestInTotoStatic publishes packages with in-toto metadata to a directory
// served over HTTP, and gets them with 'client get --in-toto'.
func TestInTotoStatic(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	dir := t.TempDir()
	pub := filepath.Join(dir, "public")
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	t.Cleanup(srv.Close)
	repoDir := filepath.Join(dir, "repo")
	if code, _, errOut := runCLI(t, "repo", "init", repoDir); code != ExitOK {
		t.Fatalf("repo init: %s", errOut)
	}
	inTotoScenario(t, dir, repoDir, srv.URL, []string{"--out", pub}, func(rel string) string { return filepath.Join(pub, "targets", rel) })
}

// TestInTotoServer does the same with a repository on 'rampart serve'.
func TestInTotoServer(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	s := servertest.Start(t)
	t.Setenv("RAMPART_TOKEN", s.Admin)
	dir := t.TempDir()
	repoDir := filepath.Join(dir, "repo")
	const gun = "example.com/acme/foo"
	if code, _, errOut := runCLI(t, "repo", "init", repoDir, "--server", s.URL, "--gun", gun); code != ExitOK {
		t.Fatalf("repo init --server: %s", errOut)
	}
	inTotoScenario(t, dir, repoDir, s.URL+"/tuf/"+gun, nil, nil)
}

// inTotoScenario sets the repository up for ITE-2, adds a package with its
// in-toto metadata, publishes, and has the client verify it; then it
// publishes what an attacker holding the online key (or a careless
// maintainer using plain 'repo add') could, and checks the client refuses
// each, leaving no file. served, when not nil, maps a target's consistent
// path to the file the web server serves.
func inTotoScenario(t *testing.T, dir, repoDir, url string, publishArgs []string, served func(string) string) {
	k := intototest.NewKeys(t)
	pkg, layout, links := inTotoFiles(t, dir, "good", k.Build(t, intototest.Options{}))
	otherPkg, _, _ := inTotoFiles(t, dir, "other", k.Build(t, intototest.Options{Source: "print('backdoor')\n"}))
	_, expired, _ := inTotoFiles(t, dir, "expired", k.Build(t, intototest.Options{Expires: time.Now().Add(-time.Hour)}))
	_, rogueLayout, _ := inTotoFiles(t, dir, "rogue", k.Build(t, intototest.Options{LayoutSigner: "rogue"}))
	owner := filepath.Join(k.Dir, "owner.pub")

	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("rampart %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	online := filepath.Join(dir, "online")
	must("key", "generate", "--type", "ed25519", "-o", online)
	must("repo", "in-toto-setup", repoDir, "--key", online+".key")

	// Incomplete metadata is refused.
	code, _, errOut := runCLI(t, "repo", "add", repoDir, pkg, "--in-toto-layout", layout, "--in-toto-link", links[1], "--in-toto-key", owner)
	if code != ExitFailure || !strings.Contains(errOut, `step "developer": 0 link(s), the layout requires 1`) {
		t.Fatalf("add with a missing link: exit %d, %q", code, errOut)
	}
	out := must("repo", "add", repoDir, pkg, "--in-toto-layout", layout, "--in-toto-link", links[0], "--in-toto-link", links[1], "--in-toto-key", owner)
	if !strings.Contains(out, "the in-toto supply chain of foo-1.0.tar.gz verifies") {
		t.Errorf("repo add output: %s", out)
	}

	// What the online role could sign: plain targets with crafted custom
	// metadata.
	sum := sha256Hex(t, pkg)
	linkPath := func(i int) string { return "in-toto-metadata/" + sum + "/" + filepath.Base(links[i]) }
	customOf := func(layout string, links ...string) string {
		q := func(s string) string { return fmt.Sprintf("%q", s) }
		list := []string{q(layout)}
		for _, l := range links {
			list = append(list, q(l))
		}
		return `{"in-toto":[` + strings.Join(list, ",") + `]}`
	}
	ownerPath := "in-toto-pubkeys/" + keyIDOf(t, owner) + ".pub"
	rogueName, rogueLink := k.Resign(t, buildOf(t, links), filepath.Base(links[1]), "rogue")
	roguePath := filepath.Join(dir, rogueName)
	os.WriteFile(roguePath, rogueLink, 0o644)
	attacks := []struct {
		target  string
		add     [][]string // extra 'repo add' arguments
		wantErr string
	}{
		{"swapped.tar.gz", [][]string{{otherPkg, "--as", "swapped.tar.gz", "--custom", customOf("in-toto-metadata/root.layout", linkPath(0), linkPath(1))}},
			`in-toto: package foo-1.0.tar.gz: sha256`},
		{"wrongkey.tar.gz", [][]string{
			{roguePath, "--as", "in-toto-metadata/rogue/" + rogueName},
			{pkg, "--as", "wrongkey.tar.gz", "--custom", customOf("in-toto-metadata/root.layout", linkPath(0), "in-toto-metadata/rogue/"+rogueName)}},
			`which the layout does not authorize for step "packager"`},
		{"missinglink.tar.gz", [][]string{{pkg, "--as", "missinglink.tar.gz", "--custom", customOf("in-toto-metadata/root.layout", linkPath(1))}},
			`step 'developer' requires '1' link metadata file(s), found '0'`},
		{"expired.tar.gz", [][]string{
			{expired, "--as", "in-toto-metadata/expired.layout", "--custom", customOf(ownerPath)},
			{pkg, "--as", "expired.tar.gz", "--custom", customOf("in-toto-metadata/expired.layout", linkPath(0), linkPath(1))}},
			`layout: layout has expired`},
		{"roguelayout.tar.gz", [][]string{
			{rogueLayout, "--as", "in-toto-metadata/rogue.layout", "--custom", customOf(ownerPath)},
			{pkg, "--as", "roguelayout.tar.gz", "--custom", customOf("in-toto-metadata/rogue.layout", linkPath(0), linkPath(1))}},
			`layout: not signed by TUF-delivered key ` + keyIDOf(t, owner)},
		{"onlinekey.tar.gz", [][]string{
			{filepath.Join(k.Dir, "rogue.pub"), "--as", "rogue.pub"},
			{rogueLayout, "--as", "in-toto-metadata/rogue2.layout", "--custom", customOf("rogue.pub")},
			{pkg, "--as", "onlinekey.tar.gz", "--custom", customOf("in-toto-metadata/rogue2.layout", linkPath(0), linkPath(1))}},
			`key rogue.pub is listed by role "package-and-in-toto-metadata-signer", but layout keys must come from "targets"`},
		{"tampered.tar.gz", [][]string{{pkg, "--as", "tampered.tar.gz", "--custom", customOf("in-toto-metadata/root.layout", linkPath(0), linkPath(1))}},
			`target tampered.tar.gz`},
	}
	for _, a := range attacks {
		for _, args := range a.add {
			must(append([]string{"repo", "add", repoDir}, args...)...)
		}
	}
	must(append([]string{"repo", "publish", repoDir}, publishArgs...)...)

	clientDir := filepath.Join(dir, "client")
	must("client", "init", "--url", url, "--root", filepath.Join(repoDir, "roots", "1.root.json"), "--dir", clientDir)
	got := filepath.Join(dir, "got", "foo-1.0.tar.gz")
	out = must("client", "get", "--dir", clientDir, "foo-1.0.tar.gz", "-o", got, "--in-toto")
	if !strings.Contains(out, "verified by TUF and in-toto") || !strings.Contains(out, "steps developer -> packager") {
		t.Errorf("client get --in-toto output: %s", out)
	}
	if data, _ := os.ReadFile(got); string(data) != string(readFile(t, pkg)) {
		t.Fatal("client got other content")
	}
	t.Logf("client get --in-toto: %s", out)

	if served != nil {
		p := served(sum + ".tampered.tar.gz")
		data := readFile(t, p)
		data[len(data)/2] ^= 1
		os.WriteFile(p, data, 0o644)
	} else {
		attacks = attacks[:len(attacks)-1] // the server's content is not at hand
	}
	for _, a := range attacks {
		bad := filepath.Join(dir, "bad", a.target)
		code, _, errOut := runCLI(t, "client", "get", "--dir", clientDir, a.target, "-o", bad, "--in-toto", "--in-toto-product", intototest.PackageName)
		if code != ExitFailure || !strings.Contains(errOut, a.wantErr) {
			t.Errorf("%s: exit %d, %q; want an error containing %q", a.target, code, errOut, a.wantErr)
		}
		if entries, _ := os.ReadDir(filepath.Dir(bad)); len(entries) != 0 {
			t.Errorf("%s: files left behind: %v", a.target, entries)
		}
		t.Logf("client get --in-toto %s: %s", a.target, strings.TrimSpace(errOut))
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(t *testing.T, p string) string {
	sum := sha256.Sum256(readFile(t, p))
	return hex.EncodeToString(sum[:])
}

func keyIDOf(t *testing.T, pub string) string {
	k, err := intoto.ParsePublicKey(readFile(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	return k.KeyID
}

// buildOf is a build holding the given link files.
func buildOf(t *testing.T, links []string) *intototest.Build {
	b := &intototest.Build{Links: map[string][]byte{}}
	for _, l := range links {
		b.Links[filepath.Base(l)] = readFile(t, l)
	}
	return b
}

// TestInTotoCNAB sets up the CNAB variant, whose bundles and links are
// signed by the role "targets/releases", adds a bundle with its in-toto
// metadata, publishes it to a directory served over HTTP and to 'rampart
// serve', and has the client verify it from both.
func TestInTotoCNAB(t *testing.T) {
	t.Setenv("RAMPART_PASSPHRASE", "pw")
	s := servertest.Start(t)
	t.Setenv("RAMPART_TOKEN", s.Admin)
	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, args...)
		if code != ExitOK {
			t.Fatalf("rampart %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	k := intototest.NewKeys(t)
	pkg, layout, links := inTotoFiles(t, dir, "good", k.Build(t, intototest.Options{}))
	online := filepath.Join(dir, "online")
	must("key", "generate", "--type", "ed25519", "-o", online)
	const bundle, ref = "example.com/org/bundle", "example.com/org/bundle:1.0"

	pub := filepath.Join(dir, "public")
	srv := httptest.NewServer(http.FileServer(http.Dir(pub)))
	t.Cleanup(srv.Close)
	const gun = "example.com/org/bundle"
	for _, tc := range []struct {
		name, url  string
		init, push []string
	}{
		{"static", srv.URL, nil, []string{"--out", pub}},
		{"server", s.URL + "/tuf/" + gun, []string{"--server", s.URL, "--gun", gun}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repoDir := filepath.Join(dir, tc.name, "repo")
			must(append([]string{"repo", "init", repoDir}, tc.init...)...)
			out := must("repo", "in-toto-setup", repoDir, "--key", online+".key", "--cnab", bundle)
			if !strings.Contains(out, "targets delegates packages and links to targets/releases (cnab model)") {
				t.Errorf("in-toto-setup output: %s", out)
			}
			out = must("repo", "add", repoDir, pkg, "--as", ref, "--in-toto-product", intototest.PackageName,
				"--in-toto-layout", layout, "--in-toto-link", links[0], "--in-toto-link", links[1], "--in-toto-key", filepath.Join(k.Dir, "owner.pub"))
			if !strings.Contains(out, "targets/releases") {
				t.Errorf("repo add output does not name targets/releases: %s", out)
			}
			must(append([]string{"repo", "publish", repoDir}, tc.push...)...)
			if tc.push != nil {
				if m, _ := filepath.Glob(filepath.Join(pub, "metadata", "*.targets", "releases.json")); len(m) == 0 {
					t.Errorf("no metadata/N.targets/releases.json in the published directory")
				}
			}
			clientDir := filepath.Join(dir, tc.name, "client")
			must("client", "init", "--url", tc.url, "--root", filepath.Join(repoDir, "roots", "1.root.json"), "--dir", clientDir)
			got := filepath.Join(dir, tc.name, "got.tgz")
			out = must("client", "get", "--dir", clientDir, ref, "-o", got, "--in-toto", "--in-toto-product", intototest.PackageName)
			if !strings.Contains(out, "verified by TUF and in-toto") {
				t.Errorf("client get --in-toto output: %s", out)
			}
			if data, _ := os.ReadFile(got); string(data) != string(readFile(t, pkg)) {
				t.Fatal("client got other content")
			}
			if _, err := os.Stat(filepath.Join(clientDir, "metadata", "targets%2Freleases.json")); err != nil {
				t.Errorf("client's trusted copy of targets/releases: %v", err)
			}
		})
	}
}
