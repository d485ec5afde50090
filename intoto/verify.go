// Package intoto verifies a package's in-toto supply chain from metadata
// that TUF has already verified: the root layout, the public keys that sign
// it and the link metadata of each step, as the in-toto Enhancement ITE-2
// and the CNAB security specification distribute them through TUF.
//
// [Verify] stages those files in a private temporary directory and runs the
// in-toto reference verification of github.com/in-toto/in-toto-golang
// (layout signatures by every given key, layout expiry, step signature
// thresholds, artifact rules), then checks that the package is a product of
// the layout's last step with the digests that step recorded. Layout
// inspections run commands named by the layout; they are refused unless the
// caller allows each by name. Keys are read in securesystemslib's formats by
// [ParsePublicKey]. [Download] is the client's side of ITE-2: it fetches
// the package, its layout, the layout's keys and its links through a TUF
// client, so that each is verified by TUF, and then calls Verify.
package intoto

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/in-toto/in-toto-golang/in_toto"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// MaxMetadataSize bounds a layout or a link file.
const MaxMetadataSize = 16 << 20

// Input is what Verify checks; every part must already be verified by TUF.
type Input struct {
	Layout     []byte            // the root layout
	LayoutKeys [][]byte          // the public keys that must all have signed the layout
	Links      map[string][]byte // link files by name, "<step>.<keyid8>.link"
	Product    string            // the package's name among the last step's products, e.g. "foo-1.0.tar.gz"
	Package    io.Reader         // the package's content
}

// Options change how Verify runs.
type Options struct {
	// AllowInspections names the layout inspections that may run. Any
	// other inspection in the layout fails the verification.
	AllowInspections []string
}

// Result describes a verified supply chain.
type Result struct {
	Steps     []string // the layout's steps, in order
	Expires   string   // the layout's expiry
	LastStep  string   // the step that produced the package
	SHA256    string   // the package's digest, hex
	LayoutIDs []string // the IDs of the keys that signed the layout
}

// Verify checks the package's supply chain. Its errors say which key, step,
// rule or file failed.
func Verify(in Input, opt Options) (*Result, error) {
	layoutKeys, ids, err := parseLayoutKeys(in.LayoutKeys)
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "rampart-in-toto-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	layoutPath, linkDir, err := stageMetadata(stage, in)
	if err != nil {
		return nil, err
	}
	env, err := in_toto.LoadMetadata(layoutPath)
	if err != nil {
		return nil, fmt.Errorf("layout: %w", err)
	}
	layout, ok := env.GetPayload().(in_toto.Layout)
	if !ok {
		return nil, errors.New("layout: the file is in-toto metadata but not a layout")
	}
	if err := checkLayout(in.Layout, env, layout, layoutKeys, opt); err != nil {
		return nil, err
	}
	if err := checkSigners(layout, in.Links); err != nil {
		return nil, err
	}
	digests, err := stagePackage(stage, in, len(layout.Inspect) > 0)
	if err != nil {
		return nil, err
	}
	summary, err := runVerification(layout, linkDir, filepath.Join(stage, "run"))
	if err != nil {
		return nil, err
	}
	last := layout.Steps[len(layout.Steps)-1].Name
	if err := checkProduct(summary, in.Product, last, digests); err != nil {
		return nil, err
	}
	res := &Result{Expires: layout.Expires, LastStep: last, SHA256: digests["sha256"], LayoutIDs: ids}
	for _, s := range layout.Steps {
		res.Steps = append(res.Steps, s.Name)
	}
	return res, nil
}

func parseLayoutKeys(files [][]byte) (map[string]in_toto.Key, []string, error) {
	if len(files) == 0 {
		return nil, nil, errors.New("layout: no public keys to verify it with")
	}
	out := map[string]in_toto.Key{}
	var ids []string
	for i, f := range files {
		k, err := ParsePublicKey(f)
		if err != nil {
			return nil, nil, fmt.Errorf("layout key %d: %w", i+1, err)
		}
		if _, dup := out[k.KeyID]; dup {
			return nil, nil, fmt.Errorf("layout key %d: key %s given twice", i+1, k.KeyID)
		}
		out[k.KeyID] = k
		ids = append(ids, k.KeyID)
	}
	sort.Strings(ids)
	return out, ids, nil
}

// stageMetadata writes the layout and the links into the private directory
// stage and returns the layout's path and the links' directory.
func stageMetadata(stage string, in Input) (layoutPath, linkDir string, err error) {
	if len(in.Layout) > MaxMetadataSize {
		return "", "", fmt.Errorf("layout: %d bytes exceeds %d", len(in.Layout), MaxMetadataSize)
	}
	layoutPath = filepath.Join(stage, "root.layout")
	if err := os.WriteFile(layoutPath, in.Layout, 0o600); err != nil {
		return "", "", err
	}
	linkDir = filepath.Join(stage, "links")
	if err := os.Mkdir(linkDir, 0o700); err != nil {
		return "", "", err
	}
	for name, data := range in.Links {
		if err := CheckLinkName(name); err != nil {
			return "", "", err
		}
		if len(data) > MaxMetadataSize {
			return "", "", fmt.Errorf("link %s: %d bytes exceeds %d", name, len(data), MaxMetadataSize)
		}
		if err := os.WriteFile(filepath.Join(linkDir, name), data, 0o600); err != nil {
			return "", "", err
		}
	}
	return layoutPath, linkDir, nil
}

