package ldapside

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
	"github.com/hashicorp/go-hclog"
)

// startPlainOpenLDAP starts a slapd without ppolicy and memberof (sssvlv
// only, as some distributions ship it) that knows 389 DS's nsAccountLock
// and refuses binds to accounts locked by it (testenv.AccountLockACL).
func startPlainOpenLDAP(t *testing.T, tune func(*Config)) (*testenv.OpenLDAP, *Conn) {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, testenv.OpenLDAPOptions{Overlays: []string{"sssvlv"}, ExtraSchema: testenv.AccountLockSchema})
	if err != nil {
		t.Fatalf("StartOpenLDAP: %v", err)
	}
	if err := o.AddAccess(testenv.AccountLockACL); err != nil {
		t.Fatal(err)
	}
	cfg := Config{URLs: []string{o.URL}, BindDN: o.AdminDN, BindPassword: o.AdminPassword, BaseDN: o.BaseDN, PoolSize: 2, OpTimeout: 30 * time.Second,
		Lifecycle: bridge.Lifecycle{Disable: bridge.LifecycleAttribute, Attribute: "nsAccountLock", DisabledValue: "TRUE"}}
	if tune != nil {
		tune(&cfg)
	}
	c, err := Open(cfg, hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: testWriter{t}}))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return o, c
}

func addLockable(t *testing.T, c *Conn, o *testenv.OpenLDAP, uid, password string, disabled bool) *bridge.Entry {
	t.Helper()
	e, err := c.Add(tctx(t), bridge.AddRequest{
		DN:       "uid=" + uid + "," + o.PeopleDN,
		Attrs:    map[string][]string{"objectClass": {"inetOrgPerson", "dirbridgeAccountLock"}, "uid": {uid}, "cn": {uid}, "sn": {uid}},
		Password: password, Disabled: disabled, Return: []string{"uid", "title"},
	})
	if err != nil {
		t.Fatalf("Add(%s): %v", uid, err)
	}
	return e
}

