package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-tuf/rampart/internal/atomicfile"
	"github.com/rampart-tuf/rampart/keystore"
	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/repo"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

func ociCommands() []*cobra.Command {
	return []*cobra.Command{newOCICommand()}
}

func newOCICommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oci",
		Short: "Sign and verify OCI artifacts (container images) offline",
		Long: `Sign and verify OCI artifacts with TUF-formatted signatures.

A signature is the targets metadata of a TUF delegated role that lists fully
qualified references (registry.acme-rockets.io/hello-world:v1) with the
length, sha256 digest and media type of the manifest they name. It can carry
the signer's certificate chain ("x5c") and be verified on its own against
contemporary PKI, and it can be registered as a delegation in a TUF
repository ("rampart repo delegate --cert", "rampart repo import-signature")
for update protection.

SUBJECT is file:PATH (a manifest on disk; file:- or no SUBJECT for standard
input when signing), or a registry reference: docker://REF, oci://REF or a
plain registry.example.com/repo:tag or registry.example.com/repo@sha256:...`,
	}
	cmd.AddCommand(newOCISignCommand(), newOCIVerifyCommand())
	return cmd
}

// registryFlags are the flags for reaching a registry.
type registryFlags struct {
	username, password string
	insecure           bool
	mediaType          string
}

func (f *registryFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.username, "username", "u", "", "user name at the registry (default: the Docker credentials file, else anonymous)")
	cmd.Flags().StringVarP(&f.password, "password", "p", "", "password at the registry")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "reach the registry over plain HTTP")
	cmd.Flags().StringVar(&f.mediaType, "media-type", signature.DockerManifestV2, "media type of a manifest read from a file or standard input")
}

