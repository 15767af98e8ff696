package mapping

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

func loadADUsers(t *testing.T, o Options) *Table {
	t.Helper()
	o.BaseDN = "DC=corp,DC=example"
	tb, err := Load("../conf/examples/ad-users.toml", withStandard(o))
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestUsableUPN(t *testing.T) {
	tb := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example", "Example.COM"}})
	for v, want := range map[string]bool{
		"john.smith.7@corp.example":               true,
		"John.Smith@CORP.EXAMPLE":                 true, // suffixes compare without case
		"jane@example.com":                        true, // a listed uPNSuffix, not the domain's name
		"john@gmail.com":                          false,
		"john":                                    false,
		"@corp.example":                           false,
		"a@b@corp.example":                        false,
		"john smith@corp.example":                 false,
		".john@corp.example":                      false,
		"jo..hn@corp.example":                     false,
		"jo;hn@corp.example":                      false,
		"john@sub.corp.example":                   false, // a subdomain is another suffix
		strings.Repeat("x", 65) + "@corp.example": false,
	} {
		if got := tb.usableUPN(v); got != want {
			t.Errorf("usableUPN(%q) = %v, want %v (%s)", v, got, want, tb.upnProblem(v))
		}
	}
	if got := tb.UPNSuffixes(); len(got) != 2 || got[0] != "corp.example" || got[1] != "example.com" {
		t.Errorf("UPNSuffixes %q", got)
	}
	if !tb.UsesUPNSuffixes() {
		t.Error("the AD table does not say it uses UPN suffixes")
	}
}

// The suffixes: pinned in [mapping.vars], else what the directory lists,
// else the base DN's domain.
func TestUPNSuffixSources(t *testing.T) {
	pinned := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example"}, Vars: map[string]string{UPNSuffixesVar: " pinned.example , other.example "}})
	if got := pinned.UPNSuffixes(); len(got) != 2 || got[0] != "pinned.example" || got[1] != "other.example" {
		t.Errorf("pinned: %q", got)
	}
	if got := loadADUsers(t, Options{}).UPNSuffixes(); len(got) != 1 || got[0] != "corp.example" {
		t.Errorf("default: %q", got)
	}
	if loadExample(t).UsesUPNSuffixes() {
		t.Error("the OpenLDAP table says it uses UPN suffixes")
	}
}

func TestUserNameIsTheUPN(t *testing.T) {
	ctx := context.Background()
	tb := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example"}})
	refs := taken{vals: map[string]bool{"userprincipalname=john.smith@corp.example": true, "samaccountname=john.smith": true}}
	in := map[string]any{"userName": "john.smith.7@corp.example", "name": map[string]any{"givenName": "John", "familyName": "Smith"}}
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: in}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Attrs["userPrincipalName"]; len(got) != 1 || got[0] != "john.smith.7@corp.example" {
		t.Errorf("userPrincipalName %q, want the userName", got)
	}
	if got := attrsFold(plan.Attrs, "msDS-cloudExtensionAttribute19"); len(got) != 0 {
		t.Errorf("fallback %q, want none", got)
	}
	if got := plan.Attrs["sAMAccountName"]; len(got) != 1 || got[0] != "jsmith" {
		t.Errorf("sAMAccountName %q, want a derived, free one", got)
	}
	if p, ok := tb.ExplainUPN(plan.Attrs); !ok || p != "username" {
		t.Errorf("ExplainUPN %q %v", p, ok)
	}
	e := entryFrom(plan)
	got, err := tb.Resource(ctx, e, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if got.Attrs["userName"] != "john.smith.7@corp.example" {
		t.Errorf("userName read back %v", got.Attrs["userName"])
	}
	if ch, err := tb.Changes(ctx, e, got, refs); err != nil || !ch.Empty() {
		t.Errorf("Changes(e, Resource(e)) = %+v, %v", ch, err)
	}

	// A userName that is another account's UPN is the client's conflict,
	// never a suffixed variant of it.
	_, err = tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "john.smith@corp.example"}}, refs)
	if bridge.KindOf(err) != bridge.KindConflict {
		t.Errorf("a taken UPN: %v, want a conflict", err)
	}

	// Renamed in the identity provider to another UPN: the UPN follows
	// (checked free); to a userName that is none: the UPN stays, the
	// userName is kept beside it.
	ch, err := tb.Changes(ctx, e, bridge.Resource{Attrs: map[string]any{"userName": "john.smith@corp.example", "name": in["name"]}}, refs)
	if bridge.KindOf(err) != bridge.KindConflict {
		t.Errorf("renamed to a taken UPN: %+v, %v", ch, err)
	}
	ch, err = tb.Changes(ctx, e, bridge.Resource{Attrs: map[string]any{"userName": "js@gmail.com", "name": in["name"]}}, refs)
	if err != nil {
		t.Fatal(err)
	}
	e2 := apply(e, ch)
	if got := e2.Values("userPrincipalName"); len(got) != 1 || got[0] != "john.smith.7@corp.example" {
		t.Errorf("UPN after a rename to js@gmail.com: %q", got)
	}
	if r2, _ := tb.Resource(ctx, e2, newRefs()); r2.Attrs["userName"] != "js@gmail.com" {
		t.Errorf("userName after the rename: %v", r2.Attrs["userName"])
	}
	ch, err = tb.Changes(ctx, e2, bridge.Resource{Attrs: map[string]any{"userName": "john.smith.8@corp.example", "name": in["name"]}}, refs)
	if err != nil {
		t.Fatal(err)
	}
	e3 := apply(e2, ch)
	if got := e3.Values("userPrincipalName"); len(got) != 1 || got[0] != "john.smith.8@corp.example" {
		t.Errorf("UPN after a rename back to a UPN: %q", got)
	}
	if got := e3.Values("msDS-cloudExtensionAttribute19"); len(got) != 0 {
		t.Errorf("fallback after a rename back to a UPN: %q", got)
	}
}

