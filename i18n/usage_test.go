package i18n_test

import (
	"go/ast"
	"go/constant"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"sanji/i18n"
	"sanji/scheduler/org"
)

// TestCatalogsMatchTheCode fails when code uses a key no catalog has, when a catalog key is
// unused, or when a call's parameters differ from the {names} its text has. Go code is read with
// its types: every constant of type i18n.Key is a use. The web client is read as text: quoted
// keys, data-i18n attributes and template prefixes (`role.${r}` uses every role.* key).
func TestCatalogsMatchTheCode(t *testing.T) {
	all := i18n.Entries()
	goUses := goKeyUses(t, all)
	webUses, webPrefixes := webKeyUses(t, all)

	var unused []string
	for k, e := range all {
		web := strings.HasPrefix(e.File, "catalog/web/")
		used := false
		if web {
			used = webUses[k]
			for _, p := range webPrefixes {
				used = used || strings.HasPrefix(string(k), p)
			}
		} else {
			used = goUses[k]
		}
		if !used {
			unused = append(unused, string(k)+" ("+e.File+")")
		}
	}
	sort.Strings(unused)
	for _, k := range unused {
		t.Errorf("catalog key %s is used nowhere: remove it, or use it", k)
	}
}

// goKeyUses type-checks every package of the module and returns the keys its non-test code uses.
func goKeyUses(t *testing.T, all map[i18n.Key]i18n.Entry) map[i18n.Key]bool {
	t.Helper()
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir:  "..",
	}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatalf("load the module: %v", err)
	}
	uses := map[i18n.Key]bool{}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("package %s: %v", p.PkgPath, e)
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case ast.Expr:
					if call, ok := n.(*ast.CallExpr); ok {
						checkConversion(t, p, call)
						checkArgs(t, p, call, all)
					}
					tv, ok := p.TypesInfo.Types[n]
					if !ok || tv.Value == nil || !isKey(tv.Type) {
						return true
					}
					k := i18n.Key(constant.StringVal(tv.Value))
					if k == "" {
						return false // "no message", as a zero value
					}
					if _, ok := all[k]; !ok {
						t.Errorf("%s: key %q is in no catalog", p.Fset.Position(n.Pos()), k)
					} else if !strings.HasPrefix(all[k].File, "catalog/server/") {
						t.Errorf("%s: key %q is the web client's (%s); the server's keys live in catalog/server", p.Fset.Position(n.Pos()), k, all[k].File)
					}
					uses[k] = true
					return false
				}
				return true
			})
		}
	}
	return uses
}

func isKey(typ types.Type) bool {
	n, ok := typ.(*types.Named)
	return ok && n.Obj().Name() == "Key" && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "sanji/i18n"
}

// checkConversion refuses i18n.Key(x) of a value that is not a constant: a key built at run time
// escapes this test, so code picks among constant keys instead.
func checkConversion(t *testing.T, p *packages.Package, call *ast.CallExpr) {
	tv, ok := p.TypesInfo.Types[call.Fun]
	if p.PkgPath == "sanji/i18n" || !ok || !tv.IsType() || !isKey(tv.Type) || len(call.Args) != 1 {
		return
	}
	if arg := p.TypesInfo.Types[call.Args[0]]; arg.Value == nil && !isKey(arg.Type) {
		t.Errorf("%s: a key is built at run time; choose among constant keys so the catalog test sees them", p.Fset.Position(call.Pos()))
	}
}

