package repo_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// TestAddRefusesUnsafeTargetPaths: repo add refuses the target paths the
// server refuses at publish, by the same rule (metadata.CheckTargetPath),
// and leaves the staged targets as they were.
func TestAddRefusesUnsafeTargetPaths(t *testing.T) {
	r, err := repo.Init(ctx, filepath.Join(t.TempDir(), "r"), repo.InitOptions{}, plainOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "../../etc/passwd", "/abs/path", "a//b", `a\..\b`, "invoice\u202Etxt.exe", "a\x00b"} {
		_, err := r.Add(ctx, []repo.Target{{Path: p, File: metadata.NewTargetFile([]byte("x"), false)}}, repo.AddOptions{})
		if err == nil || !strings.Contains(err.Error(), "invalid target path") {
			t.Errorf("Add(%q) = %v, want an invalid target path error", p, err)
		}
	}
	if _, err := r.Add(ctx, []repo.Target{{Path: "ok/a.txt", File: metadata.NewTargetFile([]byte("x"), false)}}, repo.AddOptions{}); err != nil {
		t.Fatalf("Add of a clean path: %v", err)
	}
}