func TestUserNameThatIsNoUPN(t *testing.T) {
	ctx := context.Background()
	tb := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example"}})
	refs := taken{vals: map[string]bool{"userprincipalname=john.smith@corp.example": true}}
	in := map[string]any{"userName": "John@gmail.com", "name": map[string]any{"givenName": "Jöhn", "familyName": "Smith"}}
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: in}, refs)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Attrs["userPrincipalName"]; len(got) != 1 || got[0] != "jsmith@corp.example" {
		t.Errorf("userPrincipalName %q, want the first free derived one", got)
	}
	if got := attrsFold(plan.Attrs, "msDS-cloudExtensionAttribute19"); len(got) != 1 || got[0] != "John@gmail.com" {
		t.Errorf("fallback %q, want the userName as sent", got)
	}
	if p, ok := tb.ExplainUPN(plan.Attrs); !ok || p != "derived" {
		t.Errorf("ExplainUPN %q %v", p, ok)
	}
	e := entryFrom(plan)
	got, err := tb.Resource(ctx, e, newRefs())
	if err != nil {
		t.Fatal(err)
	}
	if got.Attrs["userName"] != "John@gmail.com" {
		t.Errorf("userName read back %v", got.Attrs["userName"])
	}
	if ch, err := tb.Changes(ctx, e, got, refs); err != nil || !ch.Empty() {
		t.Errorf("Changes(e, Resource(e)) = %+v, %v", ch, err)
	}
}

// userName eq finds both kinds with indexed terms, and a derived UPN that
// equals the value asked for is not taken for the userName.
func TestUserNameFilterOnUPNAndFallback(t *testing.T) {
	tb := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example"}})
	for _, tc := range []struct {
		expr bridge.Expr
		want string
	}{
		{cmp("userName", bridge.OpEq, "John@gmail.com"),
			"(|(&(userPrincipalName=John@gmail.com)(!(msDS-cloudExtensionAttribute19=*)))(&(msDS-cloudExtensionAttribute19=*)(msDS-cloudExtensionAttribute19=John@gmail.com)))"},
		{cmp("userName", bridge.OpNe, "x@corp.example"),
			"(!(|(&(userPrincipalName=x@corp.example)(!(msDS-cloudExtensionAttribute19=*)))(&(msDS-cloudExtensionAttribute19=*)(msDS-cloudExtensionAttribute19=x@corp.example))))"},
		{cmp("externalId", bridge.OpEq, "00u1"), "(msDS-cloudExtensionAttribute1=00u1)"},
	} {
		f, err := tb.Filter(context.Background(), tc.expr, newRefs())
		if err != nil {
			t.Fatal(err)
		}
		if got := f.String(); got != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.expr, got, tc.want)
		}
	}
}

