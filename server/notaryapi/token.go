package notaryapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/store"
)

// anonymousToken is what the realm gives a client without credentials. It
// is not a well-formed Rampart token, so only the public reads accept it.
const anonymousToken = "anonymous"

// challenge returns the WWW-Authenticate value of a 401: a Bearer challenge
// whose realm is this server's /v2/token, as the client reached it.
func challenge(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	host := strings.NewReplacer(`"`, "", `\`, "").Replace(r.Host)
	return `Bearer realm="` + scheme + "://" + host + `/v2/token",service="rampart"`
}

// handleToken is the realm of the Bearer challenge (the registry token
// flow). With Basic authentication whose password is a Rampart token, it
// checks the token and returns it; without credentials it returns the
// anonymous token. The requested scope is not checked here: every route
// checks the token's own scope and GUN prefix.
func (a *API) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		a.fail(w, r, errMethod(r))
		return
	}
	tok := anonymousToken
	if r.Header.Get("Authorization") != "" {
		t, ok := token(r)
		if !ok || !auth.WellFormed(t) {
			a.fail(w, r, apiError(codeUnauthorized, "the password must be a Rampart token"))
			return
		}
		_, err := a.cfg.Store.Token(r.Context(), auth.Hash(t))
		if errors.Is(err, store.ErrNotFound) {
			a.fail(w, r, apiError(codeUnauthorized, "unknown token"))
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		tok = t
	}
	const lifetime = time.Hour
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"token": tok, "access_token": tok,
		"expires_in": int(lifetime.Seconds()), "issued_at": a.cfg.Now().UTC().Format(time.RFC3339),
	})
}
