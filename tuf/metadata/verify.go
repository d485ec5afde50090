package metadata

import (
	"fmt"
	"slices"
	"strings"
)

// SignatureReport says which keys of a role signed a document validly.
type SignatureReport struct {
	Role      string
	Threshold int
	Valid     []string         // key IDs whose signatures count, one per distinct key
	Invalid   map[string]error // key IDs of the role whose signatures did not verify, and why
	Missing   []string         // key IDs of the role that have not signed
}

// Met reports whether the threshold is reached.
func (r *SignatureReport) Met() bool { return len(r.Valid) >= r.Threshold }

// ThresholdError reports a document without enough valid signatures.
type ThresholdError struct {
	Report *SignatureReport
}

func (e *ThresholdError) Error() string {
	r := e.Report
	msg := fmt.Sprintf("role %q: %d of the %d required signatures are valid", r.Role, len(r.Valid), r.Threshold)
	if len(r.Invalid) > 0 {
		var parts []string
		for _, id := range sortedKeys(r.Invalid) {
			parts = append(parts, fmt.Sprintf("%s: %v", short(id), r.Invalid[id]))
		}
		msg += "; invalid signatures: " + strings.Join(parts, ", ")
	}
	return msg
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// CheckSignatures checks the signatures on doc against the keys trusted for
// role. Each distinct public key counts once, however many key IDs list it
// and however many times it signed.
func CheckSignatures(role string, doc Signed, keyIDs []string, keys map[string]*Key, threshold int) *SignatureReport {
	rep := &SignatureReport{Role: role, Threshold: threshold}
	payload := doc.SignedBytes()
	sigs := doc.SignatureList()
	counted := make(map[string]bool, len(sigs))
	signed := make(map[string]bool, len(sigs))
	for _, sig := range sigs {
		if !slices.Contains(keyIDs, sig.KeyID) {
			continue // not a key of this role: ignored, as the spec requires
		}
		key, ok := keys[sig.KeyID]
		if !ok {
			continue
		}
		v, err := key.Verifier()
		if err != nil {
			setInvalid(rep, sig.KeyID, err)
			continue
		}
		id := v.Identity()
		if counted[id] {
			signed[sig.KeyID] = true
			continue
		}
		if err := v.Verify(payload, sig.Value); err != nil {
			setInvalid(rep, sig.KeyID, err)
			continue
		}
		counted[id] = true
		signed[sig.KeyID] = true
		rep.Valid = append(rep.Valid, sig.KeyID)
	}
	for _, id := range keyIDs {
		if !signed[id] && rep.Invalid[id] == nil {
			rep.Missing = append(rep.Missing, id)
		}
	}
	return rep
}

func setInvalid(rep *SignatureReport, keyID string, err error) {
	if rep.Invalid == nil {
		rep.Invalid = map[string]error{}
	}
	rep.Invalid[keyID] = err
}

// VerifySignatures returns a *ThresholdError unless doc carries valid
// signatures by at least threshold distinct keys among keyIDs.
func VerifySignatures(role string, doc Signed, keyIDs []string, keys map[string]*Key, threshold int) error {
	if threshold < 1 {
		return fmt.Errorf("role %q: threshold %d is less than 1", role, threshold)
	}
	rep := CheckSignatures(role, doc, keyIDs, keys, threshold)
	if !rep.Met() {
		return &ThresholdError{Report: rep}
	}
	return nil
}

// VerifyRole checks that doc is signed by the threshold of keys that root
// trusts for the top-level role.
func (r *Root) VerifyRole(role string, doc Signed) error {
	rk, ok := r.Roles[role]
	if !ok {
		return fmt.Errorf("root has no role %q", role)
	}
	return VerifySignatures(role, doc, rk.KeyIDs, r.Keys, rk.Threshold)
}

// ReportRole returns which keys of the top-level role signed doc.
func (r *Root) ReportRole(role string, doc Signed) (*SignatureReport, error) {
	rk, ok := r.Roles[role]
	if !ok {
		return nil, fmt.Errorf("root has no role %q", role)
	}
	return CheckSignatures(role, doc, rk.KeyIDs, r.Keys, rk.Threshold), nil
}

// VerifyDelegate checks that doc is signed by the threshold of keys that t
// delegates the role to.
func (t *Targets) VerifyDelegate(role string, doc Signed) error {
	if t.Delegations == nil {
		return fmt.Errorf("role %q is not delegated: the delegating role delegates nothing", role)
	}
	d, ok := t.Delegations.Role(role)
	if !ok {
		return fmt.Errorf("role %q is not delegated by the delegating role", role)
	}
	return VerifySignatures(role, doc, d.KeyIDs, t.Delegations.Keys, d.Threshold)
}
