package server

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/internal/bufpool"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// handleTUF serves GET /tuf/{gun}/metadata/{file} and
// GET /tuf/{gun}/targets/{path}.
func (s *Server) handleTUF(w http.ResponseWriter, r *http.Request) {
	gun, action, tail, err := splitRepoPath(r.PathValue("rest"))
	if err != nil {
		s.fail(w, r, badRequest("", checkGUN, "%v", err))
		return
	}
	switch action {
	case "metadata":
		s.serveMetadata(w, r, gun, tail)
	case "targets":
		s.serveTarget(w, r, gun, tail)
	default:
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "want /tuf/{gun}/metadata/{file} or /tuf/{gun}/targets/{path}"))
	}
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, gun, file string) {
	role, version, err := parseMetadataFile(file)
	if err != nil {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "%v", err))
		return
	}
	cur, err := s.currentState(r.Context(), gun)
	if err != nil {
		s.failRead(w, r, gun, err)
		return
	}
	h := w.Header()
	var body []byte
	var tag string
	cc := s.versionedCC
	switch {
	case role == metadata.TypeTimestamp:
		body, tag, cc = cur.ts, cur.etag, s.currentCC
	default:
		if version == 0 { // root.json
			version, cc = cur.repo.RootVersion, s.currentCC
		}
		f, err := s.store.File(r.Context(), gun, role, version)
		if err != nil {
			s.failRead(w, r, gun, err)
			return
		}
		body, tag = f.Data, etag(f.SHA256)
	}
	h["Content-Type"] = []string{"application/json"}
	h["Etag"] = []string{tag}
	h["Cache-Control"] = cc
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func cacheControl(maxAge time.Duration) string {
	return "public, max-age=" + strconv.Itoa(int(maxAge.Seconds()))
}

func etagMatch(header, tag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		p := strings.TrimSpace(part)
		if p == "*" || strings.TrimPrefix(p, "W/") == tag {
			return true
		}
	}
	return false
}

// failRead reports a read error; a missing repository or file is a 404
// naming it.
func (s *Server) failRead(w http.ResponseWriter, r *http.Request, gun string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "%s: %s not found", gun, path.Base(r.URL.Path)))
		return
	}
	s.fail(w, r, err)
}

// serveTarget serves target content stored on the server, by the
// consistent-snapshot name "dir/HASH.name" (sha256 or sha512 digest).
func (s *Server) serveTarget(w http.ResponseWriter, r *http.Request, gun, target string) {
	if target == "" {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no target path"))
		return
	}
	dir, base := path.Split(target)
	digest, name, ok := strings.Cut(base, ".")
	if !ok || name == "" || (len(digest) != 64 && len(digest) != 128) || strings.ToLower(digest) != digest {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "targets are served by their consistent-snapshot name, DIR/HASH.NAME"))
		return
	}
	// Only content the repository's metadata lists, under this name.
	listed, err := s.store.Listed(r.Context(), gun, digest, dir+name, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !listed {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "%s: no metadata of the repository lists %s with this hash", gun, dir+name))
		return
	}
	t, err := s.store.Target(r.Context(), gun, digest)
	if err != nil {
		s.failRead(w, r, gun, err)
		return
	}
	f, err := s.blobs.Open(r.Context(), t.SHA256)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "%s: content of %s is not on this server", gun, target))
			return
		}
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	// FormatMediaType gives "" for a name it cannot encode.
	h.Set("Content-Disposition", cmp.Or(mime.FormatMediaType("attachment", map[string]string{"filename": name}), "attachment"))
	h["Cache-Control"] = s.versionedCC
	h.Set("ETag", etag(t.SHA256))
	http.ServeContent(&jsonRangeError{ResponseWriter: w, s: s, r: r}, r, "", time.Time{}, f)
}

// jsonRangeError turns the plain-text 416 of http.ServeContent into a JSON
// error like every other.
type jsonRangeError struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	swallow bool
}

func (j *jsonRangeError) WriteHeader(code int) {
	if code != http.StatusRequestedRangeNotSatisfiable {
		j.ResponseWriter.WriteHeader(code)
		return
	}
	j.swallow = true
	h := j.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	j.s.fail(j.ResponseWriter, j.r, errorf(code, "", checkRequest, "the range %q is not satisfiable: the content has %s bytes", j.r.Header.Get("Range"), strings.TrimPrefix(h.Get("Content-Range"), "bytes */")))
}

func (j *jsonRangeError) Write(p []byte) (int, error) {
	if j.swallow {
		return len(p), nil
	}
	return j.ResponseWriter.Write(p)
}

