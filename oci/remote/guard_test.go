package remote

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestGuardBoundsResponses reads bodies of exactly the limit and of one byte
// more through the guard, and checks that only the longer one fails, and
// that an OCI-Subject header on a PUT is recorded.
func TestGuardBoundsResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.Method == http.MethodPut {
			w.Header().Set("OCI-Subject", "sha256:abc")
		}
		io.Copy(w, io.LimitReader(zeros{}, int64(n)))
	}))
	defer srv.Close()
	g := &guard{next: http.DefaultTransport, subjects: map[string]bool{}}
	client := &http.Client{Transport: g}
	for _, tc := range []struct {
		n       int
		wantErr bool
	}{{maxResponse, false}, {maxResponse + 1, true}, {10, false}} {
		resp, err := client.Get(srv.URL + "/?n=" + strconv.Itoa(tc.n))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "exceeds") {
				t.Errorf("body of %d bytes: read %d bytes, error %v", tc.n, len(data), err)
			}
		} else if err != nil || len(data) != tc.n {
			t.Errorf("body of %d bytes: read %d bytes, error %v", tc.n, len(data), err)
		}
	}
	if g.acknowledged("sha256:abc") {
		t.Fatal("a subject was recorded without a PUT")
	}
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/?n=0", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !g.acknowledged("sha256:abc") {
		t.Fatal("the OCI-Subject of a PUT was not recorded")
	}
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
