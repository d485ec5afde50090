package trust

import (
	"fmt"
	"time"
)

// CheckError is a document that failed a check.
type CheckError struct {
	File  string // e.g. "timestamp.json"
	Check string // e.g. "signatures", "hashes", "parse"
	Err   error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("%s: %s check failed: %v", e.File, e.Check, e.Err)
}
func (e *CheckError) Unwrap() error { return e.Err }

func fileErr(file, check string, err error) error {
	return &CheckError{File: file, Check: check, Err: err}
}

// RollbackError is a version older than the trusted one, or (Exact) not the
// one required.
type RollbackError struct {
	File      string
	Got, Want int64
	Exact     bool
}

func (e *RollbackError) Error() string {
	if e.Exact {
		return fmt.Sprintf("%s: version %d, want exactly %d (rollback attack?)", e.File, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: version %d is lower than the trusted version %d (rollback attack?)", e.File, e.Got, e.Want)
}

// VersionMismatchError is a version other than the one the referring
// document lists (a mix-and-match attack, or a repository caught mid-update).
type VersionMismatchError struct {
	File      string
	Got, Want int64
	ListedIn  string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("%s: version %d, but %s lists version %d (mix-and-match attack?)", e.File, e.Got, e.ListedIn, e.Want)
}

// ExpiredError is a document that expired before the reference time.
type ExpiredError struct {
	File    string
	Expires time.Time
	Ref     time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("%s: expired at %s (reference time %s; freeze attack?)", e.File, e.Expires.UTC().Format(time.RFC3339), e.Ref.UTC().Format(time.RFC3339))
}

// LengthError is a file whose length differs from the one listed for it.
type LengthError struct {
	File      string
	Got, Want int64
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("%s: length %d, but %d is listed for it", e.File, e.Got, e.Want)
}
