// Package quickstart is the demonstration behind `rampart quickstart`: in a
// temporary directory it creates a TUF repository with the repository
// library, publishes it, serves it over HTTP on loopback, fetches a target
// with the client, shows the client refusing a tampered file, and publishes
// an update the client then picks up. Then it starts the metadata server
// on loopback, keeps a repository on it (the server signs timestamp and
// snapshot) and fetches from it. It says what it did at each step.
package quickstart

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// CommandRunner runs a rampart command line (without the program name) and
// writes its standard output to stdout.
type CommandRunner func(ctx context.Context, args []string, stdout io.Writer) error

// Run performs the demonstration in a new temporary directory under dir
// (os.TempDir() when empty), which it removes unless keep is set. It
// reports each step to out. With a CommandRunner, the client steps run as
// `rampart client` commands, shown as they run; without one they call the
// client library.
func Run(ctx context.Context, out io.Writer, dir string, keep bool, rampart CommandRunner) error {
	work, err := os.MkdirTemp(dir, "rampart-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "working in %s (kept)\n", work)
	} else {
		defer os.RemoveAll(work)
		fmt.Fprintf(out, "working in %s (removed at the end)\n", work)
	}
	d := &demo{
		ctx: ctx, out: out, work: work, rampart: rampart,
		repoDir:    filepath.Join(work, "repo"),
		publicDir:  filepath.Join(work, "public"),
		contentDir: filepath.Join(work, "content"),
		clientDir:  filepath.Join(work, "client"),
		files: map[string]string{
			"hello.txt":            "hello, world\n",
			"releases/app-1.0.tgz": "pretend this is a release tarball\n",
		},
	}

	// 1. A repository, with keys encrypted under a one-time passphrase.
	err = d.createRepo()
	if d.r != nil {
		defer d.r.Close()
	}
	if err != nil {
		return err
	}

	// 2. Serve it, as any static web server or CDN could.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(d.publicDir))}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "4. Serve it at %s, as any static web server could\n", base)
	fmt.Fprintln(out, "5. Client: trust the first root (obtained out of band), refresh root, timestamp,")
	fmt.Fprintln(out, "   snapshot and targets, then download releases/app-1.0.tgz")

	// 3. A client that trusts the first root, obtained out of band.
	if err := d.firstFetch(base); err != nil {
		return err
	}

	// 4. A mirror that serves something else is caught.
	if err := d.tamper(); err != nil {
		return err
	}

	// 5. An update.
	if err := d.update(); err != nil {
		return err
	}

	if err := onServer(ctx, out, work, d.opts, d.contentDir, rampart); err != nil {
		return fmt.Errorf("repository on a metadata server: %w", err)
	}
	fmt.Fprintf(out, "ok: the client trusts only what the repository's keys signed (spec %s)\n", metadata.SpecVersion)
	return nil
}

// demo is the state of the first half of the demonstration: a repository
// published to a directory served over HTTP, and its client.
type demo struct {
	ctx     context.Context
	out     io.Writer
	work    string
	rampart CommandRunner

	repoDir, publicDir, contentDir, clientDir string
	files                                     map[string]string // the targets added

	opts repo.Options
	r    *repo.Repo
	c    *client.Client // the library client
}

// createRepo makes the repository, adds the targets and publishes it
// (steps 1 to 3). The caller closes d.r.
func (d *demo) createRepo() error {
	ctx, out := d.ctx, d.out
	pass := make([]byte, 16)
	rand.Read(pass)
	passphrase := func(string) ([]byte, error) { return []byte(hex.EncodeToString(pass)), nil }
	d.opts = repo.Options{Keys: &repo.EncryptedKeyStore{Passphrase: passphrase}}
	fmt.Fprintln(out, "1. Create a repository with new keys for root, targets, snapshot and timestamp,")
	fmt.Fprintln(out, "   encrypted at rest under a one-time passphrase")
	fmt.Fprint(out, "   generating and encrypting 4 keys (argon2id, a second or so each)... ")
	r, err := repo.Init(ctx, d.repoDir, repo.InitOptions{}, d.opts)
	if err != nil {
		fmt.Fprintln(out)
		return err
	}
	d.r = r
	fmt.Fprintln(out, "done")

	for p, c := range d.files {
		dst := filepath.Join(d.contentDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, []byte(c), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "2. Add %d targets; sign targets, snapshot and timestamp\n", len(d.files))
	if _, err := r.AddFiles(ctx, d.contentDir, "", repo.AddOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "3. Publish the repository to %s\n", d.publicDir)
	res, err := r.Publish(ctx, d.publicDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d metadata files and %d targets written\n", res.MetadataFiles, res.TargetFiles)
	return nil
}

// firstFetch sets the clients up to trust the first root and downloads a
// target (step 5).
func (d *demo) firstFetch(base string) error {
	ctx, out := d.ctx, d.out
	root, err := os.ReadFile(filepath.Join(d.publicDir, "metadata", "1.root.json"))
	if err != nil {
		return err
	}
	if err := client.Init(filepath.Join(d.clientDir, "metadata"), root); err != nil {
		return err
	}
	d.c, err = client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: filepath.Join(d.clientDir, "metadata")})
	if err != nil {
		return err
	}
	if d.rampart != nil {
		rootFile := filepath.Join(d.work, "root.json")
		if err := os.WriteFile(rootFile, root, 0o644); err != nil {
			return err
		}
		args := []string{"client", "init", "--url", base, "--root", rootFile, "--dir", filepath.Join(d.clientDir, "cli")}
		fmt.Fprintf(out, "   $ rampart %s\n", strings.Join(args, " "))
		var stdout bytes.Buffer
		if err := d.rampart(ctx, args, &stdout); err != nil {
			return err
		}
		fmt.Fprint(out, indent(stdout.String()))
	}
	info, data, err := d.get("releases/app-1.0.tgz")
	if err != nil {
		return fmt.Errorf("client get: %w", err)
	}
	if string(data) != d.files["releases/app-1.0.tgz"] {
		return fmt.Errorf("client got %q", data)
	}
	fmt.Fprintf(out, "   releases/app-1.0.tgz (%d bytes) verified against its signed length and sha256\n", info.Length)
	d.c.Refresh(ctx) // the library client, for the next steps' lookups
	return nil
}

