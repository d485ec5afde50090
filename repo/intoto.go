package repo

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/intoto"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// In-toto over TUF (in-toto ITE-2 and CNAB security): a package is a target
// whose custom metadata lists, under "in-toto", its root layout and its
// link files; the layout is a target of the top-level targets role whose own
// "in-toto" list names the public keys that verify it.
const (
	// InTotoSignerRole is ITE-2's online role for packages and links.
	InTotoSignerRole = "package-and-in-toto-metadata-signer"
	// InTotoReleasesRole is the CNAB variant's role for bundles and links,
	// as CNAB security (and Notary) name it; its metadata is published as
	// targets/releases.json (see metadata.CheckRoleName).
	InTotoReleasesRole = "targets/releases"

	inTotoMetadataDir = "in-toto-metadata"
	inTotoKeysDir     = "in-toto-pubkeys"
	inTotoConfigFile  = "in-toto.json"
)

// InTotoModel is how a repository lays out in-toto metadata, kept in
// DIR/in-toto.json by SetupInToto.
type InTotoModel struct {
	Model  string `json:"model"`  // "ite2" or "cnab"
	Prefix string `json:"prefix"` // prepended to in-toto paths: "" or "example.com/org/bundle/"
}

// InTotoSetupOptions configure SetupInToto.
type InTotoSetupOptions struct {
	// Key is the public key file (or private, to sign with) of the online
	// role that signs packages and links.
	Key string
	// CNAB, when set, is the bundle name ("example.com/org/bundle"): the
	// CNAB variant, with a role "targets/releases" trusted for CNAB+":*" and its
	// links, instead of ITE-2's terminating delegation of "*".
	CNAB string
	// Expires is the online role's expiry period; ITE-2 says a day.
	Expires time.Duration
}

// SetupInToto sets up the security model of in-toto ITE-2 on the
// repository: the top-level targets role (whose keys should be offline)
// signs layouts and their keys, and delegates packages and links to an
// online role. ITE-2 delegates "*" (and, since '*' matches no '/', the
// links' "in-toto-metadata/*/*.link") to "package-and-in-toto-metadata-signer",
// terminating; the CNAB variant delegates a bundle's references and links to
// "targets/releases".
func (r *Repo) SetupInToto(ctx context.Context, o InTotoSetupOptions) (InTotoModel, error) {
	if o.Expires == 0 {
		o.Expires = 24 * time.Hour
	}
	d := DelegateOptions{Keys: []string{o.Key}, Expires: o.Expires, Threshold: 1}
	m := InTotoModel{Model: "ite2"}
	if o.CNAB == "" {
		d.Role, d.Terminating = InTotoSignerRole, true
		d.Paths = []string{"*", inTotoMetadataDir + "/*/*.link"}
	} else {
		name := strings.Trim(o.CNAB, "/")
		if err := CheckTargetPath(name); err != nil || strings.ContainsAny(name, ":*?[") {
			return InTotoModel{}, fmt.Errorf("CNAB bundle name %q: want a name like example.com/org/bundle", o.CNAB)
		}
		m = InTotoModel{Model: "cnab", Prefix: name + "/"}
		d.Role = InTotoReleasesRole
		d.Paths = []string{name + ":*", m.Prefix + inTotoMetadataDir + "/*/*.link"}
	}
	if err := r.Delegate(ctx, d); err != nil {
		return InTotoModel{}, err
	}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := writeAtomic(filepath.Join(r.dir, inTotoConfigFile), append(data, '\n'), 0o644); err != nil {
		return InTotoModel{}, err
	}
	return m, nil
}

