package mapping

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/scimside"
)

// fakeRefs resolves ids and DNs from fixed maps, as the unit tier allows.
type fakeRefs struct {
	dns map[string]string // "User/id" → DN
}

func newRefs() *fakeRefs {
	return &fakeRefs{dns: map[string]string{
		"User/mgr-1":  "uid=boss,ou=people,dc=example,dc=com",
		"User/mgr-2":  `uid=O'Brien\, Pat,ou=people,dc=example,dc=com`,
		"Group/grp-1": "cn=admins,ou=groups,dc=example,dc=com",
	}}
}

func (f *fakeRefs) DNForID(_ context.Context, typ, id string) (string, error) {
	if dn, ok := f.dns[typ+"/"+id]; ok {
		return dn, nil
	}
	return "", bridge.Errorf("fakeRefs.DNForID", bridge.KindNotFound, "%s %q not found", typ, id)
}

func (f *fakeRefs) IDForDN(_ context.Context, dn string) (string, string, error) {
	for k, v := range f.dns {
		if bridge.NormalizeDN(v) == bridge.NormalizeDN(dn) {
			typ, id, _ := strings.Cut(k, "/")
			return id, typ, nil
		}
	}
	return "", "", bridge.Errorf("fakeRefs.IDForDN", bridge.KindNotFound, "nothing there")
}

const exampleUsers = "../conf/examples/openldap-users.toml"

func loadExample(t testing.TB) *Table {
	t.Helper()
	tb, err := Load(exampleUsers, withStandard(Options{BaseDN: "dc=example,dc=com"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tb
}

// entryFrom turns a NewEntry plan into the entry a directory would return.
func entryFrom(p *bridge.EntryPlan) *bridge.Entry {
	attrs := map[string][]string{}
	for k, v := range p.Attrs {
		attrs[k] = append([]string(nil), v...)
	}
	return &bridge.Entry{ID: "0b6c3d3e-0000-4000-8000-000000000001", DN: p.DN, Attrs: attrs}
}

// apply makes the changes of a plan to an entry, as a directory would.
func apply(e *bridge.Entry, p *bridge.EntryPlan) *bridge.Entry {
	out := &bridge.Entry{ID: e.ID, DN: e.DN, Attrs: map[string][]string{}}
	for k, v := range e.Attrs {
		out.Attrs[strings.ToLower(k)] = append([]string(nil), v...)
	}
	if p.NewRDN != "" {
		old, _ := bridge.ParseDN(e.DN)
		nr, _ := bridge.ParseDN(p.NewRDN)
		for _, ava := range old[0] {
			k := strings.ToLower(ava.Type)
			var keep []string
			for _, v := range out.Attrs[k] {
				if !strings.EqualFold(v, ava.Value) {
					keep = append(keep, v)
				}
			}
			out.Attrs[k] = keep
		}
		for _, ava := range nr[0] {
			k := strings.ToLower(ava.Type)
			if !hasFold(out.Attrs[k], ava.Value) {
				out.Attrs[k] = append(out.Attrs[k], ava.Value)
			}
		}
		out.DN = bridge.JoinDN(append(nr, old[1:]...))
	}
	for _, c := range p.Changes {
		k := strings.ToLower(c.Attr)
		switch c.Op {
		case bridge.ChangeReplace:
			out.Attrs[k] = append([]string(nil), c.Values...)
		case bridge.ChangeAdd:
			for _, v := range c.Values {
				if !hasFold(out.Attrs[k], v) {
					out.Attrs[k] = append(out.Attrs[k], v)
				}
			}
		case bridge.ChangeDelete:
			if len(c.Values) == 0 {
				out.Attrs[k] = nil
				break
			}
			var keep []string
			for _, v := range out.Attrs[k] {
				if !hasFold(c.Values, v) {
					keep = append(keep, v)
				}
			}
			out.Attrs[k] = keep
		}
		if len(out.Attrs[k]) == 0 {
			delete(out.Attrs, k)
		}
	}
	return out
}

// withStandard gives a table the RFC 7643 definitions, as the binary does.
func withStandard(o Options) Options {
	o.Standard = scimside.StandardSchemas()
	return o
}
