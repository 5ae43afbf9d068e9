// Package i18n is the one translation system of Sanji: every message a person reads, from the
// server's errors and notices to the web client's labels, is an entry in a catalog under
// catalog/, keyed by id, with its Chinese and English texts side by side. The catalogs are
// embedded here once; the server renders them with T, and the web client receives the entries of
// catalog/web as one module (WebModule).
//
// A text names its parameters in braces, {name}, in both languages. Chinese is the first
// language: a petitioner, a hall operator and a leader read Chinese; English follows for the
// engineers and the logs.
//
// i18n imports nothing of Sanji: every other package may use it.
package i18n

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Key names a message in the catalogs. Write keys as constants (string literals passed where a Key
// is expected); the catalog test finds every use by its type and fails on a key no catalog has.
type Key string

// Text is a message in both languages.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// String is the text as a log or a plain error shows it: Chinese, then English.
func (t Text) String() string { return t.ZH + " / " + t.EN }

// Entry is one catalog entry and the file it came from.
type Entry struct {
	Text
	File string // catalog/server/org.json
}

//go:embed catalog
var files embed.FS

var (
	entries map[Key]Entry
	// webModule is the JavaScript module of the web catalog, built once.
	webModule []byte
)

func init() {
	var err error
	entries, err = load(files)
	if err != nil {
		// The catalogs are compiled in; a broken one is a build defect that the tests catch first.
		panic(fmt.Sprintf("i18n: %v", err))
	}
	webModule = buildWebModule(entries)
}

// placeholder is {name} in a text.
var placeholder = regexp.MustCompile(`\{(\w+)\}`)

// keyShape is what a key looks like: dotted lower-case words (an English text's last word may
// carry upper case, as the web client's camelCase keys do).
var keyShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$`)

// load reads every catalog file and checks it: both languages present and non-empty, the same
// placeholders in both, a key in one file only, and a server file's keys under its own name
// (catalog/server/org.json holds org.* only).
func load(fsys fs.FS) (map[Key]Entry, error) {
	out := make(map[Key]Entry)
	err := fs.WalkDir(fsys, "catalog", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if path.Ext(p) != ".json" {
			return fmt.Errorf("%s: a catalog is a .json file", p)
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		var m map[string]map[string]string
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		server := strings.HasPrefix(p, "catalog/server/")
		prefix := strings.TrimSuffix(path.Base(p), ".json") + "."
		for k, langs := range m {
			if !keyShape.MatchString(k) {
				return fmt.Errorf("%s: key %q is not dotted lower-case words", p, k)
			}
			if server && !strings.HasPrefix(k, prefix) {
				return fmt.Errorf("%s: key %q does not start with %q", p, k, prefix)
			}
			if prev, dup := out[Key(k)]; dup {
				return fmt.Errorf("%s: key %q is also in %s", p, k, prev.File)
			}
			for l := range langs {
				if l != "zh" && l != "en" {
					return fmt.Errorf("%s: key %q: unknown language %q (zh and en only)", p, k, l)
				}
			}
			zh, en := strings.TrimSpace(langs["zh"]), strings.TrimSpace(langs["en"])
			if zh == "" || en == "" {
				return fmt.Errorf("%s: key %q needs both zh and en", p, k)
			}
			if a, b := Placeholders(langs["zh"]), Placeholders(langs["en"]); strings.Join(a, ",") != strings.Join(b, ",") {
				return fmt.Errorf("%s: key %q: zh names {%s}, en names {%s}", p, k, strings.Join(a, "},{"), strings.Join(b, "},{"))
			}
			out[Key(k)] = Entry{Text: Text{ZH: langs["zh"], EN: langs["en"]}, File: p}
		}
		return nil
	})
	return out, err
}

// Placeholders lists the distinct {names} of a text, sorted.
func Placeholders(s string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	sort.Strings(out)
	return out
}

// Entries is every catalog entry (a copy).
func Entries() map[Key]Entry {
	out := make(map[Key]Entry, len(entries))
	for k, e := range entries {
		out[k] = e
	}
	return out
}

// Has reports whether a catalog holds k.
func Has(k Key) bool {
	_, ok := entries[k]
	return ok
}

// T renders k in both languages. args are name, value pairs: T("signaling.too_large", "limit",
// 65536) fills {limit}. A value that is a Text (or a Key) is itself translated, each language into
// its own; any other value is printed with fmt.Sprint. A key no catalog holds renders as the key
// itself, so that a defect shows rather than an empty message; the catalog test keeps it from
// happening.
func T(k Key, args ...any) Text {
	e, ok := entries[k]
	if !ok {
		return Text{ZH: string(k), EN: string(k)}
	}
	if len(args) == 0 {
		return e.Text
	}
	return Text{ZH: fill(e.ZH, args, false), EN: fill(e.EN, args, true)}
}

func fill(text string, args []any, en bool) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		name := m[1 : len(m)-1]
		for i := 0; i+1 < len(args); i += 2 {
			if n, _ := args[i].(string); n != name {
				continue
			}
			switch v := args[i+1].(type) {
			case Text:
				return pick(v, en)
			case Key:
				return pick(T(v), en)
			default:
				return fmt.Sprint(v)
			}
		}
		return m
	})
}

func pick(t Text, en bool) string {
	if en {
		return t.EN
	}
	return t.ZH
}

// WebModule is the web client's catalog as an ES module: export const catalog = {key: [zh, en]}.
// The web handler serves it at /js/catalog.js.
func WebModule() []byte { return webModule }

func buildWebModule(all map[Key]Entry) []byte {
	keys := make([]string, 0, len(all))
	for k, e := range all {
		if strings.HasPrefix(e.File, "catalog/web/") {
			keys = append(keys, string(k))
		}
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("// The web client's messages, from the server's catalogs (Chinese, English). Generated; do not edit.\nexport const catalog = {\n")
	for _, k := range keys {
		e := all[Key(k)]
		pair, _ := json.Marshal([2]string{e.ZH, e.EN})
		kj, _ := json.Marshal(k)
		fmt.Fprintf(&b, "  %s: %s,\n", kj, pair)
	}
	b.WriteString("};\n")
	return b.Bytes()
}
