package metadata

import "fmt"

// CheckVersion reports whether a repository may accept version for a
// document: 1 to MaxVersion. Servers of both dialects refuse the others
// at publish.
func CheckVersion(version int64) error {
	switch {
	case version < 1:
		return fmt.Errorf("version %d is below 1", version)
	case version > MaxVersion:
		return fmt.Errorf("version %d is above %d (2^53-1), the largest version every client reads exactly", version, int64(MaxVersion))
	}
	return nil
}
