package apiclient

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/rampart-tuf/rampart/api"
)

// Staged updates (docs/server-api.md): a publish larger than one request
// body goes up in parts, each a body like a publish's, and is committed in
// one step. A part that fails on the way (a dropped connection) is sent
// again; StagedUpdate says which documents the server has.

// commitTimeout is how long a commit may take before its answer begins:
// the server checks every document of the update first.
const commitTimeout = 15 * time.Minute

// StartStaged starts a staged update of gun. It needs a push token.
func (c *Client) StartStaged(ctx context.Context, gun string) (*api.StagedUpdate, error) {
	return c.staged(ctx, http.MethodPost, gun, "", nil)
}

// StagedUpdate returns what the server has of a staged update.
func (c *Client) StagedUpdate(ctx context.Context, gun, id string) (*api.StagedUpdate, error) {
	return c.staged(ctx, http.MethodGet, gun, "/"+id, nil)
}

// UploadStagedPart sends documents of a staged update: new root versions,
// oldest first (the whole chain, in one part), and roles by name, each
// exactly as given. The body must stay within the server's
// MaxPartBytes. It returns what the server has after it.
func (c *Client) UploadStagedPart(ctx context.Context, gun, id string, roots [][]byte, roles map[string][]byte) (*api.StagedUpdate, error) {
	body, err := envelope(gun, roots, roles)
	if err != nil {
		return nil, err
	}
	return c.staged(ctx, http.MethodPost, gun, "/"+id+"/parts", body)
}

// UploadStagedFrames is UploadStagedPart with the body sent as frames
// (api.StagedPartType), for a server that lists that type in
// StagedUpdate.PartTypes: the documents go as they are, and the server
// parses no envelope around them.
func (c *Client) UploadStagedFrames(ctx context.Context, gun, id string, roots [][]byte, roles map[string][]byte) (*api.StagedUpdate, error) {
	return c.stagedAs(ctx, http.MethodPost, gun, "/"+id+"/parts", api.StagedPartType, stagedFrames(roots, roles))
}

// stagedFrames returns the frames of roots and roles: their headers, in
// one small buffer, around the documents, which are sent from where they
// are instead of being copied into a body of up to 16 MiB.
func stagedFrames(roots [][]byte, roles map[string][]byte) net.Buffers {
	names := slices.Sorted(maps.Keys(roles))
	n := len(roots) + len(names)
	size := int64(0) // of the frames without their documents
	for i, doc := range roots {
		size += api.StagedFrameSize(api.StagedRootPart(i+1), len(doc)) - int64(len(doc))
	}
	for _, name := range names {
		size += api.StagedFrameSize(name, len(roles[name])) - int64(len(roles[name]))
	}
	heads := make([]byte, 0, size)
	out := make(net.Buffers, 0, 2*n+1)
	add := func(name string, doc []byte) {
		start := len(heads)
		if len(out) > 0 {
			heads = append(heads, '\n') // the end of the frame before
		}
		heads = api.AppendStagedFrame(heads, name, doc)
		out = append(out, heads[start:len(heads):len(heads)], doc)
	}
	for i, doc := range roots {
		add(api.StagedRootPart(i+1), doc)
	}
	for _, name := range names {
		add(name, roles[name])
	}
	if n > 0 {
		out = append(out, []byte{'\n'})
	}
	return out
}

// CommitStaged commits a staged update: the server checks it as a whole
// and publishes it in one step, or changes nothing. ifMatch is as for
// Publish.
func (c *Client) CommitStaged(ctx context.Context, gun, id, ifMatch string) (*api.PublishResult, error) {
	g, err := escapeGUN(gun)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, c.base+"/api/v1/repositories/"+g+"/metadata/staged/"+id+"/commit", nil)
	if err != nil {
		return nil, err
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	var res api.PublishResult
	if err := c.callSlow(req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// AbortStaged deletes a staged update.
func (c *Client) AbortStaged(ctx context.Context, gun, id string) error {
	g, err := escapeGUN(gun)
	if err != nil {
		return err
	}
	req, err := c.newRequest(ctx, http.MethodDelete, c.base+"/api/v1/repositories/"+g+"/metadata/staged/"+id, nil)
	if err != nil {
		return err
	}
	return c.call(req, nil)
}

func (c *Client) staged(ctx context.Context, method, gun, suffix string, body []byte) (*api.StagedUpdate, error) {
	var bufs net.Buffers
	if body != nil {
		bufs = net.Buffers{body}
	}
	return c.stagedAs(ctx, method, gun, suffix, "application/json", bufs)
}

// stagedAs sends a request with the body that the buffers of body make
// one after the other (none for nil).
func (c *Client) stagedAs(ctx context.Context, method, gun, suffix, contentType string, body net.Buffers) (*api.StagedUpdate, error) {
	g, err := escapeGUN(gun)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, method, c.base+"/api/v1/repositories/"+g+"/metadata/staged"+suffix, nil)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
		req.GetBody = func() (io.ReadCloser, error) {
			b := slices.Clone(body) // reading consumes the list, not the bytes
			return io.NopCloser(&b), nil
		}
		req.Body, _ = req.GetBody()
		for _, b := range body {
			req.ContentLength += int64(len(b))
		}
		if req.ContentLength == 0 {
			req.Body, req.GetBody = http.NoBody, nil
		}
	}
	var out api.StagedUpdate
	if err := c.call(req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// callSlow is call for a request whose answer may take longer than the
// client's header timeout: with the default transport, it waits up to
// commitTimeout.
func (c *Client) callSlow(req *http.Request, out any) error {
	tr, ok := c.hc.Transport.(*http.Transport)
	if !ok || tr.ResponseHeaderTimeout == 0 || tr.ResponseHeaderTimeout >= commitTimeout {
		return c.call(req, out)
	}
	slow := tr.Clone()
	slow.ResponseHeaderTimeout = commitTimeout
	defer slow.CloseIdleConnections()
	hc := *c.hc
	hc.Transport = slow
	cc := *c
	cc.hc = &hc
	return cc.call(req, out)
}
