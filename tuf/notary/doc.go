// Package notary reads, checks and writes the metadata of Notary v1, the
// pre-1.0 dialect of TUF that Notary and Docker Content Trust use. It is the
// dialect boundary: the TUF 1.0 model in tuf/metadata knows nothing of it,
// and both share the cryptography of tuf/keys and the canonical JSON of
// tuf/canonjson. Like them, it does no I/O.
//
// # The dialect
//
// A Notary document is an envelope {"signed":{...},"signatures":[...]}
// whose "signed" value has a capitalised "_type" ("Root", "Targets",
// "Snapshot", "Timestamp"), a "version" and an "expires" time in RFC 3339
// with nanoseconds. It differs from TUF 1.0 in these ways:
//
//   - keys are {"keytype":T,"keyval":{"private":null,"public":BASE64}} with
//     no scheme; the key ID is the hex SHA-256 of exactly that canonical
//     object, "private":null included (see [Key.ID]). Key types are
//     "ed25519" (raw 32 bytes), "ecdsa" and "rsa" (DER PKIX), and
//     "ecdsa-x509" and "rsa-x509" (a PEM certificate, base64'd again);
//   - each signature names its "method" ("eddsa", "ecdsa", "rsapss",
//     "rsapkcs1v15"); ECDSA signatures are the fixed-size r||s over SHA-256;
//     signatures and hashes are standard base64, not hex;
//   - snapshot and timestamp "meta" are keyed by role name ("root",
//     "targets", "targets/releases"), not file name, and carry no version;
//   - delegated roles are named "targets/..." after their parent and list
//     plain path prefixes ("" matches every path), with no terminating flag
//     and no hashed bins.
//
// # Signed bytes
//
// Signatures are checked over the bytes of "signed" exactly as they appear
// in the document, and only when those do not verify, over their canonical
// form. Notary's client signs custom target values as they were given (not
// sorted) and with <, > and & escaped as \u003c, \u003e and \u0026, so
// re-canonicalising such a document changes the bytes its signatures cover.
// The content is always read from the canonical form, which decodes to the
// same values either way.
//
// # Use
//
// [Parse] reads a document, checks its structure and returns a [Document];
// [Document.Verify] checks its signatures against a set of keys and a
// threshold. [Targets.Marshal] (and the same method of the other roles)
// writes the canonical "signed" bytes of a new document and [Sign] wraps
// them in a signed envelope. [Key.ID] and [Key.CanonicalID] compute Notary
// key IDs, and [NewKey] and [NewSigningKey] make Notary keys from Go keys
// and [keys.Signer] values.
//
// Parse does not compare expiry times with the clock, versions with earlier
// documents or delegations with their parent's paths: those depend on
// state, and belong to the caller ([Document.Expired], [IsDelegation],
// [Parent] and [PathsWithin] help).
package notary
