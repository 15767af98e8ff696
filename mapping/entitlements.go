package mapping

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/internal/tomlfile"
)

// Okta's schemas for the two resource types its guide "Build a SCIM 2.0
// server with entitlements" defines; a type whose schema is left empty gets
// the one its user attribute implies.
const (
	RoleSchemaURN        = "urn:okta:scim:schemas:core:1.0:Role"
	EntitlementSchemaURN = "urn:okta:scim:schemas:core:1.0:Entitlement"
)

// EntitlementType is one compiled [[type]] of an entitlements table: a SCIM
// resource type whose values are directory groups, read-only over SCIM, and
// the user attribute that carries a user's memberships in them.
type EntitlementType struct {
	Name          string // ResourceType id and name; each value's "type"
	Endpoint      string // "/Roles", below /v2
	Description   string
	UserAttribute string // "roles", "entitlements" or "urn:...:attr"
	Schema        string // the values' schema URN
	MultiValued   bool
	Required      bool
	Container     string
	Scope         string         // "sub" or "one"
	Filter        *bridge.Filter // selects the value entries below Container
	FilterText    string         // as written, for messages and `dirbridge check`
	Member        string         // the group attribute naming members by DN
	Placeholder   string         // groupOfNames' must-have member, never shown
	Nested        bool
	IDAttr        string // "" = the entry's immutable id
	DisplayAttr   string
	DescAttr      string // "" = no description
	Line          int    // of its [[type]], for messages about it at run time
}

// Entitlements is a compiled entitlements table. Nothing in it changes
// after loading.
type Entitlements struct {
	File  string
	Types []*EntitlementType
}

// ByEndpoint returns the type served at endpoint ("/Roles"), matched as
// SCIM matches resource paths: case-insensitively.
func (e *Entitlements) ByEndpoint(endpoint string) *EntitlementType {
	if e == nil {
		return nil
	}
	for _, t := range e.Types {
		if strings.EqualFold(t.Endpoint, endpoint) {
			return t
		}
	}
	return nil
}

// ByAttribute returns the type a user attribute carries, or nil.
func (e *Entitlements) ByAttribute(attr string) *EntitlementType {
	if e == nil {
		return nil
	}
	for _, t := range e.Types {
		if strings.EqualFold(t.UserAttribute, attr) {
			return t
		}
	}
	return nil
}

type fileEntitlements struct {
	Type []fileEntType `toml:"type"`
}

type fileEntType struct {
	Name          string       `toml:"name"`
	Endpoint      string       `toml:"endpoint"`
	Description   string       `toml:"description"`
	UserAttribute string       `toml:"user_attribute"`
	Schema        string       `toml:"schema"`
	MultiValued   *bool        `toml:"multi_valued"`
	Required      bool         `toml:"required"`
	Container     string       `toml:"container"`
	Scope         string       `toml:"scope"`
	Filter        string       `toml:"filter"`
	Member        string       `toml:"member"`
	Placeholder   string       `toml:"placeholder"`
	Nested        bool         `toml:"nested"`
	Value         *fileEntVals `toml:"value"`
}

type fileEntVals struct {
	ID          string `toml:"id"`
	Display     string `toml:"display"`
	Description string `toml:"description"`
}

// reservedEndpoints are the gateway's own: a type there would hide them.
var reservedEndpoints = []string{"/Users", "/Groups", "/ResourceTypes", "/Schemas", "/ServiceProviderConfig", "/Bulk", "/Me", "/.search"}

// DefaultEntitlementFilter selects value entries when a type names none.
const DefaultEntitlementFilter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"

// LoadEntitlements reads and compiles the entitlements table at path.
func LoadEntitlements(path string, opts Options) (*Entitlements, error) {
	const op = "mapping.LoadEntitlements"
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, bridge.E(op, bridge.KindInternal, "", err)
	}
	e, err := compileEntitlements(path, data, opts)
	return e, wrapLoad(op, err)
}

// ParseEntitlements compiles an entitlements table from data; name is used
// in messages.
func ParseEntitlements(name string, data []byte, opts Options) (*Entitlements, error) {
	const op = "mapping.ParseEntitlements"
	e, err := compileEntitlements(name, data, opts)
	return e, wrapLoad(op, err)
}

