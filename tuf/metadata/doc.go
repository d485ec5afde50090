// Package metadata is the TUF 1.0 metadata model: the root, targets,
// snapshot, timestamp and mirrors documents, their signatures, delegations
// (path patterns, hash prefixes and TAP 15 succinct hashed bins), strict
// validation and threshold verification.
//
// The package does no I/O. Parsing reads a document once: it canonicalizes
// the input (for free when the input is already canonical), decodes the model
// from the canonical bytes, and keeps the exact canonical bytes of "signed"
// so that signatures are checked over what was received, never over a
// re-encoding. Members the model does not know are kept in Unknown fields and
// written back unchanged, so they stay covered by signatures.
//
// Every parse error is an *Error naming the document, the field and the
// reason.
package metadata

// Role types, the "_type" of each kind of document.
const (
	TypeRoot      = "root"
	TypeTargets   = "targets"
	TypeSnapshot  = "snapshot"
	TypeTimestamp = "timestamp"
	TypeMirrors   = "mirrors"
)

// SpecVersion is the TUF specification version written into new metadata.
const SpecVersion = "1.0.34"

// TopLevelRoles are the roles that root must list.
var TopLevelRoles = []string{TypeRoot, TypeSnapshot, TypeTargets, TypeTimestamp}

// IsTopLevel reports whether name is the name of a top-level role,
// including the optional mirrors role.
func IsTopLevel(name string) bool {
	switch name {
	case TypeRoot, TypeTargets, TypeSnapshot, TypeTimestamp, TypeMirrors:
		return true
	}
	return false
}
