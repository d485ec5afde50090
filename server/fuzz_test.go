package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/rampart-tuf/rampart/server/servertest"
)

// FuzzPublishBody sends arbitrary bodies to POST .../metadata of a
// published repository, as a holder of a push token could. Whatever the
// body, the server answers with a JSON error or a success and never a 5xx,
// and after every answer a client starting from the first root still
// verifies the repository: no body may leave it in a state clients refuse.
func FuzzPublishBody(f *testing.F) {
	ts := newServer(f, openStore(f, "bolt"))
	m := newMaintainer(f, ts, "example.com/fuzz/app")
	root1 := servertest.Sign(f, m.RootDoc(1), m.Root)
	m.MustPublish(map[string][]byte{
		"root":    root1,
		"targets": servertest.Sign(f, m.TargetsDoc(1, map[string]string{"a.txt": "a"}), m.Targets),
	})

	// Seeds: valid updates (a new targets version, a delegation, a root
	// rotation as a chain), and the shapes of broken ones.
	tg := m.TargetsDoc(3, map[string]string{"a.txt": "a"})
	m.DelegateTo(tg, "role1")
	f.Add(body(map[string][]byte{"targets": servertest.Sign(f, m.TargetsDoc(2, map[string]string{"b.txt": "b"}), m.Targets)}))
	f.Add(body(map[string][]byte{
		"targets": servertest.Sign(f, tg, m.Targets),
		"role1":   servertest.Sign(f, m.TargetsDoc(1, map[string]string{"delegated/x": "x"}), m.Delegate),
	}))
	chain, _ := json.Marshal(map[string]any{"roots": []json.RawMessage{servertest.Sign(f, m.RootDoc(2), m.Root)}})
	f.Add(chain)
	f.Add([]byte(`{"roles": {"targets": {"signed": {}, "signatures": []}}}`))
	f.Add([]byte(`{"roles": {}, "roles": {}}`))
	f.Add([]byte(`{"roots": [1, 2, 3]}`))
	f.Add([]byte(`[]`))

	url := ts.URL + "/api/v1/repositories/" + m.GUN + "/metadata"
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := http.NewRequest("POST", url, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+m.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for body %q: %s", resp.StatusCode, b, raw)
		}
		if !json.Valid(raw) {
			t.Fatalf("status %d with a body that is not JSON: %q", resp.StatusCode, raw)
		}
		if resp.StatusCode != http.StatusOK {
			return
		}
		if _, err := newClient(t, ts.URL, m.GUN, root1).refresh(); err != nil {
			t.Fatalf("accepted body %q, after which a client refuses the repository: %v", b, err)
		}
	})
}
