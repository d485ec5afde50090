package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// topLevelRoles are the roles whose versions client refresh reports, in
// the order the client updates them.
var topLevelRoles = []string{"root", "timestamp", "snapshot", "targets"}

// maxTrustedFile bounds what trustedVersions reads of one metadata file.
const maxTrustedFile = 64 << 20

// trustedVersions returns the version of each top-level role trusted in
// the client's metadata directory; a role without a file is left out.
func trustedVersions(metaDir string) map[string]int64 {
	versions := map[string]int64{}
	for _, role := range topLevelRoles {
		f, err := os.Open(filepath.Join(metaDir, metadata.RoleFileName(role)))
		if err != nil {
			continue
		}
		var doc struct {
			Signed struct {
				Version int64 `json:"version"`
			} `json:"signed"`
		}
		err = json.NewDecoder(io.LimitReader(f, maxTrustedFile)).Decode(&doc)
		f.Close()
		if err == nil {
			versions[role] = doc.Signed.Version
		}
	}
	return versions
}

// roleChange is one role's version before and after a refresh; From is 0
// when the role was not trusted before.
type roleChange struct {
	Role    string `json:"role"`
	From    int64  `json:"from"`
	To      int64  `json:"to"`
	Changed bool   `json:"changed"`
}

func versionChanges(before, after map[string]int64) []roleChange {
	var out []roleChange
	for _, role := range topLevelRoles {
		if v, ok := after[role]; ok {
			out = append(out, roleChange{Role: role, From: before[role], To: v, Changed: before[role] != v})
		}
	}
	return out
}

// printRefresh writes what a refresh changed.
func printRefresh(w io.Writer, changes []roleChange, asJSON bool) error {
	changed := false
	for _, c := range changes {
		changed = changed || c.Changed
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Changed bool         `json:"changed"`
			Roles   []roleChange `json:"roles"`
		}{changed, changes})
	}
	if !changed {
		var now []string
		for _, c := range changes {
			now = append(now, fmt.Sprintf("%s v%d", c.Role, c.To))
		}
		_, err := fmt.Fprintf(w, "nothing changed: %s\n", strings.Join(now, ", "))
		return err
	}
	for _, c := range changes {
		switch {
		case !c.Changed:
			continue
		case c.From == 0:
			fmt.Fprintf(w, "%s v%d (new)\n", c.Role, c.To)
		default:
			fmt.Fprintf(w, "%s v%d → v%d\n", c.Role, c.From, c.To)
		}
	}
	return nil
}