func TestUPNFallbackProblems(t *testing.T) {
	base := `
resource = "User"
container = "ou=people,dc=example,dc=test"
object_classes = ["top", "user"]
rdn = "cn={{.userName}}"

[[attribute]]
scim = "userName"
ldap = "userPrincipalName"
upn_fallback = "%s"
template = ["{{localpart .userName}}@example.test"]
unique = "%s"
`
	for _, tc := range []struct{ fb, unique, want string }{
		{"userPrincipalName", "base", "another attribute"},
		{"bad attr", "base", "not an attribute name"},
		{"msDS-cloudExtensionAttribute19", "container", `unique = "base"`},
	} {
		text := strings.Replace(strings.Replace(base, "%s", tc.fb, 1), "%s", tc.unique, 1)
		_, err := Parse("t.toml", []byte(text), withStandard(Options{BaseDN: "dc=example,dc=test"}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("upn_fallback %q unique %q: %v, want %q", tc.fb, tc.unique, err, tc.want)
		}
	}
}

// AD's implicit UPN: sAMAccountName@<domain> is every account's logon
// name, so a UPN local@<domain> is taken when another account's
// sAMAccountName is local, and a sAMAccountName when another account's UPN
// in the domain has it before the "@".
func TestImplicitUPNIsTaken(t *testing.T) {
	ctx := context.Background()
	tb := loadADUsers(t, Options{UPNSuffixes: []string{"corp.example", "other.example"}})
	refs := taken{vals: map[string]bool{"samaccountname=jdoe": true, "userprincipalname=jane.doe@corp.example": true}}
	if _, err := tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "jdoe@corp.example"}}, refs); bridge.KindOf(err) != bridge.KindConflict {
		t.Errorf("a userName that is another account's implicit UPN: %v, want a conflict", err)
	}
	// In another suffix there is no implicit UPN.
	if _, err := tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "jdoe@other.example"}}, refs); err != nil {
		t.Errorf("jdoe@other.example: %v", err)
	}
	plan, err := tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "jd@gmail.com",
		"name": map[string]any{"givenName": "Jane", "familyName": "Doe"}}}, refs)
	if err != nil {
		t.Fatal(err)
	}
	// jane.doe@ is taken as a UPN, jdoe@ as a sAMAccountName; jane.doe as a
	// sAMAccountName by jane.doe@corp.example's UPN.
	if got := plan.Attrs["userPrincipalName"]; len(got) != 1 || got[0] != "jane.doe2@corp.example" {
		t.Errorf("userPrincipalName %q", got)
	}
	if got := plan.Attrs["sAMAccountName"]; len(got) != 1 || got[0] != "jane.doe2" {
		t.Errorf("sAMAccountName %q", got)
	}
}

