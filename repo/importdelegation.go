package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-tuf/rampart/client"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// A delegation is imported from an outside repository into this one (a
// repository inside an air gap, say): the outside role's metadata is
// installed byte for byte, with its original signatures, and this
// repository's targets role delegates to it with the outside keys, paths
// and threshold. It is never signed here: this repository's own root,
// snapshot and timestamp give clients freshness, and the outside
// signatures still prove where the targets came from.
//
// The outside repository is read through its own chain of trust, by a
// client whose state is kept in DIR/imports/ROLE/ (metadata/ and the
// targets a bundle brought, targets/), so that a later import cannot roll
// that repository back either.

// importsDir holds the state of imported delegations.
const importsDir = "imports"

// ImportedRole is a delegated role of an outside repository, verified
// through that repository's chain of trust.
type ImportedRole struct {
	Role string
	// Data is the role's metadata as the outside repository serves it.
	Data []byte
	// Delegation and Keys are the outside delegator's delegation to Role.
	Delegation metadata.DelegatedRole
	Keys       map[string]*metadata.Key
	// Source says where it came from ("https://..." or "bundle").
	Source string
	// Content names the files holding the verified content of the role's
	// targets that was at hand, by target path; Missing lists the others.
	Content map[string]string
	Missing []string
}

// ImportSource is where an outside role is read from: a repository URL or
// a bundle made by 'rampart client export'.
type ImportSource struct {
	URL     string
	Fetcher client.Fetcher // for URL; default an HTTP fetcher
	Bundle  string         // path of a bundle
	// Root is a root of the outside repository obtained out of band. It
	// is needed for the first import from a URL; a first import from a
	// bundle without it trusts the bundle's oldest root (TrustedBundle
	// says so).
	Root []byte
}

// ReadImport reads role from the outside repository src and verifies it
// as a client does, through the chain of trust kept for role in the
// repository directory dir (started from src.Root on the first import).
// trustedBundle reports a first import that started from the root the
// bundle carries.
func ReadImport(ctx context.Context, dir, role string, src ImportSource) (imp *ImportedRole, trustedBundle bool, err error) {
	if err := checkRoleName(role); err != nil {
		return nil, false, err
	}
	// One directory per role, named as its staged file is (a '/' as %2F):
	// "a/metadata" must not land in the state of "a".
	state := filepath.Join(dir, importsDir, strings.TrimSuffix(metadata.RoleFileName(role), ".json"))
	meta, store := filepath.Join(state, "metadata"), client.TargetStore{Dir: filepath.Join(state, "targets")}
	if _, serr := os.Stat(filepath.Join(meta, "root.json")); os.IsNotExist(serr) {
		defer func() {
			if err != nil {
				os.RemoveAll(state) // a first import that failed trusts nothing
			}
		}()
		root := src.Root
		if root == nil && src.Bundle != "" {
			if root, err = readBundleRoot(src.Bundle); err != nil {
				return nil, false, err
			}
			trustedBundle = true
		}
		if root == nil {
			return nil, false, fmt.Errorf("a first import of %s from %s needs a root of that repository obtained out of band (--root)", role, src.URL)
		}
		if err := client.Init(meta, root); err != nil {
			return nil, false, err
		}
	}
	var c *client.Client
	switch {
	case src.Bundle != "":
		f, err := os.Open(src.Bundle)
		if err != nil {
			return nil, false, err
		}
		defer f.Close()
		if _, err := client.ImportBundle(ctx, meta, store, f, client.Limits{}, nil); err != nil {
			return nil, false, fmt.Errorf("%s: %w", src.Bundle, err)
		}
		c, err = client.New(client.Config{MetadataURL: "bundle:", Dir: meta})
		if err == nil {
			err = c.RefreshOffline(false)
		}
		if err != nil {
			return nil, false, err
		}
	default:
		base := strings.TrimSuffix(src.URL, "/")
		c, err = client.New(client.Config{MetadataURL: base + "/metadata", TargetsURL: base + "/targets", Dir: meta, Fetcher: src.Fetcher})
		if err != nil {
			return nil, false, err
		}
		if err := c.Refresh(ctx); err != nil {
			return nil, false, fmt.Errorf("%s: %w", base, err)
		}
	}
	if _, err := c.ListTargets(ctx, 0); err != nil {
		return nil, false, err
	}
	imp, err = delegatedRole(c.Trusted(), role)
	if err != nil {
		return nil, false, err
	}
	imp.Source = src.URL
	if src.Bundle != "" {
		imp.Source = "bundle"
	}
	if err := fetchContent(ctx, c, store, src.Bundle != "", imp); err != nil {
		return nil, false, err
	}
	return imp, trustedBundle, nil
}

func readBundleRoot(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return client.BundleRoot(f)
}

