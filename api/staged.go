package api

import "time"

// DefaultMaxMetadataBytes is the server's default limit on a publish
// request's body, and on each part of a staged update.
const DefaultMaxMetadataBytes = 16 << 20

// StagedUpdate is what the server holds of a staged update: a publish
// uploaded in parts and committed in one step (docs/server-api.md,
// "Staged updates").
type StagedUpdate struct {
	ID      string    `json:"id"`
	GUN     string    `json:"gun"`
	Expires time.Time `json:"expires"`
	// MaxPartBytes bounds the body of one part, MaxBytes the documents
	// of the whole update.
	MaxPartBytes int64 `json:"max_part_bytes"`
	MaxBytes     int64 `json:"max_bytes"`
	// Parts are the documents the server has, by role name, with the
	// roots of the chain as StagedRootPart(i).
	Parts map[string]StagedPart `json:"parts"`
	// PartTypes are the media types of part bodies the server takes
	// besides the JSON of a publish: StagedPartType, from servers that
	// take it.
	PartTypes []string `json:"part_types,omitempty"`
}

// StagedPart describes one document of a staged update as the server
// stores it.
type StagedPart struct {
	SHA256 string `json:"sha256"` // hex
	Length int64  `json:"length"`
}

// StagedRootPart is the name of the i-th (from 1) root of a staged
// update's chain in StagedUpdate.Parts.
func StagedRootPart(i int) string {
	b := []byte("root/000")
	for j := len(b) - 1; i > 0 && j >= 5; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}
