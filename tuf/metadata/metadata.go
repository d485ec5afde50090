package metadata

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/rampart-tuf/rampart/tuf/canonjson"
	"github.com/rampart-tuf/rampart/tuf/keys"
)

// Role is the set of role document types.
type Role interface {
	*Root | *Targets | *Snapshot | *Timestamp | *Mirrors
	common() *Common
	encode(w *canonjson.Writer)
	decode(r *canonjson.Reader) error
	Validate() error
}

// Metadata is a signed metadata file: a role document and the signatures
// over its canonical form.
type Metadata[T Role] struct {
	Signed     T
	Signatures []Signature
	// Unknown holds members of the file other than "signed" and
	// "signatures".
	Unknown canonjson.Fields

	signed []byte // canonical bytes of Signed that Signatures cover
}

// Signature is one signature over a document.
type Signature struct {
	KeyID   string
	Value   []byte // the "sig" member, hex-decoded
	Unknown canonjson.Fields
}

// Signed is a document with signatures, as verified by a delegating role.
type Signed interface {
	// SignedBytes returns the canonical bytes the signatures cover.
	SignedBytes() []byte
	// SignatureList returns the signatures.
	SignatureList() []Signature
}

// New wraps a role document for signing.
func New[T Role](signed T) *Metadata[T] { return &Metadata[T]{Signed: signed} }

// Parse parses and validates a metadata file of role type T. The result
// keeps a reference to data, which must not be modified afterwards.
func Parse[T Role](data []byte) (*Metadata[T], error) {
	return parse[T](data, false)
}

// ParseTargetsLazy parses targets metadata like ParseTargets, except that
// the list of target files is kept undecoded: Targets.Lookup finds one
// entry (and validates it) without building the whole map, which is what a
// client fetching one target from a large repository needs. The signatures
// still cover, and SignedBytes still returns, the whole document.
func ParseTargetsLazy(data []byte) (*Metadata[*Targets], error) {
	return parse[*Targets](data, true)
}

// ParseTargetsLazyVerified is ParseTargetsLazy followed by verify, the
// check of the document's signatures (such as a bound Targets.VerifyDelegate
// or Root.VerifyRole). On a large document in canonical form it runs verify
// on a second goroutine while the document is being canonicalized and
// decoded, and keeps its result once the canonical bytes are confirmed to
// be the ones it checked.
func ParseTargetsLazyVerified(data []byte, verify func(Signed) error) (*Metadata[*Targets], error) {
	var early chan error
	var earlySigned []byte
	if len(data) >= 1<<20 {
		if sigData, signed, ok := canonjson.SplitEnvelope(data); ok {
			if sigs, err := decodeSignatures(canonjson.NewReader(sigData)); err == nil {
				early = make(chan error, 1)
				earlySigned = signed
				go func() { early <- verify(rawSigned{signed, sigs}) }()
			}
		}
	}
	m, err := parse[*Targets](data, true)
	if early != nil {
		verr := <-early // never leave the goroutine behind
		if err == nil && len(m.signed) == len(earlySigned) && len(m.signed) > 0 && &m.signed[0] == &earlySigned[0] && sameSignatures(m.Signatures, data) {
			return m, verr
		}
	}
	if err != nil {
		return nil, err
	}
	return m, verify(m)
}

// sameSignatures is a guard: the signatures decoded by the full parse come
// from the same bytes the early verification read, which holds whenever the
// signed spans coincide; it is checked anyway at negligible cost.
func sameSignatures(sigs []Signature, data []byte) bool {
	sigData, _, ok := canonjson.SplitEnvelope(data)
	if !ok {
		return false
	}
	early, err := decodeSignatures(canonjson.NewReader(sigData))
	if err != nil || len(early) != len(sigs) {
		return false
	}
	for i := range sigs {
		if early[i].KeyID != sigs[i].KeyID || !bytes.Equal(early[i].Value, sigs[i].Value) {
			return false
		}
	}
	return true
}

// rawSigned is signed bytes and signatures not yet parsed into a document.
type rawSigned struct {
	signed []byte
	sigs   []Signature
}

func (r rawSigned) SignedBytes() []byte        { return r.signed }
func (r rawSigned) SignatureList() []Signature { return r.sigs }

