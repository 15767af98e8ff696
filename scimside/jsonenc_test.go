package scimside

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// legacyObject is orderedObject with the MarshalJSON it had before
// appendJSON: the reference the new encoder must match byte for byte, and
// the benchmarks' baseline.
type legacyObject []kv

func (o legacyObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// holder puts a value behind a struct field, where only encoding/json
// reaches it: the fallback path with an orderedObject inside.
type holder[T any] struct {
	A T      `json:"a"`
	S string `json:"s<&>"`
}

// toLegacy copies v with every orderedObject turned into a legacyObject.
// A map met again inside itself is left as it is, so that a cycle stays a
// cycle for encoding/json to report.
func toLegacy(v any) any { return toLegacyIn(v, map[uintptr]bool{}) }

func toLegacyIn(v any, open map[uintptr]bool) any {
	toLegacy := func(v any) any { return toLegacyIn(v, open) }
	switch t := v.(type) {
	case orderedObject:
		if t == nil {
			return legacyObject(nil)
		}
		out := make(legacyObject, len(t))
		for i, m := range t {
			out[i] = kv{m.Key, toLegacy(m.Value)}
		}
		return out
	case *orderedObject:
		if t == nil {
			return (*legacyObject)(nil)
		}
		l := toLegacy(*t).(legacyObject)
		return &l
	case []orderedObject:
		if t == nil {
			return []legacyObject(nil)
		}
		out := make([]legacyObject, len(t))
		for i, o := range t {
			out[i] = toLegacy(o).(legacyObject)
		}
		return out
	case holder[orderedObject]:
		return holder[legacyObject]{A: toLegacy(t.A).(legacyObject), S: t.S}
	case []any:
		if t == nil {
			return t
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = toLegacy(x)
		}
		return out
	case map[string]any:
		p := reflect.ValueOf(t).Pointer()
		if t == nil || open[p] {
			return t
		}
		open[p] = true
		defer delete(open, p)
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = toLegacy(x)
		}
		return out
	case []map[string]any:
		if t == nil {
			return t
		}
		out := make([]map[string]any, len(t))
		for i, m := range t {
			out[i] = toLegacy(m).(map[string]any)
		}
		return out
	}
	return v
}

// legacyEncode is the former encodeJSON.
func legacyEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errText names the legacy type as the type it stands for, so that error
// messages compare.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), "legacyObject", "orderedObject")
}

// checkSame fails t unless encodeJSON writes what the former encoder wrote
// for v, or fails with the same message.
func checkSame(t testing.TB, name string, v any) {
	t.Helper()
	want, wantErr := legacyEncode(toLegacy(v))
	const prefix = "prefix"
	got, gotErr := encodeJSON([]byte(prefix), v)
	if errText(gotErr) != errText(wantErr) {
		t.Fatalf("%s: error\n got  %s\n want %s", name, errText(gotErr), errText(wantErr))
	}
	if !bytes.HasPrefix(got, []byte(prefix)) || (gotErr != nil && len(got) != len(prefix)) {
		t.Fatalf("%s: dst not kept (or not restored on error): %q", name, got)
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", name, got, want)
	}
}

var hostileStrings = func() []string {
	s := []string{
		"", "plain", `"`, `\`, `\"`, `"\\"`, "/", "</script>", "<>&", "a&b<c>d",
		"\x7f", "\u0080", "Zoë Łukasz 日本語 🎉", "\ufffd", "\ufeff", "\u2027\u2028\u2029\u202a",
		"a\u2028b\u2029c", "\xff", "\xfe\xff", "a\xffb", "\xc3", "\xc3(", "\xe2\x80", "\xe2\x80\xa8\xe2\x80",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xf0\x9f\x8e", "\xf0\x9f\x8e\x89\xff",
		"\U0010ffff", "\x00", "end\x00", strings.Repeat("<&>\"\\\n\u2028\xff é", 50),
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", `W/"3694e05e9dff590"`,
	}
	for b := 0; b < 0x20; b++ {
		s = append(s, string(rune(b)), "x"+string(rune(b))+"y")
	}
	return s
}()

