package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// PullResult says what PullFromServer did.
type PullResult struct {
	// RootVersions are the root versions fetched, in order.
	RootVersions []int64
	// Roles are the targets roles fetched, sorted.
	Roles []string
	// Ahead are roles staged here at a newer version than the server's:
	// changes not published yet, kept.
	Ahead []string
	// UpToDate is true when the server had nothing newer.
	UpToDate bool
	// Expired are the server's roles read in the pull that have expired,
	// each with its expiry: pulled all the same, so that they can be
	// renewed (see serverread.go).
	Expired []string
}

// PullFromServer brings the repository up to date with its metadata
// server, for a maintainer whose copy is behind what others published
// there. It fetches the root versions and the targets roles that are newer
// on the server and checks them as a client would: each root against the
// one before it, timestamp and snapshot against the newest root, and each
// role against the lengths and hashes snapshot lists and against the keys
// its delegator (as the server has it) trusts. Roles staged here at a
// newer version than the server's are kept; a role at the same version
// but with other content means the two copies were changed apart, and
// nothing is pulled. Delegations others made are recorded in repo.json.
// Everything is written in one commit.
func (r *Repo) PullFromServer(ctx context.Context, c MetadataServer) (*PullResult, error) {
	sc := r.cfg.Server
	if sc == nil {
		return nil, fmt.Errorf("%s does not publish to a metadata server (its repo.json names none): there is nothing to pull from", r.dir)
	}
	gun := sc.GUN
	res := &PullResult{}

	// Root: every version the server has beyond ours, each checked
	// against the one before it.
	set, changes, current, err := r.pullRoots(ctx, c, gun, res)
	if err != nil {
		return nil, err
	}
	local := r.root.Signed.Version

	// Timestamp and snapshot, checked against the server's root.
	if err := r.loadServerSnapshot(ctx, c, gun, set); err != nil {
		return nil, err
	}
	serverMeta := set.Snapshot().Signed.Meta
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	localMeta := snap.Signed.Meta
	pull, err := r.rolesToPull(serverMeta, localMeta, res)
	if err != nil {
		return nil, err
	}
	if len(pull) == 0 && len(res.RootVersions) == 0 {
		res.UpToDate = true
		res.Expired = expiredRoles(set)
		return res, nil
	}

	// The roles to pull, fetched in parallel (thousands of bins), then
	// checked against their delegators.
	fetched, err := r.fetchRoles(ctx, c, gun, pull, serverMeta)
	if err != nil {
		return nil, err
	}
	parentOf, err := r.loadServerRoles(ctx, c, gun, set, pull, fetched, localMeta)
	if err != nil {
		return nil, err
	}
	for _, role := range pull {
		t := set.Targets(role)
		if t == nil {
			return nil, fmt.Errorf("the server's snapshot lists %s, but no role of the server's delegates to it", role)
		}
		changes = append(changes, change{path: stagedRel(role), data: t.Raw})
		res.Roles = append(res.Roles, role)
	}
	res.Expired = expiredRoles(set)

	// One commit: the fetched files as they are, repo.json with the
	// delegations others made, and snapshot and timestamp: the server's
	// when this copy has nothing of its own left, otherwise the staged
	// snapshot with the pulled versions, signed again with the keys at
	// hand (a new timestamp follows).
	merged := len(res.Ahead) > 0 || local > current
	if !merged {
		changes = append(changes,
			change{path: stagedRel(metadata.TypeSnapshot), data: set.Snapshot().Raw},
			change{path: stagedRel(metadata.TypeTimestamp), data: set.Timestamp().Raw})
	}
	oldRoot := r.root
	if local < current {
		r.root = set.Root().Metadata // the keys a new snapshot is signed with
	}
	err = r.updateSigned(ctx, func(tx *Tx) (signedFiles, error) {
		signed := signedFiles{files: changes}
		cfg := tx.Config()
		if td := set.Targets(metadata.TypeTargets); cfg.Bins == nil && td != nil && td.Signed.Delegations != nil && td.Signed.Delegations.Succinct != nil {
			sr := td.Signed.Delegations.Succinct // hashed bins made elsewhere
			cfg.Bins = &BinsConfig{Bits: sr.BitLength, Prefix: sr.NamePrefix}
		}
		for role, p := range parentOf {
			if !cfg.isBin(role) {
				if _, ok := cfg.Delegations[role]; !ok {
					cfg.Delegations[role] = p
				}
			}
		}
		if merged {
			signed.versions = map[string]int64{}
			for _, role := range res.Roles {
				signed.versions[role] = serverMeta[role+".json"].Version
			}
			signed.renew = true
		}
		return signed, nil
	})
	if err != nil {
		r.root = oldRoot
		return nil, err
	}
	return res, nil
}

