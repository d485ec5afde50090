package repo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// SignResult says what Sign or Merge did.
type SignResult struct {
	Signed  []string // roles that got a new signature
	Already []string // roles the key had already signed
	// Refreshed lists roles regenerated as a consequence (timestamp after
	// snapshot was signed).
	Refreshed []string
}

// Sign adds signer's signature to the staged metadata of role without
// changing the metadata: this is how a key held elsewhere (offline, on
// another machine) signs. role "bins" signs every hashed bin. The key must
// be one the role trusts (for root, the new or the previous root).
func (r *Repo) Sign(ctx context.Context, role string, signer keys.Signer) (*SignResult, error) {
	res := &SignResult{}
	var changes []change
	var err error
	switch role {
	case metadata.TypeRoot:
		changes, err = r.signRoot(ctx, signer, res)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			return res, nil // signed already
		}
	case metadata.TypeSnapshot, metadata.TypeTimestamp:
		changes, err = r.signOnlineRole(ctx, role, signer, res)
		if err != nil {
			return nil, err
		}
		if len(changes) == 0 {
			return res, nil // signed already
		}
	default:
		roles, err := r.rolesToSign(role)
		if err != nil {
			return nil, err
		}
		if changes, err = r.signTargetsRoles(ctx, role, roles, signer, res); err != nil {
			return nil, err
		}
	}
	if err := r.commitSignatures(ctx, changes, res); err != nil {
		return nil, err
	}
	return res, nil
}

