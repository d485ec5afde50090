package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/internal/bufpool"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// StagedServer is a MetadataServer that takes an update larger than one
// request body in parts, as a staged update committed in one step
// (docs/server-api.md, "Staged updates"). server/apiclient's Client is
// one.
type StagedServer interface {
	MetadataServer
	// StartStaged starts a staged update of gun.
	StartStaged(ctx context.Context, gun string) (*api.StagedUpdate, error)
	// StagedUpdate returns what the server has of a staged update.
	StagedUpdate(ctx context.Context, gun, id string) (*api.StagedUpdate, error)
	// UploadStagedPart sends root versions (the whole chain, oldest
	// first) and roles into a staged update.
	UploadStagedPart(ctx context.Context, gun, id string, roots [][]byte, roles map[string][]byte) (*api.StagedUpdate, error)
	// UploadStagedFrames is UploadStagedPart with the body as frames
	// (api.StagedPartType), for a server that lists that type.
	UploadStagedFrames(ctx context.Context, gun, id string, roots [][]byte, roles map[string][]byte) (*api.StagedUpdate, error)
	// CommitStaged checks and publishes a staged update in one step.
	CommitStaged(ctx context.Context, gun, id, ifMatch string) (*api.PublishResult, error)
}

// partRetries is how often a part that failed on the way (a dropped
// connection, a server restart) is sent again.
const partRetries = 5

// partOverhead is room left in each part for the envelope around the
// documents (each document's name and punctuation, or its frame's header,
// are counted with it).
const partOverhead = 64

// partsInFlight is how many parts are on the way at once: the server
// stores one while the next is read and sent.
const partsInFlight = 2

// sendStaged sends u as a staged update: the root chain in one part, then
// the roles in parts as large as the server takes, then the commit.
func (r *Repo) sendStaged(ctx context.Context, c StagedServer, gun string, u *serverUpdate) (*api.PublishResult, error) {
	st, err := c.StartStaged(ctx, gun)
	if err != nil {
		return nil, fmt.Errorf("starting a staged update: %w", err)
	}
	limit := st.MaxPartBytes - partOverhead
	if limit <= 0 {
		return nil, fmt.Errorf("the server takes parts of at most %d bytes, too small for a staged update", st.MaxPartBytes)
	}
	up := &partUploader{c: c, gun: gun, id: st.ID, upload: c.UploadStagedPart}
	cost := func(name string, doc []byte) int64 { return int64(len(doc)) + int64(len(name)) + 4 }
	if slices.Contains(st.PartTypes, api.StagedPartType) {
		up.upload = c.UploadStagedFrames
		cost = func(name string, doc []byte) int64 { return api.StagedFrameSize(name, len(doc)) }
	}
	if len(u.roots) > 0 {
		// The chain goes whole, in one part: root documents are small.
		var chain [][]byte
		size := int64(0)
		for i, v := range u.roots {
			chain = append(chain, v.data)
			size += cost(api.StagedRootPart(i+1), v.data)
		}
		if size > limit {
			return nil, fmt.Errorf("the %d new root versions are %d bytes, more than the %d bytes the server takes in one request (rampart serve --max-metadata-bytes)", len(chain), size, st.MaxPartBytes)
		}
		if err := up.send(ctx, chain, nil); err != nil {
			return nil, err
		}
	}
	if err := r.sendRoleParts(ctx, up, u.roles, limit, st.MaxPartBytes, cost); err != nil {
		return nil, err
	}
	return c.CommitStaged(ctx, gun, st.ID, "")
}

