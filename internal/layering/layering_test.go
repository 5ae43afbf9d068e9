package layering

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// rules: no package at or under from imports (in a non-test file) a package at or under any of
// not. Paths are relative to the module; "" is every package. A test helper that needs a higher
// package lives in a _test.go file or next to what it imports (client/testpeer).
var rules = []struct {
	from string
	not  []string
}{
	{"sfu", []string{"signaling", "call", "scheduler", "recording", "client", "web", "cmd", "bench"}},
	// The reception call's rules know no transport: signaling uses call, never the other way.
	{"call", []string{"signaling", "client", "web", "cmd", "bench"}},
	{"scheduler", []string{"sfu", "signaling", "call", "recording", "client", "web", "bench", "cmd"}},
	{"recording", []string{"signaling", "call", "scheduler/api", "client", "web", "cmd", "bench"}},
	{"client", []string{"scheduler", "web", "cmd", "bench"}},
	{"", []string{"cmd"}},
	// The TURN relay knows only addresses: the SFU's media port is a number it is given.
	{"relay", []string{"auth", "bench", "call", "client", "recording", "scheduler", "sfu", "signaling", "web"}},
	// The cluster keeps live state in Redis and knows no room's content: cmd adapts it to
	// signaling and the API, which know it only through their own small interfaces.
	{"cluster", []string{"auth", "bench", "call", "client", "recording", "relay", "scheduler", "sfu", "signaling", "web"}},
	// Sealing at rest is a leaf: the stores and cmd use it, it knows no caller and no domain.
	{"internal/sealed", []string{"auth", "bench", "call", "client", "cluster", "cmd", "recording", "relay", "scheduler", "sfu", "signaling", "web", "i18n", "internal/certs", "internal/portmux"}},
	{"signaling", []string{"cluster", "cascade"}},
	// The cascade moves a call's media between nodes and knows no placement, store or page:
	// cmd tells it which node holds what; signaling drives it through its Cascade interface.
	{"cascade", []string{"bench", "client", "cluster", "recording", "relay", "scheduler", "signaling", "web"}},
	// The test bed of sites knows nothing of ours.
	{"internal/sitelink", []string{"auth", "bench", "call", "cascade", "client", "cluster", "cmd", "recording", "relay", "scheduler", "sfu", "signaling", "web", "i18n"}},
	{"scheduler", []string{"cluster"}},
	// The catalogs are below everything: every package may translate, i18n imports no package of ours.
	{"i18n", []string{"auth", "bench", "call", "client", "internal", "recording", "relay", "scheduler", "sfu", "signaling", "web"}},
	// The domain, one way: org ← calendar ← casework ← reception; rates and exchange beside
	// reception; the top scheduler package ("=scheduler": that package only) composes them, and the
	// stores, the API, notify and ical sit above. Each rule names what is above the package.
	{"scheduler/org", append([]string{"scheduler/calendar", "scheduler/casework", "scheduler/reception", "scheduler/rates", "scheduler/exchange"}, domainAbove...)},
	{"scheduler/calendar", append([]string{"scheduler/casework", "scheduler/reception", "scheduler/rates", "scheduler/exchange"}, domainAbove...)},
	{"scheduler/casework", append([]string{"scheduler/reception", "scheduler/rates", "scheduler/exchange"}, domainAbove...)},
	{"scheduler/reception", append([]string{"scheduler/rates", "scheduler/exchange"}, domainAbove...)},
	{"scheduler/rates", append([]string{"scheduler/reception", "scheduler/exchange"}, domainAbove...)},
	{"scheduler/exchange", append([]string{"scheduler/reception", "scheduler/rates"}, domainAbove...)},
}

// domainAbove are the packages above every domain package of the scheduler.
var domainAbove = []string{"=scheduler", "scheduler/api", "scheduler/sqlstore", "scheduler/sqlite", "scheduler/postgres",
	"scheduler/storetest", "scheduler/notify", "scheduler/ical"}

// allowed are the imports a rule above forbids that are there on purpose, each with its reason.
var allowed = map[[2]string]string{
	// The HTTP API serves and verifies the recorder's files; recording imports no scheduler/api.
	{"scheduler/api", "recording"}: "the API serves recordings",
}

// under reports whether pkg is dir or a package below it ("" holds every package; "=dir" is dir
// only, not the packages below it).
func under(pkg, dir string) bool {
	if exact, ok := strings.CutPrefix(dir, "="); ok {
		return pkg == exact
	}
	return dir == "" || pkg == dir || strings.HasPrefix(pkg, dir+"/")
}

// violations lists the imports of imports (package → the module's packages it imports) that the
// rules forbid, as "from imports to (rule: …)".
func violations(imports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		for _, dep := range deps {
			if _, ok := allowed[[2]string{pkg, dep}]; ok {
				continue
			}
			for _, r := range rules {
				if !under(pkg, r.from) {
					continue
				}
				for _, n := range r.not {
					if under(dep, n) {
						from := r.from
						if from == "" {
							from = "every package"
						}
						out = append(out, fmt.Sprintf("%s imports %s (rule: %s imports no %s)", pkg, dep, from, n))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// moduleImports reads the imports of every non-test Go file of the module, keeping those of the
// module's own packages, by package directory relative to the module root.
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	root, mod := moduleRoot(t)
	imports := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// What the go command skips: testdata, and directories starting with . or _.
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if pkg == "." {
			pkg = ""
		}
		if _, ok := imports[pkg]; !ok {
			imports[pkg] = nil
		}
		for _, spec := range f.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if dep, ok := strings.CutPrefix(p, mod+"/"); ok {
				imports[pkg] = append(imports[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return imports
}

// moduleRoot finds go.mod above the test's directory and reads the module path.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

func TestNoImportUpward(t *testing.T) {
	imports := moduleImports(t)
	// The table must keep naming packages that exist: a rule on a renamed package checks nothing.
	for _, r := range rules {
		found := false
		for pkg := range imports {
			found = found || under(pkg, r.from)
		}
		if !found {
			t.Errorf("rule for %q: no such package", r.from)
		}
	}
	for pair := range allowed {
		found := false
		for _, dep := range imports[pair[0]] {
			found = found || dep == pair[1]
		}
		if !found {
			t.Errorf("allowed import %s → %s is gone: remove it from the table", pair[0], pair[1])
		}
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
	if len(imports) < 10 {
		t.Fatalf("read only %d packages: is the module root right?", len(imports))
	}
}

// The checker itself: the import this test was written for (a test helper under recording that
// imported the client) is caught, and a downward import is not.
func TestViolationsCatchesUpwardImport(t *testing.T) {
	got := violations(map[string][]string{
		"recording/testpeer": {"client", "sfu"},
		"recording":          {"sfu"},
		"scheduler/api":      {"recording", "scheduler"},
		"scheduler/sqlite":   {"scheduler/sqlstore", "cmd/sanji"},
		"signaling":          {"sfu", "scheduler"},
		"scheduler/casework": {"scheduler/org", "scheduler/calendar", "scheduler/reception", "scheduler"},
	})
	want := []string{
		"recording/testpeer imports client (rule: recording imports no client)",
		"scheduler/casework imports scheduler (rule: scheduler/casework imports no =scheduler)",
		"scheduler/casework imports scheduler/reception (rule: scheduler/casework imports no scheduler/reception)",
		"scheduler/sqlite imports cmd/sanji (rule: every package imports no cmd)",
		"scheduler/sqlite imports cmd/sanji (rule: scheduler imports no cmd)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
