package mapping

import (
	"strings"
	"testing"
)

// fastCases are resources the differential tests render every template
// over: missing, nil and empty values, a head that is no map, values that
// are no strings (text/template formats those), and spaces to trim.
func fastCases() []map[string]any {
	return []map[string]any{
		{},
		{"userName": "bjensen"},
		{"userName": "  bjensen  ", "displayName": nil},
		{"userName": "bjensen", "displayName": "Babs Jensen", "name": map[string]any{"givenName": "Barbara", "familyName": "Jensen"}},
		{"name": map[string]any{"givenName": "Barbara"}},
		{"name": map[string]any{"familyName": nil, "givenName": ""}},
		{"name": "not a map"},
		{"name": map[string]any(nil)},
		{"name": map[string]any{"givenName": 42, "familyName": true}},
		{"emails": []any{map[string]any{"value": "a@b"}}, "userName": "x"},
		{"displayName": []any{"a", "b"}},
		{"userName": strings.Repeat("x", maxTemplateOutput+1)},
	}
}

var fastTemplates = []string{
	"{{.userName}}",
	"{{.displayName}}",
	"{{.name.givenName}} {{.name.familyName}}",
	"uid={{.userName}}",
	"{{- .name.givenName -}} . {{.name.familyName}}!",
	"",
	"plain text",
	"{{.name.givenName}}{{.name}}",
	"{{.emails}} {{.userName}}",
	"{{lower .userName}}",
	"{{if .displayName}}{{.displayName}}{{else}}{{.userName}}{{end}}",
	"{{.userName}}{{/* comment */}}",
	"{{$x := .userName}}{{$x}}",
}

// TestTemplateFastPathMatchesTextTemplate: wherever render takes the fast
// path its answer (value and error) is the one text/template gives.
func TestTemplateFastPathMatchesTextTemplate(t *testing.T) {
	tb := loadExample(t)
	fast := 0
	for _, text := range fastTemplates {
		m, err := tb.compileTemplate(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if m.fast != nil {
			fast++
		}
		for i, attrs := range fastCases() {
			got, gerr := m.render(tb, attrs)
			want, werr := m.execute(attrs)
			if got != want || (gerr == nil) != (werr == nil) {
				t.Errorf("%q over case %d: render %q, %v; text/template %q, %v", text, i, got, gerr, want, werr)
			}
		}
	}
	if fast < 6 {
		t.Errorf("%d templates took the fast path, want the 6 of text and fields only", fast)
	}
}

// TestShippedTemplatesAreFast: the example tables' templates (the ones
// every read renders) take the fast path.
func TestShippedTemplatesAreFast(t *testing.T) {
	tb := loadExample(t)
	n := 0
	for _, r := range tb.rows {
		for _, m := range r.tmpls {
			n++
			if m.fast == nil {
				t.Errorf("template %q of %s is executed by text/template", m.text, r.ldap)
			}
		}
	}
	if tb.rdnTmpl != nil && tb.rdnTmpl.fast == nil {
		t.Errorf("the RDN template %q is executed by text/template", tb.rdnTmpl.text)
	}
	if n == 0 {
		t.Fatal("the example table has no templates")
	}
}

func FuzzTemplateFastPath(f *testing.F) {
	for _, s := range fastTemplates {
		f.Add(s, "Barbara", "Jensen", "bjensen")
	}
	tb := loadExample(f)
	f.Fuzz(func(t *testing.T, text, given, family, user string) {
		m, err := tb.compileTemplate(text)
		if err != nil {
			return
		}
		for _, attrs := range append(fastCases(),
			map[string]any{"userName": user, "name": map[string]any{"givenName": given, "familyName": family}},
			map[string]any{"userName": user, "displayName": given, "name": family}) {
			got, gerr := m.render(tb, attrs)
			want, werr := m.execute(attrs)
			if got != want || (gerr == nil) != (werr == nil) {
				t.Fatalf("%q over %v: render %q, %v; text/template %q, %v", text, attrs, got, gerr, want, werr)
			}
		}
	})
}
