package auth

import "testing"

func TestCovers(t *testing.T) {
	for _, tc := range []struct {
		prefix, gun string
		want        bool
	}{
		{"", "example.com/a", true},
		{"example.com/acme", "example.com/acme", true},
		{"example.com/acme", "example.com/acme/app", true},
		{"example.com/acme", "example.com/acmecorp", false},
		{"example.com/acme/", "example.com/acme", false},
		{"example.com/acme/", "example.com/acme/app", true},
		{"example.com/acme/app", "example.com/acme", false},
	} {
		if got := Covers(tc.prefix, tc.gun); got != tc.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tc.prefix, tc.gun, got, tc.want)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		outer, inner string
		want         bool
	}{
		{"", "", true},
		{"", "example.com/acme", true},
		{"example.com/acme", "", false},
		{"example.com/acme", "example.com/acme", true},
		{"example.com/acme", "example.com/acme/", true},
		{"example.com/acme", "example.com/acme/app", true},
		{"example.com/acme", "example.com/acmecorp", false},
		{"example.com/acme", "example.com", false},
		{"example.com/acme/", "example.com/acme/", true},
		{"example.com/acme/", "example.com/acme/app", true},
		{"example.com/acme/", "example.com/acme/app/", true},
		{"example.com/acme/", "example.com/acme", false},
		{"example.com/acme/app", "example.com/acme", false},
	} {
		if got := Within(tc.outer, tc.inner); got != tc.want {
			t.Errorf("Within(%q, %q) = %v, want %v", tc.outer, tc.inner, got, tc.want)
		}
	}
}

func TestToken(t *testing.T) {
	tok, hash := NewToken()
	if !WellFormed(tok) || Hash(tok) != hash || len(hash) != 64 {
		t.Fatalf("NewToken() = %q, %q", tok, hash)
	}
	for _, bad := range []string{"", "rpt_", "rpt_short", "xyz_" + tok[4:], tok + "x"} {
		if WellFormed(bad) {
			t.Errorf("WellFormed(%q) = true", bad)
		}
	}
	for _, s := range []string{"pull", "push", "admin"} {
		if sc, err := ParseScope(s); err != nil || sc.String() != s {
			t.Errorf("ParseScope(%q) = %v, %v", s, sc, err)
		}
	}
	if _, err := ParseScope("root"); err == nil {
		t.Error("ParseScope(root) succeeded")
	}
}
