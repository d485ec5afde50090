// Package server is the Rampart metadata server: it hosts many TUF
// repositories, each named by a GUN such as "example.com/acme/app".
//
// Public reads follow the TUF consistent-snapshot layout under
// /tuf/{gun}/metadata/ and /tuf/{gun}/targets/, so that any TUF client can
// use a repository by its URL. Writes go through /api/v1/ with bearer
// tokens: a publish sends signed root, targets and delegated targets
// documents, which the server checks as a client would before it signs a
// new snapshot (when it holds the snapshot key) and timestamp with its
// online keys and commits everything in one store transaction.
//
// The current timestamp of each repository is served from memory with a
// precomputed ETag; the store's change notifications (and a short TTL as a
// backstop) keep replicas that share a database consistent.
package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/internal/bufpool"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/metrics"
	"github.com/rampart-tuf/rampart/server/notaryapi"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
)

// Config configures a Server. Store, Signer and Blobs are required.
type Config struct {
	Store  store.Store
	Signer signer.Signer
	// Blobs holds uploaded target content. Replicas that share a Store
	// must share it too (postgres.Store.Blobs does), or each serves only
	// the uploads it received.
	Blobs  blob.Store
	Logger *slog.Logger // default: slog.Default()

	// NoAuth lets every request write: for local experiments only.
	NoAuth bool

	// TimestampExpiry and SnapshotExpiry are the lifetimes of the
	// documents the server signs (default 24h and 7 days). The server
	// signs them again when a third of their lifetime is left.
	TimestampExpiry time.Duration
	SnapshotExpiry  time.Duration
	// ResignInterval is how often the server looks for documents to sign
	// again (default 1 minute).
	ResignInterval time.Duration

	// TimestampHistory is how many timestamp versions of each repository
	// are kept, the current one included (default 1000); the garbage
	// collection, every GCInterval (default 1 hour), deletes older ones.
	TimestampHistory int64
	// GCInterval is how often Run collects garbage, first when it starts;
	// a negative interval leaves the collection to CollectGarbage calls
	// (rampart serve gc).
	GCInterval time.Duration
	// GCGrace is how long the garbage collection keeps target content
	// after it was last uploaded or listed (default DefaultGCGrace);
	// content the server still serves is always kept.
	GCGrace time.Duration

	// MaxMetadataBytes caps a publish request body (default 16 MiB);
	// MaxTargetBytes caps a target upload (default 1 GiB).
	MaxMetadataBytes int64
	MaxTargetBytes   int64

	// MaxStagedBytes caps the documents of one staged update, a publish
	// uploaded in parts of at most MaxMetadataBytes (default 4 GiB);
	// StagedExpiry is how long a staged update may wait for its commit
	// (default 24h). MaxOpenStaged bounds the staged updates a repository
	// may have open at once (default 4), so that its push tokens cannot
	// hold more than MaxOpenStaged × MaxStagedBytes of staged documents.
	MaxStagedBytes int64
	StagedExpiry   time.Duration
	MaxOpenStaged  int

	// CacheTTL bounds how long a cached timestamp is served without
	// asking the store, in case a change notification is lost (default
	// 1s).
	CacheTTL time.Duration
	// CurrentMaxAge is the Cache-Control max-age of timestamp.json and
	// root.json (default 5s); VersionedMaxAge that of versioned files and
	// targets (default 1 day).
	CurrentMaxAge   time.Duration
	VersionedMaxAge time.Duration

	// Connection limits of HTTPServer: ReadHeaderTimeout (default 10s)
	// and MaxHeaderBytes (default 64 KiB) for request headers;
	// StallTimeout (default 30s), the longest a request body or a
	// response may go without progress; IdleTimeout (default 30s) for
	// idle keep-alive connections.
	ReadHeaderTimeout time.Duration
	StallTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// Metrics says who may read /metrics on Handler: MetricsPublic (the
	// default) anyone, MetricsToken a request with a token of pull scope
	// or more, MetricsElsewhere nobody (serve MetricsHandler on another
	// address).
	Metrics MetricsAccess

	// Registry receives the server's metrics; default: a new registry,
	// served on /metrics.
	Registry *metrics.Registry

	// Now returns the current time (default time.Now); for tests.
	Now func() time.Time
}

