package servertest_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestStart checks that the server answers and that tokens are scoped as
// asked.
func TestStart(t *testing.T) {
	s := servertest.Start(t)
	get := func(path, token string) int {
		t.Helper()
		method := "GET"
		if path != "/healthz" {
			method = "POST" // create the repository: push scope
		}
		req, err := http.NewRequest(method, s.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
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
	const key = "/api/v1/repositories/example.com/app"
	for _, tt := range []struct {
		name, path, token string
		want              int
	}{
		{"health", "/healthz", "", 200},
		{"admin", key, s.Admin, 200},
		{"push in prefix", key, s.Token(t, "push", "example.com"), 200},
		{"push outside prefix", key, s.Token(t, "push", "example.org"), 403},
		{"pull", key, s.Token(t, "pull", ""), 403},
		{"no token", key, "", 401},
	} {
		if got := get(tt.path, tt.token); got != tt.want {
			t.Errorf("%s: %s = %d, want %d", tt.name, tt.path, got, tt.want)
		}
	}
}

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// TestMaintainer publishes through the maintainer on each store, over
// HTTP and HTTPS: the server stores what was published in the store it was
// given, serves a timestamp signed with the online key the maintainer was
// given, and refuses a document with an error naming the role.
func TestMaintainer(t *testing.T) {
	for _, kind := range servertest.Stores {
		for _, useTLS := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/tls=%v", kind, useTLS), func(t *testing.T) {
				st := servertest.OpenStore(t, kind, pg)
				start := servertest.Start
				if useTLS {
					start = servertest.StartTLS
				}
				s := start(t, servertest.WithStore(st))
				if s.Store != st {
					t.Fatal("the server does not run on the given store")
				}
				if useTLS != (s.CAFile != "") || useTLS != strings.HasPrefix(s.URL, "https://") {
					t.Errorf("URL %s, CA file %q", s.URL, s.CAFile)
				}
				m := servertest.NewMaintainer(t, s, "example.com/app")
				m.Upload("a.txt", "hello")
				res := m.MustPublish(map[string][]byte{
					"root":    servertest.Sign(t, m.RootDoc(1), m.Root),
					"targets": servertest.Sign(t, m.TargetsDoc(1, map[string]string{"a.txt": "hello"}), m.Targets),
				})
				if res.TimestampVersion != 1 || res.GUN != m.GUN {
					t.Errorf("publish result %+v", res)
				}
				if r, err := st.Repo(context.Background(), m.GUN); err != nil || r.TimestampVersion != 1 {
					t.Errorf("the store's repository: %+v, %v", r, err)
				}
				code, b, _ := s.Do(t, "GET", "/tuf/"+m.GUN+"/metadata/timestamp.json", "", nil)
				if code != 200 {
					t.Fatalf("timestamp.json: %d %s", code, b)
				}
				ts, err := metadata.ParseTimestamp(b)
				if err != nil {
					t.Fatal(err)
				}
				k := m.Online["timestamp"]
				if err := metadata.VerifySignatures("timestamp", ts, []string{k.ID()}, map[string]*metadata.Key{k.ID(): k}, 1); err != nil {
					t.Errorf("the timestamp does not verify with the maintainer's online key: %v", err)
				}
				// A targets document signed by the wrong key.
				code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Root)})
				if code != 400 || e.Role != "targets" || e.Check == "" {
					t.Errorf("badly signed targets: %d %+v", code, e)
				}
			})
		}
	}
}
