package metadata

import (
	"errors"
	"fmt"
	"strconv"
)

// Error describes invalid metadata: which document, which field, and why.
type Error struct {
	Doc    string // the document, e.g. "targets metadata" or "role1.json"
	Field  string // the field, e.g. `signed.targets["a.tgz"].length`; empty for the whole document
	Reason string
	Err    error // underlying error, if any
}

func (e *Error) Error() string {
	msg := e.Reason
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Doc != "" {
		msg = e.Doc + ": " + msg
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// fieldError is an error travelling up the decoder, collecting the path of
// the field it happened in.
type fieldError struct {
	path   string
	reason string
	err    error
}

func (e *fieldError) Error() string { return e.path + ": " + e.reason }

func invalid(format string, args ...any) error {
	return &fieldError{reason: fmt.Sprintf(format, args...)}
}

// in prefixes the path of err with the member name.
func in(name string, err error) error {
	if err == nil {
		return nil
	}
	return within("."+name, err)
}

// inKey prefixes the path of err with a map key or a quoted name.
func inKey(key string, err error) error {
	if err == nil {
		return nil
	}
	return within("["+strconv.Quote(key)+"]", err)
}

// inIndex prefixes the path of err with an array index.
func inIndex(i int, err error) error {
	if err == nil {
		return nil
	}
	return within("["+strconv.Itoa(i)+"]", err)
}

func within(seg string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		fe.path = seg + fe.path
		return fe
	}
	return &fieldError{path: seg, err: err}
}

// docError turns a decoder error into an *Error about document doc.
func docError(doc string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		field := fe.path
		if len(field) > 0 && field[0] == '.' {
			field = field[1:]
		}
		return &Error{Doc: doc, Field: field, Reason: fe.reason, Err: fe.err}
	}
	return &Error{Doc: doc, Err: err}
}
