package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	rclient "github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// TestSlashRoleNames publishes a role named "targets/releases" (CNAB's and
// Notary's name) and reads it back in both forms clients ask for it,
// 1.targets/releases.json and 1.targets%2Freleases.json (python-tuf,
// go-tuf and Rampart's client escape the '/'); go-tuf's client and
// Rampart's find a target through it. Names and paths that would leave the
// role's place are refused, saying why.
func TestSlashRoleNames(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		m := newMaintainer(t, ts, "example.com/cnab/bundle")
		m.Upload("delegated/app.tgz", "bundle 1")
		root1 := servertest.Sign(t, m.RootDoc(1), m.Root)
		tg := m.TargetsDoc(1, nil)
		m.DelegateTo(tg, "targets/releases")
		rel := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"delegated/app.tgz": "bundle 1"}), m.Delegate)
		m.MustPublish(map[string][]byte{"root": root1, "targets": servertest.Sign(t, tg, m.Targets), "targets/releases": rel})

		base := ts.URL + "/tuf/" + m.GUN + "/metadata/"
		for _, file := range []string{"1.targets/releases.json", "1.targets%2Freleases.json", "1.targets%2freleases.json"} {
			code, b, _ := request(t, "GET", base+file, "", nil)
			if code != http.StatusOK || !bytes.Equal(b, rel) {
				t.Errorf("GET %s: %d %.200s", file, code, b)
			}
		}
		if got, err := newClient(t, ts.URL, m.GUN, root1).fetch("delegated/app.tgz"); err != nil || got != "bundle 1" {
			t.Errorf("go-tuf fetch through targets/releases: %q, %v", got, err)
		}
		dir := t.TempDir()
		must(t, rclient.Init(dir, root1))
		c, err := rclient.New(rclient.Config{MetadataURL: ts.URL + "/tuf/" + m.GUN + "/metadata", TargetsURL: ts.URL + "/tuf/" + m.GUN + "/targets", Dir: dir})
		must(t, err)
		ti, err := c.Target(context.Background(), "delegated/app.tgz")
		if err != nil || ti.Role != "targets/releases" {
			t.Fatalf("rampart client: %+v, %v", ti, err)
		}
		var buf bytes.Buffer
		if err := c.Download(context.Background(), ti, &buf); err != nil || buf.String() != "bundle 1" {
			t.Errorf("rampart client download: %q, %v", buf.String(), err)
		}

		for _, tc := range []struct {
			name, path string
			want       int
			check, msg string
		}{
			{"traversal", base + "1.targets/../x.json", 400, "request", `path segment ".." is not allowed`},
			{"encoded traversal", base + "1.targets%2F..%2Fx.json", 400, "request", `path segment ".." is not allowed`},
			{"encoded dot segment", base + "1.targets%2F.%2Fx.json", 400, "request", `path segment "." is not allowed`},
			{"encoded empty segment", base + "1.targets%2F%2Fx.json", 400, "request", "empty path segment"},
			{"encoded slash before metadata", ts.URL + "/tuf/example.com/cnab%2Fbundle/metadata/1.targets.json", 400, "request", "encoded slashes"},
			{"encoded slash in a middle segment", base + "1.targets%2Freleases/x.json", 400, "request", "encoded slashes"},
			{"encoded slash in a target path", ts.URL + "/tuf/" + m.GUN + "/targets/delegated%2Fapp.tgz", 400, "request", "encoded slashes"},
			{"bad role name", base + "1.targets/-x.json", 404, "not-found", `invalid role name "targets/-x"`},
			{"unversioned", base + "targets/releases.json", 404, "not-found", "only timestamp.json and root.json"},
			{"unknown role", base + "1.targets/other.json", 404, "not-found", ""},
		} {
			code, b, _ := request(t, "GET", tc.path, "", nil)
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || code != tc.want || e.Check != tc.check || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s: GET %s: %d %s, want %d %s %q", tc.name, tc.path, code, b, tc.want, tc.check, tc.msg)
			}
		}

		for _, name := range []string{"targets/../x", "targets//x", "root/001", "targets/releases/"} {
			tg2 := m.TargetsDoc(2, nil)
			m.DelegateTo(tg2, name)
			code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, tg2, m.Targets), name: rel})
			if code != http.StatusBadRequest || e.Check != "role" || e.Role != name || !strings.Contains(e.Error, "invalid role name") {
				t.Errorf("publish of role %q: %d %+v, want 400 role", name, code, e)
			}
		}
	})
}
