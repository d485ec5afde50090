// Command bench measures the repository library on a package registry's
// scale: N targets (1,000,000 by default) registered from a manifest into
// 2^BITS succinct hashed bins (4096 by default), signed and published. It
// does the same work through go-tuf v2's Metadata API in the same run, for
// comparison, and then adds one target to the published repository.
//
//	go run ./repo/bench              # 1,000,000 targets, 4096 bins
//	go run ./repo/bench -n 100000 -bits 10
//
// Each measurement runs in a child process of its own, so that peak memory
// (maximum resident set size) is measured separately. Keys are kept
// unencrypted (repo.PlainKeyStore) so that the figures measure metadata
// work, not Argon2 key derivation.
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	gotuf "github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

type result struct {
	Name   string             `json:"name"`
	Phases map[string]float64 `json:"phases"` // seconds
	Total  float64            `json:"total"`
	MaxRSS int64              `json:"max_rss_kib"`
}

func main() {
	n := flag.Int("n", 1_000_000, "number of targets")
	bits := flag.Int("bits", 12, "bin bits (2^bits bins)")
	dir := flag.String("dir", "", "work directory (default: a temporary directory, removed afterwards)")
	child := flag.String("child", "", "internal: run one measurement (rampart, gotuf, add-one)")
	skipGoTUF := flag.Bool("skip-gotuf", false, "measure rampart only")
	flag.Parse()
	if *child != "" {
		if p := os.Getenv("BENCH_CPUPROFILE"); p != "" {
			f, err := os.Create(p + "." + *child)
			if err != nil {
				fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		res, err := runChild(*child, *dir, *bits)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		res.MaxRSS = int64(ru.Maxrss)
		json.NewEncoder(os.Stdout).Encode(res)
		pprof.StopCPUProfile()
		return
	}
	work := *dir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "rampart-bench-"); err != nil {
			fatal(err)
		}
		defer os.RemoveAll(work)
	}
	fmt.Printf("%d targets into %d bins, work directory %s\n", *n, 1<<*bits, work)
	if err := writeManifest(filepath.Join(work, "manifest.tsv"), *n); err != nil {
		fatal(err)
	}
	var results []*result
	names := []string{"rampart", "gotuf", "add-one"}
	if *skipGoTUF {
		names = []string{"rampart", "add-one"}
	}
	for _, name := range names {
		cmd := exec.Command(os.Args[0], "-child", name, "-dir", work, "-bits", strconv.Itoa(*bits))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			fatal(fmt.Errorf("%s: %w", name, err))
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			fatal(err)
		}
		results = append(results, &r)
		fmt.Printf("%-40s %7.2f s  max RSS %6d MiB  %s\n", r.Name, r.Total, r.MaxRSS/1024, phases(r.Phases))
	}
	if !*skipGoTUF {
		fmt.Printf("rampart is %.1fx faster than go-tuf v2's Metadata API and uses %.1fx less memory\n",
			results[1].Total/results[0].Total, float64(results[1].MaxRSS)/float64(results[0].MaxRSS))
	}
}

