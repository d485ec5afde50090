// Package intototest produces real in-toto metadata for tests, with the
// reference implementation (Debian's in-toto package: in-toto-keygen,
// in-toto-run, in-toto-sign and the python in_toto library).
//
// [NewKeys] creates the keys of the ITE-2 basic security model: the layout
// owner's, the "developer" functionary's and the "packager" functionary's,
// plus a key nobody trusts. [Keys.Build] writes a two-step layout (the
// developer signs the source, the packager builds a tarball from it) and runs
// both steps with in-toto-run, producing the package and its links.
package intototest

import (
	_ "embed"

	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PackageName is the file the packager step creates.
const PackageName = "foo-1.0.tar.gz"

// Tools fails the test, saying what to install, unless the in-toto tools
// and the python library are available. It returns the python interpreter
// that imports in_toto.
func Tools(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"in-toto-keygen", "in-toto-run", "in-toto-sign", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian's in-toto package (apt-get install in-toto)", tool)
		}
	}
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import in_toto, securesystemslib").Run() == nil {
			return py
		}
	}
	t.Fatal("no python3 imports in_toto and securesystemslib: install Debian's in-toto package (apt-get install in-toto python3-securesystemslib)")
	return ""
}

// Keys are key pairs made by in-toto-keygen in Dir: "owner" (ecdsa) signs
// the layout, "developer" (ed25519) and "packager" (rsa) are the
// functionaries, "rogue" (ed25519) is trusted by no one.
type Keys struct {
	Dir    string
	python string
}

// KeyTypes gives each key's type, as in-toto's --key-type wants it.
var KeyTypes = map[string]string{"owner": "ecdsa", "developer": "ed25519", "packager": "rsa", "rogue": "ed25519"}

// NewKeys generates the keys in a new temporary directory.
func NewKeys(t testing.TB) *Keys {
	t.Helper()
	k := &Keys{Dir: t.TempDir(), python: Tools(t)}
	for name, typ := range KeyTypes {
		run(t, k.Dir, "in-toto-keygen", "-t", typ, name)
	}
	return k
}

// Pub returns the public key file of the key name (e.g. "owner").
func (k *Keys) Pub(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k.Dir, name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Build is one run of the supply chain.
type Build struct {
	Dir     string            // where the steps ran
	Layout  []byte            // root.layout
	Links   map[string][]byte // by file name, "<step>.<keyid8>.link"
	Package []byte            // the tarball the packager made
}

// Options change a build.
type Options struct {
	Source       string    // content of src/foo.py; a default when empty
	Expires      time.Time // layout expiry; a year from now when zero
	LayoutSigner string    // key that signs the layout; "owner" when empty
	Inspect      bool      // add the inspection "untar", which unpacks the package and matches its source
}

// Build writes the layout, runs the developer and packager steps with
// in-toto-run and returns what they produced.
func (k *Keys) Build(t testing.TB, opt Options) *Build {
	t.Helper()
	if opt.Source == "" {
		opt.Source = "print('hello from foo 1.0')\n"
	}
	if opt.Expires.IsZero() {
		opt.Expires = time.Now().AddDate(1, 0, 0)
	}
	if opt.LayoutSigner == "" {
		opt.LayoutSigner = "owner"
	}
	dir := t.TempDir()
	b := &Build{Dir: dir, Layout: k.Layout(t, opt), Links: map[string][]byte{}}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "foo.py"), []byte(opt.Source), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "in-toto-run", "-n", "developer", "-p", "src", "-k", k.key("developer"), "-t", "ed25519", "-x")
	run(t, dir, "in-toto-run", "-n", "packager", "-m", "src", "-p", PackageName, "src",
		"-k", k.key("packager"), "-t", "rsa", "--", "tar", "czf", PackageName, "src")
	b.Package = readFile(t, filepath.Join(dir, PackageName))
	links, _ := filepath.Glob(filepath.Join(dir, "*.link"))
	for _, l := range links {
		b.Links[filepath.Base(l)] = readFile(t, l)
	}
	if len(b.Links) != 2 {
		t.Fatalf("in-toto-run made %d links, want 2: %v", len(b.Links), links)
	}
	return b
}

// LinkName returns the file name of the build's link for step.
func (b *Build) LinkName(t testing.TB, step string) string {
	t.Helper()
	for name := range b.Links {
		if strings.HasPrefix(name, step+".") {
			return name
		}
	}
	t.Fatalf("no link for step %s", step)
	return ""
}

// Resign signs the link file name again with the key signer, using
// in-toto-sign, and returns the new file name and content.
func (k *Keys) Resign(t testing.TB, b *Build, name, signer string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.link")
	if err := os.WriteFile(in, b.Links[name], 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "in-toto-sign", "-f", in, "-k", k.key(signer), "-t", KeyTypes[signer])
	out, _ := filepath.Glob(filepath.Join(dir, "*.*.link"))
	if len(out) != 1 {
		t.Fatalf("in-toto-sign wrote %v", out)
	}
	return filepath.Base(out[0]), readFile(t, out[0])
}

func (k *Keys) key(name string) string { return filepath.Join(k.Dir, name) }

// layoutScript makes the ITE-2 two-step layout with the python in_toto
// library and signs it (also run by scripts/intoto-demo.sh). Arguments:
// signer key, its type, developer and packager public keys, output path,
// expiry, "yes" to add an inspection.
//
//go:embed layout.py
var layoutScript string

// Layout writes the two-step layout as opt says (its Expires and
// LayoutSigner must be set) and returns it.
func (k *Keys) Layout(t testing.TB, opt Options) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "root.layout")
	inspect := "no"
	if opt.Inspect {
		inspect = "yes"
	}
	run(t, k.Dir, k.python, "-c", layoutScript, k.key(opt.LayoutSigner), KeyTypes[opt.LayoutSigner],
		k.key("developer")+".pub", k.key("packager")+".pub", out, opt.Expires.UTC().Format("2006-01-02T15:04:05Z"), inspect)
	return readFile(t, out)
}

func run(t testing.TB, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
