package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/postgres"
)

// listedToken is one entry of GET /api/v1/tokens.
type listedToken struct {
	ID          string    `json:"id"`
	GUNPrefix   string    `json:"gun_prefix"`
	Scope       string    `json:"scope"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// createToken makes a token through the API and returns it and its ID.
func createToken(t *testing.T, base, admin, prefix, scope, desc string) (tok, id string) {
	t.Helper()
	code, b, _ := request(t, "POST", base+"/api/v1/tokens", admin,
		strings.NewReader(fmt.Sprintf(`{"gun_prefix":%q,"scope":%q,"description":%q}`, prefix, scope, desc)), "Content-Type", "application/json")
	var out struct{ Token, ID string }
	if code != 201 || json.Unmarshal(b, &out) != nil || out.Token == "" {
		t.Fatalf("create token: %d %s", code, b)
	}
	if out.ID != store.TokenID(auth.Hash(out.Token)) {
		t.Fatalf("create token: the reply's ID %q is not the token's (%s)", out.ID, store.TokenID(auth.Hash(out.Token)))
	}
	return out.Token, out.ID
}

// listTokens returns what GET /api/v1/tokens lists for token.
func listTokens(t *testing.T, base, token string) map[string]listedToken {
	t.Helper()
	code, b, _ := request(t, "GET", base+"/api/v1/tokens", token, nil)
	var out struct{ Tokens []listedToken }
	if code != 200 || json.Unmarshal(b, &out) != nil || out.Tokens == nil {
		t.Fatalf("list tokens: %d %s", code, b)
	}
	m := map[string]listedToken{}
	for _, tok := range out.Tokens {
		m[tok.ID] = tok
	}
	if strings.Contains(string(b), `"hash"`) {
		t.Errorf("the listing carries hashes: %s", b)
	}
	return m
}

// revoke sends DELETE /api/v1/tokens/id and returns the status and the
// error body, if any.
func revoke(t *testing.T, base, token, id string) (int, apiError) {
	t.Helper()
	code, b, _ := request(t, "DELETE", base+"/api/v1/tokens/"+id, token, nil)
	var e apiError
	if code != 200 {
		if err := json.Unmarshal(b, &e); err != nil || e.Error == "" || e.Check == "" {
			t.Errorf("DELETE %s: error body %d %s", id, code, b)
		}
	}
	return code, e
}

func idOf(token string) string { return store.TokenID(auth.Hash(token)) }

// TestTokenRevocation lists and revokes a push token on both stores: the
// listing shows it until it is revoked, and its very next write after the
// revocation gets 401.
func TestTokenRevocation(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind))
		start := time.Now().Add(-time.Minute)
		push, pushID := createToken(t, ts.URL, ts.Admin, "example.com/acme", "push", "CI for acme")
		pull, pullID := createToken(t, ts.URL, ts.Admin, "example.com/acme/", "pull", "")

		list := listTokens(t, ts.URL, ts.Admin)
		if len(list) != 3 {
			t.Errorf("listing = %+v, want the admin, push and pull tokens", list)
		}
		got := list[pushID]
		if got.GUNPrefix != "example.com/acme" || got.Scope != "push" || got.Description != "CI for acme" || got.CreatedAt.Before(start) {
			t.Errorf("listed push token = %+v", got)
		}
		if _, ok := list[idOf(ts.Admin)]; !ok {
			t.Errorf("the admin token is not listed: %+v", list)
		}

		m := newMaintainer(t, ts, "example.com/acme/app")
		m.Token = push
		m.MustPublish(map[string][]byte{"root": servertest.Sign(t, m.RootDoc(1), m.Root), "targets": servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})

		code, b, _ := request(t, "DELETE", ts.URL+"/api/v1/tokens/"+pushID, ts.Admin, nil)
		var revoked listedToken
		if code != 200 || json.Unmarshal(b, &revoked) != nil || revoked.ID != pushID || revoked.Scope != "push" || revoked.GUNPrefix != "example.com/acme" {
			t.Fatalf("revoke: %d %s", code, b)
		}
		// The very next write with it fails, whatever the write.
		if code, e, _ := m.Publish(map[string][]byte{"targets": servertest.Sign(t, m.TargetsDoc(2, nil), m.Targets)}); code != 401 || e.Check != "auth" {
			t.Errorf("publish with a revoked token: %d %+v", code, e)
		}
		code, b, h := request(t, "PUT", ts.URL+"/api/v1/repositories/"+m.GUN+"/targets/a.txt", push, strings.NewReader("a"), "X-Rampart-Sha256", sha256hex("a"))
		if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("upload with a revoked token: %d %s", code, b)
		}
		// Other tokens are untouched.
		if code, b, _ := request(t, "GET", ts.URL+"/api/v1/repositories/"+m.GUN+"/changefeed", pull, nil); code != 200 {
			t.Errorf("the pull token after revoking the push token: %d %s", code, b)
		}

		list = listTokens(t, ts.URL, ts.Admin)
		if _, ok := list[pushID]; ok || len(list) != 2 {
			t.Errorf("listing after the revocation = %+v", list)
		}
		if code, e := revoke(t, ts.URL, ts.Admin, pushID); code != 404 || e.Check != "not-found" || !strings.Contains(e.Error, pushID) {
			t.Errorf("revoking twice: %d %+v", code, e)
		}
		if code, e := revoke(t, ts.URL, ts.Admin, "0123456789abcdef"); code != 404 || e.Check != "not-found" {
			t.Errorf("revoking an unknown ID: %d %+v", code, e)
		}
		for _, bad := range []string{pullID[:8], strings.ToUpper(pullID), auth.Hash(pull), "zzzzzzzzzzzzzzzz"} {
			if code, e := revoke(t, ts.URL, ts.Admin, bad); code != 400 || e.Check != "request" {
				t.Errorf("revoking malformed ID %q: %d %+v", bad, code, e)
			}
		}
		if _, ok := listTokens(t, ts.URL, ts.Admin)[pullID]; !ok {
			t.Error("a malformed ID revoked a token")
		}

		// An admin token may revoke itself; it stops working at once.
		second, secondID := createToken(t, ts.URL, ts.Admin, "", "admin", "second admin")
		if code, e := revoke(t, ts.URL, second, secondID); code != 200 {
			t.Fatalf("self-revocation: %d %+v", code, e)
		}
		if code, _, _ := request(t, "GET", ts.URL+"/api/v1/tokens", second, nil); code != 401 {
			t.Errorf("a self-revoked token lists tokens: %d", code)
		}
	})
}

// TestTokenAuth checks who may list and revoke: admin tokens only, and a
// prefixed admin token sees and revokes only the tokens within its prefix.
func TestTokenAuth(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	acmeAdmin, acmeAdminID := createToken(t, ts.URL, ts.Admin, "example.com/acme", "admin", "acme admin")
	_, appID := createToken(t, ts.URL, ts.Admin, "example.com/acme/app", "push", "")
	_, belowID := createToken(t, ts.URL, ts.Admin, "example.com/acme/", "pull", "")
	allPull, allPullID := createToken(t, ts.URL, ts.Admin, "", "pull", "mirror")
	corp, corpID := createToken(t, ts.URL, ts.Admin, "example.com/acmecorp", "push", "")
	_, orgID := createToken(t, ts.URL, ts.Admin, "example.org", "admin", "")
	acmePush, _ := createToken(t, ts.URL, ts.Admin, "example.com/acme", "push", "")

	if got := listTokens(t, ts.URL, ts.Admin); len(got) != 8 {
		t.Errorf("the global admin lists %d tokens, want all 8: %+v", len(got), got)
	}
	got := listTokens(t, ts.URL, acmeAdmin)
	for _, id := range []string{acmeAdminID, appID, belowID, idOf(acmePush)} {
		if _, ok := got[id]; !ok {
			t.Errorf("the acme admin does not see token %s within its prefix", id)
		}
	}
	for _, id := range []string{idOf(ts.Admin), allPullID, corpID, orgID} {
		if tok, ok := got[id]; ok {
			t.Errorf("the acme admin sees token %+v outside its prefix", tok)
		}
	}
	if len(got) != 4 {
		t.Errorf("the acme admin lists %+v", got)
	}

	for _, tc := range []struct {
		name, token, id string
		want            int
		check           string
	}{
		{"list without a token", "", "", 401, "auth"},
		{"list with a push token", acmePush, "", 403, "scope"},
		{"list with a pull token", allPull, "", 403, "scope"},
		{"revoke without a token", "", appID, 401, "auth"},
		{"revoke with a garbage token", "rpt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", appID, 401, "auth"},
		{"revoke with a push token", acmePush, appID, 403, "scope"},
		{"revoke a token for all GUNs from a prefixed admin", acmeAdmin, allPullID, 403, "scope"},
		{"revoke a token for acmecorp from the acme admin", acmeAdmin, corpID, 403, "scope"},
		{"revoke a token for another domain from the acme admin", acmeAdmin, orgID, 403, "scope"},
		{"revoke the global admin from the acme admin", acmeAdmin, idOf(ts.Admin), 403, "scope"},
		{"revoke within the prefix", acmeAdmin, appID, 200, ""},
		{"revoke below the prefix", acmeAdmin, belowID, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, path := "DELETE", "/api/v1/tokens/"+tc.id
			if tc.id == "" {
				method, path = "GET", "/api/v1/tokens"
			}
			code, b, _ := request(t, method, ts.URL+path, tc.token, nil)
			var e apiError
			json.Unmarshal(b, &e)
			if code != tc.want || e.Check != tc.check {
				t.Errorf("%d %s, want %d %q", code, b, tc.want, tc.check)
			}
		})
	}
	// Refused revocations changed nothing.
	if code, b, _ := request(t, "POST", ts.URL+"/api/v1/repositories/example.com/acmecorp/x", corp, nil); code/100 != 2 {
		t.Errorf("the acmecorp token after a refused revocation: %d %s", code, b)
	}
	left := listTokens(t, ts.URL, ts.Admin)
	for _, id := range []string{allPullID, corpID, orgID, idOf(ts.Admin)} {
		if _, ok := left[id]; !ok {
			t.Errorf("token %s is gone after a refused revocation", id)
		}
	}
	if _, ok := left[appID]; ok || len(left) != 6 {
		t.Errorf("after the revocations: %+v", left)
	}
}

// TestAdminTokenFileNotRevocable stores the admin token as rampart serve
// does from DATA/admin.token: the API refuses to revoke it, saying how to
// replace it, and refuses to make another token that would look like it.
func TestAdminTokenFileNotRevocable(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	tok, hash := auth.NewToken()
	const path = "/var/lib/rampart/admin.token"
	if err := ts.Store.CreateToken(context.Background(), store.Token{Hash: hash, Scope: "admin", Description: server.AdminTokenDescription(path)}); err != nil {
		t.Fatal(err)
	}
	id := store.TokenID(hash)
	for _, by := range []string{ts.Admin, tok} {
		code, e := revoke(t, ts.URL, by, id)
		if code != 403 || e.Check != "admin-token" || !strings.Contains(e.Error, "delete "+path) || !strings.Contains(e.Error, "rampart token revoke "+id) {
			t.Errorf("revoking the admin.token token: %d %+v", code, e)
		}
	}
	if _, ok := listTokens(t, ts.URL, tok)[id]; !ok {
		t.Error("the admin.token token is not listed after the refused revocation")
	}
	code, b, _ := request(t, "POST", ts.URL+"/api/v1/tokens", ts.Admin,
		strings.NewReader(fmt.Sprintf(`{"gun_prefix":"","scope":"admin","description":%q}`, server.AdminTokenDescription("/tmp/admin.token"))), "Content-Type", "application/json")
	if code != 400 || !strings.Contains(string(b), "reserved") {
		t.Errorf("creating a token that looks like the admin.token one: %d %s", code, b)
	}
	// The same description on a narrower token marks nothing.
	_, narrowID := createToken(t, ts.URL, ts.Admin, "example.com/acme", "admin", server.AdminTokenDescription(path))
	if code, e := revoke(t, ts.URL, ts.Admin, narrowID); code != 200 {
		t.Errorf("revoking a prefixed token described like the admin.token one: %d %+v", code, e)
	}

	for _, tc := range []struct {
		tok  store.Token
		want bool
	}{
		{store.Token{Scope: "admin", Description: "admin token from data/admin.token"}, true},
		{store.Token{Scope: "admin", Description: "admin token from admin.token"}, true},
		{store.Token{Scope: "admin", Description: "admin token from /x/other.token"}, false},
		{store.Token{Scope: "admin", Description: "the admin token from /x/admin.token"}, false},
		{store.Token{Scope: "push", Description: "admin token from /x/admin.token"}, false},
		{store.Token{Scope: "admin", GUNPrefix: "a.com", Description: "admin token from /x/admin.token"}, false},
	} {
		if _, got := server.AdminFileToken(tc.tok); got != tc.want {
			t.Errorf("AdminFileToken(%+v) = %v, want %v", tc.tok, got, tc.want)
		}
	}
}

// TestTokenRevocationReplicas revokes a token through one of two servers
// sharing a database: the other refuses it on its very next request.
func TestTokenRevocationReplicas(t *testing.T) {
	url := pg.NewDatabase(t)
	open := func() *testServer {
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return newServer(t, st, func(c *server.Config) { c.CacheTTL = time.Hour })
	}
	a, b := open(), open()
	push, pushID := createToken(t, a.URL, a.Admin, "example.com/acme", "push", "")
	keyPath := "/api/v1/repositories/example.com/acme/app" // creating it needs push scope
	if code, body, _ := request(t, "POST", b.URL+keyPath, push, nil); code/100 != 2 {
		t.Fatalf("the token on the other replica: %d %s", code, body)
	}
	if _, ok := listTokens(t, b.URL, b.Admin)[pushID]; !ok {
		t.Fatal("the other replica does not list the token")
	}
	if code, e := revoke(t, a.URL, a.Admin, pushID); code != 200 {
		t.Fatalf("revoke: %d %+v", code, e)
	}
	if code, body, _ := request(t, "POST", b.URL+keyPath, push, nil); code != 401 {
		t.Errorf("the revoked token on the other replica: %d %s", code, body)
	}
	if _, ok := listTokens(t, b.URL, b.Admin)[pushID]; ok {
		t.Error("the other replica still lists the revoked token")
	}
}
