package cli

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/internal/ocitest"
	"github.com/rampart-tuf/rampart/server/servertest"
)

// TestNotaryImportSignature (issue 11): a signature made by "rampart oci
// sign --format notary" is registered in a Notary repository on rampart
// serve through its Notary API: the real notary client registers the
// signer's certificate as the delegation targets/acme, "rampart notary
// import-signature" installs the signature as that role's metadata as it
// is, and the notary client resolves the reference through the repository
// from a fresh trust directory. A signature by another key is refused.
//
// The installation goes through rampart, not the notary client: the
// client publishes only what it signs itself with the keys of its trust
// directory, and has no command that uploads a role signed elsewhere.
func TestNotaryImportSignature(t *testing.T) {
	notaryBin, err := exec.LookPath("notary")
	if err != nil {
		t.Fatal("the notary client is not installed: apt-get install notary (Debian package; .ci/run installs it)")
	}
	srv := servertest.Start(t)
	hs := httptest.NewTLSServer(srv.Server.Handler())
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	const gun = "example.com/acme/images"
	admin := srv.Token(t, "admin", "example.com/acme")
	notaryRun := func(trust string, args ...string) (string, bool) {
		t.Helper()
		cfg, _ := json.Marshal(map[string]any{"trust_dir": trust, "remote_server": map[string]any{"url": hs.URL, "root_ca": ca}})
		cfgFile := trust + ".json"
		os.WriteFile(cfgFile, cfg, 0o644)
		cmd := exec.Command(notaryBin, append([]string{"-c", cfgFile}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir,
			"NOTARY_ROOT_PASSPHRASE=root-pass", "NOTARY_TARGETS_PASSPHRASE=targets-pass",
			"NOTARY_SNAPSHOT_PASSPHRASE=snapshot-pass", "NOTARY_AUTH="+base64.StdEncoding.EncodeToString([]byte("maintainer:"+admin)))
		out, err := cmd.CombinedOutput()
		return string(out), err == nil
	}
	trust := filepath.Join(dir, "trust")
	mustNotary := func(args ...string) string {
		t.Helper()
		out, ok := notaryRun(trust, args...)
		if !ok {
			t.Fatalf("notary %s:\n%s", strings.Join(args, " "), out)
		}
		return out
	}

	// The developer signs offline.
	f := newOCIFixture(t, "registry.acme-rockets.io")
	chain, err := readCerts(f.chain)
	if err != nil {
		t.Fatal(err)
	}
	leaf := filepath.Join(f.dir, "leaf.pem")
	ocitest.WriteCerts(t, leaf, chain[0])
	sig := filepath.Join(f.dir, "sig.json")
	mustRun(t, "oci", "sign", "--key", f.key, "--cert", f.chain, "-r", ociRef, "--format", "notary", "-o", sig, "file:"+f.manifest)

	// The organisation's Notary repository registers the signer.
	mustNotary("init", gun)
	mustNotary("key", "rotate", gun, "snapshot", "-r")
	mustNotary("delegation", "add", gun, "targets/acme", leaf, "--paths", "registry.acme-rockets.io/")
	mustNotary("publish", gun)

	t.Setenv("RAMPART_TOKEN", srv.Token(t, "push", "example.com/acme"))
	// A signature by a key the delegation does not trust is refused.
	other := newOCIFixture(t, "registry.acme-rockets.io")
	forged := filepath.Join(other.dir, "forged.json")
	mustRun(t, "oci", "sign", "--key", other.key, "--cert", other.chain, "-r", ociRef, "--format", "notary", "-o", forged, "file:"+f.manifest)
	mustFail(t, "ErrBadTargets", "notary", "import-signature", "--server", hs.URL, "--gun", gun, "--tlscacert", ca, "targets/acme", forged)

	out := mustRun(t, "notary", "import-signature", "--server", hs.URL, "--gun", gun, "--tlscacert", ca, "targets/acme", sig)
	if !strings.Contains(out, "targets/acme of "+gun+" is now version 1") {
		t.Errorf("import-signature printed %q", out)
	}

	// Resolved by the notary client, from a fresh trust directory.
	digest := strings.TrimPrefix(manifestDigest(ociManifest), "sha256:")
	fresh := filepath.Join(dir, "fresh")
	out, ok := notaryRun(fresh, "lookup", gun, ociRef)
	if !ok || !strings.Contains(out, ociRef+" sha256:"+digest) {
		t.Errorf("notary lookup %s: ok=%v\n%s\nwant sha256:%s", ociRef, ok, out, digest)
	}
	// The role's metadata is the signature, byte for byte, and verifies
	// as a signature.
	served := filepath.Join(dir, "served.json")
	resp, err := hs.Client().Get(hs.URL + "/v2/" + gun + "/_trust/tuf/targets/acme.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.TrimSpace(string(b)) != strings.TrimSpace(string(mustRead(t, sig))) {
		t.Fatalf("the server's targets/acme.json is not the signature (%v)", err)
	}
	os.WriteFile(served, b, 0o644)
	if out := mustRun(t, "oci", "verify", "--signature", served, "--ca-cert", f.root, "--reference", ociRef, "file:"+f.manifest); out != manifestDigest(ociManifest)+"\n" {
		t.Errorf("oci verify of the served signature printed %q", out)
	}

}
