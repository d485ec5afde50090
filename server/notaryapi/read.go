package notaryapi

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// Cache-Control of current and of versioned or hashed documents.
var (
	currentCC   = []string{"public, max-age=5, must-revalidate"}
	versionedCC = []string{"public, max-age=2592000"}
	jsonCT      = []string{"application/json"}
)

// handleGet serves {role}.json, {role}.{sha256}.json and
// {version}.{role}.json.
func (a *API) handleGet(w http.ResponseWriter, r *http.Request, gun, name string) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok {
		a.fail(w, r, errNotFound("want ROLE.json, ROLE.SHA256.json or VERSION.ROLE.json"))
		return
	}
	c, err := a.current(r.Context(), gun)
	if err != nil {
		a.failRead(w, r, gun, err)
		return
	}
	role, version, cc := base, int64(0), versionedCC
	if i := strings.IndexByte(base, '.'); i >= 0 {
		if n, err := strconv.ParseInt(base[:i], 10, 64); err == nil && n > 0 && base[0] != '0' {
			role, version = base[i+1:], n
		} else if j := strings.LastIndexByte(base, '.'); isHex(base[j+1:]) {
			role = base[:j]
			sum := base[j+1:]
			if len(sum) != 64 { // notary-server indexes SHA-256 only
				a.fail(w, r, errNotFound("documents are found by SHA-256"))
				return
			}
			if version, ok = c.idx.byHash(role, sum); !ok {
				a.fail(w, r, errNotFound(role+" with SHA-256 "+sum))
				return
			}
		}
	}
	if !notary.IsRole(role) {
		a.fail(w, r, errNotFound("no role "+strconv.Quote(role)))
		return
	}
	var body []byte
	var sum string
	switch {
	case version == 0 && role == notary.RoleTimestamp:
		body, sum, cc = c.ts, c.tsSHA256, currentCC
	default:
		if version == 0 {
			ref, ok := c.idx.Roles[role]
			if !ok {
				a.fail(w, r, errNotFound(gun+" has no "+role))
				return
			}
			version, cc = ref.Version, currentCC
		}
		f, err := a.cfg.Store.File(r.Context(), gun, role, version)
		if err != nil {
			a.failRead(w, r, gun, err)
			return
		}
		body, sum = f.Data, f.SHA256
	}
	h := w.Header()
	h["Content-Type"] = jsonCT
	h["Cache-Control"] = cc
	h["Etag"] = []string{`"` + sum + `"`}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func isHex(s string) bool {
	if len(s) != 64 && len(s) != 96 && len(s) != 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// failRead reports a read error: a missing repository, file or a
// repository of the other dialect is METADATA_NOT_FOUND, which the notary
// client takes for "no trust data".
func (a *API) failRead(w http.ResponseWriter, r *http.Request, gun string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.fail(w, r, errNotFound(gun+": not found"))
	case errors.Is(err, errNotNotary):
		a.fail(w, r, errNotFound(gun+" is "+errNotNotary.Error()))
	default:
		a.fail(w, r, err)
	}
}

// Changefeed paging, as notary-server: records=0 means 100.
const (
	defaultRecords = 100
	maxRecords     = 1000
)

// serveChangefeed serves GET [/v2/{gun}]/_trust/changefeed?change_id=&records=
// in notary-server's format: records > 0 pages forwards from after
// change_id (0: the start), records < 0 pages backwards, the changes
// before change_id (-1: the latest), oldest first either way.
func (a *API) serveChangefeed(w http.ResponseWriter, r *http.Request, gun string) {
	q := r.URL.Query()
	rs := q.Get("records")
	records, err := strconv.Atoi(rs)
	if err != nil {
		a.fail(w, r, apiError(codeInvalidParams, "records must be an integer, got "+strconv.Quote(rs)))
		return
	}
	backwards := records < 0
	if backwards {
		records = -records
	}
	records = min(cmp.Or(records, defaultRecords), maxRecords)
	since := int64(0)
	if v := q.Get("change_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < -1 {
			a.fail(w, r, apiError(codeInvalidParams, "change_id must be a change ID, 0 or -1, got "+strconv.Quote(v)))
			return
		}
		since = n
	}
	var changes []store.Change
	switch {
	case backwards:
		changes, err = a.cfg.Store.ChangesBefore(r.Context(), gun, since, records)
	case since != -1: // -1 is the latest change: nothing comes after it
		changes, err = a.cfg.Store.Changes(r.Context(), gun, since, records)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	type record struct {
		ID        string
		CreatedAt time.Time
		GUN       string
		Version   int64
		SHA256    string
		Category  string
	}
	out := struct {
		Count   int      `json:"count"`
		Records []record `json:"records"`
	}{Records: []record{}}
	for _, c := range changes {
		out.Records = append(out.Records, record{strconv.FormatInt(c.ID, 10), c.CreatedAt, c.GUN, c.Version, c.SHA256, c.Category})
	}
	out.Count = len(out.Records)
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":[{"code":"UNKNOWN","message":"encoding the response failed"}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ServeCachedTimestamp serves GET /v2/{gun}/_trust/tuf/timestamp.json
// straight from memory when the GUN's state is cached and fresh: the hot
// path of every notary client, which the server tries before its router,
// as it does for /tuf/. It returns false to let the full handler answer.
// Only GUNs that passed the full handler are ever cached.
func (a *API) ServeCachedTimestamp(w http.ResponseWriter, r *http.Request) bool {
	const prefix, suffix = "/v2/", "/_trust/tuf/timestamp.json"
	p := r.URL.Path
	if r.Method != http.MethodGet || r.URL.RawPath != "" || len(p) <= len(prefix)+len(suffix) ||
		p[:len(prefix)] != prefix || p[len(p)-len(suffix):] != suffix {
		return false
	}
	gun := p[len(prefix) : len(p)-len(suffix)]
	a.cacheMu.RLock()
	c := a.cache[gun]
	a.cacheMu.RUnlock()
	if c == nil || time.Since(c.loadedAt) >= a.cfg.CacheTTL {
		return false
	}
	h := w.Header()
	h["Content-Type"] = jsonCT
	h["Cache-Control"] = currentCC
	h["Etag"] = c.tsETag
	h["Content-Length"] = c.tsLength
	w.Write(c.ts)
	return true
}
