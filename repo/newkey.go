package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NewKeyFile generates a key with the repository's key store as
// DIR/keys/NAME.key (and NAME.pub) and returns the path of the private key
// file, for DelegateOptions.Keys. An existing file of that name is an
// error.
func (r *Repo) NewKeyFile(ctx context.Context, name string) (string, error) {
	if err := checkRoleName(name); err != nil {
		return "", fmt.Errorf("key name: %w", err)
	}
	if strings.Contains(name, "/") {
		return "", fmt.Errorf("key name %q: one path segment, without '/'", name)
	}
	dir := filepath.Join(r.dir, keysDir)
	path := filepath.Join(dir, name+".key")
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("%s exists", path)
	}
	if _, err := r.opts.Keys.Create(ctx, dir, name); err != nil {
		return "", fmt.Errorf("creating key %s: %w", name, err)
	}
	return path, nil
}
