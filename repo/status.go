package repo

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Status describes the staged state of a repository.
type Status struct {
	Dir   string       `json:"dir"`
	Roles []RoleStatus `json:"roles"`
	// Bins summarises the hashed bins, which Roles leaves out unless they
	// need attention.
	Bins *BinsStatus `json:"bins,omitempty"`
	// Warnings are problems to act on: roles below threshold, expired or
	// close to expiry.
	Warnings []string `json:"warnings"`
	// Server is the metadata server the repository publishes to, if any.
	Server *ServerConfig `json:"server,omitempty"`
	// Content says where the target content is served from.
	Content ContentMode `json:"content"`
}

// RoleStatus describes one role.
type RoleStatus struct {
	Name        string      `json:"name"`
	Version     int64       `json:"version"`
	Expires     time.Time   `json:"expires"`
	ExpiresIn   string      `json:"expires_in"`
	Expired     bool        `json:"expired"`
	ExpiresSoon bool        `json:"expires_soon"`
	Threshold   int         `json:"threshold"`
	Signed      []KeyStatus `json:"signed"`
	Missing     []KeyStatus `json:"missing"`
	Targets     int         `json:"targets"`
	Delegator   string      `json:"delegated_by,omitempty"`
	// SignedByServer is true for a role whose keys the repository's
	// metadata server holds: the server signs it (and keeps it from
	// expiring) when the repository is published there, so its staged
	// copy here is unsigned and not warned about.
	SignedByServer bool `json:"signed_by_server,omitempty"`
}

// KeyStatus names a key and where its files are.
type KeyStatus struct {
	ID   string `json:"keyid"`
	File string `json:"file,omitempty"`
}

// BinsStatus summarises the hashed bins.
type BinsStatus struct {
	Prefix         string    `json:"prefix"`
	Count          int       `json:"count"`
	Targets        int       `json:"targets"`
	BelowThreshold int       `json:"below_threshold"`
	EarliestExpiry time.Time `json:"earliest_expiry"`
}

// Status reports every role's version, expiry and signatures. A role
// expires soon when less than a fifth of its expiry period is left.
func (r *Repo) Status(ctx context.Context) (*Status, error) {
	b := &statusBuilder{r: r, st: &Status{Dir: r.dir, Warnings: []string{}, Server: r.Server(), Content: r.ContentMode()}, now: r.opts.Now()}
	st := b.st

	// Root, checked against the previous root too.
	rootRep, _ := r.root.Signed.ReportRole(metadata.TypeRoot, r.root)
	b.addRole(b.role(metadata.TypeRoot, &r.root.Signed.Common, r.root, rootRep, 0))
	if v := r.root.Signed.Version; v > 1 {
		if _, prev, err := r.readRootVersion(v - 1); err == nil {
			for _, p := range r.checkRoot(r.root, prev) {
				if p.By != "" {
					st.Warnings = append(st.Warnings, p.String())
				}
			}
		}
	}
	snap, err := r.readSnapshot()
	if err != nil {
		return nil, err
	}
	ts, err := r.readTimestamp()
	if err != nil {
		return nil, err
	}

	// Targets and the delegated roles, with the hashed bins summarised.
	results, err := b.targetsRoles(snap)
	if err != nil {
		return nil, err
	}
	b.addTargetsRoles(results)

	// Snapshot and timestamp.
	for _, role := range []string{metadata.TypeSnapshot, metadata.TypeTimestamp} {
		var doc metadata.Signed = snap
		c := &snap.Signed.Common
		if role == metadata.TypeTimestamp {
			doc, c = ts, &ts.Signed.Common
		}
		rep, _ := r.root.Signed.ReportRole(role, doc)
		b.addRole(b.role(role, c, doc, rep, 0))
	}
	return st, nil
}

// statusBuilder collects the roles and warnings of a Status.
type statusBuilder struct {
	r   *Repo
	st  *Status
	now time.Time
}

// role describes one role from its metadata and signature report.
func (b *statusBuilder) role(name string, c *metadata.Common, doc metadata.Signed, rep *metadata.SignatureReport, targets int) RoleStatus {
	r := b.r
	rs := RoleStatus{Name: name, Version: c.Version, Expires: c.Expires, Threshold: rep.Threshold, Targets: targets,
		Signed: []KeyStatus{}, Missing: []KeyStatus{}}
	left := c.Expires.Sub(b.now)
	rs.Expired = left <= 0
	rs.ExpiresSoon = !rs.Expired && left < r.cfg.ExpiryFor(name)/5
	rs.ExpiresIn = humanDuration(left)
	for _, id := range rep.Valid {
		rs.Signed = append(rs.Signed, KeyStatus{id, strings.Trim(r.keyHint(id), " ()")})
	}
	for _, id := range rep.Missing {
		rs.Missing = append(rs.Missing, KeyStatus{id, strings.Trim(r.keyHint(id), " ()")})
	}
	if p, ok := r.cfg.parentOf(name); ok {
		rs.Delegator = p
	}
	rs.SignedByServer = r.cfg.serverHeld(append(slices.Clone(rep.Valid), rep.Missing...))
	return rs
}

