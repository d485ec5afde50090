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
	"github.com/rampart-tuf/rampart/internal/progress"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/auth"
	"github.com/rampart-tuf/rampart/server/blob"
	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
	"github.com/rampart-tuf/rampart/tuf/keys"
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
	var (
		repoDir    = filepath.Join(work, "repo")
		publicDir  = filepath.Join(work, "public")
		contentDir = filepath.Join(work, "content")
		clientDir  = filepath.Join(work, "client")
	)

	// 1. A repository, with keys encrypted under a one-time passphrase.
	pass := make([]byte, 16)
	rand.Read(pass)
	passphrase := func(string) ([]byte, error) { return []byte(hex.EncodeToString(pass)), nil }
	opts := repo.Options{Keys: &repo.EncryptedKeyStore{Passphrase: passphrase}}
	fmt.Fprintln(out, "1. Create a repository with new keys for root, targets, snapshot and timestamp,")
	fmt.Fprintln(out, "   encrypted at rest under a one-time passphrase (argon2id: a moment each)")
	r, err := repo.Init(ctx, repoDir, repo.InitOptions{}, withSteps(opts, out, 4))
	if err != nil {
		return err
	}
	defer r.Close()

	files := map[string]string{
		"hello.txt":            "hello, world\n",
		"releases/app-1.0.tgz": "pretend this is a release tarball\n",
	}
	for p, c := range files {
		dst := filepath.Join(contentDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, []byte(c), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "2. Add %d targets; sign targets, snapshot and timestamp\n", len(files))
	if _, err := r.AddFiles(ctx, contentDir, "", repo.AddOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "3. Publish the repository to %s\n", publicDir)
	res, err := r.Publish(ctx, publicDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d metadata files and %d targets written\n", res.MetadataFiles, res.TargetFiles)

	// 2. Serve it, as any static web server or CDN could.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(publicDir))}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "4. Serve it at %s, as any static web server could\n", base)
	fmt.Fprintln(out, "5. Client: trust the first root (obtained out of band), refresh root, timestamp,")
	fmt.Fprintln(out, "   snapshot and targets, then download releases/app-1.0.tgz")

	// 3. A client that trusts the first root, obtained out of band.
	root, err := os.ReadFile(filepath.Join(publicDir, "metadata", "1.root.json"))
	if err != nil {
		return err
	}
	if err := client.Init(filepath.Join(clientDir, "metadata"), root); err != nil {
		return err
	}
	c, err := client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: filepath.Join(clientDir, "metadata")})
	if err != nil {
		return err
	}
	get := func(p string) (client.TargetInfo, []byte, error) {
		dst := filepath.Join(clientDir, "downloads", filepath.FromSlash(p))
		if rampart != nil {
			args := []string{"client", "get", "--dir", filepath.Join(clientDir, "cli"), p, "-o", dst}
			fmt.Fprintf(out, "   $ rampart %s\n", strings.Join(args, " "))
			var stdout bytes.Buffer
			err := rampart(ctx, args, &stdout)
			fmt.Fprint(out, indent(stdout.String()))
			if err != nil {
				return client.TargetInfo{}, nil, err
			}
			data, err := os.ReadFile(dst)
			return client.TargetInfo{Path: p, TargetFile: metadata.TargetFile{Length: int64(len(data))}}, data, err
		}
		info, err := c.Target(ctx, p)
		if err != nil {
			return info, nil, err
		}
		if _, err := c.DownloadFile(ctx, info, dst); err != nil {
			return info, nil, err
		}
		data, err := os.ReadFile(dst)
		return info, data, err
	}
	if rampart != nil {
		rootFile := filepath.Join(work, "root.json")
		if err := os.WriteFile(rootFile, root, 0o644); err != nil {
			return err
		}
		args := []string{"client", "init", "--url", base, "--root", rootFile, "--dir", filepath.Join(clientDir, "cli")}
		fmt.Fprintf(out, "   $ rampart %s\n", strings.Join(args, " "))
		var stdout bytes.Buffer
		if err := rampart(ctx, args, &stdout); err != nil {
			return err
		}
		fmt.Fprint(out, indent(stdout.String()))
	}
	info, data, err := get("releases/app-1.0.tgz")
	if err != nil {
		return fmt.Errorf("client get: %w", err)
	}
	if string(data) != files["releases/app-1.0.tgz"] {
		return fmt.Errorf("client got %q", data)
	}
	fmt.Fprintf(out, "   releases/app-1.0.tgz (%d bytes) verified against its signed length and sha256\n", info.Length)
	c.Refresh(ctx) // the library client, for the next steps' lookups

	// 4. A mirror that serves something else is caught.
	helloInfo, err := c.Target(ctx, "hello.txt")
	if err != nil {
		return err
	}
	served := filepath.Join(publicDir, "targets", filepath.FromSlash(helloInfo.ConsistentPath("hello.txt")))
	genuine, err := os.ReadFile(served)
	if err != nil {
		return err
	}
	if err := os.WriteFile(served, bytes.ToUpper(genuine), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(out, "6. Tamper with hello.txt on the server: the client must refuse it")
	if _, _, err := get("hello.txt"); err == nil {
		return fmt.Errorf("the client accepted a tampered target")
	} else {
		fmt.Fprintf(out, "   the client refused it:\n   %v\n", err)
	}
	if err := os.WriteFile(served, genuine, 0o644); err != nil {
		return err
	}

	// 5. An update.
	fmt.Fprintln(out, "7. Publish an update of hello.txt; the client refreshes and gets it")
	if err := os.WriteFile(filepath.Join(contentDir, "hello.txt"), []byte("hello again\n"), 0o644); err != nil {
		return err
	}
	if _, err := r.AddFiles(ctx, filepath.Join(contentDir, "hello.txt"), "hello.txt", repo.AddOptions{}); err != nil {
		return err
	}
	if res, err = r.Publish(ctx, publicDir); err != nil {
		return err
	}
	if err := c.Refresh(ctx); err != nil { // `rampart client get` refreshes by itself
		return err
	}
	if _, data, err = get("hello.txt"); err != nil {
		return err
	}
	fmt.Fprintf(out, "   published timestamp v%d; the client got hello.txt = %q\n", res.TimestampVer, data)

	if err := onServer(ctx, out, work, opts, contentDir, rampart); err != nil {
		return fmt.Errorf("repository on a metadata server: %w", err)
	}
	fmt.Fprintf(out, "ok: the client trusts only what the repository's keys signed (spec %s)\n", metadata.SpecVersion)
	return nil
}