func (j *jsonRangeError) Unwrap() http.ResponseWriter { return j.ResponseWriter }

// authorize checks the request's bearer token for scope over gun (every
// GUN when gun is empty and prefix must be empty). It writes the 401 or
// 403 response and returns false when the request may not proceed.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, gun string, need auth.Scope) (store.Token, bool) {
	t, ok := s.authenticate(w, r, need)
	if !ok || s.cfg.NoAuth {
		return t, ok
	}
	if gun == "" && t.GUNPrefix != "" || !auth.Covers(t.GUNPrefix, gun) {
		what := gun
		if gun == "" {
			what = "all repositories"
		}
		s.fail(w, r, errorf(http.StatusForbidden, "", checkScope, "the token covers %q, not %s", t.GUNPrefix, what))
		return store.Token{}, false
	}
	return t, true
}

// authenticate checks that the request's bearer token exists and has
// scope need, whatever GUNs it covers. It writes the 401 or 403 response
// and returns false when the request may not proceed.
//
// The token is looked up in the store on every request and never cached:
// a revoked token fails on its very next request, on every replica
// sharing the store.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, need auth.Scope) (store.Token, bool) {
	if s.cfg.NoAuth {
		return store.Token{Scope: "admin"}, true
	}
	h := r.Header.Get("Authorization")
	// The scheme's name is case-insensitive (RFC 9110, section 11.1).
	scheme, tok, ok := strings.Cut(h, " ")
	ok = ok && strings.EqualFold(scheme, "Bearer")
	if !ok {
		s.fail(w, r, errorf(http.StatusUnauthorized, "", checkAuth, "a bearer token is required (Authorization: Bearer rpt_...)"))
		return store.Token{}, false
	}
	if !auth.WellFormed(strings.TrimSpace(tok)) {
		s.fail(w, r, errorf(http.StatusUnauthorized, "", checkAuth, "the token is malformed: a token is rpt_ followed by 43 base64url characters"))
		return store.Token{}, false
	}
	t, err := s.store.Token(r.Context(), auth.Hash(strings.TrimSpace(tok)))
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errorf(http.StatusUnauthorized, "", checkAuth, "unknown or revoked token"))
		return store.Token{}, false
	}
	if err != nil {
		s.fail(w, r, err)
		return store.Token{}, false
	}
	have, err := auth.ParseScope(t.Scope)
	if err != nil || have < need {
		s.fail(w, r, errorf(http.StatusForbidden, "", checkScope, "the token's scope %q does not allow this (needs %s)", t.Scope, need))
		return store.Token{}, false
	}
	return t, true
}

// readBody reads a JSON request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	body, _, err := readBodyOf(w, r, limit, nil, "application/json")
	return body, err
}

// readBodyOf is readBody for a body of one of several media types (the
// first is the one for a request without Content-Type); it returns the
// body and its type.
func readBodyOf(w http.ResponseWriter, r *http.Request, limit int64, bufs *bufpool.Pool, types ...string) ([]byte, string, *Error) {
	mt := types[0]
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil || !slices.Contains(types, mt) {
			return nil, "", errorf(http.StatusUnsupportedMediaType, "", checkRequest, "Content-Type must be %s", strings.Join(types, " or "))
		}
	}
	body, err := readLimited(w, r, limit, bufs)
	return body, mt, err
}

// readLimited reads a body of at most limit bytes, into a buffer of bufs
// when its length is known (bufs may be nil).
func readLimited(w http.ResponseWriter, r *http.Request, limit int64, bufs *bufpool.Pool) ([]byte, *Error) {
	if r.ContentLength > limit {
		return nil, errorf(http.StatusRequestEntityTooLarge, "", checkSize, "body larger than %d bytes", limit)
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	var body []byte
	var err error
	if r.ContentLength > 0 {
		// Known length (net/http reads no more): one buffer, not one
		// grown from 512 bytes.
		body = bufs.Get(int(r.ContentLength))
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "", checkSize, "body larger than %d bytes", limit)
		}
		return nil, badRequest("", checkRequest, "reading the body: %v", err)
	}
	return body, nil
}

// readJSON decodes a capped JSON body into v, strictly.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) *Error {
	body, e := readBody(w, r, limit)
	if e != nil {
		return e
	}
	if err := checkDuplicateMembers(body); err != nil {
		return badRequest("", checkJSON, "malformed request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("", checkJSON, "malformed request body: %v", err)
	}
	if dec.More() {
		return badRequest("", checkJSON, "malformed request body: data after the JSON value")
	}
	return nil
}

