package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/client"
)

func TestHTTPFetcher(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write(body)
		case "/chunked": // no Content-Length
			w.Write(body[:500])
			w.(http.Flusher).Flush()
			w.Write(body[500:])
		case "/truncated": // announces more than it sends
			w.Header().Set("Content-Length", "2000")
			w.Write(body)
		case "/404":
			http.NotFound(w, r)
		case "/403":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "/500":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "/ua":
			io.WriteString(w, r.UserAgent())
		case "/forever":
			w.Write(body[:100])
			w.(http.Flusher).Flush()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(time.Millisecond):
					w.Write(body[:10])
					w.(http.Flusher).Flush()
				}
			}
		}
	}))
	defer srv.Close()
	f := &client.HTTPFetcher{UserAgent: "rampart-test", RateWindow: 50 * time.Millisecond, MinRate: 1}
	tests := []struct {
		path string
		max  int64
		want []byte
		err  error
		msg  string
	}{
		{"/ok", 1000, body, nil, ""},
		{"/ok", 999, nil, client.ErrTooLarge, "Content-Length 1000 exceeds the length bound of 999 bytes"},
		{"/chunked", 1000, body, nil, ""},
		{"/chunked", 999, nil, client.ErrTooLarge, "exceeds the length bound of 999 bytes"},
		{"/truncated", 5000, nil, nil, "unexpected EOF"},
		{"/404", 1000, nil, client.ErrNotFound, "404 Not Found"},
		{"/403", 1000, nil, client.ErrNotFound, "403 Forbidden"},
		{"/500", 1000, nil, nil, "unexpected status 500 Internal Server Error"},
		{"/ua", 100, []byte("rampart-test"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s,%d", tt.path, tt.max), func(t *testing.T) {
			got, err := fetch(f, context.Background(), srv.URL+tt.path, tt.max)
			if tt.msg == "" {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("got %d bytes, %v", len(got), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), srv.URL+tt.path) {
				t.Fatalf("error %v does not say %q and the URL", err, tt.msg)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("error %v is not %v", err, tt.err)
			}
			if tt.err == nil && errors.Is(err, client.ErrNotFound) {
				t.Fatal("a server error taken for a missing file")
			}
		})
	}

	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		_, err := fetch(f, ctx, srv.URL+"/forever", 1<<30)
		if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrTooSlow) {
			t.Fatalf("got %v, want the caller's cancellation", err)
		}
	})
	t.Run("MaxDuration", func(t *testing.T) {
		f := &client.HTTPFetcher{MaxDuration: 50 * time.Millisecond, MinRate: 1}
		_, err := fetch(f, context.Background(), srv.URL+"/forever", 1<<30)
		if !errors.Is(err, client.ErrTooSlow) || !strings.Contains(err.Error(), "not done within 50ms") {
			t.Fatalf("got %v", err)
		}
	})
}

func fetch(f client.Fetcher, ctx context.Context, url string, max int64) ([]byte, error) {
	rc, err := f.Fetch(ctx, url, max)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