func parse[T Role](data []byte, lazy bool) (*Metadata[T], error) {
	m := &Metadata[T]{Signed: newRole[T]()}
	if t, ok := any(m.Signed).(*Targets); ok {
		t.lazy = lazy
	}
	doc := m.Signed.common().Type + " metadata"
	var hasSigned, hasSigs bool
	err := canonjson.DecodeObject(data, func(name []byte, r *canonjson.Reader) error {
		var err error
		switch string(name) {
		case "signed":
			hasSigned = true
			if r.Kind() != canonjson.Object {
				return in("signed", invalid("want an object, found %s", r.Kind()))
			}
			if err := m.Signed.decode(r); err != nil {
				return in("signed", err)
			}
			m.signed = r.Data()
			return in("signed", r.End())
		case "signatures":
			hasSigs = true
			m.Signatures, err = decodeSignatures(r)
			return in("signatures", err)
		}
		m.Unknown.Add(string(name), r.Data())
		return nil
	})
	switch {
	case err != nil:
	case !hasSigned:
		err = invalid("missing signed")
	case !hasSigs:
		err = invalid("missing signatures")
	}
	if err != nil {
		var se *canonjson.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Doc: doc, Reason: "malformed JSON", Err: err}
		}
		return nil, docError(doc, err)
	}
	return m, nil
}

// ParseRoot parses root metadata.
func ParseRoot(data []byte) (*Metadata[*Root], error) { return Parse[*Root](data) }

// ParseTargets parses targets metadata, of the targets role or a delegated
// role.
func ParseTargets(data []byte) (*Metadata[*Targets], error) { return Parse[*Targets](data) }

// ParseSnapshot parses snapshot metadata.
func ParseSnapshot(data []byte) (*Metadata[*Snapshot], error) { return Parse[*Snapshot](data) }

// ParseTimestamp parses timestamp metadata.
func ParseTimestamp(data []byte) (*Metadata[*Timestamp], error) { return Parse[*Timestamp](data) }

// ParseMirrors parses mirrors metadata.
func ParseMirrors(data []byte) (*Metadata[*Mirrors], error) { return Parse[*Mirrors](data) }

func newRole[T Role]() T {
	var t T
	switch any(t).(type) {
	case *Root:
		return any(&Root{Common: Common{Type: TypeRoot}}).(T)
	case *Targets:
		return any(&Targets{Common: Common{Type: TypeTargets}}).(T)
	case *Snapshot:
		return any(&Snapshot{Common: Common{Type: TypeSnapshot}}).(T)
	case *Timestamp:
		return any(&Timestamp{Common: Common{Type: TypeTimestamp}}).(T)
	default:
		return any(&Mirrors{Common: Common{Type: TypeMirrors}}).(T)
	}
}

// maxSignatures bounds the signatures on one document.
const maxSignatures = 1024

func decodeSignatures(r *canonjson.Reader) ([]Signature, error) {
	sigs := []Signature{}
	err := r.Array(func() error {
		if len(sigs) == maxSignatures {
			return invalid("more than %d signatures", maxSignatures)
		}
		s, err := decodeSignature(r)
		if err != nil {
			return inIndex(len(sigs), err)
		}
		for _, o := range sigs {
			if o.KeyID == s.KeyID {
				return inIndex(len(sigs), invalid("second signature by key ID %s", s.KeyID))
			}
		}
		sigs = append(sigs, s)
		return nil
	})
	return sigs, err
}

func decodeSignature(r *canonjson.Reader) (Signature, error) {
	var s Signature
	var hasID, hasSig bool
	err := r.Object(func(name []byte) error {
		switch string(name) {
		case "keyid":
			hasID = true
			var err error
			s.KeyID, err = r.String()
			return in("keyid", err)
		case "sig":
			hasSig = true
			b, err := r.Bytes()
			if err != nil {
				return in("sig", err)
			}
			if len(b) > 2*maxSigBytes {
				return in("sig", invalid("signature of %d hex digits is too long", len(b)))
			}
			s.Value = make([]byte, hex.DecodedLen(len(b)))
			if _, err := hex.Decode(s.Value, b); err != nil {
				return in("sig", invalid("not hex: %v", err))
			}
			return nil
		}
		v, err := r.Raw()
		s.Unknown.Add(string(name), v)
		return inKey(string(name), err)
	})
	switch {
	case err != nil:
	case !hasID:
		err = invalid("missing keyid")
	case !hasSig:
		err = invalid("missing sig")
	}
	return s, err
}

// maxSigBytes bounds one signature (RSA-16384 fits).
const maxSigBytes = 2048

// SignedBytes returns the canonical bytes that the signatures cover: as
// received by Parse, or as encoded by the last call to Sign.
func (m *Metadata[T]) SignedBytes() []byte {
	if m.signed == nil {
		b, _ := m.encodeSigned()
		return b
	}
	return m.signed
}

// SignatureList returns the signatures.
func (m *Metadata[T]) SignatureList() []Signature { return m.Signatures }