// delegatedRole finds role and the delegation to it in the trusted
// metadata, from targets down, and checks the role once more against the
// delegator's keys.
func delegatedRole(tr *client.Trusted, role string) (*ImportedRole, error) {
	data, ok := tr.Targets[role]
	if !ok {
		return nil, fmt.Errorf("the outside repository has no role %s that its delegations reach", role)
	}
	md, err := metadata.ParseTargets(data)
	if err != nil {
		return nil, fmt.Errorf("%s.json: %w", role, err)
	}
	if err := checkDelegatesNoFurther(role, md.Signed); err != nil {
		return nil, err
	}
	queue, seen := []string{metadata.TypeTargets}, map[string]bool{}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] || tr.Targets[name] == nil {
			continue
		}
		seen[name] = true
		pd, err := metadata.ParseTargets(tr.Targets[name])
		if err != nil {
			return nil, fmt.Errorf("%s.json: %w", name, err)
		}
		d := pd.Signed.Delegations
		if d == nil {
			continue
		}
		if d.Succinct != nil {
			if _, ok := d.Role(role); ok {
				return nil, fmt.Errorf("%s is a hashed bin of %s; import a role delegated by name", role, name)
			}
			continue
		}
		for _, dr := range d.Roles {
			if dr.Name != role {
				queue = append(queue, dr.Name)
				continue
			}
			if err := pd.Signed.VerifyDelegate(role, md); err != nil {
				return nil, fmt.Errorf("%s.json: %w", role, err)
			}
			keys := map[string]*metadata.Key{}
			for _, id := range dr.KeyIDs {
				if k, ok := d.Keys[id]; ok {
					keys[id] = k
				}
			}
			return &ImportedRole{Role: role, Data: data, Delegation: dr, Keys: keys}, nil
		}
	}
	return nil, fmt.Errorf("no role of the outside repository delegates %s", role)
}

// checkDelegatesNoFurther refuses a role that delegates to other roles.
// Importing it would install its delegations without the metadata of the
// roles they name, and clients inside would fail to find (or, with the
// sub-roles absent, be refused) every target delegated onward. The leaf
// roles can be imported instead, one by one: each is then delegated by
// this repository's targets with the outside keys and paths.
func checkDelegatesNoFurther(role string, t *metadata.Targets) error {
	d := t.Delegations
	switch {
	case d == nil:
		return nil
	case d.Succinct != nil:
		return fmt.Errorf("%s delegates to %d hashed bins (%s-*); only a role that delegates no further can be imported", role, d.Succinct.NumBins(), d.Succinct.NamePrefix)
	case len(d.Roles) > 0:
		var names []string
		for _, r := range d.Roles {
			names = append(names, r.Name)
		}
		return fmt.Errorf("%s delegates to other roles (%s); only a role that delegates no further can be imported: import those roles one by one instead, if they delegate no further", role, strings.Join(names, ", "))
	}
	return nil
}

// fetchContent finds the content of the role's targets that clients would
// trust it for: downloaded into store and verified online, or brought by
// a bundle (which verified it into store).
func fetchContent(ctx context.Context, c *client.Client, store client.TargetStore, fromBundle bool, imp *ImportedRole) error {
	list, err := c.ListTargets(ctx, 0)
	if err != nil {
		return err
	}
	imp.Content = map[string]string{}
	for _, t := range list {
		if t.Role != imp.Role {
			continue
		}
		if t.Hashes.SHA256 == nil {
			return fmt.Errorf("target %s of %s has no SHA-256 hash, which this repository's content store needs", t.Path, imp.Role)
		}
		if !store.Has(t) {
			if fromBundle {
				imp.Missing = append(imp.Missing, t.Path)
				continue
			}
			if err := downloadTo(ctx, c, store, t); err != nil {
				return err
			}
		}
		imp.Content[t.Path] = filepath.Join(store.Dir, "sha256", fmt.Sprintf("%x", t.Hashes.SHA256))
	}
	return nil
}

// downloadTo downloads a target into store, which checks it.
func downloadTo(ctx context.Context, c *client.Client, store client.TargetStore, t client.TargetInfo) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(c.Download(ctx, t, pw)) }()
	err := store.Put(t, pr)
	pr.CloseWithError(err)
	return err
}

// ImportResult says what ImportDelegation did.
type ImportResult struct {
	Version    int64 // of the role now installed
	Previous   int64 // of the role installed before, or 0
	UpToDate   bool  // the same version was installed already
	Delegation bool  // the delegation in targets was made or changed
	Targets    int   // target files stored
}

