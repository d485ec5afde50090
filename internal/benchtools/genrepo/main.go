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

func generate(out string, n, bits int) error {
	ctx := context.Background()
	expires := time.Now().Add(365 * 24 * time.Hour)
	priv, err := keys.Generate("ed25519")
	if err != nil {
		return err
	}
	signer, err := keys.NewSigner(priv, "")
	if err != nil {
		return err
	}
	key := metadata.NewKey(signer.PublicKey())
	meta := filepath.Join(out, "metadata")
	if err := os.MkdirAll(meta, 0o755); err != nil {
		return err
	}
	write := func(name string, data []byte) error { return os.WriteFile(filepath.Join(meta, name), data, 0o644) }
	sign := func(md interface {
		Sign(context.Context, keys.Signer) (metadata.Signature, error)
		Encode() ([]byte, error)
	}) ([]byte, error) {
		if _, err := md.Sign(ctx, signer); err != nil {
			return nil, err
		}
		return md.Encode()
	}

	root := metadata.NewRoot(expires)
	for _, r := range metadata.TopLevelRoles {
		root.AddKey(r, key)
	}
	rootBytes, err := sign(metadata.New(root))
	if err != nil {
		return err
	}
	if err := write("1.root.json", rootBytes); err != nil {
		return err
	}
	if err := write("root.json", rootBytes); err != nil {
		return err
	}

	fetch := targetPath(n / 2)
	content := []byte("the content of " + fetch + "\n")
	snapshot := metadata.NewSnapshot(expires)
	targets := metadata.NewTargets(expires)
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
	} else {
		succinct := &metadata.SuccinctRoles{KeyIDs: []string{key.ID()}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}
		targets.Delegations = &metadata.Delegations{Keys: map[string]*metadata.Key{key.ID(): key}, Succinct: succinct}
		bins := make([]*metadata.Targets, succinct.NumBins())
		for i := range bins {
			bins[i] = metadata.NewTargets(expires)
		}
		for i := range n {
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
				data, err := sign(metadata.New(bin))
				if err == nil {
					err = write("1."+name+".json", data)
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
		if err := <-errs; err != nil {
			return err
		}
	}
	targetsBytes, err := sign(metadata.New(targets))
	if err != nil {
		return err
	}
	if err := write("1.targets.json", targetsBytes); err != nil {
		return err
	}
	snapshot.Meta["targets.json"] = metadata.MetaFile{Version: 1}
	snapBytes, err := sign(metadata.New(snapshot))
	if err != nil {
		return err
	}
	if err := write("1.snapshot.json", snapBytes); err != nil {
		return err
	}
	ts := metadata.NewTimestamp(expires)
	ts.Meta["snapshot.json"] = metadata.MetaFile{Version: 1, Length: int64(len(snapBytes)), Hashes: metadata.HashesOf(snapBytes, false)}
	tsBytes, err := sign(metadata.New(ts))
	if err != nil {
		return err
	}
	if err := write("timestamp.json", tsBytes); err != nil {
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
