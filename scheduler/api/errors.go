package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"sanji/i18n"
	"sanji/scheduler"
	"sanji/scheduler/exchange"
	"sanji/scheduler/org"
)

// Error is the JSON body of every failed request: a stable code for programs, a message in the
// request's language for people, and the field at fault for validation errors.
type Error struct {
	Code    string                `json:"code"`
	Message string                `json:"message"`
	Field   string                `json:"field,omitempty"`
	Lines   []scheduler.LineError `json:"lines,omitempty"` // import errors, by line
}

type errorBody struct {
	Error Error `json:"error"`
}

// apiError is an error a handler returns; writeError turns it into a response.
type apiError struct {
	status int
	code   string
	msg    i18n.Text
	field  string
	lines  []scheduler.LineError
}

func (e *apiError) Error() string { return e.code + ": " + e.msg.EN }

// message is the error's text in the request's language.
func (e *apiError) message(r *http.Request) string {
	if lang(r) == "en" {
		return e.msg.EN
	}
	return e.msg.ZH
}

// newErr is an error with the catalog's message k (args as i18n.T takes them).
func newErr(status int, code string, k i18n.Key, args ...any) *apiError {
	return textErr(status, code, i18n.T(k, args...))
}

// textErr is an error whose message another package has already rendered.
func textErr(status int, code string, msg i18n.Text) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

// Stable error codes.
const (
	CodeUnauthenticated   = "unauthenticated"
	CodeForbidden         = "forbidden"
	CodeCSRF              = "csrf_failed"
	CodeInvalid           = "invalid"
	CodeBadJSON           = "bad_json"
	CodeTooLarge          = "too_large"
	CodeQuotaExceeded     = "quota_exceeded"
	CodeNotFound          = "not_found"
	CodeConflict          = "conflict"
	CodeBadCredentials    = "bad_credentials"
	CodeLocked            = "account_locked"
	CodeRateLimited       = "rate_limited"
	CodeMustChange        = "password_change_required"
	CodeInternal          = "internal"
	CodeUnsupportedMedia  = "unsupported_media_type"
	CodeMethodNotAllowed  = "method_not_allowed"
	CodeImportInvalid     = "import_invalid"
	CodePairingCodeFailed = "pairing_failed"
)

var (
	errUnauthenticated = newErr(http.StatusUnauthorized, CodeUnauthenticated, "api.auth.login_required")
	errForbidden       = newErr(http.StatusForbidden, CodeForbidden, "api.auth.forbidden")
	errCSRF            = newErr(http.StatusForbidden, CodeCSRF, "api.auth.csrf")
	errNotFound        = newErr(http.StatusNotFound, CodeNotFound, "api.object.not_found")
	errInternal        = newErr(http.StatusInternalServerError, CodeInternal, "api.server.internal")
	errMustChange      = newErr(http.StatusForbidden, CodeMustChange, "api.auth.must_change_password")
)

// invalidField is a validation error on field with the catalog's message k.
func invalidField(field string, k i18n.Key, args ...any) *apiError {
	return invalidText(field, i18n.T(k, args...))
}

// invalidText is a validation error on field with a message already rendered.
func invalidText(field string, msg i18n.Text) *apiError {
	e := textErr(http.StatusBadRequest, CodeInvalid, msg)
	e.field = field
	return e
}

// lang picks the response language: English when the client prefers it, Chinese otherwise.
func lang(r *http.Request) string {
	al := strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language")))
	if strings.HasPrefix(al, "en") {
		return "en"
	}
	return "zh"
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var fe *org.FieldError
	var ie *scheduler.ImportError
	var be *exchange.BundleError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &be):
		ae = newErr(http.StatusUnprocessableEntity, CodeBundleRejected, "api.bundle.rejected", "problem", i18n.Text{ZH: be.ZH, EN: be.EN})
		ae.field = be.Part
	case errors.As(err, &ie):
		ae = newErr(http.StatusBadRequest, CodeImportInvalid, "api.import.invalid")
		if ie.Forbidden {
			ae = newErr(http.StatusForbidden, CodeForbidden, "api.import.forbidden")
		}
		ae.lines = ie.Lines
	case errors.As(err, &fe):
		ae = invalidText(fe.Field, i18n.Text{ZH: fe.ZH, EN: fe.EN})
	case errors.Is(err, org.ErrNotFound):
		ae = errNotFound
	case errors.Is(err, org.ErrConflict):
		ae = newErr(http.StatusConflict, CodeConflict, "api.object.conflict")
	default:
		s.log.Error("request failed", errField(err), pathField(r))
		ae = errInternal
	}
	writeJSON(w, ae.status, errorBody{Error: Error{Code: ae.code, Message: ae.message(r), Field: ae.field, Lines: ae.lines}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
