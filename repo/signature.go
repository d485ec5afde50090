package repo

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/rampart-tuf/rampart/oci/signature"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// maxSignatureFile bounds a signature file ImportSignature reads.
const maxSignatureFile = signature.MaxSize

// CertKeys reads the leaf certificate of each PEM file (its first
// certificate) and returns the key objects that name the signer by
// certificate, for DelegateOptions.KeyObjects: a delegation to a signer of
// OCI artifact signatures (see oci/signature).
func CertKeys(files []string) ([]*metadata.Key, error) {
	var ks []*metadata.Key
	for _, f := range files {
		data, err := readBoundedFile(f, 1<<20)
		if err != nil {
			return nil, err
		}
		block, rest := pem.Decode(data)
		for block != nil && block.Type != "CERTIFICATE" {
			block, rest = pem.Decode(rest)
		}
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", f)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		k, err := signature.CertKey(cert)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ks = append(ks, k)
	}
	return ks, nil
}

func readBoundedFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the limit of %d", path, fi.Size(), limit)
	}
	buf := make([]byte, fi.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && fi.Size() > 0 {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return buf, nil
}

// ImportSignature installs data, targets metadata signed elsewhere (such as
// an OCI artifact signature made by "rampart oci sign"), as the metadata of
// the delegated role, exactly as it is: it is never signed again here. It
// must be signed by the threshold of the keys the role is delegated to, list
// only paths the delegation trusts the role for, not have expired, and have
// a higher version than the role's staged metadata (or replace the empty
// version 1 that Delegate makes). Snapshot and timestamp are brought up to
// date in the same commit.
func (r *Repo) ImportSignature(ctx context.Context, role string, data []byte) (version int64, err error) {
	if len(data) > maxSignatureFile {
		return 0, fmt.Errorf("signature of %d bytes is more than the limit of %d", len(data), maxSignatureFile)
	}
	if err := checkRoleName(role); err != nil {
		return 0, err
	}
	if r.cfg.isBin(role) {
		return 0, fmt.Errorf("%q is a hashed bin, whose metadata this repository signs itself", role)
	}
	if d, err := signature.Parse(data); err == nil && d.Format() == signature.FormatNotary {
		return 0, fmt.Errorf("the signature for %s is in Notary's dialect; a TUF 1.0 repository takes signatures made with --format tuf", role)
	}
	md, err := metadata.ParseTargets(data)
	if err != nil {
		return 0, fmt.Errorf("signature for %s: %w", role, err)
	}
	if md.Signed.Delegations != nil && (len(md.Signed.Delegations.Roles) > 0 || md.Signed.Delegations.Succinct != nil) {
		return 0, fmt.Errorf("signature for %s delegates to other roles; only a role's own targets can be imported", role)
	}
	if md.Signed.IsExpired(r.opts.Now()) {
		return 0, fmt.Errorf("signature for %s expired at %s", role, md.Signed.ExpiresText())
	}
	err = r.updateSigned(ctx, func(tx *Tx) (signedFiles, error) {
		return tx.importSigned(role, md, data)
	})
	if err != nil {
		return 0, err
	}
	return md.Signed.Version, nil
}

// importSigned checks data, the metadata md of role signed elsewhere, and
// returns it to be written as it is.
func (tx *Tx) importSigned(role string, md *metadata.Metadata[*metadata.Targets], data []byte) (signedFiles, error) {
	parent, ok := tx.cfg.parentOf(role)
	if !ok {
		return signedFiles{}, fmt.Errorf("role %q: %w", role, ErrNotDelegated)
	}
	pt, err := tx.Peek(parent)
	if err != nil {
		return signedFiles{}, err
	}
	if err := pt.VerifyDelegate(role, md); err != nil {
		return signedFiles{}, fmt.Errorf("signature for %s is not signed by the keys %s delegates it to: %w", role, parent, err)
	}
	d, _ := pt.Delegations.Role(role)
	for p := range md.Signed.Targets {
		if !d.MatchesPath(p) {
			return signedFiles{}, fmt.Errorf("signature for %s lists %q, which %s does not trust %s for", role, p, parent, role)
		}
	}
	cur, err := tx.Peek(role)
	if err != nil {
		return signedFiles{}, err
	}
	placeholder := cur.Version == 1 && len(cur.Targets) == 0 && cur.Delegations == nil
	if v := md.Signed.Version; v <= cur.Version && !placeholder {
		return signedFiles{}, fmt.Errorf("signature for %s is version %d, not newer than the role's version %d", role, v, cur.Version)
	}
	delete(tx.read, role)
	return signedFiles{
		files:    []change{{path: stagedRel(role), data: data}},
		versions: map[string]int64{role: md.Signed.Version},
		renew:    true,
	}, nil
}
