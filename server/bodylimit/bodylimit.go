// Package bodylimit holds the server's rule for a request body refused as
// too large: read what is left of it, within bounds, so that the client
// reads the refusal instead of a reset connection. The server's own API
// and its Notary API both refuse through it.
package bodylimit

import (
	"io"
	"net/http"
	"time"
)

// Bounds on reading the rest of a body refused as too large.
const (
	MaxDrainBytes = 64 << 20
	DrainTimeout  = 10 * time.Second
)

// DrainRefused reads and discards what is left of a request body refused
// as too large, up to MaxDrainBytes and for DrainTimeout at most, and
// closes the connection after the answer. body is the body as the client
// sends it (r.Body before any reader that stops at the limit). A client
// still sending the body when the server closes would otherwise see the
// connection reset, not the answer that says why (and that tells repo
// publish to upload in parts). A body declared larger than the bound is
// not read at all. Call it before writing the answer.
func DrainRefused(w http.ResponseWriter, r *http.Request, body io.Reader) {
	w.Header().Set("Connection", "close")
	if body == nil || r.ContentLength > MaxDrainBytes {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(DrainTimeout))
	io.CopyN(io.Discard, body, MaxDrainBytes)
}
