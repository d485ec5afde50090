package notaryapi_test

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/server/servertest"
)

// TestHealth: GET /_notary_server/health answers as notary-server's does,
// {} while the store answers and 503 naming the failed check when it does
// not (the PostgreSQL store, closed).
func TestHealth(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			s := startServer(t, kind)
			code, body, h := s.do(t, "GET", "/_notary_server/health", "", "", nil)
			if code != 200 || strings.TrimSpace(string(body)) != "{}" || h.Get("Content-Type") != "application/json" {
				t.Errorf("health: %d %q %v, want 200 {}", code, body, h)
			}
			if code, _, _ := s.do(t, "POST", "/_notary_server/health", "", "", nil); code != http.StatusMethodNotAllowed {
				t.Errorf("POST health: %d, want 405", code)
			}
			if kind != "postgres" {
				return // the embedded store cannot fail to answer
			}
			s.Store.Close()
			code, body, _ = s.do(t, "GET", "/_notary_server/health", "", "", nil)
			var failed map[string]string
			if code != http.StatusServiceUnavailable || json.Unmarshal(body, &failed) != nil || failed["store"] == "" {
				t.Errorf("health with the store closed: %d %s, want 503 naming the store", code, body)
			}
		})
	}
}

// TestBasicChallenge is the evidence for docs/compatibility.md: with a
// Basic challenge on GET /v2/ (notary-server's answer when it uses no
// token service), the real notary client publishes with NOTARY_AUTH but
// cannot read anonymously, which is why Rampart challenges with Bearer and
// a token realm. The server's answers pass through a proxy that turns
// every challenge into a Basic one.
func TestBasicChallenge(t *testing.T) {
	s := startServer(t, "bolt")
	target, _ := url.Parse(s.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = s.Client.Transport
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusUnauthorized {
			resp.Header.Set("WWW-Authenticate", `Basic realm="rampart"`)
		}
		return nil
	}
	proxy := httptest.NewTLSServer(rp)
	defer proxy.Close()
	ca := filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	viaProxy := &testServer{&servertest.Server{URL: proxy.URL, CAFile: ca}}
	code, _, h := viaProxy.doWith(t, proxy.Client(), "GET", "/v2/")
	if code != 401 || h.Get("WWW-Authenticate") != `Basic realm="rampart"` {
		t.Fatalf("GET /v2/ through the proxy: %d %v, want 401 with a Basic challenge", code, h)
	}

	gun := "example.com/basic/app"
	n := newNotaryCLI(t, viaProxy, s.token(t, "admin", "example.com/basic"))
	file := filepath.Join(t.TempDir(), "v1.txt")
	os.WriteFile(file, []byte("v1\n"), 0o644)
	n.must("init", gun)
	n.must("add", gun, "v1", file)
	n.must("publish", gun) // writes answer the Basic challenge with NOTARY_AUTH

	// Reads are anonymous: the client has no Basic credentials to give.
	out, ok := n.fresh().run("list", gun)
	if ok || !strings.Contains(out, "no basic auth credentials") {
		t.Errorf("notary list against a Basic challenge: ok=%v\n%s\nwant a failure for want of Basic credentials", ok, out)
	}
	t.Logf("notary list against a Basic challenge:\n%s", out)
	// The same read against the server's own Bearer challenge works.
	direct := newNotaryCLI(t, s, "")
	if out := direct.must("list", gun); !strings.Contains(out, "v1") {
		t.Errorf("notary list against the Bearer challenge:\n%s", out)
	}
}
