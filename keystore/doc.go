// Package keystore keeps TUF signing keys at rest: public key files,
// passphrase-encrypted private key files, and references to keys held on a
// PKCS#11 token (a smart card, a hardware security module, or SoftHSM).
//
// [Load] opens either kind of private key file and returns a [Signer], so
// that every command that signs accepts a hardware key wherever it accepts
// an encrypted key file. A Signer is a [keys.Signer] with a Close method;
// call Close when done, to log out of a token and unload its library.
//
// # Public key files (NAME.pub)
//
// A public key file is the TUF key object of the key, as JSON, so that it
// can be pasted into the "keys" of root or targets metadata:
//
//	{
//	  "keytype": "ed25519",
//	  "keyval": {"public": "<hex, or a PEM public key>"},
//	  "scheme": "ed25519"
//	}
//
// Its key ID is the SHA-256 of that object's canonical JSON, as TUF defines
// it. [ReadPublic] also accepts other members in the object (they are
// ignored, and the key ID it implies is that of the three members above), a
// PEM "PUBLIC KEY" block or "CERTIFICATE" (whose subject key is used under
// the key's default scheme), and either kind of private key file, whose
// public key is stored in clear.
//
// # Encrypted private key files (NAME.key, "rampart-key-v1")
//
// An encrypted key file is a JSON object with exactly these members:
//
//	{
//	  "format": "rampart-key-v1",
//	  "kdf": {"name": "argon2id", "salt": "<base64>", "time": 3, "memory_kib": 65536, "threads": 4},
//	  "cipher": "xchacha20poly1305",
//	  "nonce": "<base64, 24 bytes>",
//	  "public": <the key object, as in a public key file>,
//	  "ciphertext": "<base64>"
//	}
//
// The 32-byte key of XChaCha20-Poly1305 is derived from the passphrase with
// Argon2id (RFC 9106) under the given salt (16 bytes or more) and costs.
// The plaintext is the private key as PKCS#8 DER. The additional data of
// the AEAD is the file's JSON without "ciphertext", as [encoding/json]
// writes the members above in that order, so that neither the public key nor
// any parameter can be changed without the decryption failing. The public
// key is in clear so that the key ID of a key is known without the
// passphrase. Base64 is standard base64 with padding.
//
// A file is read only if it is at most [MaxFileSize] bytes, has no other
// members, and its costs are at most time 16, memory 1 GiB and 64 threads
// (so that a crafted file cannot exhaust the machine). Files with another
// "format" are rejected with a message naming the version: a later version
// needs a later Rampart.
//
// Private key files are written atomically (a temporary file in the same
// directory, synced, then linked or renamed into place) with mode 0600, and
// an existing file is replaced only when the caller asks for it.
//
// # PKCS#11 key references (NAME.key, "rampart-pkcs11-v1")
//
// A key on a PKCS#11 token is named by a reference file, which holds no
// secret:
//
//	{
//	  "format": "rampart-pkcs11-v1",
//	  "module": "/usr/lib/softhsm/libsofthsm2.so",
//	  "token_label": "rampart",
//	  "key_label": "root-1",
//	  "key_id": "<hex CKA_ID, optional>",
//	  "public": <the key object>
//	}
//
// [Load] loads the module (an absolute path to the token's PKCS#11 shared
// library), opens the token with that label, logs in as the user with the
// PIN and finds the private key with that label (and CKA_ID, when given);
// exactly one must match, and its public key must be the one in the file.
// The PIN is taken from the environment variable RAMPART_PKCS11_PIN when it
// is set, and asked for through the [PassphraseFunc] otherwise.
//
// Loading a module runs its code in the process: a reference file is
// trusted configuration, like the rest of the key directory, and not
// something to accept from others.
//
// ECDSA (P-256, P-384) and RSA (3072 bits, RSASSA-PSS) keys are supported on
// tokens; Ed25519 is not. PKCS#11 support needs a cgo build; without cgo,
// PKCS#11 operations return [ErrNoPKCS11].
//
// # Passphrases
//
// A [PassphraseFunc] supplies passphrases and PINs. [EnvOrPrompt] takes
// them from RAMPART_PASSPHRASE, or asks on the terminal without echo, and
// fails rather than waits when there is neither.
package keystore
