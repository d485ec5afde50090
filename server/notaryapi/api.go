// Package notaryapi serves Notary v1's HTTP API (the routes of
// notary-server 0.7.0 under /v2/) on the Rampart metadata server, so that
// the notary client and Docker Content Trust work against `rampart serve`.
//
// Repositories published through these routes hold Notary-dialect metadata
// (package tuf/notary) in the server's store, next to the TUF 1.0
// repositories of the /api/v1/ routes: the same GUN namespace, tokens,
// online keys, changefeed and store transactions. The server signs their
// timestamp, and their snapshot when it holds the snapshot key, in
// Notary's dialect.
//
// Routes (GUNs may contain slashes):
//
//	GET    /v2/                                      401 with a Basic challenge unless authenticated
//	POST   /v2/{gun}/_trust/tuf/                     atomic multipart publish (push)
//	GET    /v2/{gun}/_trust/tuf/{role}.json          current version (public)
//	GET    /v2/{gun}/_trust/tuf/{role}.{sha256}.json by content hash (public)
//	GET    /v2/{gun}/_trust/tuf/{version}.{role}.json by version (public)
//	GET    /v2/{gun}/_trust/tuf/{snapshot|timestamp}.key   the server's key, created if none (push)
//	POST   /v2/{gun}/_trust/tuf/{snapshot|timestamp}.key   a new key (admin)
//	DELETE /v2/{gun}/_trust/tuf/                     delete the repository (admin)
//	GET    /v2/{gun}/_trust/changefeed, /v2/_trust/changefeed   (pull)
//	GET    /_notary_server/health                     {} or 503 with the failed checks (public)
//
// Rampart tokens are accepted as "Authorization: Bearer TOKEN" and as the
// password of Basic authentication (any user name).
//
// The 401 challenge is a Bearer challenge whose realm is GET /v2/token, the
// registry token flow that the notary client follows: it asks the realm for
// a token with Basic authentication, using NOTARY_AUTH for writes and no
// credentials for reads, and sends what it gets as the Bearer token. The
// realm returns the Rampart token of the Basic password, once checked, and
// an anonymous token that only the public reads accept when there is none.
// A Basic challenge would not do: the notary client answers it with no
// credentials on reads and gives up, so `notary list` would fail against a
// server that challenges the ping. Errors have the body of
// docker/distribution's errcode package, with the codes and, for rejected
// publishes, the details the notary client parses.
package notaryapi

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
)

// Config is what the API needs from the server it runs in. Store, Signer,
// Create, Created and Delete are required.
type Config struct {
	Store  store.Store
	Signer signer.Signer
	Logger *slog.Logger
	Now    func() time.Time
	// NoAuth lets every request through, as the server's option does.
	NoAuth bool
	// ValidateGUN checks a GUN by the server's rules.
	ValidateGUN func(gun string) error
	// Lock serializes this process's writes to one GUN with the server's
	// own; it returns the unlock function.
	Lock func(gun string) func()
	// Invalidate tells the server that a GUN changed (its caches).
	Invalidate func(gun string)
	// Create creates a repository (its online keys) for a token of the
	// given scope, as the server's own creation route does; Created
	// reports whether gun was created and not deleted since; Delete
	// deletes a repository for good, online keys included. Errors that
	// are the client's are *StatusError values.
	Create  func(ctx context.Context, gun string, scope auth.Scope) error
	Created func(ctx context.Context, gun string) (bool, error)
	Delete  func(ctx context.Context, gun string) error
	// ListingChanges returns the listings of target content (see
	// store.Listing) that a new version of a targets role changes: cur
	// and old (nil: none) map each target path the new and the replaced
	// version list to its hex digests, and content that only old lists
	// is served until replacedUntil. Publishes record them, so that the
	// server serves and keeps the content Notary metadata lists as it
	// does for its own repositories.
	ListingChanges func(role string, old, cur map[string][]string, replacedUntil time.Time) []store.Listing
	// MaxMetadataBytes caps a publish request body.
	MaxMetadataBytes int64
	// TimestampExpiry and SnapshotExpiry are the lifetimes of the
	// documents the server signs.
	TimestampExpiry, SnapshotExpiry time.Duration
	// CacheTTL bounds how long a repository's current state is served
	// from memory without asking the store.
	CacheTTL time.Duration
}

// API serves the Notary routes.
type API struct {
	cfg Config
	log *slog.Logger

	cacheMu sync.RWMutex
	cache   map[string]*current
	gen     uint64 // bumped by every invalidation, under cacheMu
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Lock == nil {
		var mu sync.Mutex
		cfg.Lock = func(string) func() { mu.Lock(); return mu.Unlock }
	}
	if cfg.Invalidate == nil {
		cfg.Invalidate = func(string) {}
	}
	if cfg.ValidateGUN == nil {
		cfg.ValidateGUN = func(string) error { return nil }
	}
	return &API{cfg: cfg, log: cfg.Logger, cache: map[string]*current{}}
}

// Handler returns the handler of every path under /v2/.
func (a *API) Handler() http.Handler { return http.HandlerFunc(a.serve) }

