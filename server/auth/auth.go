// Package auth makes and checks the server's bearer tokens.
//
// A token is "rpt_" followed by 32 random bytes in unpadded base64url. The
// server keeps only its SHA-256, with the GUN prefix and the scope it
// grants. Scopes are ordered: push includes pull, admin includes push.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Scope is what a token allows.
type Scope int

// Scopes, each including the ones before it.
const (
	Pull  Scope = iota + 1 // read changefeeds
	Push                   // publish metadata, upload targets, get online keys
	Admin                  // rotate online keys, delete repositories, make tokens
)

func (s Scope) String() string {
	switch s {
	case Pull:
		return "pull"
	case Push:
		return "push"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// ParseScope parses "pull", "push" or "admin".
func ParseScope(s string) (Scope, error) {
	switch s {
	case "pull":
		return Pull, nil
	case "push":
		return Push, nil
	case "admin":
		return Admin, nil
	}
	return 0, fmt.Errorf("unknown scope %q: want pull, push or admin", s)
}

const tokenPrefix = "rpt_"

// NewToken returns a new random token and its hash.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token)
}

// Hash returns the hex SHA-256 of a token, as stored.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormed reports whether s looks like a token, so that garbage is
// rejected before any lookup.
func WellFormed(s string) bool {
	rest, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok || len(rest) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil
}

// Covers reports whether a token for prefix covers gun: the empty prefix
// covers everything; otherwise gun must equal prefix or continue it at a
// "/" ("example.com/acme" covers "example.com/acme/app", not
// "example.com/acmecorp"). A prefix ending in "/" covers only GUNs below it.
func Covers(prefix, gun string) bool {
	if prefix == "" {
		return true
	}
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(gun, prefix)
	}
	return gun == prefix || strings.HasPrefix(gun, prefix+"/")
}

// Within reports whether every GUN that a token for inner covers is also
// covered by outer: so an admin token for outer may see and revoke a token
// for inner. The empty outer contains every prefix; the empty inner (all
// GUNs) is only within the empty outer. "example.com/acme" contains itself,
// "example.com/acme/" and "example.com/acme/app"; "example.com/acme/"
// contains itself and "example.com/acme/app", not "example.com/acme".
func Within(outer, inner string) bool {
	return outer == inner || Covers(outer, strings.TrimSuffix(inner, "/"))
}

// Equal compares two hashes in constant time.
func Equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