func compileEntitlements(name string, data []byte, opts Options) (*Entitlements, error) {
	le := &LoadError{File: name}
	add := func(line int, format string, args ...any) {
		le.Problems = append(le.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	if p := tomlfile.SyntaxError(data); p != nil {
		add(p.Line, "%s", p.Msg)
		return nil, le
	}
	// Unknown keys and wrong types, every one at its line; the rest is
	// decoded without them so that its problems come in the same run.
	orig := tomlfile.Scan(data) // lines of the file as written, also when keys are dropped below
	checked := tomlfile.Check(data, &fileEntitlements{})
	bad := map[string]bool{}
	for _, p := range checked {
		add(p.Line, "%s: %s", p.Key, p.Msg)
		bad[p.Key] = true
	}
	if len(checked) > 0 {
		right, err := tomlfile.Without(data, checked)
		if err != nil {
			return nil, le
		}
		data = right
	}
	var ft fileEntitlements
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&ft); err != nil {
		add(0, "%v", err)
		return nil, le
	}
	if len(ft.Type) == 0 && len(checked) == 0 {
		add(0, "no [[type]]: an entitlements table declares one or more types (name, endpoint, user_attribute, container, [type.value] display)")
	}
	sub := newSubst(opts)
	e := &Entitlements{File: name}
	seenName, seenEP, seenAttr := map[string]int{}, map[string]int{}, map[string]int{}
	for i, f := range ft.Type {
		key := fmt.Sprintf("type[%d]", i)
		line := orig.Line(key)
		at := func(k string) int {
			if n := orig.Line(key + "." + k); n > 0 {
				return n
			}
			return line
		}
		missing := func(k string) bool { return bad[key+"."+k] }
		t := &EntitlementType{Line: line, Description: f.Description, Required: f.Required, Nested: f.Nested}
		t.Name = strings.TrimSpace(f.Name)
		switch {
		case t.Name == "" && !missing("name"):
			add(line, "type without name — e.g. name = \"Role\"")
		case t.Name != "" && !validTypeName(t.Name):
			add(at("name"), "name %q: letters, digits and _ only (it is a ResourceType id)", t.Name)
		case t.Name != "":
			if prev, dup := seenName[strings.ToLower(t.Name)]; dup {
				add(at("name"), "name %q is already the name of the type at line %d", t.Name, prev)
			}
			seenName[strings.ToLower(t.Name)] = line
			if strings.EqualFold(t.Name, "User") || strings.EqualFold(t.Name, "Group") {
				add(at("name"), "name %q is the gateway's own resource type — choose another, e.g. \"Role\"", t.Name)
			}
		}
		t.Endpoint = strings.TrimSpace(f.Endpoint)
		switch {
		case t.Endpoint == "" && !missing("endpoint"):
			add(line, "endpoint is missing — e.g. endpoint = \"/Roles\"")
		case t.Endpoint != "" && (!strings.HasPrefix(t.Endpoint, "/") || strings.Count(t.Endpoint, "/") != 1 || !validTypeName(t.Endpoint[1:])):
			add(at("endpoint"), "endpoint %q: one path segment after \"/\" of letters, digits and _, e.g. \"/Roles\"", t.Endpoint)
		case t.Endpoint != "":
			for _, r := range reservedEndpoints {
				if strings.EqualFold(r, t.Endpoint) {
					add(at("endpoint"), "endpoint %q is the gateway's own — choose another, e.g. \"/Roles\"", t.Endpoint)
				}
			}
			if prev, dup := seenEP[strings.ToLower(t.Endpoint)]; dup {
				add(at("endpoint"), "endpoint %q is already the endpoint of the type at line %d", t.Endpoint, prev)
			}
			seenEP[strings.ToLower(t.Endpoint)] = line
		}
		t.UserAttribute = strings.TrimSpace(f.UserAttribute)
		switch {
		case t.UserAttribute == "" && !missing("user_attribute"):
			add(line, "user_attribute is missing — \"roles\", \"entitlements\" or an extension attribute \"urn:...:name\"")
		case strings.EqualFold(t.UserAttribute, "roles"):
			t.UserAttribute = "roles"
		case strings.EqualFold(t.UserAttribute, "entitlements"):
			t.UserAttribute = "entitlements"
		case strings.HasPrefix(strings.ToLower(t.UserAttribute), "urn:"):
			i := strings.LastIndex(t.UserAttribute, ":")
			if i <= len("urn:") || !validTypeName(t.UserAttribute[i+1:]) {
				add(at("user_attribute"), "user_attribute %q: an extension attribute is its schema URN, \":\" and its name, e.g. \"urn:example:1.0:User:licenses\"", t.UserAttribute)
			}
		case t.UserAttribute != "":
			add(at("user_attribute"), "user_attribute %q: want \"roles\", \"entitlements\" or an extension attribute \"urn:...:name\"", t.UserAttribute)
		}
		if t.UserAttribute != "" {
			if prev, dup := seenAttr[strings.ToLower(t.UserAttribute)]; dup {
				add(at("user_attribute"), "user_attribute %q already carries the type at line %d — one attribute, one type", t.UserAttribute, prev)
			}
			seenAttr[strings.ToLower(t.UserAttribute)] = line
		}
		t.Schema = strings.TrimSpace(sub.do(f.Schema, at("schema"), add))
		switch {
		case t.Schema == "" && t.UserAttribute == "roles":
			t.Schema = RoleSchemaURN
		case t.Schema == "":
			t.Schema = EntitlementSchemaURN
		case !strings.HasPrefix(strings.ToLower(t.Schema), "urn:"):
			add(at("schema"), "schema %q must start with \"urn:\" (or leave it out for Okta's)", t.Schema)
		}
		t.MultiValued = true
		if f.MultiValued != nil {
			t.MultiValued = *f.MultiValued
		}
		t.Container = strings.TrimSpace(sub.do(f.Container, at("container"), add))
		if opts.Container != "" {
			t.Container = opts.Container
		}
		switch {
		case t.Container == "" && !missing("container"):
			add(line, "container is missing — the DN the values live under, e.g. container = \"ou=App Roles,${base_dn}\"")
		case t.Container != "":
			if _, err := bridge.ParseDN(t.Container); err != nil || !strings.Contains(t.Container, "=") {
				add(at("container"), "container %q is not a DN — e.g. \"ou=App Roles,${base_dn}\"", t.Container)
			}
		}
		switch strings.ToLower(strings.TrimSpace(f.Scope)) {
		case "", "sub":
			t.Scope = "sub"
		case "one":
			t.Scope = "one"
		default:
			add(at("scope"), "scope %q: want \"sub\" or \"one\"", f.Scope)
		}
		t.FilterText = strings.TrimSpace(sub.do(f.Filter, at("filter"), add))
		if t.FilterText == "" {
			t.FilterText = DefaultEntitlementFilter
		}
		if fl, err := ParseLDAPFilter(t.FilterText); err != nil {
			add(at("filter"), "filter %q: %v", t.FilterText, err)
		} else {
			t.Filter = fl
		}
		t.Member = strings.TrimSpace(f.Member)
		if t.Member == "" {
			t.Member = "member"
		} else if !bridge.ValidAttrDescription(t.Member) {
			add(at("member"), "member %q is not an attribute name", f.Member)
		}
		t.Placeholder = strings.TrimSpace(sub.do(f.Placeholder, at("placeholder"), add))
		if t.Placeholder != "" {
			if _, err := bridge.ParseDN(t.Placeholder); err != nil || !strings.Contains(t.Placeholder, "=") {
				add(at("placeholder"), "placeholder %q is not a DN — e.g. \"cn=nobody,${base_dn}\"", t.Placeholder)
			}
		}
		vkey := key + ".value"
		vline := orig.Line(vkey)
		if vline == 0 {
			vline = line
		}
		if f.Value == nil {
			if !bad[vkey] {
				add(line, "[type.value] is missing — at least display = \"cn\"")
			}
		} else {
			for _, a := range []struct {
				k, v string
				dst  *string
				req  bool
			}{{"id", f.Value.ID, &t.IDAttr, false}, {"display", f.Value.Display, &t.DisplayAttr, true}, {"description", f.Value.Description, &t.DescAttr, false}} {
				v := strings.TrimSpace(a.v)
				l := orig.Line(vkey + "." + a.k)
				if l == 0 {
					l = vline
				}
				switch {
				case v == "" && a.req && !bad[vkey+"."+a.k]:
					add(l, "value.%s is missing — the attribute of a value's %s, e.g. \"cn\"", a.k, a.k)
				case v != "" && !bridge.ValidAttrDescription(v):
					add(l, "value.%s %q is not an attribute name", a.k, v)
				}
				*a.dst = v
			}
		}
		e.Types = append(e.Types, t)
	}
	if len(le.Problems) > 0 {
		return nil, le
	}
	return e, nil
}

func validTypeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
