package mirror

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/internal/atomicfile"
)

// stateDir holds the mirror's own trusted metadata, below DIR.
//
//	DIR/.rampart-mirror/trusted     symbolic link to the state of the last
//	                                completed run, replaced atomically
//	DIR/.rampart-mirror/state-*/    a state: origin.json (the origin's
//	                                metadata URL), metadata/ (the
//	                                client's trusted metadata) and,
//	                                without consistent snapshots, verified
//	                                (the target files found right; see
//	                                verifiedName)
//	DIR/.rampart-mirror/lock        held by a running mirror
//
// A run works on a new state, made of hard links to the current one (the
// client replaces files, it never writes into them), and stages the files
// it will put in place under it; a failed run removes it and leaves DIR as
// it was. A run that finds nothing new removes it too, and the last run's
// state stands.
const stateDir = ".rampart-mirror"

type state struct {
	dir     string // DIR/.rampart-mirror
	current string // the state of the last run, or ""
	origin  string
}

type origin struct {
	MetadataURL string `json:"metadata_url"`
}

// openState reads the state of dir's last run, which must have mirrored
// metaURL, and removes what interrupted runs left.
func openState(dir, metaURL string) (*state, error) {
	s := &state{dir: filepath.Join(dir, stateDir), origin: metaURL}
	target, err := os.Readlink(filepath.Join(s.dir, "trusted"))
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return nil, err
	default:
		s.current = filepath.Join(s.dir, filepath.Base(target))
		data, err := os.ReadFile(filepath.Join(s.current, "origin.json"))
		if err != nil {
			return nil, fmt.Errorf("mirror state: %w", err)
		}
		var o origin
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, fmt.Errorf("mirror state %s: %w", filepath.Join(s.current, "origin.json"), err)
		}
		if o.MetadataURL != metaURL {
			return nil, fmt.Errorf("%s mirrors %s, not %s: mirror each repository into a directory of its own", dir, o.MetadataURL, metaURL)
		}
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		p := filepath.Join(s.dir, e.Name())
		if strings.HasPrefix(e.Name(), "state-") && p != s.current {
			os.RemoveAll(p)
		}
	}
	return s, nil
}

// workState is the state a run builds.
type workState struct {
	dir   string
	start []byte // the trusted root the run starts from
}

func (w *workState) metadataDir() string { return filepath.Join(w.dir, "metadata") }
func (w *workState) stagingDir() string  { return filepath.Join(w.dir, "staging") }

// begin makes the state of a new run: a copy of the current one, or, on
// the first run, one that trusts root.
func (s *state) begin(root []byte) (*workState, error) {
	dir, err := os.MkdirTemp(s.dir, "state-")
	if err != nil {
		return nil, err
	}
	w := &workState{dir: dir}
	if err := s.fill(w, root); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return w, nil
}

func (s *state) fill(w *workState, root []byte) error {
	if err := os.MkdirAll(w.stagingDir(), 0o755); err != nil {
		return err
	}
	o, _ := json.Marshal(origin{MetadataURL: s.origin})
	if err := os.WriteFile(filepath.Join(w.dir, "origin.json"), o, 0o644); err != nil {
		return err
	}
	if s.current == "" {
		w.start = root
		return client.Init(w.metadataDir(), root)
	}
	if err := linkTree(filepath.Join(s.current, "metadata"), w.metadataDir()); err != nil {
		return err
	}
	var err error
	w.start, err = os.ReadFile(filepath.Join(w.metadataDir(), "root.json"))
	return err
}

// commit makes w the current state, atomically.
func (s *state) commit(w *workState) error {
	if err := os.RemoveAll(w.stagingDir()); err != nil {
		return err
	}
	tmp := filepath.Join(s.dir, "trusted.new")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(w.dir), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, "trusted")); err != nil {
		return err
	}
	syncDir(s.dir)
	if s.current != "" {
		os.RemoveAll(s.current)
	}
	s.current = w.dir
	return nil
}

// linkTree makes dst a copy of the flat directory src, with hard links
// where the file system allows them.
func linkTree(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if os.Link(from, to) == nil {
			continue
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// The durability primitives of package atomicfile, by their names here.
// A directory sync that fails is not reported: the files were synced.
const perFileSync = atomicfile.PerFileSync

func syncFS(path string) error { return atomicfile.SyncFS(path) }
func syncDir(dir string)       { atomicfile.SyncDir(dir) }
