package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
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

// HTTPFetcher fetches over HTTP with a length bound, a timeout for the
// response headers and a minimum transfer rate for the body. Together with
// the length bound, the rate bounds how long any download can take: a slow
// retrieval attack cannot hold the client.
type HTTPFetcher struct {
	Client *http.Client // default http.DefaultClient
	// Timeout bounds the wait for the response headers; 0 means 30
	// seconds.
	Timeout time.Duration
	// MinRate is the lowest rate in bytes per second at which a body may
	// arrive, measured over each successive RateWindow: a server that
	// sends quickly at first and then trickles is caught as soon as a
	// window falls short. 0 means 1 KiB/s.
	MinRate int64
	// RateWindow is the period over which MinRate is measured; 0 means 10
	// seconds. A transfer whose end arrives within the first window is
	// never cut by the rate check.
	RateWindow time.Duration
	// MaxDuration, when not 0, bounds each whole request, body included.
	MaxDuration time.Duration
	// UserAgent is sent with every request.
	UserAgent string
}

// Fetch implements Fetcher.
func (f *HTTPFetcher) Fetch(ctx context.Context, url string, maxLength int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var cancel context.CancelFunc
	if f.MaxDuration > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.MaxDuration)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	parent := ctx
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if f.UserAgent != "" {
		req.Header.Set("User-Agent", f.UserAgent)
	}
	client := cmp.Or(f.Client, http.DefaultClient)
	timeout := cmp.Or(f.Timeout, 30*time.Second)
	var headersLate atomic.Bool
	timer := time.AfterFunc(timeout, func() { headersLate.Store(true); cancel() })
	resp, err := client.Do(req)
	if !timer.Stop() || err != nil {
		cancel()
		if resp != nil {
			resp.Body.Close()
		}
		switch {
		case headersLate.Load():
			return nil, fmt.Errorf("GET %s: %w: no response within %v", url, ErrTooSlow, timeout)
		case errors.Is(parent.Err(), context.DeadlineExceeded) && f.MaxDuration > 0:
			return nil, fmt.Errorf("GET %s: %w: not done within %v", url, ErrTooSlow, f.MaxDuration)
		}
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	fail := func(err error) (io.ReadCloser, error) {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden:
		return fail(fmt.Errorf("%s: %w", resp.Status, ErrNotFound))
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Errorf("unexpected status %s", resp.Status))
	case resp.ContentLength > maxLength:
		return fail(fmt.Errorf("Content-Length %d %w of %d bytes", resp.ContentLength, ErrTooLarge, maxLength))
	}
	return &boundedBody{
		url: url, body: resp.Body, size: resp.ContentLength, cancel: cancel, ctx: ctx, max: maxLength,
		minRate: cmp.Or(f.MinRate, 1024), window: cmp.Or(f.RateWindow, 10*time.Second), maxDuration: f.MaxDuration,
	}, nil
}

// boundedBody enforces the length bound and the minimum rate on a body.
type boundedBody struct {
	url         string
	size        int64 // Content-Length, or -1
	body        io.ReadCloser
	cancel      context.CancelFunc
	ctx         context.Context
	max         int64
	minRate     int64
	window      time.Duration
	maxDuration time.Duration

	n     atomic.Int64 // bytes read so far; the rate timer reads it too
	slow  atomic.Bool  // the rate timer cut the transfer
	start time.Time    // of the first Read

	mu     sync.Mutex // guards the rest
	timer  *time.Timer
	mark   int64 // n at the start of the current window
	closed bool
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.start.IsZero() {
		b.start = time.Now()
		b.mu.Lock()
		if !b.closed {
			b.timer = time.AfterFunc(b.window, b.checkRate)
		}
		b.mu.Unlock()
	}
	if room := b.max - b.n.Load() + 1; int64(len(p)) > room {
		p = p[:room] // one byte more than allowed shows an overlong body
	}
	n, err := b.body.Read(p)
	total := b.n.Add(int64(n))
	if total > b.max {
		return n, fmt.Errorf("GET %s: body %w of %d bytes", b.url, ErrTooLarge, b.max)
	}
	if err != nil && err != io.EOF {
		switch {
		case b.slow.Load():
			return n, fmt.Errorf("GET %s: %w: %d bytes in %v, less than %d bytes/s over the last %v", b.url, ErrTooSlow, total, time.Since(b.start).Round(time.Millisecond), b.minRate, b.window)
		case b.maxDuration > 0 && errors.Is(b.ctx.Err(), context.DeadlineExceeded):
			return n, fmt.Errorf("GET %s: %w: not done within %v", b.url, ErrTooSlow, b.maxDuration)
		}
		return n, fmt.Errorf("GET %s: %w", b.url, err)
	}
	return n, err
}

// checkRate runs at the end of each window and cuts the transfer when the
// window brought fewer bytes than the minimum rate requires.
func (b *boundedBody) checkRate() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	n := b.n.Load()
	if float64(n-b.mark) < float64(b.minRate)*b.window.Seconds() {
		b.slow.Store(true)
		b.cancel()
		return
	}
	b.mark = n
	b.timer = time.AfterFunc(b.window, b.checkRate)
}

// Size returns the announced length of the body, or -1.
func (b *boundedBody) Size() int64 { return b.size }

func (b *boundedBody) Close() error {
	b.mu.Lock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
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