// ImportDelegation installs imp in the repository: its metadata byte for
// byte as staged/ROLE.json, the delegation from targets with the outside
// keys, paths, threshold and terminating flag, and the content of its
// targets. A role that delegates further is refused (checkDelegatesNoFurther).
// A role imported before is replaced only by a newer version;
// an older one, or the same version with other bytes, is refused. A role
// made here cannot be replaced by an import.
func (r *Repo) ImportDelegation(ctx context.Context, imp *ImportedRole) (*ImportResult, error) {
	md, err := metadata.ParseTargets(imp.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imp.Role, err)
	}
	res := &ImportResult{Version: md.Signed.Version}
	if err := checkRoleName(imp.Role); err != nil {
		return nil, err
	}
	if err := checkDelegatesNoFurther(imp.Role, md.Signed); err != nil {
		return nil, err
	}
	if _, ok := r.cfg.Imported[imp.Role]; !ok {
		if _, ok := r.cfg.Delegations[imp.Role]; ok || r.cfg.isBin(imp.Role) {
			return nil, fmt.Errorf("role %s was made in this repository; an import cannot replace it", imp.Role)
		}
	} else {
		old, err := r.readTargets(imp.Role)
		if err != nil {
			return nil, err
		}
		res.Previous = old.Signed.Version
		raw, _ := r.rawRole(imp.Role)
		switch v := old.Signed.Version; {
		case md.Signed.Version < v:
			return nil, fmt.Errorf("%s version %d is older than version %d, imported already: refused (rollback)", imp.Role, md.Signed.Version, v)
		case md.Signed.Version == v && !bytes.Equal(raw, imp.Data):
			return nil, fmt.Errorf("%s version %d differs from the version %d imported already: refused", imp.Role, v, v)
		case md.Signed.Version == v:
			res.UpToDate = true
		}
	}
	n, err := r.storeImported(imp)
	if err != nil {
		return nil, err
	}
	res.Targets = n
	if res.UpToDate && !r.delegationDiffers(imp) {
		return res, nil
	}
	err = r.updateSigned(ctx, func(tx *Tx) (signedFiles, error) {
		var signed signedFiles
		if r.delegationDiffers(imp) {
			res.Delegation = true
			if err := tx.setImportedDelegation(imp); err != nil {
				return signed, err
			}
		}
		if !res.UpToDate {
			signed = signedFiles{
				files:    []change{{path: stagedRel(imp.Role), data: imp.Data}},
				versions: map[string]int64{imp.Role: md.Signed.Version},
				renew:    true,
			}
		}
		cfg := tx.Config()
		cfg.Delegations[imp.Role] = metadata.TypeTargets
		if cfg.Imported == nil {
			cfg.Imported = map[string]string{}
		}
		cfg.Imported[imp.Role] = imp.Source
		return signed, nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// delegationDiffers reports whether targets does not yet delegate to the
// role exactly as the outside delegator does.
func (r *Repo) delegationDiffers(imp *ImportedRole) bool {
	t, err := r.readTargets(metadata.TypeTargets)
	if err != nil || t.Signed.Delegations == nil {
		return true
	}
	d, ok := t.Signed.Delegations.Role(imp.Role)
	if !ok {
		return true
	}
	want := imp.Delegation
	if d.Threshold != want.Threshold || d.Terminating != want.Terminating || !slices.Equal(d.Paths, want.Paths) ||
		!slices.Equal(d.PathHashPrefixes, want.PathHashPrefixes) || !slices.Equal(d.KeyIDs, want.KeyIDs) {
		return true
	}
	for _, id := range want.KeyIDs {
		if t.Signed.Delegations.Keys[id] == nil {
			return true
		}
	}
	return false
}

func (tx *Tx) setImportedDelegation(imp *ImportedRole) error {
	parent, err := tx.Targets(metadata.TypeTargets)
	if err != nil {
		return err
	}
	if parent.Delegations != nil && parent.Delegations.Succinct != nil {
		return errors.New("targets delegates to hashed bins here and cannot delegate to an imported role as well")
	}
	if parent.Delegations == nil {
		parent.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{}, Roles: []metadata.DelegatedRole{}}
	}
	d := imp.Delegation
	d.Name = imp.Role
	for _, id := range d.KeyIDs {
		k, ok := imp.Keys[id]
		if !ok {
			return fmt.Errorf("the outside delegation to %s names key %s but does not list it", imp.Role, shortID(id))
		}
		parent.Delegations.Keys[id] = k
	}
	i := slices.IndexFunc(parent.Delegations.Roles, func(x metadata.DelegatedRole) bool { return x.Name == imp.Role })
	if i >= 0 {
		parent.Delegations.Roles[i] = d
	} else {
		parent.Delegations.Roles = append(parent.Delegations.Roles, d)
	}
	pruneKeys(parent.Delegations)
	return nil
}

// storeImported puts the imported content in the content store, hard
// linked where the file system allows it.
func (r *Repo) storeImported(imp *ImportedRole) (int, error) {
	store := filepath.Join(r.dir, targetsDir)
	n := 0
	for _, p := range slices.Sorted(maps.Keys(imp.Content)) {
		if err := CheckTargetPath(p); err != nil {
			return n, fmt.Errorf("target %s of %s: %w", p, imp.Role, err)
		}
		src := imp.Content[p]
		sum, err := fileSHA256(src)
		if err != nil {
			return n, err
		}
		tf := metadata.TargetFile{Hashes: metadata.Hashes{SHA256: sum}}
		dst := filepath.Join(store, filepath.FromSlash(tf.ConsistentPath(p)))
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return n, err
		}
		if os.Link(src, dst) != nil {
			if err := copyFile(src, dst); err != nil {
				return n, err
			}
		}
		n++
	}
	return n, nil
}

func fileSHA256(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