// CheckLinkName checks that name is a link file name, "<step>.<keyid8>.link",
// with no directory part.
func CheckLinkName(name string) error {
	step, keyid, ok := SplitLinkName(name)
	if !ok || strings.ContainsAny(step, `/\`) || strings.HasPrefix(step, ".") {
		return fmt.Errorf("link %q: not a link file name <step>.<keyid8>.link", name)
	}
	if _, err := hex.DecodeString(keyid); err != nil {
		return fmt.Errorf("link %q: %q is not 8 hex digits of a key ID", name, keyid)
	}
	return nil
}

// SplitLinkName splits "<step>.<keyid8>.link" into the step name and the
// key ID prefix.
func SplitLinkName(name string) (step, keyid string, ok bool) {
	base, ok := strings.CutSuffix(name, ".link")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(base, '.')
	if i < 1 || len(base)-i-1 != 8 {
		return "", "", false
	}
	return base[:i], base[i+1:], true
}

// checkLayout checks the layout itself (signatures by every TUF-delivered
// key, expiry, steps) and refuses inspections not allowed.
func checkLayout(raw []byte, env in_toto.Metadata, layout in_toto.Layout, keys map[string]in_toto.Key, opt Options) error {
	for _, id := range sortedIDs(keys) {
		if err := verifyLayoutSignature(raw, env, keys[id]); err != nil {
			return fmt.Errorf("layout: not signed by TUF-delivered key %s: %w", id, err)
		}
	}
	if err := in_toto.VerifyLayoutExpiration(layout); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	if len(layout.Steps) == 0 {
		return errors.New("layout: has no steps, so nothing produced the package")
	}
	for _, insp := range layout.Inspect {
		if !slices.Contains(opt.AllowInspections, insp.Name) {
			return fmt.Errorf("layout: inspection %q would run %q: not allowed (allow inspections by name to run them)",
				insp.Name, strings.Join(insp.Run, " "))
		}
	}
	return nil
}

// verifyLayoutSignature checks the layout's signature by key. A DSSE
// envelope signs its payload bytes, which in-toto-golang checks as they
// are. A classic metablock signs the canonical JSON of its "signed" object,
// which in-toto-golang rebuilds from its own structs, and that loses
// members: python in-toto writes a functionary's RSA key with
// "private": "", which in-toto-golang's omitempty drops, so its check fails
// on every layout made with in-toto-keygen's RSA keys. So the signature is
// checked here over the canonical form of the bytes received, with
// tuf/keys.
func verifyLayoutSignature(raw []byte, env in_toto.Metadata, key in_toto.Key) error {
	if _, dsse := env.(*in_toto.Envelope); dsse {
		return env.VerifySignature(key)
	}
	var mb struct {
		Signatures []in_toto.Signature `json:"signatures"`
		Signed     json.RawMessage     `json:"signed"`
	}
	if err := json.Unmarshal(raw, &mb); err != nil {
		return err
	}
	msg, err := canonjson.Canonicalize(mb.Signed)
	if err != nil {
		return err
	}
	v, err := keys.NewVerifier(keys.PublicKey{Type: key.KeyType, Scheme: key.Scheme, Value: key.KeyVal.Public})
	if err != nil {
		return err
	}
	for _, sig := range mb.Signatures {
		if sig.KeyID != key.KeyID {
			continue
		}
		b, err := hex.DecodeString(sig.Sig)
		if err != nil {
			return fmt.Errorf("signature is not hex: %w", err)
		}
		return v.Verify(msg, b)
	}
	return errors.New("the layout has no signature by this key")
}

// checkSigners names the link that in-toto would only count as missing: one
// whose file name says it is signed by a key the layout does not authorize
// for its step. (Layouts that admit functionaries by certificate are left
// to in-toto.)
func checkSigners(layout in_toto.Layout, links map[string][]byte) error {
	if len(layout.RootCas) > 0 {
		return nil
	}
	for name := range links {
		stepName, keyid, _ := SplitLinkName(name)
		i := slices.IndexFunc(layout.Steps, func(s in_toto.Step) bool { return s.Name == stepName })
		if i < 0 {
			continue
		}
		if !slices.ContainsFunc(layout.Steps[i].PubKeys, func(id string) bool { return strings.HasPrefix(id, keyid) }) {
			return fmt.Errorf("link %s: signed by key %s..., which the layout does not authorize for step %q", name, keyid, stepName)
		}
	}
	return nil
}

func sortedIDs(keys map[string]in_toto.Key) []string {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// stagePackage hashes the package and, when the layout has inspections to
// run, writes it into the inspections' run directory.
func stagePackage(stage string, in Input, forInspections bool) (map[string]string, error) {
	if in.Package == nil || in.Product == "" {
		return nil, errors.New("package: no content or no product name")
	}
	hs := map[string]hash.Hash{"sha256": sha256.New(), "sha384": sha512.New384(), "sha512": sha512.New()}
	w := io.MultiWriter(hs["sha256"], hs["sha384"], hs["sha512"])
	var f *os.File
	if forInspections {
		if !filepath.IsLocal(filepath.FromSlash(in.Product)) {
			return nil, fmt.Errorf("package: product name %q leaves the run directory", in.Product)
		}
		p := filepath.Join(stage, "run", filepath.FromSlash(in.Product))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		var err error
		if f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
			return nil, err
		}
		defer f.Close()
		w = io.MultiWriter(w, f)
	}
	if _, err := io.Copy(w, in.Package); err != nil {
		return nil, fmt.Errorf("package: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	out := map[string]string{}
	for name, h := range hs {
		out[name] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

// runVerification runs in-toto verification after the layout's own checks:
// the steps of in-toto-golang's InTotoVerify from loading the links on, each
// a function of that library, in its order. (InTotoVerify itself would
// check the layout's signatures again, the way verifyLayoutSignature
// explains it cannot.) The step-command comparison, which only prints
// warnings, is left out.
func runVerification(layout in_toto.Layout, linkDir, runDir string) (in_toto.Metadata, error) {
	fail := func(what string, err error) (in_toto.Metadata, error) {
		return nil, fmt.Errorf("in-toto verification: %s: %w", what, err)
	}
	layout, err := in_toto.SubstituteParameters(layout, nil)
	if err != nil {
		return fail("parameters", err)
	}
	rootCerts, intermediateCerts, err := in_toto.LoadLayoutCertificates(layout, nil)
	if err != nil {
		return fail("certificates", err)
	}
	links, err := in_toto.LoadLinksForLayout(layout, linkDir)
	if err != nil {
		return fail("links", err)
	}
	links, err = in_toto.VerifyLinkSignatureThesholds(layout, links, rootCerts, intermediateCerts)
	if err != nil {
		return fail("link signatures", err)
	}
	links, err = in_toto.VerifySublayouts(layout, links, linkDir, nil, false)
	if err != nil {
		return fail("sublayouts", err)
	}
	reduced, err := in_toto.ReduceStepsMetadata(layout, links)
	if err != nil {
		return fail("links", err)
	}
	if err := in_toto.VerifyArtifacts(items(layout.Steps), reduced); err != nil {
		return fail("artifact rules", err)
	}
	inspected, err := runInspections(layout, runDir)
	if err != nil {
		return fail("inspections", err)
	}
	for name, link := range reduced {
		inspected[name] = link
	}
	if err := in_toto.VerifyArtifacts(items(layout.Inspect), inspected); err != nil {
		return fail("artifact rules", err)
	}
	return in_toto.GetSummaryLink(layout, reduced, "", false)
}

// runInspections runs the layout's inspections in runDir, as
// in_toto.RunInspections does, except that it records artifacts by their
// paths relative to runDir (RunInspections records them under runDir's
// absolute path, which no rule can match) and writes no link file into the
// process's working directory.
func runInspections(layout in_toto.Layout, runDir string) (map[string]in_toto.Metadata, error) {
	out := map[string]in_toto.Metadata{}
	strip := []string{runDir + string(filepath.Separator)}
	for _, insp := range layout.Inspect {
		env, err := in_toto.InTotoRun(insp.Name, runDir, []string{runDir}, []string{runDir}, insp.Run,
			in_toto.Key{}, []string{"sha256"}, nil, strip, false, false, false)
		if err != nil {
			return nil, fmt.Errorf("inspection %q: %w", insp.Name, err)
		}
		link, ok := env.GetPayload().(in_toto.Link)
		if !ok {
			return nil, fmt.Errorf("inspection %q: no link", insp.Name)
		}
		if rv := link.ByProducts["return-value"]; rv != float64(0) {
			return nil, fmt.Errorf("inspection %q: %q exited with %v", insp.Name, strings.Join(insp.Run, " "), rv)
		}
		out[insp.Name] = env
	}
	return out, nil
}

// items is what VerifyArtifacts takes: steps or inspections, as []any.
func items[T any](s []T) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// checkProduct checks that the package is what the last step produced.
func checkProduct(summary in_toto.Metadata, product, last string, digests map[string]string) error {
	link, ok := summary.GetPayload().(in_toto.Link)
	if !ok {
		return errors.New("in-toto verification: no summary of the supply chain")
	}
	recorded, ok := link.Products[product]
	if !ok {
		return fmt.Errorf("package %s: not among the products of the last step %q", product, last)
	}
	matched := 0
	for alg, want := range recorded {
		got, known := digests[alg]
		if !known {
			continue
		}
		if !strings.EqualFold(got, want) {
			return fmt.Errorf("package %s: %s %s, but step %q produced %s", product, alg, got, last, want)
		}
		matched++
	}
	if matched == 0 {
		return fmt.Errorf("package %s: step %q recorded no sha256, sha384 or sha512 digest of it", product, last)
	}
	return nil
}
