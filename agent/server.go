package agent

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// connDeadline bounds one request of a connection: reading it, doing it,
// and writing the response.
const connDeadline = 2 * time.Minute

// idleTimeout is how long a connection may wait between requests: a
// client signing many roles sends them over a few connections, one after
// the other, but an idle connection holds one of the maxConns places.
const idleTimeout = time.Second

// maxKeptMessages is the largest buffer a connection keeps between
// requests for the messages to sign: a batch of bins is a few megabytes;
// an occasional larger message gets memory of its own.
const maxKeptMessages = 8 << 20

// maxConns bounds the connections served at once, and so the memory their
// requests take.
const maxConns = 8

// Server is a running agent. Close it to stop listening, remove the socket
// and forget every key.
type Server struct {
	path string
	ttl  time.Duration
	uid  atomic.Uint32 // the only user ID served
	ln   *net.UnixListener
	sem  chan struct{}

	// Sign requests answered with signatures, and the messages signed.
	signRequests, signedMessages atomic.Int64

	mu     sync.Mutex
	keys   map[string]*heldKey
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// heldKey is a key the agent holds. mu is held for reading while it signs
// and for writing while it is freed, so that a key is never freed under a
// signature.
type heldKey struct {
	info KeyInfo
	pk   keys.PublicKey

	mu   sync.RWMutex
	gone bool
	sign func(ctx context.Context, msg []byte) ([]byte, error)
	// signBatch signs each message in turn.
	signBatch func(ctx context.Context, msgs [][]byte) ([][]byte, error)
	free      func()
	timer     *time.Timer
}

// Listen creates the agent's socket at path, with mode 0600, in a directory
// of mode 0700 (see the package documentation), holding each key added for
// ttl. A stale socket left by an agent that is gone is replaced; a socket
// where an agent answers is not.
func Listen(path string, ttl time.Duration) (*Server, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("agent: time to live %s is not positive", ttl)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	uid := uint32(os.Getuid())
	if err := prepareDir(filepath.Dir(abs), uid); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := removeStale(abs); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: abs, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(abs, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	s := &Server{path: abs, ttl: ttl, ln: ln, sem: make(chan struct{}, maxConns),
		keys: map[string]*heldKey{}, conns: map[net.Conn]struct{}{}}
	s.uid.Store(uid)
	return s, nil
}

// prepareDir makes dir (mode 0700) if it is missing, and otherwise checks
// that it is a directory of uid's that no one else can enter.
func prepareDir(dir string, uid uint32) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	owner, ok := fileOwner(fi)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory (a symbolic link is not accepted either)", dir)
	case !ok:
		return fmt.Errorf("%s: cannot read its owner", dir)
	case owner != uid:
		return fmt.Errorf("directory %s belongs to user ID %d, not to you (%d): put the socket in a directory of your own with mode 0700", dir, owner, uid)
	case fi.Mode().Perm() != 0o700:
		return fmt.Errorf("directory %s has mode %04o: the socket must be in a directory only you can enter (chmod 0700 %s, or name a new directory)", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// removeStale removes a socket at path that no agent answers on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket; not replacing it", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("an agent is already listening on %s", path)
	}
	return os.Remove(path)
}

// Path returns the absolute path of the socket.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until ctx is done or the server is closed, and
// then closes it.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			s.Close()
			return fmt.Errorf("agent: %w", err)
		}
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			c.Close()
			continue
		}
		if !s.track(c) {
			c.Close()
			<-s.sem
			continue
		}
		go func() {
			defer s.untrack(c)
			s.handle(ctx, c)
		}()
	}
}

func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	<-s.sem
	s.wg.Done()
}

// Close stops the agent: it stops listening, removes the socket, ends the
// connections in progress and frees every key.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	held := s.keys
	s.keys = map[string]*heldKey{}
	s.mu.Unlock()
	s.wg.Wait()
	for _, k := range held {
		k.release()
	}
	return err
}

// handle serves one connection: reads requests and answers them in turn,
// each after checking the peer, until the client closes the connection,
// leaves it idle for idleTimeout, or sends a malformed request.
func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	c.SetDeadline(time.Now().Add(connDeadline))
	// msgs holds the messages of one request, then of the next: a client
	// signing thousands of roles sends batches of megabytes over one
	// connection, and new memory for each would be faulted in, collected
	// and given back to the system over and over.
	var msgs []byte
	for first := true; ; first = false {
		if !first {
			c.SetDeadline(time.Now().Add(idleTimeout))
		}
		n, err := readFrameLength(c, MaxRequest)
		var nerr net.Error
		if !first && (errors.Is(err, io.EOF) || errors.As(err, &nerr) && nerr.Timeout()) {
			return // closed, or idle
		}
		c.SetDeadline(time.Now().Add(connDeadline))
		if cerr := s.checkPeer(c); cerr != nil {
			writeFrame(c, &response{Error: cerr.Error()}, MaxResponse)
			return
		}
		var req request
		if err == nil {
			err = readFrameBody(c, n, &req)
		}
		if err == nil {
			err = readMessage(c, &req, msgs)
		}
		if err != nil {
			writeFrame(c, &response{Error: err.Error()}, MaxResponse)
			return
		}
		resp := s.do(ctx, &req)
		if req.Key != nil {
			clear(req.Key.PKCS8)
			clear(req.Key.PIN)
		}
		if cap(req.Message) <= maxKeptMessages {
			msgs = req.Message[:0]
		}
		if err := writeFrame(c, resp, MaxResponse); err != nil {
			return
		}
	}
}