func newOCISignCommand() *cobra.Command {
	var (
		keyFile, certFile, base, format, output, expires string
		refs                                             []string
		push                                             bool
		reg                                              registryFlags
	)
	cmd := &cobra.Command{
		Use:   "sign --key KEYFILE [--cert CERT.pem] --reference REF [--reference REF ...] [--expires DURATION] [--base SIG.json] [--format tuf|notary] -o SIG.json [SUBJECT]",
		Short: "Sign an OCI artifact's manifest under fully qualified references",
		Long: `Sign the manifest SUBJECT names under each --reference.

The key is a Rampart key file (encrypted, or a PKCS#11 key reference made by
"rampart key generate" or "rampart key import-pkcs11") or an unencrypted PEM
private key; ed25519, ECDSA and RSA keys sign (RSA as RSASSA-PSS with SHA-256).
With --cert (a PEM file: the leaf certificate, then its intermediates) the
signature carries the chain in "x5c" and names the key by the certificate; a
key that does not match the certificate is refused.

--format notary writes Notary's dialect, as the nv2 prototype did ("_type":
"Targets", signature "method", base64 hashes, the key ID Notary's); both
formats verify. --base adds the references to an earlier signature by the same signer,
keeping its other references, with a new expiry and the next version.
--push stores the signature in the registry next to the artifact.`,
		Args: checkArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(refs) == 0 {
				return usageErrorf("give at least one --reference")
			}
			if keyFile == "" {
				return usageErrorf("--key is required")
			}
			if output == "" && !push {
				return usageErrorf("-o is required (- for standard output), unless --push")
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			life := signature.DefaultExpiry
			if expires != "" {
				var err error
				if life, err = time.ParseDuration(expires); err != nil || life <= 0 {
					return usageErrorf("--expires %q is not a positive duration such as 8760h", expires)
				}
			}
			subj, err := parseSubject(args, true)
			if err != nil {
				return err
			}
			if push && subj.ref == "" {
				return usageErrorf("--push needs a registry SUBJECT, not %s", subj)
			}
			m, err := subj.fetch(cmd, &reg)
			if err != nil {
				return err
			}
			chain, err := readCerts(certFile)
			if err != nil {
				return err
			}
			signer, err := loadOCIKey(cmd, keyFile)
			if err != nil {
				return err
			}
			defer signer.Close()
			doc, err := baseDocument(base, signer, chain)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, r := range refs {
				if err := doc.Add(r, m, now); err != nil {
					return usageError{err}
				}
			}
			if err := doc.Sign(cmd.Context(), signature.SignOptions{Key: signer, Chain: chain, Expires: now.Add(life), Format: format}); err != nil {
				return err
			}
			out, err := doc.Encode()
			if err != nil {
				return err
			}
			if output != "" {
				if err := writeOutput(cmd, output, out); err != nil {
					return err
				}
			}
			if push {
				return subj.push(cmd, out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&keyFile, "key", "k", "", "signing key file")
	f.StringVarP(&certFile, "cert", "c", "", "the signer's certificate chain, PEM, leaf first")
	stringsVar(f, &refs, "reference", "r", false, "fully qualified reference to sign the manifest under (repeatable)")
	f.StringVarP(&expires, "expires", "e", "", "how long the signature stays valid (default 8760h, one year)")
	f.StringVarP(&base, "base", "f", "", "earlier signature to add the references to")
	f.StringVar(&format, "format", "tuf", "signature format: tuf (TUF 1.0 targets metadata) or notary")
	f.StringVarP(&output, "output", "o", "", "where to write the signature (- for standard output)")
	f.BoolVar(&push, "push", false, "store the signature in the registry next to the artifact")
	reg.add(cmd)
	return cmd
}

func checkFormat(format string) error {
	switch format {
	case signature.FormatTUF, signature.FormatNotary:
		return nil
	}
	return usageErrorf("--format %q: want tuf or notary", format)
}

// baseDocument returns the document to sign: a new one, or the earlier
// signature at path, checked and prepared for its next version.
func baseDocument(path string, signer keys.Signer, chain []*x509.Certificate) (*signature.Document, error) {
	if path == "" {
		return signature.New(), nil
	}
	data, err := readLimited(path, signature.MaxSize)
	if err != nil {
		return nil, err
	}
	doc, err := signature.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %w", path, err)
	}
	if err := doc.Extend(signer, chain); err != nil {
		return nil, fmt.Errorf("--base %s: %w", path, err)
	}
	return doc, nil
}

// ociKey is a signing key that may need closing.
type ociKey struct {
	keys.Signer
	close func() error
}

func (k ociKey) Close() error { return k.close() }

// loadOCIKey opens a Rampart key file, or an unencrypted PEM private key as
// nv2 used.
func loadOCIKey(cmd *cobra.Command, path string) (ociKey, error) {
	data, err := readLimited(path, keystore.MaxFileSize)
	if err != nil {
		return ociKey{}, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		priv, err := keys.ParsePrivatePEM(data)
		if err != nil {
			return ociKey{}, fmt.Errorf("%s: %w", path, err)
		}
		s, err := keys.NewSigner(priv, "")
		if err != nil {
			return ociKey{}, fmt.Errorf("%s: %w", path, err)
		}
		return ociKey{s, func() error { return nil }}, nil
	}
	ks := repo.NewEncryptedKeyStore(keystore.EnvOrPrompt(terminalIn(cmd), cmd.ErrOrStderr()), nil)
	s, err := repo.LoadSigner(cmd.Context(), ks, "", path) // the agent's key, when it holds it
	if err != nil {
		return ociKey{}, err
	}
	if c, ok := s.(interface{ Close() error }); ok {
		return ociKey{s, c.Close}, nil
	}
	return ociKey{s, func() error { return nil }}, nil
}

// maxCertFile bounds a PEM certificate file.
const maxCertFile = 1 << 20

// readCerts reads the PEM certificates in path; none when path is empty.
func readCerts(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	data, err := readLimited(path, maxCertFile)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", path)
	}
	return certs, nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllLimited(f, path, limit)
}

func readAllLimited(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than the limit of %d bytes", name, limit)
	}
	return data, nil
}

// writeOutput writes data to path atomically, or to standard output for "-".
func writeOutput(cmd *cobra.Command, path string, data []byte) error {
	if path == "-" {
		_, err := cmd.OutOrStdout().Write(append(data, '\n'))
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o600)
}

