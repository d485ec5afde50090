package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/store"
)

// serveUntilStopped runs `rampart serve` with args in the background and
// returns its log and a function that stops it and waits for it to exit.
func serveUntilStopped(t *testing.T, args ...string) (*syncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var errb syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), &bytes.Buffer{}, &errb)
	}()
	stopped := false
	stop := func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("serve: exit code %d\n%s", code, errb.String())
		}
	}
	t.Cleanup(stop)
	return &errb, stop
}

// tokenStatus returns the status of a push-scope request with token.
func tokenStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/repositories/example.com/acme/app", nil) // create: push scope
	req.Header.Set("Authorization", "Bearer "+token)
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

type listedToken struct {
	ID          string    `json:"id"`
	GUNPrefix   string    `json:"gun_prefix"`
	Scope       string    `json:"scope"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// listJSON runs token list --json with args and returns the tokens by ID.
func listJSON(t *testing.T, args ...string) map[string]listedToken {
	t.Helper()
	code, out, errOut := runCLI(t, append([]string{"token", "list", "--json"}, args...)...)
	var list []listedToken
	if code != ExitOK || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("token list --json %q: exit %d, %q %q", args, code, out, errOut)
	}
	m := map[string]listedToken{}
	for _, tok := range list {
		m[tok.ID] = tok
	}
	return m
}

// TestTokenListRevoke lists and revokes tokens through a running `rampart
// serve`: a revoked token is refused on its next request, a prefixed admin
// sees and revokes only tokens within its prefix, and the token in
// DATA/admin.token cannot be revoked through the server.
func TestTokenListRevoke(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	log, _ := serveUntilStopped(t, "--addr", addr, "--data", data)
	base := "http://" + addr
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	adminFile := filepath.Join(data, "admin.token")
	b, err := os.ReadFile(adminFile)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	adminID := store.TokenID(auth.Hash(admin))
	conn := []string{"--server", base, "--token-file", adminFile}
	create := func(args ...string) (string, string) {
		t.Helper()
		code, out, errOut := runCLI(t, append(append([]string{"token", "create"}, conn...), args...)...)
		if code != ExitOK {
			t.Fatalf("token create %q: %s", args, errOut)
		}
		tok := strings.TrimSpace(out)
		return tok, store.TokenID(auth.Hash(tok))
	}
	push, pushID := create("--scope", "push", "--gun-prefix", "example.com/acme", "--description", "CI\tfor acme")
	acmeAdmin, acmeAdminID := create("--scope", "admin", "--gun-prefix", "example.com/acme", "--description", "acme admin")
	mirror, mirrorID := create("--scope", "pull", "--description", "mirror")

	// The table. RAMPART_TOKEN holds the push token, as for the repo
	// commands: --token-file wins over it.
	t.Setenv("RAMPART_TOKEN", push)
	code, out, errOut := runCLI(t, append([]string{"token", "list"}, conn...)...)
	if code != ExitOK {
		t.Fatalf("token list: %s", errOut)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID GUN PREFIX SCOPE CREATED DESCRIPTION" {
		t.Fatalf("token list:\n%s", out)
	}
	absData, _ := filepath.Abs(data)
	for i, want := range [][]string{
		{adminID, "(all)", "admin", "admin token from " + filepath.Join(absData, "admin.token")},
		{pushID, "example.com/acme", "push", "CI for acme"},
		{acmeAdminID, "example.com/acme", "admin", "acme admin"},
		{mirrorID, "(all)", "pull", "mirror"},
	} {
		f := strings.Fields(lines[i+1])
		if len(f) < 5 || f[0] != want[0] || f[1] != want[1] || f[2] != want[2] || strings.Join(f[4:], " ") != want[3] {
			t.Errorf("row %d = %q, want %q", i+1, lines[i+1], want)
		}
		if len(f) >= 4 {
			if c, err := time.Parse(time.RFC3339, f[3]); err != nil || time.Since(c) > time.Hour {
				t.Errorf("row %d: created %q", i+1, f[3])
			}
		}
	}
	if strings.Contains(out, auth.Hash(push)) || strings.Contains(out, push) {
		t.Error("the listing shows a token or its hash")
	}

	// JSON, and what a prefixed admin sees.
	all := listJSON(t, conn...)
	if len(all) != 4 || all[pushID].Description != "CI\tfor acme" || all[pushID].CreatedAt.IsZero() {
		t.Errorf("token list --json = %+v", all)
	}
	acme := listJSON(t, "--server", base, "--token", acmeAdmin)
	if _, ok := acme[pushID]; !ok || len(acme) != 2 {
		t.Errorf("the acme admin lists %+v, want itself and the push token", acme)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", mirrorID, "--server", base, "--token", acmeAdmin); code != ExitFailure || !strings.Contains(errOut, "403") {
		t.Errorf("the acme admin revokes a token for all GUNs: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "token", "list", "--server", base, "--token", push); code != ExitFailure || !strings.Contains(errOut, "403") {
		t.Errorf("a push token lists tokens: exit %d, %q", code, errOut)
	}

	// Revocation takes effect on the next request.
	if got := tokenStatus(t, base, push); got != 200 {
		t.Fatalf("the push token before revocation: %d", got)
	}
	code, out, errOut = runCLI(t, "token", "revoke", pushID, "--server", base, "--token", acmeAdmin)
	if code != ExitOK || out != "revoked token "+pushID+" (push on example.com/acme: CI for acme)\n" {
		t.Fatalf("token revoke: exit %d, %q %q", code, out, errOut)
	}
	if got := tokenStatus(t, base, push); got != 401 {
		t.Errorf("the revoked push token: %d, want 401", got)
	}
	if _, ok := listJSON(t, conn...)[pushID]; ok {
		t.Error("the revoked token is still listed")
	}
	if code, _, errOut := runCLI(t, append([]string{"token", "revoke", pushID}, conn...)...); code != ExitFailure || !strings.Contains(errOut, "404") {
		t.Errorf("revoking twice: exit %d, %q", code, errOut)
	}

	// The token itself names it; upper-case IDs are fine.
	if code, out, errOut := runCLI(t, append([]string{"token", "revoke", mirror}, conn...)...); code != ExitOK || !strings.Contains(out, mirrorID) {
		t.Errorf("token revoke TOKEN: exit %d, %q %q", code, out, errOut)
	}
	if got := tokenStatus(t, base, mirror); got != 401 {
		t.Errorf("the token revoked by itself: %d, want 401", got)
	}
	if code, _, errOut := runCLI(t, append([]string{"token", "revoke", strings.ToUpper(acmeAdminID)}, conn...)...); code != ExitOK {
		t.Errorf("token revoke with an upper-case ID: %q", errOut)
	}

	// The admin.token token is refused, with what to do instead.
	code, _, errOut = runCLI(t, append([]string{"token", "revoke", adminID}, conn...)...)
	if code != ExitFailure || !strings.Contains(errOut, "admin-token") || !strings.Contains(errOut, "delete "+filepath.Join(absData, "admin.token")) {
		t.Errorf("revoking the admin.token token through the server: exit %d, %q", code, errOut)
	}
	if got := tokenStatus(t, base, admin); got != 200 {
		t.Errorf("the admin token after the refused revocation: %d", got)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"malformed ID", append([]string{"token", "revoke", "xyz"}, conn...), "neither a token ID"},
		{"no ID", append([]string{"token", "revoke"}, conn...), "missing ID"},
		{"nowhere to list", []string{"token", "list"}, "give --server, or --data (or --store) to read the store directly"},
		{"nowhere to revoke", []string{"token", "revoke", adminID}, "give --server, or --data (or --store)"},
		{"bad server URL", []string{"token", "list", "--server", "ftp://x"}, "is not an http:// or https:// URL"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != ExitFailure || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "--help") {
			t.Errorf("%s: exit %d, %q; want a usage error with %q", tc.name, code, errOut, tc.want)
		}
	}
}

// TestTokenRevokeAdminFile replaces a leaked admin token the documented
// way: the store refuses to drop it while DATA/admin.token holds it; once
// the file is deleted, `token revoke --data` drops it, and the next
// `rampart serve` writes a new admin token, the old one staying dead.
func TestTokenRevokeAdminFile(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	adminFile := filepath.Join(data, "admin.token")
	addr := freeAddr(t)
	base := "http://" + addr
	log, stop := serveUntilStopped(t, "--addr", addr, "--data", data)
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	b, _ := os.ReadFile(adminFile)
	old := strings.TrimSpace(string(b))
	oldID := store.TokenID(auth.Hash(old))
	if !strings.Contains(log.String(), oldID) {
		t.Errorf("the server does not log the admin token's ID %s:\n%s", oldID, log.String())
	}
	code, out, errOut := runCLI(t, "token", "create", "--server", base, "--token", old, "--scope", "push", "--gun-prefix", "example.com/acme")
	if code != ExitOK {
		t.Fatal(errOut)
	}
	push := strings.TrimSpace(out)
	stop()

	// Directly in the store, with the server stopped.
	listed := listJSON(t, "--data", data)
	if len(listed) != 2 || listed[oldID].Scope != "admin" {
		t.Fatalf("token list --data = %+v", listed)
	}
	code, _, errOut = runCLI(t, "token", "revoke", oldID, "--data", data)
	if code != ExitFailure || !strings.Contains(errOut, "delete "+adminFile+" first") {
		t.Errorf("revoking the admin token while admin.token holds it: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "token", "revoke", "0123456789abcdef", "--data", data); code != ExitFailure || !strings.Contains(errOut, "no token with ID 0123456789abcdef") {
		t.Errorf("revoking an unknown ID in the store: exit %d, %q", code, errOut)
	}
	if err := os.Remove(adminFile); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "token", "revoke", oldID, "--data", data)
	if code != ExitOK || !strings.Contains(out, "revoked token "+oldID+" (admin on all GUNs: admin token from ") || !strings.Contains(errOut, "writes a new one") {
		t.Fatalf("revoking the admin token after deleting admin.token: exit %d, %q %q", code, out, errOut)
	}
	if _, ok := listJSON(t, "--data", data)[oldID]; ok {
		t.Fatal("the revoked admin token is still in the store")
	}

	// The next start writes a new admin token; the old one stays revoked,
	// the push token keeps working.
	log, _ = serveUntilStopped(t, "--addr", addr, "--data", data)
	waitFor(t, http.DefaultClient, base+"/healthz", log).Body.Close()
	b, err := os.ReadFile(adminFile)
	if err != nil {
		t.Fatal(err)
	}
	fresh := strings.TrimSpace(string(b))
	if fresh == old {
		t.Fatal("the server wrote the old admin token again")
	}
	if got := tokenStatus(t, base, old); got != 401 {
		t.Errorf("the old admin token after the replacement: %d, want 401", got)
	}
	if got := tokenStatus(t, base, fresh); got != 200 {
		t.Errorf("the new admin token: %d", got)
	}
	if got := tokenStatus(t, base, push); got != 200 {
		t.Errorf("the push token after replacing the admin token: %d", got)
	}
	now := listJSON(t, "--server", base, "--token-file", adminFile)
	if len(now) != 2 || now[store.TokenID(auth.Hash(fresh))].Scope != "admin" {
		t.Errorf("tokens after the replacement: %+v", now)
	}
}
