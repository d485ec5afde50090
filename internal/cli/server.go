package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/internal/faketime"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/server/store/postgres"
)

// serverCommands returns the commands of the "server" group.
//
// Server commands run the metadata server and the signer (Notary API).
//
// Add a command by appending its constructor here; the group appears in
// the help output as soon as it has a command.
func serverCommands() []*cobra.Command {
	return []*cobra.Command{newServeCommand(), newTokenCommand()}
}

const serveLong = `Run the Rampart metadata server: many TUF repositories, each named by a
GUN such as example.com/acme/app, with online snapshot and timestamp
signing.

Clients read a repository at http://ADDR/tuf/GUN (metadata/ and targets/
in the consistent-snapshot layout); maintainers publish signed metadata to
/api/v1/repositories/GUN/metadata with a bearer token.

State lives in DIR: the embedded database (rampart.db) unless --store names
a PostgreSQL database, target content (blobs/) unless it goes to the
database, and, written on first start, an admin token (admin.token, mode
0600).

--blobs says where uploaded target content goes: disk (DIR/blobs) or
database (the PostgreSQL store, in chunks next to the metadata). The
default is database with --store, so that replicas sharing a database serve
each other's uploads with no shared volume, and disk without --store;
database needs --store. With --blobs disk, each replica serves only the
content uploaded to it, unless DIR/blobs is a volume they all mount.
Content already in DIR/blobs (from a server that kept it on disk) is
copied into the database at start, checked against its digest, and the
files are left in place; the directory is not read after that.

The online (timestamp and snapshot) keys are held in one of two ways:

  - In-process, the default: the server makes the keys and keeps them in
    its store, each private key encrypted (AES-256-GCM) under the secret
    in DIR/online-keys.secret, which is created on first start.
    --online-key-secret reads the secret from another file instead. Give
    every replica that shares a store the same secret, and keep it out of
    the database's backups: the database alone reveals no key.
  - In a signing service (rampart signer serve), with --signer HOST:PORT:
    the server then keeps no private key and no secret, and asks the
    service for keys and signatures over HTTPS. The service only speaks
    mutual TLS, so --signer needs --signer-ca (the CAs that signed the
    service's certificate, which must name HOST), --signer-cert and
    --signer-key (this server's client certificate and its private key);
    --signer-timeout bounds each call. --online-key-secret does not go
    with --signer.

Keys do not move from one to the other: after a switch the server holds
none of the keys a repository's root trusts, and cannot sign for it until
a root listing the new keys (GET /api/v1/repositories/GUN/keys/ROLE) is
published.

  rampart serve --data /var/lib/rampart
  rampart serve --data /var/lib/rampart --store postgres://rampart@db/rampart --addr :443 \
      --tls-cert cert.pem --tls-key key.pem
  rampart serve --data /var/lib/rampart --signer signer.internal:7899 \
      --signer-ca signer-ca.pem --signer-cert server.pem --signer-key server-key.pem`

// serveOptions are the flags of rampart serve.
type serveOptions struct {
	addr, data, storeURL, signerAddr string
	blobs                            string              // --blobs: "disk", "database" or "" (by --store)
	signer                           remoteSignerOptions // --signer-* (signer.go)
	noAuth                           bool
	tlsCert, tlsKey, tlsClientCA     string
	secretFile                       string
	timestampExpiry, snapshotExpiry  time.Duration
	maxMetadata, maxTarget           int64
	logFormat, logLevel              string
	timestampHistory                 int64
	gcInterval, gcGrace              time.Duration
	metricsAddr                      string // --metrics-addr: /metrics there, not on --addr
	metricsToken                     bool   // --metrics-token: /metrics needs a token
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the TUF metadata server",
		Long:  serveLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	cmd.AddCommand(newServeGCCommand())
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:4443", "address to listen on, HOST:PORT")
	f.StringVar(&o.data, "data", "", "data directory (required)")
	f.StringVar(&o.storeURL, "store", "", "PostgreSQL URL (postgres://...); default: the embedded database in DIR")
	f.StringVar(&o.blobs, "blobs", "", "where target content goes: disk (DIR/blobs) or database (the PostgreSQL store); default: database with --store, disk without")
	f.StringVar(&o.signerAddr, "signer", "", "keep online keys in the signing service at HOST:PORT (rampart signer serve) rather than in the store")
	o.signer.addFlags(f)
	f.BoolVar(&o.noAuth, "insecure-no-auth", false, "let anyone write: for local experiments only")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.tlsClientCA, "tls-client-ca", "", "require client certificates signed by the CAs in this file (PEM)")
	f.StringVar(&o.secretFile, "online-key-secret", "", "file with the secret that encrypts online keys (default DIR/online-keys.secret, created if missing)")
	durationVar(f, &o.timestampExpiry, "timestamp-expiry", 24*time.Hour, "lifetime of the timestamps the server signs")
	durationVar(f, &o.snapshotExpiry, "snapshot-expiry", 7*24*time.Hour, "lifetime of the snapshots the server signs")
	byteSizeVar(f, &o.maxMetadata, "max-metadata-bytes", 16<<20, "largest publish request body")
	byteSizeVar(f, &o.maxTarget, "max-target-bytes", 1<<30, "largest target upload")
	f.Int64Var(&o.timestampHistory, "timestamp-history", 1000, "timestamp versions of each repository to keep; the garbage collection deletes older ones")
	durationVar(f, &o.gcInterval, "gc-interval", time.Hour, "how often the garbage collection runs (rampart serve gc runs it now)")
	durationVar(f, &o.gcGrace, "gc-grace", server.DefaultGCGrace, "keep target content that no metadata lists for this long after its upload or last listing")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics on this HOST:PORT (plain HTTP) and not on --addr")
	f.BoolVar(&o.metricsToken, "metrics-token", false, "/metrics on --addr needs a bearer token (pull scope or more)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format must be text or json, not %q", format)
}

