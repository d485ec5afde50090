package notaryapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// indexRole names the store file, one per timestamp version, that records
// where the documents of a Notary repository are: the current version and
// SHA-256 of every role, and the earlier ones still served by hash. Its
// presence is what marks a repository as a Notary repository. The name
// cannot be a role of either dialect, so the /tuf/ routes never serve it.
const indexRole = "_notary"

// maxHistory bounds the earlier versions an index remembers for GETs by
// hash; versions remain readable as {version}.{role}.json.
const maxHistory = 256

type fileRef struct {
	Version int64  `json:"version"`
	SHA256  string `json:"sha256"`
	Length  int64  `json:"length"`
}

type histRef struct {
	Role string `json:"role"`
	fileRef
}

type index struct {
	Roles   map[string]fileRef `json:"roles"` // every role but timestamp
	History []histRef          `json:"history,omitempty"`
}

func (ix index) clone() index {
	out := index{Roles: make(map[string]fileRef, len(ix.Roles)), History: append([]histRef(nil), ix.History...)}
	for k, v := range ix.Roles {
		out.Roles[k] = v
	}
	return out
}

// set records a new current version of role, keeping the one it replaces
// for GETs by hash.
func (ix *index) set(role string, ref fileRef) {
	if old, ok := ix.Roles[role]; ok && old != ref {
		ix.History = append([]histRef{{role, old}}, ix.History...)
		if len(ix.History) > maxHistory {
			ix.History = ix.History[:maxHistory]
		}
	}
	ix.Roles[role] = ref
}

// byHash finds the version of role whose SHA-256 is sum.
func (ix index) byHash(role, sum string) (int64, bool) {
	if r, ok := ix.Roles[role]; ok && r.SHA256 == sum {
		return r.Version, true
	}
	for _, h := range ix.History {
		if h.Role == role && h.SHA256 == sum {
			return h.Version, true
		}
	}
	return 0, false
}

// current is a repository's current state, cached for reads.
type current struct {
	repo     store.Repo
	idx      index
	ts       []byte
	tsSHA256 string
	loadedAt time.Time

	// Precomputed header values for the fast path; never modified.
	tsETag, tsLength []string
}

// errNotNotary reports a repository of the /api/v1/ routes.
var errNotNotary = errors.New("a TUF 1.0 repository, published through /api/v1/, not a Notary repository")

// current returns the repository's state: store.ErrNotFound when there is
// no repository, errNotNotary when it is not a Notary one.
func (a *API) current(ctx context.Context, gun string) (*current, error) {
	a.cacheMu.RLock()
	c, gen := a.cache[gun], a.gen
	a.cacheMu.RUnlock()
	if c != nil && time.Since(c.loadedAt) < a.cfg.CacheTTL {
		return c, nil
	}
	c, err := a.load(ctx, gun)
	if err != nil {
		return nil, err
	}
	a.cacheMu.Lock()
	if a.gen == gen {
		a.cache[gun] = c
	}
	a.cacheMu.Unlock()
	return c, nil
}

func (a *API) load(ctx context.Context, gun string) (*current, error) {
	repo, err := a.cfg.Store.Repo(ctx, gun)
	if err != nil {
		return nil, err
	}
	c := &current{repo: repo, loadedAt: time.Now()}
	f, err := a.cfg.Store.File(ctx, gun, indexRole, repo.TimestampVersion)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotNotary
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(f.Data, &c.idx); err != nil || c.idx.Roles == nil {
		return nil, fmt.Errorf("notary index of %s at %d: malformed", gun, repo.TimestampVersion)
	}
	tf, err := a.cfg.Store.File(ctx, gun, notary.RoleTimestamp, repo.TimestampVersion)
	if err != nil {
		return nil, fmt.Errorf("timestamp of %s: %w", gun, err)
	}
	c.ts, c.tsSHA256 = tf.Data, tf.SHA256
	c.tsETag, c.tsLength = []string{`"` + tf.SHA256 + `"`}, []string{strconv.Itoa(len(tf.Data))}
	return c, nil
}

// doc reads and parses a stored document of role.
func (a *API) doc(ctx context.Context, gun, role string, version int64, typ string) (*notary.Document, []byte, error) {
	f, err := a.cfg.Store.File(ctx, gun, role, version)
	if err != nil {
		return nil, nil, fmt.Errorf("%s version %d of %s: %w", role, version, gun, err)
	}
	d, err := notary.ParseAs(f.Data, typ)
	if err != nil {
		return nil, nil, fmt.Errorf("stored %s of %s: %w", role, gun, err)
	}
	return d, f.Data, nil
}

func ref(data []byte, version int64) fileRef {
	return fileRef{Version: version, SHA256: sha256Hex(data), Length: int64(len(data))}
}