func (s *Server) handleRepoPost(w http.ResponseWriter, r *http.Request) {
	gun, action, tail, err := splitRepoPath(r.PathValue("rest"))
	if err != nil {
		s.fail(w, r, badRequest("", checkGUN, "%v", err))
		return
	}
	switch {
	case action == "" && tail == "":
		s.handleCreate(w, r, gun)
	case action == "metadata" && isStagedPath(tail):
		s.handleStaged(w, r, gun, tail)
	case action == "metadata" && tail == "":
		if _, ok := s.authorize(w, r, gun, auth.Push); !ok {
			return
		}
		var req api.PublishRequest
		if e := s.readJSON(w, r, s.cfg.MaxMetadataBytes, &req); e != nil {
			s.fail(w, r, e)
			return
		}
		if req.Roles == nil && req.Roots == nil {
			s.fail(w, r, badRequest("", checkJSON, `the body must be {"roles": {ROLE: SIGNED DOCUMENT, ...}}, with new root versions in "roles" or, oldest first, in "roots": [ROOT, ...]`))
			return
		}
		docs := make(map[string][]byte, len(req.Roles))
		for k, v := range req.Roles {
			docs[k] = v
		}
		roots := make([][]byte, len(req.Roots))
		for i, v := range req.Roots {
			roots[i] = v
		}
		res, err := s.PublishChain(r.Context(), gun, roots, docs, r.Header.Get("If-Match"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info("published", "gun", gun, "timestamp_version", res.TimestampVersion, "snapshot_version", res.SnapshotVersion, "change", res.ChangeID)
		w.Header().Set("ETag", res.ETag)
		writeJSON(w, http.StatusOK, res)
	case action == "keys" && (tail == "timestamp/rotate" || tail == "snapshot/rotate"):
		if _, ok := s.authorize(w, r, gun, auth.Admin); !ok || !s.requireCreated(w, r, gun) {
			return
		}
		role := strings.TrimSuffix(tail, "/rotate")
		k, err := s.signer.Rotate(r.Context(), gun, role)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.log.Info("rotated online key", "gun", gun, "role", role, "keyid", k.ID())
		writeJSON(w, http.StatusCreated, keyResponse(role, k))
	default:
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for POST %s", r.URL.Path))
	}
}

// keyResponse is the JSON of an online key.
func keyResponse(role string, k *metadata.Key) api.OnlineKey {
	pk := &api.PublicKey{KeyType: k.Type, Scheme: k.Scheme}
	pk.KeyVal.Public = k.Value
	return api.OnlineKey{Key: pk, KeyID: k.ID(), Role: role}
}

func (s *Server) handleRepoGet(w http.ResponseWriter, r *http.Request) {
	gun, action, tail, err := splitRepoPath(r.PathValue("rest"))
	if err != nil {
		s.fail(w, r, badRequest("", checkGUN, "%v", err))
		return
	}
	switch {
	case action == "keys" && (tail == "timestamp" || tail == "snapshot"):
		if _, ok := s.authorize(w, r, gun, auth.Push); !ok {
			return
		}
		ks, err := s.signer.Keys(r.Context(), gun, tail)
		if err != nil || len(ks) == 0 {
			s.fail(w, r, cmpErr(err, notCreated(gun)))
			return
		}
		writeJSON(w, http.StatusOK, keyResponse(tail, ks[0]))
	case action == "metadata" && isStagedPath(tail):
		s.handleStaged(w, r, gun, tail)
	case action == "changefeed" && tail == "":
		if _, ok := s.authorize(w, r, gun, auth.Pull); !ok {
			return
		}
		s.serveChangefeed(w, r, gun)
	default:
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for GET %s", r.URL.Path))
	}
}

func (s *Server) handleChangefeedAll(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, "", auth.Pull); !ok {
		return
	}
	s.serveChangefeed(w, r, "")
}

// changeJSON is one changefeed entry on the wire.
type changeJSON struct {
	ID        int64     `json:"id"`
	GUN       string    `json:"gun"`
	Version   int64     `json:"version"`
	SHA256    string    `json:"sha256,omitempty"`
	Category  string    `json:"category"`
	CreatedAt time.Time `json:"created_at"`
}

// Changefeed paging limits.
const (
	defaultChangefeedLimit = 100
	maxChangefeedLimit     = 1000
)

func (s *Server) serveChangefeed(w http.ResponseWriter, r *http.Request, gun string) {
	q := r.URL.Query()
	since, limit := int64(0), defaultChangefeedLimit
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.fail(w, r, badRequest("", checkRequest, "since must be a change ID (a non-negative integer), got %q", v))
			return
		}
		since = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxChangefeedLimit {
			s.fail(w, r, badRequest("", checkRequest, "limit must be an integer from 1 to %d, got %q", maxChangefeedLimit, v))
			return
		}
		limit = n
	}
	changes, err := s.store.Changes(r.Context(), gun, since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := struct {
		Changes []changeJSON `json:"changes"`
		Next    int64        `json:"next"` // since= for the next page
	}{Changes: []changeJSON{}, Next: since}
	for _, c := range changes {
		out.Changes = append(out.Changes, changeJSON(c))
		out.Next = c.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// Target upload header: the expected hex SHA-256 of the content.
const sha256Header = "X-Rampart-Sha256"

func (s *Server) handleRepoPut(w http.ResponseWriter, r *http.Request) {
	gun, action, tail, err := splitRepoPath(r.PathValue("rest"))
	if err != nil {
		s.fail(w, r, badRequest("", checkGUN, "%v", err))
		return
	}
	if action != "targets" || tail == "" {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for PUT %s", r.URL.Path))
		return
	}
	if _, ok := s.authorize(w, r, gun, auth.Push); !ok || !s.requireCreated(w, r, gun) {
		return
	}
	want := strings.ToLower(r.Header.Get(sha256Header))
	if want == "" {
		s.fail(w, r, badRequest("", checkHashes, "the %s header must give the content's SHA-256 in hex", sha256Header))
		return
	}
	if !blob.ValidSHA256(want) {
		s.fail(w, r, badRequest("", checkHashes, "the %s header must give the content's SHA-256 as 64 hex digits, not %q", sha256Header, want))
		return
	}
	if r.ContentLength > s.cfg.MaxTargetBytes {
		s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "", checkSize, "target larger than %d bytes", s.cfg.MaxTargetBytes))
		return
	}
	body := &bodyReader{r: http.MaxBytesReader(w, r.Body, s.cfg.MaxTargetBytes+1)}
	defer s.uploads.start(want)() // see CollectGarbage
	info, err := s.blobs.Put(r.Context(), body, s.cfg.MaxTargetBytes, want)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, blob.ErrTooLarge) || errors.As(body.err, &mbe):
			s.fail(w, r, errorf(http.StatusRequestEntityTooLarge, "", checkSize, "target larger than %d bytes", s.cfg.MaxTargetBytes))
		case errors.Is(err, blob.ErrDigest):
			s.fail(w, r, badRequest("", checkHashes, "%v", err))
		case body.err != nil:
			s.fail(w, r, badRequest("", checkRequest, "reading the upload: %v", body.err))
		default:
			s.fail(w, r, err)
		}
		return
	}
	if err := s.store.AddTarget(r.Context(), gun, store.Target{SHA256: info.SHA256, SHA512: info.SHA512, Length: info.Length, CreatedAt: s.now()}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("target uploaded", "gun", gun, "path", tail, "sha256", info.SHA256, "length", info.Length)
	dir, base := path.Split(tail)
	writeJSON(w, http.StatusCreated, map[string]any{
		"path": tail, "length": info.Length,
		"hashes":          map[string]string{"sha256": info.SHA256, "sha512": info.SHA512},
		"consistent_path": fmt.Sprintf("%s%s.%s", dir, info.SHA256, base),
	})
}