// openServerStore opens the PostgreSQL store at url, or the embedded store
// in dir.
func openServerStore(ctx context.Context, dir, url string) (store.Store, error) {
	if url != "" {
		if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
			return nil, usageErrorf("--store must be a postgres:// URL")
		}
		return postgres.Open(ctx, url)
	}
	return bolt.Open(filepath.Join(dir, "rampart.db"))
}

// Where rampart serve keeps target content (--blobs).
const (
	blobsDisk     = "disk"
	blobsDatabase = "database"
)

// blobsKind returns where rampart serve keeps target content, checking
// --blobs against --store.
func (o serveOptions) blobsKind() (string, error) {
	switch o.blobs {
	case "":
		if o.storeURL != "" {
			return blobsDatabase, nil
		}
		return blobsDisk, nil
	case blobsDisk:
		return blobsDisk, nil
	case blobsDatabase:
		if o.storeURL == "" {
			return "", usageErrorf("--blobs database keeps target content in the PostgreSQL store: it needs --store postgres://...")
		}
		return blobsDatabase, nil
	}
	return "", usageErrorf("--blobs must be disk or database, not %q", o.blobs)
}

// openBlobs returns the blob store of rampart serve: DIR/blobs, or the
// PostgreSQL store's.
func openBlobs(ctx context.Context, kind, dir string, st store.Store, log *slog.Logger) (blob.Store, error) {
	diskDir := filepath.Join(dir, "blobs")
	if kind == blobsDisk {
		return blob.OpenDir(diskDir)
	}
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil, usageErrorf("--blobs database needs a PostgreSQL store (--store)")
	}
	db := pg.Blobs()
	if entries, err := os.ReadDir(filepath.Join(diskDir, "sha256")); err == nil && len(entries) > 0 {
		// Content uploaded while this replica kept it on disk: copy it
		// into the database, so that no target goes missing when the
		// content moves there. The files stay where they are.
		disk, err := blob.OpenDir(diskDir)
		if err != nil {
			return nil, err
		}
		log.Info("copying target content from the data directory into the database", "dir", diskDir)
		res, err := blob.Copy(ctx, db, disk)
		if err != nil {
			return nil, fmt.Errorf("copying target content from %s into the database: %w", diskDir, err)
		}
		for _, sum := range res.Bad {
			log.Warn("not copied: the content does not match its SHA-256", "dir", diskDir, "sha256", sum)
		}
		log.Info("target content copied into the database; the directory is no longer read", "dir", diskDir, "copied", res.Copied, "already_there", res.Present, "damaged", len(res.Bad))
	}
	return db, nil
}

