package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Fetcher is the client's only way to the network: it reads what is at a
// URL, up to a bound. Implementations must return an error wrapping
// ErrNotFound when there is nothing at the URL (HTTP 404 and 403), and an
// error wrapping ErrTooLarge when there is more than maxLength bytes.
type Fetcher interface {
	Fetch(ctx context.Context, url string, maxLength int64) (io.ReadCloser, error)
}

var (
	// ErrNotFound reports that the repository has no such file.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge reports a download that exceeds its length bound
	// (an endless data attack, or a wrong length in metadata).
	ErrTooLarge = errors.New("exceeds the length bound")
	// ErrTooSlow reports a download below the minimum transfer rate (a
	// slow retrieval attack).
	ErrTooSlow = errors.New("transfer too slow")
)

// HTTPFetcher fetches over HTTP with a length bound, a timeout per request
// and a minimum transfer rate.
type HTTPFetcher struct {
	Client *http.Client
	// Timeout bounds a whole request, headers and body; 0 means 5 minutes.
	Timeout time.Duration
	// MinRate is the lowest average rate in bytes per second a body may
	// arrive at, once Grace has passed; 0 means 1 KiB/s.
	MinRate int64
	// Grace is how long a transfer may run before MinRate applies; 0 means
	// 5 seconds.
	Grace time.Duration
	// UserAgent is sent with every request.
	UserAgent string
}

// Fetch implements Fetcher.
func (f *HTTPFetcher) Fetch(ctx context.Context, url string, maxLength int64) (io.ReadCloser, error) {
	timeout := cmpOr(f.Timeout, 5*time.Minute)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if f.UserAgent != "" {
		req.Header.Set("User-Agent", f.UserAgent)
	}
	client := f.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w: no answer within %v", url, ErrTooSlow, timeout)
		}
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %s: %w", url, resp.Status, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: unexpected status %s", url, resp.Status)
	case resp.ContentLength > maxLength:
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: Content-Length %d %w of %d bytes", url, resp.ContentLength, ErrTooLarge, maxLength)
	}
	return &boundedBody{
		url: url, body: resp.Body, size: resp.ContentLength, cancel: cancel, max: maxLength,
		minRate: cmpOr(f.MinRate, 1024), grace: cmpOr(f.Grace, 5*time.Second), start: time.Now(), timeout: timeout, ctx: ctx,
	}, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// boundedBody enforces the length bound and the minimum rate on a body.
type boundedBody struct {
	url     string
	size    int64 // Content-Length, or -1
	body    io.ReadCloser
	cancel  context.CancelFunc
	ctx     context.Context
	max     int64
	n       atomic.Int64 // bytes read so far; the rate timer reads it too
	minRate int64
	grace   time.Duration
	timeout time.Duration
	start   time.Time
	stop    *time.Timer
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.stop == nil {
		// Cancel the request as soon as the average rate can no longer be
		// met, so that a stalled server cannot hold the client.
		b.stop = time.AfterFunc(b.grace, b.checkRate)
	}
	if int64(len(p)) > b.max-b.n.Load()+1 {
		p = p[:b.max-b.n.Load()+1]
	}
	n, err := b.body.Read(p)
	total := b.n.Add(int64(n))
	if total > b.max {
		return n, fmt.Errorf("GET %s: body %w of %d bytes", b.url, ErrTooLarge, b.max)
	}
	if err != nil && err != io.EOF {
		if b.ctx.Err() != nil {
			if b.slow() {
				return n, fmt.Errorf("GET %s: %w: %d bytes in %v, below %d bytes/s", b.url, ErrTooSlow, total, time.Since(b.start).Round(time.Millisecond), b.minRate)
			}
			return n, fmt.Errorf("GET %s: %w: not done within %v", b.url, ErrTooSlow, b.timeout)
		}
		return n, fmt.Errorf("GET %s: %w", b.url, err)
	}
	return n, err
}

func (b *boundedBody) slow() bool {
	elapsed := time.Since(b.start)
	return elapsed >= b.grace && float64(b.n.Load()) < float64(b.minRate)*elapsed.Seconds()
}

func (b *boundedBody) checkRate() {
	if b.slow() {
		b.cancel()
		return
	}
	b.stop.Reset(250 * time.Millisecond)
}

// Size returns the announced length of the body, or -1.
func (b *boundedBody) Size() int64 { return b.size }

func (b *boundedBody) Close() error {
	if b.stop != nil {
		b.stop.Stop()
	}
	err := b.body.Close()
	b.cancel()
	return err
}

// readAll reads everything a fetch returns, within its bound.
func readAll(ctx context.Context, f Fetcher, url string, maxLength int64) ([]byte, error) {
	rc, err := f.Fetch(ctx, url, maxLength)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	size := int64(1 << 16)
	if s, ok := rc.(interface{ Size() int64 }); ok && s.Size() >= 0 {
		size = s.Size() + 1 // room to see the end of the body
	}
	buf := make([]byte, 0, min(maxLength+1, size))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > maxLength {
			return nil, fmt.Errorf("GET %s: %w of %d bytes", url, ErrTooLarge, maxLength)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
