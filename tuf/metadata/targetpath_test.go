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
