package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// frame is one frame of a part sent as api.StagedPartType; header, when
// not empty, replaces the header line the document's name makes.
type frame struct {
	name, header string
	doc          []byte
}

func frames(fs ...frame) []byte {
	var b []byte
	for _, f := range fs {
		if f.header != "" {
			b = append(b, f.header...)
		} else {
			b = api.AppendStagedFrame(b, f.name, f.doc)
		}
		b = append(append(b, f.doc...), '\n')
	}
	return b
}

// postPart sends body as a part of staged update id with content type ct
// and returns the answer's status and error check.
func postPart(t *testing.T, base, token, gun, id, ct string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/repositories/"+gun+"/metadata/staged/"+id+"/parts", bytes.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var e struct {
		Check string `json:"check"`
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatalf("answer %d: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, e.Check
}

// TestStagedFrames publishes a staged update sent as frames, the body
// rampart sends when the server takes it: the server lists the type, and
// the commit publishes what the frames carried. Parts that lie about a
// document's size or digest, give a name twice, misname or misorder the
// roots of the chain, or name a role the server never takes are refused
// whole, storing nothing of them.
func TestStagedFrames(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts, m, r, c, st := startStagedBins(t, kind, "example.com/frames", "pkgs/file-0007.txt")
		ctx := context.Background()
		if !slices.Contains(st.PartTypes, api.StagedPartType) {
			t.Fatalf("the server does not list %s: %+v", api.StagedPartType, st)
		}
		bin := "bins-0"
		doc := r.bins[bin]
		bad := map[string][]byte{
			"a size beyond the body":    frames(frame{header: fmt.Sprintf("%s %d %s\n", bin, len(doc)+10, sha256hex(string(doc))), doc: doc}),
			"a size short of the doc":   frames(frame{header: fmt.Sprintf("%s %d %s\n", bin, len(doc)-10, sha256hex(string(doc[:len(doc)-10]))), doc: doc}),
			"a digest of other bytes":   frames(frame{header: fmt.Sprintf("%s %d %s\n", bin, len(doc), sha256hex("other")), doc: doc}),
			"no header line":            []byte("{}"),
			"a name given twice":        frames(frame{name: bin, doc: doc}, frame{name: bin, doc: doc}),
			"the second root first":     frames(frame{name: "root/002", doc: r.root}),
			"a root by another name":    frames(frame{name: "root/1", doc: r.root}),
			"a bad role name":           frames(frame{name: "../bins-0", doc: doc}),
			"timestamp":                 frames(frame{name: "timestamp", doc: doc}),
			"root as a role":            frames(frame{name: "root", doc: r.root}),
			"a good frame, then a lie":  append(frames(frame{name: "bins-1", doc: r.bins["bins-1"]}), fmt.Sprintf("%s 99999 %s\n{}", bin, sha256hex("x"))...),
			"a length with a leading 0": frames(frame{header: fmt.Sprintf("%s 0%d %s\n", bin, len(doc), sha256hex(string(doc))), doc: doc}),
		}
		for what, body := range bad {
			if status, check := postPart(t, ts.URL, m.Token, m.GUN, st.ID, api.StagedPartType, body); status != 400 || (check != "json" && check != "role") {
				t.Errorf("a part with %s: %d %s, want 400", what, status, check)
			}
		}
		if status, _ := postPart(t, ts.URL, m.Token, m.GUN, st.ID, "text/plain", frames(frame{name: bin, doc: doc})); status != http.StatusUnsupportedMediaType {
			t.Errorf("a part of another type: %d, want 415", status)
		}
		got, err := c.StagedUpdate(ctx, m.GUN, st.ID)
		must(t, err)
		if len(got.Parts) != 0 {
			t.Fatalf("refused parts left documents behind: %v", got.Parts)
		}

		// The whole update, as frames: roots, targets, then the bins in
		// two parts.
		_, err = c.UploadStagedFrames(ctx, m.GUN, st.ID, [][]byte{r.root}, map[string][]byte{"targets": r.targets})
		must(t, err)
		half := map[string][]byte{}
		for name, d := range r.bins {
			half[name] = d
			if len(half) == len(r.bins)/2 {
				got, err = c.UploadStagedFrames(ctx, m.GUN, st.ID, nil, half)
				must(t, err)
				half = map[string][]byte{}
			}
		}
		if len(got.Parts) != len(r.bins)+2 || got.Parts["root/001"].SHA256 != sha256hex(string(r.root)) || got.Parts[bin].SHA256 != sha256hex(string(doc)) {
			t.Fatalf("the server has %v", got.Parts)
		}
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); err != nil {
			t.Fatal(err)
		}
		if got, err := newClient(t, ts.URL, m.GUN, r.root).fetch("pkgs/file-0007.txt"); err != nil || got != r.files["pkgs/file-0007.txt"] {
			t.Fatalf("client after the commit: %q, %v", got, err)
		}
	})
}

// TestStagedFramesMisnamed: a part that carries the document of one bin
// under the name of another (the bins share their keys, so its signatures
// verify) is stored, and refused by the commit, which finds its targets
// outside the paths delegated to the name it came under: nothing is
// published, and the content it lists is not served.
func TestStagedFramesMisnamed(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		const path = "pkgs/file-0007.txt"
		ts, m, r, c, st := startStagedBins(t, kind, "example.com/frames", path)
		sr := &metadata.SuccinctRoles{BitLength: 3, NamePrefix: "bins"}
		own := sr.RoleFor(path)
		other := sr.BinName((sr.BinFor(path) + 1) % sr.NumBins())
		ctx := context.Background()
		docs := merge(r.bins, "targets", r.targets)
		docs[other] = r.bins[own] // own's document, also as other
		_, err := c.UploadStagedFrames(ctx, m.GUN, st.ID, [][]byte{r.root}, docs)
		must(t, err)
		var e *apiclient.Error
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); !errors.As(err, &e) || e.Status != 400 || e.Role != other || e.Check != "paths" {
			t.Fatalf("commit of a misnamed bin: %v, want 400 naming %s and check paths", err, other)
		}
		if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a refused commit published a timestamp: %v", err)
		}
		if ok, err := ts.Store.Listed(ctx, m.GUN, sha256hex(r.files[path]), path, time.Now()); err != nil || ok {
			t.Errorf("a refused commit lists content: %v, %v", ok, err)
		}
		resp, err := http.Get(ts.URL + "/tuf/" + m.GUN + "/targets/pkgs/" + sha256hex(r.files[path]) + ".file-0007.txt")
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("content of a refused commit served: %d", resp.StatusCode)
		}
	})
}

// TestStagedFramesNotCanonical: frames carry documents as sent, so a bin
// that is not in canonical form (spaces between its members) is stored as
// it came, and the commit refuses it, naming the role, as a publish in one
// request would.
func TestStagedFramesNotCanonical(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		_, m, r, c, st := startStagedBins(t, kind, "example.com/frames")
		ctx := context.Background()
		docs := merge(r.bins, "targets", r.targets)
		docs["bins-3"] = bytes.Replace(r.bins["bins-3"], []byte(`{"signatures":`), []byte(`{ "signatures" :`), 1)
		_, err := c.UploadStagedFrames(ctx, m.GUN, st.ID, [][]byte{r.root}, docs)
		must(t, err)
		var e *apiclient.Error
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); !errors.As(err, &e) || e.Status != 400 || e.Role != "bins-3" {
			t.Fatalf("commit of a bin not in canonical form: %v, want 400 naming bins-3", err)
		}
		if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a refused commit published a timestamp: %v", err)
		}
	})
}
