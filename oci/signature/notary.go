package signature

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
	"github.com/rampart-tuf/rampart/tuf/notary"
)

// notaryDoc is a signed document in Notary's dialect.
type notaryDoc struct {
	raw    []byte // the file
	signed []byte // canonical "signed", what the signatures cover
	sigs   []Sig
}

// isNotary reports whether data's "signed._type" is Notary's "Targets".
func isNotary(data []byte) bool {
	var probe struct {
		Signed struct {
			Type string `json:"_type"`
		} `json:"signed"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Signed.Type == notary.TypeTargets
}

// parseNotary reads a signature in Notary's dialect with tuf/notary, and the
// x5c chains nv2 adds to its signature objects.
func parseNotary(data []byte) (*Document, error) {
	nd, err := notary.ParseAs(data, notary.TypeTargets)
	if err != nil {
		return nil, fmt.Errorf("signature document: %w", err)
	}
	if len(nd.Targets.Delegations.Roles) > 0 {
		return nil, errors.New("signature document: signed.delegations: a signature delegates to no role")
	}
	signed, err := canonjson.Canonicalize(nd.Signed)
	if err != nil {
		return nil, fmt.Errorf("signature document: signed: %w", err)
	}
	var x5c struct {
		Signatures []struct {
			X5C []string `json:"x5c"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(data, &x5c); err != nil || len(x5c.Signatures) != len(nd.Signatures) {
		return nil, errors.New("signature document: signatures: cannot read x5c")
	}
	nt := &notaryDoc{raw: data, signed: signed}
	for i, s := range nd.Signatures {
		sig := Sig{KeyID: s.KeyID, Value: s.Sig}
		if x := x5c.Signatures[i].X5C; x != nil {
			if sig.Chain, err = parseChain(x); err != nil {
				return nil, fmt.Errorf("signature document: signatures[%d]: %w", i, err)
			}
		}
		nt.sigs = append(nt.sigs, sig)
	}
	t := metadata.NewTargets(nd.Expires)
	t.Version = nd.Version
	t.Expires = nd.Expires
	for ref, fm := range nd.Targets.Targets {
		tf := metadata.TargetFile{Length: fm.Length, Hashes: metadata.Hashes{SHA256: fm.Hashes["sha256"]}}
		if fm.Custom != nil {
			if tf.Custom, err = canonjson.Canonicalize(fm.Custom); err != nil {
				return nil, fmt.Errorf("signature document: signed.targets[%q].custom: %w", ref, err)
			}
		}
		t.Targets[ref] = tf
	}
	d := &Document{Meta: metadata.New(t), notary: nt}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

// signNotary signs the document in Notary's dialect, as nv2 wrote it:
// sha256 hashes only, the key listed by certificate (rsa-x509, ecdsa-x509)
// with chain in x5c, or as a plain key without one.
func (d *Document) signNotary(ctx context.Context, key keys.Signer, chain []*x509.Certificate, expires time.Time) error {
	sk, err := notary.NewSigningKey(key)
	if err != nil {
		return err
	}
	if len(chain) > 0 {
		v, err := keys.NewVerifier(key.PublicKey())
		if err != nil {
			return err
		}
		if !samePublicKey(v.Public(), chain[0].PublicKey) {
			return fmt.Errorf("the signing key does not match the certificate %q", chain[0].Subject.CommonName)
		}
		if sk.Key, err = notary.NewCertKey(chain[0]); err != nil {
			return err
		}
	}
	t := notary.Targets{Targets: map[string]notary.FileMeta{}, Delegations: notary.Delegations{Keys: map[string]notary.Key{}}}
	for ref, tf := range d.Meta.Signed.Targets {
		if len(tf.Hashes.SHA256) != sha256.Size {
			return fmt.Errorf("target %q has no sha256 digest", ref)
		}
		t.Targets[ref] = notary.FileMeta{Length: tf.Length, Hashes: map[string][]byte{"sha256": tf.Hashes.SHA256}, Custom: tf.Custom}
	}
	signed, err := t.Marshal(d.Meta.Signed.Version, expires)
	if err != nil {
		return err
	}
	raw, err := notary.Sign(ctx, signed, sk)
	if err != nil {
		return err
	}
	if len(chain) > 0 {
		if raw, err = addX5C(raw, chain); err != nil {
			return err
		}
	}
	nd, err := Parse(raw)
	if err != nil {
		return fmt.Errorf("reading back the Notary signature: %w", err)
	}
	*d = *nd
	return nil
}

// addX5C adds the chain to the one signature object of a Notary document,
// keeping "signed" byte for byte.
func addX5C(raw []byte, chain []*x509.Certificate) ([]byte, error) {
	var env struct {
		Signed     json.RawMessage              `json:"signed"`
		Signatures []map[string]json.RawMessage `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Signatures) != 1 {
		return nil, errors.New("notary signature: unexpected envelope")
	}
	b64 := make([]string, len(chain))
	for i, c := range chain {
		b64[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	x, err := json.Marshal(b64)
	if err != nil {
		return nil, err
	}
	env.Signatures[0]["x5c"] = x
	sigs, err := json.Marshal(env.Signatures)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(`{"signed":`)
	out.Write(env.Signed)
	out.WriteString(`,"signatures":`)
	out.Write(sigs)
	out.WriteString("}")
	return out.Bytes(), nil
}
