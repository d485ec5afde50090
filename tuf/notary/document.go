package notary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Role names of the top-level roles.
const (
	RoleRoot      = "root"
	RoleTargets   = "targets"
	RoleSnapshot  = "snapshot"
	RoleTimestamp = "timestamp"
)

// Values of "_type".
const (
	TypeRoot      = "Root"
	TypeTargets   = "Targets"
	TypeSnapshot  = "Snapshot"
	TypeTimestamp = "Timestamp"
)

// Signature methods.
const (
	MethodEdDSA        = "eddsa"
	MethodECDSA        = "ecdsa"
	MethodRSAPSS       = "rsapss"
	MethodRSAPKCS1v15  = "rsapkcs1v15"
	MethodPyCryptoPSS  = "pycrypto-pkcs#1 pss" // an older name of rsapss
	maxSignatures      = 1024
	maxSignatureLength = 2048
)

// MaxDocumentSize is the largest document Parse reads. Notary's own limit on
// metadata is 100 MiB; a Targets document of a million targets is about
// 200 MB in this dialect, so the limit is kept at Notary's.
const MaxDocumentSize = 100 << 20

// Signature is one entry of a document's "signatures".
type Signature struct {
	KeyID  string
	Method string // lower case
	Sig    []byte // decoded from base64
}

// Document is a parsed Notary document. Exactly one of Root, Targets,
// Snapshot and Timestamp is set, according to Type.
type Document struct {
	// Signed is the "signed" value exactly as it appears in the input:
	// the bytes the signatures were made over.
	Signed     []byte
	Signatures []Signature

	Type    string // TypeRoot, TypeTargets, TypeSnapshot or TypeTimestamp
	Version int64
	Expires time.Time

	Root      *Root
	Targets   *Targets
	Snapshot  *Snapshot
	Timestamp *Timestamp
}

// Expired reports whether d has expired at now.
func (d *Document) Expired(now time.Time) bool { return !now.Before(d.Expires) }

// Error reports a document that is malformed or fails a check. Path names
// the member concerned, such as "signed.targets[\"a\"].hashes".
type Error struct {
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "notary: " + e.Err.Error()
	}
	return "notary: " + e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrMalformed is wrapped by every error Parse returns for input that is not
// a well-formed Notary document.
var ErrMalformed = errors.New("malformed document")

func malformed(path, format string, args ...any) error {
	return &Error{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)}
}

// Parse reads a Notary document: the envelope, its signatures and the
// "signed" value, checking the structure and value ranges of every member
// of the role its "_type" names. Members it does not know are ignored, as
// Notary ignores them (the signatures cover them all the same). It does not
// verify signatures: see Document.Verify.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxDocumentSize {
		return nil, malformed("", "document is %d bytes, more than the limit of %d", len(data), MaxDocumentSize)
	}
	signed, sigs, err := splitEnvelope(data)
	if err != nil {
		return nil, err
	}
	d := &Document{Signed: signed}
	if d.Signatures, err = parseSignatures(sigs); err != nil {
		return nil, err
	}
	if err := d.parseSigned(); err != nil {
		return nil, err
	}
	return d, nil
}

// ParseAs is Parse, requiring the document's "_type" to be typ.
func ParseAs(data []byte, typ string) (*Document, error) {
	d, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if d.Type != typ {
		return nil, malformed("signed._type", "is %q, want %q", d.Type, typ)
	}
	return d, nil
}

// splitEnvelope returns the exact bytes of the "signed" and "signatures"
// members of the envelope in data; both are required and no other member or
// duplicate is allowed.
func splitEnvelope(data []byte) (signed, sigs []byte, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, malformed("", "not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, malformed("", "%v", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, malformed(name, "%v", err)
		}
		switch {
		case name == "signed" && signed == nil:
			signed = raw
		case name == "signatures" && sigs == nil:
			sigs = raw
		case name == "signed" || name == "signatures":
			return nil, nil, malformed(name, "appears twice")
		default:
			return nil, nil, malformed("", "unknown envelope member %q", short(name))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, malformed("", "%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, malformed("", "data after the envelope")
	}
	switch {
	case signed == nil:
		return nil, nil, malformed("signed", "missing")
	case sigs == nil:
		return nil, nil, malformed("signatures", "missing")
	}
	return signed, sigs, nil
}
