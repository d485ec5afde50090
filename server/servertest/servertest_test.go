package servertest_test

import (
	"net/http"
	"testing"

	"github.com/rampart-tuf/rampart/server/servertest"
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
