package trust_test

import (
	"errors"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// Key IDs are names within one document: whether a root update rotated the
// timestamp key (and so whether cached timestamp and snapshot metadata are
// dropped, 5.3.11) depends on the keys, not on the IDs they are listed
// under.
func TestRotationComparesKeysNotIDs(t *testing.T) {
	repo := repotest.New(t)
	rootSigner := repo.Signers[metadata.TypeRoot][0]
	byRoot := repotest.SignAs{KeyID: repotest.HashID(rootSigner), Signer: rootSigner}
	// listTimestampKey returns root version v listing the timestamp role's
	// key s under id.
	listTimestampKey := func(v int, id string, s keys.Signer) []byte {
		return repotest.Rewrite(t, repo.RootBytes(1), func(doc map[string]any) {
			doc["version"] = v
			ks := doc["keys"].(map[string]any)
			delete(ks, repotest.HashID(repo.Signers[metadata.TypeTimestamp][0]))
			ks[id] = map[string]any{"keytype": s.PublicKey().Type, "scheme": s.PublicKey().Scheme, "keyval": map[string]any{"public": s.PublicKey().Value}}
			doc["roles"].(map[string]any)["timestamp"].(map[string]any)["keyids"] = []any{id}
		}, byRoot)
	}
	k1, k2 := repotest.NewSigner(t), repotest.NewSigner(t)
	for _, tt := range []struct {
		name    string
		v2ID    string
		v2Key   keys.Signer
		rotated bool
	}{
		{"same ID, another key", "online", k2, true},
		{"another ID, same key", "online-renamed", k1, false},
		{"same ID, same key", "online", k1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := trust.New(listTimestampKey(1, "online", k1), trust.Options{Time: now})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.UpdateRoot(listTimestampKey(2, tt.v2ID, tt.v2Key)); err != nil {
				t.Fatal(err)
			}
			if s.RotatedKeys() != tt.rotated {
				t.Fatalf("RotatedKeys() = %v, want %v", s.RotatedKeys(), tt.rotated)
			}
		})
	}

	// The strict rule refuses the named key, in the trusted root and in an
	// update.
	named := listTimestampKey(1, "online", k1)
	_, err := trust.New(named, trust.Options{Time: now, StrictKeyIDs: true})
	var ke *metadata.KeyIDError
	if !errors.As(err, &ke) || ke.ID != "online" {
		t.Fatalf("strict New: %v", err)
	}
	s, err := trust.New(repo.RootBytes(1), trust.Options{Time: now, StrictKeyIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRoot(listTimestampKey(2, "online", k1)); !errors.As(err, &ke) {
		t.Fatalf("strict UpdateRoot: %v", err)
	}
	if s.Root().Signed.Version != 1 {
		t.Fatal("refused root trusted")
	}
}
