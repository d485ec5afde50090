package signerd

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// The paths of the service's methods; each takes a POST with a JSON
// request and answers with a JSON response.
const (
	PathKey    = "/v1/key"    // KeyRequest → KeyResponse
	PathRotate = "/v1/rotate" // KeyRequest → KeyResponse
	PathKeys   = "/v1/keys"   // KeyRequest → KeysResponse
	PathSign   = "/v1/sign"   // SignRequest → SignResponse
	PathRetire = "/v1/retire" // RetireRequest → RetireResponse
)

// MaxRequestBytes bounds a request body: the payload of a Sign request is
// base64, so it may be up to about 12 MiB.
const MaxRequestBytes = 16 << 20

// maxGUNBytes bounds the GUNs the service accepts.
const maxGUNBytes = 255

// KeyRequest asks for the key of a GUN's role (Key, Rotate, Keys).
type KeyRequest struct {
	GUN  string `json:"gun"`
	Role string `json:"role"` // "timestamp" or "snapshot"
}

// KeyResponse carries a public key as a TUF key object.
type KeyResponse struct {
	Key json.RawMessage `json:"key"`
}

// KeysResponse carries public keys, newest first.
type KeysResponse struct {
	Keys []json.RawMessage `json:"keys"`
}

// SignRequest asks for a signature over Payload with the key KeyID of a
// GUN's role.
type SignRequest struct {
	GUN     string `json:"gun"`
	Role    string `json:"role"`
	KeyID   string `json:"keyid"`
	Payload []byte `json:"payload"`
}

// SignResponse carries a signature in the form of the key's scheme.
type SignResponse struct {
	Signature []byte `json:"signature"`
}

// RetireRequest asks to destroy every key of a GUN.
type RetireRequest struct {
	GUN string `json:"gun"`
}

// RetireResponse says how many keys were destroyed.
type RetireResponse struct {
	Retired int `json:"retired"`
}

// ErrorResponse is the body of every answer whose status is not 200.
type ErrorResponse struct {
	Error string `json:"error"`
}

// ServerOptions configure [NewServer].
type ServerOptions struct {
	// Logger receives one line per request (path, GUN, role, key ID,
	// client certificate subject, status); nil discards them.
	Logger *slog.Logger
}

// NewServer returns an HTTPS server that serves backend with tlsCfg, which
// must require and verify client certificates (see [ServerTLS]). Start it
// with ServeTLS(listener, "", ""); stop it with Shutdown.
func NewServer(backend signer.Signer, tlsCfg *tls.Config, opts ServerOptions) (*http.Server, error) {
	if backend == nil {
		return nil, errors.New("signerd: no back end")
	}
	if tlsCfg == nil || tlsCfg.ClientAuth != tls.RequireAndVerifyClientCert || tlsCfg.ClientCAs == nil {
		return nil, errors.New("signerd: the service needs TLS that requires and verifies client certificates")
	}
	log := cmp.Or(opts.Logger, slog.New(slog.DiscardHandler))
	s := &service{b: backend, log: log}
	mux := http.NewServeMux()
	mux.Handle(PathKey, handle(s, (*service).key))
	mux.Handle(PathRotate, handle(s, (*service).rotate))
	mux.Handle(PathKeys, handle(s, (*service).keys))
	mux.Handle(PathSign, handle(s, (*service).sign))
	mux.Handle(PathRetire, handle(s, (*service).retire))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no method %s", r.URL.Path))
	})
	return &http.Server{
		Handler:           mux,
		TLSConfig:         tlsCfg.Clone(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 64},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, nil
}

// service adapts a signer.Signer to the methods.
type service struct {
	b   signer.Signer
	log *slog.Logger
}

// request is what every request type tells the log about itself.
type request interface{ logAttrs() []any }

func (r *KeyRequest) logAttrs() []any    { return []any{"gun", r.GUN, "role", r.Role} }
func (r *RetireRequest) logAttrs() []any { return []any{"gun", r.GUN} }
func (r *SignRequest) logAttrs() []any {
	return []any{"gun", r.GUN, "role", r.Role, "keyid", r.KeyID, "payload_bytes", len(r.Payload)}
}

