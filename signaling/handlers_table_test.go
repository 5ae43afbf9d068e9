package signaling

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// The handler table holds exactly the client's messages of protocol.go: the constants of its
// blocks documented "client to server".
func TestHandlersCoverProtocol(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "protocol.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || g.Doc == nil || !strings.Contains(g.Doc.Text(), "client to server") {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("a client message type that is not a string literal: %#v", v)
				}
				typ, _ := strconv.Unquote(lit.Value)
				want[typ] = true
			}
		}
	}
	if len(want) < 20 {
		t.Fatalf("found only %d client message types in protocol.go: %v", len(want), want)
	}
	for typ := range want {
		if handlers[typ] == nil {
			t.Errorf("no handler for the client message %q", typ)
		}
	}
	for typ := range handlers {
		if !want[typ] {
			t.Errorf("a handler for %q, which protocol.go does not list as a client message", typ)
		}
	}
}
