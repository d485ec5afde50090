// Command bench measures the repository library on a package registry's
// scale: N targets (1,000,000 by default) registered from a manifest into
// 2^BITS succinct hashed bins (4096 by default), signed and published. It
// does the same work through go-tuf v2's Metadata API in the same run, for
// comparison, and then adds one target to the published repository. Last,
// it clones the published repository (repo.Clone) and pulls it into a copy
// of the repository as it was before the manifest (Repo.PullFromServer),
// reading the published directory through a read-only repo.MetadataServer.
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
	"slices"
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
	CPU    float64            `json:"cpu"`             // user and system seconds
	Roles  int                `json:"roles,omitempty"` // roles cloned or pulled
}

func main() {
	n := flag.Int("n", 1_000_000, "number of targets")
	bits := flag.Int("bits", 12, "bin bits (2^bits bins)")
	dir := flag.String("dir", "", "work directory (default: a temporary directory, removed afterwards)")
	child := flag.String("child", "", "internal: run one measurement (rampart, gotuf, add-one, clone, pull)")
	skipGoTUF := flag.Bool("skip-gotuf", false, "measure rampart only")
	manifestOnly := flag.String("write-manifest", "", "only write the manifest of n targets to `FILE` (for scripts/bench-bulk.sh)")
	flag.Parse()
	if *manifestOnly != "" {
		if err := writeManifest(*manifestOnly, *n); err != nil {
			fatal(err)
		}
		return
	}
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
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
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
	names := []string{"rampart", "gotuf", "add-one", "clone", "pull"}
	if *skipGoTUF {
		names = slices.DeleteFunc(names, func(n string) bool { return n == "gotuf" })
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
		what := phases(r.Phases)
		if r.Roles > 0 {
			what = fmt.Sprintf("%d roles", r.Roles)
		}
		fmt.Printf("%-40s %7.2f s (CPU %6.2f s)  max RSS %6d MiB  %s\n", r.Name, r.Total, r.CPU, r.MaxRSS/1024, what)
	}
	if !*skipGoTUF {
		fmt.Printf("rampart is %.1fx faster than go-tuf v2's Metadata API (%.1fx in CPU time) and uses %.1fx less memory (peak RSS %d MiB)\n",
			results[1].Total/results[0].Total, results[1].CPU/results[0].CPU, float64(results[1].MaxRSS)/float64(results[0].MaxRSS), results[0].MaxRSS/1024)
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
	case "clone":
		return runClone(work)
	case "pull":
		return runPull(work)
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
	// A copy of the new repository, for the pull measurement.
	if err := os.CopyFS(filepath.Join(work, "rampart-init"), os.DirFS(r.Dir())); err != nil {
		return nil, err
	}
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

// runClone clones the published repository from its directory.
func runClone(work string) (*result, error) {
	ctx := context.Background()
	res := &result{Name: "rampart: clone the published repository", Phases: map[string]float64{}}
	start := time.Now()
	pub := filepath.Join(work, "rampart-pub")
	root1, err := os.ReadFile(filepath.Join(pub, "metadata", "1.root.json"))
	if err != nil {
		return nil, err
	}
	r, pr, err := repo.Clone(ctx, filepath.Join(work, "rampart-clone"), repo.CloneOptions{Server: dirServer{pub}, GUN: "bench", Root: root1}, repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res.Total = time.Since(start).Seconds()
	res.Roles = len(pr.Roles)
	return res, nil
}

// runPull pulls the published repository into a copy of the repository
// made right after init, which then names the published directory as its
// server: every bin is pulled.
func runPull(work string) (*result, error) {
	ctx := context.Background()
	res := &result{Name: "rampart: pull the published repository", Phases: map[string]float64{}}
	dir := filepath.Join(work, "rampart-init")
	cfgPath := filepath.Join(dir, "repo.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, err
	}
	pub := filepath.Join(work, "rampart-pub")
	cfg["server"] = map[string]string{"url": "file://" + pub, "gun": "bench"}
	if raw, err = json.Marshal(cfg); err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, raw, 0o644); err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := repo.Open(ctx, dir, repo.Options{Keys: repo.PlainKeyStore{}})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	pr, err := r.PullFromServer(ctx, dirServer{pub})
	if err != nil {
		return nil, err
	}
	res.Total = time.Since(start).Seconds()
	res.Roles = len(pr.Roles)
	return res, nil
}

// runGoTUF does the same work with go-tuf v2's Metadata API, used the way
// its documentation shows: one document at a time.
func runGoTUF(work string, bits int) (*result, error) {
	res := &result{Name: "go-tuf v2 Metadata API: same work", Phases: map[string]float64{}}
	start := time.Now()
	lap := func(phase string, t0 time.Time) { res.Phases[phase] = time.Since(t0).Seconds() }
	t0 := time.Now()
	out := filepath.Join(work, "gotuf-pub", "metadata")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	g, err := newGoTUFRepo(bits)
	if err != nil {
		return nil, err
	}
	lap("setup", t0)
	t0 = time.Now()
	if err := g.place(filepath.Join(work, "manifest.tsv")); err != nil {
		return nil, err
	}
	lap("place", t0)
	t0 = time.Now()
	if err := g.signAndWrite(out); err != nil {
		return nil, err
	}
	lap("sign+write", t0)
	t0 = time.Now()
	if err := g.snapshotAndTimestamp(out); err != nil {
		return nil, err
	}
	lap("snapshot+timestamp", t0)
	res.Total = time.Since(start).Seconds()
	return res, nil
}

type goTUFKey struct {
	signer signature.Signer
	key    *gotuf.Key
}

// goTUFRepo is the repository built with go-tuf: keys by role, root,
// targets delegating to succinct hashed bins, and the bins.
type goTUFRepo struct {
	expires time.Time
	keys    map[string]goTUFKey
	root    *gotuf.Metadata[gotuf.RootType]
	targets *gotuf.Metadata[gotuf.TargetsType]
	sr      *gotuf.SuccinctRoles
	bins    map[string]*gotuf.Metadata[gotuf.TargetsType]
	snap    *gotuf.Metadata[gotuf.SnapshotType]
}

func newGoTUFKey() (goTUFKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return goTUFKey{}, err
	}
	s, err := signature.LoadED25519Signer(priv)
	if err != nil {
		return goTUFKey{}, err
	}
	k, err := gotuf.KeyFromPublicKey(pub)
	return goTUFKey{s, k}, err
}

func newGoTUFRepo(bits int) (*goTUFRepo, error) {
	g := &goTUFRepo{expires: time.Now().AddDate(0, 3, 0), keys: map[string]goTUFKey{}, bins: map[string]*gotuf.Metadata[gotuf.TargetsType]{}}
	g.root = gotuf.Root(g.expires.AddDate(1, 0, 0))
	for _, role := range []string{"root", "targets", "snapshot", "timestamp", "bins"} {
		kp, err := newGoTUFKey()
		if err != nil {
			return nil, err
		}
		g.keys[role] = kp
		if role != "bins" {
			if err := g.root.Signed.AddKey(kp.key, role); err != nil {
				return nil, err
			}
		}
	}
	g.targets = gotuf.Targets(g.expires)
	binsID, err := g.keys["bins"].key.ID()
	if err != nil {
		return nil, err
	}
	g.sr = &gotuf.SuccinctRoles{KeyIDs: []string{binsID}, Threshold: 1, BitLength: bits, NamePrefix: "bins"}
	g.targets.Signed.Delegations = &gotuf.Delegations{Keys: map[string]*gotuf.Key{binsID: g.keys["bins"].key}, SuccinctRoles: g.sr}
	for _, name := range g.sr.GetRoles() {
		g.bins[name] = gotuf.Targets(g.expires)
	}
	return g, nil
}

// place reads the manifest and lists each target in its bin.
func (g *goTUFRepo) place(manifest string) error {
	f, err := os.Open(manifest)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			return fmt.Errorf("bad manifest line %q", sc.Text())
		}
		length, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return err
		}
		digest, err := hex.DecodeString(fields[2])
		if err != nil {
			return err
		}
		tf := gotuf.TargetFile()
		tf.Path, tf.Length, tf.Hashes = fields[0], length, gotuf.Hashes{"sha256": digest}
		bin := g.sr.GetRolesForTarget(fields[0])[0].Name
		g.bins[bin].Signed.Targets[fields[0]] = tf
	}
	return sc.Err()
}

