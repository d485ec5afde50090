package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rampart-tuf/rampart/server/bodylimit"
	"github.com/rampart-tuf/rampart/server/store"
)

// Error is an API error: the HTTP status and the JSON body
// {"error": ..., "role": ..., "check": ...}.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Role    string `json:"role,omitempty"`  // the role the error is about, if any
	Check   string `json:"check,omitempty"` // the check that failed, e.g. "signature", "version"
}

func (e *Error) Error() string {
	s := e.Message
	if e.Role != "" {
		s = e.Role + ": " + s
	}
	return s
}

// Checks named in errors.
const (
	checkRequest    = "request"     // malformed request
	checkJSON       = "json"        // malformed document
	checkSize       = "size"        // body too large
	checkLimit      = "limit"       // too many open staged updates
	checkGUN        = "gun"         // invalid GUN
	checkRole       = "role"        // role not allowed here or invalid name
	checkMissing    = "missing"     // a required document was not sent
	checkSignature  = "signature"   // signatures below threshold
	checkVersion    = "version"     // version not increasing
	checkExpiry     = "expiry"      // expired document
	checkDelegation = "delegation"  // role not delegated
	checkPaths      = "paths"       // target outside delegated paths
	checkTargetPath = "target-path" // a target path that is not clean and relative
	checkHashes     = "hashes"      // snapshot meta or content digest mismatch
	checkOnlineKey  = "online-key"  // root does not list the server's keys
	checkConsistent = "consistent"  // root without consistent snapshots
	checkConflict   = "conflict"    // concurrent update
	checkDialect    = "dialect"     // a Notary repository on the TUF 1.0 routes
	checkAuth       = "auth"        // missing or invalid token
	checkScope      = "scope"       // token does not cover the request
	checkStore      = "store"       // database unavailable
	checkNotFound   = "not-found"   // no such repository, file or route
	checkAdminToken = "admin-token" // the token of DATA/admin.token cannot be revoked through the API
)

func errorf(status int, role, check, format string, args ...any) *Error {
	return &Error{Status: status, Role: role, Check: check, Message: fmt.Sprintf(format, args...)}
}

func badRequest(role, check, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, role, check, format, args...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// fail writes err as a JSON error response: an *Error as it is, store
// errors as 404, 409 or 503, anything else as 500 (and logged).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		e = errorf(http.StatusServiceUnavailable, "", checkStore, "the database is unavailable; try again later")
		s.log.Warn("store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, store.ErrConflict):
		e = errorf(http.StatusConflict, "", checkConflict, "%v", err)
	case errors.Is(err, store.ErrNotFound):
		e = errorf(http.StatusNotFound, "", checkNotFound, "not found")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, "", "", "internal error")
	}
	switch e.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
	case http.StatusRequestEntityTooLarge:
		bodylimit.DrainRefused(w, r, r.Body)
	}
	writeJSON(w, e.Status, e)
}