var hostileNumbers = []any{
	0, -1, 42, math.MaxInt64, math.MinInt64, int64(math.MaxInt64), int32(math.MinInt32), int16(-7), int8(-128),
	uint(math.MaxUint), uint64(math.MaxUint64), uint32(7), uint16(65535), uint8(255),
	0.0, math.Copysign(0, -1), 1.0, -1.5, 100000.0, 1e20, 1e21, -1e21, 999999999999999999999.0,
	123456789.123, 0.000001, -0.000001, 0.0000001, 1e-7, 1.23e-9, 5e-324, math.MaxFloat64, -math.MaxFloat64,
	math.SmallestNonzeroFloat64, 1 << 53, 1<<53 + 1.0, 0.1, 1.0 / 3,
	float32(0), float32(math.Copysign(0, -1)), float32(0.1), float32(1e21), float32(1e20), float32(1e-7),
	float32(0.000001), float32(3.4e38), float32(-1.5), float32(16777217),
}

// shapes puts x in each place a response can hold a value.
func shapes(x any) map[string]any {
	return map[string]any{
		"top":              x,
		"[]any":            []any{x, x},
		"map":              map[string]any{"k": x, "a": nil},
		"object":           orderedObject{{"k", x}},
		"object/[]any":     orderedObject{{"k", []any{"s", x}}},
		"object/map":       orderedObject{{"k", map[string]any{"z": 1, "k": x}}},
		"object/object":    orderedObject{{"a", true}, {"k", orderedObject{{"k", x}}}},
		"object/[]object":  orderedObject{{"k", []orderedObject{{{"k", x}}, {}}}},
		"object/[]map":     orderedObject{{"k", []map[string]any{{"k": x}}}},
		"[]any/object":     []any{orderedObject{{"k", x}}},
		"map/object":       map[string]any{"k": orderedObject{{"k", x}}},
		"object/[]any/map": orderedObject{{"Resources", []any{map[string]any{"emails": []any{map[string]any{"value": x}}}}}},
		"holder/object":    holder[orderedObject]{A: orderedObject{{"k", x}}, S: "<"},
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	check := func(what string, x any) {
		for shape, v := range shapes(x) {
			checkSame(t, fmt.Sprintf("%s in %s", what, shape), v)
		}
	}
	for _, s := range hostileStrings {
		check(fmt.Sprintf("string %q", s), s)
		checkSame(t, fmt.Sprintf("key %q", s), orderedObject{{s, s}, {"m", map[string]any{s: s, s + "x": 1}}})
		checkSame(t, fmt.Sprintf("map key %q", s), map[string]any{s: []string{s}, "x" + s: s})
		checkSame(t, fmt.Sprintf("[]string %q", s), orderedObject{{"k", []string{s, s}}})
	}
	for _, n := range hostileNumbers {
		check(fmt.Sprintf("%T %v", n, n), n)
	}
	var nilObject orderedObject
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	deep := any("bottom<")
	for range 3 * maxDirectDepth {
		deep = []any{map[string]any{"d": deep}}
	}
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123000000, time.UTC)
	others := map[string]any{
		"nil":                 nil,
		"true":                true,
		"false":               false,
		"nil orderedObject":   nilObject,
		"nil []orderedObject": []orderedObject(nil),
		"nil []any":           []any(nil),
		"nil []string":        []string(nil),
		"nil map":             map[string]any(nil),
		"nil []map":           []map[string]any(nil),
		"empty []string":      []string{},
		"empty map":           map[string]any{},
		"*orderedObject":      &orderedObject{{"a", "<"}},
		"nil *orderedObject":  (*orderedObject)(nil),
		"time":                ts,
		"year 10000":          time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"json.Number":         json.Number("1e3"),
		"bad json.Number":     json.Number("x"),
		"RawMessage":          json.RawMessage(` { "a" : "<" } `),
		"bad RawMessage":      json.RawMessage(`{`),
		"[]byte":              []byte("<bytes>"),
		"named string":        bridge.TypeString,
		"map[string]string":   map[string]string{"b": "<", "a": "&"},
		"map[int]any":         map[int]any{2: "x", 10: "y"},
		"scimError":           newSCIMError(400, "invalidValue", "a <b> & \u2028 \xff"),
		"scim11Error":         newSCIM11Error(404, "<nope>"),
		"struct":              struct{ A, B any }{"<", orderedObject{{"x", "<"}}},
		"chan":                make(chan int),
		"func":                func() {},
		"complex":             complex(1, 2),
		"NaN":                 math.NaN(),
		"+Inf":                math.Inf(1),
		"-Inf":                math.Inf(-1),
		"float32 NaN":         float32(math.NaN()),
		"float32 -Inf":        float32(math.Inf(-1)),
		"cycle":               cyclic,
		"deep":                deep,
		"map key order":       map[string]any{"b": 1, "B": 2, "a": 3, "": 4, "é": 5, "e": 6, "~": 7, "aa": 8, "a\x00": 9},
		"many keys":           manyKeys(40),
	}
	for name, x := range others {
		check(name, x)
	}
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("k%02d<", (i*17)%n)] = i
	}
	return m
}

