package repo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// SignatureError reports roles that are not signed by enough keys.
type SignatureError struct {
	Problems []*SignatureProblem
}

// SignatureProblem is one role below its threshold.
type SignatureProblem struct {
	Role      string
	Version   int64
	Threshold int
	Valid     []string
	Missing   []string          // key IDs that have not signed
	Hints     map[string]string // where each missing key is expected
	Invalid   map[string]error
	// By names the root whose keys the role was checked against, for a
	// new root checked against the previous one ("root 1").
	By string
}

func (p *SignatureProblem) String() string {
	var b strings.Builder
	what := "role " + p.Role
	if p.Role == metadata.TypeRoot {
		what = fmt.Sprintf("root version %d", p.Version)
	}
	fmt.Fprintf(&b, "%s has %d of %d required signatures", what, len(p.Valid), p.Threshold)
	if p.By != "" {
		fmt.Fprintf(&b, " from the keys of %s", p.By)
	}
	if len(p.Missing) > 0 {
		parts := make([]string, len(p.Missing))
		for i, id := range p.Missing {
			parts[i] = shortID(id) + p.Hints[id]
		}
		fmt.Fprintf(&b, "; missing keys: %s", strings.Join(parts, ", "))
	}
	for _, id := range sortedMapKeys(p.Invalid) {
		fmt.Fprintf(&b, "; signature by %s is invalid (%v)", shortID(id), p.Invalid[id])
	}
	return b.String()
}