func (a *API) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/v2/" || p == "/v2" {
		a.handleBase(w, r)
		return
	}
	if p == "/v2/token" {
		a.handleToken(w, r)
		return
	}
	if p == HealthPath {
		a.handleHealth(w, r)
		return
	}
	if p == "/v2/_trust/changefeed" {
		if r.Method != http.MethodGet {
			a.fail(w, r, errMethod(r))
			return
		}
		if _, ok := a.authorize(w, r, "", auth.Pull); ok {
			a.serveChangefeed(w, r, "")
		}
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	gun, tail, found := strings.Cut(rest, "/_trust/")
	if !ok || !found {
		a.fail(w, r, errNotFound("no such route"))
		return
	}
	if err := a.cfg.ValidateGUN(gun); err != nil {
		a.fail(w, r, apiError(codeInvalidGUN, err.Error()))
		return
	}
	switch {
	case tail == "changefeed" && r.Method == http.MethodGet:
		if _, ok := a.authorize(w, r, gun, auth.Pull); ok {
			a.serveChangefeed(w, r, gun)
		}
	case tail == "tuf/" && r.Method == http.MethodPost:
		if _, ok := a.authorize(w, r, gun, auth.Push); ok {
			a.handlePublish(w, r, gun)
		}
	case tail == "tuf/" && r.Method == http.MethodDelete:
		if _, ok := a.authorize(w, r, gun, auth.Admin); ok {
			a.handleDelete(w, r, gun)
		}
	case strings.HasPrefix(tail, "tuf/") && strings.HasSuffix(tail, ".key"):
		a.handleKey(w, r, gun, strings.TrimSuffix(strings.TrimPrefix(tail, "tuf/"), ".key"))
	case strings.HasPrefix(tail, "tuf/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		a.handleGet(w, r, gun, strings.TrimPrefix(tail, "tuf/"))
	default:
		a.fail(w, r, errNotFound("no such route"))
	}
}

// HealthPath is notary-server's health check, served by Handler too.
const HealthPath = "/_notary_server/health"

// handleHealth answers the health check as notary-server does (the
// health package of docker/distribution): 200 with {} when every check
// passes, 503 with the failed checks and their errors otherwise. The one
// check is that the store answers.
func (a *API) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		a.fail(w, r, errMethod(r))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, failed := http.StatusOK, map[string]string{}
	if err := a.cfg.Store.Ping(ctx); err != nil {
		status, failed["store"] = http.StatusServiceUnavailable, err.Error()
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, failed)
}

// handleBase answers GET /v2/, which the notary client pings first: {} for
// an authenticated request, 401 with a Basic challenge otherwise.
func (a *API) handleBase(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		a.fail(w, r, errMethod(r))
		return
	}
	if _, ok := a.authenticate(w, r, auth.Pull); !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}"))
}

// token returns the Rampart token of the request: a Bearer token, or the
// password of Basic authentication.
func token(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return cred, true
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return "", false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		return pass, ok
	}
	return "", false
}

// authenticate checks the request's token for scope need over any GUN.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, need auth.Scope) (store.Token, bool) {
	if a.cfg.NoAuth {
		return store.Token{Scope: "admin"}, true
	}
	tok, ok := token(r)
	if !ok || !auth.WellFormed(tok) {
		a.fail(w, r, apiError(codeUnauthorized, "authentication required: a Rampart token as the Bearer token or as the Basic password (NOTARY_AUTH)"))
		return store.Token{}, false
	}
	t, err := a.cfg.Store.Token(r.Context(), auth.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		a.fail(w, r, apiError(codeUnauthorized, "unknown token"))
		return store.Token{}, false
	}
	if err != nil {
		a.fail(w, r, err)
		return store.Token{}, false
	}
	have, err := auth.ParseScope(t.Scope)
	if err != nil || have < need {
		a.fail(w, r, apiError(codeDenied, "the token's scope "+t.Scope+" does not allow this (needs "+need.String()+")"))
		return store.Token{}, false
	}
	return t, true
}

// authorize is authenticate, requiring the token to cover gun (every GUN
// when gun is empty).
func (a *API) authorize(w http.ResponseWriter, r *http.Request, gun string, need auth.Scope) (store.Token, bool) {
	t, ok := a.authenticate(w, r, need)
	if !ok || a.cfg.NoAuth {
		return t, ok
	}
	if gun == "" && t.GUNPrefix != "" || !auth.Covers(t.GUNPrefix, gun) {
		what := gun
		if gun == "" {
			what = "all repositories"
		}
		a.fail(w, r, apiError(codeDenied, "the token covers "+quote(t.GUNPrefix)+", not "+what))
		return store.Token{}, false
	}
	return t, true
}

func quote(s string) string { return `"` + s + `"` }

// Invalidate drops the cached state of gun, or of every GUN when gun is
// empty. The server calls it for every change it learns of.
func (a *API) Invalidate(gun string) {
	a.cacheMu.Lock()
	a.gen++
	if gun == "" {
		clear(a.cache)
	} else {
		delete(a.cache, gun)
	}
	a.cacheMu.Unlock()
}

func (a *API) changed(gun string) {
	a.Invalidate(gun)
	a.cfg.Invalidate(gun)
}
