package notaryapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// maintainer builds a Notary repository in Go, as the notary client would.
type maintainer struct {
	t                  *testing.T
	s                  *testServer
	gun, token         string
	root, targets, snp notary.SigningKey
	ts                 notary.Key // the server's timestamp key
	expires            time.Time
}

func signingKey(t *testing.T, kind string) notary.SigningKey {
	t.Helper()
	priv, err := keys.Generate(kind)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := notary.NewSigningKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// rootKey is an ECDSA key listed as a certificate for the GUN, as notary
// makes root keys.
func rootKey(t *testing.T, gun string) notary.SigningKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: gun},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	k, err := notary.NewCertKey(cert)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSigner(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return notary.SigningKey{Key: k, Signer: s}
}

func newMaintainer(t *testing.T, s *testServer, gun string) *maintainer {
	m := &maintainer{t: t, s: s, gun: gun, token: s.token(t, "admin", gun),
		root: rootKey(t, gun), targets: signingKey(t, "ecdsa"), snp: signingKey(t, "ecdsa"),
		expires: time.Now().Add(time.Hour)}
	code, body, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+m.token, "", nil)
	if code != 200 {
		t.Fatalf("GET timestamp.key: %d %s", code, body)
	}
	m.ts = parseKey(t, body)
	return m
}

func parseKey(t *testing.T, body []byte) notary.Key {
	t.Helper()
	var k struct {
		KeyType string `json:"keytype"`
		KeyVal  struct {
			Public  string  `json:"public"`
			Private *string `json:"private"`
		} `json:"keyval"`
	}
	if err := json.Unmarshal(body, &k); err != nil || k.KeyVal.Private != nil {
		t.Fatalf("key %s: %v", body, err)
	}
	pub, err := base64.StdEncoding.DecodeString(k.KeyVal.Public)
	if err != nil {
		t.Fatal(err)
	}
	return notary.Key{Type: k.KeyType, Public: pub}
}

func (m *maintainer) sign(signed []byte, err error, ks ...notary.SigningKey) []byte {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
	doc, err := notary.Sign(context.Background(), signed, ks...)
	if err != nil {
		m.t.Fatal(err)
	}
	return doc
}

func (m *maintainer) rootDoc(version int64, snapshot notary.Key, ks ...notary.SigningKey) []byte {
	r := &notary.Root{Keys: map[string]notary.Key{}, Roles: map[string]notary.RoleKeys{}}
	for role, k := range map[string]notary.Key{"root": m.root.Key, "targets": m.targets.Key, "snapshot": snapshot, "timestamp": m.ts} {
		r.Keys[k.ID()] = k
		r.Roles[role] = notary.RoleKeys{KeyIDs: []string{k.ID()}, Threshold: 1}
	}
	signed, err := r.Marshal(version, m.expires)
	if len(ks) == 0 {
		ks = []notary.SigningKey{m.root}
	}
	return m.sign(signed, err, ks...)
}

func (m *maintainer) targetsDoc(version int64, names []string, dels []notary.Delegation, delKeys []notary.Key, k notary.SigningKey) []byte {
	t := &notary.Targets{Targets: map[string]notary.FileMeta{}, Delegations: notary.Delegations{Keys: map[string]notary.Key{}, Roles: dels}}
	for _, n := range names {
		t.Targets[n] = notary.NewFileMeta([]byte("content of " + n))
	}
	for _, dk := range delKeys {
		t.Delegations.Keys[dk.ID()] = dk
	}
	signed, err := t.Marshal(version, m.expires)
	return m.sign(signed, err, k)
}

func (m *maintainer) snapshotDoc(version int64, files map[string][]byte) []byte {
	sn := &notary.Snapshot{Meta: map[string]notary.FileMeta{}}
	for role, data := range files {
		sn.Meta[role] = notary.NewFileMeta(data)
	}
	signed, err := sn.Marshal(version, m.expires)
	return m.sign(signed, err, m.snp)
}

// post uploads parts (role → document) as the notary client does.
func (m *maintainer) post(parts map[string][]byte) (int, []byte) {
	m.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for role, data := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+role+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write(data)
	}
	mw.Close()
	code, body, _ := m.s.do(m.t, "POST", "/v2/"+m.gun+"/_trust/tuf/", "Bearer "+m.token, mw.FormDataContentType(), buf.Bytes())
	return code, body
}

