package trust_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/trust"
)

// FuzzTargetsLookup fuzzes the path a client takes to find a target in
// targets metadata: the lazy parse (ParseTargetsLazyVerified), the lookup
// of one entry without decoding the rest (Targets.Lookup, through
// trust.FindTarget) and listing (trust.ListTargets). Whatever the bytes,
// nothing panics, and a lazy lookup agrees with a full decoding of the
// same document: the same entry, or the same absence.
func FuzzTargetsLookup(f *testing.F) {
	for _, n := range []int{0, 1, 3, 40, 300} {
		repo := repotest.New(f)
		for i := range n {
			repo.AddTarget("targets", fmt.Sprintf("dir/file-%03d.tgz", i), []byte{byte(i)})
		}
		repo.Delegate("targets", "d", []string{"d/*"}, false)
		repo.Publish()
		data := repo.Meta("targets")
		f.Add(data, "dir/file-000.tgz")
		f.Add(data, "dir/file-002.tgz")
		f.Add(data, "dir/file-1.tgz")
		f.Add(data, "d/x")
		f.Add(bytes.Replace(data, []byte(`"length":`), []byte(`"length":-`), 1), "dir/file-000.tgz")
	}
	f.Add([]byte(`{"signed":{"_type":"targets","targets":{"a":{}}},"signatures":[]}`), "a")
	f.Fuzz(func(t *testing.T, data []byte, targetPath string) {
		doc, err := metadata.ParseTargetsLazyVerified(data, func(metadata.Signed) error { return nil })
		if err != nil {
			return
		}
		full, fullErr := metadata.ParseTargets(data)
		if fullErr == nil && full.Signed.Version != doc.Signed.Version {
			t.Fatalf("lazy version %d, full version %d", doc.Signed.Version, full.Signed.Version)
		}
		errNoRole := errors.New("no such role")
		load := func(role, parent string) (*metadata.Targets, error) {
			if role == metadata.TypeTargets {
				return doc.Signed, nil
			}
			return nil, errNoRole
		}
		found, findErr := trust.FindTarget(targetPath, 8, load)
		tf, ok, lookupErr := doc.Signed.Lookup(targetPath)
		switch {
		case lookupErr != nil:
			if findErr == nil {
				t.Fatalf("Lookup fails (%v), FindTarget finds %+v", lookupErr, found)
			}
		case ok:
			if findErr != nil || found.Role != metadata.TypeTargets || found.Length != tf.Length {
				t.Fatalf("Lookup finds length %d, FindTarget gives %+v, %v", tf.Length, found, findErr)
			}
		case findErr == nil:
			t.Fatalf("Lookup finds nothing, FindTarget finds %+v", found)
		}
		if fullErr != nil {
			return
		}
		// A document that decodes whole: the lazy lookup is the map's.
		want, inMap := full.Signed.Targets[targetPath]
		if lookupErr != nil || ok != inMap {
			t.Fatalf("Lookup(%q) = %v, %v; the decoded map has it: %v", targetPath, ok, lookupErr, inMap)
		}
		if ok && (tf.Length != want.Length || !bytes.Equal(tf.Hashes.SHA256, want.Hashes.SHA256)) {
			t.Fatalf("Lookup(%q) = %+v, the decoded map has %+v", targetPath, tf, want)
		}
		list, err := trust.ListTargets(0, 8, load)
		if err != nil && !errors.Is(err, errNoRole) {
			t.Fatalf("ListTargets: %v", err)
		}
		if err == nil && len(list) != len(full.Signed.Targets) {
			t.Fatalf("ListTargets lists %d targets, the document has %d", len(list), len(full.Signed.Targets))
		}
	})
}