func phases(p map[string]float64) string {
	var parts []string
	for _, k := range []string{"init", "setup", "add", "place", "sign+write", "publish", "snapshot+timestamp"} {
		if v, ok := p[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fs", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// writeManifest writes n made-up targets.
func writeManifest(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		p := fmt.Sprintf("packages/p%07d/p%07d-1.0.%d.tar.gz", i, i, i%10)
		sum := sha256.Sum256([]byte(p))
		fmt.Fprintf(w, "%s\t%d\t%s\n", p, 1000+i%100000, hex.EncodeToString(sum[:]))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func runChild(name, work string, bits int) (*result, error) {
	switch name {
	case "rampart":
		return runRampart(work, bits)
	case "gotuf":
		return runGoTUF(work, bits)
	case "add-one":
		return runAddOne(work)
	}
	return nil, fmt.Errorf("unknown measurement %q", name)
}

func runRampart(work string, bits int) (*result, error) {
	ctx := context.Background()
	res := &result{Name: "rampart: init, add manifest, publish", Phases: map[string]float64{}}
	start := time.Now()
	lap := func(phase string, t0 time.Time) { res.Phases[phase] = time.Since(t0).Seconds() }
	t0 := time.Now()
	r, err := repo.Init(ctx, filepath.Join(work, "rampart"), repo.InitOptions{Bins: bits}, repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	lap("init", t0)
	t0 = time.Now()
	f, err := os.Open(filepath.Join(work, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := r.AddManifest(ctx, f, 0, repo.AddOptions{}); err != nil {
		return nil, err
	}
	lap("add", t0)
	t0 = time.Now()
	if _, err := r.Publish(ctx, filepath.Join(work, "rampart-pub")); err != nil {
		return nil, err
	}
	lap("publish", t0)
	res.Total = time.Since(start).Seconds()
	return res, nil
}

func runAddOne(work string) (*result, error) {
	ctx := context.Background()
	res := &result{Name: "rampart: add one target, publish", Phases: map[string]float64{}}
	start := time.Now()
	r, err := repo.Open(ctx, filepath.Join(work, "rampart"), repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	t0 := time.Now()
	content := []byte("one more package")
	res2, err := r.Add(ctx, []repo.Target{{Path: "packages/new/new-1.0.tar.gz", File: metadata.NewTargetFile(content, false)}}, repo.AddOptions{})
	if err != nil {
		return nil, err
	}
	res.Phases["add"] = time.Since(t0).Seconds()
	t0 = time.Now()
	pr, err := r.Publish(ctx, filepath.Join(work, "rampart-pub"))
	if err != nil {
		return nil, err
	}
	res.Phases["publish"] = time.Since(t0).Seconds()
	res.Total = time.Since(start).Seconds()
	if len(res2.Roles) != 1 || pr.MetadataFiles != 5 {
		return nil, fmt.Errorf("adding one target changed %d roles and wrote %d metadata files, want 1 role and 5 files (bin, snapshot, timestamp, timestamp.json, root.json)", len(res2.Roles), pr.MetadataFiles)
	}
	return res, nil
}

// runGoTUF does the same work with go-tuf v2's Metadata API, used the way
// its documentation shows: one document at a time.
func runGoTUF(work string, bits int) (*result, error) {
	res := &result{Name: "go-tuf v2 Metadata API: same work", Phases: map[string]float64{}}
	start := time.Now()
	t0 := time.Now()
	out := filepath.Join(work, "gotuf-pub", "metadata")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	expires := time.Now().AddDate(0, 3, 0)
	type keyPair struct {
		signer signature.Signer
		key    *gotuf.Key
	}
	newKey := func() (keyPair, error) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return keyPair{}, err
		}
		s, err := signature.LoadED25519Signer(priv)
		if err != nil {
			return keyPair{}, err
		}
		k, err := gotuf.KeyFromPublicKey(pub)
		return keyPair{s, k}, err
	}
	roles := map[string]keyPair{}
	root := gotuf.Root(expires.AddDate(1, 0, 0))
	for _, role := range []string{"root", "targets", "snapshot", "timestamp", "bins"} {
		kp, err := newKey()
		if err != nil {
			return nil, err
		}
		roles[role] = kp
		if role != "bins" {
			if err := root.Signed.AddKey(kp.key, role); err != nil {
				return nil, err
			}
		}
	}
	targets := gotuf.Targets(expires)
	binsID, err := roles["bins"].key.ID()
	if err != nil {
		return nil, err
	}
	sr := &gotuf.SuccinctRoles{KeyIDs: []string{binsID}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}
	targets.Signed.Delegations = &gotuf.Delegations{Keys: map[string]*gotuf.Key{binsID: roles["bins"].key}, SuccinctRoles: sr}
	bins := map[string]*gotuf.Metadata[gotuf.TargetsType]{}
	for _, name := range sr.GetRoles() {
		bins[name] = gotuf.Targets(expires)
	}
	res.Phases["setup"] = time.Since(t0).Seconds()

	t0 = time.Now()
	f, err := os.Open(filepath.Join(work, "manifest.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("bad manifest line %q", sc.Text())
		}
		length, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return nil, err
		}
		digest, err := hex.DecodeString(fields[2])
		if err != nil {
			return nil, err
		}
		tf := gotuf.TargetFile()
		tf.Path, tf.Length, tf.Hashes = fields[0], length, gotuf.Hashes{"sha256": digest}
		bin := sr.GetRolesForTarget(fields[0])[0].Name
		bins[bin].Signed.Targets[fields[0]] = tf
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	res.Phases["place"] = time.Since(t0).Seconds()

	t0 = time.Now()
	snapshot := gotuf.Snapshot(expires)
	for name, md := range bins {
		if _, err := md.Sign(roles["bins"].signer); err != nil {
			return nil, err
		}
		if err := md.ToFile(filepath.Join(out, "1."+name+".json"), false); err != nil {
			return nil, err
		}
		snapshot.Signed.Meta[name+".json"] = gotuf.MetaFile(1)
	}
	for _, w := range []struct {
		name string
		md   interface {
			ToFile(string, bool) error
		}
		sign func() error
	}{
		{"1.root.json", root, func() error { _, err := root.Sign(roles["root"].signer); return err }},
		{"1.targets.json", targets, func() error { _, err := targets.Sign(roles["targets"].signer); return err }},
	} {
		if err := w.sign(); err != nil {
			return nil, err
		}
		if err := w.md.ToFile(filepath.Join(out, w.name), false); err != nil {
			return nil, err
		}
	}
	res.Phases["sign+write"] = time.Since(t0).Seconds()
	t0 = time.Now()
	if _, err := snapshot.Sign(roles["snapshot"].signer); err != nil {
		return nil, err
	}
	snapBytes, err := snapshot.ToBytes(false)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "1.snapshot.json"), snapBytes, 0o644); err != nil {
		return nil, err
	}
	ts := gotuf.Timestamp(expires)
	sum := sha256.Sum256(snapBytes)
	ts.Signed.Meta["snapshot.json"] = &gotuf.MetaFiles{Version: 1, Length: int64(len(snapBytes)), Hashes: gotuf.Hashes{"sha256": sum[:]}}
	if _, err := ts.Sign(roles["timestamp"].signer); err != nil {
		return nil, err
	}
	if err := ts.ToFile(filepath.Join(out, "timestamp.json"), false); err != nil {
		return nil, err
	}
	res.Phases["snapshot+timestamp"] = time.Since(t0).Seconds()
	res.Total = time.Since(start).Seconds()
	return res, nil
}
