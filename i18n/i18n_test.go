package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestTFillsBothLanguages(t *testing.T) {
	entries = map[Key]Entry{
		"x.greet": {Text: Text{ZH: "你好，{name}；{what}", EN: "hello, {name}; {what}"}},
		"x.thing": {Text: Text{ZH: "东西", EN: "thing"}},
	}
	t.Cleanup(func() { entries, _ = load(files) })
	got := T("x.greet", "name", 7, "what", Key("x.thing"))
	if got.ZH != "你好，7；东西" || got.EN != "hello, 7; thing" {
		t.Fatalf("T = %+v", got)
	}
	if got := T("x.greet", "name", "甲"); got.ZH != "你好，甲；{what}" {
		t.Fatalf("a missing parameter stays visible: %+v", got)
	}
	if got := T("x.none"); got.ZH != "x.none" || got.EN != "x.none" {
		t.Fatalf("an unknown key renders as itself: %+v", got)
	}
	if got := T("x.greet", "name", 1, "what", Text{ZH: "甲", EN: "A"}).String(); got != "你好，1；甲 / hello, 1; A" {
		t.Fatalf("String = %q", got)
	}
}

func TestLoadRefusesBrokenCatalogs(t *testing.T) {
	for name, body := range map[string]string{
		"missing en":        `{"org.a": {"zh": "甲"}}`,
		"empty zh":          `{"org.a": {"zh": " ", "en": "a"}}`,
		"third language":    `{"org.a": {"zh": "甲", "en": "a", "fr": "a"}}`,
		"placeholders":      `{"org.a": {"zh": "甲{x}", "en": "a{y}"}}`,
		"foreign namespace": `{"call.a": {"zh": "甲", "en": "a"}}`,
		"key shape":         `{"Org A": {"zh": "甲", "en": "a"}}`,
		"not json":          `{"org.a": `,
	} {
		fsys := fstest.MapFS{"catalog/server/org.json": {Data: []byte(body)}}
		if _, err := load(fsys); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	dup := fstest.MapFS{
		"catalog/web/a.json": {Data: []byte(`{"x.a": {"zh": "甲", "en": "a"}}`)},
		"catalog/web/b.json": {Data: []byte(`{"x.a": {"zh": "乙", "en": "b"}}`)},
	}
	if _, err := load(dup); err == nil || !strings.Contains(err.Error(), "also in") {
		t.Errorf("a key in two files: %v", err)
	}
}

func TestWebModuleHoldsTheWebCatalogOnly(t *testing.T) {
	m := string(WebModule())
	if !strings.HasPrefix(m, "// ") || !strings.Contains(m, "export const catalog = {") {
		t.Fatalf("module head: %.120s", m)
	}
	for k, e := range entries {
		in := strings.Contains(m, `"`+string(k)+`": [`)
		if web := strings.HasPrefix(e.File, "catalog/web/"); in != web {
			t.Errorf("key %s (%s): in the web module = %v", k, e.File, in)
		}
	}
}
