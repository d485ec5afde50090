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
	// MaxRolesHeld is the most targets roles the pull held, checked, in
	// memory at once: the delegated roles a walk needs as delegators, and
	// one hashed bin at a time, however many bins there are.
	MaxRolesHeld int
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
	p := &puller{r: r, c: c, gun: sc.GUN, res: &PullResult{}}

	// Root: every version the server has beyond ours, each checked
	// against the one before it.
	var err error
	if p.set, p.changes, p.current, err = r.pullRoots(ctx, c, p.gun, p.res); err != nil {
		return nil, err
	}

	// Timestamp and snapshot, checked against the server's root.
	if err := r.loadServerSnapshot(ctx, c, p.gun, p.set); err != nil {
		return nil, err
	}
	p.serverMeta = p.set.Snapshot().Signed.Meta
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	p.localMeta = snap.Signed.Meta
	if p.pull, err = r.rolesToPull(p.serverMeta, p.localMeta, p.res); err != nil {
		return nil, err
	}
	if len(p.pull) == 0 && len(p.res.RootVersions) == 0 {
		p.res.UpToDate = true
		p.res.Expired = expiredRoles(p.set)
		return p.res, nil
	}
	return p.commit(ctx)
}

// puller carries a PullFromServer through its steps.
type puller struct {
	r   *Repo
	c   MetadataServer
	gun string
	res *PullResult

	set        *trust.Set
	changes    []change // root files to write
	current    int64    // the server's root version
	serverMeta map[string]metadata.MetaFile
	localMeta  map[string]metadata.MetaFile
	pull       []string // roles newer on the server
	// succinct are the hashed bins the server's targets delegates to.
	succinct *metadata.SuccinctRoles
}

