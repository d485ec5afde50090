package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// PublishRequest is the body of POST /api/v1/repositories/{gun}/metadata.
type PublishRequest struct {
	// Roots are new root versions, oldest first: the server checks each
	// against the one before it.
	Roots []json.RawMessage `json:"roots,omitempty"`
	// Roles are the signed documents by role name.
	Roles map[string]json.RawMessage `json:"roles"`
}

// Encode returns the request's JSON with every document byte for byte as
// given. (json.Marshal would compact a json.RawMessage and escape <, >
// and &, changing the bytes whose hashes a snapshot may list.)
func (p PublishRequest) Encode() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(p.Roots) > 0 {
		b.WriteString(`"roots":[`)
		for i, doc := range p.Roots {
			if !json.Valid(doc) {
				return nil, fmt.Errorf("root %d of the chain is not JSON", i+1)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(doc)
		}
		b.WriteString(`],`)
	}
	b.WriteString(`"roles":{`)
	for i, name := range slices.Sorted(maps.Keys(p.Roles)) {
		doc := p.Roles[name]
		if !json.Valid(doc) {
			return nil, fmt.Errorf("the %s document is not JSON", name)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name) // a string always encodes
		b.Write(k)
		b.WriteByte(':')
		b.Write(doc)
	}
	b.WriteString(`}}`)
	return b.Bytes(), nil
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	GUNPrefix   string `json:"gun_prefix"` // GUNs the token covers; empty covers all
	Scope       string `json:"scope"`      // "pull", "push" or "admin"
	Description string `json:"description"`
}

// NewToken is the answer to POST /api/v1/tokens: the token string, shown
// this once, and what it covers.
type NewToken struct {
	Token     string `json:"token"`
	ID        string `json:"id"`
	GUNPrefix string `json:"gun_prefix"`
	Scope     string `json:"scope"`
}

// Token describes an access token, without its secret or hash (GET
// /api/v1/tokens, DELETE /api/v1/tokens/{id}).
type Token struct {
	// ID names the token: the first TokenIDLength hex digits of the
	// SHA-256 of the token string.
	ID          string    `json:"id"`
	GUNPrefix   string    `json:"gun_prefix"` // GUNs the token covers; empty covers all
	Scope       string    `json:"scope"`      // "pull", "push" or "admin"
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at,omitzero"` // absent when the server does not know it
}

// TokenList is the answer to GET /api/v1/tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// ErrorBody is the body of every error answer of the server.
type ErrorBody struct {
	Error string `json:"error"`
	Role  string `json:"role,omitempty"`  // the role the error is about, if any
	Check string `json:"check,omitempty"` // the check that failed, e.g. "signature", "version"
}

// PublicKey is a public key as a TUF key object.
type PublicKey struct {
	KeyType string `json:"keytype"`
	Scheme  string `json:"scheme"`
	KeyVal  struct {
		Public string `json:"public"`
	} `json:"keyval"`
}

// OnlineKey is the answer to GET /api/v1/repositories/{gun}/keys/{role}
// and to POST .../keys/{role}/rotate: the server's online key of a role.
type OnlineKey struct {
	Key   *PublicKey `json:"key"`
	KeyID string     `json:"keyid"`
	Role  string     `json:"role"` // "timestamp" or "snapshot"
}
