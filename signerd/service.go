package signerd

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// ServiceName is the full name of the gRPC service.
const ServiceName = "rampart.signer.v1.Signer"

// MaxRequestBytes bounds a request message, JSON-encoded: the payload of a
// Sign request is base64, so it may be up to about 12 MiB.
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

// RetireRequest asks to destroy every key of a GUN.
type RetireRequest struct {
	GUN string `json:"gun"`
}

// RetireResponse says how many keys were destroyed.
type RetireResponse struct {
	Retired int `json:"retired"`
}

// SignResponse carries a signature in the form of the key's scheme.
type SignResponse struct {
	Signature []byte `json:"signature"`
}

// ServerOptions configure [NewServer].
type ServerOptions struct {
	// Logger receives one line per request (method, GUN, role, key ID,
	// client certificate subject, outcome); nil discards them.
	Logger *slog.Logger
}

// NewServer returns a gRPC server that serves backend over TLS with tlsCfg,
// which must require and verify client certificates (see [ServerTLS]).
// Start it with Serve on a listener; stop it with GracefulStop.
func NewServer(backend signer.Signer, tlsCfg *tls.Config, opts ServerOptions) (*grpc.Server, error) {
	if backend == nil {
		return nil, errors.New("signerd: no back end")
	}
	if tlsCfg == nil || tlsCfg.ClientAuth != tls.RequireAndVerifyClientCert || tlsCfg.ClientCAs == nil {
		return nil, errors.New("signerd: the service needs TLS that requires and verifies client certificates")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gs := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsCfg)),
		grpc.ForceServerCodecV2(Codec{}),
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.MaxConcurrentStreams(64),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.ChainUnaryInterceptor(logRequests(log)),
	)
	gs.RegisterService(&serviceDesc, &service{b: backend})
	return gs, nil
}

// service adapts a signer.Signer to the gRPC methods.
type service struct{ b signer.Signer }

// handler is the interface of serviceDesc.HandlerType.
type handler interface {
	key(context.Context, *KeyRequest) (*KeyResponse, error)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*handler)(nil),
	Methods: []grpc.MethodDesc{
		method("Key", (*service).key),
		method("Rotate", (*service).rotate),
		method("Keys", (*service).keys),
		method("Sign", (*service).sign),
		method("Retire", (*service).retire),
	},
	Metadata: "signerd (JSON codec, no .proto)",
}

// method builds the descriptor of a unary method from a typed function.
func method[Req, Resp any](name string, call func(*service, context.Context, *Req) (*Resp, error)) grpc.MethodDesc {
	full := "/" + ServiceName + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			req := new(Req)
			if err := dec(req); err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "malformed %s request: %v", name, err)
			}
			h := func(ctx context.Context, r any) (any, error) { return call(srv.(*service), ctx, r.(*Req)) }
			if ic == nil {
				return h(ctx, req)
			}
			return ic(ctx, req, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

func (s *service) key(ctx context.Context, req *KeyRequest) (*KeyResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	k, err := s.b.Key(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, toStatus(err)
	}
	return &KeyResponse{Key: signer.EncodeKey(k)}, nil
}

func (s *service) rotate(ctx context.Context, req *KeyRequest) (*KeyResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	k, err := s.b.Rotate(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, toStatus(err)
	}
	return &KeyResponse{Key: signer.EncodeKey(k)}, nil
}

func (s *service) keys(ctx context.Context, req *KeyRequest) (*KeysResponse, error) {
	if err := checkKeyRequest(req.GUN, req.Role); err != nil {
		return nil, err
	}
	ks, err := s.b.Keys(ctx, req.GUN, req.Role)
	if err != nil {
		return nil, toStatus(err)
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
		return nil, status.Error(codes.InvalidArgument, "key ID must be 64 lower-case hex digits")
	}
	if len(req.Payload) == 0 {
		return nil, status.Error(codes.InvalidArgument, "empty payload")
	}
	sig, err := s.b.Sign(ctx, req.GUN, req.Role, req.KeyID, req.Payload)
	if err != nil {
		return nil, toStatus(err)
	}
	return &SignResponse{Signature: sig}, nil
}

func (s *service) retire(ctx context.Context, req *RetireRequest) (*RetireResponse, error) {
	if err := checkGUN(req.GUN); err != nil {
		return nil, err
	}
	n, err := s.b.Retire(ctx, req.GUN)
	if err != nil {
		return nil, toStatus(err)
	}
	return &RetireResponse{Retired: n}, nil
}

func checkKeyRequest(gun, role string) error {
	if err := checkGUN(gun); err != nil {
		return err
	}
	if role != metadata.TypeTimestamp && role != metadata.TypeSnapshot {
		return status.Errorf(codes.InvalidArgument, "no online keys for role %q: want timestamp or snapshot", role)
	}
	return nil
}

func checkGUN(gun string) error {
	switch {
	case gun == "":
		return status.Error(codes.InvalidArgument, "no GUN")
	case len(gun) > maxGUNBytes:
		return status.Errorf(codes.InvalidArgument, "GUN longer than %d bytes", maxGUNBytes)
	case !utf8.ValidString(gun):
		return status.Error(codes.InvalidArgument, "GUN is not UTF-8")
	}
	for _, r := range gun {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return status.Errorf(codes.InvalidArgument, "GUN %q has a space or control character", gun)
		}
	}
	return nil
}

func isLowerHex(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && hex.EncodeToString(b) == s
}

// toStatus turns a back-end error into a gRPC status error.
func toStatus(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// logRequests logs every request without its payload.
func logRequests(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		attrs := []any{"method", info.FullMethod, "client", clientName(ctx), "code", status.Code(err).String(), "duration", time.Since(start)}
		switch r := req.(type) {
		case *KeyRequest:
			attrs = append(attrs, "gun", r.GUN, "role", r.Role)
		case *RetireRequest:
			attrs = append(attrs, "gun", r.GUN)
		case *SignRequest:
			attrs = append(attrs, "gun", r.GUN, "role", r.Role, "keyid", r.KeyID, "payload_bytes", len(r.Payload))
		}
		if err != nil {
			attrs = append(attrs, "error", status.Convert(err).Message())
			log.Warn("request failed", attrs...)
		} else {
			log.Info("request", attrs...)
		}
		return resp, err
	}
}

// clientName is the subject of the client's certificate.
func clientName(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		return ti.State.PeerCertificates[0].Subject.String()
	}
	return fmt.Sprint(p.Addr)
}
