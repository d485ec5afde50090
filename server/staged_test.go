package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/api"
	"github.com/rampart-tuf/rampart/internal/repotest"
	"github.com/rampart-tuf/rampart/server"
	"github.com/rampart-tuf/rampart/server/apiclient"
	"github.com/rampart-tuf/rampart/server/servertest"
	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// binsRepo is a repository of hashed bins, as the maintainer signs it.
type binsRepo struct {
	root    []byte
	targets []byte
	bins    map[string][]byte // role → signed document
	files   map[string]string // target path → content
}

// newBinsRepo signs a first version of m's repository with 2^bits bins
// and n targets, signing the bins with signer (m.Delegate for good bins).
func newBinsRepo(t testing.TB, m *maintainer, bits, n int) *binsRepo {
	t.Helper()
	k := metadata.NewKey(m.Delegate.PublicKey())
	tg := m.TargetsDoc(1, nil)
	sr := &metadata.SuccinctRoles{KeyIDs: []string{k.ID()}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}
	tg.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{k.ID(): k}, Succinct: sr}
	r := &binsRepo{root: servertest.Sign(t, m.RootDoc(1), m.Root), targets: servertest.Sign(t, tg, m.Targets), bins: map[string][]byte{}, files: map[string]string{}}
	docs := map[string]*metadata.Targets{}
	for i := range sr.NumBins() {
		docs[sr.BinName(i)] = m.TargetsDoc(1, nil)
	}
	for i := range n {
		p, c := fmt.Sprintf("pkgs/file-%04d.txt", i), fmt.Sprintf("content %d", i)
		r.files[p] = c
		docs[sr.RoleFor(p)].Targets[p] = metadata.NewTargetFile([]byte(c), false)
	}
	for name, d := range docs {
		r.bins[name] = servertest.Sign(t, d, m.Delegate)
	}
	return r
}

// startStagedBins starts a server on a store of kind with a repository
// gun of 8 hashed bins (40 targets), uploads the content of the targets at
// paths, and opens a staged update with the maintainer's client.
func startStagedBins(t *testing.T, kind, gun string, paths ...string) (*testServer, *maintainer, *binsRepo, *apiclient.Client, *api.StagedUpdate) {
	t.Helper()
	ts := newServer(t, openStore(t, kind))
	m := newMaintainer(t, ts, gun)
	r := newBinsRepo(t, m, 3, 40)
	for _, p := range paths {
		m.Upload(p, r.files[p])
	}
	c := apiClient(t, ts.URL, m.Token)
	st, err := c.StartStaged(context.Background(), m.GUN)
	must(t, err)
	return ts, m, r, c, st
}

func apiClient(t testing.TB, url, token string) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uploadInParts sends the repository's documents into staged update id,
// about 3 KiB a part.
func uploadInParts(t testing.TB, c *apiclient.Client, gun, id string, r *binsRepo) {
	uploadInPartsOf(t, c, gun, id, r, 3<<10)
}