func (e *SignatureError) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for i, p := range e.Problems {
		if i == 8 && len(e.Problems) > 10 {
			lines = append(lines, fmt.Sprintf("... and %d more roles", len(e.Problems)-i))
			break
		}
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// Role is the role that needs signatures first, that of the first
// problem.
func (e *SignatureError) Role() string {
	return e.Problems[0].Role
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// problem turns a report below threshold into a SignatureProblem, or nil.
func (r *Repo) problem(rep *metadata.SignatureReport, version int64) *SignatureProblem {
	if rep.Met() {
		return nil
	}
	p := &SignatureProblem{Role: rep.Role, Version: version, Threshold: rep.Threshold, Valid: rep.Valid,
		Missing: rep.Missing, Invalid: rep.Invalid, Hints: map[string]string{}}
	for _, id := range rep.Missing {
		p.Hints[id] = r.keyHint(id)
	}
	return p
}

// rootVersions lists the root versions in DIR/roots, which must be 1..N.
func (r *Repo) rootVersions() ([]int64, error) {
	entries, err := os.ReadDir(filepath.Join(r.dir, rootsDir))
	if err != nil {
		return nil, err
	}
	var vs []int64
	for _, e := range entries {
		n, ok := strings.CutSuffix(e.Name(), ".root.json")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			continue
		}
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	for i, v := range vs {
		if v != int64(i+1) {
			return nil, fmt.Errorf("%s: root version %d is missing; every root version must be kept", filepath.Join(r.dir, rootsDir), i+1)
		}
	}
	if len(vs) == 0 || vs[len(vs)-1] != r.root.Signed.Version {
		return nil, fmt.Errorf("%s does not hold the staged root version %d", filepath.Join(r.dir, rootsDir), r.root.Signed.Version)
	}
	return vs, nil
}

func (r *Repo) readRootVersion(v int64) ([]byte, *metadata.Metadata[*metadata.Root], error) {
	p := filepath.Join(r.dir, rootsDir, fmt.Sprintf("%d.root.json", v))
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	md, err := metadata.ParseRoot(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	if md.Signed.Version != v {
		return nil, nil, fmt.Errorf("%s holds root version %d", p, md.Signed.Version)
	}
	return b, md, nil
}

// checkRoot checks root version v against its own keys and those of
// version v-1 (prev, nil for version 1).
func (r *Repo) checkRoot(md, prev *metadata.Metadata[*metadata.Root]) []*SignatureProblem {
	var out []*SignatureProblem
	rep, _ := md.Signed.ReportRole(metadata.TypeRoot, md)
	if p := r.problem(rep, md.Signed.Version); p != nil {
		out = append(out, p)
	}
	if prev != nil {
		rep, _ := prev.Signed.ReportRole(metadata.TypeRoot, md)
		if p := r.problem(rep, md.Signed.Version); p != nil {
			p.By = fmt.Sprintf("root %d", prev.Signed.Version)
			out = append(out, p)
		}
	}
	return out
}

// delegator returns the keys and threshold trusted for a targets role by
// its staged delegator; parents caches delegators.
func (r *Repo) delegation(role string, parents map[string]*metadata.Targets) (metadata.DelegatedRole, map[string]*metadata.Key, error) {
	parent, ok := r.cfg.parentOf(role)
	if !ok {
		return metadata.DelegatedRole{}, nil, fmt.Errorf("role %q is not delegated by any role of this repository", role)
	}
	pt, ok := parents[parent]
	if !ok {
		md, err := r.readTargets(parent)
		if err != nil {
			return metadata.DelegatedRole{}, nil, err
		}
		pt = md.Signed
		parents[parent] = pt
	}
	if pt.Delegations == nil {
		return metadata.DelegatedRole{}, nil, fmt.Errorf("role %s does not delegate %s", parent, role)
	}
	d, ok := pt.Delegations.Role(role)
	if !ok {
		return metadata.DelegatedRole{}, nil, fmt.Errorf("role %s does not delegate %s", parent, role)
	}
	return d, pt.Delegations.Keys, nil
}

// reportRole checks the signatures of a staged role.
func (r *Repo) reportRole(role string, md metadata.Signed, parents map[string]*metadata.Targets) (*metadata.SignatureReport, error) {
	if metadata.IsTopLevel(role) {
		return r.root.Signed.ReportRole(role, md)
	}
	d, keyMap, err := r.delegation(role, parents)
	if err != nil {
		return nil, err
	}
	return metadata.CheckSignatures(role, md, d.KeyIDs, keyMap, d.Threshold), nil
}

// signedFile is a metadata file read only as far as checking its
// signatures needs: the canonical bytes of "signed", the signatures, and
// the type, version and expiry. Publishing thousands of bins does not
// decode their targets.
type signedFile struct {
	signed  []byte
	sigs    []metadata.Signature
	typ     string
	version int64
	expires time.Time
}

func (f *signedFile) SignedBytes() []byte                 { return f.signed }
func (f *signedFile) SignatureList() []metadata.Signature { return f.sigs }

func readSignedFile(data []byte) (*signedFile, error) {
	f := &signedFile{}
	err := canonjson.DecodeObject(data, func(name []byte, r *canonjson.Reader) error {
		switch string(name) {
		case "signed":
			f.signed = r.Data()
			return r.Object(func(name []byte) error {
				var err error
				switch string(name) {
				case "_type":
					f.typ, err = r.String()
				case "version":
					f.version, err = r.Int()
				case "expires":
					var s string
					if s, err = r.String(); err == nil {
						f.expires, err = time.Parse(time.RFC3339, s)
					}
				default:
					_, err = r.Raw()
				}
				return err
			})
		case "signatures":
			return r.Array(func() error {
				var s metadata.Signature
				err := r.Object(func(name []byte) error {
					switch string(name) {
					case "keyid":
						id, err := r.String()
						s.KeyID = id
						return err
					case "sig":
						b, err := r.Bytes()
						if err != nil {
							return err
						}
						s.Value, err = hex.DecodeString(string(b))
						return err
					}
					_, err := r.Raw()
					return err
				})
				f.sigs = append(f.sigs, s)
				return err
			})
		}
		return nil
	})
	if err == nil && (f.signed == nil || f.version < 1 || f.expires.IsZero()) {
		err = errors.New("missing signed, version or expires")
	}
	return f, err
}