// get downloads target p with `rampart client get`, or the library client
// when there is no CommandRunner, and returns its content.
func (d *demo) get(p string) (client.TargetInfo, []byte, error) {
	ctx := d.ctx
	dst := filepath.Join(d.clientDir, "downloads", filepath.FromSlash(p))
	if d.rampart != nil {
		args := []string{"client", "get", "--dir", filepath.Join(d.clientDir, "cli"), p, "-o", dst}
		fmt.Fprintf(d.out, "   $ rampart %s\n", strings.Join(args, " "))
		var stdout bytes.Buffer
		err := d.rampart(ctx, args, &stdout)
		fmt.Fprint(d.out, indent(stdout.String()))
		if err != nil {
			return client.TargetInfo{}, nil, err
		}
		data, err := os.ReadFile(dst)
		return client.TargetInfo{Path: p, TargetFile: metadata.TargetFile{Length: int64(len(data))}}, data, err
	}
	info, err := d.c.Target(ctx, p)
	if err != nil {
		return info, nil, err
	}
	if _, err := d.c.DownloadFile(ctx, info, dst); err != nil {
		return info, nil, err
	}
	data, err := os.ReadFile(dst)
	return info, data, err
}

// tamper changes a published target and checks that the client refuses
// it (step 6), then puts it back.
func (d *demo) tamper() error {
	helloInfo, err := d.c.Target(d.ctx, "hello.txt")
	if err != nil {
		return err
	}
	served := filepath.Join(d.publicDir, "targets", filepath.FromSlash(helloInfo.ConsistentPath("hello.txt")))
	genuine, err := os.ReadFile(served)
	if err != nil {
		return err
	}
	if err := os.WriteFile(served, bytes.ToUpper(genuine), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "6. Tamper with hello.txt on the server: the client must refuse it")
	if _, _, err := d.get("hello.txt"); err == nil {
		return fmt.Errorf("the client accepted a tampered target")
	} else {
		fmt.Fprintf(d.out, "   the client refused it:\n   %v\n", err)
	}
	return os.WriteFile(served, genuine, 0o644)
}

// update publishes a new version of a target, which the client gets
// (step 7).
func (d *demo) update() error {
	ctx := d.ctx
	fmt.Fprintln(d.out, "7. Publish an update of hello.txt; the client refreshes and gets it")
	if err := os.WriteFile(filepath.Join(d.contentDir, "hello.txt"), []byte("hello again\n"), 0o644); err != nil {
		return err
	}
	if _, err := d.r.AddFiles(ctx, filepath.Join(d.contentDir, "hello.txt"), "hello.txt", repo.AddOptions{}); err != nil {
		return err
	}
	res, err := d.r.Publish(ctx, d.publicDir)
	if err != nil {
		return err
	}
	if err := d.c.Refresh(ctx); err != nil { // `rampart client get` refreshes by itself
		return err
	}
	_, data, err := d.get("hello.txt")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "   published timestamp v%d; the client got hello.txt = %q\n", res.TimestampVer, data)
	return nil
}