// uploadInPartsOf is uploadInParts with parts of about size bytes.
func uploadInPartsOf(t testing.TB, c *apiclient.Client, gun, id string, r *binsRepo, size int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.UploadStagedPart(ctx, gun, id, [][]byte{r.root}, map[string][]byte{"targets": r.targets}); err != nil {
		t.Fatal(err)
	}
	part, n := map[string][]byte{}, 0
	for name, doc := range r.bins {
		if n+len(doc) > size && len(part) > 0 {
			if _, err := c.UploadStagedPart(ctx, gun, id, nil, part); err != nil {
				t.Fatal(err)
			}
			part, n = map[string][]byte{}, 0
		}
		part[name], n = doc, n+len(doc)
	}
	if len(part) > 0 {
		if _, err := c.UploadStagedPart(ctx, gun, id, nil, part); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStagedPublish uploads a first publish of hashed bins in parts, each
// within a body limit smaller than the whole update: nothing is served
// until the commit, which publishes everything at once; a client then
// finds a target in its bin, and the staged update is gone.
func TestStagedPublish(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind), func(c *server.Config) { c.MaxMetadataBytes = 8 << 10 })
		m := newMaintainer(t, ts, "example.com/staged")
		r := newBinsRepo(t, m, 4, 200)
		for p, c := range r.files {
			if strings.HasSuffix(p, "7.txt") {
				m.Upload(p, c)
			}
		}
		ctx := context.Background()
		c := apiClient(t, ts.URL, m.Token)
		if _, err := c.PublishChain(ctx, m.GUN, [][]byte{r.root}, merge(r.bins, "targets", r.targets), ""); !errors.Is(err, api.ErrTooLarge) {
			t.Fatalf("the whole update in one request: %v, want 413", err)
		}
		st, err := c.StartStaged(ctx, m.GUN)
		if err != nil {
			t.Fatal(err)
		}
		if st.MaxPartBytes != 8<<10 || len(st.ID) != 32 || !st.Expires.After(time.Now()) {
			t.Errorf("new staged update: %+v", st)
		}
		uploadInParts(t, c, m.GUN, st.ID, r)
		got, err := c.StagedUpdate(ctx, m.GUN, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Parts) != len(r.bins)+2 || got.Parts["root/001"].SHA256 != sha256hex(string(r.root)) {
			t.Errorf("the server has %d parts (root/001: %+v), want %d with the root as sent", len(got.Parts), got.Parts["root/001"], len(r.bins)+2)
		}
		if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("a staged update is served before its commit: %v", err)
		}
		res, err := c.CommitStaged(ctx, m.GUN, st.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if res.RootVersion != 1 || res.SnapshotVersion != 1 || res.TimestampVersion != 1 {
			t.Errorf("commit: %+v", res)
		}
		if got, err := newClient(t, ts.URL, m.GUN, r.root).fetch("pkgs/file-0017.txt"); err != nil || got != r.files["pkgs/file-0017.txt"] {
			t.Fatalf("client after the commit: %q, %v", got, err)
		}
		if _, err := c.StagedUpdate(ctx, m.GUN, st.ID); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("the staged update is still there after its commit: %v", err)
		}
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a second commit: %v", err)
		}
	})
}

func merge(m map[string][]byte, k string, v []byte) map[string][]byte {
	out := map[string][]byte{k: v}
	for n, d := range m {
		out[n] = d
	}
	return out
}

