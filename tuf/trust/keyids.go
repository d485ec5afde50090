package trust

import (
	"slices"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// checkKeyIDs applies the strict key ID rule when Options.StrictKeyIDs asks
// for it.
func checkKeyIDs[T metadata.Role](strict bool, name string, m *metadata.Metadata[T]) error {
	if !strict {
		return nil
	}
	if err := metadata.CheckKeyIDs(m); err != nil {
		return fileErr(name, "key IDs", err)
	}
	return nil
}

// roleKeys returns the keys of a top-level role as the keys' hashes, which
// name the keys whatever IDs the root lists them under.
func roleKeys(r *metadata.Root, role string) []string {
	rk := r.Roles[role]
	if rk == nil {
		return nil
	}
	out := make([]string, 0, len(rk.KeyIDs))
	for _, id := range rk.KeyIDs {
		if k := r.Keys[id]; k != nil {
			out = append(out, k.ID())
		} else {
			out = append(out, "unlisted:"+id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
