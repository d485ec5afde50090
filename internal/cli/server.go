package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
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
    service for keys and signatures over gRPC. The service only speaks
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
	f.DurationVar(&o.timestampExpiry, "timestamp-expiry", 24*time.Hour, "lifetime of the timestamps the server signs")
	f.DurationVar(&o.snapshotExpiry, "snapshot-expiry", 7*24*time.Hour, "lifetime of the snapshots the server signs")
	f.Int64Var(&o.maxMetadata, "max-metadata-bytes", 16<<20, "largest publish request body")
	f.Int64Var(&o.maxTarget, "max-target-bytes", 1<<30, "largest target upload")
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
	if o.data == "" {
		return usageErrorf("--data is required")
	}
	blobsKind, err := o.blobsKind()
	if err != nil {
		return err
	}
	if err := o.signer.check(o.signerAddr); err != nil {
		return err
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	if o.tlsClientCA != "" && o.tlsCert == "" {
		return usageErrorf("--tls-client-ca needs --tls-cert and --tls-key")
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
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
	var sg signer.Signer
	if o.signerAddr != "" {
		if o.secretFile != "" {
			return usageErrorf("--online-key-secret is for keys in the store, not with --signer")
		}
		remote, err := dialRemoteSigner(o.signerAddr, o.signer)
		if err != nil {
			return err
		}
		defer remote.Close()
		sg = remote
		log.Info("online keys in the signing service", "signer", o.signerAddr)
	} else {
		if o.secretFile == "" {
			o.secretFile = filepath.Join(o.data, "online-keys.secret")
		}
		secret, err := signer.LoadOrCreateSecret(o.secretFile)
		if err != nil {
			return err
		}
		if sg, err = signer.NewLocal(st, secret); err != nil {
			return err
		}
	}
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
	})
	if err != nil {
		return err
	}
	hs := &http.Server{
		Addr:              o.addr,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if o.tlsClientCA != "" {
		pem, err := os.ReadFile(o.tlsClientCA)
		if err != nil {
			return fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--tls-client-ca %s: no PEM certificates", o.tlsClientCA)
		}
		hs.TLSConfig = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan struct{})
	go func() { srv.Run(ctx); close(runDone) }()
	storeKind := "embedded (" + filepath.Join(o.data, "rampart.db") + ")"
	if o.storeURL != "" {
		storeKind = "postgres"
	}
	log.Info("listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "store", storeKind, "blobs", blobsKind)
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
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

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the server's access tokens",
		Args:  checkArgs(cobra.NoArgs),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenRevokeCommand())
	return cmd
}

// tokenTarget is where the token commands work: a running server (--server
// with an admin token) or the server's store directly (--data or --store).
type tokenTarget struct {
	serverURL, token, tokenFile, data, storeURL string
}

// addFlags declares the flags of tokenTarget; verb says what the store
// flags are for ("write into", "read").
func (o *tokenTarget) addFlags(f *pflag.FlagSet, what, verb string) {
	f.StringVar(&o.serverURL, "server", "", "URL of a running server to "+what)
	f.StringVar(&o.token, "token", "", "admin token for --server")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the admin token for --server")
	f.StringVar(&o.data, "data", "", "the server's data directory, to "+verb+" its store directly")
	f.StringVar(&o.storeURL, "store", "", "PostgreSQL URL of the server's store, to "+verb+" it directly")
}

// remote returns a client of --server, or nil without --server.
func (o *tokenTarget) remote() (*apiclient.Client, error) {
	if o.serverURL == "" {
		return nil, nil
	}
	token := o.token
	if token == "" && o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return nil, err
		}
		token = strings.TrimSpace(string(b))
	}
	c, err := apiclient.New(o.serverURL, token, nil)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	return c, nil
}

// openStore opens the store of --data or --store.
func (o *tokenTarget) openStore(ctx context.Context, verb string) (store.Store, error) {
	if o.data == "" && o.storeURL == "" {
		return nil, usageErrorf("give --server, or --data (or --store) to %s the store directly", verb)
	}
	return openServerStore(ctx, o.data, o.storeURL)
}

