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
//
// # What is read beyond the specification
//
// Deployed repositories written by other implementations (Sigstore's root
// of trust among them, see docs/compatibility.md) have shapes the
// specification does not ask readers to take. Parsing accepts each in its
// narrowest form; what Rampart writes keeps the specification's form.
//
//   - Key IDs that are not the hash of their key. A key ID is the name a
//     document gives a key, as python-tuf and go-tuf read it (and as TAP 12
//     proposes): any printable ASCII string of 1 to 256 bytes. One key may
//     be listed under several IDs and counts once toward a threshold (see
//     CheckSignatures), but an ID that is the hash of one key in the
//     document may not name another key (one key ID for two keys is
//     refused). CheckKeyIDs applies the specification's strict rule, for
//     clients that want it. Documents built in memory must list new keys
//     under their hash (Validate); IDs read from a document are kept.
//   - Times in any RFC 3339 form: fractional seconds and numeric offsets
//     (such as "2021-12-18T13:28:12.99008-06:00") are read as the instant
//     they name, and expiry compares instants. An "expires" read is written
//     back as read while it is unchanged, so that signatures stay valid; a
//     new one is written as "YYYY-MM-DDTHH:MM:SSZ".
//   - spec_version "1.x" and "1.x.y", for any x and y.
//   - Members the model does not know (keyid_hash_algorithms,
//     x-tuf-on-ci-*), in every object, kept and written back in place.
//
// Package keys documents the key forms read (legacy ECDSA key types with
// hex public values, beside PEM keys under "ecdsa").
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
