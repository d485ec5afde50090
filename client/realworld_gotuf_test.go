package client_test

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata/trustedmetadata"
)

// go-tuf v2 on the same published metadata, for docs/compatibility.md's
// side-by-side table: it reads Sigstore's chain from root version 5 (key
// IDs as names, extra members, times with offsets), but not from versions
// 1 to 4, whose legacy ECDSA keys are in hex; Rampart reads from 1
// (TestSigstoreRootChain).
func TestSigstoreGoTUFSideBySide(t *testing.T) {
	roots := filepath.Join(sigstoreData, "roots")
	for v := 1; v <= 4; v++ {
		if _, err := trustedmetadata.New(readFile(t, filepath.Join(roots, strconv.Itoa(v)+".root.json"))); err == nil {
			t.Errorf("go-tuf now reads root version %d: update docs/compatibility.md", v)
		}
	}
	tm, err := trustedmetadata.New(readFile(t, filepath.Join(roots, "5.root.json")))
	if err != nil {
		t.Fatalf("go-tuf, root version 5: %v", err)
	}
	for v := 6; v <= 15; v++ {
		if _, err := tm.UpdateRoot(readFile(t, filepath.Join(roots, strconv.Itoa(v)+".root.json"))); err != nil {
			t.Fatalf("go-tuf, root version %d: %v", v, err)
		}
	}
	tm.RefTime = time.Date(2026, 8, 21, 20, 0, 0, 0, time.UTC)
	meta := filepath.Join(sigstoreData, "2026-08-21", "metadata")
	if _, err := tm.UpdateTimestamp(readFile(t, filepath.Join(meta, "timestamp.json"))); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateSnapshot(readFile(t, filepath.Join(meta, "165.snapshot.json")), false); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateTargets(readFile(t, filepath.Join(meta, "14.targets.json"))); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.UpdateDelegatedTargets(readFile(t, filepath.Join(meta, "8.registry.npmjs.org.json")), "registry.npmjs.org", "targets"); err != nil {
		t.Fatal(err)
	}
}
