package signerd

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

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
	hc      *http.Client
	addr    string
	base    string // https://addr
	timeout time.Duration
}

var _ signer.Signer = (*Client)(nil)

// Dial returns a client of the service at addr (HOST:PORT) using tlsCfg,
// which must hold a client certificate and the CA that signed the
// service's certificate (see [ClientTLS]). Connections are made on the
// first call and remade as needed.
func Dial(addr string, tlsCfg *tls.Config, opts ClientOptions) (*Client, error) {
	if tlsCfg == nil || (len(tlsCfg.Certificates) == 0 && tlsCfg.GetClientCertificate == nil) || tlsCfg.RootCAs == nil {
		return nil, errors.New("signerd: the client needs TLS with a client certificate and the signer's CA")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("signerd: %q: want HOST:PORT", addr)
	}
	tr := &http.Transport{
		// HTTP/1.1: calls are small, and a refused client certificate
		// shows as the TLS alert that says why.
		TLSClientConfig:       tlsCfg.Clone(),
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
		ResponseHeaderTimeout: time.Minute,
	}
	return &Client{
		hc:      &http.Client{Transport: tr, CheckRedirect: noRedirects},
		addr:    addr,
		base:    "https://" + addr,
		timeout: cmp.Or(max(opts.Timeout, 0), DefaultTimeout),
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error {
	return errors.New("the signing service does not redirect")
}

// Close closes idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// call posts req as JSON to the method's path and decodes the response
// into resp. Errors name the service and the method.
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	name := path[len("/v1/"):]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("remote signer %s: %s: "+format, append([]any{c.addr, name}, args...)...)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fail("%v", err)
	}
	if len(body) > MaxRequestBytes {
		return fail("request of %d bytes is larger than the service accepts (%d)", len(body), MaxRequestBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fail("%v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.hc.Do(hreq)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fail("%w", ctxErr)
		}
		return fail("%v", err)
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, maxResponseBytes+1))
	switch {
	case err != nil:
		return fail("reading the response: %v", err)
	case len(b) > maxResponseBytes:
		return fail("response larger than %d bytes", maxResponseBytes)
	case hresp.StatusCode != http.StatusOK:
		return statusError(fail, hresp.StatusCode, b)
	}
	if err := json.Unmarshal(b, resp); err != nil {
		return fail("malformed response: %v", err)
	}
	return nil
}

// statusError turns an error response into an error that wraps what its
// status means to a signer.Signer's caller.
func statusError(fail func(string, ...any) error, status int, body []byte) error {
	var e ErrorResponse
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return fail("HTTP status %d", status)
	}
	switch status {
	case http.StatusNotFound:
		return fail("%s: %w", e.Error, store.ErrNotFound)
	case http.StatusGatewayTimeout:
		return fail("%s: %w", e.Error, context.DeadlineExceeded)
	case http.StatusServiceUnavailable:
		return fail("%s: %w", e.Error, store.ErrUnavailable)
	}
	return fail("%s", e.Error)
}

func (c *Client) oneKey(ctx context.Context, path, gun, role string) (*metadata.Key, error) {
	var resp KeyResponse
	if err := c.call(ctx, path, &KeyRequest{GUN: gun, Role: role}, &resp); err != nil {
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
	return c.oneKey(ctx, PathKey, gun, role)
}

// Rotate implements signer.Signer.
func (c *Client) Rotate(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return c.oneKey(ctx, PathRotate, gun, role)
}

// Keys implements signer.Signer.
func (c *Client) Keys(ctx context.Context, gun, role string) ([]*metadata.Key, error) {
	var resp KeysResponse
	if err := c.call(ctx, PathKeys, &KeyRequest{GUN: gun, Role: role}, &resp); err != nil {
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
	if err := c.call(ctx, PathSign, &SignRequest{GUN: gun, Role: role, KeyID: keyID, Payload: payload}, &resp); err != nil {
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
	if err := c.call(ctx, PathRetire, &RetireRequest{GUN: gun}, &resp); err != nil {
		return 0, err
	}
	return resp.Retired, nil
}