// InTotoModelOf returns the repository's in-toto layout: ITE-2 with no
// prefix unless SetupInToto chose otherwise.
func (r *Repo) InTotoModelOf() (InTotoModel, error) {
	data, err := os.ReadFile(filepath.Join(r.dir, inTotoConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return InTotoModel{Model: "ite2"}, nil
	}
	if err != nil {
		return InTotoModel{}, err
	}
	var m InTotoModel
	if err := json.Unmarshal(data, &m); err != nil {
		return InTotoModel{}, fmt.Errorf("%s: %w", inTotoConfigFile, err)
	}
	return m, nil
}

// InTotoAddOptions describe a package to add with its in-toto metadata.
type InTotoAddOptions struct {
	Package string // the package file
	As      string // its target path; its base name when empty
	Layout  string // the root layout file
	Links   []string
	// Keys are the public key files that verify the layout. With keys, the
	// layout and the keys are added to the top-level targets role; without,
	// the layout must be there already, with the same content.
	Keys []string
	// Product is the package's name among the products of the layout's last
	// step; the target path's base name when empty.
	Product string
	// AllowInspections names the layout inspections that may run when the
	// supply chain is verified before adding.
	AllowInspections []string
	// Role lists the package and the links; automatic when empty.
	Role string
}

// inTotoFile is a file to add as a target.
type inTotoFile struct {
	file, target string
	data         []byte
}

// AddInToto adds a package with its in-toto metadata: the package, with
// custom metadata {"in-toto": [layout, links...]}; its links, under
// in-toto-metadata/<package sha256>/; and, when keys are given, the layout
// and its keys in the top-level targets role, the layout's custom metadata
// listing the keys. It refuses a package whose metadata is incomplete (a
// link for a step the layout does not have, a step without enough links, a
// layout not signed by the keys) or whose supply chain does not verify,
// and changes nothing then.
func (r *Repo) AddInToto(ctx context.Context, o InTotoAddOptions) (*AddResult, error) {
	m, err := r.InTotoModelOf()
	if err != nil {
		return nil, err
	}
	if o.As == "" {
		o.As = filepath.Base(o.Package)
	}
	if err := CheckTargetPath(o.As); err != nil {
		return nil, err
	}
	if o.Product == "" {
		o.Product = path.Base(o.As)
	}
	pkg, err := os.ReadFile(o.Package)
	if err != nil {
		return nil, err
	}
	layout, err := readBounded(o.Layout, intoto.MaxMetadataSize)
	if err != nil {
		return nil, err
	}
	layoutTarget := m.Prefix + inTotoMetadataDir + "/" + filepath.Base(o.Layout)
	keyFiles, keyData, err := r.inTotoKeys(m, o.Keys, layoutTarget, layout)
	if err != nil {
		return nil, err
	}
	sum := metadata.HashesOf(pkg, false).SHA256
	links, linkData, err := inTotoLinks(o.Links, m.Prefix+inTotoMetadataDir+"/"+hex.EncodeToString(sum))
	if err != nil {
		return nil, err
	}
	if err := CheckInTotoLinks(layout, linkData); err != nil {
		return nil, fmt.Errorf("%s: in-toto metadata incomplete: %w", o.Package, err)
	}
	in := intoto.Input{Layout: layout, LayoutKeys: keyData, Links: linkData, Product: o.Product, Package: bytes.NewReader(pkg)}
	if _, err := intoto.Verify(in, intoto.Options{AllowInspections: o.AllowInspections}); err != nil {
		return nil, fmt.Errorf("%s: in-toto verification failed, not adding it: %w", o.Package, err)
	}
	list := []string{layoutTarget}
	for _, l := range links {
		list = append(list, l.target)
	}
	pkgCustom, _ := json.Marshal(map[string][]string{intoto.CustomKey: list})
	groups := []inTotoGroup{{[]inTotoFile{{file: o.Package, target: o.As}}, o.Role, pkgCustom}, {links, o.Role, nil}}
	if len(keyFiles) > 0 {
		var keyPaths []string
		for _, k := range keyFiles {
			keyPaths = append(keyPaths, k.target)
		}
		layoutCustom, _ := json.Marshal(map[string][]string{intoto.CustomKey: keyPaths})
		groups = append(groups,
			inTotoGroup{[]inTotoFile{{file: o.Layout, target: layoutTarget}}, metadata.TypeTargets, layoutCustom},
			inTotoGroup{keyFiles, metadata.TypeTargets, nil})
	}
	return r.addGroups(ctx, groups)
}

// inTotoGroup is files added to one role with the same custom metadata.
type inTotoGroup struct {
	files  []inTotoFile
	role   string
	custom []byte
}

// addGroups stores the files' content and adds them all in one update.
func (r *Repo) addGroups(ctx context.Context, groups []inTotoGroup) (*AddResult, error) {
	res := &AddResult{Roles: map[string]int{}}
	targets := make([][]Target, len(groups))
	batch := newFileBatch(filepath.Join(r.dir, targetsDir))
	defer batch.discard()
	for i, g := range groups {
		for _, f := range g.files {
			tf, err := r.storeContent(f.file, f.target, nil, batch)
			if err != nil {
				return nil, err
			}
			targets[i] = append(targets[i], Target{Path: f.target, File: tf})
		}
		res.Targets = append(res.Targets, targets[i]...)
	}
	res.Count = len(res.Targets)
	if err := batch.sync(); err != nil {
		return nil, err
	}
	err := r.Update(ctx, func(tx *Tx) error {
		for i, g := range groups {
			counts, err := tx.add(targets[i], AddOptions{Role: g.role, Custom: g.custom})
			if err != nil {
				return err
			}
			for role, n := range counts {
				res.Roles[role] += n
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// inTotoKeys returns the layout's keys: from the files given, as targets
// to add, or, when none are given, from the repository, where the layout
// must already be.
func (r *Repo) inTotoKeys(m InTotoModel, files []string, layoutTarget string, layout []byte) ([]inTotoFile, [][]byte, error) {
	var out []inTotoFile
	var data [][]byte
	for _, f := range files {
		b, err := readBounded(f, intoto.MaxKeySize)
		if err != nil {
			return nil, nil, err
		}
		k, err := intoto.ParsePublicKey(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, inTotoFile{file: f, target: m.Prefix + inTotoKeysDir + "/" + k.KeyID + ".pub", data: b})
		data = append(data, b)
	}
	if len(files) > 0 {
		return out, data, nil
	}
	tf, ok, err := r.topTarget(layoutTarget)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("layout %s is not in the repository yet: give the public keys that verify it with --in-toto-key", layoutTarget)
	}
	if err := tf.Verify(layout); err != nil {
		return nil, nil, fmt.Errorf("layout %s differs from the one in the repository (%v): give it a new name, or its keys with --in-toto-key to replace it", layoutTarget, err)
	}
	keyPaths, err := intoto.ParseCustom(tf.Custom)
	if err != nil {
		return nil, nil, fmt.Errorf("layout %s in the repository: %w", layoutTarget, err)
	}
	for _, p := range keyPaths {
		b, err := r.targetContent(p)
		if err != nil {
			return nil, nil, fmt.Errorf("layout %s: key %s: %w", layoutTarget, p, err)
		}
		data = append(data, b)
	}
	return nil, data, nil
}

// targetContent reads a target of the top-level targets role from the
// content store.
func (r *Repo) targetContent(p string) ([]byte, error) {
	tf, ok, err := r.topTarget(p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("not a target of the top-level targets role")
	}
	b, err := readBounded(filepath.Join(r.dir, targetsDir, filepath.FromSlash(tf.ConsistentPath(p))), intoto.MaxKeySize)
	if err != nil {
		return nil, err
	}
	return b, tf.Verify(b)
}

// topTarget looks p up in the staged top-level targets role.
func (r *Repo) topTarget(p string) (metadata.TargetFile, bool, error) {
	md, err := r.readTargets(metadata.TypeTargets)
	if err != nil {
		return metadata.TargetFile{}, false, err
	}
	return md.Signed.Lookup(p)
}

// inTotoLinks reads the link files, to be added under dir.
func inTotoLinks(files []string, dir string) ([]inTotoFile, map[string][]byte, error) {
	out := []inTotoFile{}
	data := map[string][]byte{}
	for _, f := range files {
		name := filepath.Base(f)
		if err := intoto.CheckLinkName(name); err != nil {
			return nil, nil, err
		}
		if _, dup := data[name]; dup {
			return nil, nil, fmt.Errorf("two links named %s", name)
		}
		b, err := readBounded(f, intoto.MaxMetadataSize)
		if err != nil {
			return nil, nil, err
		}
		data[name] = b
		out = append(out, inTotoFile{file: f, target: dir + "/" + name, data: b})
	}
	slices.SortFunc(out, func(a, b inTotoFile) int { return strings.Compare(a.target, b.target) })
	return out, data, nil
}

// layoutStep is what CheckInTotoLinks reads of a layout's step.
type layoutStep struct {
	Name      string   `json:"name"`
	PubKeys   []string `json:"pubkeys"`
	Threshold int      `json:"threshold"`
}

// CheckInTotoLinks checks that the links fit the layout: each is named
// after a step of the layout and a key that the layout authorizes for it,
// its content is that step's, and each step has at least its threshold of
// links.
func CheckInTotoLinks(layout []byte, links map[string][]byte) error {
	steps, err := layoutSteps(layout)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for name, data := range links {
		if err := knownStep(steps, name); err != nil {
			return err
		}
		step, keyid, _ := intoto.SplitLinkName(name)
		i := slices.IndexFunc(steps, func(s layoutStep) bool { return s.Name == step })
		if !slices.ContainsFunc(steps[i].PubKeys, func(id string) bool { return strings.HasPrefix(id, keyid) }) {
			return fmt.Errorf("link %s: the layout authorizes no key %s... for step %q", name, keyid, step)
		}
		var link struct {
			Signed struct {
				Name string `json:"name"`
			} `json:"signed"`
		}
		if err := json.Unmarshal(data, &link); err != nil || link.Signed.Name != step {
			return fmt.Errorf("link %s: not a link of step %q", name, step)
		}
		count[step]++
	}
	for _, s := range steps {
		if count[s.Name] < max(s.Threshold, 1) {
			return fmt.Errorf("step %q: %d link(s), the layout requires %d", s.Name, count[s.Name], max(s.Threshold, 1))
		}
	}
	return nil
}

// layoutSteps reads the steps of a layout.
func layoutSteps(layout []byte) ([]layoutStep, error) {
	var l struct {
		Signed struct {
			Steps []layoutStep `json:"steps"`
		} `json:"signed"`
	}
	if err := json.Unmarshal(layout, &l); err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	return l.Signed.Steps, nil
}

// knownStep checks that the link file name names a step of the layout.
func knownStep(steps []layoutStep, name string) error {
	step, _, _ := intoto.SplitLinkName(name)
	if slices.ContainsFunc(steps, func(s layoutStep) bool { return s.Name == step }) {
		return nil
	}
	var names []string
	for _, s := range steps {
		names = append(names, s.Name)
	}
	return fmt.Errorf("link %s: the layout has no step %q (its steps: %s)", name, step, strings.Join(names, ", "))
}

// readBounded reads a file of at most limit bytes.
func readBounded(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return buf.Bytes(), nil
}

// checkInTotoPackages refuses to publish a package whose in-toto metadata
// is incomplete: a path its "in-toto" list names (layout or link) that is
// not a target of the repository as a client would find it, a layout
// whose own list names a key that is not a target, or, when the layout is
// in the content store, a link for a step the layout does not have. It
// refuses what is incomplete, not what fails verification (too few links
// for a step, a link by a key the layout does not authorize): clients run
// in-toto verification and refuse that. AddInToto refuses both; this
// catches what was changed after it (a link or layout removed, a list set
// by hand with --custom).
//
// It reads every targets role, except, in a repository that does not use
// in-toto, the hashed bins that are not about to be published: reading
// thousands of them would make every publish of a large repository slow.
// A repository uses in-toto when in-toto-setup set it up, or when a role
// read mentions "in-toto". Roles without "in-toto" in their bytes are not
// parsed. known holds whether roles the caller has already read mention
// it (see mentionsInToto), so that they are not read again.
func (r *Repo) checkInTotoPackages(todo []pendingRole, known map[string]bool) error {
	snap, err := r.readSnapshot()
	if err != nil {
		return err
	}
	fresh := map[string]bool{}
	for _, p := range todo {
		fresh[p.role] = true
	}
	var roles, otherBins []string
	for _, name := range slices.Sorted(maps.Keys(snap.Signed.Meta)) {
		if role := strings.TrimSuffix(name, ".json"); !r.cfg.isBin(role) || fresh[role] {
			roles = append(roles, role)
		} else {
			otherBins = append(otherBins, role)
		}
	}
	mentions, err := r.mentionInToto(roles, known)
	if err != nil {
		return err
	}
	_, serr := os.Stat(filepath.Join(r.dir, inTotoConfigFile))
	if len(otherBins) > 0 && (serr == nil || slices.Contains(mentions, true)) {
		more, err := r.mentionInToto(otherBins, known)
		if err != nil {
			return err
		}
		roles, mentions = append(roles, otherBins...), append(mentions, more...)
	}
	c := &inTotoCheck{r: r, roles: map[string]*metadata.Targets{}}
	for i, role := range roles {
		if !mentions[i] {
			continue
		}
		t, err := c.role(role)
		if err != nil {
			return err
		}
		for _, p := range slices.Sorted(maps.Keys(t.Targets)) {
			if err := c.checkPackage(p, t.Targets[p]); err != nil {
				return fmt.Errorf("not publishing package %s (listed by %s): in-toto metadata incomplete: %w", p, role, err)
			}
		}
	}
	return nil
}

// mentionInToto reports which roles have "in-toto" in their bytes: as known
// says, or reading them in parallel (there may be thousands of bins).
func (r *Repo) mentionInToto(roles []string, known map[string]bool) ([]bool, error) {
	mentions := make([]bool, len(roles))
	err := parallel(len(roles), func(i int) error {
		if m, ok := known[roles[i]]; ok {
			mentions[i] = m
			return nil
		}
		raw, err := r.rawRole(roles[i])
		mentions[i] = err == nil && mentionsInToto(raw)
		return err
	})
	return mentions, err
}

// mentionsInToto reports whether a role's bytes have "in-toto" (quoted) in
// them: only such a role can list in-toto metadata.
func mentionsInToto(raw []byte) bool {
	// Searched for without its opening quote, the most common byte of
	// JSON, at which a search for the quoted name would stop at every
	// string (a tenth of the time of a publish of a million targets).
	const rest = intoto.CustomKey + `"`
	for i := 0; ; {
		k := bytes.Index(raw[i:], []byte(rest))
		if k < 0 {
			return false
		}
		if i+k > 0 && raw[i+k-1] == '"' {
			return true
		}
		i += k + 1
	}
}

// inTotoCheck looks targets up in the staged repository, as a client
// would, for checkInTotoPackages.
type inTotoCheck struct {
	r     *Repo
	roles map[string]*metadata.Targets
}

func (c *inTotoCheck) role(name string) (*metadata.Targets, error) {
	if t, ok := c.roles[name]; ok {
		return t, nil
	}
	md, err := c.r.readTargets(name)
	if err != nil {
		return nil, fmt.Errorf("role %s: %w", name, err)
	}
	c.roles[name] = md.Signed
	return md.Signed, nil
}

// checkPackage checks one target. A package's "in-toto" list names its
// links (".link") or its layout (".layout", as in-toto names them);
// targets without such a list, and layouts (whose list names public
// keys), pass.
func (c *inTotoCheck) checkPackage(p string, tf metadata.TargetFile) error {
	if !bytes.Contains(tf.Custom, []byte(`"`+intoto.CustomKey+`"`)) {
		return nil
	}
	list, err := intoto.ParseCustom(tf.Custom)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(list, func(s string) bool { return strings.HasSuffix(s, ".link") || strings.HasSuffix(s, ".layout") }) {
		return nil
	}
	layoutPath, linkPaths, err := intoto.SplitPackageList(list)
	if err != nil {
		return err
	}
	layoutTF, err := c.need(layoutPath, "layout")
	if err != nil {
		return err
	}
	keys, err := intoto.ParseCustom(layoutTF.Custom)
	if err != nil {
		return fmt.Errorf("layout %s: %w", layoutPath, err)
	}
	for _, k := range keys {
		if _, err := c.need(k, "key of layout "+layoutPath); err != nil {
			return err
		}
	}
	for _, l := range linkPaths {
		if _, err := c.need(l, "link"); err != nil {
			return err
		}
	}
	layout, ok := c.content(layoutPath, layoutTF)
	if !ok {
		return nil // not in the content store (pulled metadata only): presence is all that can be checked
	}
	if err := checkLinkSteps(layout, linkPaths); err != nil {
		return fmt.Errorf("layout %s: %w", layoutPath, err)
	}
	return nil
}

// checkLinkSteps checks that each link is named after a step of the
// layout. Whether the links meet the steps' thresholds and keys is for
// in-toto verification to say, on the client: publish refuses what is
// incomplete, not what fails verification.
func checkLinkSteps(layout []byte, linkPaths []string) error {
	steps, err := layoutSteps(layout)
	if err != nil {
		return err
	}
	for _, l := range linkPaths {
		if err := knownStep(steps, path.Base(l)); err != nil {
			return err
		}
	}
	return nil
}

// need finds a target the package's in-toto metadata names.
func (c *inTotoCheck) need(p, what string) (metadata.TargetFile, error) {
	tf, found, _, err := c.find(metadata.TypeTargets, p, 0, map[string]bool{})
	if err != nil {
		return tf, err
	}
	if !found {
		return tf, fmt.Errorf("%s %s is not a target of the repository (a client would not find it)", what, p)
	}
	return tf, nil
}

// find searches for p as a client does: pre-order through the
// delegations trusted for p, stopping at a terminating one.
func (c *inTotoCheck) find(role, p string, depth int, visited map[string]bool) (tf metadata.TargetFile, found, stop bool, err error) {
	if depth > 32 || visited[role] {
		return tf, false, false, nil
	}
	visited[role] = true
	t, err := c.role(role)
	if err != nil {
		return tf, false, false, err
	}
	if tf, ok := t.Targets[p]; ok {
		return tf, true, false, nil
	}
	if t.Delegations == nil {
		return tf, false, false, nil
	}
	for _, d := range t.Delegations.RolesFor(p) {
		tf, found, stop, err = c.find(d.Name, p, depth+1, visited)
		if found || stop || err != nil {
			return tf, found, stop, err
		}
		if d.Terminating {
			return tf, false, true, nil
		}
	}
	return tf, false, false, nil
}

// content reads a target from the content store, checked against its
// length and hashes; false when the store does not hold it.
func (c *inTotoCheck) content(p string, tf metadata.TargetFile) ([]byte, bool) {
	b, err := readBounded(filepath.Join(c.r.dir, targetsDir, filepath.FromSlash(tf.ConsistentPath(p))), intoto.MaxMetadataSize)
	if err != nil || tf.Verify(b) != nil {
		return nil, false
	}
	return b, true
}