// onServer runs the second half of the demonstration: rampart's metadata
// server on loopback with its embedded store, a repository kept on it
// whose root trusts the server's online timestamp and snapshot keys, a
// publish that uploads targets and metadata, and a client reading from
// the server.
func onServer(ctx context.Context, out io.Writer, work string, opts repo.Options, contentDir string, rampart CommandRunner) error {
	base, token, stop, err := startServer(ctx, work)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "8. Start rampart's metadata server (embedded store) at %s, with a push token\n   for example.com/...\n", base)

	const gun = "example.com/quickstart/app"
	c, err := apiclient.New(base, token, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "9. Create repository %s on it, whose root trusts the server's online\n   timestamp and snapshot keys, and publish to it\n", gun)
	fmt.Fprint(out, "   generating and encrypting 2 keys (root, targets)... ")
	r, err := repo.Init(ctx, filepath.Join(work, "server-repo"), repo.InitOptions{Server: c, GUN: gun}, opts)
	if err != nil {
		fmt.Fprintln(out)
		return err
	}
	fmt.Fprintln(out, "done")
	defer r.Close()
	if _, err := r.AddFiles(ctx, filepath.Join(contentDir, "releases"), "releases", repo.AddOptions{}); err != nil {
		return err
	}
	res, err := r.PublishToServer(ctx, c, repo.ServerOptions{})
	if err != nil {
		return err
	}
	tsKey := r.Root().Signed.Roles[metadata.TypeTimestamp].KeyIDs[0]
	fmt.Fprintf(out, "   root trusts the server's timestamp key %s; published: %d %s uploaded,\n   the server signed snapshot v%d and timestamp v%d\n",
		tsKey[:12], res.TargetsUploaded, plural(res.TargetsUploaded, "target", "targets"), res.SnapshotVersion, res.TimestampVersion)
	fmt.Fprintln(out, "10. Client: fetch releases/app-1.0.tgz from the server, verified through a timestamp")
	fmt.Fprintln(out, "    and snapshot the server signed with its online keys")

	root, err := os.ReadFile(filepath.Join(r.Dir(), "roots", "1.root.json"))
	if err != nil {
		return err
	}
	dst := filepath.Join(work, "server-download", "app-1.0.tgz")
	if err := fetchFromServer(ctx, out, work, c.RepositoryURL(gun), root, dst, rampart); err != nil {
		return err
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	want, err := os.ReadFile(filepath.Join(contentDir, "releases", "app-1.0.tgz"))
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("client got %q from the server", got)
	}
	fmt.Fprintln(out, "   verified")
	return nil
}

// startServer starts the metadata server on loopback with its embedded
// store in work/server, and makes a push token for example.com/...; stop
// shuts it down.
func startServer(ctx context.Context, work string) (base, token string, stop func(), err error) {
	var cleanup []func()
	stop = func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	data := filepath.Join(work, "server")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return "", "", nil, err
	}
	st, err := bolt.Open(filepath.Join(data, "rampart.db"))
	if err != nil {
		return "", "", nil, err
	}
	cleanup = append(cleanup, func() { st.Close() })
	secret := make([]byte, 32)
	rand.Read(secret)
	sg, err := signer.NewLocal(st, secret)
	if err != nil {
		return "", "", nil, err
	}
	blobs, err := blob.OpenDir(filepath.Join(data, "blobs"))
	if err != nil {
		return "", "", nil, err
	}
	srv, err := server.New(server.Config{Store: st, Signer: sg, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", nil, err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	cleanup = append(cleanup, func() { hs.Close() })
	runCtx, cancel := context.WithCancel(ctx)
	cleanup = append(cleanup, cancel)
	go srv.Run(runCtx)
	base = "http://" + ln.Addr().String()
	token, hash := auth.NewToken()
	if err := st.CreateToken(ctx, store.Token{Hash: hash, GUNPrefix: "example.com", Scope: "push", Description: "quickstart"}); err != nil {
		return "", "", nil, err
	}
	return base, token, stop, nil
}

// fetchFromServer downloads releases/app-1.0.tgz to dst from the
// repository at repoURL with a client trusting root, with `rampart client`
// commands or the client library.
func fetchFromServer(ctx context.Context, out io.Writer, work, repoURL string, root []byte, dst string, rampart CommandRunner) error {
	clientDir := filepath.Join(work, "server-client")
	if rampart != nil {
		rootFile := filepath.Join(work, "server-root.json")
		if err := os.WriteFile(rootFile, root, 0o644); err != nil {
			return err
		}
		for _, args := range [][]string{
			{"client", "init", "--url", repoURL, "--root", rootFile, "--dir", clientDir},
			{"client", "get", "--dir", clientDir, "releases/app-1.0.tgz", "-o", dst},
		} {
			fmt.Fprintf(out, "   $ rampart %s\n", strings.Join(args, " "))
			var stdout bytes.Buffer
			err := rampart(ctx, args, &stdout)
			fmt.Fprint(out, indent(stdout.String()))
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := client.Init(clientDir, root); err != nil {
		return err
	}
	cl, err := client.New(client.Config{MetadataURL: repoURL + "/metadata", TargetsURL: repoURL + "/targets", Dir: clientDir})
	if err != nil {
		return err
	}
	if err := cl.Refresh(ctx); err != nil {
		return err
	}
	info, err := cl.Target(ctx, "releases/app-1.0.tgz")
	if err != nil {
		return err
	}
	_, err = cl.DownloadFile(ctx, info, dst)
	return err
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "   " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n   ") + "\n"
}

// plural is singular when n is 1, else the plural form.
func plural(n int, singular, plural string) string {
	if n == 1 {
		return singular
	}
	return plural
}