// TestAttributeLifecycleWithoutPPolicy: on a slapd without ppolicy, with
// [lifecycle] disable = "attribute" (nsAccountLock = TRUE), disabling is
// the attribute written in the same one modify as the rest of the request,
// on both of Modify's paths; the state reads back, filters on it select
// the right accounts, and with the ACL a disabled account cannot bind.
func TestAttributeLifecycleWithoutPPolicy(t *testing.T) {
	o, c := startPlainOpenLDAP(t, nil)
	ctx := tctx(t)
	lock := func(dn string) []string {
		return adminRead(t, o, dn, "nsAccountLock").GetAttributeValues("nsAccountLock")
	}

	e := addLockable(t, c, o, "ann", "Pw-One-1", false)
	if e.Disabled || len(lock(e.DN)) != 0 {
		t.Fatalf("created enabled: Disabled=%t nsAccountLock=%v", e.Disabled, lock(e.DN))
	}
	if err := ldapwhoami(t, o.URL, e.DN, "Pw-One-1"); err != nil {
		t.Fatalf("an enabled account cannot bind: %v", err)
	}
	for _, current := range []bool{false, true} {
		var cur *bridge.Entry
		if current {
			got, err := c.Get(ctx, "", e.ID, []string{"uid", "title"})
			if err != nil {
				t.Fatal(err)
			}
			cur = got
		}
		yes, no := true, false
		pw := "Pw-Two-2"
		if current {
			pw = "Pw-Three-3"
		}
		got, err := c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: cur, Disabled: &yes, Password: &pw,
			Changes: []bridge.Change{{Op: bridge.ChangeReplace, Attr: "title", Values: []string{"gone"}}}, Return: []string{"uid", "title"}})
		if err != nil {
			t.Fatalf("current=%t: disable: %v", current, err)
		}
		if !got.Disabled || !slices.Equal(lock(e.DN), []string{"TRUE"}) {
			t.Fatalf("current=%t: after disable Disabled=%t nsAccountLock=%v", current, got.Disabled, lock(e.DN))
		}
		if err := ldapwhoami(t, o.URL, e.DN, pw); err == nil {
			t.Fatalf("current=%t: a disabled account still binds", current)
		}
		assertDisabledFilter(t, c, o, "ann", true)
		if current {
			if cur, err = c.Get(ctx, "", e.ID, []string{"uid"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err = c.Modify(ctx, bridge.ModifyRequest{ID: e.ID, Current: cur, Disabled: &no, Return: []string{"uid"}})
		if err != nil {
			t.Fatalf("current=%t: enable: %v", current, err)
		}
		if got.Disabled || len(lock(e.DN)) != 0 {
			t.Fatalf("current=%t: after enable Disabled=%t nsAccountLock=%v (enabled_value \"\" removes it)", current, got.Disabled, lock(e.DN))
		}
		if err := ldapwhoami(t, o.URL, e.DN, pw); err != nil {
			t.Fatalf("current=%t: an enabled account cannot bind with its new password: %v", current, err)
		}
		assertDisabledFilter(t, c, o, "ann", false)
	}

	d := addLockable(t, c, o, "bob", "Pw-Bob-1", true)
	if !d.Disabled || !slices.Equal(lock(d.DN), []string{"TRUE"}) {
		t.Fatalf("created disabled: Disabled=%t nsAccountLock=%v", d.Disabled, lock(d.DN))
	}
	if err := ldapwhoami(t, o.URL, d.DN, "Pw-Bob-1"); err == nil {
		t.Fatal("an account created disabled binds")
	}
	// What another tool wrote in another case still reads as disabled.
	admin := slapdAdmin(t, o)
	m := ldap.NewModifyRequest(e.DN, nil)
	m.Replace("nsAccountLock", []string{"true"})
	if err := admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	if g, err := c.Get(ctx, "", e.ID, []string{"uid"}); err != nil || !g.Disabled {
		t.Fatalf("nsAccountLock: true reads Disabled=%v (%v)", g, err)
	}
}

// TestAttributeLifecycleEnabledValue: with an enabled_value, enabling
// writes it rather than removing the attribute, and it reads as enabled.
func TestAttributeLifecycleEnabledValue(t *testing.T) {
	o, c := startPlainOpenLDAP(t, func(cfg *Config) { cfg.Lifecycle.EnabledValue = "FALSE" })
	e := addLockable(t, c, o, "cid", "Pw-Cid-1", true)
	no := false
	got, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Disabled: &no, Return: []string{"uid"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := adminRead(t, o, e.DN, "nsAccountLock").GetAttributeValues("nsAccountLock"); got.Disabled || !slices.Equal(v, []string{"FALSE"}) {
		t.Fatalf("enabled: Disabled=%t nsAccountLock=%v, want false and [FALSE]", got.Disabled, v)
	}
	assertDisabledFilter(t, c, o, "cid", false)
}

func assertDisabledFilter(t *testing.T, c *Conn, o *testenv.OpenLDAP, uid string, disabled bool) {
	t.Helper()
	for _, v := range []string{"TRUE", "FALSE"} {
		res, err := c.Search(tctx(t), bridge.SearchRequest{Base: o.PeopleDN, Scope: bridge.ScopeSub,
			Filter: bridge.And(bridge.Eq("uid", uid), bridge.Eq(bridge.VirtualDisabled, v)), Count: 10, Attrs: []string{"uid"}})
		if err != nil {
			t.Fatalf("search @disabled=%s: %v", v, err)
		}
		want := 0
		if (v == "TRUE") == disabled {
			want = 1
		}
		if len(res.Entries) != want {
			t.Errorf("@disabled eq %s finds %d entries for %s (disabled=%t), want %d", v, len(res.Entries), uid, disabled, want)
		}
	}
}

func slapdAdmin(t *testing.T, o *testenv.OpenLDAP) *ldap.Conn {
	t.Helper()
	l, err := ldap.DialURL(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if err := l.Bind(o.AdminDN, o.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestLifecycleConfig: the dialect and the choice must fit.
func TestLifecycleConfig(t *testing.T) {
	base := Config{URLs: []string{"ldap://127.0.0.1:1"}, BindDN: "cn=a,dc=x", BindPassword: "p", BaseDN: "dc=x"}
	for _, tc := range []struct {
		dialect string
		lc      bridge.Lifecycle
		want    string // "" : valid
	}{
		{"openldap", bridge.Lifecycle{}, ""},
		{"openldap", bridge.Lifecycle{Disable: "ppolicy"}, ""},
		{"openldap", bridge.Lifecycle{Disable: "attribute", Attribute: "nsAccountLock", DisabledValue: "TRUE"}, ""},
		{"openldap", bridge.Lifecycle{Disable: "attribute", DisabledValue: "TRUE"}, "not an attribute name"},
		{"openldap", bridge.Lifecycle{Disable: "attribute", Attribute: "nsAccountLock"}, "disabled_value is required"},
		{"openldap", bridge.Lifecycle{Disable: "ad"}, `needs dialect "ad"`},
		{"ad", bridge.Lifecycle{Disable: "ppolicy"}, "does not apply to Active Directory"},
		{"ad", bridge.Lifecycle{Disable: "ad"}, ""},
	} {
		cfg := base
		cfg.Dialect, cfg.Lifecycle = tc.dialect, tc.lc
		err := cfg.withDefaults().validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %+v: %v", tc.dialect, tc.lc, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %+v: error %v, want one saying %q", tc.dialect, tc.lc, err, tc.want)
		}
	}
}

// TestGroupsWithoutMemberOf: on a slapd without the memberof overlay a
// user's groups come from the groups' member lists, for one entry and for
// a page, and filters on them select the group's members.
func TestGroupsWithoutMemberOf(t *testing.T) {
	var o *testenv.OpenLDAP
	o, c := startPlainOpenLDAP(t, func(cfg *Config) {
		cfg.Groups = &GroupsLookup{Attr: "memberOf", Base: "ou=groups,dc=example,dc=com", Filter: bridge.Eq("objectClass", "groupOfNames"), Auto: true}
	})
	ctx := tctx(t)
	if by, err := c.GroupsBySearch(ctx); err != nil || !by {
		t.Fatalf("GroupsBySearch = %t, %v; want true without the memberof overlay", by, err)
	}
	var users []*bridge.Entry
	for _, uid := range []string{"u1", "u2", "u3"} {
		users = append(users, addLockable(t, c, o, uid, "", false))
	}
	addGroup := func(cn string, members ...string) string {
		dn := "cn=" + cn + "," + o.GroupsDN
		if _, err := c.Add(ctx, bridge.AddRequest{DN: dn, Attrs: map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": members}}); err != nil {
			t.Fatal(err)
		}
		return dn
	}
	g1 := addGroup("g1", users[0].DN, strings.ToUpper(users[1].DN))
	g2 := addGroup("g2", users[1].DN, "cn=nobody,"+o.BaseDN)
	want := map[string][]string{"u1": {g1}, "u2": {g1, g2}, "u3": nil}

	for _, u := range users {
		got, err := c.Get(ctx, "", u.ID, []string{"uid", "memberOf"})
		if err != nil {
			t.Fatal(err)
		}
		uid := got.Values("uid")[0]
		if !sameDNs(got.Values("memberOf"), want[uid]) {
			t.Errorf("Get(%s) memberOf = %v, want %v", uid, got.Values("memberOf"), want[uid])
		}
		if noGroups, err := c.Get(ctx, "", u.ID, []string{"uid"}); err != nil || noGroups.Values("memberOf") != nil {
			t.Errorf("Get(%s) without memberOf asked returns %v (%v)", uid, noGroups.Values("memberOf"), err)
		}
	}
	before := c.groupSearches.Load()
	res, err := c.Search(ctx, bridge.SearchRequest{Base: o.PeopleDN, Scope: bridge.ScopeSub, Filter: bridge.Eq("objectClass", "inetOrgPerson"),
		Count: 10, Attrs: []string{"uid", "memberOf"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.groupSearches.Load() - before; n != 1 {
		t.Errorf("a page of 3 users took %d searches of the groups, want 1", n)
	}
	if len(res.Entries) != 3 {
		t.Fatalf("search: %d entries", len(res.Entries))
	}
	for _, e := range res.Entries {
		uid := e.Values("uid")[0]
		if !sameDNs(e.Values("memberOf"), want[uid]) {
			t.Errorf("search: %s memberOf = %v, want %v", uid, e.Values("memberOf"), want[uid])
		}
	}
	for _, tc := range []struct {
		f    *bridge.Filter
		want []string
	}{
		{bridge.Eq("memberOf", g1), []string{"u1", "u2"}},
		{bridge.Eq("memberOf", strings.ToUpper(g2)), []string{"u2"}},
		{bridge.Not(bridge.Eq("memberOf", g1)), []string{"u3"}},
		{bridge.And(bridge.Eq("memberOf", g1), bridge.Eq("memberOf", g2)), []string{"u2"}},
		{bridge.Eq("memberOf", "cn=none,"+o.GroupsDN), nil},
	} {
		res, err := c.Search(ctx, bridge.SearchRequest{Base: o.PeopleDN, Scope: bridge.ScopeSub,
			Filter: bridge.And(bridge.Eq("objectClass", "inetOrgPerson"), tc.f), Count: 10, SortBy: "uid", Attrs: []string{"uid"}})
		if err != nil {
			t.Fatalf("%v: %v", tc.f, err)
		}
		var got []string
		for _, e := range res.Entries {
			got = append(got, e.Values("uid")[0])
		}
		if !slices.Equal(got, tc.want) || res.Total != len(tc.want) {
			t.Errorf("filter %v: %v (total %d), want %v", tc.f, got, res.Total, tc.want)
		}
	}
	_, err = c.Search(ctx, bridge.SearchRequest{Base: o.PeopleDN, Scope: bridge.ScopeSub, Filter: bridge.Present("memberOf"), Count: 10})
	if bridge.KindOf(err) != bridge.KindInvalidFilter {
		t.Errorf("groups pr without memberOf: %v, want KindInvalidFilter", err)
	}
}

// TestGroupsAutoWithMemberOf: with the memberof overlay, Auto reads the
// attribute the directory keeps and searches nothing.
func TestGroupsAutoWithMemberOf(t *testing.T) {
	_, c := startDirectory(t, func(cfg *Config) {
		cfg.Groups = &GroupsLookup{Attr: "memberOf", Base: "ou=groups,dc=example,dc=com", Auto: true}
	})
	if by, err := c.GroupsBySearch(tctx(t)); err != nil || by {
		t.Fatalf("GroupsBySearch = %t, %v; want false with the memberof overlay", by, err)
	}
}

func sameDNs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return dnKey(x) == dnKey(y) }) {
			return false
		}
	}
	return true
}

// TestPPolicyLockWithoutPPolicy: the default lifecycle (ppolicy) on a slapd
// without the overlay is the deployment's mistake, never the client's: the
// refusal of pwdAccountLockedTime is KindMisconfigured (a 500), for a disable
// and for an account created disabled, and an object class that does not
// allow the table's attribute likewise.
func TestPPolicyLockWithoutPPolicy(t *testing.T) {
	o, c := startPlainOpenLDAP(t, func(cfg *Config) { cfg.Lifecycle = bridge.Lifecycle{} })
	e := addPerson(t, c, o.PeopleDN, "pp1", "", false)
	yes := true
	_, err := c.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Disabled: &yes})
	if bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Errorf("disable without ppolicy: %v (kind %v), want KindMisconfigured", err, bridge.KindOf(err))
	}
	if fix := bridge.FixOf(err); !strings.Contains(fix, "ppolicy") || !strings.Contains(fix, "[lifecycle]") {
		t.Errorf("disable without ppolicy: fix %q does not point at ppolicy and [lifecycle]", fix)
	}
	_, err = c.Add(tctx(t), bridge.AddRequest{DN: "uid=pp2," + o.PeopleDN, Disabled: true,
		Attrs: map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {"pp2"}, "cn": {"pp2"}, "sn": {"pp2"}}})
	if bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Errorf("add disabled without ppolicy: %v, want KindMisconfigured", err)
	}

	o2, c2 := startPlainOpenLDAP(t, nil)
	e = addPerson(t, c2, o2.PeopleDN, "pp3", "", false) // no dirbridgeAccountLock class
	_, err = c2.Modify(tctx(t), bridge.ModifyRequest{ID: e.ID, Disabled: &yes})
	if bridge.KindOf(err) != bridge.KindMisconfigured {
		t.Errorf("nsAccountLock not allowed by the entry's classes: %v, want KindMisconfigured", err)
	}
}

