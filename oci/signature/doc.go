// Package signature is the signature document of an OCI artifact: TUF 1.0
// targets metadata, signed offline by a developer, that lists fully
// qualified references (such as "registry.acme-rockets.io/hello-world:v1")
// as targets with the length, sha256 digest and media type of the manifest
// they name.
//
// Such a document is the metadata of a TUF delegated role, so that an
// organisation can register it in its own TUF repository, and it can also
// be verified on its own against contemporary PKI: each signature object may
// carry the signer's certificate chain in "x5c" (standard base64 DER, leaf
// first), as in the nv2 prototype.
//
// # Keys and key IDs
//
// Without a certificate the key ID is the TUF key ID of the signing key
// ("ed25519", "ecdsa" or "rsa" key object, as tuf/keys writes it). With a
// certificate the key object is Notary's x509 key type ("rsa-x509" or
// "ecdsa-x509") with the leaf certificate's PEM as public value, and the
// signature's key ID is that key object's TUF key ID, so that a delegation
// listing the certificate ([CertKey]) verifies the document with the stock
// TUF threshold check. A TUF key object always has a "scheme" member, which
// Notary's has not, so the TUF key ID of a certificate differs from Notary's
// ([NotaryCertKeyID]); verification accepts either on an x5c signature,
// since the key ID there only names the leaf, and the documents the nv2
// prototype wrote carry Notary's.
//
// RSA keys sign RSASSA-PSS with SHA-256 and a 32-byte salt. ECDSA keys sign
// SHA-256 (P-256); with a certificate the signature is the raw r||s form of
// nv2 and Notary, which the x509 key types accept, and without one it is
// ASN.1 DER, the only form the TUF "ecdsa" key type accepts.
//
// # Verification
//
// [Document.Verify] checks a document as nv2's verifier does: at least one
// signature must be valid and come from a trusted signer (a chain from x5c
// to a trusted root, or a certificate trusted directly), the signer's leaf
// certificate must be valid at the time of verification, allow digital
// signatures, and name in its subject alternative names the registry host
// of every reference the document lists; the document must not have expired
// and must have at least the minimum version. [Document.Check] then checks
// a manifest against the target listed for a reference.
//
// The package does no I/O besides reading the system's root certificates
// when no roots are given.
package signature
