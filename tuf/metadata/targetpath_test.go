package metadata

import "testing"

func TestCheckTargetPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"a.txt", true},
		{"dir/sub/a-1.0.tar.gz", true},
		{"naïve/文件.txt", true},
		{"with space.txt", true},
		{"..a/b..", true},
		{"", false},
		{"../../etc/passwd", false},
		{"a/../b", false},
		{"./a", false},
		{"a/.", false},
		{"..", false},
		{"/abs/path", false},
		{"a//b", false},
		{"a/", false},
		{`a\..\b`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\tb", false},
		{"a\x7fb", false},
		{"a\u0085b", false},
		{"invoice\u202Etxt.exe", false},
		{"a\u2066b\u2069", false},
		{"a\u200fb", false},
		{"a\u061cb", false},
		{"bad\xffutf8", false},
	} {
		err := CheckTargetPath(tc.path)
		if (err == nil) != tc.ok {
			t.Errorf("CheckTargetPath(%q) = %v, want ok %v", tc.path, err, tc.ok)
		}
	}
}

// TestPlainPathsAreValid: every path of up to five characters from an
// alphabet of the cases the rule looks at that plainPath lets through
// passes the closer checks, and the usual paths are plain.
func TestPlainPathsAreValid(t *testing.T) {
	alphabet := []string{"a", "/", ".", `\`, "\x01", "\x7f", "é", "\u202e", "\xff"}
	var walk func(p string, n int)
	plain := 0
	walk = func(p string, n int) {
		if plainPath(p) {
			plain++
			if why := pathProblem(p); why != "" {
				t.Errorf("plainPath(%q) but %s", p, why)
			}
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			walk(p+c, n-1)
		}
	}
	walk("", 5)
	if plain == 0 {
		t.Fatal("no path of the alphabet is plain")
	}
	for _, p := range []string{"a", "packages/p0000000/p0000000-1.0.0.tar.gz", "a/.b/c..d/~e f"} {
		if !plainPath(p) {
			t.Errorf("plainPath(%q) = false", p)
		}
	}
}
