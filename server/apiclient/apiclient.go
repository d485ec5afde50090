// Package apiclient is a client of the HTTP API of a Rampart metadata
// server ("rampart serve", package server): it fetches and rotates a
// repository's online keys, uploads target content, publishes signed
// metadata, creates, lists and revokes access tokens, and reads the public
// TUF files a repository serves.
//
// It speaks the wire format only; it checks nothing a TUF client must
// check. Use the client package to verify what a repository serves.
//
// Every answer other than 2xx is an [*Error] carrying the server's message
// and, when the server names them, the role and the check that failed;
// errors.Is(err, ErrNotFound) reports a 404. Response bodies are read
// within a size limit, and a longer body is an error.
package apiclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// maxReply bounds an API reply (JSON) and an error body.
const maxReply = 1 << 20

// maxMessage bounds the text of a non-JSON error body kept in an Error.
const maxMessage = 500

const userAgent = "rampart/apiclient"

// ErrNotFound is matched by errors.Is for a 404 answer: no such
// repository, file, key or route.
var ErrNotFound = api.ErrNotFound

// Error is an answer other than 2xx. The server's body is the JSON object
// {"error": MESSAGE, "role": ROLE, "check": CHECK}; when the body is not
// such an object, Message is the body's text, trimmed and shortened.
type Error struct {
	Method string // the request's method
	URL    string // the request's URL
	Status int    // the HTTP status code

	Message string // what went wrong
	Role    string // the role the error is about, if any
	Check   string // the check that failed, such as "signature" or "version", if any
}

// Error returns "METHOD URL: STATUS TEXT: ROLE: CHECK: MESSAGE", leaving
// out the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	b.WriteString(" ")
	b.WriteString(e.URL)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	for _, s := range []string{e.Role, e.Check, e.Message} {
		if s != "" {
			b.WriteString(": ")
			b.WriteString(s)
		}
	}
	return b.String()
}

// Is reports whether target is ErrNotFound and e is a 404, or
// api.ErrTooLarge and e is a 413.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case api.ErrTooLarge:
		return e.Status == http.StatusRequestEntityTooLarge
	}
	return false
}

// Client talks to one server. It is safe for concurrent use.
type Client struct {
	base  string // normalized, no trailing slash
	token string
	hc    *http.Client
}

// New returns a client of the server at baseURL, such as
// "http://127.0.0.1:4443": http or https, with a host, and without user
// information, query or fragment; a trailing slash is ignored. token is a
// bearer token ("rpt_..."), or empty for public reads only. hc nil means a
// client that waits at most 30 seconds for the headers of a response, with
// no overall time limit (uploads can be large; use the context), and that
// does not follow redirects.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("apiclient: server URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("apiclient: server URL %q: want an http or https URL", baseURL)
	case u.Opaque != "" || u.Host == "":
		return nil, fmt.Errorf("apiclient: server URL %q: no host", baseURL)
	case u.User != nil:
		return nil, fmt.Errorf("apiclient: server URL %q: user information is not allowed; give a token", baseURL)
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("apiclient: server URL %q: a query is not allowed", baseURL)
	case u.Fragment != "" || strings.Contains(baseURL, "#"):
		return nil, fmt.Errorf("apiclient: server URL %q: a fragment is not allowed", baseURL)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return nil, fmt.Errorf("apiclient: server URL %q: empty, \".\" and \"..\" path segments are not allowed", baseURL)
			}
		}
	}
	if strings.ContainsAny(token, "\r\n") {
		return nil, errors.New("apiclient: the token holds a line break")
	}
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 30 * time.Second
		hc = &http.Client{
			Transport: tr,
			// The API never redirects; a redirect is answered as an Error
			// rather than followed with the token.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{base: strings.TrimRight(u.String(), "/"), token: token, hc: hc}, nil
}

// URL returns the server's base URL, without a trailing slash.
func (c *Client) URL() string { return c.base }

// RepositoryURL returns the URL at which TUF clients read the repository
// gun: BASE/tuf/GUN, with metadata/ and targets/ below it. It does not
// check gun; the calls that use it do.
func (c *Client) RepositoryURL(gun string) string {
	return c.base + "/tuf/" + escapeSegments(gun)
}