const tokenCreateLong = `Create an access token for the metadata server and print it.

A token covers the GUNs under --gun-prefix ("example.com/acme" covers
example.com/acme and example.com/acme/app, not example.com/acmecorp; an
empty prefix covers all) with a scope: pull reads changefeeds, push also
publishes metadata and uploads targets, admin also rotates online keys,
deletes repositories and creates, lists and revokes tokens.

With --server, the token is made by a running server and --token (or
RAMPART_TOKEN, or --token-file) must be an admin token covering the prefix.
Without it, the token is written straight into the store in --data (or
--store); the embedded store can only be opened while the server is
stopped.

  rampart token create --server http://127.0.0.1:4443 --token-file /var/lib/rampart/admin.token \
      --gun-prefix example.com/acme --scope push`

func newTokenCreateCommand() *cobra.Command {
	var prefix, scope, desc string
	var o tokenTarget
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a scoped access token",
		Long:  tokenCreateLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := auth.ParseScope(scope); err != nil {
				return usageErrorf("--scope: %v", err)
			}
			c, err := o.remote()
			if err != nil {
				return err
			}
			if c != nil {
				tok, err := c.CreateToken(cmd.Context(), prefix, scope, desc)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				return nil
			}
			st, err := o.openStore(cmd.Context(), "write into")
			if err != nil {
				return err
			}
			defer st.Close()
			tok, hash := auth.NewToken()
			if err := st.CreateToken(cmd.Context(), store.Token{Hash: hash, GUNPrefix: prefix, Scope: scope, Description: desc}); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "gun-prefix", "", "GUNs the token covers (empty: all)")
	f.StringVar(&scope, "scope", "", "pull, push or admin (required)")
	f.StringVar(&desc, "description", "", "what the token is for")
	o.addFlags(f, "create the token", "write into")
	return cmd
}

const tokenListLong = `List the metadata server's access tokens: their ID, the GUN prefix they
cover ("(all)" for every GUN), scope, creation time (UTC; "-" when the
store does not know it) and description. Secrets are never shown: the
server keeps only their hashes. A token's ID is the first 16 hex digits of
the SHA-256 of the token, the name "rampart token revoke" takes.

With --server, a running server answers, and --token (or RAMPART_TOKEN, or
--token-file) must be an admin token; an admin token for a GUN prefix sees
only the tokens within that prefix. Without it, the store in --data (or
--store) is read directly and every token is listed; the embedded store
can only be opened while the server is stopped.

  rampart token list --server http://127.0.0.1:4443 --token-file /var/lib/rampart/admin.token
  rampart token list --data /var/lib/rampart --json`

func newTokenListCommand() *cobra.Command {
	var o tokenTarget
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the access tokens",
		Long:  tokenListLong,
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := listTokens(cmd.Context(), &o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tGUN PREFIX\tSCOPE\tCREATED\tDESCRIPTION")
			for _, t := range list {
				prefix, created := t.GUNPrefix, "-"
				if prefix == "" {
					prefix = "(all)"
				}
				if !t.CreatedAt.IsZero() {
					created = t.CreatedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", printable(t.ID), printable(prefix), printable(t.Scope), created, printable(t.Description))
			}
			return tw.Flush()
		},
	}
	o.addFlags(cmd.Flags(), "list the tokens", "read")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// listTokens lists the tokens of the server or of the store.
func listTokens(ctx context.Context, o *tokenTarget) ([]apiclient.Token, error) {
	c, err := o.remote()
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c.ListTokens(ctx)
	}
	st, err := o.openStore(ctx, "read")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	all, err := st.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	list := make([]apiclient.Token, 0, len(all))
	for _, t := range all {
		list = append(list, storeToken(t))
	}
	return list, nil
}

func storeToken(t store.Token) apiclient.Token {
	return apiclient.Token{ID: t.ID, GUNPrefix: t.GUNPrefix, Scope: t.Scope, Description: t.Description, CreatedAt: t.CreatedAt}
}

