package repotest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// SignAs is a signature to make over a document edited by Rewrite: by
// Signer, under KeyID, whatever key ID the signer's key has.
type SignAs struct {
	KeyID  string
	Signer keys.Signer
}

// Rewrite decodes the "signed" object of a metadata file as JSON (numbers
// kept exact), lets edit change it, and returns the file signed as sigs say.
// It builds what Rampart's own writer never writes, as other
// implementations do: keys listed under IDs that are not their hash, times
// with offsets, any member.
func Rewrite(t testing.TB, data []byte, edit func(signed map[string]any), sigs ...SignAs) []byte {
	t.Helper()
	var doc struct{ Signed json.RawMessage }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(doc.Signed))
	dec.UseNumber()
	var signed map[string]any
	if err := dec.Decode(&signed); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(signed)
	}
	payload, err := canonjson.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	list := []map[string]string{}
	for _, sa := range sigs {
		v, err := sa.Signer.Sign(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, map[string]string{"keyid": sa.KeyID, "sig": hex.EncodeToString(v)})
	}
	sigJSON, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(`{"signatures":` + string(sigJSON) + `,"signed":` + string(canonjson.ToJSON(payload)) + `}`)
}

// HashID returns the key ID of a signer's key under the specification: the
// hash of its key object.
func HashID(s keys.Signer) string { return KeyOf(s).ID() }

// SnapshotMeta returns the timestamp's entry for a snapshot file, as
// repotest's Publish writes it: version, length and hashes.
func SnapshotMeta(version int64, snapshot []byte) map[string]any {
	hashes := map[string]any{"sha256": hex.EncodeToString(metadata.HashesOf(snapshot, false).SHA256)}
	return map[string]any{"version": version, "length": len(snapshot), "hashes": hashes}
}

// KeyName is the ID RepublishUnderNames lists a top-level role's key under.
func KeyName(role string) string { return "tuf-on-ci-" + role }

// KeyNames says how RepublishUnderNames lists keys.
type KeyNames struct {
	AlsoHash   []string       // roles whose key is listed under its hash too, and signs under both
	Thresholds map[string]int // thresholds to set, by role
}

// RepublishUnderNames rewrites the published current root, which must
// follow a root with hash key IDs and the same keys, so that every
// top-level key is listed under KeyName(role) instead of its hash (as
// deployed repositories do), and re-signs the current targets, snapshot and
// timestamp under those IDs. It returns the new root.
func (r *Repo) RepublishUnderNames(how KeyNames) []byte {
	t := r.t
	t.Helper()
	sigs := func(role string) []SignAs {
		s := r.Signers[role][0]
		out := []SignAs{{KeyID: KeyName(role), Signer: s}}
		if role == metadata.TypeRoot || slices.Contains(how.AlsoHash, role) {
			out = append(out, SignAs{KeyID: HashID(s), Signer: s})
		}
		return out
	}
	v := r.Root.Signed.Version
	root := Rewrite(t, r.RootBytes(v), func(s map[string]any) {
		keys := s["keys"].(map[string]any)
		roles := s["roles"].(map[string]any)
		for _, role := range metadata.TopLevelRoles {
			h := HashID(r.Signers[role][0])
			keys[KeyName(role)] = keys[h]
			ids := []any{KeyName(role)}
			if slices.Contains(how.AlsoHash, role) {
				ids = append(ids, h)
			} else {
				delete(keys, h)
			}
			roles[role].(map[string]any)["keyids"] = ids
			if n := how.Thresholds[role]; n > 0 {
				roles[role].(map[string]any)["threshold"] = n
			}
		}
	}, sigs(metadata.TypeRoot)...)
	r.SetFile(fmt.Sprintf("metadata/%d.root.json", v), root)
	r.SetFile("metadata/root.json", root)

	resign := func(role string, version int64) []byte {
		data := Rewrite(t, r.File(fmt.Sprintf("metadata/%d.%s.json", version, role)), nil, sigs(role)...)
		r.SetFile(fmt.Sprintf("metadata/%d.%s.json", version, role), data)
		r.SetFile("metadata/"+role+".json", data)
		return data
	}
	resign(metadata.TypeTargets, r.Targets[metadata.TypeTargets].Signed.Version)
	sv := r.Snapshot.Signed.Version
	snap := resign(metadata.TypeSnapshot, sv)
	r.SetFile("metadata/timestamp.json", Rewrite(t, r.File("metadata/timestamp.json"), func(s map[string]any) {
		s["meta"] = map[string]any{"snapshot.json": SnapshotMeta(sv, snap)}
	}, sigs(metadata.TypeTimestamp)...))
	return root
}