// CreateRepository creates the repository gun on the server, which makes
// its online keys, and reports whether it was new (false: it existed
// already, which is not an error). It needs a push token covering gun, or
// an admin token for a GUN that was deleted before.
func (c *Client) CreateRepository(ctx context.Context, gun string) (created bool, err error) {
	g, err := escapeGUN(gun)
	if err != nil {
		return false, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/api/v1/repositories/"+g, nil)
	if err != nil {
		return false, err
	}
	var out struct {
		Created bool `json:"created"`
	}
	if err := c.call(req, &out); err != nil {
		return false, err
	}
	return out.Created, nil
}

// OnlineKey returns the server's current online key of role ("timestamp"
// or "snapshot") for gun. It needs a push token, and a repository created
// with CreateRepository (else an *Error with status 404). The key is what
// the repository's root must list for role.
func (c *Client) OnlineKey(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return c.onlineKey(ctx, http.MethodGet, gun, role, "")
}

// RotateOnlineKey makes the server generate a new online key of role for
// gun and returns it. It needs an admin token. The server signs with the
// new key once a root listing it is published.
func (c *Client) RotateOnlineKey(ctx context.Context, gun, role string) (*metadata.Key, error) {
	return c.onlineKey(ctx, http.MethodPost, gun, role, "/rotate")
}

func (c *Client) onlineKey(ctx context.Context, method, gun, role, suffix string) (*metadata.Key, error) {
	if role != metadata.TypeTimestamp && role != metadata.TypeSnapshot {
		return nil, fmt.Errorf("apiclient: online key role %q: want timestamp or snapshot", role)
	}
	g, err := escapeGUN(gun)
	if err != nil {
		return nil, err
	}
	u := c.base + "/api/v1/repositories/" + g + "/keys/" + role + suffix
	var out api.OnlineKey
	req, err := c.newRequest(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if err := c.call(req, &out); err != nil {
		return nil, err
	}
	if out.Key == nil {
		return nil, fmt.Errorf("%s %s: the reply has no key", method, u)
	}
	if out.Role != "" && out.Role != role {
		return nil, fmt.Errorf("%s %s: the reply is the %s key, not the %s key", method, u, out.Role, role)
	}
	pk := keys.PublicKey{Type: out.Key.KeyType, Scheme: out.Key.Scheme, Value: out.Key.KeyVal.Public}
	if _, err := keys.NewVerifier(pk); err != nil {
		return nil, fmt.Errorf("%s %s: the %s key: %w", method, u, role, err)
	}
	k := metadata.NewKey(pk)
	if id := k.ID(); out.KeyID != id {
		return nil, fmt.Errorf("%s %s: the reply's key ID %q is not the ID of its key (%s)", method, u, out.KeyID, id)
	}
	return k, nil
}

// Metadata returns a metadata file of gun as the server serves it to TUF
// clients, such as "root.json", "timestamp.json", "3.snapshot.json" or
// "3.targets/releases.json".
// It needs no token. A body longer than limit bytes is an error.
func (c *Client) Metadata(ctx context.Context, gun, file string, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("apiclient: metadata size limit %d: want a positive limit", limit)
	}
	g, err := escapeGUN(gun)
	if err != nil {
		return nil, err
	}
	f, err := escapePath("metadata file", file) // "3.targets/releases.json" keeps its '/'

	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodGet, c.base+"/tuf/"+g+"/metadata/"+f, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, apiError(req, resp)
	}
	return readCapped(req, resp, limit)
}

// HasTarget reports whether the server holds the content of a target of
// gun, by its consistent-snapshot path "DIR/HASH.NAME" (HASH the hex
// SHA-256 or SHA-512 of the content). It needs no token.
func (c *Client) HasTarget(ctx context.Context, gun, consistentPath string) (bool, error) {
	g, err := escapeGUN(gun)
	if err != nil {
		return false, err
	}
	p, err := escapePath("target path", consistentPath)
	if err != nil {
		return false, err
	}
	req, err := c.newRequest(ctx, http.MethodHead, c.base+"/tuf/"+g+"/targets/"+p, nil)
	if err != nil {
		return false, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
		return true, nil
	case resp.StatusCode == http.StatusNotFound:
		return false, nil
	}
	return false, apiError(req, resp)
}

