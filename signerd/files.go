package signerd

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-tuf/rampart/server/signer"
)

// Files is the file back end: Ed25519 keys in DIR/signer.db, each private
// key sealed (AES-256-GCM, bound to its GUN, role and key ID) under a key
// derived from the secret in DIR/keys.secret. It is [signer.Local] over its
// own key database; one process at a time may open a directory.
type Files struct {
	*signer.Local
	db *keyDB
}

// OpenFiles opens the file back end in dir, creating the directory, the
// database and the secret (mode 0600) as needed. secretFile overrides
// DIR/keys.secret; keep the secret apart from the database's backups.
func OpenFiles(dir, secretFile string) (*Files, error) {
	if dir == "" {
		return nil, fmt.Errorf("signerd: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("signerd: data directory: %w", err)
	}
	secret, err := signer.LoadOrCreateSecret(cmp.Or(secretFile, filepath.Join(dir, "keys.secret")))
	if err != nil {
		return nil, fmt.Errorf("signerd: %w", err)
	}
	db, err := openKeyDB(filepath.Join(dir, "signer.db"))
	if err != nil {
		return nil, fmt.Errorf("signerd: %w", err)
	}
	l, err := signer.NewLocal(db, secret)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Files{Local: l, db: db}, nil
}

// Close closes the database.
func (f *Files) Close() error { return f.db.Close() }
