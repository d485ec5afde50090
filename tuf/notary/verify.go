package notary

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// ThresholdError reports a document without enough valid signatures. Problems
// lists why each signature that did not count was rejected.
type ThresholdError struct {
	Type      string
	Valid     int
	Threshold int
	Problems  []string
}

func (e *ThresholdError) Error() string {
	s := fmt.Sprintf("notary: %s: %d valid signatures of %d needed", e.Type, e.Valid, e.Threshold)
	if len(e.Problems) > 0 {
		s += " (" + strings.Join(e.Problems, "; ") + ")"
	}
	return s
}

// ErrThreshold is matched by every *ThresholdError with errors.Is.
var ErrThreshold = errors.New("signature threshold not met")

func (e *ThresholdError) Is(target error) bool { return target == ErrThreshold }

// Verify checks that signatures by at least role.Threshold distinct keys of
// role.KeyIDs, found in ks, are valid over d.Signed. Keys are counted by
// their key material, so one key listed twice (as a certificate and as a
// plain key, say) counts once. A signature's method must be one Notary uses
// for the key's type. See the package documentation for the bytes checked.
func (d *Document) Verify(ks map[string]Key, role RoleKeys) error {
	if role.Threshold < 1 {
		return fmt.Errorf("notary: %s: threshold %d is less than 1", d.Type, role.Threshold)
	}
	e := &ThresholdError{Type: d.Type, Threshold: role.Threshold}
	seen := map[string]bool{}
	var canon []byte
	for _, s := range d.Signatures {
		fail := func(format string, args ...any) {
			e.Problems = append(e.Problems, "key "+s.KeyID[:min(8, len(s.KeyID))]+": "+fmt.Sprintf(format, args...))
		}
		if !slices.Contains(role.KeyIDs, s.KeyID) {
			continue // signatures by other keys neither count nor fail
		}
		k, ok := ks[s.KeyID]
		if !ok {
			fail("not in the keys given")
			continue
		}
		v, err := k.Verifier()
		if err != nil {
			fail("%v", err)
			continue
		}
		if seen[v.Identity()] {
			continue
		}
		err = verifySig(k, v, s, d.Signed)
		if err != nil && errors.Is(err, keys.ErrVerification) {
			if canon == nil {
				c, cerr := canonjson.Canonicalize(d.Signed)
				if cerr != nil {
					return fmt.Errorf("notary: %s: signed: %w", d.Type, cerr)
				}
				canon = c
			}
			if string(canon) != string(d.Signed) {
				err = verifySig(k, v, s, canon)
			}
		}
		if err != nil {
			fail("%v", err)
			continue
		}
		seen[v.Identity()] = true
	}
	e.Valid = len(seen)
	if e.Valid < e.Threshold {
		return e
	}
	return nil
}

// verifySig checks one signature by key k (whose verifier is v) over msg.
func verifySig(k Key, v keys.Verifier, s Signature, msg []byte) error {
	var want []string
	switch k.Type {
	case KeyTypeEd25519:
		want = []string{MethodEdDSA}
	case KeyTypeECDSA, KeyTypeECDSAX509:
		want = []string{MethodECDSA}
	default:
		want = []string{MethodRSAPSS, MethodPyCryptoPSS, MethodRSAPKCS1v15}
	}
	if !slices.Contains(want, s.Method) {
		return fmt.Errorf("method %q is not one for a %s key", short(s.Method), k.Type)
	}
	if s.Method != MethodRSAPKCS1v15 {
		return v.Verify(msg, s.Sig)
	}
	pub := v.Public().(*rsa.PublicKey)
	sum := sha256.Sum256(msg)
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], s.Sig) != nil {
		return fmt.Errorf("rsapkcs1v15: %w", keys.ErrVerification)
	}
	return nil
}