// UploadTarget stores the content of the target at targetPath of gun on
// the server: length bytes read from body, whose hex SHA-256 is
// sha256Hex. The server refuses content that does not match. It needs a
// push token. Clients then fetch the content at
// DIR/SHA256.NAME below the repository's targets/.
func (c *Client) UploadTarget(ctx context.Context, gun, targetPath, sha256Hex string, length int64, body io.Reader) error {
	g, err := escapeGUN(gun)
	if err != nil {
		return err
	}
	p, err := escapePath("target path", targetPath)
	if err != nil {
		return err
	}
	if b, err := hex.DecodeString(sha256Hex); err != nil || len(b) != 32 {
		return fmt.Errorf("apiclient: target %s: SHA-256 %q: want 64 hex digits", targetPath, sha256Hex)
	}
	if length < 0 {
		return fmt.Errorf("apiclient: target %s: negative length %d", targetPath, length)
	}
	if body == nil || length == 0 {
		body = http.NoBody
	}
	req, err := c.newRequest(ctx, http.MethodPut, c.base+"/api/v1/repositories/"+g+"/targets/"+p, body)
	if err != nil {
		return err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Rampart-Sha256", strings.ToLower(sha256Hex))
	return c.call(req, nil)
}

// PublishResult describes a successful publish.
type PublishResult = api.PublishResult

// Publish sends signed metadata documents of gun, by role name ("root",
// "targets", "snapshot" when the maintainer holds the snapshot key, and
// delegated role names), exactly as given. The server checks them against
// the repository's current state, signs a new snapshot (when it holds the
// snapshot key) and timestamp, and commits them together. It needs a push
// token. ifMatch, when not empty, is the ETag of the timestamp the
// documents were built on (or "*" for any existing repository): if the
// repository has changed since, the server refuses with 409.
func (c *Client) Publish(ctx context.Context, gun string, roles map[string][]byte, ifMatch string) (*PublishResult, error) {
	return c.PublishChain(ctx, gun, nil, roles, ifMatch)
}

// PublishChain is Publish with new root versions, oldest first, in roots
// rather than in roles["root"]: the server checks each against the one
// before it, stores them all so clients can walk the chain, checks the
// other documents against the last, and commits everything at once.
func (c *Client) PublishChain(ctx context.Context, gun string, roots [][]byte, roles map[string][]byte, ifMatch string) (*PublishResult, error) {
	g, err := escapeGUN(gun)
	if err != nil {
		return nil, err
	}
	body, err := envelope(gun, roots, roles)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/api/v1/repositories/"+g+"/metadata", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	var res PublishResult
	if err := c.call(req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// envelope is the body of a publish or of a part of a staged update,
// with every document byte for byte (api.PublishRequest.Encode).
func envelope(gun string, roots [][]byte, roles map[string][]byte) ([]byte, error) {
	req := api.PublishRequest{Roles: make(map[string]json.RawMessage, len(roles))}
	for _, doc := range roots {
		req.Roots = append(req.Roots, doc)
	}
	for name, doc := range roles {
		req.Roles[name] = doc
	}
	b, err := req.Encode()
	if err != nil {
		return nil, fmt.Errorf("apiclient: publish %s: %w", gun, err)
	}
	return b, nil
}

// CreateToken makes the server create a token with scope ("pull", "push"
// or "admin") over the GUNs under gunPrefix (empty: all), and returns it.
// It needs an admin token that covers gunPrefix.
func (c *Client) CreateToken(ctx context.Context, gunPrefix, scope, description string) (string, error) {
	body, err := json.Marshal(api.TokenRequest{GUNPrefix: gunPrefix, Scope: scope, Description: description})
	if err != nil {
		return "", fmt.Errorf("apiclient: create token: %w", err)
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/api/v1/tokens", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	var out api.NewToken
	if err := c.call(req, &out); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", fmt.Errorf("%s %s: the reply has no token", req.Method, req.URL.Redacted())
	}
	return out.Token, nil
}

// Token describes an access token of the server, without its secret; its
// ID is TokenID of the token string.
type Token = api.Token

// TokenID returns the ID under which the server lists and revokes the
// token string token ("rpt_..."), computed here: the token is not sent.
func TokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

// ListTokens returns the server's tokens within the GUN prefix of the
// client's token, oldest first. It needs an admin token; a token for a GUN
// prefix sees only the tokens whose prefix lies within its own.
func (c *Client) ListTokens(ctx context.Context) ([]Token, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.base+"/api/v1/tokens", nil)
	if err != nil {
		return nil, err
	}
	var out api.TokenList
	if err := c.call(req, &out); err != nil {
		return nil, err
	}
	if out.Tokens == nil {
		return nil, fmt.Errorf("%s %s: the reply has no token list", req.Method, req.URL.Redacted())
	}
	for _, t := range out.Tokens {
		if !api.ValidTokenID(t.ID) {
			return nil, fmt.Errorf("%s %s: the reply lists a token with the malformed ID %q", req.Method, req.URL.Redacted(), t.ID)
		}
	}
	return out.Tokens, nil
}

// RevokeToken deletes the token with the given ID (16 lowercase hex
// digits, as ListTokens and TokenID give it) and returns what it was. The
// token stops working at once, on every replica of the server. It needs
// an admin token whose GUN prefix contains the revoked token's; it may be
// the client's own token. The server refuses (403, check "admin-token")
// to revoke the admin token that rampart serve keeps in DATA/admin.token,
// and answers 404 for an ID it does not know.
func (c *Client) RevokeToken(ctx context.Context, id string) (Token, error) {
	if !api.ValidTokenID(id) {
		return Token{}, fmt.Errorf("apiclient: token ID %q: want 16 lowercase hex digits", id)
	}
	req, err := c.newRequest(ctx, http.MethodDelete, c.base+"/api/v1/tokens/"+id, nil)
	if err != nil {
		return Token{}, err
	}
	var out Token
	if err := c.call(req, &out); err != nil {
		return Token{}, err
	}
	if out.ID != id {
		return Token{}, fmt.Errorf("%s %s: the reply is about token %q, not %s", req.Method, req.URL.Redacted(), out.ID, id)
	}
	return out, nil
}

// newRequest returns a request with the client's headers.
func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("apiclient: %s %s: %w", method, u, err)
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// call sends req and decodes a 2xx JSON reply into out (unless out is
// nil); any other answer is an *Error.
func (c *Client) call(req *http.Request, out any) error {
	resp, err := c.hc.Do(req) // transport errors are *url.Error values naming the method and URL
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return apiError(req, resp)
	}
	body, err := readCapped(req, resp, maxReply)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: the reply is not the expected JSON: %w", req.Method, req.URL.Redacted(), err)
	}
	return nil
}