// onServer runs the second half of the demonstration: rampart's metadata
// server on loopback with its embedded store, a repository kept on it
// whose root trusts the server's online timestamp and snapshot keys, a
// publish that uploads targets and metadata, and a client reading from
// the server.
func onServer(ctx context.Context, out io.Writer, work string, opts repo.Options, contentDir string, rampart CommandRunner) error {
	data := filepath.Join(work, "server")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	st, err := bolt.Open(filepath.Join(data, "rampart.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	secret := make([]byte, 32)
	rand.Read(secret)
	sg, err := signer.NewLocal(st, secret)
	if err != nil {
		return err
	}
	blobs, err := blob.OpenDir(filepath.Join(data, "blobs"))
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{Store: st, Signer: sg, Blobs: blobs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	defer hs.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go srv.Run(runCtx)
	base := "http://" + ln.Addr().String()
	token, hash := auth.NewToken()
	if err := st.CreateToken(ctx, store.Token{Hash: hash, GUNPrefix: "example.com", Scope: "push", Description: "quickstart"}); err != nil {
		return err
	}
	fmt.Fprintf(out, "8. Start rampart's metadata server (embedded store) at %s, with a push token\n   for example.com/...\n", base)

	const gun = "example.com/quickstart/app"
	c, err := apiclient.New(base, token, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "9. Create repository %s on it, whose root trusts the server's online\n   timestamp and snapshot keys, and publish to it\n", gun)
	r, err := repo.Init(ctx, filepath.Join(work, "server-repo"), repo.InitOptions{Server: c, GUN: gun}, withSteps(opts, out, 2))
	if err != nil {
		return err
	}
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
	clientDir := filepath.Join(work, "server-client")
	dst := filepath.Join(work, "server-download", "app-1.0.tgz")
	if rampart != nil {
		rootFile := filepath.Join(work, "server-root.json")
		if err := os.WriteFile(rootFile, root, 0o644); err != nil {
			return err
		}
		for _, args := range [][]string{
			{"client", "init", "--url", c.RepositoryURL(gun), "--root", rootFile, "--dir", clientDir},
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
	} else {
		if err := client.Init(clientDir, root); err != nil {
			return err
		}
		cl, err := client.New(client.Config{MetadataURL: c.RepositoryURL(gun) + "/metadata", TargetsURL: c.RepositoryURL(gun) + "/targets", Dir: clientDir})
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
		if _, err := cl.DownloadFile(ctx, info, dst); err != nil {
			return err
		}
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

// withSteps returns opts with a key store that shows the creation of each
// of n keys as a step on w: a spinner on a terminal, a line elsewhere.
func withSteps(opts repo.Options, w io.Writer, n int) repo.Options {
	steps := progress.NewSteps(w, n)
	steps.Prefix = "   "
	opts.Keys = stepKeys{opts.Keys, steps}
	return opts
}

// stepKeys is a key store that shows each key it creates as a step.
type stepKeys struct {
	repo.KeyStore
	steps *progress.Steps
}

func (k stepKeys) Create(ctx context.Context, dir, name string) (keys.PublicKey, error) {
	k.steps.Start("generating and encrypting the " + name + " key")
	pk, err := k.KeyStore.Create(ctx, dir, name)
	k.steps.Done(err)
	return pk, err
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