// checkArgs compares the names passed with a key (f(..., key, "name", v, ...) where the key is
// the parameter before a final ...any) with the {names} of its text.
func checkArgs(t *testing.T, p *packages.Package, call *ast.CallExpr, all map[i18n.Key]i18n.Entry) {
	if call.Ellipsis.IsValid() {
		return
	}
	sig, ok := p.TypesInfo.TypeOf(call.Fun).(*types.Signature)
	if !ok || !sig.Variadic() || sig.Params().Len() < 2 {
		return
	}
	at := sig.Params().Len() - 2
	if !isKey(sig.Params().At(at).Type()) || len(call.Args) <= at {
		return
	}
	tv := p.TypesInfo.Types[call.Args[at]]
	if tv.Value == nil {
		return
	}
	e, ok := all[i18n.Key(constant.StringVal(tv.Value))]
	if !ok {
		return
	}
	rest := call.Args[at+1:]
	if len(rest)%2 != 0 {
		t.Errorf("%s: parameters of %s come in name, value pairs", p.Fset.Position(call.Pos()), constant.StringVal(tv.Value))
		return
	}
	var names []string
	for i := 0; i < len(rest); i += 2 {
		v := p.TypesInfo.Types[rest[i]].Value
		if v == nil || v.Kind() != constant.String {
			t.Errorf("%s: a parameter name of %s is not a constant string", p.Fset.Position(rest[i].Pos()), constant.StringVal(tv.Value))
			return
		}
		names = append(names, constant.StringVal(v))
	}
	sort.Strings(names)
	if want := i18n.Placeholders(e.ZH); strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("%s: %s is given {%s}; its text names {%s}", p.Fset.Position(call.Pos()), constant.StringVal(tv.Value),
			strings.Join(names, "},{"), strings.Join(want, "},{"))
	}
}

var (
	quoted   = regexp.MustCompile("'([^'\\n]*)'|\"([^\"\\n]*)\"|`([^`]*)`")
	keyLike  = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$`)
	prefixOf = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)*\.?[A-Za-z0-9_]*$`)
	fileName = regexp.MustCompile(`\.(html|js|css|json|png|svg|ico|woff2|txt|webm|ics)$`)
)

// webKeyUses reads the web client's files as text: the keys they name, and the prefixes that
// template strings complete at run time.
func webKeyUses(t *testing.T, all map[i18n.Key]i18n.Entry) (map[i18n.Key]bool, []string) {
	t.Helper()
	w := &webScan{t: t, all: all, uses: map[i18n.Key]bool{}, spaces: map[string]bool{}, notKeys: map[string]bool{}}
	for k, e := range all {
		if strings.HasPrefix(e.File, "catalog/web/") {
			w.spaces[strings.SplitN(string(k), ".", 2)[0]] = true
		}
	}
	// The policy's action names (call.join, case.read) share the key's shape; pages name them to
	// ask what the user may do.
	for _, a := range org.Actions {
		w.notKeys[a] = true
	}
	root := filepath.Join("..", "web", "static")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".js") || strings.HasSuffix(path, ".html")) {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		w.scan(path, string(body))
		return nil
	})
	if err != nil {
		t.Fatalf("read the web client: %v", err)
	}
	return w.uses, w.prefixes
}

type webScan struct {
	t        *testing.T
	all      map[i18n.Key]i18n.Entry
	uses     map[i18n.Key]bool
	prefixes []string
	spaces   map[string]bool // the first words of the web keys
	notKeys  map[string]bool
}

func (w *webScan) scan(path, text string) {
	for _, m := range quoted.FindAllStringSubmatch(text, -1) {
		if s := m[3]; strings.Contains(s, "${") {
			if p := s[:strings.Index(s, "${")]; strings.Contains(p, ".") && prefixOf.MatchString(p) {
				w.prefixes = append(w.prefixes, p)
			}
			w.scan(path, s) // the literals inside ${...}
			continue
		}
		w.check(path, m[1]+m[2]+m[3])
	}
}

// check a literal: a key, a prefix ('db.rate.' + key), or a data-i18n-attr list of keys.
func (w *webScan) check(path, s string) {
	tokens := []string{s}
	if strings.Contains(s, "=") {
		tokens = strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '=' || r == ' ' })
	}
	for _, tok := range tokens {
		space := strings.SplitN(tok, ".", 2)[0]
		if strings.HasSuffix(tok, ".") && w.spaces[space] && prefixOf.MatchString(tok) {
			w.prefixes = append(w.prefixes, tok)
			continue
		}
		if !keyLike.MatchString(tok) || fileName.MatchString(tok) || w.notKeys[tok] {
			continue
		}
		k := i18n.Key(tok)
		if e, ok := w.all[k]; ok {
			if !strings.HasPrefix(e.File, "catalog/web/") {
				w.t.Errorf("%s: key %q is the server's (%s); the web client gets catalog/web only", path, k, e.File)
			}
			w.uses[k] = true
		} else if w.spaces[space] {
			w.t.Errorf("%s: key %q is in no catalog", path, k)
		}
	}
}
