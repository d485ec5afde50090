package signerd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/rampart-tuf/rampart/server/signer"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// DefaultTimeout bounds each call of a [Client] unless ClientOptions says
// otherwise.
const DefaultTimeout = 10 * time.Second

// maxResponseBytes bounds a response: keys and signatures are small.
const maxResponseBytes = 1 << 20

// ClientOptions configure [Dial].
type ClientOptions struct {
	// Timeout bounds each call, on top of the caller's context; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

// Client is a [signer.Signer] that uses a remote signing service.
type Client struct {
	conn    *grpc.ClientConn
	addr    string
	timeout time.Duration
}

var _ signer.Signer = (*Client)(nil)

// Dial returns a client of the service at addr (HOST:PORT) using tlsCfg,
// which must hold a client certificate and the CA that signed the
// service's certificate (see [ClientTLS]). The connection is made on the
// first call and remade as needed.
func Dial(addr string, tlsCfg *tls.Config, opts ClientOptions) (*Client, error) {
	if tlsCfg == nil || (len(tlsCfg.Certificates) == 0 && tlsCfg.GetClientCertificate == nil) || tlsCfg.RootCAs == nil {
		return nil, errors.New("signerd: the client needs TLS with a client certificate and the signer's CA")
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodecV2(Codec{}),
			grpc.MaxCallSendMsgSize(MaxRequestBytes),
			grpc.MaxCallRecvMsgSize(maxResponseBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("signerd: %s: %w", addr, err)
	}
	t := opts.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return &Client{conn: conn, addr: addr, timeout: t}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) call(ctx context.Context, method string, req, resp any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.conn.Invoke(ctx, "/"+ServiceName+"/"+method, req, resp)
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	msg := fmt.Sprintf("remote signer %s: %s: %s", c.addr, method, st.Message())
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%s: %w", msg, store.ErrNotFound)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", msg, context.DeadlineExceeded)
	case codes.Canceled:
		return fmt.Errorf("%s: %w", msg, context.Canceled)
	case codes.InvalidArgument, codes.Internal, codes.Unavailable, codes.Unknown:
		return errors.New(msg)
	}
	return fmt.Errorf("%s (%s)", msg, st.Code())
}

func (c *Client) oneKey(ctx context.Context, method, gun, role string) (*metadata.Key, error) {
	var resp KeyResponse
	if err := c.call(ctx, method, &KeyRequest{GUN: gun, Role: role}, &resp); err != nil {
		return nil, err
	}
	return c.decodeKey(resp.Key)
}

func (c *Client) decodeKey(b []byte) (*metadata.Key, error) {
	k, err := signer.DecodeKey(b)
	if err == nil {
		_, err = k.Verifier()
	}
	if err != nil {
		return nil, fmt.Errorf("remote signer %s: bad key in response: %w", c.addr, err)
	}
	return k, nil
}

// Key implements signer.Signer.
func (c *Client) Key(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return c.oneKey(ctx, "Key", gun, role)
}

// Rotate implements signer.Signer.
func (c *Client) Rotate(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return c.oneKey(ctx, "Rotate", gun, role)
}

// Keys implements signer.Signer.
func (c *Client) Keys(ctx context.Context, gun, role string) ([]*metadata.Key, error) {
	var resp KeysResponse
	if err := c.call(ctx, "Keys", &KeyRequest{GUN: gun, Role: role}, &resp); err != nil {
		return nil, err
	}
	out := make([]*metadata.Key, 0, len(resp.Keys))
	for _, b := range resp.Keys {
		k, err := c.decodeKey(b)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Sign implements signer.Signer.
func (c *Client) Sign(ctx context.Context, gun, role, keyID string, payload []byte) ([]byte, error) {
	var resp SignResponse
	if err := c.call(ctx, "Sign", &SignRequest{GUN: gun, Role: role, KeyID: keyID, Payload: payload}, &resp); err != nil {
		return nil, err
	}
	if len(resp.Signature) == 0 {
		return nil, fmt.Errorf("remote signer %s: empty signature", c.addr)
	}
	return resp.Signature, nil
}

// Retire implements signer.Signer.
func (c *Client) Retire(ctx context.Context, gun string) (int, error) {
	var resp RetireResponse
	if err := c.call(ctx, "Retire", &RetireRequest{GUN: gun}, &resp); err != nil {
		return 0, err
	}
	return resp.Retired, nil
}