// MetricsAccess says who may read /metrics; see Config.Metrics.
type MetricsAccess int

// The ways of serving /metrics.
const (
	MetricsPublic MetricsAccess = iota
	MetricsToken
	MetricsElsewhere
)

// MetricsHandler returns the handler of the server's metrics (Prometheus
// text format), to serve where Config.Metrics says.
func (s *Server) MetricsHandler() http.Handler {
	return s.cfg.Registry.Handler()
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	switch s.cfg.Metrics {
	case MetricsElsewhere:
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for %s %s", r.Method, r.URL.Path))
		return
	case MetricsToken:
		if _, ok := s.authenticate(w, r, auth.Pull); !ok {
			return
		}
	}
	s.MetricsHandler().ServeHTTP(w, r)
}

// Server is the metadata server. Create it with New, serve Handler, and
// run Run in the background for notifications and re-signing.
type Server struct {
	cfg     Config
	store   store.Store
	signer  signer.Signer
	blobs   blob.Store
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler
	metrics *serverMetrics

	cacheMu  sync.RWMutex
	cache    map[string]*current
	cacheGen atomic.Uint64 // bumped by every invalidation

	currentCC, versionedCC []string // Cache-Control values

	gunLocks gunLocks // one publish, creation or deletion at a time per GUN in this process
	uploads  uploadGuard

	partBodies *bufpool.Pool // buffers of staged parts' bodies, for the next parts

	notary *notaryapi.API // Notary v1's API under /v2/
}

// partBodiesKept is how many buffers of staged parts' bodies a server
// keeps: a client sends two parts at a time (repo's partsInFlight).
const partBodiesKept = 2

// maxPartBodyKept bounds the room made in a buffer of a part's body for
// later parts, whatever the limit of a part (Config.MaxMetadataBytes).
const maxPartBodyKept = 64 << 20

// gunLocks holds a mutex for each GUN that a request is working on, and
// forgets it when the last holder or waiter is done, so that the map is as
// large as the number of requests in flight, not the number of names ever
// tried.
type gunLocks struct {
	mu    sync.Mutex
	locks map[string]*gunLock
}

type gunLock struct {
	sync.Mutex
	refs int // holders and waiters
}

// lock locks gun and returns the function that unlocks it.
func (g *gunLocks) lock(gun string) func() {
	g.mu.Lock()
	if g.locks == nil {
		g.locks = map[string]*gunLock{}
	}
	l := g.locks[gun]
	if l == nil {
		l = &gunLock{}
		g.locks[gun] = l
	}
	l.refs++
	g.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		g.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(g.locks, gun)
		}
		g.mu.Unlock()
	}
}

// len returns the number of GUNs locked or waited for.
func (g *gunLocks) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.locks)
}

// current is the cached current state of a repository.
type current struct {
	repo     store.Repo
	ts       []byte
	etag     string // quoted
	loadedAt time.Time

	// Precomputed header values for the fast path; never modified.
	etagHeader, lengthHeader []string
}

