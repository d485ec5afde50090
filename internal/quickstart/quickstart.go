// Package quickstart is the demonstration behind `rampart quickstart`: it
// builds a small TUF repository in a temporary directory, signs it, reads
// it back from disk and verifies it as a client would, and says what it did
// at each step.
package quickstart

import (
	"context"
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Run performs the demonstration in a new temporary directory under dir
// (os.TempDir() when empty), which it removes unless keep is set. It
// reports each step to out.
func Run(ctx context.Context, out io.Writer, dir string, keep bool) error {
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
	now := time.Now().UTC()
	expires := now.Add(365 * 24 * time.Hour)

	// One key per top-level role, of three different types.
	signers := map[string]keys.Signer{}
	for role, keyType := range map[string]string{"root": "ed25519", "targets": "ecdsa", "snapshot": "ed25519", "timestamp": "ed25519"} {
		priv, err := keys.Generate(keyType)
		if err != nil {
			return err
		}
		s, err := keys.NewSigner(priv.(crypto.Signer), "")
		if err != nil {
			return err
		}
		signers[role] = s
		fmt.Fprintf(out, "generated %-7s key for %-9s %s\n", keyType, role, metadata.NewKey(s.PublicKey()).ID()[:16])
	}

	root := metadata.NewRoot(expires)
	for role, s := range signers {
		if err := root.AddKey(role, metadata.NewKey(s.PublicKey())); err != nil {
			return err
		}
	}
	content := map[string][]byte{
		"hello.txt":            []byte("hello, world\n"),
		"releases/app-1.0.tgz": []byte("pretend this is a release tarball\n"),
	}
	targets := metadata.NewTargets(expires)
	for p, c := range content {
		targets.Targets[p] = metadata.NewTargetFile(c, false)
		dst := filepath.Join(work, "targets", filepath.FromSlash(targets.Targets[p].ConsistentPath(p)))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, c, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "added %d targets\n", len(content))

	metaDir := filepath.Join(work, "metadata")
	if err := os.MkdirAll(metaDir, 0o755); err != nil {
		return err
	}
	write := func(name string, data []byte) error {
		fmt.Fprintf(out, "wrote metadata/%s (%d bytes)\n", name, len(data))
		return os.WriteFile(filepath.Join(metaDir, name), data, 0o644)
	}
	rootMD, targetsMD := metadata.New(root), metadata.New(targets)
	if _, err := rootMD.Sign(ctx, signers["root"]); err != nil {
		return err
	}
	if _, err := targetsMD.Sign(ctx, signers["targets"]); err != nil {
		return err
	}
	rootBytes, err := rootMD.Encode()
	if err != nil {
		return err
	}
	targetsBytes, err := targetsMD.Encode()
	if err != nil {
		return err
	}
	snapshot := metadata.NewSnapshot(expires)
	snapshot.Meta["targets.json"] = metadata.MetaFile{Version: targets.Version, Length: int64(len(targetsBytes)), Hashes: metadata.HashesOf(targetsBytes, false)}
	snapshotMD := metadata.New(snapshot)
	if _, err := snapshotMD.Sign(ctx, signers["snapshot"]); err != nil {
		return err
	}
	snapshotBytes, err := snapshotMD.Encode()
	if err != nil {
		return err
	}
	timestamp := metadata.NewTimestamp(now.Add(24 * time.Hour))
	timestamp.Meta["snapshot.json"] = metadata.MetaFile{Version: snapshot.Version, Length: int64(len(snapshotBytes)), Hashes: metadata.HashesOf(snapshotBytes, false)}
	timestampMD := metadata.New(timestamp)
	if _, err := timestampMD.Sign(ctx, signers["timestamp"]); err != nil {
		return err
	}
	timestampBytes, err := timestampMD.Encode()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"1.root.json", rootBytes}, {"1.targets.json", targetsBytes}, {"1.snapshot.json", snapshotBytes}, {"timestamp.json", timestampBytes}} {
		if err := write(f.name, f.data); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "verifying the repository from disk, as a client would:")
	if err := verify(out, work, now); err != nil {
		return fmt.Errorf("verification failed: %w", err)
	}
	fmt.Fprintln(out, "ok: every signature, version, hash and expiry checked")
	return nil
}

// verify reads the repository written by Run and checks it top-down.
func verify(out io.Writer, work string, now time.Time) error {
	read := func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(work, "metadata", name))
	}
	data, err := read("1.root.json")
	if err != nil {
		return err
	}
	root, err := metadata.ParseRoot(data)
	if err != nil {
		return err
	}
	if err := root.Signed.VerifyRole("root", root); err != nil {
		return err
	}
	fmt.Fprintf(out, "  root v%d: signed by its own threshold of keys\n", root.Signed.Version)

	data, err = read("timestamp.json")
	if err != nil {
		return err
	}
	ts, err := metadata.ParseTimestamp(data)
	if err != nil {
		return err
	}
	if err := root.Signed.VerifyRole("timestamp", ts); err != nil {
		return err
	}
	if ts.Signed.IsExpired(now) {
		return fmt.Errorf("timestamp expired at %s", ts.Signed.Expires)
	}
	fmt.Fprintf(out, "  timestamp v%d: signed, expires %s\n", ts.Signed.Version, ts.Signed.Expires.Format(time.RFC3339))

	snapMeta := ts.Signed.SnapshotMeta()
	data, err = read(fmt.Sprintf("%d.snapshot.json", snapMeta.Version))
	if err != nil {
		return err
	}
	if err := snapMeta.Hashes.Verify(data); err != nil {
		return fmt.Errorf("snapshot.json: %w", err)
	}
	snap, err := metadata.ParseSnapshot(data)
	if err != nil {
		return err
	}
	if err := root.Signed.VerifyRole("snapshot", snap); err != nil {
		return err
	}
	fmt.Fprintf(out, "  snapshot v%d: matches the timestamp's hash, signed\n", snap.Signed.Version)

	tm := snap.Signed.Meta["targets.json"]
	data, err = read(fmt.Sprintf("%d.targets.json", tm.Version))
	if err != nil {
		return err
	}
	if err := tm.Hashes.Verify(data); err != nil {
		return fmt.Errorf("targets.json: %w", err)
	}
	targets, err := metadata.ParseTargets(data)
	if err != nil {
		return err
	}
	if err := root.Signed.VerifyRole("targets", targets); err != nil {
		return err
	}
	fmt.Fprintf(out, "  targets v%d: matches the snapshot's hash, signed, lists %d targets\n", targets.Signed.Version, len(targets.Signed.Targets))
	for p, tf := range targets.Signed.Targets {
		content, err := os.ReadFile(filepath.Join(work, "targets", filepath.FromSlash(tf.ConsistentPath(p))))
		if err != nil {
			return err
		}
		if err := tf.Verify(content); err != nil {
			return fmt.Errorf("target %s: %w", p, err)
		}
		fmt.Fprintf(out, "  target %s: %d bytes, sha256 matches\n", p, tf.Length)
	}
	return nil
}
