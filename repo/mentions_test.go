package repo

import "testing"

// TestMentionsInToto: the name counts quoted, wherever it is, and only
// quoted.
func TestMentionsInToto(t *testing.T) {
	for raw, want := range map[string]bool{
		`"in-toto"`:                      true,
		`{"custom":{"in-toto":{}}}`:      true,
		`{"a":"xin-toto","b":"in-toto"}`: true,
		`in-toto"`:                       false,
		`{"a":"xin-toto"}`:               false,
		`{"in-toto-x":1}`:                false,
		`"in-tot"`:                       false,
		``:                               false,
	} {
		if got := mentionsInToto([]byte(raw)); got != want {
			t.Errorf("mentionsInToto(%s) = %v, want %v", raw, got, want)
		}
	}
}
