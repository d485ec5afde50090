// Command genrepo writes a signed TUF repository with many targets for
// benchmarks: flat (all targets in targets.json) or in succinct hashed bins.
// Only the target named by -fetch has content on disk; the others are
// registered by length and hash.
//
//	genrepo -out DIR -targets 100000 [-bins 12]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

func main() {
	out := flag.String("out", "", "output directory (gets metadata/ and targets/)")
	n := flag.Int("targets", 100000, "number of targets")
	bits := flag.Int("bins", 0, "succinct hashed bins bit length (0: all targets in targets.json)")
	flag.Parse()
	if *out == "" {
		log.Fatal("-out is required")
	}
	if err := generate(*out, *n, *bits); err != nil {
		log.Fatal(err)
	}
}

// TargetPath returns the path of target i.
func targetPath(i int) string {
	return fmt.Sprintf("project-%06d/releases/v%d.%d.%d/artifact-%06d.tar.gz", i, i%7, i%11, i%13, i)
}

// gen writes the metadata of the repository, all signed by one key.
type gen struct {
	ctx     context.Context
	signer  keys.Signer
	key     *metadata.Key
	meta    string // the metadata directory
	expires time.Time
}

// write writes a metadata file.
func (g *gen) write(name string, data []byte) error {
	return os.WriteFile(filepath.Join(g.meta, name), data, 0o644)
}

// sign signs md with the key and encodes it.
func (g *gen) sign(md interface {
	Sign(context.Context, keys.Signer) (metadata.Signature, error)
	Encode() ([]byte, error)
}) ([]byte, error) {
	if _, err := md.Sign(g.ctx, g.signer); err != nil {
		return nil, err
	}
	return md.Encode()
}

func generate(out string, n, bits int) error {
	priv, err := keys.Generate("ed25519")
	if err != nil {
		return err
	}
	signer, err := keys.NewSigner(priv, "")
	if err != nil {
		return err
	}
	g := &gen{ctx: context.Background(), signer: signer, key: metadata.NewKey(signer.PublicKey()),
		meta: filepath.Join(out, "metadata"), expires: time.Now().Add(365 * 24 * time.Hour)}
	if err := os.MkdirAll(g.meta, 0o755); err != nil {
		return err
	}

	root := metadata.NewRoot(g.expires)
	for _, r := range metadata.TopLevelRoles {
		root.AddKey(r, g.key)
	}
	rootBytes, err := g.sign(metadata.New(root))
	if err != nil {
		return err
	}
	if err := g.write("1.root.json", rootBytes); err != nil {
		return err
	}
	if err := g.write("root.json", rootBytes); err != nil {
		return err
	}

	fetch := targetPath(n / 2)
	content := []byte("the content of " + fetch + "\n")
	snapshot := metadata.NewSnapshot(g.expires)
	targets := metadata.NewTargets(g.expires)
	files := make([]metadata.TargetFile, n)
	for i := range n {
		p := targetPath(i)
		if p == fetch {
			files[i] = metadata.NewTargetFile(content, false)
		} else {
			files[i] = metadata.NewTargetFile([]byte(p), false)
		}
	}
	if bits == 0 {
		for i := range n {
			targets.Targets[targetPath(i)] = files[i]
		}
	} else if err := g.writeBins(targets, snapshot, files, bits); err != nil {
		return err
	}
	targetsBytes, err := g.sign(metadata.New(targets))
	if err != nil {
		return err
	}
	if err := g.write("1.targets.json", targetsBytes); err != nil {
		return err
	}
	snapshot.Meta["targets.json"] = metadata.MetaFile{Version: 1}
	snapBytes, err := g.sign(metadata.New(snapshot))
	if err != nil {
		return err
	}
	if err := g.write("1.snapshot.json", snapBytes); err != nil {
		return err
	}
	ts := metadata.NewTimestamp(g.expires)
	ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 1, Length: int64(len(snapBytes)), Hashes: metadata.HashesOf(snapBytes, false)}
	tsBytes, err := g.sign(metadata.New(ts))
	if err != nil {
		return err
	}
	if err := g.write("timestamp.json", tsBytes); err != nil {
		return err
	}
	tf := files[n/2]
	dst := filepath.Join(out, "targets", filepath.FromSlash(tf.ConsistentPath(fetch)))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(dst, content, 0o644); err != nil {
		return err
	}
	fmt.Println(fetch)
	return nil
}

// writeBins delegates the targets (files[i] at targetPath(i)) to 2^bits
// succinct hashed bins, writes the bins in parallel and lists them in
// snapshot.
func (g *gen) writeBins(targets *metadata.Targets, snapshot *metadata.Snapshot, files []metadata.TargetFile, bits int) error {
	key := g.key
	succinct := &metadata.SuccinctRoles{KeyIDs: []string{key.ID()}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}
	targets.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{key.ID(): key}, Succinct: succinct}
	bins := make([]*metadata.Targets, succinct.NumBins())
	for i := range bins {
		bins[i] = metadata.NewTargets(g.expires)
	}
	for i := range files {
		p := targetPath(i)
		bins[succinct.BinFor(p)].Targets[p] = files[i]
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(bins))
	sem := make(chan struct{}, runtime.NumCPU())
	for i, bin := range bins {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			name := succinct.BinName(i)
			data, err := g.sign(metadata.New(bin))
			if err == nil {
				err = g.write("1."+name+".json", data)
			}
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			snapshot.Meta[name+".json"] = metadata.MetaFile{Version: 1}
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