// TestStagedCommitRefused: a commit that fails the check of the whole
// update (a bin that is not targets metadata, one signed by a key the
// delegation does not trust, then a bin listing a target of another bin) publishes nothing, serves none of the
// content its bins list, and keeps the staged update for another try.
func TestStagedCommitRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts, m, r, c, st := startStagedBins(t, kind, "example.com/staged", "pkgs/file-0007.txt")
		ctx := context.Background()
		uploadInParts(t, c, m.GUN, st.ID, r)
		sr := &metadata.SuccinctRoles{BitLength: 3, NamePrefix: "bins"}
		badBin := sr.RoleFor("pkgs/other")
		var e *apiclient.Error
		// A bin that is JSON but not targets metadata: parts are parsed
		// by the commit.
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{badBin: []byte(`{"signatures":[],"signed":{"_type":"targets"}}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); !errors.As(err, &e) || e.Status != 400 || e.Role != badBin || e.Check != "json" {
			t.Fatalf("commit with a malformed bin: %v, want 400 naming %s and check json", err, badBin)
		}
		// One bin signed by another key.
		bad := m.TargetsDoc(1, map[string]string{"pkgs/other": "x"})
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{badBin: servertest.Sign(t, bad, repotest.NewSigner(t))}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CommitStaged(ctx, m.GUN, st.ID, "")
		if !errors.As(err, &e) || e.Status != 400 || e.Role != badBin || e.Check != "signature" {
			t.Fatalf("commit with a bin signed by an untrusted key: %v, want 400 naming %s and check signature", err, badBin)
		}
		// A bin listing a target that hashes to another bin.
		wrong := sr.BinName((sr.BinFor("pkgs/other") + 1) % sr.NumBins())
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{badBin: r.bins[badBin], wrong: servertest.Sign(t, bad, m.Delegate)}); err != nil {
			t.Fatal(err)
		}
		_, err = c.CommitStaged(ctx, m.GUN, st.ID, "")
		if !errors.As(err, &e) || e.Status != 400 || e.Role != wrong || e.Check != "paths" {
			t.Fatalf("commit with a target outside its bin: %v, want 400 naming %s and check paths", err, wrong)
		}
		if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a refused commit published a timestamp: %v", err)
		}
		if _, err := c.Metadata(ctx, m.GUN, "1.targets.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a refused commit stored targets: %v", err)
		}
		for _, digest := range []string{sha256hex(r.files["pkgs/file-0007.txt"])} {
			if ok, err := ts.Store.Listed(ctx, m.GUN, digest, "pkgs/file-0007.txt", time.Now()); err != nil || ok {
				t.Errorf("a refused commit lists content: %v, %v", ok, err)
			}
		}
		// Fixed, the same staged update commits.
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{wrong: r.bins[wrong]}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); err != nil {
			t.Fatalf("commit after the fix: %v", err)
		}
		if got, err := newClient(t, ts.URL, m.GUN, r.root).fetch("pkgs/file-0007.txt"); err != nil || got != r.files["pkgs/file-0007.txt"] {
			t.Fatalf("client after the commit: %q, %v", got, err)
		}
	})
}

// TestStagedLimits: a part over the body limit is refused with 413, as is
// a part that would take the staged update over its limit; documents the
// server never takes are refused when their part arrives.
func TestStagedLimits(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind), func(c *server.Config) { c.MaxMetadataBytes = 4 << 10; c.MaxStagedBytes = 10 << 10 })
		m := newMaintainer(t, ts, "example.com/staged")
		ctx := context.Background()
		c := apiClient(t, ts.URL, m.Token)
		st, err := c.StartStaged(ctx, m.GUN)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{}
		for i := range 60 {
			files[fmt.Sprintf("f%d", i)] = "x"
		}
		big := servertest.Sign(t, m.TargetsDoc(1, files), m.Targets)
		if len(big) <= 4<<10 {
			t.Fatalf("test document of %d bytes is not over the limit", len(big))
		}
		var e *apiclient.Error
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{"targets": big}); !errors.As(err, &e) || e.Status != 413 {
			t.Errorf("a part over the body limit: %v, want 413", err)
		}
		for i := range 3 {
			doc := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"a": strings.Repeat("y", 10)}), m.Delegate)
			_, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{fmt.Sprintf("r%d-%s", i, strings.Repeat("n", 100)): doc})
			if err != nil {
				t.Fatal(err)
			}
		}
		padded := m.TargetsDoc(1, nil)
		for i := range 25 {
			padded.Targets[fmt.Sprintf("p%d", i)] = metadata.NewTargetFile([]byte("z"), false)
		}
		doc := servertest.Sign(t, padded, m.Delegate)
		for i := 0; ; i++ {
			_, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{fmt.Sprintf("more%d", i): doc})
			if err == nil {
				if i > 10 {
					t.Fatalf("the staged update took %d parts of %d bytes beyond its limit", i, len(doc))
				}
				continue
			}
			if !errors.As(err, &e) || e.Status != 413 || !strings.Contains(e.Message, "at most") {
				t.Errorf("a part over the staged update's limit: %v, want 413", err)
			}
			break
		}
		for _, role := range []string{"timestamp", "mirrors", "root"} {
			_, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{role: servertest.Sign(t, m.TargetsDoc(1, nil), m.Targets)})
			if !errors.As(err, &e) || e.Status != 400 || e.Role != role {
				t.Errorf("a %s part: %v, want 400 naming the role", role, err)
			}
		}
	})
}

// TestStagedExpiry: a staged update not committed in time is refused and
// its documents are removed by the garbage collection.
func TestStagedExpiry(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		ts := newServer(t, openStore(t, kind), func(c *server.Config) { c.StagedExpiry = time.Second })
		m := newMaintainer(t, ts, "example.com/staged")
		r := newBinsRepo(t, m, 2, 10)
		ctx := context.Background()
		c := apiClient(t, ts.URL, m.Token)
		st, err := c.StartStaged(ctx, m.GUN)
		if err != nil {
			t.Fatal(err)
		}
		uploadInParts(t, c, m.GUN, st.ID, r)
		time.Sleep(time.Until(st.Expires) + 100*time.Millisecond)
		if _, err := c.CommitStaged(ctx, m.GUN, st.ID, ""); !errors.Is(err, api.ErrNotFound) {
			t.Fatalf("commit of an expired staged update: %v, want 404", err)
		}
		if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, nil, map[string][]byte{"targets": r.targets}); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("a part for an expired staged update: %v, want 404", err)
		}
		sg := ts.Store.(store.Staging)
		if _, err := sg.StagedPart(ctx, m.GUN, st.ID, "targets"); err != nil {
			t.Fatalf("the documents went before the garbage collection: %v", err)
		}
		res, err := ts.Server.CollectGarbage(ctx)
		if err != nil || res.StagedUpdates != 1 {
			t.Fatalf("garbage collection: %+v, %v; want one staged update removed", res, err)
		}
		for _, part := range []string{"targets", "root/001", "bins-0"} {
			if _, err := sg.StagedPart(ctx, m.GUN, st.ID, part); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("part %s of the expired staged update: %v, want not found", part, err)
			}
		}
		if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("an expired staged update was published: %v", err)
		}
	})
}

// TestStagedOtherGUN: a push token for one repository cannot read, add to
// or commit another repository's staged update, neither under that
// repository's name nor under its own.
func TestStagedOtherGUN(t *testing.T) {
	ts := newServer(t, openStore(t, "bolt"))
	victim := newMaintainer(t, ts, "example.com/victim/app")
	victim.Token = pushToken(t, ts, "example.com/victim/")
	r := newBinsRepo(t, victim, 2, 5)
	ctx := context.Background()
	vc := apiClient(t, ts.URL, victim.Token)
	st, err := vc.StartStaged(ctx, victim.GUN)
	if err != nil {
		t.Fatal(err)
	}
	uploadInParts(t, vc, victim.GUN, st.ID, r)

	attacker := newMaintainer(t, ts, "example.com/attacker/app")
	ac := apiClient(t, ts.URL, pushToken(t, ts, "example.com/attacker/"))
	var e *apiclient.Error
	if _, err := ac.CommitStaged(ctx, victim.GUN, st.ID, ""); !errors.As(err, &e) || e.Status != http.StatusForbidden {
		t.Errorf("commit of another GUN's staged update: %v, want 403", err)
	}
	if _, err := ac.StagedUpdate(ctx, victim.GUN, st.ID); !errors.As(err, &e) || e.Status != http.StatusForbidden {
		t.Errorf("reading another GUN's staged update: %v, want 403", err)
	}
	if _, err := ac.CommitStaged(ctx, attacker.GUN, st.ID, ""); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("commit of another GUN's staged update under one's own GUN: %v, want 404", err)
	}
	if _, err := ac.UploadStagedPart(ctx, attacker.GUN, st.ID, nil, map[string][]byte{"targets": r.targets}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("adding to another GUN's staged update under one's own GUN: %v, want 404", err)
	}
	if _, err := vc.CommitStaged(ctx, victim.GUN, st.ID, ""); err != nil {
		t.Fatalf("the owner's commit: %v", err)
	}
}

// TestStagedOpenLimit: a repository's push token can hold only
// Config.MaxOpenStaged staged updates at once, even when it asks for many
// at the same moment; one deleted or expired makes room again.
func TestStagedOpenLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		var skew atomic.Int64
		ts := newServer(t, openStore(t, kind), func(c *server.Config) {
			c.MaxOpenStaged = 2
			c.StagedExpiry = time.Hour
			c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		})
		m := newMaintainer(t, ts, "example.com/staged")
		ctx := context.Background()
		c := apiClient(t, ts.URL, m.Token)

		// Ten at once: two get a staged update, eight a 429.
		var wg sync.WaitGroup
		var started, limited atomic.Int32
		ids := make(chan string, 10)
		for range 10 {
			wg.Go(func() {
				st, err := c.StartStaged(ctx, m.GUN)
				var e *apiclient.Error
				switch {
				case err == nil:
					started.Add(1)
					ids <- st.ID
				case errors.As(err, &e) && e.Status == http.StatusTooManyRequests && e.Check == "limit":
					limited.Add(1)
				default:
					t.Errorf("start: %v", err)
				}
			})
		}
		wg.Wait()
		if started.Load() != 2 || limited.Load() != 8 {
			t.Fatalf("%d started and %d refused with 429, want 2 and 8", started.Load(), limited.Load())
		}

		// Deleting one makes room for one.
		if err := c.AbortStaged(ctx, m.GUN, <-ids); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StartStaged(ctx, m.GUN); err != nil {
			t.Fatalf("start after a delete: %v", err)
		}
		if _, err := c.StartStaged(ctx, m.GUN); err == nil {
			t.Fatal("a third open staged update was allowed")
		}
		// Another repository has its own count.
		other := newMaintainer(t, ts, "example.com/staged-other")
		if _, err := apiClient(t, ts.URL, other.Token).StartStaged(ctx, other.GUN); err != nil {
			t.Errorf("start in another repository: %v", err)
		}
		// Expired ones do not count.
		skew.Store(int64(2 * time.Hour))
		for i := range 2 {
			if _, err := c.StartStaged(ctx, m.GUN); err != nil {
				t.Fatalf("start %d after the others expired: %v", i+1, err)
			}
		}
	})
}

// TestDocumentsOneRule: a publish in one request and a staged update store
// a targets document alike: as the metadata package encodes it, which is
// the canonical form of what was sent (white space is no matter). A
// document whose signed bytes differ from that encoding (a digest in
// upper-case hex, which go-tuf, encoding again, would not verify; the
// metadata package refuses it when parsing) is refused by both, and
// nothing is published.
func TestDocumentsOneRule(t *testing.T) {
	for _, staged := range []bool{false, true} {
		t.Run(fmt.Sprintf("staged=%v", staged), func(t *testing.T) {
			ts := newServer(t, openStore(t, "bolt"))
			m := newMaintainer(t, ts, "example.com/asis")
			root := servertest.Sign(t, m.RootDoc(1), m.Root)
			lower := servertest.Sign(t, m.TargetsDoc(1, map[string]string{"a.txt": "hello"}), m.Targets)
			sum := sha256hex("hello")
			upper := resign(t, bytes.Replace(lower, []byte(sum), []byte(strings.ToUpper(sum)), 1), m.Targets)
			spaced := func(doc []byte) []byte {
				return bytes.Replace(doc, []byte(`{"signatures"`), []byte("{ \"signatures\""), 1)
			}
			m.Upload("a.txt", "hello")
			ctx := context.Background()
			c := apiClient(t, ts.URL, m.Token)
			publish := func(targets []byte) error {
				if !staged {
					if code, e, _ := m.Publish(map[string][]byte{"root": root, "targets": targets}); code != 200 {
						return fmt.Errorf("%d %s %s: %s", code, e.Role, e.Check, e.Error)
					}
					return nil
				}
				st, err := c.StartStaged(ctx, m.GUN)
				if err != nil {
					return err
				}
				if _, err := c.UploadStagedPart(ctx, m.GUN, st.ID, [][]byte{root}, map[string][]byte{"targets": targets}); err != nil {
					return err
				}
				_, err = c.CommitStaged(ctx, m.GUN, st.ID, "")
				return err
			}
			if err := publish(spaced(upper)); err == nil || !strings.Contains(err.Error(), "targets") || !strings.Contains(err.Error(), "json") {
				t.Fatalf("a document whose encoding differs from its signed bytes: %v, want a 400 json error about targets", err)
			}
			if _, err := c.Metadata(ctx, m.GUN, "timestamp.json", 1<<20); !errors.Is(err, api.ErrNotFound) {
				t.Fatalf("the refused publish published: %v", err)
			}
			if err := publish(spaced(lower)); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if got, err := c.Metadata(ctx, m.GUN, "1.targets.json", 1<<20); err != nil || !bytes.Equal(got, lower) {
				t.Fatalf("served 1.targets.json = %s (%v), want the canonical form of what was sent", got, err)
			}
			if got, err := newClient(t, ts.URL, m.GUN, root).fetch("a.txt"); err != nil || got != "hello" {
				t.Errorf("go-tuf client: %q, %v", got, err)
			}
		})
	}
}

// resign signs a document's signed bytes as they are (not as the
// metadata package would encode them, nor parsed by it: the document may
// be one it refuses) with s, replacing its signatures. The document is
// one this package's tests wrote: "signed" is its last member.
func resign(t *testing.T, doc []byte, s keys.Signer) []byte {
	t.Helper()
	i := bytes.Index(doc, []byte(`"signed":`))
	if i < 0 || doc[len(doc)-1] != '}' {
		t.Fatalf("resign: %s does not end with its signed member", doc)
	}
	signed := doc[i+len(`"signed":`) : len(doc)-1]
	sig, err := s.Sign(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `{"signatures":[{"keyid":"%s","sig":"%x"}],"signed":%s}`, metadata.NewKey(s.PublicKey()).ID(), sig, signed)
}
