package notaryimport_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/repo/notaryimport"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

const gun = "example.com/app"

// trustDir lays out the repository that the notary client and
// notary-server wrote in tuf/notary/testdata/app as a notary client's trust
// directory, with edit applied to each file, and returns the directory and
// a time at which nothing in it has expired.
func trustDir(t *testing.T, edit func(role string, data []byte) []byte) (string, time.Time) {
	t.Helper()
	dir := t.TempDir()
	var now time.Time
	for _, role := range []string{"root", "targets", "snapshot", "timestamp", "targets/releases"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "tuf", "notary", "testdata", "app", role+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if role == "timestamp" {
			d, err := notary.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			now = d.Expires.Add(-time.Hour)
		}
		if edit != nil {
			data = edit(role, data)
		}
		p := filepath.Join(dir, "tuf", gun, "metadata", role+".json")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, now
}

func load(t *testing.T, dir string, trusted []byte, now time.Time) (*notaryimport.Repository, error) {
	t.Helper()
	src, err := notaryimport.NewTrustDirSource(dir, gun)
	if err != nil {
		t.Fatal(err)
	}
	return notaryimport.Load(context.Background(), src, gun, trusted, now)
}

func TestLoadAndImport(t *testing.T) {
	dir, now := trustDir(t, nil)
	nr, err := load(t, dir, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range nr.Roles {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"targets", "targets/releases"}) || nr.Roles[1].Targets["releases/one"].Length != 12 {
		t.Fatalf("roles %q, releases %+v", names, nr.Roles[1].Targets)
	}

	out := filepath.Join(t.TempDir(), "imported")
	res, err := notaryimport.Import(context.Background(), nr, out, repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Targets != 2 || !slices.Equal(res.Roles, []string{"targets.releases"}) {
		t.Errorf("result %+v", res)
	}
	r, err := repo.Open(context.Background(), out, repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Publish(context.Background(), filepath.Join(t.TempDir(), "pub")); err != nil {
		t.Fatalf("publishing the imported repository: %v", err)
	}
	errDone := errors.New("done")
	err = r.Update(context.Background(), func(tx *repo.Tx) error {
		top, err := tx.Peek("targets")
		if err != nil {
			return err
		}
		hello, ok := top.Targets["hello"]
		if !ok || hello.Length != 13 || len(hello.Hashes.SHA256) != 32 {
			t.Errorf("hello: %+v", hello)
		}
		if !bytes.Contains(hello.Custom, []byte(`"notary":{"gun":"example.com/app","origin":"trust directory `)) || !bytes.Contains(hello.Custom, []byte(`"role":"targets"`)) {
			t.Errorf("hello's custom metadata does not record its origin: %s", hello.Custom)
		}
		d := top.Delegations.Roles[0]
		if d.Name != "targets.releases" || !d.MatchesPath("releases/one") || !d.MatchesPath("releases/a/b/c") || d.MatchesPath("hello") || d.MatchesPath("releasesX") {
			t.Errorf("delegation %s with paths %q", d.Name, d.Paths)
		}
		rel, err := tx.Peek("targets.releases")
		if err != nil {
			return err
		}
		if _, ok := rel.Targets["releases/one"]; !ok {
			t.Errorf("targets.releases lists %v", rel.Targets)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
	if len(r.Root().Signed.Keys) == 0 {
		t.Fatal("no root keys")
	}
	for _, k := range r.Root().Signed.Keys {
		if k.Type == notary.KeyTypeECDSAX509 {
			t.Errorf("a Notary key was carried over: %v", k.Type)
		}
	}
	_ = metadata.TypeRoot
}

// TestLoadRefuses: what the notary client would refuse, Load refuses.
func TestLoadRefuses(t *testing.T) {
	otherRoot, err := os.ReadFile(filepath.Join("..", "..", "tuf", "notary", "testdata", "rsa", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		edit    func(role string, data []byte) []byte
		trusted []byte
		late    bool
		want    string
	}{
		{"target changed", func(role string, d []byte) []byte {
			if role == "targets" {
				return bytes.Replace(d, []byte(`"length":13`), []byte(`"length":14`), 1)
			}
			return d
		}, nil, false, "does not have the length and hashes"},
		{"delegated target changed", func(role string, d []byte) []byte {
			if role == "targets/releases" {
				return bytes.Replace(d, []byte(`"length":12`), []byte(`"length":99`), 1)
			}
			return d
		}, nil, false, "targets/releases does not have the length and hashes"},
		{"pinned to another root", nil, otherRoot, false, "not signed by the trusted root's keys"},
		{"expired timestamp", nil, nil, true, "timestamp expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, now := trustDir(t, tc.edit)
			if tc.late {
				now = now.Add(2 * time.Hour)
			}
			_, err := load(t, dir, tc.trusted, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := load(t, t.TempDir(), nil, time.Now()); !errors.Is(err, notaryimport.ErrNoTrustData) {
		t.Errorf("empty trust directory: %v", err)
	}
}

func TestPatterns(t *testing.T) {
	for _, tc := range []struct {
		prefix       string
		match, not   []string
		wantPatterns int
	}{
		{"releases/", []string{"releases/a", "releases/a/b"}, []string{"releases", "releasesX/a", "other"}, 9},
		{"rel", []string{"rel", "release", "rel/x", "release-1/x/y"}, []string{"re", "x/rel"}, 9},
		{"", []string{"a", "a/b/c"}, nil, 9},
		{"a*[", []string{"a*[x"}, []string{"ab["}, 9},
	} {
		pats := notaryimport.Patterns(tc.prefix, 0)
		d := metadata.DelegatedRole{Paths: pats}
		if len(pats) != tc.wantPatterns {
			t.Errorf("%q: %d patterns %q", tc.prefix, len(pats), pats)
		}
		for _, m := range tc.match {
			if !d.MatchesPath(m) {
				t.Errorf("%q: patterns %q do not match %q", tc.prefix, pats, m)
			}
		}
		for _, m := range tc.not {
			if d.MatchesPath(m) {
				t.Errorf("%q: patterns %q match %q", tc.prefix, pats, m)
			}
		}
	}
	if pats := notaryimport.Patterns("a/", 20); !slices.Contains(pats, "a/*"+strings.Repeat("/*", 19)) {
		t.Errorf("patterns do not reach the deepest target: %q", pats)
	}
}