// TestAttributeDialectUnit: the changes and the filter of an attribute
// lifecycle, without a directory.
func TestAttributeDialectUnit(t *testing.T) {
	d := openLDAP{lockAttr: "nsAccountLock", lockValue: "TRUE"}
	yes, no, pw := true, false, "Secret-1"
	ch, err := d.accountChanges(nil, &pw, &yes)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 2 || ch[0].Modification.Type != attrUserPassword || ch[1].Operation != ldap.ReplaceAttribute ||
		ch[1].Modification.Type != "nsAccountLock" || !slices.Equal(ch[1].Modification.Vals, []string{"TRUE"}) {
		t.Errorf("password + disable: %+v", ch)
	}
	ch, _ = d.accountChanges(nil, nil, &no)
	if len(ch) != 1 || len(ch[0].Modification.Vals) != 0 || ch[0].Operation != ldap.ReplaceAttribute {
		t.Errorf("enable without enabled_value: %+v, want a replace with no values", ch)
	}
	d.unlockValue = "FALSE"
	if ch, _ = d.accountChanges(nil, nil, &no); len(ch) != 1 || !slices.Equal(ch[0].Modification.Vals, []string{"FALSE"}) {
		t.Errorf("enable with enabled_value: %+v", ch)
	}
	if ch, _ = d.accountChanges(nil, nil, nil); len(ch) != 0 {
		t.Errorf("nothing to change: %+v", ch)
	}
	f, err := renderFilter(d, bridge.Eq(bridge.VirtualDisabled, "false"))
	if err != nil || f != "(!(nsAccountLock=TRUE))" {
		t.Errorf("@disabled eq false renders %q, %v", f, err)
	}
	if a := d.addDisabled(); a.Type != "nsAccountLock" || !slices.Equal(a.Vals, []string{"TRUE"}) {
		t.Errorf("addDisabled = %+v", a)
	}
	var e bridge.Entry
	d.fill(&e, ldap.NewEntry("uid=x", map[string][]string{"nsAccountLock": {"true"}}))
	if !e.Disabled {
		t.Error("nsAccountLock: true does not read as disabled")
	}
	d.fill(&e, ldap.NewEntry("uid=x", map[string][]string{"nsAccountLock": {"FALSE"}}))
	if e.Disabled {
		t.Error("nsAccountLock: FALSE reads as disabled")
	}
}
