package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

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
	zh, en string
	field  string
	lines  []scheduler.LineError
}

func (e *apiError) Error() string { return e.code + ": " + e.en }

func newErr(status int, code, zh, en string) *apiError {
	return &apiError{status: status, code: code, zh: zh, en: en}
}

// Stable error codes.
const (
	CodeUnauthenticated   = "unauthenticated"
	CodeForbidden         = "forbidden"
	CodeCSRF              = "csrf_failed"
	CodeInvalid           = "invalid"
	CodeBadJSON           = "bad_json"
	CodeTooLarge          = "too_large"
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
	errUnauthenticated = newErr(http.StatusUnauthorized, CodeUnauthenticated, "请先登录", "please log in first")
	errForbidden       = newErr(http.StatusForbidden, CodeForbidden, "您没有权限执行此操作，如需权限请联系管理员", "you are not allowed to do this; ask an administrator if you need to")
	errCSRF            = newErr(http.StatusForbidden, CodeCSRF, "请求缺少有效的 CSRF 令牌，请刷新页面后重试", "the request lacks a valid CSRF token; reload the page and try again")
	errNotFound        = newErr(http.StatusNotFound, CodeNotFound, "找不到该对象，可能已被删除", "not found; it may have been removed")
	errInternal        = newErr(http.StatusInternalServerError, CodeInternal, "服务器内部错误，请稍后重试；如一直出现请联系管理员", "internal server error; try again later and tell an administrator if it persists")
	errMustChange      = newErr(http.StatusForbidden, CodeMustChange, "首次登录请先修改密码", "change your password before doing anything else")
)

func invalidField(field, zh, en string) *apiError {
	e := newErr(http.StatusBadRequest, CodeInvalid, zh, en)
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
		ae = newErr(http.StatusUnprocessableEntity, CodeBundleRejected, "数据包未通过校验，未导入任何内容："+be.ZH, "the bundle failed its checks and nothing was imported: "+be.EN)
		ae.field = be.Part
	case errors.As(err, &ie):
		ae = newErr(http.StatusBadRequest, CodeImportInvalid, "导入文件有错误，未导入任何内容，请按行修改后重试", "the import file has errors and nothing was imported; fix the lines listed and try again")
		if ie.Forbidden {
			ae = newErr(http.StatusForbidden, CodeForbidden, "导入文件中有您无权管理的单位，未导入任何内容", "the file names units outside what you may manage; nothing was imported")
		}
		ae.lines = ie.Lines
	case errors.As(err, &fe):
		ae = invalidField(fe.Field, fe.ZH, fe.EN)
	case errors.Is(err, org.ErrNotFound):
		ae = errNotFound
	case errors.Is(err, org.ErrConflict):
		ae = newErr(http.StatusConflict, CodeConflict, "与已有数据冲突（名称或代码已被使用）", "conflicts with existing data (a name or code is taken)")
	default:
		s.log.Error("request failed", errField(err), pathField(r))
		ae = errInternal
	}
	msg := ae.zh
	if lang(r) == "en" {
		msg = ae.en
	}
	writeJSON(w, ae.status, errorBody{Error: Error{Code: ae.code, Message: msg, Field: ae.field, Lines: ae.lines}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
