package client

import (
	"maps"
	"slices"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Trusted is the metadata a client trusts after a refresh, byte for byte as
// the repository served it: what a mirror copies and a bundle carries.
type Trusted struct {
	Root      []byte
	Timestamp []byte
	Snapshot  []byte
	// Targets holds the targets metadata of every role loaded so far (by
	// the refresh, lookups and listings), by role name.
	Targets map[string][]byte
	// Versions of the documents above, by role name ("root", "timestamp",
	// "snapshot", "targets", delegated roles).
	Versions map[string]int64
	// ConsistentSnapshot is the trusted root's consistent_snapshot.
	ConsistentSnapshot bool
}

// Trusted returns the metadata of the last successful refresh, with the
// targets metadata of every role loaded since; nil before any.
func (c *Client) Trusted() *Trusted {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.trusted
	if set == nil || set.Timestamp() == nil || set.Snapshot() == nil {
		return nil
	}
	t := &Trusted{
		Root: set.Root().Raw, Timestamp: set.Timestamp().Raw, Snapshot: set.Snapshot().Raw,
		Targets:            map[string][]byte{},
		ConsistentSnapshot: set.Root().Signed.ConsistentSnapshot,
		Versions: map[string]int64{
			metadata.TypeRoot:      set.Root().Signed.Version,
			metadata.TypeTimestamp: set.Timestamp().Signed.Version,
			metadata.TypeSnapshot:  set.Snapshot().Signed.Version,
		},
	}
	for _, file := range slices.Sorted(maps.Keys(set.Snapshot().Signed.Meta)) {
		role := strings.TrimSuffix(file, ".json")
		if doc := set.Targets(role); doc != nil {
			t.Targets[role] = doc.Raw
			t.Versions[role] = doc.Signed.Version
		}
	}
	return t
}
