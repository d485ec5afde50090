package metadata_test

import (
	"path"
	"strings"
	"testing"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func TestRoleFileName(t *testing.T) {
	for _, tc := range []struct{ role, file string }{
		{"targets", "targets.json"},
		{"bins-0f", "bins-0f.json"},
		{"targets/releases", "targets%2Freleases.json"},
		{"a/b/c", "a%2Fb%2Fc.json"},
		{"..", "%2E..json"},
		{"../x", "%2E.%2Fx.json"},
		{".hidden", "%2Ehidden.json"},
		{"a b%", "a%20b%25.json"},
		{"é", "%C3%A9.json"},
	} {
		got := metadata.RoleFileName(tc.role)
		if got != tc.file {
			t.Errorf("RoleFileName(%q) = %q, want %q", tc.role, got, tc.file)
		}
		if strings.ContainsAny(got, "/\\\x00") || got == "." || got == ".." {
			t.Errorf("RoleFileName(%q) = %q is not one path element", tc.role, got)
		}
		if role, ok := metadata.RoleFromFileName(got); !ok || role != tc.role {
			t.Errorf("RoleFromFileName(%q) = %q, %v; want %q", got, role, ok, tc.role)
		}
	}
}

func TestRoleFromFileNameRefuses(t *testing.T) {
	for _, name := range []string{
		"", ".json", "targets", "targets.JSON", "a%2.json", "a%zz.json", "a%2f.json", // lowercase hex is not RoleFileName's
		"a%41.json", // 'A' needs no escape: one spelling per role
		"a/b.json", "..json",
	} {
		if role, ok := metadata.RoleFromFileName(name); ok {
			t.Errorf("RoleFromFileName(%q) = %q, want refusal", name, role)
		}
	}
}

func TestCheckRoleNameSays(t *testing.T) {
	for name, want := range map[string]string{
		"":                        "empty role name",
		strings.Repeat("a/", 200): "at most 255",
		"targets/../x":            `role name "targets/../x": each '/'-separated part`,
		"root/001":                "may begin with targets/ but not with",
		"snapshot/x":              "may begin with targets/ but not with",
	} {
		err := metadata.CheckRoleName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckRoleName(%q) = %v, want an error containing %q", name, err, want)
		}
	}
	for _, name := range []string{"targets/releases", "x.json", "a/x.json", "a/x.jsonb/y", "a/json/y"} {
		if err := metadata.CheckRoleName(name); err != nil {
			t.Errorf("CheckRoleName(%q) = %v", name, err)
		}
	}
}

// FuzzRoleFileName: any role name, however hostile, maps to one safe file
// name that maps back to it, and a name CheckRoleName accepts is a clean
// relative path.
func FuzzRoleFileName(f *testing.F) {
	for _, s := range []string{"targets", "targets/releases", "../x", "a/./b", "%2F", ".hidden", "x.json/y", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, role string) {
		if role == "" {
			return // no document names a role "" (Validate refuses it)
		}
		name := metadata.RoleFileName(role)
		if strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("RoleFileName(%q) = %q: not one safe path element", role, name)
		}
		if back, ok := metadata.RoleFromFileName(name); !ok || back != role {
			t.Fatalf("RoleFromFileName(RoleFileName(%q)) = %q, %v", role, back, ok)
		}
		if metadata.CheckRoleName(role) == nil {
			if path.Clean(role) != role || path.IsAbs(role) || strings.HasPrefix(role, "../") || role == ".." {
				t.Fatalf("CheckRoleName accepts %q, which is not a clean relative path", role)
			}
		}
	})
}
