package notaryimport

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// Result says what Import made.
type Result struct {
	Roles   []string // the Rampart names of the delegated roles made
	Targets int      // targets listed, in all roles
}

// extraDepth is how many directory levels below a Notary path prefix the
// TUF patterns made from it reach (see Patterns).
const extraDepth = 8

// RoleName is the Rampart name of a Notary delegated role:
// "targets/releases/beta" becomes "targets.releases.beta" (Notary role
// names cannot hold dots, so no two names meet).
func RoleName(notaryName string) string { return strings.ReplaceAll(notaryName, "/", ".") }

// Import makes a new Rampart repository in dir (which must not exist or be
// empty) holding the targets and delegations of src: new keys for every
// role (threshold many for delegations, with the key store of opts),
// delegated roles named by RoleName with the same thresholds, Notary's
// path prefixes as TUF patterns (Patterns), and every target with its
// length and hashes. Each target's custom metadata records its origin under
// "notary" ({"gun", "origin", "role"}), next to the members of its Notary
// custom object (which goes under "notary"."custom" when it is not an
// object or has a "notary" member). Content is not copied: the targets are
// hash-only, like Notary's. A failure leaves dir removed.
func Import(ctx context.Context, src *Repository, dir string, opts repo.Options) (res *Result, err error) {
	depth := 0
	for _, r := range src.Roles {
		for name := range r.Targets {
			depth = max(depth, strings.Count(name, "/"))
		}
	}
	_, statErr := os.Stat(dir)
	r, err := repo.Init(ctx, dir, repo.InitOptions{}, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		r.Close()
		if err != nil && os.IsNotExist(statErr) {
			os.RemoveAll(dir)
		}
	}()
	res = &Result{}
	for _, role := range src.Roles[1:] {
		name := RoleName(role.Name)
		d := role.Delegation
		var keyFiles []string
		for i := 1; i <= d.Threshold; i++ {
			kn := name
			if d.Threshold > 1 {
				kn = fmt.Sprintf("%s-%d", name, i)
			}
			f, err := r.NewKeyFile(ctx, kn)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", role.Name, err)
			}
			keyFiles = append(keyFiles, f)
		}
		var pats []string
		for _, p := range d.Paths {
			pats = append(pats, Patterns(p, depth)...)
		}
		if pats == nil {
			pats = []string{} // a delegation of no paths stays one
		}
		from := notary.Parent(role.Name)
		if from != notary.RoleTargets {
			from = RoleName(from)
		}
		if err := r.Delegate(ctx, repo.DelegateOptions{Role: name, From: from, Keys: keyFiles, Paths: pats, Threshold: d.Threshold}); err != nil {
			return nil, fmt.Errorf("delegating %s: %w", role.Name, err)
		}
		res.Roles = append(res.Roles, name)
	}
	err = r.Update(ctx, func(tx *repo.Tx) error {
		for _, role := range src.Roles {
			name := role.Name
			if name != notary.RoleTargets {
				name = RoleName(name)
			}
			t, err := tx.Targets(name)
			if err != nil {
				return err
			}
			for p, fm := range role.Targets {
				if err := repo.CheckTargetPath(p); err != nil {
					return fmt.Errorf("%s: %w", role.Name, err)
				}
				custom, err := originCustom(src, role.Name, fm.Custom)
				if err != nil {
					return fmt.Errorf("%s: target %q: %w", role.Name, p, err)
				}
				t.Targets[p] = metadata.TargetFile{Length: fm.Length,
					Hashes: metadata.Hashes{SHA256: fm.Hashes["sha256"], SHA512: fm.Hashes["sha512"]}, Custom: custom}
				res.Targets++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// originCustom returns the custom metadata of an imported target.
func originCustom(src *Repository, role string, custom []byte) ([]byte, error) {
	origin := map[string]any{"gun": src.GUN, "origin": src.Origin, "role": role}
	out := map[string]json.RawMessage{}
	if custom != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(canonjson.ToJSON(custom), &obj) == nil && obj != nil && obj["notary"] == nil {
			out = obj
		} else {
			origin["custom"] = json.RawMessage(canonjson.ToJSON(custom))
		}
	}
	o, err := json.Marshal(origin)
	if err != nil {
		return nil, err
	}
	out["notary"] = o
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return repo.CanonicalCustom(b)
}

// Patterns returns TUF 1.0 path patterns for a Notary path prefix. TUF
// patterns match one path segment per segment, so a prefix, which matches
// names of any depth, becomes one pattern per depth: "releases/" gives
// "releases/*", "releases/*/*" and so on, "rel" gives "rel*", "rel*/*"...,
// and "" gives "*", "*/*"... They reach at least extraDepth levels below the
// prefix and at least the depth of the deepest target of the repository
// (depth counts slashes), so every target the prefix covers today stays
// covered. Glob characters in the prefix are escaped.
func Patterns(prefix string, depth int) []string {
	d0 := strings.Count(prefix, "/")
	base := escapeGlob(prefix) + "*"
	var out []string
	for d := d0; d <= max(d0+extraDepth, depth); d++ {
		out = append(out, base+strings.Repeat("/*", d-d0))
	}
	return out
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