// addRole lists rs and warns about it if it is below its threshold,
// expired or close to expiry.
func (b *statusBuilder) addRole(rs RoleStatus) {
	st := b.st
	st.Roles = append(st.Roles, rs)
	if rs.SignedByServer {
		return
	}
	if len(rs.Signed) < rs.Threshold {
		p := b.r.problem(&metadata.SignatureReport{Role: rs.Name, Threshold: rs.Threshold, Valid: keyIDs(rs.Signed), Missing: keyIDs(rs.Missing)}, rs.Version)
		st.Warnings = append(st.Warnings, p.String())
	}
	switch {
	case rs.Expired:
		st.Warnings = append(st.Warnings, fmt.Sprintf("role %s expired %s ago", rs.Name, humanDuration(b.now.Sub(rs.Expires))))
	case rs.ExpiresSoon:
		st.Warnings = append(st.Warnings, fmt.Sprintf("role %s expires in %s", rs.Name, rs.ExpiresIn))
	}
}

// targetsRoles describes targets and every delegated role snap lists,
// sorted by name.
func (b *statusBuilder) targetsRoles(snap *metadata.Metadata[*metadata.Snapshot]) ([]RoleStatus, error) {
	r := b.r
	parents := map[string]*metadata.Targets{}
	names := make([]string, 0, len(snap.Signed.Meta))
	for name := range snap.Signed.Meta {
		role := strings.TrimSuffix(name, ".json")
		if !metadata.IsTopLevel(role) {
			if _, _, err := r.delegation(role, parents); err != nil {
				return nil, err
			}
		}
		names = append(names, role)
	}
	sort.Strings(names)
	results := make([]RoleStatus, len(names))
	var mu sync.Mutex
	err := parallel(len(names), func(i int) error {
		md, err := r.readTargets(names[i])
		if err != nil {
			return err
		}
		var rep *metadata.SignatureReport
		if names[i] == metadata.TypeTargets {
			rep, _ = r.root.Signed.ReportRole(names[i], md)
		} else {
			d, keyMap, err := r.delegationCached(names[i], parents)
			if err != nil {
				return err
			}
			rep = metadata.CheckSignatures(names[i], md, d.KeyIDs, keyMap, d.Threshold)
		}
		mu.Lock()
		results[i] = b.role(names[i], &md.Signed.Common, md, rep, len(md.Signed.Targets))
		mu.Unlock()
		// Do not keep 4096 bins in memory.
		r.mu.Lock()
		if r.cfg.isBin(names[i]) {
			delete(r.raw, names[i])
		}
		r.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// addTargetsRoles adds the roles of targetsRoles: hashed bins are
// summarised in Bins and listed only when they need attention, the first
// five of them.
func (b *statusBuilder) addTargetsRoles(results []RoleStatus) {
	r, st := b.r, b.st
	if s := r.cfg.succinct(); s != nil {
		st.Bins = &BinsStatus{Prefix: s.NamePrefix, Count: s.NumBins()}
	}
	var binWarnings int
	for _, rs := range results {
		if st.Bins != nil && r.cfg.isBin(rs.Name) {
			st.Bins.Targets += rs.Targets
			if st.Bins.EarliestExpiry.IsZero() || rs.Expires.Before(st.Bins.EarliestExpiry) {
				st.Bins.EarliestExpiry = rs.Expires
			}
			if len(rs.Signed) < rs.Threshold {
				st.Bins.BelowThreshold++
			}
			if len(rs.Signed) >= rs.Threshold && !rs.Expired && !rs.ExpiresSoon {
				continue
			}
			binWarnings++
			if binWarnings > 5 {
				continue
			}
		}
		b.addRole(rs)
	}
	if binWarnings > 5 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("%d more bins need attention (below threshold or expiring)", binWarnings-5))
	}
}

func keyIDs(ks []KeyStatus) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

// humanDuration writes d roughly: "89d", "5h", "expired".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}