// readCapped reads a response body of at most limit bytes.
func readCapped(req *http.Request, resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%s %s: the reply is %d bytes, more than the limit of %d", req.Method, req.URL.Redacted(), resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the reply: %w", req.Method, req.URL.Redacted(), err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: the reply is more than the limit of %d bytes", req.Method, req.URL.Redacted(), limit)
	}
	return b, nil
}

// apiError reads a non-2xx answer into an *Error.
func apiError(req *http.Request, resp *http.Response) *Error {
	e := &Error{Method: req.Method, URL: req.URL.Redacted(), Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply)) // what was read is enough
	var j api.ErrorBody
	if json.Unmarshal(body, &j) == nil && j.Error != "" {
		e.Message, e.Role, e.Check = j.Error, j.Role, j.Check
		return e
	}
	e.Message = shorten(strings.TrimSpace(string(body)), maxMessage)
	return e
}

// shorten cuts s to at most n bytes, on a character boundary, marking the
// cut with "...".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// escapeGUN checks gun's segments and escapes them for a URL path.
func escapeGUN(gun string) (string, error) {
	p, err := escapePath("GUN", gun)
	if err != nil {
		return "", err
	}
	for seg := range strings.SplitSeq(gun, "/") {
		if api.IsReserved(seg) {
			return "", fmt.Errorf("apiclient: GUN %q: %q is reserved", gun, seg)
		}
	}
	return p, nil
}

// escapePath checks that the "/"-separated segments of p are neither
// empty, "." nor "..", and escapes each for a URL path.
func escapePath(what, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("apiclient: empty %s", what)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("apiclient: %s %q: empty, \".\" and \"..\" segments are not allowed", what, p)
		}
	}
	return escapeSegments(p), nil
}

// escapeSegments escapes each "/"-separated segment of p.
func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
