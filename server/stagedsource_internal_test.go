package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rampart-tuf/rampart/server/store"
	"github.com/rampart-tuf/rampart/server/store/bolt"
)

// countingStaging counts the reads of a staged update's documents.
type countingStaging struct {
	store.Staging
	mu            sync.Mutex
	single, batch int
	read          map[string]int
}

func (c *countingStaging) StagedPart(ctx context.Context, gun, id, name string) (store.StagedPart, error) {
	c.mu.Lock()
	c.single++
	c.read[name]++
	c.mu.Unlock()
	return c.Staging.StagedPart(ctx, gun, id, name)
}

func (c *countingStaging) StagedPartsNamed(ctx context.Context, gun, id string, names []string) ([]store.StagedPart, error) {
	c.mu.Lock()
	c.batch++
	for _, n := range names {
		c.read[n]++
	}
	c.mu.Unlock()
	return c.Staging.StagedPartsNamed(ctx, gun, id, names)
}

// TestStagedSourceReadsAhead: documents asked for in order of their names
// by several checkers at once (as the commit's prefetches ask) are read in
// batches of readAheadBytes, each document once: one asked for while the
// batch holding it is read waits for it, and is not read again alone.
// The root of the chain, not among the names, is read alone.
func TestStagedSourceReadsAhead(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "rampart.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const gun, id, n = "example.com/ahead", "0123456789abcdef0123456789abcdef", 400
	now := time.Now()
	if err := st.CreateStaged(ctx, store.Staged{GUN: gun, ID: id, Created: now, Expires: now.Add(time.Hour)}, 1); err != nil {
		t.Fatal(err)
	}
	doc := func(name string) []byte { return bytes.Repeat([]byte(name), 40000/len(name)) }
	var parts []store.StagedPart
	for _, name := range append([]string{store.RootPart(1)}, binNames(n)...) {
		d := doc(name)
		sum := sha256.Sum256(d)
		parts = append(parts, store.StagedPart{Name: name, SHA256: hex.EncodeToString(sum[:]), Length: int64(len(d)), Data: d})
	}
	if err := st.PutStagedParts(ctx, gun, id, parts); err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		parts[i].Data = nil
	}
	c := &countingStaging{Staging: st, read: map[string]int{}}
	src, err := newStagedSource(ctx, c, gun, id, parts)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := src.root(ctx, 0); err != nil || !bytes.Equal(d, doc(store.RootPart(1))) {
		t.Fatalf("root 1: %d bytes, %v", len(d), err)
	}
	names := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for name := range names {
				d, err := src.doc(ctx, name)
				if err == nil && !bytes.Equal(d, doc(name)) {
					err = fmt.Errorf("%s: %d bytes, not the document stored", name, len(d))
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	for _, name := range src.roles() {
		names <- name
	}
	close(names)
	wg.Wait()
	src.stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.single != 1 {
		t.Errorf("%d documents read alone; want 1 (the root)", c.single)
	}
	if want := n*40000/readAheadBytes + 2; c.batch > want {
		t.Errorf("%d batches for %d documents of 40 kB; want at most %d", c.batch, n, want)
	}
	for name, k := range c.read {
		if k != 1 {
			t.Errorf("%s read %d times", name, k)
		}
	}
	if len(c.read) != n+1 {
		t.Errorf("%d documents read, want %d", len(c.read), n+1)
	}
}

func binNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("bins-%03x", i)
	}
	return out
}
