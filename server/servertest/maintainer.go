package servertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Maintainer holds a repository's offline keys, builds its metadata and
// publishes it to a Server over the HTTP API, as "rampart repo" would.
type Maintainer struct {
	T      testing.TB
	Server *Server
	GUN    string
	// Token is the bearer token of the maintainer's requests: the
	// server's admin token unless a test changes it.
	Token string
	// Root and Targets sign the top-level roles; Delegate is the key
	// DelegateTo gives a delegated role.
	Root, Targets, Delegate keys.Signer
	// Snapshot is the maintainer's snapshot key; nil (the default) means
	// the server signs snapshots with its online key.
	Snapshot keys.Signer
	// Online are the server's online keys by role ("timestamp",
	// "snapshot"), as the server gave them when the repository was
	// created.
	Online map[string]*metadata.Key
	// Expires is the expiry of every document the maintainer builds.
	Expires time.Time
}

// NewMaintainer creates the repository gun on s with the admin token and
// reads the server's online keys for it.
func NewMaintainer(t testing.TB, s *Server, gun string) *Maintainer {
	t.Helper()
	m := &Maintainer{T: t, Server: s, GUN: gun, Token: s.Admin, Root: repotest.NewSigner(t), Targets: repotest.NewSigner(t), Delegate: repotest.NewSigner(t),
		Online: map[string]*metadata.Key{}, Expires: time.Now().Add(365 * 24 * time.Hour)}
	code, b, _ := s.Do(t, "POST", "/api/v1/repositories/"+gun, m.Token, nil)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("servertest: creating %s: %d %s", gun, code, b)
	}
	for _, role := range []string{"timestamp", "snapshot"} {
		m.Online[role] = m.OnlineKey(role)
	}
	return m
}

// OnlineKey returns the server's current online key of role, checking that
// the key ID it gives is the key's.
func (m *Maintainer) OnlineKey(role string) *metadata.Key {
	m.T.Helper()
	code, b, _ := m.Server.Do(m.T, "GET", "/api/v1/repositories/"+m.GUN+"/keys/"+role, m.Token, nil)
	if code != http.StatusOK {
		m.T.Fatalf("servertest: GET %s key: %d %s", role, code, b)
	}
	var out api.OnlineKey
	must(m.T, json.Unmarshal(b, &out))
	if out.Key == nil {
		m.T.Fatalf("servertest: GET %s key: no key in %s", role, b)
	}
	k := metadata.NewKey(keys.PublicKey{Type: out.Key.KeyType, Scheme: out.Key.Scheme, Value: out.Key.KeyVal.Public})
	if k.ID() != out.KeyID {
		m.T.Fatalf("servertest: the server's %s key ID %s does not match the key (%s)", role, out.KeyID, k.ID())
	}
	return k
}

// RootDoc builds a root of the given version listing the maintainer's keys
// and the server's online keys (or the maintainer's snapshot key).
func (m *Maintainer) RootDoc(version int64) *metadata.Root {
	m.T.Helper()
	r := metadata.NewRoot(m.Expires)
	r.Version = version
	must(m.T, r.AddKey("root", metadata.NewKey(m.Root.PublicKey())))
	must(m.T, r.AddKey("targets", metadata.NewKey(m.Targets.PublicKey())))
	must(m.T, r.AddKey("timestamp", m.Online["timestamp"]))
	if m.Snapshot != nil {
		must(m.T, r.AddKey("snapshot", metadata.NewKey(m.Snapshot.PublicKey())))
	} else {
		must(m.T, r.AddKey("snapshot", m.Online["snapshot"]))
	}
	return r
}

// TargetsDoc builds targets metadata of the given version listing files
// (path → content).
func (m *Maintainer) TargetsDoc(version int64, files map[string]string) *metadata.Targets {
	tg := metadata.NewTargets(m.Expires)
	tg.Version = version
	for p, c := range files {
		tg.Targets[p] = metadata.NewTargetFile([]byte(c), false)
	}
	return tg
}

// DelegateTo makes tg delegate "delegated/*" to role, with the Delegate
// key.
func (m *Maintainer) DelegateTo(tg *metadata.Targets, role string) {
	k := metadata.NewKey(m.Delegate.PublicKey())
	tg.Delegations = &metadata.Delegations{
		Keys:  map[string]*metadata.Key{k.ID(): k},
		Roles: []metadata.DelegatedRole{{Name: role, KeyIDs: []string{k.ID()}, Threshold: 1, Paths: []string{"delegated/*"}}},
	}
}

// Publish posts docs (role → signed document) with the maintainer's token
// and the header's name-value pairs, and returns the status with the
// decoded error or result.
func (m *Maintainer) Publish(docs map[string][]byte, header ...string) (int, api.ErrorBody, api.PublishResult) {
	m.T.Helper()
	return m.Server.Publish(m.T, m.Token, m.GUN, PublishBody(m.T, nil, docs), header...)
}

// MustPublish publishes docs and fails the test unless the server accepts
// them.
func (m *Maintainer) MustPublish(docs map[string][]byte) api.PublishResult {
	m.T.Helper()
	code, e, res := m.Publish(docs)
	if code != http.StatusOK {
		m.T.Fatalf("servertest: publish: %d %+v", code, e)
	}
	return res
}

// Upload stores target content on the server.
func (m *Maintainer) Upload(path, content string) {
	m.T.Helper()
	sum := sha256.Sum256([]byte(content))
	code, b, _ := m.Server.Do(m.T, "PUT", "/api/v1/repositories/"+m.GUN+"/targets/"+path, m.Token, []byte(content),
		"X-Rampart-Sha256", hex.EncodeToString(sum[:]))
	if code != http.StatusCreated {
		m.T.Fatalf("servertest: upload %s: %d %s", path, code, b)
	}
}

// PublishBody is the body of a publish of a root chain (oldest first) and
// documents by role.
func PublishBody(t testing.TB, roots [][]byte, docs map[string][]byte) []byte {
	t.Helper()
	req := api.PublishRequest{Roles: map[string]json.RawMessage{}}
	for _, r := range roots {
		req.Roots = append(req.Roots, r)
	}
	for role, d := range docs {
		req.Roles[role] = d
	}
	b, err := req.Encode()
	must(t, err)
	return b
}

// Publish posts a publish body for gun with token and the header's
// name-value pairs, and returns the status with the decoded error (any
// status but 200) or result (200). An answer that is not JSON fails the
// test.
func (s *Server) Publish(t testing.TB, token, gun string, body []byte, header ...string) (int, api.ErrorBody, api.PublishResult) {
	t.Helper()
	code, raw, _ := s.Do(t, "POST", "/api/v1/repositories/"+gun+"/metadata", token, body, append([]string{"Content-Type", "application/json"}, header...)...)
	var e api.ErrorBody
	var res api.PublishResult
	if code == http.StatusOK {
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatalf("servertest: publish response %q: %v", raw, err)
		}
	} else if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("servertest: error response %d %q is not JSON: %v", code, raw, err)
	}
	return code, e, res
}

// Sign returns doc signed by signers, encoded.
func Sign[T metadata.Role](t testing.TB, doc T, signers ...keys.Signer) []byte {
	t.Helper()
	md := metadata.New(doc)
	for _, s := range signers {
		_, err := md.Sign(context.Background(), s)
		must(t, err)
	}
	b, err := md.Encode()
	must(t, err)
	return b
}
