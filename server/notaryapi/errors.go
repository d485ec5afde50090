package notaryapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rampart-tuf/rampart/server/store"
)

// An error code of notary-server's API, with its HTTP status.
type code struct {
	name    string
	status  int
	message string
}

// The codes notary-server uses (server/errors), and docker/distribution's
// UNAUTHORIZED and DENIED.
var (
	codeInvalidRole     = code{"INVALID_ROLE", http.StatusBadRequest, "the role is not valid"}
	codeMalformedJSON   = code{"MALFORMED_JSON", http.StatusBadRequest, "a document sent is not JSON"}
	codeUpdating        = code{"UPDATING", http.StatusInternalServerError, "an error occurred while updating the repository"}
	codeOldVersion      = code{"VERSION", http.StatusBadRequest, "a newer version of the metadata is already stored"}
	codeMetadataMissing = code{"METADATA_NOT_FOUND", http.StatusNotFound, "the requested metadata does not exist"}
	codeInvalidUpdate   = code{"INVALID_UPDATE", http.StatusBadRequest, "the update has invalid metadata"}
	codeMalformedUpload = code{"MALFORMED_UPLOAD", http.StatusBadRequest, "the body of the upload could not be read"}
	codeNoKeyAlgorithm  = code{"NO_KEYALGORITHM", http.StatusInternalServerError, "the server could not make a key"}
	codeInvalidGUN      = code{"INVALID_GUN", http.StatusBadRequest, "the GUN is not valid"}
	codeInvalidParams   = code{"INVALID_PARAMETERS", http.StatusBadRequest, "the request parameters are not valid"}
	codeUnauthorized    = code{"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"}
	codeDenied          = code{"DENIED", http.StatusForbidden, "requested access to the resource is denied"}
	codeUnsupported     = code{"UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"}
	codeUnavailable     = code{"UNAVAILABLE", http.StatusServiceUnavailable, "the database is unavailable; try again later"}
	codeUnknown         = code{"UNKNOWN", http.StatusInternalServerError, "unknown error"}
)

// Error is an API error: a code and its detail.
type Error struct {
	code   code
	detail any
}

func (e *Error) Error() string {
	if s, ok := e.detail.(string); ok {
		return e.code.name + ": " + s
	}
	if v, ok := e.detail.(validationDetail); ok {
		return e.code.name + ": " + v.Name + ": " + v.Error.Msg
	}
	return e.code.name
}

func apiError(c code, detail string) *Error { return &Error{code: c, detail: detail} }

func errNotFound(detail string) *Error { return apiError(codeMetadataMissing, detail) }

func errMethod(r *http.Request) *Error {
	return apiError(codeUnsupported, r.Method+" is not allowed on "+r.URL.Path)
}

// validationDetail is the detail of INVALID_UPDATE, which the notary client
// turns back into its validation error types by Name.
type validationDetail struct {
	Name  string
	Error validationError
}

type validationError struct {
	Msg     string
	Missing string `json:",omitempty"` // ErrBadHierarchy: the missing role
}

// The validation errors the notary client knows.
const (
	errValidation   = "ErrValidation"
	errBadHierarchy = "ErrBadHierarchy"
	errBadRoot      = "ErrBadRoot"
	errBadTargets   = "ErrBadTargets"
	errBadSnapshot  = "ErrBadSnapshot"
)

func invalid(name, msg string) *Error {
	return &Error{code: codeInvalidUpdate, detail: validationDetail{Name: name, Error: validationError{Msg: msg}}}
}

// StatusError is an error of the server around the API, with its HTTP
// status: 400, 403 and 404 become INVALID_GUN, DENIED and
// METADATA_NOT_FOUND.
type StatusError struct {
	Status int
	Msg    string
}

func (e *StatusError) Error() string { return e.Msg }

func (e *StatusError) apiError() *Error {
	switch e.Status {
	case http.StatusBadRequest:
		return apiError(codeInvalidGUN, e.Msg)
	case http.StatusForbidden:
		return apiError(codeDenied, e.Msg)
	case http.StatusNotFound:
		return errNotFound(e.Msg)
	case http.StatusConflict:
		return apiError(codeUpdating, e.Msg)
	}
	return apiError(codeUnknown, e.Msg)
}

// fail writes err in the errcode format: {"errors":[{code,message,detail}]}.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var se *StatusError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &se):
		e = se.apiError()
	case errors.Is(err, store.ErrUnavailable):
		w.Header().Set("Retry-After", "1")
		e = apiError(codeUnavailable, "")
	case errors.Is(err, store.ErrConflict):
		e = apiError(codeUpdating, "the repository changed concurrently; try again")
	case errors.Is(err, store.ErrNotFound):
		e = errNotFound("")
	default:
		a.log.Error("notary request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = apiError(codeUnknown, "internal error")
	}
	if e.code == codeUnauthorized {
		w.Header().Set("WWW-Authenticate", challenge(r))
	}
	type item struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Detail  any    `json:"detail,omitempty"`
	}
	body, _ := json.Marshal(struct {
		Errors []item `json:"errors"`
	}{[]item{{e.code.name, e.code.message, e.detail}}})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.code.status)
	w.Write(body)
}