// bodyReader remembers the error reading a request body, other than
// io.EOF, to tell the client's failures from the server's.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenRequest
	// The caller first (an admin token), then the body, then whether
	// the caller's prefix contains the new token's, as for listing and
	// revoking.
	admin, ok := s.authenticate(w, r, auth.Admin)
	if !ok {
		return
	}
	if e := s.readJSON(w, r, 64<<10, &req); e != nil {
		s.fail(w, r, e)
		return
	}
	if req.GUNPrefix != "" {
		if err := validateGUN(strings.TrimSuffix(req.GUNPrefix, "/")); err != nil {
			s.fail(w, r, badRequest("", checkGUN, "gun_prefix: %v", err))
			return
		}
	}
	if _, err := auth.ParseScope(req.Scope); err != nil {
		s.fail(w, r, badRequest("", checkRequest, "%v", err))
		return
	}
	if len(req.Description) > 1024 {
		s.fail(w, r, badRequest("", checkRequest, "description longer than 1024 bytes"))
		return
	}
	if _, ok := AdminFileToken(store.Token{GUNPrefix: req.GUNPrefix, Scope: req.Scope, Description: req.Description}); ok {
		s.fail(w, r, badRequest("", checkRequest, "the description %q is reserved for the admin token that rampart serve keeps in DATA/%s", req.Description, AdminTokenFile))
		return
	}
	if !auth.Within(admin.GUNPrefix, req.GUNPrefix) && !s.cfg.NoAuth {
		s.fail(w, r, errorf(http.StatusForbidden, "", checkScope, "the token covers %q, not %q", admin.GUNPrefix, req.GUNPrefix))
		return
	}
	var tok, hash string
	var err error
	// A new token's ID could clash with another token's (a 64-bit prefix
	// of a random hash: it will not, but if it does, make another).
	for range 3 {
		tok, hash = auth.NewToken()
		err = s.store.CreateToken(r.Context(), store.Token{Hash: hash, GUNPrefix: req.GUNPrefix, Scope: req.Scope, Description: req.Description})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token created", "id", store.TokenID(hash), "gun_prefix", req.GUNPrefix, "scope", req.Scope, "by", admin.ID)
	writeJSON(w, http.StatusCreated, api.NewToken{Token: tok, ID: store.TokenID(hash), GUNPrefix: req.GUNPrefix, Scope: req.Scope})
}