// New returns a server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Signer == nil || cfg.Blobs == nil {
		return nil, errors.New("server: Store, Signer and Blobs are required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.TimestampExpiry = cmp.Or(cfg.TimestampExpiry, 24*time.Hour)
	cfg.SnapshotExpiry = cmp.Or(cfg.SnapshotExpiry, 7*24*time.Hour)
	cfg.ResignInterval = cmp.Or(cfg.ResignInterval, time.Minute)
	cfg.MaxMetadataBytes = cmp.Or(cfg.MaxMetadataBytes, api.DefaultMaxMetadataBytes)
	cfg.MaxStagedBytes = cmp.Or(cfg.MaxStagedBytes, 4<<30)
	cfg.StagedExpiry = cmp.Or(cfg.StagedExpiry, 24*time.Hour)
	cfg.MaxOpenStaged = cmp.Or(cfg.MaxOpenStaged, 4)
	cfg.MaxTargetBytes = cmp.Or(cfg.MaxTargetBytes, 1<<30)
	cfg.CacheTTL = cmp.Or(cfg.CacheTTL, time.Second)
	cfg.CurrentMaxAge = cmp.Or(cfg.CurrentMaxAge, 5*time.Second)
	cfg.VersionedMaxAge = cmp.Or(cfg.VersionedMaxAge, 24*time.Hour)
	cfg.TimestampHistory = cmp.Or(cfg.TimestampHistory, 1000)
	cfg.GCInterval = cmp.Or(cfg.GCInterval, time.Hour)
	cfg.GCGrace = cmp.Or(cfg.GCGrace, DefaultGCGrace)
	cfg.ReadHeaderTimeout = cmp.Or(cfg.ReadHeaderTimeout, defaultReadHeaderTimeout)
	cfg.StallTimeout = cmp.Or(cfg.StallTimeout, defaultStallTimeout)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, defaultIdleTimeout)
	cfg.MaxHeaderBytes = cmp.Or(cfg.MaxHeaderBytes, defaultMaxHeaderBytes)
	if cfg.Registry == nil {
		cfg.Registry = metrics.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, signer: cfg.Signer, blobs: cfg.Blobs, log: cfg.Logger, now: cfg.Now,
		cache: map[string]*current{}, partBodies: bufpool.New(partBodiesKept, int(min(cfg.MaxMetadataBytes, maxPartBodyKept))),
	}
	s.metrics = newMetrics(cfg.Registry)
	s.currentCC = []string{cacheControl(cfg.CurrentMaxAge)}
	s.versionedCC = []string{cacheControl(cfg.VersionedMaxAge)}
	s.notary = s.newNotaryAPI()
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tuf/{rest...}", s.handleTUF)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("POST /api/v1/repositories/{rest...}", s.handleRepoPost) // create; publish; rotate a key
	mux.HandleFunc("PUT /api/v1/repositories/{rest...}", s.handleRepoPut)
	mux.HandleFunc("GET /api/v1/repositories/{rest...}", s.handleRepoGet)
	mux.HandleFunc("DELETE /api/v1/repositories/{rest...}", s.handleRepoDelete)
	mux.HandleFunc("GET /api/v1/changefeed", s.handleChangefeedAll)
	mux.HandleFunc("POST /api/v1/tokens", s.handleCreateToken)
	mux.HandleFunc("GET /api/v1/tokens", s.handleListTokens)
	mux.HandleFunc("DELETE /api/v1/tokens/{id}", s.handleRevokeToken)
	mux.Handle("/v2/", s.notary.Handler())
	mux.Handle(notaryapi.HealthPath, s.notary.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errorf(http.StatusNotFound, "", checkNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
	fastRoute := "GET /tuf/{rest...}"
	fastOK := s.metrics.requests.WithLabelValues(fastRoute, "200")
	fastDur := s.metrics.duration.WithLabelValues(fastRoute)
	notaryOK := s.metrics.requests.WithLabelValues("/v2/", "200")
	notaryDur := s.metrics.duration.WithLabelValues("/v2/")
	return s.withStallDeadlines(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if s.serveCachedTimestamp(w, r) {
			fastOK.Inc()
			fastDur.Observe(time.Since(start).Seconds())
			return
		}
		if s.notary.ServeCachedTimestamp(w, r) {
			notaryOK.Inc()
			notaryDur.Observe(time.Since(start).Seconds())
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		if err := checkRawPath(r); err != nil {
			s.fail(rec, r, badRequest("", checkRequest, "%v", err))
		} else {
			mux.ServeHTTP(rec, r)
		}
		s.metrics.observe(r.Pattern, rec.status, time.Since(start))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
		} else if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
		}
	}))
}

// serveCachedTimestamp serves GET /tuf/{gun}/metadata/timestamp.json
// straight from memory when the GUN's state is cached and fresh and the
// request has no conditional header: the hot path of every client. Only
// valid GUNs are ever cached, and the path around the GUN is fixed, so the
// path needs no further checks. It returns false to let the full handler
// answer.
func (s *Server) serveCachedTimestamp(w http.ResponseWriter, r *http.Request) bool {
	const prefix, suffix = "/tuf/", "/metadata/timestamp.json"
	p := r.URL.Path
	if r.Method != http.MethodGet || r.URL.RawPath != "" || len(p) <= len(prefix)+len(suffix) ||
		p[:len(prefix)] != prefix || p[len(p)-len(suffix):] != suffix || len(r.Header["If-None-Match"]) > 0 {
		return false
	}
	gun := p[len(prefix) : len(p)-len(suffix)]
	s.cacheMu.RLock()
	c := s.cache[gun]
	s.cacheMu.RUnlock()
	if c == nil || time.Since(c.loadedAt) >= s.cfg.CacheTTL {
		return false
	}
	s.metrics.cacheHits.Inc()
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Etag"] = c.etagHeader
	h["Cache-Control"] = s.currentCC
	h["Content-Length"] = c.lengthHeader
	w.Write(c.ts)
	return true
}