// sendRoleParts sends the documents of roles in parts of at most limit
// bytes (by cost), partsInFlight at a time. The documents of a part are
// read into one buffer, which serves a later part once this one is sent:
// a hundred megabytes of hashed bins go up through a few buffers instead
// of each bin's own.
func (r *Repo) sendRoleParts(ctx context.Context, up *partUploader, roles []pendingRole, limit, maxPart int64, cost func(string, []byte) int64) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partsInFlight)
	bufs := bufpool.New(partsInFlight+1, int(limit))
	buf := bufs.Get(int(limit))[:0]
	batch, size := map[string][]byte{}, int64(0)
	flush := func() {
		b, held := batch, buf
		g.Go(func() error {
			defer bufs.Put(held)
			return up.send(gctx, nil, b)
		})
		batch, size, buf = map[string][]byte{}, 0, bufs.Get(int(limit))[:0]
	}
	for _, p := range roles {
		if gctx.Err() != nil {
			break
		}
		var b []byte
		var err error
		buf, b, err = r.appendPending(buf, p)
		if err != nil {
			g.Wait()
			return err
		}
		n := cost(p.role, b)
		if n > limit {
			g.Wait()
			return fmt.Errorf("%s is %d bytes, more than the %d bytes the server takes in one request (rampart serve --max-metadata-bytes): split it into delegated roles or hashed bins", p.role, len(b), maxPart)
		}
		if size+n > limit && len(batch) > 0 {
			flush() // b, at the end of the buffer sent, goes in the next
			start := len(buf)
			buf = append(buf, b...)
			b = buf[start:]
		}
		batch[p.role] = b
		size += n
	}
	if len(batch) > 0 {
		flush()
	}
	return g.Wait()
}

// partUploader sends the parts of one staged update, sending a part again
// after a failure on the way: first it asks the server what it has, and
// sends only the documents it lacks.
type partUploader struct {
	c       StagedServer
	gun, id string
	upload  func(ctx context.Context, gun, id string, roots [][]byte, roles map[string][]byte) (*api.StagedUpdate, error)
}

func (p *partUploader) send(ctx context.Context, roots [][]byte, roles map[string][]byte) error {
	for attempt := 0; ; attempt++ {
		_, err := p.upload(ctx, p.gun, p.id, roots, roles)
		var ue *url.Error
		if err == nil || !errors.As(err, &ue) || attempt == partRetries || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("staged update %s: sending a part: %w", p.id, err)
			}
			return nil
		}
		// Dropped on the way: wait a little, then see what arrived.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
		st, err := p.c.StagedUpdate(ctx, p.gun, p.id)
		if err != nil {
			if errors.As(err, &ue) {
				continue
			}
			return fmt.Errorf("staged update %s: asking what the server has: %w", p.id, err)
		}
		roots, roles = missingParts(st, roots, roles)
		if len(roots) == 0 && len(roles) == 0 {
			return nil
		}
	}
}

// missingParts returns the documents the server does not have as sent.
func missingParts(st *api.StagedUpdate, roots [][]byte, roles map[string][]byte) ([][]byte, map[string][]byte) {
	has := func(name string, doc []byte) bool {
		sum := sha256.Sum256(doc)
		return st.Parts[name].SHA256 == hex.EncodeToString(sum[:])
	}
	for i, doc := range roots {
		if !has(api.StagedRootPart(i+1), doc) {
			return roots, missingRoles(has, roles) // the chain goes whole
		}
	}
	return nil, missingRoles(has, roles)
}

func missingRoles(has func(string, []byte) bool, roles map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for name, doc := range roles {
		if !has(name, doc) {
			out[name] = doc
		}
	}
	return out
}

// appendPending appends the document of p to buf, as readPending reads
// it, and returns buf and the document, a slice of it. A file is read
// straight into buf's spare capacity; buf grows when it does not fit.
func (r *Repo) appendPending(buf []byte, p pendingRole) (_, doc []byte, err error) {
	start := len(buf)
	if p.role == metadata.TypeSnapshot {
		b, err := r.readPending(p)
		if err != nil {
			return buf, nil, err
		}
		buf = append(buf, b...)
		return buf, buf[start:], nil
	}
	f, err := os.Open(r.stagedPath(p.role))
	if err != nil {
		return buf, nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < 1<<30 {
		buf = slices.Grow(buf, int(fi.Size())+1) // +1: the read that finds the end
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, buf[start:], nil
		}
		if err != nil {
			return buf, nil, err
		}
	}
}