// TestOrderedObjectMarshalJSON: code that still hands an orderedObject to
// encoding/json gets the former bytes and errors.
func TestOrderedObjectMarshalJSON(t *testing.T) {
	for _, s := range hostileStrings {
		for shape, v := range shapes(s) {
			o := orderedObject{{"k", v}, {s, []any{math.Copysign(0, -1), 1e21}}}
			got, gotErr := o.MarshalJSON()
			want, wantErr := toLegacy(o).(legacyObject).MarshalJSON()
			if errText(gotErr) != errText(wantErr) || !bytes.Equal(got, want) {
				t.Fatalf("%q in %s: MarshalJSON\n got  %q %v\n want %q %v", s, shape, got, gotErr, want, wantErr)
			}
			got, gotErr = json.Marshal(o)
			want, wantErr = json.Marshal(toLegacy(o))
			if errText(gotErr) != errText(wantErr) || !bytes.Equal(got, want) {
				t.Fatalf("%q in %s: json.Marshal\n got  %q %v\n want %q %v", s, shape, got, gotErr, want, wantErr)
			}
		}
	}
	o := orderedObject{{"a", orderedObject{{"b", []orderedObject{{{"c", math.NaN()}}}}}}}
	_, gotErr := o.MarshalJSON()
	_, wantErr := toLegacy(o).(legacyObject).MarshalJSON()
	if errText(gotErr) != errText(wantErr) {
		t.Fatalf("error\n got  %v\n want %v", gotErr, wantErr)
	}
}

// TestResponsesMatchEncodingJSON runs the codecs' real documents through
// both encoders: lists of users in both protocol versions, errors, and the
// parts of the discovery documents.
func TestResponsesMatchEncodingJSON(t *testing.T) {
	rt := userType()
	users := benchUsers(20)
	users[3].Attrs["displayName"] = "<b>Zoë</b> & \u2028 \xff"
	users[4].Attrs[oktaCustomURN] = map[string]any{"costCenter": 1e21, "departmentName": "R&D"}
	for _, c := range []codec{v2codec{}, v1codec{}} {
		for _, sel := range []selection{{}, c.parseSelection(rt, []string{"userName", "emails.value", "meta"}, nil)} {
			var items []any
			for _, u := range users {
				items = append(items, c.encodeResource(rt, u, "https://scim.example.com/v2/Users/"+u.ID, sel))
			}
			checkSame(t, fmt.Sprintf("%T list", c), c.encodeList(items, 100000, 1))
			checkSame(t, fmt.Sprintf("%T empty list", c), c.encodeList(nil, 0, 1))
			checkSame(t, fmt.Sprintf("%T error", c), c.errorBody(400, "invalidFilter", `bad "filter" <x>`))
		}
	}
	// The discovery documents are built inside their handlers; their parts
	// are checked here.
	info := &discoveryInfo{types: []*bridge.ResourceType{rt, groupType()}, auth: AuthConfig{BasicUser: "u", BasicPassword: "p"},
		maxBody: 1 << 20, maxResults: 1000, passwordSync: true, groups: true}
	var schemas []any
	for _, t := range info.types {
		for _, s := range append([]*bridge.SchemaDef{&t.Schema}, extPtrs(t)...) {
			schemas = append(schemas, renderSchema(s, "https://scim.example.com/v2"))
		}
	}
	checkSame(t, "schemas", v2codec{}.encodeList(schemas, len(schemas), 1))
	checkSame(t, "authenticationSchemes", orderedObject{{"authenticationSchemes", info.authSchemes()}, {"maxPayloadSize", info.maxBody}})
	checkSame(t, "capabilities", orderedObject{{oktaProviderURN, orderedObject{{"userManagementCapabilities", info.capabilities()}}}})
}

