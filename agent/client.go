package agent

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// EnvSocket names the environment variable that holds the path of the
// agent's socket.
const EnvSocket = "RAMPART_AGENT_SOCK"

// ErrNoAgent is returned when no agent listens on the socket.
var ErrNoAgent = errors.New("no agent is listening")

// ErrNotHeld is returned by Client.Signer for a key the agent does not hold.
var ErrNotHeld = errors.New("the agent does not hold this key")

// requestTimeout bounds a request whose context has no deadline.
const requestTimeout = 2 * time.Minute

// Client talks to the agent listening on a socket. Sign and list
// requests go over connections kept open between them (the agent closes
// one left idle for a second), so that signing thousands of roles does not
// connect thousands of times; a Client is safe for concurrent use.
type Client struct {
	// Path is the path of the agent's socket.
	Path string

	mu   sync.Mutex
	idle []*net.UnixConn
}

// maxIdle is the most idle connections a Client keeps.
const maxIdle = 8

// FromEnv returns the Client for the socket RAMPART_AGENT_SOCK names (one
// per socket and process, so that its connections are shared), or nil
// when it is unset or empty.
func FromEnv() *Client {
	p := os.Getenv(EnvSocket)
	if p == "" {
		return nil
	}
	envClients.Lock()
	defer envClients.Unlock()
	if c := envClients.m[p]; c != nil {
		return c
	}
	c := &Client{Path: p}
	if envClients.m == nil {
		envClients.m = map[string]*Client{}
	}
	envClients.m[p] = c
	return c
}

var envClients struct {
	sync.Mutex
	m map[string]*Client
}

// Close closes the connections the client keeps open.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		conn.Close()
	}
	return nil
}

// do sends one request and reads its response. A sign or list request
// (which may be sent twice without harm) goes over an idle connection when
// there is one, and over a new one if the agent had closed that; other
// requests get a connection of their own.
func (c *Client) do(ctx context.Context, req *request) (*response, error) {
	reuse := req.Op == opSign || req.Op == opSignBatch || req.Op == opList
	if reuse {
		if conn := c.takeIdle(); conn != nil {
			resp, err := c.exchange(ctx, conn, req)
			if err == nil {
				c.putIdle(conn)
				return resp, nil
			}
			conn.Close()
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			var rerr *refusedError
			if errors.As(err, &rerr) {
				return nil, err
			}
			// Closed by the agent while idle (or the agent restarted):
			// send it again over a new connection.
		}
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.exchange(ctx, conn, req)
	if err != nil || !reuse {
		conn.Close()
	} else {
		c.putIdle(conn)
	}
	return resp, err
}

// refusedError is an answer of the agent that refuses a request, as
// opposed to a failure of the connection.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func (c *Client) takeIdle() *net.UnixConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.idle)
	if n == 0 {
		return nil
	}
	conn := c.idle[n-1]
	c.idle = c.idle[:n-1]
	return conn
}

func (c *Client) putIdle(conn *net.UnixConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) >= maxIdle {
		conn.Close()
		return
	}
	c.idle = append(c.idle, conn)
}

// dial connects to the agent, which must run as this user, as the agent
// checks the client.
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("agent at %s: %w", c.Path, ErrNoAgent)
		}
		return nil, fmt.Errorf("agent at %s: %w", c.Path, err)
	}
	uc := conn.(*net.UnixConn)
	uid, err := peerUID(uc)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("agent at %s: %w", c.Path, err)
	}
	if uint32(os.Getuid()) != uid {
		conn.Close()
		return nil, fmt.Errorf("agent at %s: refused: it runs as user ID %d, not as you (%d)", c.Path, uid, os.Getuid())
	}
	return uc, nil
}

