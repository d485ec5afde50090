package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
)

// writeFileAtomic writes data to path so that readers see either no file,
// the old file or the whole new one (see package atomicfile); unless
// overwrite is set, it fails if path exists.
func writeFileAtomic(path string, data []byte, perm os.FileMode, overwrite bool) error {
	var err error
	if overwrite {
		err = atomicfile.WriteFile(path, data, perm)
	} else {
		err = atomicfile.WriteNewFile(path, data, perm)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keystore: %s already exists; not overwriting it", path)
		}
	}
	if err != nil {
		return fmt.Errorf("keystore: writing %s: %w", path, err)
	}
	return nil
}
