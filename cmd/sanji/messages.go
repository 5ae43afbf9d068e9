package main

import (
	"errors"
	"fmt"

	"sanji/i18n"
)

// The command's messages come from the catalog (i18n/catalog/server/cmd.json) and show, on the
// terminal and in errors, as "中文 / English".

// msg renders k as "中文 / English".
func msg(k i18n.Key, args ...any) string { return i18n.T(k, args...).String() }

// errMsg is msg as an error.
func errMsg(k i18n.Key, args ...any) error { return errors.New(msg(k, args...)) }

// wrapMsg is msg, then ": " and err, which it wraps.
func wrapMsg(err error, k i18n.Key, args ...any) error {
	return fmt.Errorf("%s: %w", msg(k, args...), err)
}