// exchange sends req over conn and reads the response. A response that
// carries an error is a *refusedError.
func (c *Client) exchange(ctx context.Context, conn *net.UnixConn, req *request) (*response, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(requestTimeout)
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	werr := writeRequest(conn, req)
	var resp response
	if err := readFrame(conn, &resp, MaxResponse); err != nil {
		// The agent may have refused the connection (and closed it) before
		// the request was written: its answer says why, when there is one.
		if werr != nil {
			return nil, fmt.Errorf("agent at %s: %w", c.Path, werr)
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("agent at %s: %w", c.Path, err)
	}
	if resp.Error != "" {
		return nil, &refusedError{fmt.Sprintf("agent at %s: %s", c.Path, resp.Error)}
	}
	return &resp, nil
}

// Add hands an unlocked key to the agent; source names where it came from
// (its key file), for List. It returns what the agent holds.
func (c *Client) Add(ctx context.Context, u *keystore.Unlocked, source string) (KeyInfo, error) {
	defer envList.forget()
	req := &request{Op: opAdd, Key: &addKey{Public: newKeyObject(u.Public), PKCS8: u.PKCS8, PKCS11: u.PKCS11, PIN: u.PIN, Source: source}}
	resp, err := c.do(ctx, req)
	if err != nil {
		return KeyInfo{}, err
	}
	if len(resp.Keys) != 1 || resp.Keys[0].KeyID != keystore.KeyID(u.Public) {
		return KeyInfo{}, fmt.Errorf("agent at %s: add answered with other keys than the one added", c.Path)
	}
	return resp.Keys[0], nil
}

// List returns the keys the agent holds, by key ID.
func (c *Client) List(ctx context.Context) ([]KeyInfo, error) {
	resp, err := c.do(ctx, &request{Op: opList})
	if err != nil {
		return nil, err
	}
	return resp.Keys, nil
}

// Remove makes the agent forget the keys of the given IDs, or every key
// with all; it returns how many it held.
func (c *Client) Remove(ctx context.Context, ids []string, all bool) (int, error) {
	defer envList.forget()
	resp, err := c.do(ctx, &request{Op: opRemove, KeyIDs: ids, All: all})
	if err != nil {
		return 0, err
	}
	return resp.Removed, nil
}

// sign asks the agent to sign msg with key id, without checking the
// signature; Key.Sign checks it.
func (c *Client) sign(ctx context.Context, id string, msg []byte) ([]byte, error) {
	if len(msg) > MaxSignMessage {
		return nil, fmt.Errorf("agent: message of %d bytes is over the limit of %d the agent signs", len(msg), MaxSignMessage)
	}
	resp, err := c.do(ctx, &request{Op: opSign, KeyID: id, MessageLength: len(msg), Message: msg})
	if err != nil {
		return nil, err
	}
	return resp.Signature, nil
}

// signBatch asks the agent to sign each of msgs with key id in one round
// trip, without checking the signatures; Key.Sign checks them. msgs must be
// within the bounds of a batch (MaxBatch, MaxSignMessage in all).
func (c *Client) signBatch(ctx context.Context, id string, msgs [][]byte) ([][]byte, error) {
	lengths := make([]int, len(msgs))
	for i, m := range msgs {
		lengths[i] = len(m)
	}
	if _, err := batchLength(lengths); err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, &request{Op: opSignBatch, KeyID: id, MessageLengths: lengths, Messages: msgs})
	if err != nil {
		return nil, err
	}
	if len(resp.Signatures) != len(msgs) {
		return nil, fmt.Errorf("agent at %s: answered %d signatures to a batch of %d messages", c.Path, len(resp.Signatures), len(msgs))
	}
	return resp.Signatures, nil
}

// Signer returns a signer for key id, which the agent must hold; it fails
// with ErrNotHeld when it does not.
func (c *Client) Signer(ctx context.Context, id string) (*Key, error) {
	held, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	return c.signerFrom(held, id)
}

// signerFrom returns a signer for key id, listed in held.
func (c *Client) signerFrom(held []KeyInfo, id string) (*Key, error) {
	for _, k := range held {
		if k.KeyID != id {
			continue
		}
		pk := k.Public.publicKey()
		if keystore.KeyID(pk) != id {
			return nil, fmt.Errorf("agent at %s: lists key %s with the public key of another", c.Path, shorten(id))
		}
		v, err := keys.NewVerifier(pk)
		if err != nil {
			return nil, fmt.Errorf("agent at %s: key %s: %w", c.Path, shorten(id), err)
		}
		pub, ok := v.(interface{ Public() crypto.PublicKey })
		if !ok {
			return nil, fmt.Errorf("agent at %s: key %s: no public key", c.Path, shorten(id))
		}
		return &Key{c: c, id: id, pk: pk, pub: pub.Public(), v: v, b: &batcher{}}, nil
	}
	return nil, fmt.Errorf("agent at %s: key %s: %w", c.Path, shorten(id), ErrNotHeld)
}