func runServe(ctx context.Context, stderr io.Writer, o serveOptions) error {
	blobsKind, err := o.check()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	// Everything that can fail fails before the admin token is written
	// and "listening" is logged: TLS files, the store, the port.
	tlsConfig, err := serveTLSConfig(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	st, err := openServerStore(ctx, o.data, o.storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	defer ln.Close()
	var mln net.Listener
	if o.metricsAddr != "" {
		if mln, err = net.Listen("tcp", o.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer mln.Close()
	}
	sg, closeSigner, err := openServeSigner(ctx, o, st, log)
	if err != nil {
		return err
	}
	defer closeSigner()
	blobs, err := openBlobs(ctx, blobsKind, o.data, st, log)
	if err != nil {
		return err
	}
	if !o.noAuth {
		if err := ensureAdminToken(ctx, st, filepath.Join(o.data, server.AdminTokenFile), log); err != nil {
			return err
		}
	} else {
		log.Warn("--insecure-no-auth: anyone can publish, rotate keys and delete repositories")
	}
	srv, err := server.New(server.Config{
		Store: st, Signer: sg, Blobs: blobs, Logger: log, NoAuth: o.noAuth,
		TimestampExpiry: o.timestampExpiry, SnapshotExpiry: o.snapshotExpiry,
		MaxMetadataBytes: o.maxMetadata, MaxTargetBytes: o.maxTarget,
		Metrics: o.metricsAccess(), TimestampHistory: o.timestampHistory,
		GCInterval: o.gcInterval, GCGrace: o.gcGrace,
	})
	if err != nil {
		return err
	}
	if err := srv.IndexListings(ctx); err != nil {
		return err
	}
	hs := srv.HTTPServer()
	hs.Addr = o.addr
	hs.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	hs.TLSConfig = tlsConfig
	if mln != nil {
		defer serveMetrics(mln, srv, log)()
	}
	storeKind := "embedded (" + filepath.Join(o.data, "rampart.db") + ")"
	if o.storeURL != "" {
		storeKind = "postgres"
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "store", storeKind, "blobs", blobsKind)
	return serveUntilDone(ctx, srv, hs, ln, o.tlsCert != "", log)
}

// check checks the flags of rampart serve that go together, and returns
// where target content goes.
func (o serveOptions) check() (blobsKind string, err error) {
	if o.data == "" {
		return "", usageErrorf("--data is required")
	}
	if blobsKind, err = o.blobsKind(); err != nil {
		return "", err
	}
	if err := o.signer.check(o.signerAddr); err != nil {
		return "", err
	}
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return "", usageErrorf("--tls-cert and --tls-key go together")
	case o.tlsClientCA != "" && o.tlsCert == "":
		return "", usageErrorf("--tls-client-ca needs --tls-cert and --tls-key")
	case o.signerAddr != "" && o.secretFile != "":
		return "", usageErrorf("--online-key-secret is for keys in the store, not with --signer")
	case o.gcInterval < 0:
		return "", usageErrorf("--gc-interval must be positive")
	case o.gcGrace < 0:
		return "", usageErrorf("--gc-grace must not be negative")
	}
	return blobsKind, nil
}

// openServeSigner returns the holder of the online keys: the signing
// service of --signer, or the store with keys sealed under the secret
// file. The function returned releases it.
func openServeSigner(ctx context.Context, o serveOptions, st store.Store, log *slog.Logger) (signer.Signer, func(), error) {
	if o.signerAddr != "" {
		remote, err := dialRemoteSigner(o.signerAddr, o.signer)
		if err != nil {
			return nil, nil, err
		}
		log.Info("online keys in the signing service", "signer", o.signerAddr)
		return remote, func() { remote.Close() }, nil
	}
	secretFile := o.secretFile
	if secretFile == "" {
		secretFile = filepath.Join(o.data, "online-keys.secret")
	}
	secret, err := signer.LoadOrCreateSecret(secretFile)
	if err != nil {
		return nil, nil, err
	}
	local, err := signer.NewLocal(st, secret)
	if err != nil {
		return nil, nil, err
	}
	if err := local.CheckSecret(ctx); err != nil {
		return nil, nil, fmt.Errorf("online key secret %s: %w; every server sharing a store needs the same secret (--online-key-secret)", secretFile, err)
	}
	return local, func() {}, nil
}

// serveMetrics serves /metrics on mln and returns the function that stops
// it.
func serveMetrics(mln net.Listener, srv *server.Server, log *slog.Logger) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	go ms.Serve(mln)
	log.Info("metrics", "addr", mln.Addr().String())
	return func() { ms.Close() }
}

// serveUntilDone serves hs on ln, and runs the server's background work
// (re-signing, garbage collection), until ctx is done or serving fails;
// then it shuts down, giving requests in flight 10 seconds.
func serveUntilDone(ctx context.Context, srv *server.Server, hs *http.Server, ln net.Listener, tls bool, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan struct{})
	go func() { srv.Run(ctx); close(runDone) }()
	errc := make(chan error, 1)
	go func() {
		if tls {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = hs.Shutdown(sctx)
		scancel()
	}
	cancel()
	<-runDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

const serveGCLong = `Do now what rampart serve does on its own every --gc-interval:

  - delete the timestamp versions of each repository beyond
    --timestamp-history;
  - delete the records of target content that no metadata has listed for
    --grace (uploaded, or last listed, longer ago than that; content that
    a repository still serves is always kept), and those of deleted
    repositories;
  - remove target content (from DIR/blobs, or the database with --blobs
    database) that no repository holds any more and that was stored longer
    than --grace ago.

With the embedded store the server must be stopped (the database is
locked); with --store it may run, and --grace must then leave uploads
time to be published (keep the default). The temporary files of uploads
that a killed server left in DIR/blobs/tmp are removed too.

It prints what it removed.`

// newServeGCCommand returns "rampart serve gc".
func newServeGCCommand() *cobra.Command {
	var o serveOptions
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc --data DIR [--store URL]",
		Short: "Collect the server's garbage now",
		Long:  serveGCLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServeGC(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o, grace)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", "", "data directory of the server (required)")
	f.StringVar(&o.storeURL, "store", "", "PostgreSQL URL (postgres://...); default: the embedded database in DIR")
	f.StringVar(&o.blobs, "blobs", "", "where the server keeps target content: disk (DIR/blobs) or database; default: database with --store, disk without")
	f.Int64Var(&o.timestampHistory, "timestamp-history", 1000, "timestamp versions of each repository to keep")
	durationVar(f, &grace, "grace", server.DefaultGCGrace, "keep target content uploaded or listed less than this long ago")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func runServeGC(ctx context.Context, stdout, stderr io.Writer, o serveOptions, grace time.Duration) error {
	if o.data == "" {
		return usageErrorf("--data is required")
	}
	if grace < 0 {
		return usageErrorf("--grace must not be negative")
	}
	blobsKind, err := o.blobsKind()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.data, "rampart.db")); o.storeURL == "" && err != nil {
		return fmt.Errorf("%s holds no server data (no rampart.db): name the --data directory 'rampart serve' runs with, or its database with --store", o.data)
	}
	st, err := openServerStore(ctx, o.data, o.storeURL)
	if err != nil {
		return err
	}
	defer st.Close()
	var blobs blob.Store
	if _, err := os.Stat(filepath.Join(o.data, "blobs")); err == nil || blobsKind == blobsDatabase {
		// Opening DIR/blobs removes abandoned uploads.
		if blobs, err = openBlobs(ctx, blobsKind, o.data, st, log); err != nil {
			return err
		}
	}
	// A test harness may move the clock (libfaketime's FAKETIME).
	now, err := faketime.Now(os.Getenv("FAKETIME"), time.Now())
	if err != nil {
		return fmt.Errorf("FAKETIME: %w", err)
	}
	res, err := server.CollectGarbage(ctx, st, blobs, server.GCOptions{TimestampHistory: o.timestampHistory, Grace: grace, Now: now}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %d timestamp versions\n", res.Timestamps)
	fmt.Fprintf(stdout, "deleted %d target records\n", len(res.Targets))
	for _, t := range res.Targets {
		fmt.Fprintf(stdout, "  %s sha256:%s (%d bytes)\n", t.GUN, t.SHA256, t.Length)
	}
	fmt.Fprintf(stdout, "removed %d blobs (%d bytes)\n", len(res.Blobs), res.Bytes)
	for _, sum := range res.Blobs {
		fmt.Fprintf(stdout, "  sha256:%s\n", sum)
	}
	return nil
}

// metricsAccess says who may read /metrics on --addr.
func (o serveOptions) metricsAccess() server.MetricsAccess {
	switch {
	case o.metricsAddr != "":
		return server.MetricsElsewhere
	case o.metricsToken:
		return server.MetricsToken
	}
	return server.MetricsPublic
}

// ensureAdminToken writes an admin token to path on first start, and makes
// sure that the store knows the token in path (after a switch of store,
// say). The token's description, server.AdminTokenDescription of the
// file's absolute path, marks it as this token: the server refuses to
// revoke it, since it would be stored again here at the next start.
func ensureAdminToken(ctx context.Context, st store.Store, path string, log *slog.Logger) error {
	desc := path
	if abs, err := filepath.Abs(path); err == nil {
		desc = abs
	}
	desc = server.AdminTokenDescription(desc)
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if !auth.WellFormed(tok) {
			return fmt.Errorf("%s does not hold a token; remove it to have a new one made", path)
		}
		_, err := st.Token(ctx, auth.Hash(tok))
		if errors.Is(err, store.ErrNotFound) {
			err = st.CreateToken(ctx, store.Token{Hash: auth.Hash(tok), Scope: "admin", Description: desc})
		}
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		log.Info("admin token", "file", path, "id", store.TokenID(auth.Hash(tok)))
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin token: %w", err)
	}
	tok, hash := auth.NewToken()
	if err := st.CreateToken(ctx, store.Token{Hash: hash, Scope: "admin", Description: desc}); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("admin token: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	log.Info("wrote a new admin token", "file", path, "id", store.TokenID(hash))
	return nil
}

// serveTLSConfig loads the TLS files of o, or returns nil without
// --tls-cert.
func serveTLSConfig(o serveOptions) (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", o.tlsCert, o.tlsKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.tlsClientCA != "" {
		pem, err := os.ReadFile(o.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca %s: no PEM certificates", o.tlsClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