func newOCIVerifyCommand() *cobra.Command {
	var (
		sigFile, certFile, caFile, ref, at string
		minVersion                         int64
		anyHost                            bool
		reg                                registryFlags
	)
	cmd := &cobra.Command{
		Use:   "verify --signature SIG.json [--cert CERT.pem] [--ca-cert CA.pem] [--min-version N] [--reference REF] [--at TIME] [SUBJECT]",
		Short: "Verify an OCI artifact's signature, and the manifest against it",
		Long: `Verify a signature and, when SUBJECT is given, the manifest it names.

The signer's certificate is the leaf of the signature's x5c chain, verified
to the roots in --ca-cert, else to --cert (a self-signed leaf), else to the
system's roots; it must be valid (now, or at --at), allow digital signatures
and name in its subject alternative names the registry host of every
reference the signature lists (--any-host lifts this). A signature without
x5c is checked against the keys of the certificates in --cert. The
signature must not have expired and must be at least --min-version.

With SUBJECT, the manifest's length, sha256 digest and media type must match
the target listed for --reference (or for some listed reference without
it). On success the manifest digest is printed. --signature may be omitted
for a registry SUBJECT: the signatures stored next to it are tried.`,
		Args: checkArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := signature.Policy{MinVersion: minVersion, AnyHost: anyHost}
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageErrorf("--at %q is not an RFC 3339 time such as 2020-08-21T00:00:00Z", at)
				}
				p.At = t
			}
			certs, err := readCerts(certFile)
			if err != nil {
				return err
			}
			cas, err := readCerts(caFile)
			if err != nil {
				return err
			}
			p.Certs = certs
			if trusted := cas; len(trusted) > 0 || len(certs) > 0 {
				if len(trusted) == 0 {
					trusted = certs
				}
				p.Roots = x509.NewCertPool()
				for _, c := range trusted {
					p.Roots.AddCert(c)
				}
			}
			var subj *subject
			if len(args) == 1 {
				if subj, err = parseSubject(args, false); err != nil {
					return err
				}
			}
			var sigs [][]byte
			if sigFile != "" {
				data, err := readLimited(sigFile, signature.MaxSize)
				if err != nil {
					return err
				}
				sigs = [][]byte{data}
			}
			return verifyOCI(cmd, subj, sigs, ref, p, &reg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&sigFile, "signature", "s", "", "the signature file")
	f.StringVarP(&certFile, "cert", "c", "", "trusted certificates (PEM): the self-signed leaf, or the keys of signatures without x5c")
	f.StringVar(&caFile, "ca-cert", "", "trusted root certificates (PEM)")
	f.Int64VarP(&minVersion, "min-version", "m", 0, "lowest signature version accepted")
	f.StringVarP(&ref, "reference", "r", "", "reference the signature must list for the manifest")
	f.StringVar(&at, "at", "", "verify as of this time (RFC 3339) instead of now")
	f.BoolVar(&anyHost, "any-host", false, "do not require the signer's certificate to name each reference's registry")
	reg.add(cmd)
	return cmd
}

// verifyOCI verifies the first of sigs that is valid under p (discovering
// them at the registry when none is given) and prints the digest.
func verifyOCI(cmd *cobra.Command, subj *subject, sigs [][]byte, ref string, p signature.Policy, reg *registryFlags) error {
	if len(sigs) == 0 && (subj == nil || subj.ref == "") {
		return usageErrorf("--signature is required unless SUBJECT is in a registry")
	}
	var m *signature.Manifest
	if subj != nil {
		got, err := subj.fetch(cmd, reg)
		if err != nil {
			return err
		}
		m = &got
		if len(sigs) == 0 {
			if sigs, err = subj.remote.signatures(cmd); err != nil {
				return err
			}
			if len(sigs) == 0 {
				return errors.New("no --signature given, and none is stored in the registry for " + subj.String())
			}
		}
	}
	var errs []string
	for i, data := range sigs {
		digests, err := verifyOne(data, m, ref, p)
		if err != nil {
			if len(sigs) == 1 {
				return err
			}
			errs = append(errs, fmt.Sprintf("signature %d: %v", i+1, err))
			continue
		}
		for _, d := range digests {
			fmt.Fprintln(cmd.OutOrStdout(), d)
		}
		return nil
	}
	return fmt.Errorf("none of the %d signatures stored in the registry verifies: %s", len(sigs), strings.Join(errs, "; "))
}

// verifyOne verifies one signature document and, given one, the manifest;
// it returns the digests to print.
func verifyOne(data []byte, m *signature.Manifest, ref string, p signature.Policy) ([]string, error) {
	doc, err := signature.Parse(data)
	if err != nil {
		return nil, err
	}
	if _, err := doc.Verify(p); err != nil {
		return nil, err
	}
	switch {
	case m != nil && ref != "":
		if err := doc.Check(ref, *m); err != nil {
			return nil, err
		}
		return []string{m.Digest()}, nil
	case m != nil:
		if _, err := doc.Match(*m); err != nil {
			return nil, err
		}
		return []string{m.Digest()}, nil
	case ref != "":
		t, err := doc.Target(ref)
		if err != nil {
			return nil, err
		}
		return []string{t.Manifest.Digest()}, nil
	}
	var digests []string
	seen := map[string]bool{}
	for _, r := range doc.References() {
		t, err := doc.Target(r)
		if err != nil {
			return nil, err
		}
		if d := t.Manifest.Digest(); !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	return digests, nil
}