// pullRoots starts the trust rules from the server's current root: this
// repository's root of that version when it has it, otherwise the root
// versions it lacks, each checked against the one before it and recorded
// in res. It returns the Set, the root files to write and the server's
// root version.
func (r *Repo) pullRoots(ctx context.Context, c MetadataServer, gun string, res *PullResult) (*trust.Set, []change, int64, error) {
	current, err := readServerRoot(ctx, c, gun)
	if errors.Is(err, api.ErrNotFound) {
		return nil, nil, 0, fmt.Errorf("%s has no repository %s yet: publish it first with 'rampart repo publish %s'", r.cfg.Server.URL, gun, r.dir)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	local, last := r.root.Signed.Version, current.Signed.Version
	if last <= local {
		own, _, err := r.ownRoot(c, gun, current)
		if err != nil {
			return nil, nil, 0, err
		}
		set, err := serverTrust(own, r.opts.Now)
		return set, nil, last, err
	}
	mine, _, err := r.readRootVersion(local)
	if err != nil {
		return nil, nil, 0, err
	}
	set, err := serverTrust(mine, r.opts.Now)
	if err != nil {
		return nil, nil, 0, err
	}
	set, changes, err := fetchRootChain(ctx, c, gun, set, last, r.opts.Now)
	if err != nil {
		return nil, nil, 0, err
	}
	if !bytes.Equal(set.Root().SignedBytes(), current.SignedBytes()) {
		return nil, nil, 0, fmt.Errorf("%s/metadata/root.json is not the root version %d it serves as %d.root.json", c.RepositoryURL(gun), last, last)
	}
	for v := local + 1; v <= last; v++ {
		res.RootVersions = append(res.RootVersions, v)
	}
	changes = append(changes, change{path: stagedRel(metadata.TypeRoot), data: set.Root().Raw})
	return set, changes, last, nil
}

// rolesToPull compares the server's snapshot with this copy's: it returns
// the roles newer there, records in res those newer here, and refuses a
// role of the same version but other content.
func (r *Repo) rolesToPull(serverMeta, localMeta map[string]metadata.MetaFile, res *PullResult) ([]string, error) {
	var pull []string
	for _, file := range slices.Sorted(maps.Keys(serverMeta)) {
		role := strings.TrimSuffix(file, ".json")
		there, mine := serverMeta[file], localMeta[file]
		switch {
		case mine.Version == 0 || mine.Version < there.Version:
			if err := checkRoleName(role); err != nil && role != metadata.TypeTargets {
				return nil, fmt.Errorf("the server's snapshot lists %s: %w", role, err)
			}
			pull = append(pull, role)
		case mine.Version > there.Version:
			res.Ahead = append(res.Ahead, role)
		default: // the same version: it must be the same document
			same, err := r.sameAsServer(role, there)
			if err != nil {
				return nil, err
			}
			if !same {
				return nil, fmt.Errorf("%s version %d here is not the server's %s version %d: this copy and the server were changed apart; nothing was pulled: make this copy's change again on a copy brought up to date with 'rampart repo pull'", role, mine.Version, role, there.Version)
			}
		}
	}
	for file := range localMeta {
		if _, ok := serverMeta[file]; !ok {
			res.Ahead = append(res.Ahead, strings.TrimSuffix(file, ".json"))
		}
	}
	slices.Sort(res.Ahead)
	return pull, nil
}

// fetchRoles reads the roles to pull from the server, in parallel, each
// within the length the server's snapshot lists for it.
func (r *Repo) fetchRoles(ctx context.Context, c MetadataServer, gun string, pull []string, serverMeta map[string]metadata.MetaFile) (map[string][]byte, error) {
	fetched := map[string][]byte{}
	var mu sync.Mutex
	bar := newCountBar(r.opts.Progress, len(pull), "fetching roles")
	defer bar.Finish()
	err := parallel(len(pull), func(i int) error {
		role := pull[i]
		m := serverMeta[role+".json"]
		data, err := fetchMeta(ctx, c, gun, fmt.Sprintf("%d.%s.json", m.Version, role), m, maxServerSnapshotBytes)
		if err != nil {
			return err
		}
		mu.Lock()
		fetched[role] = data
		mu.Unlock()
		bar.Add(1)
		return nil
	})
	return fetched, err
}

// loadServerRoles loads the roles to pull into set, each checked as a
// client checks it against its delegator as the server has it, walking the
// delegations from targets down (trust.Walk). A delegator not pulled comes
// from this copy when it has the server's version, from the server
// otherwise; hashed bins not pulled are not read. It returns the delegator
// of each role reached.
func (r *Repo) loadServerRoles(ctx context.Context, c MetadataServer, gun string, set *trust.Set, pull []string, fetched map[string][]byte, localMeta map[string]metadata.MetaFile) (map[string]string, error) {
	serverMeta := set.Snapshot().Signed.Meta
	parentOf := map[string]string{}
	load := func(role, parent string) (*metadata.Targets, error) {
		if _, ok := parentOf[role]; !ok && role != metadata.TypeTargets {
			parentOf[role] = parent
		}
		if set.Targets(role) == nil {
			m := serverMeta[role+".json"]
			var err error
			data, ok := fetched[role]
			switch {
			case ok:
			case localMeta[role+".json"].Version == m.Version:
				data, err = r.rawRole(role)
			default: // a delegator staged here ahead of the server
				data, err = fetchMeta(ctx, c, gun, fmt.Sprintf("%d.%s.json", m.Version, role), m, maxServerSnapshotBytes)
			}
			if err != nil {
				return nil, err
			}
			fetched[role] = data
		}
		if err := set.UpdateTargets(role, parent, fetched[role]); err != nil {
			return nil, refused(c, gun, err)
		}
		return set.Targets(role).Signed, nil
	}
	visit := func(role string, doc *metadata.Targets) (trust.Next, error) {
		var next trust.Next
		switch d := doc.Delegations; {
		case d == nil:
		case d.Succinct != nil: // only the bins pulled
			for _, name := range pull {
				if d.Succinct.IsBin(name) {
					next.Roles = append(next.Roles, name)
				}
			}
		default: // every role the server's snapshot lists
			for _, dr := range d.Roles {
				if _, ok := serverMeta[dr.Name+".json"]; ok {
					next.Roles = append(next.Roles, dr.Name)
				}
			}
		}
		return next, nil
	}
	if err := trust.Walk(0, load, visit); err != nil {
		return nil, err
	}
	return parentOf, nil
}
