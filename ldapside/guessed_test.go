package ldapside

import (
	"errors"
	"strconv"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

// TestGuessedModifyOnOpenLDAP counts on the wire what a Guessed modify
// (planned on a remembered entry, issue #15) sends to slapd: ONE modify
// and nothing else for attribute and lifecycle changes, a read of the
// password state beside it for a password, and when the remembered entry
// is not the entry as it is (changed, renamed, moved directly in the
// directory) one refused modify, ErrStaleCurrent and nothing written.
func TestGuessedModifyOnOpenLDAP(t *testing.T) {
	o, p, c := startCountedOpenLDAP(t, testenv.OpenLDAPOptions{}, 2)
	ctx := tctx(t)
	admin, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	attrs := []string{"title", "description", "cn"}
	read := func(id string) *bridge.Entry {
		t.Helper()
		e, err := c.Get(ctx, "", id, attrs)
		if err != nil {
			t.Fatal(err)
		}
		p.take()
		return e
	}
	// ops is every operation since the last take, searches included.
	ops := func() string {
		n := p.take()
		return writeCounts(n) + " search=" + strconv.Itoa(n[opSearch])
	}
	title := func(v string) []bridge.Change {
		return []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{v}}}
	}
	e := addPerson(t, c, o.PeopleDN, "guess", "First-Secret-1", false)
	cur := read(e.ID)

	yes, no := true, false
	got, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Changes: title("T1"), Disabled: &yes, Return: attrs, Current: cur, Guessed: true})
	if err != nil {
		t.Fatalf("Guessed Modify: %v", err)
	}
	if s := ops(); s != "modify=1 add=0 delete=0 modifyDN=0 extended=0 search=0" {
		t.Errorf("PATCH {title, active:false} on a remembered entry sent %s, want one modify and nothing else", s)
	}
	if got.First("title") != "T1" || !got.Disabled || got.Version == cur.Version {
		t.Fatalf("answer: title %q, disabled %t, Version moved %t", got.First("title"), got.Disabled, got.Version != cur.Version)
	}
	if a := adminRead(t, o, e.DN, "title", "pwdAccountLockedTime"); a.GetAttributeValue("title") != "T1" || a.GetAttributeValue("pwdAccountLockedTime") != lockedForever {
		t.Fatalf("directory: title %q, pwdAccountLockedTime %q", a.GetAttributeValue("title"), a.GetAttributeValue("pwdAccountLockedTime"))
	}

	// The answer is the next remembered entry: enable on it, one modify.
	cur = got
	if got, err = c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Disabled: &no, Return: attrs, Current: cur, Guessed: true}); err != nil {
		t.Fatal(err)
	}
	if s := ops(); s != "modify=1 add=0 delete=0 modifyDN=0 extended=0 search=0" {
		t.Errorf("PATCH {active:true} on the last answer sent %s", s)
	}

	// A password: its stored hash is never remembered, so it is read (with
	// the version) beside the one modify; resent, nothing is written and
	// the guess is refused (the remembered entry may lack what changed
	// without a new CSN, so it is not the answer): the caller reads.
	cur = got
	pw := "Second-Secret-2"
	if got, err = c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Password: &pw, Return: attrs, Current: cur, Guessed: true}); err != nil {
		t.Fatal(err)
	}
	if s := ops(); s != "modify=1 add=0 delete=0 modifyDN=0 extended=0 search=1" {
		t.Errorf("a new password on a remembered entry sent %s", s)
	}
	if err := c.Authenticate(ctx, e.DN, pw); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	cur = got
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Password: &pw, Return: attrs, Current: cur, Guessed: true}); !errors.Is(err, bridge.ErrStaleCurrent) {
		t.Fatalf("resending the password on a remembered entry answered %v, want ErrStaleCurrent", err)
	}
	if s := ops(); s != "modify=0 add=0 delete=0 modifyDN=0 extended=0 search=1" {
		t.Errorf("resending the password on a remembered entry sent %s", s)
	}
	if v := read(e.ID).Version; v != cur.Version {
		t.Errorf("resending the password moved the entry's version %q -> %q", cur.Version, v)
	}

	stale := func(what string, cur *bridge.Entry, dn string) {
		t.Helper()
		before := adminRead(t, o, dn, "title", "entryCSN")
		_, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Changes: title("stale"), Return: attrs, Current: cur, Guessed: true})
		if !errors.Is(err, bridge.ErrStaleCurrent) {
			t.Fatalf("%s: Guessed Modify answered %v, want ErrStaleCurrent", what, err)
		}
		if s := ops(); s != "modify=1 add=0 delete=0 modifyDN=0 extended=0 search=0" {
			t.Errorf("%s: a refused guess sent %s, want the one refused modify", what, s)
		}
		after := adminRead(t, o, dn, "title", "entryCSN")
		if after.GetAttributeValue("title") != before.GetAttributeValue("title") || after.GetAttributeValue("entryCSN") != before.GetAttributeValue("entryCSN") {
			t.Fatalf("%s: the refused guess wrote: title %q -> %q", what, before.GetAttributeValue("title"), after.GetAttributeValue("title"))
		}
	}
	// Changed directly in the directory.
	cur = read(e.ID)
	m := ldap.NewModifyRequest(e.DN, nil)
	m.Replace("description", []string{"set beside the gateway"})
	if err := admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	stale("changed in the directory", cur, e.DN)
	// Renamed directly.
	cur = read(e.ID)
	if err := admin.ModifyDN(ldap.NewModifyDNRequest(e.DN, "uid=guess2", true, "")); err != nil {
		t.Fatal(err)
	}
	stale("renamed in the directory", cur, "uid=guess2,"+o.PeopleDN)
	// Moved directly.
	cur = read(e.ID)
	if err := admin.ModifyDN(ldap.NewModifyDNRequest("uid=guess2,"+o.PeopleDN, "uid=guess2", true, o.GroupsDN)); err != nil {
		t.Fatal(err)
	}
	stale("moved in the directory", cur, "uid=guess2,"+o.GroupsDN)
	// An empty plan on a remembered entry proves nothing: refused unsent.
	cur = read(e.ID)
	if _, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Changes: title(cur.First("title")), Return: attrs, Current: cur, Guessed: true}); !errors.Is(err, bridge.ErrStaleCurrent) {
		t.Fatalf("a guess that changes nothing answered %v, want ErrStaleCurrent", err)
	}
	if s := ops(); s != "modify=0 add=0 delete=0 modifyDN=0 extended=0 search=0" {
		t.Errorf("a guess that changes nothing sent %s", s)
	}
}
