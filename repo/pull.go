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

	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/tuf/metadata"
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
}

// fetchRoots reads root versions first to last of gun from c, each
// checked as a client checks a new root: its version, the thresholds of
// the version before it (prev; nil when first is 1) and its own. It
// returns the files to write under roots/ and the last version.
func fetchRoots(ctx context.Context, c *apiclient.Client, gun string, prev *metadata.Metadata[*metadata.Root], first, last int64) ([]change, *metadata.Metadata[*metadata.Root], error) {
	where := c.RepositoryURL(gun)
	var files []change
	for v := first; v <= last; v++ {
		file := fmt.Sprintf("%d.root.json", v)
		data, err := c.Metadata(ctx, gun, file, maxServerRootBytes)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the server's %s: %w", file, err)
		}
		md, err := metadata.ParseRoot(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%s/metadata/%s: %w", where, file, err)
		}
		if md.Signed.Version != v {
			return nil, nil, fmt.Errorf("%s/metadata/%s holds root version %d", where, file, md.Signed.Version)
		}
		if prev != nil {
			if err := prev.Signed.VerifyRole(metadata.TypeRoot, md); err != nil {
				return nil, nil, fmt.Errorf("%s/metadata/%s is not signed by the keys of root version %d: %w", where, file, v-1, err)
			}
		}
		if err := md.Signed.VerifyRole(metadata.TypeRoot, md); err != nil {
			return nil, nil, fmt.Errorf("%s/metadata/%s is not signed by its own root keys: %w", where, file, err)
		}
		files = append(files, change{path: rootsDir + "/" + file, data: data})
		prev = md
	}
	return files, prev, nil
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
func (r *Repo) PullFromServer(ctx context.Context, c *apiclient.Client) (*PullResult, error) {
	sc := r.cfg.Server
	if sc == nil {
		return nil, fmt.Errorf("%s does not publish to a metadata server (its repo.json names none): there is nothing to pull from", r.dir)
	}
	gun, where := sc.GUN, c.RepositoryURL(sc.GUN)
	res := &PullResult{}

	// Root: every version the server has beyond ours, each checked
	// against the one before it.
	current, err := readServerRoot(ctx, c, gun)
	if errors.Is(err, apiclient.ErrNotFound) {
		return nil, fmt.Errorf("%s has no repository %s yet: publish it first with 'rampart repo publish %s'", sc.URL, gun, r.dir)
	}
	if err != nil {
		return nil, err
	}
	var changes []change
	serverRoot := r.root
	local := r.root.Signed.Version
	if current.Signed.Version <= local {
		if serverRoot, err = r.ownRoot(c, gun, current); err != nil {
			return nil, err
		}
	} else {
		chain, last, err := fetchRoots(ctx, c, gun, serverRoot, local+1, current.Signed.Version)
		if err != nil {
			return nil, err
		}
		for v := local + 1; v <= current.Signed.Version; v++ {
			res.RootVersions = append(res.RootVersions, v)
		}
		changes, serverRoot = chain, last
		if !bytes.Equal(serverRoot.SignedBytes(), current.SignedBytes()) {
			return nil, fmt.Errorf("%s/metadata/root.json is not the root version %d it serves as %d.root.json", where, current.Signed.Version, current.Signed.Version)
		}
		changes = append(changes, change{path: stagedRel(metadata.TypeRoot), data: changes[len(changes)-1].data})
	}

	// Timestamp and snapshot, checked against the server's root.
	sv, err := fetchServerSnapshot(ctx, c, gun, serverRoot)
	if err != nil {
		return nil, err
	}
	serverMeta := sv.snap.Signed.Meta
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	localMeta := snap.Signed.Meta

	// Which roles to fetch, keep or refuse.
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
	if len(pull) == 0 && len(res.RootVersions) == 0 {
		res.UpToDate = true
		return res, nil
	}

	// The roles to pull, fetched in parallel (thousands of bins).
	fetched := map[string][]byte{}
	var mu sync.Mutex
	bar := newCountBar(r.opts.Progress, len(pull), "fetching roles")
	err = parallel(len(pull), func(i int) error {
		role := pull[i]
		m := serverMeta[role+".json"]
		data, err := fetchListed(ctx, c, gun, fmt.Sprintf("%d.%s.json", m.Version, role), m, maxServerSnapshotBytes)
		if err != nil {
			return err
		}
		mu.Lock()
		fetched[role] = data
		mu.Unlock()
		bar.Add(1)
		return nil
	})
	bar.Finish()
	if err != nil {
		return nil, err
	}

	// The server's version of a role: fetched, or staged here when the
	// versions agree.
	docs := map[string]*metadata.Metadata[*metadata.Targets]{}
	serverDoc := func(role string) (*metadata.Metadata[*metadata.Targets], error) {
		if md, ok := docs[role]; ok {
			return md, nil
		}
		m, ok := serverMeta[role+".json"]
		if !ok {
			return nil, fmt.Errorf("the server's snapshot does not list %s", role)
		}
		data, ok := fetched[role]
		switch {
		case ok:
		case localMeta[role+".json"].Version == m.Version:
			if data, err = r.rawRole(role); err != nil {
				return nil, err
			}
		default: // a delegator staged here ahead of the server
			file := fmt.Sprintf("%d.%s.json", m.Version, role)
			if data, err = fetchListed(ctx, c, gun, file, m, maxServerSnapshotBytes); err != nil {
				return nil, err
			}
			fetched[role] = data
		}
		md, err := metadata.ParseTargets(data)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", role, where, err)
		}
		if md.Signed.Version != m.Version {
			return nil, fmt.Errorf("%s on %s is version %d, the snapshot lists %d", role, where, md.Signed.Version, m.Version)
		}
		docs[role] = md
		return md, nil
	}

	// Delegations as the server has them: from targets down, with the
	// role that delegates to each.
	parentOf := map[string]string{}
	queue := []string{metadata.TypeTargets}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		pd, err := serverDoc(p)
		if err != nil {
			return nil, err
		}
		d := pd.Signed.Delegations
		if d == nil {
			continue
		}
		for file := range serverMeta {
			name := strings.TrimSuffix(file, ".json")
			if _, seen := parentOf[name]; seen || name == metadata.TypeTargets {
				continue
			}
			if _, ok := d.Role(name); !ok {
				continue
			}
			parentOf[name] = p
			if d.Succinct == nil {
				queue = append(queue, name) // bins delegate no further
			}
		}
	}

	// Every role to pull, checked against its delegator.
	for _, role := range pull {
		md, err := serverDoc(role)
		if err != nil {
			return nil, err
		}
		if role == metadata.TypeTargets {
			if err := serverRoot.Signed.VerifyRole(role, md); err != nil {
				return nil, fmt.Errorf("%s on %s: %w", role, where, err)
			}
		} else {
			p, ok := parentOf[role]
			if !ok {
				return nil, fmt.Errorf("the server's snapshot lists %s, but no role of the server's delegates to it", role)
			}
			pd, err := serverDoc(p)
			if err != nil {
				return nil, err
			}
			if err := pd.Signed.VerifyDelegate(role, md); err != nil {
				return nil, fmt.Errorf("%s on %s: %w", role, where, err)
			}
		}
		changes = append(changes, change{path: stagedRel(role), data: fetched[role]})
		res.Roles = append(res.Roles, role)
	}

	// One commit: the fetched files as they are, repo.json with the
	// delegations others made, and snapshot and timestamp: the server's
	// when this copy has nothing of its own left, otherwise the staged
	// snapshot with the pulled versions, signed again with the keys at
	// hand (a new timestamp follows).
	merged := len(res.Ahead) > 0 || local > current.Signed.Version
	if !merged {
		changes = append(changes,
			change{path: stagedRel(metadata.TypeSnapshot), data: sv.snapData},
			change{path: stagedRel(metadata.TypeTimestamp), data: sv.tsData})
	}
	oldRoot := r.root
	if local < current.Signed.Version {
		r.root = serverRoot // the keys a new snapshot is signed with
	}
	err = r.Update(ctx, func(tx *Tx) error {
		tx.verbatim = changes
		cfg := tx.Config()
		if td := docs[metadata.TypeTargets]; cfg.Bins == nil && td != nil && td.Signed.Delegations != nil && td.Signed.Delegations.Succinct != nil {
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
			tx.snapVersions = map[string]int64{}
			for _, role := range res.Roles {
				tx.snapVersions[role] = serverMeta[role+".json"].Version
			}
			tx.forceSnap, tx.forceTime = true, true
		}
		return nil
	})
	if err != nil {
		r.root = oldRoot
		return nil, err
	}
	return res, nil
}