func (m *maintainer) get(file string) (int, []byte) {
	m.t.Helper()
	code, body, _ := m.s.do(m.t, "GET", "/v2/"+m.gun+"/_trust/tuf/"+file, "", "", nil)
	return code, body
}

// errcode is the error body of notary-server.
type errcode struct {
	Errors []struct {
		Code   string          `json:"code"`
		Detail json.RawMessage `json:"detail"`
	} `json:"errors"`
}

func checkError(t *testing.T, what string, code int, body []byte, wantStatus int, wantCode, wantName string) {
	t.Helper()
	var e errcode
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 {
		t.Errorf("%s: body %s is not one errcode error", what, body)
		return
	}
	if code != wantStatus || e.Errors[0].Code != wantCode {
		t.Errorf("%s: %d %s, want %d %s", what, code, body, wantStatus, wantCode)
	}
	if wantName != "" {
		var d struct {
			Name  string
			Error struct{ Msg string }
		}
		if json.Unmarshal(e.Errors[0].Detail, &d) != nil || d.Name != wantName || d.Error.Msg == "" {
			t.Errorf("%s: detail %s, want Name %s with a message", what, e.Errors[0].Detail, wantName)
		}
	}
}

// TestPublish publishes a repository built in Go and checks what the server
// refuses, with notary-server's error codes and details, each refusal
// leaving the repository as it was.
func TestPublish(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { testPublish(t, kind) })
	}
}