// checkPeer refuses a peer whose user ID is not the agent's.
func (s *Server) checkPeer(c *net.UnixConn) error {
	uid, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("agent: refused: %w", err)
	}
	return checkUID(uid, s.uid.Load())
}

// checkUID allows only peers of user ID want.
func checkUID(got, want uint32) error {
	if got != want {
		return fmt.Errorf("agent: refused: the peer runs as user ID %d, and this agent serves user ID %d only", got, want)
	}
	return nil
}

func (s *Server) do(ctx context.Context, req *request) *response {
	var resp response
	var err error
	switch req.Op {
	case opAdd:
		var info KeyInfo
		info, err = s.add(ctx, req.Key)
		resp.Keys = []KeyInfo{info}
	case opList:
		resp.Keys = s.list()
	case opRemove:
		resp.Removed, err = s.remove(req.KeyIDs, req.All)
	case opSign:
		resp.Signature, err = s.sign(ctx, req.KeyID, req.Message)
		s.count(err, 1)
	case opSignBatch:
		resp.Signatures, err = s.signBatch(ctx, req.KeyID, splitBatch(req.Message, req.MessageLengths))
		s.count(err, len(req.MessageLengths))
	default:
		err = fmt.Errorf("agent: unknown operation %q", shorten(req.Op))
	}
	if err != nil {
		return &response{Error: err.Error()}
	}
	return &resp
}

// count counts a sign request of n messages, when it succeeded.
func (s *Server) count(err error, n int) {
	if err == nil {
		s.signRequests.Add(1)
		s.signedMessages.Add(int64(n))
	}
}

// SignCounts returns how many sign requests (single or batch) the agent
// has answered with signatures, and how many messages they signed.
func (s *Server) SignCounts() (requests, messages int64) {
	return s.signRequests.Load(), s.signedMessages.Load()
}

func (s *Server) list() []KeyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]KeyInfo, 0, len(s.keys))
	for _, k := range s.keys {
		if now.Before(k.info.Expires) {
			out = append(out, k.info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KeyID < out[j].KeyID })
	return out
}

func (s *Server) remove(ids []string, all bool) (int, error) {
	if all == (len(ids) > 0) {
		return 0, errors.New("agent: remove takes key IDs, or all, but not both")
	}
	s.mu.Lock()
	var gone []*heldKey
	if all {
		for id, k := range s.keys {
			gone = append(gone, k)
			delete(s.keys, id)
		}
	}
	for _, id := range ids {
		if k, ok := s.keys[id]; ok {
			gone = append(gone, k)
			delete(s.keys, id)
		}
	}
	s.mu.Unlock()
	for _, k := range gone {
		k.release()
	}
	return len(gone), nil
}

// expire removes k when its time has come, unless it was replaced.
func (s *Server) expire(k *heldKey) {
	s.mu.Lock()
	if s.keys[k.info.KeyID] == k {
		delete(s.keys, k.info.KeyID)
	}
	s.mu.Unlock()
	k.release()
}

func (s *Server) sign(ctx context.Context, id string, msg []byte) (sig []byte, err error) {
	if len(msg) > MaxSignMessage {
		return nil, fmt.Errorf("agent: message of %d bytes is over the limit of %d", len(msg), MaxSignMessage)
	}
	err = s.withKey(id, func(k *heldKey) error {
		sig, err = k.sign(ctx, msg)
		return err
	})
	return sig, err
}

// signBatch signs each of msgs with key id, which is parsed (a key file's)
// once for the batch.
func (s *Server) signBatch(ctx context.Context, id string, msgs [][]byte) (sigs [][]byte, err error) {
	err = s.withKey(id, func(k *heldKey) error {
		sigs, err = k.signBatch(ctx, msgs)
		return err
	})
	return sigs, err
}

// withKey calls fn with the key id while it is held and unexpired, and
// keeps it from being released until fn returns.
func (s *Server) withKey(id string, fn func(k *heldKey) error) error {
	s.mu.Lock()
	k, ok := s.keys[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("agent: key %s is not held (never added, removed, or expired)", shorten(id))
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.gone || !time.Now().Before(k.info.Expires) {
		return fmt.Errorf("agent: key %s is not held (removed or expired)", shorten(id))
	}
	return fn(k)
}

// release frees the key once no signature is in progress with it.
func (k *heldKey) release() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gone {
		return
	}
	k.gone = true
	if k.timer != nil {
		k.timer.Stop()
	}
	k.free()
}

