package trust

import (
	"slices"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Options are the choices a client makes about metadata that the
// specification is strict about and deployed repositories are not.
type Options struct {
	// StrictKeyIDs refuses root and targets metadata that lists a key under
	// an ID other than the key's hash, as the specification requires. By
	// default a key ID is a name (see package metadata): repositories such
	// as Sigstore's root of trust list keys so.
	StrictKeyIDs bool
}

// checkKeyIDs applies the strict key ID rule when the options ask for it.
func checkKeyIDs[T metadata.Role](opts Options, name string, m *metadata.Metadata[T]) error {
	if !opts.StrictKeyIDs {
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