func testPublish(t *testing.T, kind string) {
	s := startServer(t, kind)
	m := newMaintainer(t, s, "example.com/api/app")
	root1 := m.rootDoc(1, m.snp.Key)
	del := signingKey(t, "ed25519")
	releases := notary.Delegation{Name: "targets/releases", RoleKeys: notary.RoleKeys{KeyIDs: []string{del.Key.ID()}, Threshold: 1}, Paths: []string{"releases/"}}
	targets1 := m.targetsDoc(1, []string{"a"}, []notary.Delegation{releases}, []notary.Key{del.Key}, m.targets)

	if code, body := m.post(map[string][]byte{"targets": targets1}); code == 200 {
		t.Fatal("a new repository without a root was accepted")
	} else {
		checkError(t, "no root", code, body, 400, "INVALID_UPDATE", "ErrValidation")
	}
	code, body := m.post(map[string][]byte{"root": root1, "targets": targets1, "snapshot": m.snapshotDoc(1, map[string][]byte{"root": root1, "targets": targets1})})
	if code != 200 {
		t.Fatalf("first publish: %d %s", code, body)
	}
	_, ts1 := m.get("timestamp.json")

	rel1 := m.targetsDoc(1, []string{"releases/1.0"}, nil, nil, del)
	for _, tc := range []struct {
		name         string
		parts        map[string][]byte
		status       int
		code, detail string
	}{
		{"targets signed by another key", map[string][]byte{"targets": m.targetsDoc(2, nil, nil, nil, m.snp)}, 400, "INVALID_UPDATE", "ErrBadTargets"},
		{"targets version not newer", map[string][]byte{"targets": m.targetsDoc(1, []string{"b"}, []notary.Delegation{releases}, []notary.Key{del.Key}, m.targets)}, 400, "VERSION", ""},
		{"root two versions ahead", map[string][]byte{"root": m.rootDoc(3, m.snp.Key)}, 400, "VERSION", ""},
		{"root not signed by the current root key", map[string][]byte{"root": m.rootDoc(2, m.snp.Key, rootKey(t, m.gun))}, 400, "INVALID_UPDATE", "ErrBadRoot"},
		{"root without the server's timestamp key", func() map[string][]byte {
			saved := m.ts
			m.ts = signingKey(t, "ed25519").Key
			defer func() { m.ts = saved }()
			return map[string][]byte{"root": m.rootDoc(2, m.snp.Key)}
		}(), 400, "INVALID_UPDATE", "ErrBadRoot"},
		{"no snapshot and no server snapshot key", map[string][]byte{"targets": m.targetsDoc(2, []string{"b"}, []notary.Delegation{releases}, []notary.Key{del.Key}, m.targets)}, 400, "INVALID_UPDATE", "ErrBadHierarchy"},
		{"snapshot with the wrong hash", map[string][]byte{"targets/releases": rel1, "snapshot": m.snapshotDoc(2, map[string][]byte{"root": root1, "targets": targets1, "targets/releases": []byte("other")})}, 400, "INVALID_UPDATE", "ErrBadSnapshot"},
		{"snapshot missing the uploaded role", map[string][]byte{"targets/releases": rel1, "snapshot": m.snapshotDoc(2, map[string][]byte{"root": root1, "targets": targets1})}, 400, "INVALID_UPDATE", "ErrBadSnapshot"},
		{"delegated target outside the paths", map[string][]byte{"targets/releases": m.targetsDoc(1, []string{"other/x"}, nil, nil, del)}, 400, "INVALID_UPDATE", "ErrBadTargets"},
		{"undelegated role", map[string][]byte{"targets/nightly": m.targetsDoc(1, nil, nil, nil, del)}, 400, "INVALID_UPDATE", "ErrBadTargets"},
		{"timestamp uploaded", map[string][]byte{"timestamp": ts1}, 400, "INVALID_ROLE", ""},
		{"invalid role name", map[string][]byte{"targets/../root": rel1}, 400, "INVALID_ROLE", ""},
		{"not JSON", map[string][]byte{"targets": []byte(`{"signed":`)}, 400, "MALFORMED_JSON", ""},
		{"not a targets document", map[string][]byte{"targets": ts1}, 400, "INVALID_UPDATE", "ErrBadTargets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := m.post(tc.parts)
			checkError(t, tc.name, code, body, tc.status, tc.code, tc.detail)
			if _, ts := m.get("timestamp.json"); !bytes.Equal(ts, ts1) {
				t.Errorf("the refused publish changed timestamp.json")
			}
		})
	}
	if code, body, _ := s.do(t, "POST", "/v2/"+m.gun+"/_trust/tuf/", "Bearer "+m.token, "application/json", []byte("{}")); code != 400 {
		t.Errorf("JSON body: %d %s", code, body)
	} else {
		checkError(t, "JSON body", code, body, 400, "MALFORMED_UPLOAD", "")
	}

	// A delegated publish, and a custom value signed as the notary client
	// signs it: unsorted, with <, > and & escaped. notary-server refuses
	// that; Rampart checks the bytes as they are.
	tgt := &notary.Targets{Targets: map[string]notary.FileMeta{"a": notary.NewFileMeta([]byte("content of a"))},
		Delegations: notary.Delegations{Keys: map[string]notary.Key{del.Key.ID(): del.Key}, Roles: []notary.Delegation{releases}}}
	fm := tgt.Targets["a"]
	fm.Custom = []byte(`{"note":"x"}`)
	tgt.Targets["a"] = fm
	signed, err := tgt.Marshal(2, m.expires)
	if err != nil {
		t.Fatal(err)
	}
	signed = bytes.Replace(signed, []byte(`{"note":"x"}`), []byte(`{"z":1,"note":"\u003cb\u003e \u0026"}`), 1)
	targets2 := m.sign(signed, nil, m.targets)
	snap2 := m.snapshotDoc(2, map[string][]byte{"root": root1, "targets": targets2, "targets/releases": rel1})
	if code, body := m.post(map[string][]byte{"targets": targets2, "targets/releases": rel1, "snapshot": snap2}); code != 200 {
		t.Fatalf("publish with a delegation and a custom value: %d %s", code, body)
	}

	// Reads: current, by hash, by version; the chain verifies.
	_, r := m.get("root.json")
	root, err := notary.ParseAs(r, notary.TypeRoot)
	if err != nil {
		t.Fatal(err)
	}
	_, tsb := m.get("timestamp.json")
	ts, err := notary.ParseAs(tsb, notary.TypeTimestamp)
	if err != nil || ts.Verify(root.Root.Keys, root.Root.Roles["timestamp"]) != nil || ts.Version != 2 {
		t.Fatalf("timestamp %s: %v", tsb, err)
	}
	snapSum := base64ToHex(t, ts.Timestamp.Meta["snapshot"].Hashes["sha256"])
	if code, b := m.get("snapshot." + snapSum + ".json"); code != 200 || !bytes.Equal(b, snap2) {
		t.Errorf("snapshot by hash: %d", code)
	}
	for file, want := range map[string][]byte{"targets.json": targets2, "1.targets.json": targets1, "targets/releases.json": rel1, "1.root.json": root1, "snapshot.json": snap2} {
		if code, b := m.get(file); code != 200 || !bytes.Equal(b, want) {
			t.Errorf("GET %s: %d, not the document published", file, code)
		}
	}
	t1sum := sha256hex(targets1)
	if code, b := m.get("targets." + t1sum + ".json"); code != 200 || !bytes.Equal(b, targets1) {
		t.Errorf("earlier targets by hash: %d", code)
	}
	for _, file := range []string{"targets." + strings.Repeat("ab", 64) + ".json", "3.targets.json", "targets/nightly.json", "nope.json", "root"} {
		code, body := m.get(file)
		checkError(t, "GET "+file, code, body, 404, "METADATA_NOT_FOUND", "")
	}
}

