// Package agent keeps unlocked signing keys in the memory of a long-running
// process, as ssh-agent does for SSH keys, so that each command that signs
// does not derive a key from a passphrase again.
//
// A [Server] listens on a unix socket. [Client] hands it keys unlocked from
// key files ([keystore.Unlock]), lists and removes them, and asks it to sign;
// [Client.Signer] returns a [keys.Signer] (also a [crypto.Signer]) for a key
// the agent holds. [FromEnv] is how the rest of Rampart finds the agent: the
// socket named by RAMPART_AGENT_SOCK.
//
// # Security
//
// The socket is created with mode 0600 in a directory of mode 0700 owned by
// the agent's user (created if missing; an existing directory with other
// permissions or another owner is refused). On every connection, the agent
// asks the kernel for the peer's credentials (SO_PEERCRED) and refuses a
// peer whose user ID is not its own; the client checks the agent's user ID
// the same way. Platforms without SO_PEERCRED are refused: the agent runs on
// Linux only.
//
// Keys never touch the disk. Private keys read from encrypted key files are
// kept as PKCS#8 DER in pages of their own, outside the Go heap, locked into
// memory with mlock(2) so that they are not swapped out, and left out of
// core dumps with madvise(MADV_DONTDUMP); an add fails when the pages
// cannot be locked (RLIMIT_MEMLOCK). Go's crypto packages sign only with
// keys in the Go heap, so each signature parses the key from the locked
// pages into a transient copy, dropped once it has signed (and zeroed, for
// Ed25519). The agent command also marks its process as not dumpable
// (PR_SET_DUMPABLE 0: no core dumps, no ptrace or /proc/PID/mem by other
// processes of the user). The whole process is not locked (mlockall): with
// the Go runtime's mappings it would exceed the usual 8 MiB RLIMIT_MEMLOCK.
// A removed or expired key's pages are zeroed, unlocked and unmapped. Keys
// on a PKCS#11 token stay on the token: the agent keeps the token session
// open, and closes it when the key is removed or expires.
//
// Every key expires after the agent's time to live, counted from when it
// was added; an expired key is never used, whether or not it has been
// swept yet.
//
// # Protocol
//
// A connection carries requests and their responses in turn, until the
// client closes it or leaves it idle for a second. Each is a frame: a
// 4-byte big-endian length, then that many bytes of a JSON object ([]byte
// values in standard base64); the message of a sign request follows its
// frame as it is, message_length bytes. A request is at most [MaxRequest]
// bytes, a message to sign at most [MaxSignMessage] and a response at
// most [MaxResponse]; larger frames, unknown members and unknown
// operations are refused with an error response. Requests:
//
//	{"op": "add", "key": {"public": KEY, "pkcs8": DER, "source": PATH}}
//	{"op": "add", "key": {"public": KEY, "pkcs11": REF, "pin": PIN, "source": PATH}}
//	{"op": "list"}
//	{"op": "remove", "key_ids": [ID, ...]}     or {"op": "remove", "all": true}
//	{"op": "sign", "key_id": ID, "message_length": N} and N bytes
//
// KEY is a TUF key object ({"keytype", "scheme", "keyval": {"public"}});
// the agent checks that the private key is that key. A response is
// {"error": MESSAGE} on failure, and otherwise carries "keys" (add, list:
// objects with "key_id", "public", "kind" ("file" or "pkcs11"), "source",
// "expires" in RFC 3339), "removed" (a count), or "signature". Sign signs the
// whole message under the key's scheme; the client verifies the signature
// against the public key before using it.
package agent
