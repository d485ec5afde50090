package intoto_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/intototest"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/intoto"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

const signerRole = "package-and-in-toto-metadata-signer"

// ite2 lays a build out as ITE-2's basic security model does: the layout
// and its key in top-level targets, a terminating delegation of "*" to the
// online signer role, which lists the package and its links.
type ite2 struct {
	repo    *repotest.Repo
	pkgPath string
	custom  []byte // the package's custom metadata as first published
	tamper  bool   // serve a tampered package
}

func custom(t *testing.T, paths ...string) []byte {
	b, err := json.Marshal(map[string][]string{"in-toto": paths})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newITE2(t *testing.T, k *intototest.Keys, b *intototest.Build) *ite2 {
	r := repotest.New(t)
	top := r.Targets[metadata.TypeTargets].Signed
	r.AddTarget(metadata.TypeTargets, "in-toto-pubkeys/owner.pub", k.Pub(t, "owner"))
	r.AddTarget(metadata.TypeTargets, "in-toto-metadata/root.layout", b.Layout)
	lf := top.Targets["in-toto-metadata/root.layout"]
	lf.Custom = custom(t, "in-toto-pubkeys/owner.pub")
	top.Targets["in-toto-metadata/root.layout"] = lf
	// "*" matches no "/" (TUF 1.0), so the links need their own pattern.
	r.Delegate(metadata.TypeTargets, signerRole, []string{"*", "in-toto-metadata/*/*.link"}, true)
	s := &ite2{repo: r, pkgPath: intototest.PackageName}
	s.setPackage(t, b.Package, b, "in-toto-metadata/root.layout")
	r.Publish()
	return s
}

// setPackage lists pkg in the signer role with the links of build b.
func (s *ite2) setPackage(t *testing.T, pkg []byte, b *intototest.Build, layout string) {
	list := []string{layout}
	sum := sha256.Sum256(b.Links[b.LinkName(t, "developer")])
	dir := "in-toto-metadata/" + hex.EncodeToString(sum[:])
	for name, data := range b.Links {
		s.repo.AddTarget(signerRole, dir+"/"+name, data)
		list = append(list, dir+"/"+name)
	}
	s.repo.AddTarget(signerRole, s.pkgPath, pkg)
	role := s.repo.Targets[signerRole].Signed
	tf := role.Targets[s.pkgPath]
	tf.Custom = custom(t, list...)
	role.Targets[s.pkgPath] = tf
}

func (s *ite2) download(t *testing.T, opt intoto.DownloadOptions) (string, error) {
	srv := s.repo.Serve()
	dir := filepath.Join(t.TempDir(), "metadata")
	if err := client.Init(dir, s.repo.RootBytes(1)); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{MetadataURL: srv.URL + "/metadata", TargetsURL: srv.URL + "/targets", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out", "foo.tgz")
	_, err = intoto.Download(context.Background(), c, s.pkgPath, out, opt)
	if err != nil {
		if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("failed download left %s behind", out)
		}
		entries, _ := os.ReadDir(filepath.Dir(out))
		if len(entries) != 0 {
			t.Errorf("failed download left files in %s: %v", filepath.Dir(out), entries)
		}
	}
	return out, err
}

func TestDownload(t *testing.T) {
	k := intototest.NewKeys(t)
	good := k.Build(t, intototest.Options{})
	other := k.Build(t, intototest.Options{Source: "print('another build')\n"})
	expired := k.Build(t, intototest.Options{Expires: time.Now().Add(-time.Minute)})

	t.Run("good", func(t *testing.T) {
		out, err := newITE2(t, k, good).download(t, intoto.DownloadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(out); string(got) != string(good.Package) {
			t.Fatal("downloaded content differs from the package")
		}
	})
	bad := []struct {
		name    string
		change  func(t *testing.T, s *ite2)
		wantErr string
	}{
		{"package from another build", func(t *testing.T, s *ite2) {
			// The online key signs another build's package with this
			// build's links.
			s.repo.AddTarget(signerRole, s.pkgPath, other.Package)
			role := s.repo.Targets[signerRole].Signed
			tf := role.Targets[s.pkgPath]
			tf.Custom = s.custom
			role.Targets[s.pkgPath] = tf
		}, `but step "packager" produced`},
		{"missing link", func(t *testing.T, s *ite2) {
			role := s.repo.Targets[signerRole].Signed
			for p := range role.Targets {
				if strings.Contains(p, "/developer.") {
					delete(role.Targets, p)
				}
			}
		}, "no trusted metadata lists this target"},
		{"layout from the online role", func(t *testing.T, s *ite2) {
			s.repo.AddTarget(signerRole, "other.layout", expired.Layout)
			role := s.repo.Targets[signerRole].Signed
			lf := role.Targets["other.layout"]
			lf.Custom = custom(t, "in-toto-pubkeys/owner.pub")
			role.Targets["other.layout"] = lf
			s.setPackage(t, good.Package, good, "other.layout")
		}, `listed by role "package-and-in-toto-metadata-signer", but layouts must come from "targets"`},
		{"expired layout", func(t *testing.T, s *ite2) {
			s.repo.AddTarget(metadata.TypeTargets, "in-toto-metadata/root.layout", expired.Layout)
			top := s.repo.Targets[metadata.TypeTargets].Signed
			lf := top.Targets["in-toto-metadata/root.layout"]
			lf.Custom = custom(t, "in-toto-pubkeys/owner.pub")
			top.Targets["in-toto-metadata/root.layout"] = lf
		}, "layout has expired"},
		{"tampered package on the mirror", func(t *testing.T, s *ite2) {
			s.tamper = true
		}, "target foo-1.0.tar.gz"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			s := newITE2(t, k, good)
			s.custom = s.repo.Targets[signerRole].Signed.Targets[s.pkgPath].Custom
			tc.change(t, s)
			for role := range s.repo.Targets {
				s.repo.MarkDirty(role)
			}
			s.repo.Publish()
			if s.tamper {
				p := "targets/" + s.repo.Targets[signerRole].Signed.Targets[s.pkgPath].ConsistentPath(s.pkgPath)
				data := append([]byte(nil), s.repo.File(p)...)
				data[len(data)/2] ^= 1
				s.repo.SetFile(p, data)
			}
			_, err := s.download(t, intoto.DownloadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
