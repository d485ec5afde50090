package notaryapi_test

import (
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store/postgres/pgtest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// stores are the stores every test runs on.
var stores = servertest.Stores

// testServer is `rampart serve`'s server on loopback over TLS.
type testServer struct{ *servertest.Server }

func startServer(t *testing.T, kind string, opts ...func(*server.Config)) *testServer {
	t.Helper()
	st := servertest.OpenStore(t, kind, pg)
	return &testServer{servertest.StartTLS(t, append(opts, servertest.WithStore(st))...)}
}

// token creates a token straight in the store.
func (s *testServer) token(t *testing.T, scope, prefix string) string {
	t.Helper()
	return s.Token(t, scope, prefix)
}

// do sends a request with the header "Authorization: auth" when auth is
// not empty, and returns the status, body and header.
func (s *testServer) do(t *testing.T, method, path, authz, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	var header []string
	if authz != "" {
		header = append(header, "Authorization", authz)
	}
	if contentType != "" {
		header = append(header, "Content-Type", contentType)
	}
	return s.Do(t, method, path, "", body, header...)
}

// doHeader is do with a body and extra header fields (name, value, ...).
func (s *testServer) doHeader(t *testing.T, method, path, authz string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	if authz != "" {
		header = append(header, "Authorization", authz)
	}
	return s.Do(t, method, path, "", body, header...)
}

// doWith sends a request without a body through c.
func (s *testServer) doWith(t *testing.T, c *http.Client, method, path string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}
