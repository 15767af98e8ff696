package ldapside

import (
	"fmt"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// These run against a slapd of their own (testenv), beside raw go-ldap on
// the same server, so that what ldapside adds to the go-ldap call can be
// read in allocations (docs/performance.md, "The gateway's own cost per
// request"); the ns/op include slapd and the machine.

// BenchmarkLookupSearch is the search of a userName eq lookup, shaped like
// the shipped users table's, beside the raw search with the same names and
// with "*".
func BenchmarkLookupSearch(b *testing.B) {
	o, err := testenv.StartOpenLDAP(nil, testenv.OpenLDAPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Stop()
	c, err := Open(Config{URLs: []string{o.URL}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, PoolSize: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := b.Context()
	for i := range 50 {
		if _, err := c.Add(ctx, bridge.AddRequest{DN: fmt.Sprintf("uid=lk%03d,%s", i, o.PeopleDN), Attrs: map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {fmt.Sprintf("lk%03d", i)}, "cn": {"Given Family"}, "sn": {"Family"}, "givenName": {"Given"},
			"mail": {fmt.Sprintf("lk%03d@example.com", i)}, "title": {"T"}, "displayName": {"Given Family"}}}); err != nil {
			b.Fatal(err)
		}
	}
	// 27 names, as many as the shipped users table asks for (with the 5
	// operational ones ldapside adds, the 32 of a lookup).
	attrs := []string{"objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "title", "employeeNumber", "departmentNumber",
		"telephoneNumber", "mobile", "l", "st", "postalCode", "street", "o", "ou", "preferredLanguage", "description", "manager",
		"employeeType", "initials", "labeledURI", "homePhone", "postalAddress", "memberOf"}
	raw, err := ldap.DialURL(o.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Bind(o.AdminDN, o.AdminPassword); err != nil {
		b.Fatal(err)
	}
	ops := []string{"entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp", "pwdAccountLockedTime"}
	b.Run("ldapside", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			uid := fmt.Sprintf("lk%03d", i%50)
			res, err := c.Search(ctx, bridge.SearchRequest{Base: o.PeopleDN, Filter: bridge.And(bridge.Eq("objectClass", "inetOrgPerson"), bridge.Eq("uid", uid)), Attrs: attrs, Count: 100})
			if err != nil || len(res.Entries) != 1 {
				b.Fatal(err)
			}
		}
	})
	rawRun := func(names []string) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				uid := fmt.Sprintf("lk%03d", i%50)
				res, err := raw.Search(ldap.NewSearchRequest(o.PeopleDN, ldap.ScopeWholeSubtree, 0, 101, 0, false, "(&(objectClass=inetOrgPerson)(uid="+uid+"))", names, nil))
				if err != nil || len(res.Entries) != 1 {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("raw-32names", rawRun(append(append([]string{}, attrs...), ops...)))
	b.Run("raw-star", rawRun(append([]string{"*"}, ops...)))
}

// BenchmarkGuessedModify is a PUT's or PATCH's one modify (Assertion and
// Post-Read, planned on the remembered entry) beside a raw modify.
func BenchmarkGuessedModify(b *testing.B) {
	o, err := testenv.StartOpenLDAP(nil, testenv.OpenLDAPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Stop()
	c, err := Open(Config{URLs: []string{o.URL}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, PoolSize: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := b.Context()
	attrs := []string{"objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "title", "employeeNumber", "departmentNumber",
		"telephoneNumber", "mobile", "l", "st", "postalCode", "street", "o", "ou", "preferredLanguage", "description", "manager",
		"employeeType", "initials", "labeledURI", "homePhone", "postalAddress", "memberOf"}
	e, err := c.Add(ctx, bridge.AddRequest{DN: "uid=mb," + o.PeopleDN, Attrs: map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"mb"}, "cn": {"Given Family"}, "sn": {"Family"}, "givenName": {"Given"},
		"mail": {"mb@example.com"}, "title": {"T"}, "displayName": {"Given Family"}}, Return: attrs})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := ldap.DialURL(o.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Bind(o.AdminDN, o.AdminPassword); err != nil {
		b.Fatal(err)
	}
	cur, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"x"}}}, Return: attrs, Current: e, Guessed: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ldapside-guessed", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			cur, err = c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{fmt.Sprint("T", i)}}}, Return: attrs, Current: cur, Guessed: true})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-modify", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			m := ldap.NewModifyRequest(e.DN, nil)
			m.Replace("title", []string{fmt.Sprint("R", i)})
			if err := raw.Modify(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
