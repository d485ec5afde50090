package repo_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/repo"
)

// TestExpiryPolicy moves the clock forward: status warns about roles near
// or past expiry, publish refreshes snapshot and timestamp by itself and
// refuses expired targets, and Refresh brings them back.
func TestExpiryPolicy(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	opts := plainOpts
	opts.Now = func() time.Time { return now }
	dir := filepath.Join(t.TempDir(), "r")
	r, err := repo.Init(ctx, dir, repo.InitOptions{Expires: map[string]time.Duration{"targets": 30 * 24 * time.Hour}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	st, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range st.Roles {
		want := map[string]time.Duration{"root": 365 * 24 * time.Hour, "targets": 30 * 24 * time.Hour, "snapshot": 7 * 24 * time.Hour, "timestamp": 24 * time.Hour}[rs.Name]
		if got := rs.Expires.Sub(start); got != want {
			t.Errorf("%s expires after %v, want %v", rs.Name, got, want)
		}
	}
	if len(st.Warnings) != 0 {
		t.Errorf("warnings on a new repository: %v", st.Warnings)
	}

	now = start.Add(26 * 24 * time.Hour) // targets: 4 of 30 days left
	st, _ = r.Status(ctx)
	joined := strings.Join(st.Warnings, "\n")
	for _, want := range []string{"role targets expires in 4d", "role timestamp expired", "role snapshot expired"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	pub := filepath.Join(t.TempDir(), "pub")
	res := publish(t, r, pub)
	if len(res.RefreshedRoles) != 2 {
		t.Errorf("publish refreshed %v, want snapshot and timestamp", res.RefreshedRoles)
	}

	now = start.Add(31 * 24 * time.Hour)
	if _, err := r.Publish(ctx, pub); err == nil || !strings.Contains(err.Error(), "targets expired at") {
		t.Fatalf("publish of expired targets: %v", err)
	}
	done, err := r.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The failed publish refreshed snapshot and timestamp already.
	if strings.Join(done, ",") != "targets" {
		t.Errorf("Refresh refreshed %v, want targets", done)
	}
	publish(t, r, pub)
	if err := r.SetExpiry(ctx, "timestamp", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	st, _ = r.Status(ctx)
	for _, rs := range st.Roles {
		if rs.Name == "timestamp" && rs.Expires.Sub(now) != 2*time.Hour {
			t.Errorf("timestamp expires after %v, want 2h", rs.Expires.Sub(now))
		}
	}
	if err := r.SetExpiry(ctx, "nope", time.Hour); err == nil {
		t.Error("SetExpiry of an unknown role succeeded")
	}
}

func TestInitErrors(t *testing.T) {
	tmp := t.TempDir()
	_, pub := newKey(t, tmp, "k")
	for _, tc := range []struct {
		o    repo.InitOptions
		want string
	}{
		{repo.InitOptions{Thresholds: map[string]int{"targets": 2}, Keys: map[string][]string{"targets": {pub}}}, "threshold 2 but only 1 keys"},
		{repo.InitOptions{Thresholds: map[string]int{"mirrors": 1}}, "unknown role"},
		{repo.InitOptions{Keys: map[string][]string{"bins": {pub}}}, "no bins"},
		{repo.InitOptions{Bins: 17}, "1 to 16 bits"},
		{repo.InitOptions{Keys: map[string][]string{"root": {filepath.Join(tmp, "missing.pub")}}}, "missing.pub"},
	} {
		_, err := repo.Init(ctx, filepath.Join(t.TempDir(), "r"), tc.o, plainOpts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Init(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
}