// signAndWrite signs and writes the bins, root and targets, and lists the
// bins in a new snapshot.
func (g *goTUFRepo) signAndWrite(out string) error {
	g.snap = gotuf.Snapshot(g.expires)
	for name, md := range g.bins {
		if _, err := md.Sign(g.keys["bins"].signer); err != nil {
			return err
		}
		if err := md.ToFile(filepath.Join(out, "1."+name+".json"), false); err != nil {
			return err
		}
		g.snap.Signed.Meta[name+".json"] = gotuf.MetaFile(1)
	}
	if _, err := g.root.Sign(g.keys["root"].signer); err != nil {
		return err
	}
	if err := g.root.ToFile(filepath.Join(out, "1.root.json"), false); err != nil {
		return err
	}
	if _, err := g.targets.Sign(g.keys["targets"].signer); err != nil {
		return err
	}
	return g.targets.ToFile(filepath.Join(out, "1.targets.json"), false)
}

// snapshotAndTimestamp signs and writes snapshot and the timestamp for it.
func (g *goTUFRepo) snapshotAndTimestamp(out string) error {
	if _, err := g.snap.Sign(g.keys["snapshot"].signer); err != nil {
		return err
	}
	snapBytes, err := g.snap.ToBytes(false)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "1.snapshot.json"), snapBytes, 0o644); err != nil {
		return err
	}
	ts := gotuf.Timestamp(g.expires)
	sum := sha256.Sum256(snapBytes)
	ts.Signed.Meta["snapshot.json"] = &gotuf.MetaFiles{Version: 1, Length: int64(len(snapBytes)), Hashes: gotuf.Hashes{"sha256": sum[:]}}
	if _, err := ts.Sign(g.keys["timestamp"].signer); err != nil {
		return err
	}
	return ts.ToFile(filepath.Join(out, "timestamp.json"), false)
}