// callError is an error with the HTTP status to answer it with.
type callError struct {
	status int
	msg    string
}

func (e *callError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &callError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// handle serves one method: a POST of a JSON Req, answered with the JSON
// Resp of call or an ErrorResponse, and logged without its payload.
func handle[Req any, Resp any, PReq interface {
	*Req
	request
}](s *service, call func(*service, context.Context, PReq) (*Resp, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		req := PReq(new(Req))
		status, err := http.StatusOK, decodeRequest(w, r, req)
		var resp *Resp
		if err == nil {
			resp, err = call(s, r.Context(), req)
		}
		if err != nil {
			status = statusOf(err)
			writeError(w, status, err.Error())
		} else {
			writeJSON(w, status, resp)
		}
		attrs := append([]any{"path", r.URL.Path, "client", clientName(r), "status", status, "duration", time.Since(start)}, req.logAttrs()...)
		if err != nil {
			s.log.Warn("request failed", append(attrs, "error", err.Error())...)
		} else {
			s.log.Info("request", attrs...)
		}
	})
}

// decodeRequest reads one JSON object of at most MaxRequestBytes into v.
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return &callError{http.StatusMethodNotAllowed, fmt.Sprintf("method %s: want POST", r.Method)}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return &callError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want application/json", r.Header.Get("Content-Type"))}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &callError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request larger than %d bytes", MaxRequestBytes)}
		}
		return invalid("reading the request: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid("malformed request: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg})
}

// statusOf is the HTTP status that answers err.
func statusOf(err error) int {
	var ce *callError
	switch {
	case errors.As(err, &ce):
		return ce.status
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *service) key(ctx context.Context, req *KeyRequest) (*KeyResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	k, err := s.b.Key(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, err
	}
	return &KeyResponse{Key: signer.EncodeKey(k)}, nil
}

func (s *service) rotate(ctx context.Context, req *KeyRequest) (*KeyResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	k, err := s.b.Rotate(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, err
	}
	return &KeyResponse{Key: signer.EncodeKey(k)}, nil
}

func (s *service) keys(ctx context.Context, req *KeyRequest) (*KeysResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	ks, err := s.b.Keys(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, err
	}
	out := &KeysResponse{Keys: make([]json.RawMessage, len(ks))}
	for i, k := range ks {
		out.Keys[i] = signer.EncodeKey(k)
	}
	return out, nil
}

func (s *service) sign(ctx context.Context, req *SignRequest) (*SignResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	if len(req.KeyID) != 64 || !isLowerHex(req.KeyID) {
		return nil, invalid("key ID must be 64 lower-case hex digits")
	}
	if len(req.Payload) == 0 {
		return nil, invalid("empty payload")
	}
	sig, err := s.b.Sign(ctx, req.GUN, req.Role, req.KeyID, req.Payload)
	if err != nil {
		return nil, err
	}
	return &SignResponse{Signature: sig}, nil
}

func (s *service) retire(ctx context.Context, req *RetireRequest) (*RetireResponse, error) {
	if err := checkGUN(req.GUN); err != nil {
		return nil, err
	}
	n, err := s.b.Retire(ctx, req.GUN)
	if err != nil {
		return nil, err
	}
	return &RetireResponse{Retired: n}, nil
}

func checkKeyRequest(gun, role string) error {
	if err := checkGUN(gun); err != nil {
		return err
	}
	if role != metadata.TypeTimestamp && role != metadata.TypeSnapshot {
		return invalid("no online keys for role %q: want timestamp or snapshot", role)
	}
	return nil
}

func checkGUN(gun string) error {
	switch {
	case gun == "":
		return invalid("no GUN")
	case len(gun) > maxGUNBytes:
		return invalid("GUN longer than %d bytes", maxGUNBytes)
	case !utf8.ValidString(gun):
		return invalid("GUN is not UTF-8")
	}
	for _, r := range gun {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return invalid("GUN %q has a space or control character", gun)
		}
	}
	return nil
}

func isLowerHex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && hex.EncodeToString(b) == s
}

// clientName is the subject of the client's certificate.
func clientName(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0].Subject.String()
	}
	return r.RemoteAddr
}
