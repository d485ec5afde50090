package intoto

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// CustomKey is the member of a TUF target's custom metadata that lists the
// in-toto metadata belonging to it: for a package, its layout and links; for
// a layout, the public keys that verify it (ITE-2, CNAB security).
const CustomKey = "in-toto"

// ParseCustom returns the paths that a target's custom metadata lists under
// "in-toto"; it fails when there are none.
func ParseCustom(custom []byte) ([]string, error) {
	if len(custom) == 0 {
		return nil, errors.New(`no custom metadata, so no "in-toto" list`)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(custom, &c); err != nil {
		return nil, fmt.Errorf("custom metadata: %w", err)
	}
	raw, ok := c[CustomKey]
	if !ok {
		return nil, errors.New(`custom metadata has no "in-toto" list`)
	}
	var paths []string
	if err := json.Unmarshal(raw, &paths); err != nil {
		return nil, fmt.Errorf(`custom metadata: "in-toto" is not a list of paths: %w`, err)
	}
	if len(paths) == 0 {
		return nil, errors.New(`custom metadata: the "in-toto" list is empty`)
	}
	return paths, nil
}

// SplitPackageList splits a package's "in-toto" list into its layout and
// its links: the links are the paths ending in ".link", and exactly one
// other path, the layout, must remain. Every path must be a clean target
// path (metadata.CheckTargetPath), and links must have distinct file names.
func SplitPackageList(paths []string) (layout string, links []string, err error) {
	seen := map[string]bool{}
	for _, p := range paths {
		if err := metadata.CheckTargetPath(p); err != nil {
			return "", nil, fmt.Errorf(`"in-toto" lists %q: %w`, p, err)
		}
		if !strings.HasSuffix(p, ".link") {
			if layout != "" {
				return "", nil, fmt.Errorf(`"in-toto" lists two layouts, %s and %s`, layout, p)
			}
			layout = p
			continue
		}
		base := path.Base(p)
		if err := CheckLinkName(base); err != nil {
			return "", nil, err
		}
		if seen[base] {
			return "", nil, fmt.Errorf(`"in-toto" lists two links named %s`, base)
		}
		seen[base] = true
		links = append(links, p)
	}
	if layout == "" {
		return "", nil, errors.New(`"in-toto" lists no layout`)
	}
	return layout, links, nil
}