// TestAuth checks the challenge, the token realm and the scopes.
func TestAuth(t *testing.T) {
	s := startServer(t, "bolt")
	gun := "example.com/auth/app"
	push, pull, admin := s.token(t, "push", gun), s.token(t, "pull", gun), s.token(t, "admin", gun)
	basic := func(tok string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte("someone:"+tok)) }

	code, body, h := s.do(t, "GET", "/v2/", "", "", nil)
	if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), `Bearer realm="`+s.URL+`/v2/token"`) {
		t.Errorf("GET /v2/ without credentials: %d %q", code, h.Get("WWW-Authenticate"))
	}
	checkError(t, "GET /v2/", code, body, 401, "UNAUTHORIZED", "")
	for _, a := range []string{"Bearer " + pull, basic(pull)} {
		if code, body, _ := s.do(t, "GET", "/v2/", a, "", nil); code != 200 || string(body) != "{}" {
			t.Errorf("GET /v2/ with %s: %d %s", strings.Fields(a)[0], code, body)
		}
	}
	if code, _, _ := s.do(t, "GET", "/v2/", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:rpt_"+strings.Repeat("A", 43))), "", nil); code != 401 {
		t.Errorf("unknown token: %d", code)
	}

	// The realm: the Rampart token of the Basic password, or an anonymous one.
	for _, tc := range []struct{ authz, want string }{{basic(push), push}, {"", "anonymous"}} {
		code, body, _ := s.do(t, "GET", "/v2/token?service=rampart&scope=repository:"+gun+":pull,push", tc.authz, "", nil)
		var tok struct{ Token string }
		if code != 200 || json.Unmarshal(body, &tok) != nil || tok.Token != tc.want {
			t.Errorf("token realm with %q: %d %s", tc.authz, code, body)
		}
	}
	if code, _, _ := s.do(t, "GET", "/v2/token", basic("not-a-token"), "", nil); code != 401 {
		t.Errorf("token realm with a bad password: %d", code)
	}

	// Scopes: creating a key needs push, rotating and deleting need admin.
	for _, tc := range []struct {
		method, path, tok string
		status            int
	}{
		{"GET", "timestamp.key", pull, 403},
		{"GET", "timestamp.key", "anonymous", 401},
		{"GET", "timestamp.key", push, 200},
		{"POST", "timestamp.key", push, 403},
		{"POST", "snapshot.key", admin, 200},
		{"GET", "targets.key", push, 400},
		{"DELETE", "", push, 403},
		{"POST", "", pull, 403},
	} {
		code, body, _ := s.do(t, tc.method, "/v2/"+gun+"/_trust/tuf/"+tc.path, "Bearer "+tc.tok, "", nil)
		if code != tc.status {
			t.Errorf("%s %s with a %s token: %d %s, want %d", tc.method, tc.path, tc.tok[:min(4, len(tc.tok))], code, body, tc.status)
		}
	}
	other := s.token(t, "admin", "example.com/other")
	if code, _, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+other, "", nil); code != 403 {
		t.Errorf("a token for another prefix created a key: %d", code)
	}
	// A deleted repository is created again only with admin scope, with
	// new keys; publishing to a GUN never created is a 404.
	if code, body, _ := s.do(t, "DELETE", "/v2/"+gun+"/_trust/tuf/", "Bearer "+admin, "", nil); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+push, "", nil); code != 403 {
		t.Errorf("re-creating a deleted repository with push scope: %d", code)
	}
	if code, body, _ := s.do(t, "POST", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+admin, "", nil); code != 404 {
		t.Errorf("rotating a key of a deleted repository: %d %s", code, body)
	}
	never := "example.com/auth/never"
	if code, body, _ := s.do(t, "POST", "/v2/"+never+"/_trust/tuf/", "Bearer "+s.token(t, "push", never), "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"targets\"\r\n\r\n{}\r\n--x--\r\n")); code != 404 {
		t.Errorf("publishing to a GUN never created: %d %s", code, body)
	} else {
		checkError(t, "publish to a GUN never created", code, body, 404, "METADATA_NOT_FOUND", "")
	}
	code, k0, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+admin, "", nil)
	if code != 200 {
		t.Fatalf("re-creating a deleted repository with admin scope: %d %s", code, k0)
	}
	// GET returns the same key until POST makes a new one.
	_, k1, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+push, "", nil)
	_, k2, _ := s.do(t, "GET", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+push, "", nil)
	_, k3, _ := s.do(t, "POST", "/v2/"+gun+"/_trust/tuf/timestamp.key", "Bearer "+admin, "", nil)
	if parseKey(t, k1).ID() != parseKey(t, k2).ID() || parseKey(t, k3).ID() == parseKey(t, k1).ID() {
		t.Errorf("timestamp keys: GET %s, GET %s, POST %s", k1, k2, k3)
	}
}