// add takes a key into the agent, replacing the key of the same ID.
func (s *Server) add(ctx context.Context, a *addKey) (KeyInfo, error) {
	if a == nil {
		return KeyInfo{}, errors.New("agent: add without a key")
	}
	pk := keys.PublicKey{Type: a.Public.KeyType, Scheme: a.Public.Scheme, Value: a.Public.KeyVal.Public}
	if _, err := keys.NewVerifier(pk); err != nil {
		return KeyInfo{}, fmt.Errorf("agent: add: public key: %w", err)
	}
	var k *heldKey
	var err error
	switch {
	case len(a.PKCS8) > 0 && len(a.PKCS11) == 0:
		k, err = fileKey(pk, a.PKCS8)
	case len(a.PKCS11) > 0 && len(a.PKCS8) == 0:
		k, err = tokenKey(ctx, pk, a.PKCS11, a.PIN)
	default:
		err = errors.New("add takes a PKCS#8 private key or a PKCS#11 key reference")
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("agent: add key %s: %w", shorten(keystore.KeyID(pk)), err)
	}
	k.pk = pk
	k.info.KeyID = keystore.KeyID(pk)
	k.info.Public = a.Public
	k.info.Source = shorten(a.Source)
	k.info.Expires = time.Now().Add(s.ttl).UTC()
	return k.info, s.insert(k)
}

func (s *Server) insert(k *heldKey) error {
	s.mu.Lock()
	old, replacing := s.keys[k.info.KeyID]
	if s.closed || (!replacing && len(s.keys) >= MaxKeys) {
		s.mu.Unlock()
		k.release()
		if s.closed {
			return errors.New("agent: closed")
		}
		return fmt.Errorf("agent: holds %d keys already, the most it holds; remove some first", MaxKeys)
	}
	s.keys[k.info.KeyID] = k
	k.timer = time.AfterFunc(time.Until(k.info.Expires), func() { s.expire(k) })
	s.mu.Unlock()
	if replacing {
		old.release()
	}
	return nil
}

// fileKey holds a private key given as PKCS#8 DER in locked memory. The
// key is parsed from there for each signature: Go's crypto packages keep
// the keys they sign with in the Go heap (Ed25519 keeps a cache keyed by the
// key's address, which must be a heap address), so the parsed key is a
// transient copy, dropped (and for Ed25519 zeroed) once it has signed.
func fileKey(pk keys.PublicKey, der []byte) (*heldKey, error) {
	buf, err := newLocked(len(der))
	if err != nil {
		return nil, err
	}
	copy(buf.mem, der)
	stored := buf.mem
	parse := func() (crypto.Signer, error) {
		priv, err := x509.ParsePKCS8PrivateKey(stored)
		if err != nil {
			return nil, fmt.Errorf("private key is not PKCS#8: %w", err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("private key is a %T, not a signing key", priv)
		}
		return signer, nil
	}
	signer, err := parse()
	if err == nil {
		got, perr := keys.PublicKeyFor(signer.Public(), pk.Scheme)
		if perr != nil || got != pk {
			err = errors.New("the private key is not the public key given with it")
		}
		forget(signer)
	}
	if err != nil {
		buf.free()
		return nil, err
	}
	signBatch := func(ctx context.Context, msgs [][]byte) ([][]byte, error) {
		priv, err := parse()
		if err != nil {
			return nil, err
		}
		defer forget(priv)
		ks, err := keys.NewSigner(priv, pk.Scheme)
		if err != nil {
			return nil, err
		}
		return signEach(ctx, ks.Sign, msgs)
	}
	sign := func(ctx context.Context, msg []byte) ([]byte, error) {
		sigs, err := signBatch(ctx, [][]byte{msg})
		if err != nil {
			return nil, err
		}
		return sigs[0], nil
	}
	return &heldKey{info: KeyInfo{Kind: KindFile}, sign: sign, signBatch: signBatch, free: buf.free}, nil
}

// signEach signs each of msgs with sign, stopping at the first error.
func signEach(ctx context.Context, sign func(context.Context, []byte) ([]byte, error), msgs [][]byte) ([][]byte, error) {
	sigs := make([][]byte, len(msgs))
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sig, err := sign(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("message %d of the batch: %w", i, err)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

// forget zeroes a parsed private key where Go lets it be zeroed (Ed25519
// keys are byte slices; ECDSA and RSA keys are left to the collector).
func forget(priv crypto.Signer) {
	if ed, ok := priv.(ed25519.PrivateKey); ok {
		clear(ed)
	}
}

// tokenKey opens a key on a PKCS#11 token, keeping the session open.
func tokenKey(ctx context.Context, pk keys.PublicKey, ref, pin []byte) (*heldKey, error) {
	ts, err := keystore.OpenPKCS11Ref(ctx, ref, pin)
	if err != nil {
		return nil, err
	}
	if ts.PublicKey() != pk {
		ts.Close()
		return nil, errors.New("the token's key is not the public key given with it")
	}
	signBatch := func(ctx context.Context, msgs [][]byte) ([][]byte, error) { return signEach(ctx, ts.Sign, msgs) }
	return &heldKey{info: KeyInfo{Kind: KindPKCS11}, sign: ts.Sign, signBatch: signBatch, free: func() { ts.Close() }}, nil
}

// shorten keeps untrusted strings in messages short.
func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
