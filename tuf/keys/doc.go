// Package keys implements the public-key cryptography of TUF metadata.
//
// A TUF key object names its key material with three strings: a "keytype",
// a signature "scheme" and a "public" value inside "keyval". [PublicKey]
// holds those three strings; [NewVerifier] turns them into a [Verifier] that
// checks signatures, and [NewSigner] wraps a private key (in memory, or any
// [crypto.Signer] such as a PKCS#11 token or a cloud KMS) as a [Signer] that
// makes them. The package holds no metadata format, does no I/O and keeps no
// state beyond the values it returns.
//
// # Keys and schemes
//
// The supported combinations follow the TUF specification and the
// conventions of securesystemslib (python-tuf) and go-tuf:
//
//	keytype                 scheme                public value
//	ed25519                 ed25519               64 hex digits (32-byte key)
//	ecdsa                   ecdsa-sha2-nistp256   PEM "PUBLIC KEY" (PKIX) or "CERTIFICATE", P-256
//	ecdsa                   ecdsa-sha2-nistp384   same, P-384
//	ecdsa                   ecdsa-sha2-nistp521   same, P-521
//	ecdsa-sha2-nistp256     ecdsa-sha2-nistp256   legacy key type: as ecdsa, or hex of the uncompressed point
//	ecdsa-sha2-nistp384     ecdsa-sha2-nistp384   legacy key type, same as ecdsa-sha2-nistp256, P-384
//	ecdsa-sha2-nistp521     ecdsa-sha2-nistp521   legacy key type, same as ecdsa-sha2-nistp256, P-521
//	rsa                     rsassa-pss-sha256     PEM "PUBLIC KEY" (PKIX) or "CERTIFICATE", 2048 to 16384 bits
//	ecdsa-x509, rsa-x509    (Notary, see below)   PEM "CERTIFICATE"
//
// The hex form of a legacy ECDSA key type is what go-tuf wrote before its
// version 2 (and what the first roots of Sigstore's root of trust hold): the
// SEC 1 uncompressed point 0x04 || X || Y, on the curve the key type names.
// Only the legacy key types take it, since only they were ever written so;
// a key listed under "ecdsa" must be PEM. The same key may appear in one
// document as a legacy hex key and as an "ecdsa" PEM key: [Verifier.Identity]
// is the same for both (see Identity below).
//
// Signatures are the raw 64 bytes for Ed25519, ASN.1 DER SEQUENCE{r, s} for
// ECDSA (over SHA-256, SHA-384 or SHA-512 of the message, as the scheme
// names), and RSASSA-PSS with SHA-256 and MGF1-SHA-256 for RSA. Verification
// accepts any PSS salt length; signing uses a salt as long as the hash.
// The curve of an ECDSA key must be the one its scheme names: a P-384 key
// listed under "ecdsa-sha2-nistp256" is rejected, not used with SHA-256.
// Every other key type or scheme is rejected with [ErrUnsupported].
//
// When the public value is a certificate, the key is the certificate's
// subject public key; the certificate is only a container here, and its
// validity, chain and extensions are not checked. [Certificate] returns it
// for callers that want to.
//
// # Notary
//
// Notary v1 metadata has no "scheme"; its key objects carry only a keytype,
// and its "public" values are standard base64: of the raw 32-byte key for
// "ed25519", of the DER PKIX key for "ecdsa" and "rsa", and of the PEM
// certificate for "ecdsa-x509" and "rsa-x509". A key is treated as a Notary
// key when its scheme is empty or its key type is "ecdsa-x509" or
// "rsa-x509". For such keys:
//
//   - the public value may be in Notary's base64 form as well as in the TUF
//     form above;
//   - an empty scheme means "ed25519" for Ed25519 keys, the scheme of the
//     key's curve for ECDSA keys (P-256 gives "ecdsa-sha2-nistp256", P-384
//     "ecdsa-sha2-nistp384"; Notary itself only creates P-256 keys, hashed
//     with SHA-256), and "rsassa-pss-sha256" for RSA keys, which is what
//     Notary's "rsapss" signature method is;
//   - ECDSA signatures may also be in Notary's fixed-size r||s form.
//
// Notary records the signature method ("eddsa", "ecdsa", "rsapss",
// "rsapkcs1v15") on each signature rather than on the key. Those names are
// not accepted as schemes here; in particular there is no "rsapss-sha256"
// scheme in Notary or in TUF, and RSA PKCS #1 v1.5 signatures are not
// supported.
//
// # Identity
//
// [Verifier.Identity] names the key material, not the key object: it is the
// hex SHA-256 of the key's PKIX DER encoding, the same for a key however it
// is listed (modern or legacy key type, PEM key or certificate, TUF or
// Notary encoding). Key IDs, which hash the whole key object, differ between
// such listings, so a threshold must count distinct identities, not
// distinct key IDs.
//
// # Limits
//
// Public values longer than [MaxPublicValueSize] are rejected before they
// are parsed, and [NewVerifier] does all parsing and checking once, so that
// [Verifier.Verify] costs one hash of the message and one signature check.
package keys