// SignerFromEnv returns the agent's signer for key id when RAMPART_AGENT_SOCK
// names an agent that holds it. It returns nil and no error when the
// variable is unset, no agent listens on the socket, or the agent does not
// hold the key, so that the caller falls back to the key file; other
// failures (an agent of another user, a malformed answer) are errors.
//
// The agent's list of keys is asked once and kept for listTTL, so that a
// command loading several keys asks once; a key removed in the meantime
// fails to sign rather than fall back to its file.
func SignerFromEnv(ctx context.Context, id string) (*Key, error) {
	c := FromEnv()
	if c == nil {
		return nil, nil
	}
	held, err := envList.get(ctx, c)
	if errors.Is(err, ErrNoAgent) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k, err := c.signerFrom(held, id)
	if errors.Is(err, ErrNotHeld) {
		return nil, nil
	}
	return k, err
}

// listTTL is how long SignerFromEnv trusts the agent's list of keys.
const listTTL = time.Second

// listCache keeps the last list of keys of the agent of RAMPART_AGENT_SOCK.
type listCache struct {
	mu   sync.Mutex
	path string
	at   time.Time
	keys []KeyInfo
}

var envList listCache

// forget drops the cached list, as a change of the agent's keys made by
// this process makes it stale.
func (lc *listCache) forget() {
	lc.mu.Lock()
	lc.path, lc.keys = "", nil
	lc.mu.Unlock()
}

func (lc *listCache) get(ctx context.Context, c *Client) ([]KeyInfo, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.path == c.Path && time.Since(lc.at) < listTTL {
		return lc.keys, nil
	}
	held, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	lc.path, lc.at, lc.keys = c.Path, time.Now(), held
	return held, nil
}

// Key is a key the agent holds, as a keys.Signer (and a keystore.Signer):
// the agent signs under the key's TUF scheme, and Sign checks each
// signature against the public key before returning it. CryptoSigner gives
// it as a crypto.Signer.
//
// Sign is safe for concurrent use, and concurrent calls share round trips:
// messages given to Sign while maxSending batches are with the agent wait
// and go together in the next batch sign request, so that a repository
// signing thousands of roles in parallel makes a few hundred round trips,
// and the agent parses the key once for each.
type Key struct {
	c   *Client
	id  string
	pk  keys.PublicKey
	pub crypto.PublicKey
	v   keys.Verifier
	b   *batcher
}

// maxSending is how many batch requests of one Key are with the agent at
// once (the agent works on each on its own connection).
const maxSending = 2

// batcher gathers the messages of concurrent Sign calls of a Key.
type batcher struct {
	mu      sync.Mutex
	queue   []*signCall
	sending int // calls sending batches
	pending int // messages queued or being sent
}

// signCall is one message to sign, and its result once done is closed.
type signCall struct {
	msg  []byte
	sig  []byte
	err  error
	done chan struct{}
}

// KeyID returns the key's TUF key ID.
func (k *Key) KeyID() string { return k.id }

// PublicKey implements keys.Signer.
func (k *Key) PublicKey() keys.PublicKey { return k.pk }

// Sign implements keys.Signer: the agent signs the whole message, alone
// or in a batch with the messages of concurrent calls.
func (k *Key) Sign(ctx context.Context, message []byte) ([]byte, error) {
	sig, err := k.signShared(ctx, message)
	if err != nil {
		return nil, err
	}
	if err := k.v.Verify(message, sig); err != nil {
		return nil, fmt.Errorf("agent at %s: key %s: the agent's signature does not verify: %w", k.c.Path, shorten(k.id), err)
	}
	return sig, nil
}

// Unchecked returns the key as a keys.Signer whose Sign returns the
// agent's signature without checking it against the public key, as Sign
// does. It is for a caller that checks every signature it gets this way
// before the signature is relied on (a repository checks the signatures
// of the roles it publishes), so that thousands of signatures are checked
// once, not twice.
func (k *Key) Unchecked() keys.Signer { return uncheckedKey{k} }

