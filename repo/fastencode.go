package repo

import (
	"context"
	"slices"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
	"github.com/rampart-tuf/rampart/tuf/metadata"
)

// Signing thousands of bins is mostly encoding them. metadata.Metadata.Sign
// and Encode encode a document, check that the encoding is canonical by
// canonicalizing it again, and encode it once more to check that it has
// not changed since it was signed. For the documents this package writes
// itself (targets roles without delegations or members it does not know)
// signTargets encodes once, signs the bytes and builds the file around
// them. TestFastEncode checks that the result is byte for byte what the
// metadata package writes.

// encodeTargetsPayload returns the canonical "signed" bytes of t, or false
// when t has anything the fast path does not write.
func encodeTargetsPayload(t *metadata.Targets) ([]byte, bool) {
	if t.Delegations != nil || len(t.Unknown) > 0 || t.Type != metadata.TypeTargets {
		return nil, false
	}
	paths := make([]string, 0, len(t.Targets))
	size := 128
	for p, tf := range t.Targets {
		if len(tf.Unknown) > 0 || tf.Length < 0 || tf.Hashes.IsZero() {
			return nil, false
		}
		paths = append(paths, p)
		size += len(p) + len(tf.Custom) + 2*len(tf.Hashes.SHA256) + 2*len(tf.Hashes.SHA512) + 64
	}
	slices.Sort(paths)
	w := canonjson.NewWriter(size)
	w.BeginObject()
	w.Name("_type")
	w.String(t.Type)
	w.Name("expires")
	w.String(t.ExpiresText())
	w.Name("spec_version")
	w.String(t.SpecVersion)
	w.Name("targets")
	w.BeginObject()
	for _, p := range paths {
		tf := t.Targets[p]
		w.Name(p)
		w.BeginObject()
		if tf.Custom != nil {
			w.Name("custom")
			w.Raw(tf.Custom)
		}
		w.Name("hashes")
		w.BeginObject()
		if tf.Hashes.SHA256 != nil {
			w.Name("sha256")
			w.Hex(tf.Hashes.SHA256)
		}
		if tf.Hashes.SHA512 != nil {
			w.Name("sha512")
			w.Hex(tf.Hashes.SHA512)
		}
		w.EndObject()
		w.Name("length")
		w.Int(tf.Length)
		w.EndObject()
	}
	w.EndObject()
	w.Name("version")
	w.Int(t.Version)
	w.EndObject()
	return w.Bytes(), true
}

// signTargets signs md with signers and returns the file and the IDs of
// the keys that signed.
func signTargets(ctx context.Context, md *metadata.Metadata[*metadata.Targets], signers []keys.Signer) ([]byte, []string, error) {
	var ids []string
	payload, ok := encodeTargetsPayload(md.Signed)
	if !ok || len(signers) == 0 || len(md.Unknown) > 0 {
		if err := signAll(ctx, md, signers); err != nil {
			return nil, nil, err
		}
		for _, s := range md.Signatures {
			ids = append(ids, s.KeyID)
		}
		b, err := encodeSigned(md)
		return b, ids, err
	}
	if err := md.Signed.Validate(); err != nil {
		return nil, nil, err
	}
	sigs := make([]metadata.Signature, 0, len(signers))
	for _, s := range signers {
		v, err := s.Sign(ctx, payload)
		if err != nil {
			return nil, nil, err
		}
		id := KeyID(s.PublicKey())
		sigs = append(sigs, metadata.Signature{KeyID: id, Value: v})
		ids = append(ids, id)
	}
	return envelope(payload, sigs), ids, nil
}

// envelope writes a metadata file: signatures over payload, and payload.
func envelope(payload []byte, sigs []metadata.Signature) []byte {
	w := canonjson.NewWriter(len(payload) + 160*len(sigs) + 32)
	w.BeginObject()
	w.Name("signatures")
	w.BeginArray()
	for _, s := range sigs {
		w.BeginObject()
		w.Name("keyid")
		w.String(s.KeyID)
		w.Name("sig")
		w.Hex(s.Value)
		w.EndObject()
	}
	w.EndArray()
	w.Name("signed")
	w.Raw(payload)
	w.EndObject()
	return canonjson.ToJSON(w.Bytes())
}