// printable replaces control characters, which a description may hold,
// so that a listing cannot move the cursor or break the table.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

const tokenRevokeLong = `Revoke an access token of the metadata server: it stops working at once,
on every replica sharing the store. ID is the token's ID as "rampart token
list" shows it, or the token itself (rpt_...), whose ID is then computed
here; the token is not sent anywhere. An admin token may revoke itself.

With --server, a running server revokes the token, and --token (or
RAMPART_TOKEN, or --token-file) must be an admin token whose GUN prefix
contains the revoked token's. Without it, the token is deleted from the
store in --data (or --store) directly; the embedded store can only be
opened while the server is stopped.

The admin token in DATA/admin.token cannot be revoked through the server:
rampart serve stores it again at every start. To replace it, stop the
server, delete DATA/admin.token, revoke the token with --data DATA (or
--store URL) and start the server again, which writes a new admin token.

  rampart token revoke 3f9a0c1d2b4e5f60 --server http://127.0.0.1:4443 \
      --token-file /var/lib/rampart/admin.token
  rampart token revoke 3f9a0c1d2b4e5f60 --data /var/lib/rampart`

func newTokenRevokeCommand() *cobra.Command {
	var o tokenTarget
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an access token",
		Long:  tokenRevokeLong,
		Args:  checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseTokenID(args[0])
			if err != nil {
				return err
			}
			t, err := revokeToken(cmd.Context(), cmd.ErrOrStderr(), &o, id)
			if err != nil {
				return err
			}
			prefix := t.GUNPrefix
			if prefix == "" {
				prefix = "all GUNs"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %s (%s on %s", t.ID, printable(t.Scope), printable(prefix))
			if t.Description != "" {
				fmt.Fprintf(cmd.OutOrStdout(), ": %s", printable(t.Description))
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			return nil
		},
	}
	o.addFlags(cmd.Flags(), "revoke the token", "delete from")
	return cmd
}

// parseTokenID reads the argument of token revoke: an ID, or a token
// whose ID it computes.
func parseTokenID(arg string) (string, error) {
	if auth.WellFormed(arg) {
		return store.TokenID(auth.Hash(arg)), nil
	}
	id := strings.ToLower(arg)
	if _, err := hex.DecodeString(id); err == nil && len(id) == store.TokenIDLength {
		return id, nil
	}
	return "", usageErrorf("%q is neither a token ID (%d hex digits, as rampart token list shows) nor a token (rpt_...)", arg, store.TokenIDLength)
}

// revokeToken revokes the token with the given ID on the server or in the
// store. In the store, it refuses the admin token of a data directory
// while the token is still in its file: rampart serve would store it
// again.
func revokeToken(ctx context.Context, stderr io.Writer, o *tokenTarget, id string) (apiclient.Token, error) {
	c, err := o.remote()
	if err != nil {
		return apiclient.Token{}, err
	}
	if c != nil {
		return c.RevokeToken(ctx, id)
	}
	st, err := o.openStore(ctx, "delete from")
	if err != nil {
		return apiclient.Token{}, err
	}
	defer st.Close()
	var adminFile string
	t, err := st.DeleteToken(ctx, id, func(t store.Token) error {
		path, ok := server.AdminFileToken(t)
		if !ok {
			return nil
		}
		adminFile = path
		files := []string{path}
		if o.data != "" {
			files = append(files, filepath.Join(o.data, server.AdminTokenFile))
		}
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && store.TokenID(auth.Hash(strings.TrimSpace(string(b)))) == t.ID {
				return fmt.Errorf("token %s is the admin token in %s, which rampart serve stores again at every start; "+
					"delete %s first (the server then writes a new admin token at its next start) and revoke the token again", id, f, f)
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return apiclient.Token{}, fmt.Errorf("no token with ID %s", id)
	}
	if err != nil {
		return apiclient.Token{}, err
	}
	if adminFile != "" {
		fmt.Fprintf(stderr, "note: token %s was the admin token of %s; rampart serve writes a new one there at its next start\n", id, adminFile)
	}
	return storeToken(t), nil
}