// commit fetches, checks and writes the roles to pull, and snapshot and
// timestamp, in one commit: the fetched files as they are, repo.json with
// the delegations others made, and snapshot and timestamp: the server's
// when this copy has nothing of its own left, otherwise the staged
// snapshot with the pulled versions, signed again with the keys at hand
// (a new timestamp follows).
func (p *puller) commit(ctx context.Context) (*PullResult, error) {
	r, res := p.r, p.res
	local := r.root.Signed.Version
	merged := len(res.Ahead) > 0 || local > p.current
	oldRoot := r.root
	if local < p.current {
		r.root = p.set.Root().Metadata // the keys a new snapshot is signed with
	}
	err := r.updateSigned(ctx, func(tx *Tx) (signedFiles, error) {
		j, err := tx.journal()
		if err != nil {
			return signedFiles{}, err
		}
		parentOf, err := p.pullRoles(ctx, j)
		if err != nil {
			return signedFiles{}, err
		}
		signed := signedFiles{files: p.changes}
		for _, role := range res.Roles {
			signed.streamed = append(signed.streamed, stagedRel(role))
		}
		res.Expired = expiredRoles(p.set)
		if !merged {
			signed.files = append(signed.files,
				change{path: stagedRel(metadata.TypeSnapshot), data: p.set.Snapshot().Raw},
				change{path: stagedRel(metadata.TypeTimestamp), data: p.set.Timestamp().Raw})
		}
		p.recordDelegations(tx.Config(), parentOf)
		if merged {
			signed.versions = map[string]int64{}
			for _, role := range res.Roles {
				signed.versions[role] = p.serverMeta[role+".json"].Version
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

// recordDelegations records in cfg the hashed bins and the delegations
// made elsewhere that the pull reached.
func (p *puller) recordDelegations(cfg *Config, parentOf map[string]string) {
	if cfg.Bins == nil && p.succinct != nil {
		cfg.Bins = &BinsConfig{Bits: p.succinct.BitLength, Prefix: p.succinct.NamePrefix}
	}
	for role, parent := range parentOf {
		if !cfg.isBin(role) {
			if _, ok := cfg.Delegations[role]; !ok {
				cfg.Delegations[role] = parent
			}
		}
	}
}

// pullRoots starts the trust rules from the server's current root: this
// repository's root of that version when it has it, otherwise the root
// versions it lacks, each checked against the one before it and recorded
// in res. It returns the Set, the root files to write and the server's
// root version.
func (r *Repo) pullRoots(ctx context.Context, c MetadataServer, gun string, res *PullResult) (*trust.Set, []change, int64, error) {
	current, err := readServerRoot(ctx, c, gun)
	if errors.Is(err, api.ErrNotFound) {
		return nil, nil, 0, fmt.Errorf("%s: repository %s: %w", r.cfg.Server.URL, gun, ErrNotOnServer)
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
				return nil, fmt.Errorf("%s version %d here is not the server's %s version %d: %w; nothing was pulled", role, mine.Version, role, there.Version, ErrDiverged)
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

// pullRoles fetches the roles to pull, checks each as a client checks it
// against its delegator as the server has it, and writes it into j as it
// arrives. Delegated roles are walked from targets down (trust.Walk) and
// kept while the walk may need them as delegators; hashed bins, which
// delegate nothing, are then fetched in parallel, and each is released
// once checked and written, so that a pull of thousands of bins holds a
// bounded number of them (PullResult.MaxRolesHeld). It records the roles
// pulled in the result and returns the delegator of each role reached.
func (p *puller) pullRoles(ctx context.Context, j *journal) (map[string]string, error) {
	parentOf, bins, err := p.walkDelegations(ctx, j)
	if err != nil {
		return nil, err
	}
	if err := p.pullBins(ctx, j, bins); err != nil {
		return nil, err
	}
	for _, role := range p.pull {
		if _, ok := parentOf[role]; !ok && role != metadata.TypeTargets {
			return nil, fmt.Errorf("the server's snapshot lists %s, but no role of the server's delegates to it", role)
		}
		p.res.Roles = append(p.res.Roles, role)
	}
	return parentOf, nil
}

// fetch reads role from the server, within the length its snapshot lists.
func (p *puller) fetch(ctx context.Context, role string) ([]byte, error) {
	m := p.serverMeta[role+".json"]
	return fetchMeta(ctx, p.c, p.gun, fmt.Sprintf("%d.%s.json", m.Version, role), m, maxServerSnapshotBytes)
}

// held notes how many roles the trust set holds.
func (p *puller) held() {
	p.res.MaxRolesHeld = max(p.res.MaxRolesHeld, p.set.TargetsHeld())
}

// walkDelegations loads targets and the roles it delegates to by name into
// the trust set, walking down from targets. A role to pull is fetched and
// written into j; a delegator not pulled comes from this copy when it has
// the server's version, from the server otherwise. The hashed bins to
// pull are returned with their delegator, not loaded.
func (p *puller) walkDelegations(ctx context.Context, j *journal) (parentOf map[string]string, bins [][2]string, err error) {
	parentOf = map[string]string{}
	toPull := map[string]bool{}
	for _, role := range p.pull {
		toPull[role] = true
	}
	load := func(role, parent string) (*metadata.Targets, error) {
		if _, ok := parentOf[role]; !ok && role != metadata.TypeTargets {
			parentOf[role] = parent
		}
		var data []byte
		if p.set.Targets(role) == nil {
			var err error
			switch {
			case toPull[role]:
				data, err = p.fetch(ctx, role)
			case p.localMeta[role+".json"].Version == p.serverMeta[role+".json"].Version:
				data, err = p.r.rawRole(role)
			default: // a delegator staged here ahead of the server
				data, err = p.fetch(ctx, role)
			}
			if err != nil {
				return nil, err
			}
		}
		if err := p.set.UpdateTargets(role, parent, data); err != nil {
			return nil, refused(p.c, p.gun, err)
		}
		p.held()
		if toPull[role] && data != nil {
			if err := j.write(stagedRel(role), data); err != nil {
				return nil, err
			}
		}
		return p.set.Targets(role).Signed, nil
	}
	visit := func(role string, doc *metadata.Targets) (trust.Next, error) {
		var next trust.Next
		switch d := doc.Delegations; {
		case d == nil:
		case d.Succinct != nil: // only the bins pulled, loaded afterwards
			if role == metadata.TypeTargets {
				p.succinct = d.Succinct
			}
			for _, name := range p.pull {
				if _, seen := parentOf[name]; !seen && d.Succinct.IsBin(name) {
					bins = append(bins, [2]string{name, role})
					parentOf[name] = role
				}
			}
		default: // every role the server's snapshot lists
			for _, dr := range d.Roles {
				if _, ok := p.serverMeta[dr.Name+".json"]; ok {
					next.Roles = append(next.Roles, dr.Name)
				}
			}
		}
		return next, nil
	}
	if err := trust.Walk(0, load, visit); err != nil {
		return nil, nil, err
	}
	return parentOf, bins, nil
}

// pullBins fetches the hashed bins to pull in parallel (each with its
// delegator), checks each against its delegator in the trust set, writes
// it into j and releases it.
func (p *puller) pullBins(ctx context.Context, j *journal, bins [][2]string) error {
	var mu sync.Mutex // the trust set is not safe for concurrent use
	bar := newCountBar(p.r.opts.Progress, len(bins), "fetching roles")
	defer bar.Finish()
	return parallel(len(bins), func(i int) error {
		role, parent := bins[i][0], bins[i][1]
		data, err := p.fetch(ctx, role)
		if err != nil {
			return err
		}
		mu.Lock()
		if err := p.set.UpdateTargets(role, parent, data); err != nil {
			mu.Unlock()
			return refused(p.c, p.gun, err)
		}
		p.held()
		p.set.Release(role)
		mu.Unlock()
		if err := j.write(stagedRel(role), data); err != nil {
			return err
		}
		bar.Add(1)
		return nil
	})
}