// envelopeRoom is how many bytes encodeSignedRoom leaves free before the
// canonical bytes of Signed, for envelopeInPlace to write the beginning of
// the file there instead of copying those bytes after it (a million
// targets in hashed bins are 150 MB of them): room for two signatures by
// Ed25519 or ECDSA keys.
const envelopeRoom = 512

// encodeSigned returns the canonical bytes of Signed, after validating it.
func (m *Metadata[T]) encodeSigned() ([]byte, error) {
	buf, err := m.encodeSignedRoom(nil)
	if err != nil {
		return nil, err
	}
	return buf[envelopeRoom:len(buf):len(buf)], nil
}

// encodeSignedRoom is encodeSigned, with the bytes written envelopeRoom
// bytes into the buffer it returns, and a byte spare after them. The
// buffer is buf's memory when it has room for the encoding as estimated,
// new memory otherwise.
func (m *Metadata[T]) encodeSignedRoom(buf []byte) ([]byte, error) {
	if err := m.Signed.Validate(); err != nil {
		return nil, docError(m.Signed.common().Type+" metadata", in("signed", err))
	}
	size := len(m.signed)
	if t, ok := any(m.Signed).(*Targets); ok {
		size = max(size, t.encodedSize())
	}
	if cap(buf) < envelopeRoom+size+512 {
		buf = make([]byte, envelopeRoom, envelopeRoom+size+512)
	}
	w := canonjson.AppendWriter(buf[:envelopeRoom])
	m.Signed.encode(w)
	if !w.Unchecked() {
		return w.Bytes(), nil // written from typed values only: canonical
	}
	// Unknown fields set by hand could collide with known members or break
	// their order: check that the result is canonical before anyone signs it.
	payload := w.Bytes()[envelopeRoom:]
	j := canonjson.ToJSON(payload)
	if c, err := canonjson.Canonicalize(j); err != nil || !bytes.Equal(canonjson.ToJSON(c), j) {
		if err == nil {
			err = errors.New("members out of order")
		}
		return nil, docError(m.Signed.common().Type+" metadata", in("signed", invalid("encoding is not canonical (check Unknown fields): %v", err)))
	}
	return w.Bytes(), nil
}

// ErrStaleSignatures is returned by Encode when the document has changed
// since it was signed.
var ErrStaleSignatures = errors.New("document changed after it was signed: sign it again or clear its signatures")

// Sign signs the document's current content with signer. Signatures over
// earlier content are dropped, and a signature by the same key is replaced.
func (m *Metadata[T]) Sign(ctx context.Context, signer keys.Signer) (Signature, error) {
	payload, err := m.encodeSigned()
	if err != nil {
		return Signature{}, err
	}
	if !bytes.Equal(payload, m.signed) {
		m.Signatures = nil
		m.signed = payload
	}
	value, err := signer.Sign(ctx, payload)
	if err != nil {
		return Signature{}, fmt.Errorf("signing %s metadata: %w", m.Signed.common().Type, err)
	}
	sig := Signature{KeyID: NewKey(signer.PublicKey()).ID(), Value: value}
	m.AddSignature(sig)
	return sig, nil
}

// SignEncode replaces the signatures by those of signers over the
// document's current content and returns the file, as Sign for each signer
// followed by Encode would, encoding the document once. With no signers it
// returns the file unsigned. As with Encode, the file's bytes hold the
// signed bytes the document records (SignedBytes): the caller does not
// change them.
func (m *Metadata[T]) SignEncode(ctx context.Context, signers []keys.Signer) ([]byte, error) {
	return m.SignEncodeInto(ctx, signers, nil)
}

// SignEncodeInto is SignEncode writing the file into buf's memory when it
// has room for it (its capacity), so that a caller encoding many documents
// in turn reuses a few buffers instead of making one for each. The file
// and the document's SignedBytes then share buf's memory: the caller does
// not use buf again while it uses either.
func (m *Metadata[T]) SignEncodeInto(ctx context.Context, signers []keys.Signer, buf []byte) ([]byte, error) {
	buf, err := m.encodeSignedRoom(buf)
	if err != nil {
		return nil, err
	}
	payload := buf[envelopeRoom:len(buf):len(buf)]
	m.Signatures, m.signed = nil, payload
	for _, s := range signers {
		value, err := s.Sign(ctx, payload)
		if err != nil {
			return nil, fmt.Errorf("signing %s metadata: %w", m.Signed.common().Type, err)
		}
		m.AddSignature(Signature{KeyID: NewKey(s.PublicKey()).ID(), Value: value})
	}
	return m.envelopeInPlace(buf), nil
}

