package notaryapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// Upload publishes docs (role name → signed document) to the repository
// gun on the Notary API at serverURL (https://HOST:PORT), as the notary
// client does: one multipart POST to /v2/GUN/_trust/tuf/, with token as
// the Bearer token (none when empty). The server checks and stores them
// as they are; an error carries what the server said.
func Upload(ctx context.Context, c *http.Client, serverURL, token, gun string, docs map[string][]byte) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, role := range slices.Sorted(maps.Keys(docs)) {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files"; filename=%q`, role))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		w.Write(docs[role])
	}
	if err := mw.Close(); err != nil {
		return err
	}
	u := strings.TrimSuffix(serverURL, "/") + "/v2/" + gun + "/_trust/tuf/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Errors []struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &e) != nil || len(e.Errors) == 0 {
		return fmt.Errorf("POST %s: %s: %.200q", u, resp.Status, raw)
	}
	first := e.Errors[0]
	var d validationDetail
	if json.Unmarshal(first.Detail, &d) == nil && d.Error.Msg != "" {
		return fmt.Errorf("POST %s: %s: %s (%s: %s)", u, resp.Status, first.Code, d.Name, d.Error.Msg)
	}
	return fmt.Errorf("POST %s: %s: %s: %s %s", u, resp.Status, first.Code, first.Message, first.Detail)
}
