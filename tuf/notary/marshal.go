package notary

import (
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
)

// header writes "_type" and the members of "signed" sorted before "expires".
type header struct {
	typ     string
	version int64
	expires time.Time
}

func (h header) check() error {
	if h.version < 1 {
		return fmt.Errorf("notary: %s: version %d is less than 1", h.typ, h.version)
	}
	if h.expires.IsZero() {
		return fmt.Errorf("notary: %s: no expiry time", h.typ)
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Marshal returns the canonical "signed" bytes of a root document, for Sign.
func (t *Root) Marshal(version int64, expires time.Time) ([]byte, error) {
	h := header{TypeRoot, version, expires}
	if err := h.check(); err != nil {
		return nil, err
	}
	w := canonjson.NewWriter(4096)
	w.BeginObject()
	w.Name("_type")
	w.String(h.typ)
	w.Name("consistent_snapshot")
	w.Bool(t.ConsistentSnapshot)
	w.Name("expires")
	w.String(formatTime(expires))
	w.Name("keys")
	writeKeys(w, t.Keys)
	w.Name("roles")
	w.BeginObject()
	for _, name := range sortedKeys(t.Roles) {
		w.Name(name)
		writeRoleKeys(w, t.Roles[name], nil)
	}
	w.EndObject()
	w.Name("version")
	w.Int(version)
	w.EndObject()
	return reparse(w.Bytes(), TypeRoot)
}

// Marshal returns the canonical "signed" bytes of a targets document, for
// Sign. Custom values are canonicalised. The delegations member is always
// written, as Notary does.
func (t *Targets) Marshal(version int64, expires time.Time) ([]byte, error) {
	h := header{TypeTargets, version, expires}
	if err := h.check(); err != nil {
		return nil, err
	}
	w := canonjson.NewWriter(1024 + 200*len(t.Targets))
	w.BeginObject()
	w.Name("_type")
	w.String(h.typ)
	w.Name("delegations")
	w.BeginObject()
	w.Name("keys")
	writeKeys(w, t.Delegations.Keys)
	w.Name("roles")
	w.BeginArray()
	for _, d := range t.Delegations.Roles {
		writeRoleKeys(w, d.RoleKeys, &d)
	}
	w.EndArray()
	w.EndObject()
	w.Name("expires")
	w.String(formatTime(expires))
	w.Name("targets")
	if err := writeMetaMap(w, t.Targets); err != nil {
		return nil, err
	}
	w.Name("version")
	w.Int(version)
	w.EndObject()
	return reparse(w.Bytes(), TypeTargets)
}

// Marshal returns the canonical "signed" bytes of a snapshot document.
func (t *Snapshot) Marshal(version int64, expires time.Time) ([]byte, error) {
	return marshalMeta(header{TypeSnapshot, version, expires}, t.Meta)
}

// Marshal returns the canonical "signed" bytes of a timestamp document.
func (t *Timestamp) Marshal(version int64, expires time.Time) ([]byte, error) {
	return marshalMeta(header{TypeTimestamp, version, expires}, t.Meta)
}

func marshalMeta(h header, meta map[string]FileMeta) ([]byte, error) {
	if err := h.check(); err != nil {
		return nil, err
	}
	w := canonjson.NewWriter(512 + 200*len(meta))
	w.BeginObject()
	w.Name("_type")
	w.String(h.typ)
	w.Name("expires")
	w.String(formatTime(h.expires))
	w.Name("meta")
	if err := writeMetaMap(w, meta); err != nil {
		return nil, err
	}
	w.Name("version")
	w.Int(h.version)
	w.EndObject()
	return reparse(w.Bytes(), h.typ)
}

// reparse checks what Marshal wrote with the rules Parse applies, so that
// nothing is produced that a reader would refuse.
func reparse(signed []byte, typ string) ([]byte, error) {
	d := &Document{Signed: signed}
	if err := d.parseSigned(); err != nil {
		return nil, fmt.Errorf("notary: writing %s: %w", typ, err)
	}
	return signed, nil
}

func writeKeys(w *canonjson.Writer, ks map[string]Key) {
	w.BeginObject()
	ids := make([]string, 0, len(ks))
	byID := make(map[string]Key, len(ks))
	for _, k := range ks {
		// Keys are written under their own IDs, whatever the map says;
		// reparse catches a role naming a key under another ID.
		byID[k.ID()] = k
		ids = append(ids, k.ID())
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		w.Name(id)
		byID[id].encode(w)
	}
	w.EndObject()
}

func writeRoleKeys(w *canonjson.Writer, rk RoleKeys, d *Delegation) {
	w.BeginObject()
	w.Name("keyids")
	w.BeginArray()
	for _, id := range rk.KeyIDs {
		w.String(id)
	}
	w.EndArray()
	if d != nil {
		w.Name("name")
		w.String(d.Name)
		w.Name("paths")
		w.BeginArray()
		for _, p := range d.Paths {
			w.String(p)
		}
		w.EndArray()
	}
	w.Name("threshold")
	w.Int(int64(rk.Threshold))
	w.EndObject()
}

func writeMetaMap(w *canonjson.Writer, m map[string]FileMeta) error {
	w.BeginObject()
	for _, name := range sortedKeys(m) {
		fm := m[name]
		w.Name(name)
		w.BeginObject()
		if fm.Custom != nil {
			c, err := canonjson.Canonicalize(fm.Custom)
			if err != nil {
				return fmt.Errorf("notary: custom value of %q: %w", short(name), err)
			}
			w.Name("custom")
			w.Raw(c)
		}
		w.Name("hashes")
		w.BeginObject()
		for _, alg := range sortedKeys(fm.Hashes) {
			w.Name(alg)
			w.String(base64.StdEncoding.EncodeToString(fm.Hashes[alg]))
		}
		w.EndObject()
		w.Name("length")
		w.Int(fm.Length)
		w.EndObject()
	}
	w.EndObject()
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NewFileMeta returns the length and SHA-256 and SHA-512 hashes of data, as
// Notary lists files and targets.
func NewFileMeta(data []byte) FileMeta {
	return FileMeta{Length: int64(len(data)), Hashes: hashes(data)}
}