// TestChangefeed checks notary-server's changefeed format and parameters.
func TestChangefeed(t *testing.T) {
	s := startServer(t, "bolt")
	m := newMaintainer(t, s, "example.com/feed/app")
	root := m.rootDoc(1, m.snp.Key)
	targets := m.targetsDoc(1, []string{"a"}, nil, nil, m.targets)
	if code, body := m.post(map[string][]byte{"root": root, "targets": targets, "snapshot": m.snapshotDoc(1, map[string][]byte{"root": root, "targets": targets})}); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	if code, body, _ := s.do(t, "DELETE", "/v2/"+m.gun+"/_trust/tuf/", "Bearer "+m.token, "", nil); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	code, body, _ := s.do(t, "GET", "/v2/"+m.gun+"/_trust/changefeed?change_id=0&records=10", "Bearer "+m.token, "", nil)
	var feed struct {
		Count   int
		Records []struct {
			ID, GUN, SHA256, Category string
			Version                   int64
			CreatedAt                 time.Time
		}
	}
	if code != 200 || json.Unmarshal(body, &feed) != nil || feed.Count != 2 || len(feed.Records) != 2 {
		t.Fatalf("changefeed: %d %s", code, body)
	}
	up, del := feed.Records[0], feed.Records[1]
	if up.Category != "update" || up.Version != 1 || up.GUN != m.gun || len(up.SHA256) != 64 || up.ID == "" || up.CreatedAt.IsZero() {
		t.Errorf("update record %+v", up)
	}
	if del.Category != "deletion" || del.Version != 0 {
		t.Errorf("deletion record %+v", del)
	}
	code, body, _ = s.do(t, "GET", "/v2/"+m.gun+"/_trust/changefeed?change_id="+up.ID+"&records=0", "Bearer "+m.token, "", nil)
	if code != 200 || json.Unmarshal(body, &feed) != nil || feed.Count != 1 || feed.Records[0].Category != "deletion" {
		t.Errorf("changefeed after %s: %d %s", up.ID, code, body)
	}
	// Backwards: the changes before change_id (-1: the latest), oldest
	// first, as notary-server pages them.
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"change_id=-1&records=-10", []string{up.ID, del.ID}},
		{"change_id=-1&records=-1", []string{del.ID}},
		{"change_id=" + del.ID + "&records=-5", []string{up.ID}},
		{"change_id=" + up.ID + "&records=-5", nil},
		{"change_id=0&records=-5", nil},
	} {
		code, body, _ = s.do(t, "GET", "/v2/"+m.gun+"/_trust/changefeed?"+c.query, "Bearer "+m.token, "", nil)
		var got []string
		if code == 200 && json.Unmarshal(body, &feed) == nil {
			for _, r := range feed.Records {
				got = append(got, r.ID)
			}
		}
		if code != 200 || feed.Count != len(c.want) || !slices.Equal(got, c.want) {
			t.Errorf("changefeed?%s: %d %s, want records %v", c.query, code, body, c.want)
		}
	}
	for _, q := range []string{"change_id=0", "records=x", "change_id=-2&records=-5"} {
		code, body, _ := s.do(t, "GET", "/v2/"+m.gun+"/_trust/changefeed?"+q, "Bearer "+m.token, "", nil)
		checkError(t, q, code, body, 400, "INVALID_PARAMETERS", "")
	}
	if code, _, _ := s.do(t, "GET", "/v2/_trust/changefeed?records=1", "Bearer "+m.token, "", nil); code != 403 {
		t.Errorf("the whole changefeed with a token for one prefix: %d", code)
	}
}