// The forest's suffixes read again when a userName's suffix is not among
// them: a suffix added after the start, or a DC that could not be read at
// the start, never gets a userName the forest accepts a derived UPN (which
// would stay). A suffix the forest does not list is asked again only after
// upnRecheck, and a read that fails refuses the request as unavailable
// instead of deciding without it.
func TestUPNSuffixesReadAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	forest := []string{"corp.example"}
	var reads int
	var down, denied bool
	tb := loadADUsers(t, Options{Now: func() time.Time { return now }, UPNSource: func(rctx context.Context) ([]string, error) {
		reads++
		if rctx.Err() != nil {
			t.Error("the read got a cancelled request's context")
		}
		if down {
			return nil, bridge.E("test", bridge.KindUnavailable, "", errors.New("dial tcp: connection refused"))
		}
		if denied {
			return nil, bridge.Errorf("test", bridge.KindNotFound, "no such object")
		}
		return forest, nil
	}})
	refs := taken{vals: map[string]bool{}}
	create := func(userName string) (*bridge.EntryPlan, error) {
		return tb.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": userName,
			"name": map[string]any{"givenName": "Jane", "familyName": "Doe"}}}, refs)
	}
	upnOf := func(userName string) string {
		t.Helper()
		p, err := create(userName)
		if err != nil {
			t.Fatalf("create %s: %v", userName, err)
		}
		return strings.Join(p.Attrs["userPrincipalName"], ",")
	}

	// A request whose client went away still reads them whole, for the
	// requests behind it.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tb.NewEntry(gone, bridge.Resource{Attrs: map[string]any{"userName": "joe@first.example",
		"name": map[string]any{"givenName": "Joe", "familyName": "Doe"}}}, refs); err != nil || reads != 1 {
		t.Fatalf("a cancelled request: %v after %d reads", err, reads)
	}
	reads = 0
	// Known: no read.
	if got := upnOf("jane@corp.example"); got != "jane@corp.example" || reads != 0 {
		t.Fatalf("a listed suffix: UPN %q after %d reads", got, reads)
	}
	// An administrator adds a suffix after the start.
	forest = []string{"corp.example", "eu.example"}
	if got := upnOf("jane@eu.example"); got != "jane@eu.example" || reads != 1 {
		t.Fatalf("a suffix added since: UPN %q after %d reads, want the userName after 1", got, reads)
	}
	if got := upnOf("jim@eu.example"); got != "jim@eu.example" || reads != 1 {
		t.Fatalf("the learnt suffix: UPN %q after %d reads", got, reads)
	}
	if s := tb.UPNSuffixes(); len(s) != 2 || s[1] != "eu.example" {
		t.Fatalf("UPNSuffixes %q", s)
	}
	// A suffix the forest does not list: one read, then none for a while.
	if got := upnOf("jane@gmail.com"); got == "jane@gmail.com" || reads != 2 {
		t.Fatalf("a foreign suffix: UPN %q after %d reads, want a derived one after 2", got, reads)
	}
	upnOf("john@gmail.com")
	if reads != 2 {
		t.Fatalf("%d reads: a suffix just found foreign was asked again", reads)
	}
	now = now.Add(upnRecheck + time.Second)
	upnOf("john@gmail.com")
	if reads != 3 {
		t.Fatalf("%d reads: a foreign suffix was not asked again after %s", reads, upnRecheck)
	}
	// The DC away: refused as unavailable, nothing planned; a listed
	// suffix still needs no read.
	down = true
	if p, err := create("jane@new.example"); bridge.KindOf(err) != bridge.KindUnavailable || p != nil {
		t.Fatalf("suffixes unreadable: %v, %v; want unavailable and no plan", p, err)
	}
	if got := upnOf("joe@corp.example"); got != "joe@corp.example" {
		t.Fatalf("a listed suffix with the DC away: UPN %q", got)
	}
	// Right after a read that found it away, the next request does not
	// wait for another; after upnRetry it reads again.
	before := reads
	if _, err := create("jim@new.example"); bridge.KindOf(err) != bridge.KindUnavailable || reads != before {
		t.Fatalf("just after a failed read: %v after %d more reads; want unavailable without a read", err, reads-before)
	}
	now = now.Add(upnRetry)
	if _, err := create("jim@new.example"); bridge.KindOf(err) != bridge.KindUnavailable || reads != before+1 {
		t.Fatalf("after %s: %v after %d more reads; want one read", upnRetry, err, reads-before)
	}
	// A forest that answers but will not tell (no read access to its
	// configuration partition): decided on the suffixes known.
	now = now.Add(upnRetry)
	down, denied = false, true
	if got := upnOf("jane@denied.example"); got == "jane@denied.example" {
		t.Fatalf("suffixes refused: UPN %q, want a derived one", got)
	}
	denied = false
	// Also for an update: Changes reads them too.
	forest = append(forest, "new.example")
	cur := entryFrom(mustPlan(t)(create("jane@gmail.com")))
	desired := bridge.Resource{Attrs: map[string]any{"userName": "jane@new.example", "name": map[string]any{"givenName": "Jane", "familyName": "Doe"}}}
	ch, err := tb.Changes(ctx, cur, desired, refs)
	if err != nil {
		t.Fatal(err)
	}
	var upn []string
	for _, c := range ch.Changes {
		if strings.EqualFold(c.Attr, "userPrincipalName") {
			upn = c.Values
		}
	}
	if len(upn) != 1 || upn[0] != "jane@new.example" {
		t.Fatalf("a PUT to a suffix added since: userPrincipalName change %q (%+v)", upn, ch.Changes)
	}

	// Pinned suffixes are never read.
	pinnedReads := 0
	pinned := loadADUsers(t, Options{Vars: map[string]string{UPNSuffixesVar: "corp.example"},
		UPNSource: func(context.Context) ([]string, error) { pinnedReads++; return []string{"x.example"}, nil }})
	if _, err := pinned.NewEntry(ctx, bridge.Resource{Attrs: map[string]any{"userName": "jane@x.example",
		"name": map[string]any{"givenName": "Jane", "familyName": "Doe"}}}, refs); err != nil || pinnedReads != 0 {
		t.Fatalf("pinned: %v, %d reads", err, pinnedReads)
	}
	if _, err := pinned.ReadUPNSuffixes(ctx); err != nil || pinnedReads != 0 {
		t.Fatalf("pinned ReadUPNSuffixes: %v, %d reads", err, pinnedReads)
	}
}

func mustPlan(t *testing.T) func(*bridge.EntryPlan, error) *bridge.EntryPlan {
	return func(p *bridge.EntryPlan, err error) *bridge.EntryPlan {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}
