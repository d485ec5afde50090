package apiclient

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAPIErrorBody checks how error bodies become an Error: the server's
// JSON object, or else the body's text, trimmed and shortened.
func TestAPIErrorBody(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	for _, tt := range []struct {
		name, body           string
		message, role, check string
	}{
		{"server JSON", `{"error":"not signed","role":"targets","check":"signature"}`, "not signed", "targets", "signature"},
		{"text", "  502 Bad Gateway\n", "502 Bad Gateway", "", ""},
		{"JSON without error", `{"status":"down"}`, `{"status":"down"}`, "", ""},
		{"long text", long, long[:maxMessage] + "...", "", ""},
		{"empty", "", "", "", ""},
	} {
		req, _ := http.NewRequest("GET", "http://h/x", nil)
		resp := &http.Response{StatusCode: 502, Body: io.NopCloser(strings.NewReader(tt.body))}
		e := apiError(req, resp)
		if e.Message != tt.message || e.Role != tt.role || e.Check != tt.check || e.Method != "GET" || e.URL != "http://h/x" || e.Status != 502 {
			t.Errorf("%s: %+v", tt.name, e)
		}
	}
}