// rolesToSign are the roles "sign ROLE" signs: every hashed bin made so
// far for "bins" (or the bins' prefix), role otherwise.
func (r *Repo) rolesToSign(role string) ([]string, error) {
	if role != binsPolicy && (r.cfg.Bins == nil || role != r.cfg.Bins.Prefix) {
		return []string{role}, nil
	}
	s := r.cfg.succinct()
	if s == nil {
		return nil, fmt.Errorf("this repository has no hashed bins")
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	var roles []string
	for i := range s.NumBins() { // the bins made so far
		if _, ok := snap.Signed.Meta[s.BinName(i)+".json"]; ok {
			roles = append(roles, s.BinName(i))
		}
	}
	return roles, nil
}

// signRoot signs the staged root with a key of it or of the root before
// it; it returns no changes when the key had signed it already.
func (r *Repo) signRoot(ctx context.Context, signer keys.Signer, res *SignResult) ([]change, error) {
	id := KeyID(signer.PublicKey())
	role := metadata.TypeRoot
	root := r.root
	ok := slices.Contains(root.Signed.Roles[metadata.TypeRoot].KeyIDs, id)
	if v := root.Signed.Version; v > 1 && !ok {
		_, prev, err := r.readRootVersion(v - 1)
		if err != nil {
			return nil, err
		}
		ok = slices.Contains(prev.Signed.Roles[metadata.TypeRoot].KeyIDs, id)
	}
	if !ok {
		return nil, fmt.Errorf("key %s is not a root key of root version %d or the one before it", shortID(id), root.Signed.Version)
	}
	b, added, err := addSignature(ctx, r.root, signer)
	if err != nil {
		return nil, err
	}
	if !added {
		res.Already = append(res.Already, role)
		return nil, nil
	}
	res.Signed = append(res.Signed, role)
	return []change{{path: stagedRel(role), data: b},
		{path: fmt.Sprintf("%s/%d.root.json", rootsDir, root.Signed.Version), data: b}}, nil
}

// signOnlineRole signs the staged snapshot or timestamp; it returns no
// changes when the key had signed it already.
func (r *Repo) signOnlineRole(ctx context.Context, role string, signer keys.Signer, res *SignResult) ([]change, error) {
	id := KeyID(signer.PublicKey())
	if !slices.Contains(r.root.Signed.Roles[role].KeyIDs, id) {
		return nil, fmt.Errorf("key %s is not a key of %s (its keys: %s)", shortID(id), role, shortList(r.root.Signed.Roles[role].KeyIDs))
	}
	raw, err := r.rawRole(role)
	if err != nil {
		return nil, err
	}
	var b []byte
	var added bool
	if role == metadata.TypeSnapshot {
		md, err := metadata.ParseSnapshot(raw)
		if err != nil {
			return nil, err
		}
		b, added, err = addSignature(ctx, md, signer)
		if err != nil {
			return nil, err
		}
	} else {
		md, err := metadata.ParseTimestamp(raw)
		if err != nil {
			return nil, err
		}
		b, added, err = addSignature(ctx, md, signer)
		if err != nil {
			return nil, err
		}
	}
	if !added {
		res.Already = append(res.Already, role)
		return nil, nil
	}
	res.Signed = append(res.Signed, role)
	return []change{{path: stagedRel(role), data: b}}, nil
}

// signTargetsRoles signs targets or the delegated roles (role, or the
// bins) with a key they trust.
func (r *Repo) signTargetsRoles(ctx context.Context, role string, roles []string, signer keys.Signer, res *SignResult) ([]change, error) {
	id := KeyID(signer.PublicKey())
	parents := map[string]*metadata.Targets{}
	out := make([][]byte, len(roles))
	bar := newCountBar(r.opts.Progress, len(roles), "signing "+role)
	for _, name := range roles {
		if metadata.IsTopLevel(name) {
			continue
		}
		d, _, err := r.delegation(name, parents)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(d.KeyIDs, id) {
			return nil, fmt.Errorf("key %s is not a key of role %s (its keys: %s)", shortID(id), name, shortList(d.KeyIDs))
		}
		break // bins share their keys
	}
	if role == metadata.TypeTargets && !slices.Contains(r.root.Signed.Roles[role].KeyIDs, id) {
		return nil, fmt.Errorf("key %s is not a key of targets (its keys: %s)", shortID(id), shortList(r.root.Signed.Roles[role].KeyIDs))
	}
	err := parallel(len(roles), func(i int) error {
		md, err := r.readTargets(roles[i])
		if err != nil {
			return err
		}
		b, added, err := addSignature(ctx, md, signer)
		if err != nil {
			return err
		}
		if added {
			out[i] = b
		}
		bar.Add(1)
		return nil
	})
	bar.Finish()
	if err != nil {
		return nil, err
	}
	var changes []change
	for i, b := range out {
		if b == nil {
			res.Already = append(res.Already, roles[i])
			continue
		}
		changes = append(changes, change{path: stagedRel(roles[i]), data: b})
		res.Signed = append(res.Signed, roles[i])
	}
	return changes, nil
}

// addSignature signs md's current bytes with signer; added is false when
// the key had already signed them.
func addSignature[T metadata.Role](ctx context.Context, md *metadata.Metadata[T], signer keys.Signer) (out []byte, added bool, err error) {
	id := KeyID(signer.PublicKey())
	payload := md.SignedBytes()
	for _, s := range md.Signatures {
		if s.KeyID == id {
			if v, err := metadata.NewKey(signer.PublicKey()).Verifier(); err == nil && v.Verify(payload, s.Value) == nil {
				return nil, false, nil
			}
		}
	}
	value, err := signer.Sign(ctx, payload)
	if err != nil {
		return nil, false, err
	}
	md.AddSignature(metadata.Signature{KeyID: id, Value: value})
	out, err = md.Encode()
	return out, true, err
}

// commitSignatures commits re-signed files; a new snapshot signature
// makes a new timestamp when the timestamp keys are at hand.
func (r *Repo) commitSignatures(ctx context.Context, changes []change, res *SignResult) error {
	if len(changes) == 0 {
		return nil
	}
	var snap []byte
	for _, c := range changes {
		if c.path == stagedRel(metadata.TypeSnapshot) {
			snap = c.data
		}
	}
	if snap != nil {
		if signers, _ := r.signersFor(ctx, r.root.Signed.Roles[metadata.TypeTimestamp].KeyIDs); len(signers) > 0 {
			tx := &Tx{r: r, ctx: ctx, cfg: r.cfg}
			b, err := tx.timestampFor(signerCache{}, snap)
			if err != nil {
				return err
			}
			changes = append(changes, change{path: stagedRel(metadata.TypeTimestamp), data: b})
			res.Refreshed = append(res.Refreshed, metadata.TypeTimestamp)
		}
	}
	if err := commitFiles(r.dir, changes); err != nil {
		return err
	}
	r.mu.Lock()
	for _, c := range changes {
		if role, ok := cutStaged(c.path); ok {
			r.raw[role] = c.data
			delete(r.fresh, role)
		}
	}
	r.mu.Unlock()
	for _, c := range changes {
		if c.path == stagedRel(metadata.TypeRoot) {
			root, err := metadata.ParseRoot(c.data)
			if err != nil {
				return err
			}
			r.root = root
		}
	}
	return nil
}

// roleOfFile says which role's metadata the file src is: a staged
// ROLE.json (metadata.RoleFileName), or a published N.ROLE.json, for a
// role with '/' in its name the path's last segments
// (.../metadata/3.targets/releases.json) when this repository stages
// such a role.
func (r *Repo) roleOfFile(src string) (string, error) {
	segs := strings.Split(filepath.ToSlash(src), "/")
	for i := len(segs) - 1; i >= 0 && i >= len(segs)-8; i-- {
		v, rest, ok := strings.Cut(segs[i], ".")
		if _, err := strconv.ParseUint(v, 10, 63); !ok || err != nil {
			continue
		}
		role, ok := strings.CutSuffix(strings.Join(append([]string{rest}, segs[i+1:]...), "/"), ".json")
		if ok && metadata.CheckRoleName(role) == nil {
			if _, err := os.Stat(r.stagedPath(role)); err == nil {
				return role, nil
			}
		}
	}
	if role, ok := metadata.RoleFromFileName(filepath.Base(src)); ok {
		return role, nil
	}
	return "", fmt.Errorf("%s: want a staged ROLE.json (a '/' in ROLE as %%2F) or a published N.ROLE.json", src)
}

// Merge collects signatures made in another copy of the repository. src is
// that copy's directory, or one metadata file (its staged ROLE.json, or a
// published N.ROLE.json, which for a role whose name has a '/' is
// N.FIRST/REST.json). Only valid signatures by keys of the role over
// exactly the staged content are taken; a file for different content is an
// error naming both versions.
func (r *Repo) Merge(ctx context.Context, src string) (*SignResult, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	type cand struct{ role, path string }
	var cands []cand
	if fi.IsDir() {
		dir := src
		if _, err := os.Stat(filepath.Join(src, stagedDir)); err == nil {
			dir = filepath.Join(src, stagedDir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if name, ok := metadata.RoleFromFileName(e.Name()); ok && !e.IsDir() {
				cands = append(cands, cand{name, filepath.Join(dir, e.Name())})
			}
		}
	} else {
		name, err := r.roleOfFile(src)
		if err != nil {
			return nil, err
		}
		cands = append(cands, cand{name, src})
	}
	res := &SignResult{}
	var changes []change
	parents := map[string]*metadata.Targets{}
	for _, c := range cands {
		theirs, err := os.ReadFile(c.path)
		if err != nil {
			return nil, err
		}
		ours, err := r.rawRole(c.role)
		if err != nil {
			if fi.IsDir() {
				continue
			}
			return nil, err
		}
		if bytes.Equal(theirs, ours) {
			continue
		}
		var b []byte
		var added int
		switch c.role {
		case metadata.TypeRoot:
			b, added, err = mergeInto(c, ours, theirs, metadata.ParseRoot, func(md *metadata.Metadata[*metadata.Root]) (*metadata.SignatureReport, error) {
				rep, _ := md.Signed.ReportRole(metadata.TypeRoot, md)
				if v := md.Signed.Version; v > 1 {
					_, prev, err := r.readRootVersion(v - 1)
					if err != nil {
						return nil, err
					}
					old, _ := prev.Signed.ReportRole(metadata.TypeRoot, md)
					rep.Valid = append(rep.Valid, old.Valid...)
				}
				return rep, nil
			})
		case metadata.TypeSnapshot:
			b, added, err = mergeInto(c, ours, theirs, metadata.ParseSnapshot, func(md *metadata.Metadata[*metadata.Snapshot]) (*metadata.SignatureReport, error) {
				return r.reportRole(c.role, md, parents)
			})
		case metadata.TypeTimestamp:
			b, added, err = mergeInto(c, ours, theirs, metadata.ParseTimestamp, func(md *metadata.Metadata[*metadata.Timestamp]) (*metadata.SignatureReport, error) {
				return r.reportRole(c.role, md, parents)
			})
		default:
			b, added, err = mergeInto(c, ours, theirs, metadata.ParseTargets, func(md *metadata.Metadata[*metadata.Targets]) (*metadata.SignatureReport, error) {
				return r.reportRole(c.role, md, parents)
			})
		}
		if err != nil {
			if fi.IsDir() && err == errDifferent {
				continue // that copy is at another version of this role
			}
			if err == errDifferent {
				err = fmt.Errorf("%s is for different %s metadata than this repository has staged: sign the staged metadata (copy %s to the key holder)", c.path, c.role, r.stagedPath(c.role))
			}
			return nil, err
		}
		if added == 0 {
			continue
		}
		changes = append(changes, change{path: stagedRel(c.role), data: b})
		if c.role == metadata.TypeRoot {
			changes = append(changes, change{path: fmt.Sprintf("%s/%d.root.json", rootsDir, r.root.Signed.Version), data: b})
		}
		res.Signed = append(res.Signed, c.role)
	}
	if err := r.commitSignatures(ctx, changes, res); err != nil {
		return nil, err
	}
	return res, nil
}

var errDifferent = fmt.Errorf("different content")

// mergeInto adds to ours the valid signatures of theirs, which must be
// over the same content.
func mergeInto[T metadata.Role](c struct{ role, path string }, ours, theirs []byte, parse func([]byte) (*metadata.Metadata[T], error),
	report func(*metadata.Metadata[T]) (*metadata.SignatureReport, error)) ([]byte, int, error) {
	o, err := parse(ours)
	if err != nil {
		return nil, 0, err
	}
	t, err := parse(theirs)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", c.path, err)
	}
	if !bytes.Equal(o.SignedBytes(), t.SignedBytes()) {
		return nil, 0, errDifferent
	}
	rep, err := report(t)
	if err != nil {
		return nil, 0, err
	}
	have := map[string]bool{}
	for _, s := range o.Signatures {
		have[s.KeyID] = true
	}
	added := 0
	for _, s := range t.Signatures {
		if have[s.KeyID] || !slices.Contains(rep.Valid, s.KeyID) {
			continue
		}
		o.AddSignature(s)
		added++
	}
	if added == 0 {
		return nil, 0, nil
	}
	b, err := o.Encode()
	return b, added, err
}