// uncheckedKey is a Key whose Sign does not check the agent's signature.
type uncheckedKey struct{ k *Key }

func (u uncheckedKey) PublicKey() keys.PublicKey { return u.k.pk }

func (u uncheckedKey) Sign(ctx context.Context, message []byte) ([]byte, error) {
	return u.k.signShared(ctx, message)
}

// signShared queues message and, unless maxSending batches are already
// being sent (one of which will take it), sends batches from the queue
// until it is empty. A message too large for a batch goes alone. Batches
// are sent under the context of the call that sends them; a call whose own
// context ends stops waiting.
func (k *Key) signShared(ctx context.Context, message []byte) ([]byte, error) {
	if k.b == nil || len(message) == 0 || len(message) > MaxSignMessage/2 {
		return k.c.sign(ctx, k.id, message)
	}
	call := &signCall{msg: message, done: make(chan struct{})}
	b := k.b
	b.mu.Lock()
	b.queue = append(b.queue, call)
	b.pending++
	send := b.sending < maxSending
	if send {
		b.sending++
	}
	b.mu.Unlock()
	if send {
		k.sendQueued(ctx)
	}
	select {
	case <-call.done:
		return call.sig, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sendQueued sends the queued messages in batches until the queue is
// empty.
func (k *Key) sendQueued(ctx context.Context) {
	b := k.b
	for {
		b.mu.Lock()
		batch := takeBatch(&b.queue)
		if len(batch) == 0 {
			b.sending--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		msgs := make([][]byte, len(batch))
		for i, c := range batch {
			msgs[i] = c.msg
		}
		var sigs [][]byte
		var err error
		if len(batch) == 1 {
			var sig []byte
			sig, err = k.c.sign(ctx, k.id, msgs[0])
			sigs = [][]byte{sig}
		} else {
			sigs, err = k.c.signBatch(ctx, k.id, msgs)
		}
		for i, c := range batch {
			if err != nil {
				c.err = err
			} else {
				c.sig = sigs[i]
			}
			close(c.done)
		}
		b.mu.Lock()
		b.pending -= len(batch)
		b.mu.Unlock()
	}
}

// takeBatch takes from the front of queue the messages of one batch:
// at most MaxBatch, of at most MaxSignMessage bytes in all.
func takeBatch(queue *[]*signCall) []*signCall {
	q := *queue
	n, total := 0, 0
	for n < len(q) && n < MaxBatch && total+len(q[n].msg) <= MaxSignMessage {
		total += len(q[n].msg)
		n++
	}
	batch := slices.Clone(q[:n])
	*queue = slices.Delete(q, 0, n)
	return batch
}

// Close does nothing: the key stays in the agent.
func (k *Key) Close() error { return nil }

// CryptoSigner returns the key as a crypto.Signer, which is also a
// crypto.MessageSigner, for code that takes one (keys.NewSigner, for
// instance, gives it whole messages).
func (k *Key) CryptoSigner() crypto.Signer { return cryptoKey{k} }

// cryptoKey is a Key as a crypto.Signer. The agent signs whole messages
// under the key's TUF scheme, whatever opts says: SignMessage is the way to
// sign; Sign works only for Ed25519, whose "digest" is the message.
type cryptoKey struct{ k *Key }

func (c cryptoKey) Public() crypto.PublicKey { return c.k.pub }

func (c cryptoKey) SignMessage(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	return c.k.Sign(context.Background(), msg)
}

func (c cryptoKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != 0 {
		return nil, errors.New("agent: the agent signs whole messages, not digests; use SignMessage")
	}
	return c.k.Sign(context.Background(), digest)
}

func newKeyObject(pk keys.PublicKey) keyObject {
	var o keyObject
	o.KeyType, o.Scheme, o.KeyVal.Public = pk.Type, pk.Scheme, pk.Value
	return o
}

func (o keyObject) publicKey() keys.PublicKey {
	return keys.PublicKey{Type: o.KeyType, Scheme: o.Scheme, Value: o.KeyVal.Public}
}
