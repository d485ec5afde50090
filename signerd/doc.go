// Package signerd is Rampart's signing service: a separate process that
// holds the online (timestamp and snapshot) keys of a metadata server and
// signs with them over HTTPS with mutual TLS, so that the server's host and
// database never see a private key.
//
// The service mirrors [signer.Signer]: Key (get or create the newest key
// of a GUN's role), Rotate, Keys and Sign. [NewServer] serves any
// signer.Signer; two back ends are provided:
//
//   - [OpenFiles] keeps Ed25519 keys in a database in a directory, each
//     sealed with AES-256-GCM under a secret file in that directory (the
//     same sealing as [signer.Local], which it reuses);
//   - [OpenPKCS11] generates ECDSA P-256 keys on a PKCS#11 token and keeps
//     only an index of public keys in the directory.
//
// [Dial] returns a [Client], which implements signer.Signer, for the
// metadata server ("rampart serve --signer HOST:PORT").
//
// # Wire format
//
// Each method is a POST of a JSON request (Content-Type application/json,
// at most [MaxRequestBytes]) to its path, answered with status 200 and a
// JSON response:
//
//	/v1/key     KeyRequest    → KeyResponse   (get or create the newest key)
//	/v1/rotate  KeyRequest    → KeyResponse   (create a new key)
//	/v1/keys    KeyRequest    → KeysResponse  (every key, newest first)
//	/v1/sign    SignRequest   → SignResponse
//	/v1/retire  RetireRequest → RetireResponse (destroy a GUN's keys)
//
// Public keys travel as TUF key objects ({"keytype", "scheme", "keyval":
// {"public"}}), byte strings as standard base64. Any other answer carries
// an [ErrorResponse] ({"error": "..."}) with status 400 (a bad request),
// 404 (no such key), 405, 413 (too large), 415, 500, 503 or 504.
//
// # Security
//
// Both sides use TLS 1.3 and authenticate each other: the service accepts
// only clients whose certificate chains to its client CA ([ServerTLS]),
// and the client accepts only a server certificate that chains to the CA
// it is given, for the host it dials ([ClientTLS]). Every client that holds
// such a certificate may use every key: give certificates only to metadata
// servers. Requests are bounded ([MaxRequestBytes]) and so are responses
// on the client's side.
package signerd