var jsonContentType = []string{"application/json"}

// recorder remembers the status of a response.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type serverMetrics struct {
	requests  *metrics.CounterVec
	duration  *metrics.HistogramVec
	publishes *metrics.CounterVec
	resigns   *metrics.Counter
	cacheHits *metrics.Counter
	cacheMiss *metrics.Counter
	mu        sync.Mutex
	resolved  map[[2]string]*metrics.Counter
}

func newMetrics(reg *metrics.Registry) *serverMetrics {
	return &serverMetrics{
		requests: reg.CounterVec("rampart_http_requests_total", "HTTP requests by route and status code.", "route", "code"),
		duration: reg.HistogramVec("rampart_http_request_duration_seconds", "HTTP request latency by route.",
			[]float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5}, "route"),
		publishes: reg.CounterVec("rampart_publishes_total", "Publish attempts by result.", "result"),
		resigns:   reg.Counter("rampart_resigns_total", "Timestamps re-signed before expiry."),
		cacheHits: reg.Counter("rampart_timestamp_cache_hits_total", "timestamp.json served from memory."),
		cacheMiss: reg.Counter("rampart_timestamp_cache_misses_total", "timestamp.json loaded from the store."),
		resolved:  map[[2]string]*metrics.Counter{},
	}
}

func (m *serverMetrics) observe(route string, code int, d time.Duration) {
	k := [2]string{cmp.Or(route, "invalid"), strconv.Itoa(code)}
	m.mu.Lock()
	c := m.resolved[k]
	if c == nil {
		c = m.requests.WithLabelValues(k[0], k[1])
		m.resolved[k] = c
	}
	m.mu.Unlock()
	c.Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Run watches the store for changes made by other replicas and re-signs
// timestamps (and online snapshots) before they expire, until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		if s.cfg.GCInterval < 0 {
			return
		}
		t := time.NewTicker(s.cfg.GCInterval)
		defer t.Stop()
		for {
			if _, err := s.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("garbage collection failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer wg.Done()
		s.store.Watch(ctx, s.invalidate)
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.cfg.ResignInterval)
		defer t.Stop()
		for {
			s.ResignExpiring(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Wait()
	return nil
}

// invalidate drops the cached state of gun, or of every GUN when gun is
// empty.
func (s *Server) invalidate(gun string) {
	s.cacheMu.Lock()
	s.cacheGen.Add(1)
	if gun == "" {
		clear(s.cache)
	} else {
		delete(s.cache, gun)
	}
	s.cacheMu.Unlock()
	s.notary.Invalidate(gun)
}

// currentState returns the repository's current state and timestamp, from
// memory when they were loaded less than CacheTTL ago.
func (s *Server) currentState(ctx context.Context, gun string) (*current, error) {
	s.cacheMu.RLock()
	c := s.cache[gun]
	s.cacheMu.RUnlock()
	if c != nil && time.Since(c.loadedAt) < s.cfg.CacheTTL {
		s.metrics.cacheHits.Inc()
		return c, nil
	}
	s.metrics.cacheMiss.Inc()
	gen := s.cacheGen.Load()
	repo, err := s.store.Repo(ctx, gun)
	if err != nil {
		return nil, err
	}
	f, err := s.store.File(ctx, gun, "timestamp", repo.TimestampVersion)
	if err != nil {
		return nil, err
	}
	c = &current{repo: repo, ts: f.Data, etag: etag(f.SHA256), loadedAt: time.Now()}
	c.etagHeader, c.lengthHeader = []string{c.etag}, []string{strconv.Itoa(len(c.ts))}
	s.cacheMu.Lock()
	if s.cacheGen.Load() == gen { // no invalidation raced with the load
		s.cache[gun] = c
	}
	s.cacheMu.Unlock()
	return c, nil
}

func etag(sha256hex string) string { return `"` + sha256hex + `"` }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