// AdminTokenFile is the name of the file in the data directory of
// rampart serve that holds its admin token.
const AdminTokenFile = "admin.token"

// adminTokenDescription starts the description of the admin token that
// rampart serve keeps in DATA/admin.token; the file's path follows.
const adminTokenDescription = "admin token from "

// AdminTokenDescription returns the description of the admin token kept in
// the file at path, as rampart serve stores it.
func AdminTokenDescription(path string) string { return adminTokenDescription + path }

// AdminFileToken reports whether t is the admin token of a rampart serve
// data directory (an admin token over all GUNs whose description is
// AdminTokenDescription of a file named AdminTokenFile), and returns the
// file's path. rampart serve stores that token again at every start, so
// the server refuses to revoke it.
func AdminFileToken(t store.Token) (path string, ok bool) {
	path, ok = strings.CutPrefix(t.Description, adminTokenDescription)
	if !ok || t.Scope != "admin" || t.GUNPrefix != "" || filepath.Base(path) != AdminTokenFile {
		return "", false
	}
	return path, true
}

// tokenJSON is t on the wire, without its secret or hash.
func tokenJSON(t store.Token) api.Token {
	return api.Token{ID: t.ID, GUNPrefix: t.GUNPrefix, Scope: t.Scope, Description: t.Description, CreatedAt: t.CreatedAt}
}

// handleListTokens serves GET /api/v1/tokens: the tokens within the GUN
// prefix of the requesting admin token, oldest first.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.authenticate(w, r, auth.Admin)
	if !ok {
		return
	}
	all, err := s.store.Tokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := api.TokenList{Tokens: []api.Token{}}
	for _, t := range all {
		if auth.Within(admin.GUNPrefix, t.GUNPrefix) {
			out.Tokens = append(out.Tokens, tokenJSON(t))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRevokeToken serves DELETE /api/v1/tokens/{id}. It needs an admin
// token whose prefix contains the revoked token's. A token may revoke
// itself. The token in DATA/admin.token is refused: rampart serve would
// store it again at its next start.
func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	admin, ok := s.authenticate(w, r, auth.Admin)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !api.ValidTokenID(id) {
		s.fail(w, r, badRequest("", checkRequest, "a token ID is %d lowercase hex digits (the id of GET /api/v1/tokens), not %q", store.TokenIDLength, id))
		return
	}
	t, err := s.store.DeleteToken(r.Context(), id, func(t store.Token) error {
		if !auth.Within(admin.GUNPrefix, t.GUNPrefix) {
			return errorf(http.StatusForbidden, "", checkScope, "the token covers %q; token %s covers %q, which is not within it", admin.GUNPrefix, id, t.GUNPrefix)
		}
		if path, ok := AdminFileToken(t); ok {
			return errorf(http.StatusForbidden, "", checkAdminToken,
				"token %s is the admin token in %s, which rampart serve stores again at every start, so revoking it here would not last; "+
					"to replace it, stop the server, delete %s, revoke the token in the store directly (rampart token revoke %s --data DATA, or --store URL) "+
					"and start the server again: it writes a new admin token", id, path, path, id)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no token with ID %s", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("token revoked", "id", id, "gun_prefix", t.GUNPrefix, "scope", t.Scope, "by", admin.ID)
	writeJSON(w, http.StatusOK, tokenJSON(t))
}