// discardWriter is a ResponseWriter that costs the benchmarks nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchUsers are users as a mapping table returns them from a directory:
// strings, a bool, a float64 for an integer attribute, and []any of
// map[string]any for the multi-valued complex ones.
func benchUsers(n int) []bridge.Resource {
	given := []string{"Ada", "Grace", "Zoë", "Łukasz", "Søren", "Mei", "José", "Anders"}
	family := []string{"Lovelace", "Hopper", "Müller", "Nowak", "Kierkegaard", "Chen", "García", "Hejlsberg"}
	created := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	out := make([]bridge.Resource, n)
	for i := range n {
		g, f := given[i%len(given)], family[(i/len(given))%len(family)]
		login := fmt.Sprintf("%s.%s%d", strings.ToLower(g), strings.ToLower(f), i)
		out[i] = bridge.Resource{
			ID: fmt.Sprintf("8f14e45f-ceea-467f-a0e6-%012d", i),
			Attrs: map[string]any{
				"userName":    login + "@example.com",
				"externalId":  fmt.Sprintf("CN=%s %s,OU=Staff,DC=example,DC=com", g, f),
				"name":        map[string]any{"givenName": g, "familyName": f, "formatted": g + " " + f},
				"displayName": g + " " + f,
				"title":       "Senior Engineer",
				"active":      i%7 != 0,
				"password":    "never shown",
				"emails": []any{
					map[string]any{"value": login + "@example.com", "type": "work", "primary": true},
					map[string]any{"value": login + "@home.example", "type": "home"},
				},
				"phoneNumbers": []any{map[string]any{"value": fmt.Sprintf("+1 555 01%02d", i%100), "type": "work"}},
				"groups": []any{
					map[string]any{"value": "2ab1c9e0-0000-4000-8000-000000000001", "display": "Engineering"},
					map[string]any{"value": "2ab1c9e0-0000-4000-8000-000000000002", "display": "R&D <EU>"},
				},
				bridge.EnterpriseSchema: map[string]any{
					"employeeNumber": fmt.Sprint(10000 + i),
					"department":     "Research & Development",
					"manager":        map[string]any{"value": "8f14e45f-ceea-467f-a0e6-000000000001"},
				},
				oktaCustomURN: map[string]any{"departmentName": "R&D", "costCenter": float64(4200 + i%10)},
			},
			Meta: bridge.Meta{ResourceType: "User", Created: created, LastModified: created.Add(time.Duration(i) * time.Hour),
				Version: fmt.Sprintf(`W/"%016x"`, 0x3694e05e9dff590+i)},
		}
	}
	return out
}

// benchList is GET /v2/Users with a page of n users, as the codec renders
// it.
func benchList(n int) any {
	rt := userType()
	var items []any
	for _, u := range benchUsers(n) {
		items = append(items, v2codec{}.encodeResource(rt, u, "https://scim.example.com/v2/Users/"+u.ID, selection{}))
	}
	return v2codec{}.encodeList(items, 100000, 1)
}

func FuzzAppendJSON(f *testing.F) {
	for i, s := range hostileStrings {
		f.Add(s, float64(i)*1.1, int64(i))
	}
	f.Add("x", 1e21, int64(math.MinInt64))
	f.Add("x", 0.000001, int64(-1))
	f.Add("x", math.NaN(), int64(0))
	f.Fuzz(func(t *testing.T, s string, x float64, n int64) {
		// A valid-UTF-8 copy too, so that the fuzzer's mutations are not all
		// spent on \ufffd. Few values, each holding many: minimizing a new
		// input runs this thousands of times.
		v := strings.ToValidUTF8(s, "\u2028")
		scalars := []any{s, v, x, float32(x), n}
		// Inside an orderedObject: HTML-escaped, keys too.
		checkSame(t, "object", orderedObject{{s, scalars}, {v, map[string]any{s: v, v: []string{s, v}}}, {"o", []orderedObject{{{v, s}}}}})
		// Outside one: encoding/json with SetEscapeHTML(false), nothing else.
		checkSame(t, "map", map[string]any{s: scalars, v: []string{s, v}})
	})
}

// BenchmarkEncodeListResponse encodes a page of 100 users: "encoding/json"
// is the encoder this package had before (orderedObject.MarshalJSON over
// json.Marshal, under a json.Encoder), "appendJSON" the one it has.
// "appendJSON/reused" appends into a buffer kept across iterations, as
// respond does through its pool; "respond" is the whole answer.
func BenchmarkEncodeListResponse(b *testing.B) {
	list := benchList(100)
	legacy := toLegacy(list)
	body, err := encodeJSON(nil, list)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := legacyEncode(legacy); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeJSON(nil, list); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendJSON/reused", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = encodeJSON(buf[:0], list); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("respond", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		w := &discardWriter{}
		for b.Loop() {
			if err := respond(w, http.StatusOK, list); err != nil {
				b.Fatal(err)
			}
		}
	})
}