// AddSignature adds a signature made elsewhere over SignedBytes, replacing
// one by the same key ID.
func (m *Metadata[T]) AddSignature(sig Signature) {
	for i := range m.Signatures {
		if m.Signatures[i].KeyID == sig.KeyID {
			m.Signatures[i] = sig
			return
		}
	}
	m.Signatures = append(m.Signatures, sig)
}

// ClearSignatures removes all signatures, so that the document can be
// changed and encoded unsigned or signed again.
func (m *Metadata[T]) ClearSignatures() {
	m.Signatures = nil
	m.signed = nil
}

// Encode validates the document and returns the whole file: canonical JSON,
// except that control characters in strings (such as the newlines of a PEM
// key) are escaped so that the file is valid JSON for every reader. It fails
// with ErrStaleSignatures when the document has signatures and has changed
// since they were made. The file's bytes hold the signed bytes the
// document records (SignedBytes), not a copy: the caller does not change
// them.
func (m *Metadata[T]) Encode() ([]byte, error) {
	buf, err := m.encodeSignedRoom(nil)
	if err != nil {
		return nil, err
	}
	payload := buf[envelopeRoom:len(buf):len(buf)]
	if len(m.Signatures) > 0 && !bytes.Equal(payload, m.signed) {
		return nil, fmt.Errorf("%s metadata: %w", m.Signed.common().Type, ErrStaleSignatures)
	}
	m.signed = payload
	return m.envelopeInPlace(buf), nil
}

// EncodesTo reports whether data is the file that Encode returns for m,
// byte for byte: for a document parsed from data, whether data is in the
// form this package writes. Unlike Encode it changes nothing in m, and it
// encodes into buf's memory when it is large enough (a caller checking
// thousands of documents reuses one buffer); it returns that memory, for
// the next call, with the answer. A document that does not validate is
// an error, as for Encode.
func (m *Metadata[T]) EncodesTo(data, buf []byte) (same bool, spare []byte, err error) {
	enc, err := m.encodeSignedRoom(buf)
	if err != nil {
		return false, buf, err
	}
	payload := enc[envelopeRoom:len(enc):len(enc)]
	if m.signed != nil && !bytes.Equal(payload, m.signed) {
		return false, enc, nil
	}
	return bytes.Equal(m.envelopeInPlace(enc), data), enc, nil
}

// envelopeInPlace is envelope for the canonical bytes of Signed as
// encodeSignedRoom wrote them into buf: the beginning of the file goes
// into the room before them and its end after them, so that they are not
// copied. It falls back on envelope when the room is too small (many or
// long signatures) or the file has members of its own. The file shares
// its memory with the signed bytes the document records.
func (m *Metadata[T]) envelopeInPlace(buf []byte) []byte {
	payload := buf[envelopeRoom:len(buf):len(buf)]
	if len(m.Unknown) > 0 {
		return m.envelope(payload)
	}
	// As envelope writes it, up to the signed bytes.
	w := canonjson.NewWriter(envelopeRoom)
	w.BeginObject()
	w.Name("signatures")
	w.BeginArray()
	for _, s := range m.Signatures {
		s.encode(w)
	}
	w.EndArray()
	w.Name("signed")
	head := w.Bytes()
	if len(head) > envelopeRoom {
		return m.envelope(payload)
	}
	start := envelopeRoom - len(head)
	copy(buf[start:], head)
	return canonjson.ToJSON(append(buf[start:], '}'))
}

// envelope writes the file around payload, the canonical bytes of Signed
// that the signatures cover.
func (m *Metadata[T]) envelope(payload []byte) []byte {
	w := canonjson.NewWriter(len(payload) + 256*len(m.Signatures) + 64)
	w.BeginObject()
	i := w.Fields(m.Unknown, 0, "signatures")
	w.Name("signatures")
	w.BeginArray()
	for _, s := range m.Signatures {
		s.encode(w)
	}
	w.EndArray()
	i = w.Fields(m.Unknown, i, "signed")
	w.Name("signed")
	w.RawCanonical(payload)
	w.FieldsRest(m.Unknown, i)
	w.EndObject()
	return canonjson.ToJSON(w.Bytes())
}

func (s *Signature) encode(w *canonjson.Writer) {
	w.BeginObject()
	i := w.Fields(s.Unknown, 0, "keyid")
	w.Name("keyid")
	w.String(s.KeyID)
	i = w.Fields(s.Unknown, i, "sig")
	w.Name("sig")
	w.Hex(s.Value)
	w.FieldsRest(s.Unknown, i)
	w.EndObject()
}