// TestResign: the server signs a new timestamp, and a new snapshot when it
// holds the key, before they expire, in Notary's dialect.
func TestResign(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	s := startServer(t, "bolt", func(c *server.Config) {
		c.TimestampExpiry, c.SnapshotExpiry, c.ResignInterval = time.Hour, time.Hour, time.Hour
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	m := newMaintainer(t, s, "example.com/resign/app")
	m.expires = time.Now().Add(24 * time.Hour)
	_, kb, _ := s.do(t, "GET", "/v2/"+m.gun+"/_trust/tuf/snapshot.key", "Bearer "+m.token, "", nil)
	root := m.rootDoc(1, parseKey(t, kb))
	targets := m.targetsDoc(1, []string{"a"}, nil, nil, m.targets)
	if code, body := m.post(map[string][]byte{"root": root, "targets": targets}); code != 200 {
		t.Fatalf("publish with the server's snapshot key: %d %s", code, body)
	}
	rootDoc, _ := notary.ParseAs(root, notary.TypeRoot)
	s.Server.Server.ResignExpiring(context.Background()) // nothing expires within a third of an hour
	if _, b := m.get("timestamp.json"); version(t, b) != 1 {
		t.Fatalf("re-signed early")
	}
	clock.Add(int64(50 * time.Minute))
	s.Server.Server.ResignExpiring(context.Background())
	for _, role := range []string{"timestamp", "snapshot"} {
		_, b := m.get(role + ".json")
		d, err := notary.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != 2 || d.Verify(rootDoc.Root.Keys, rootDoc.Root.Roles[role]) != nil || !d.Expires.After(time.Unix(0, clock.Load()).Add(50*time.Minute)) {
			t.Errorf("%s after re-signing: version %d, expires %v", role, d.Version, d.Expires)
		}
	}
}

func version(t *testing.T, b []byte) int64 {
	t.Helper()
	d, err := notary.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d.Version
}

func base64ToHex(t *testing.T, b []byte) string { return hex.EncodeToString(b) }

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestOtherDialect: the TUF 1.0 publish route refuses a Notary repository,
// naming what to use instead.
func TestOtherDialect(t *testing.T) {
	s := startServer(t, "bolt")
	m := newMaintainer(t, s, "example.com/dialect/app")
	root := m.rootDoc(1, m.snp.Key)
	targets := m.targetsDoc(1, []string{"a"}, nil, nil, m.targets)
	if code, body := m.post(map[string][]byte{"root": root, "targets": targets, "snapshot": m.snapshotDoc(1, map[string][]byte{"root": root, "targets": targets})}); code != 200 {
		t.Fatalf("publish: %d %s", code, body)
	}
	code, body, _ := s.do(t, "POST", "/api/v1/repositories/"+m.gun+"/metadata", "Bearer "+m.token, "application/json", []byte(`{"roles":{"targets":{}}}`))
	var e struct{ Error, Check string }
	if code != 409 || json.Unmarshal(body, &e) != nil || e.Check != "dialect" || !strings.Contains(e.Error, "notary import") {
		t.Errorf("TUF 1.0 publish to a Notary repository: %d %s", code, body)
	}
}

// TestOversizedUploadAnswered sends notary publishes far over the
// metadata limit, with a declared length (refused before reading) and
// chunked (refused at the limit), many times: the client must read the
// Notary error every time, never a reset connection.
func TestOversizedUploadAnswered(t *testing.T) {
	s := startServer(t, "bolt", func(c *server.Config) { c.MaxMetadataBytes = 64 << 10 })
	m := newMaintainer(t, s, "example.com/api/big")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("files", "targets")
	w.Write(bytes.Repeat([]byte(" "), 8<<20))
	mw.Close()
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			for range 20 {
				var body io.Reader = bytes.NewReader(buf.Bytes())
				if chunked {
					body = io.MultiReader(body) // hides the length
				}
				code, b, _ := servertest.DoReader(t, s.Client, "POST", s.URL+"/v2/"+m.gun+"/_trust/tuf/", m.token, body,
					"Content-Type", mw.FormDataContentType())
				checkError(t, "oversized upload", code, b, 400, "MALFORMED_UPLOAD", "")
				if !strings.Contains(string(b), "body larger than 65536 bytes") {
					t.Fatalf("the answer %s does not say the limit", b)
				}
			}
		})
	}
}
