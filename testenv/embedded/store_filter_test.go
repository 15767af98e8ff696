package embedded

import (
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func testRecord() *record {
	return &record{
		ID: "0a1b2c3d-0000-4000-8000-000000000001", DN: "uid=jdoe,ou=people,dc=example,dc=com",
		NDN: "uid=jdoe,ou=people,dc=example,dc=com", Created: "20240102030405Z", Modified: "20240203040506Z",
		Attrs: map[string][]string{
			"objectClass":     {"top", "inetOrgPerson"},
			"uid":             {"JDoe"},
			"cn":              {"John  Doe", "Johnny"},
			"sn":              {"Doe"},
			"mail":            {"jdoe@Example.com"},
			"telephoneNumber": {"+1 555-0100"},
			"description":     {`a*b(c)\d`},
			"memberOf":        {"cn=Staff,ou=groups,dc=example,dc=com"},
		},
	}
}

func TestEvalLDAPFilters(t *testing.T) {
	r := testRecord()
	for filter, want := range map[string]tri{
		"(uid=jdoe)":                       triTrue,
		"(UID=JDOE)":                       triTrue,
		"(cn=john doe)":                    triTrue, // insignificant spaces
		"(cn= John   Doe )":                triTrue,
		"(cn=jo*)":                         triTrue,
		"(cn=*ohn*oe)":                     triTrue,
		"(cn=*x*)":                         triFalse,
		"(mail=JDOE@example.COM)":          triTrue,
		"(telephoneNumber=+15550100)":      triTrue,
		`(description=a\2ab\28c\29\5cd)`:   triTrue,
		`(description=*\2a*)`:              triTrue,
		"(objectClass=person)":             triTrue, // superclass
		"(objectClass=organizationalUnit)": triFalse,
		"(objectClass=*)":                  triTrue,
		"(memberOf=CN=staff,OU=Groups,dc=example,dc=com)":   triTrue,
		"(memberOf=not a dn)":                               triUndefined,
		"(entryUUID=0A1B2C3D-0000-4000-8000-000000000001)":  triTrue,
		"(entryUUID>=0a1b2c3d-0000-4000-8000-000000000000)": triTrue,
		"(createTimestamp>=20240102030405Z)":                triTrue,
		"(createTimestamp>=20240102030406Z)":                triFalse,
		"(createTimestamp<=202401020304Z)":                  triFalse,
		"(modifyTimestamp>=2024020304+0100)":                triTrue,
		"(uid>=a)":                                          triUndefined, // no ORDERING rule
		"(member=*)":                                        triFalse,
		"(bogus=*)":                                         triFalse,
		"(bogus=1)":                                         triUndefined,
		"(!(bogus=1))":                                      triUndefined,
		"(|(bogus=1)(uid=jdoe))":                            triTrue,
		"(|(bogus=1)(uid=x))":                               triUndefined,
		"(&(bogus=1)(uid=x))":                               triFalse,
		"(cn~=johndoe)":                                     triTrue,
		"(uid:caseExactMatch:=JDoe)":                        triUndefined,
		"(&)":                                               triTrue,
		"(|)":                                               triFalse,
		"(pwdAccountLockedTime=*)":                          triFalse,
	} {
		f, err := parseLDAPFilter(filter)
		if err != nil {
			t.Errorf("%s: %v", filter, err)
			continue
		}
		if got := evalFilter(f, r); got != want {
			t.Errorf("%s = %v, want %v", filter, got, want)
		}
	}
	for _, bad := range []string{"", "uid=x", "(uid=x", "(uid=x))", `(uid=\zz)`, "(=x)", "(=*)"} {
		if _, err := parseLDAPFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEvalBridgeFilters(t *testing.T) {
	r := testRecord()
	r.Attrs["pwdAccountLockedTime"] = []string{lockedTime}
	for _, tc := range []struct {
		f    *bridge.Filter
		want tri
	}{
		{bridge.Eq(bridge.VirtualID, "0A1B2C3D-0000-4000-8000-000000000001"), triTrue},
		{bridge.Eq(bridge.VirtualDisabled, "true"), triTrue},
		{bridge.Eq(bridge.VirtualDisabled, "FALSE"), triFalse},
		{bridge.GE(bridge.VirtualCreated, "2024-01-02T03:04:05Z"), triTrue},
		{bridge.GE(bridge.VirtualCreated, "2024-01-02T04:04:05+01:00"), triTrue},
		{bridge.GE(bridge.VirtualCreated, "2024-01-02T03:04:05.9Z"), triTrue}, // whole seconds, as stored
		{bridge.GE(bridge.VirtualCreated, "2024-01-02T03:04:06Z"), triFalse},
		{bridge.LE(bridge.VirtualModified, "2024-02-03T04:05:06Z"), triTrue},
		{bridge.Eq(bridge.VirtualModified, "2024-02-03T04:05:06Z"), triTrue},
		{bridge.Not(bridge.Eq(bridge.VirtualDisabled, "TRUE")), triFalse},
		{bridge.Substrings("cn", "joh", []string{"n d"}, "OE"), triTrue},
		{bridge.Substrings("cn", "", nil, "nny"), triTrue},
		{bridge.Eq("@nonsense", "x"), triUndefined},
	} {
		if got := evalFilter(tc.f, r); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.f, got, tc.want)
		}
	}
	// LDAP filters cannot reach the virtual attributes.
	f, _ := parseLDAPFilter("(@disabled=TRUE)")
	if got := evalFilter(f, r); got != triUndefined {
		t.Errorf("LDAP @disabled = %v", got)
	}
	for _, bad := range []*bridge.Filter{
		bridge.GE(bridge.VirtualModified, "yesterday"),
		bridge.Eq(bridge.VirtualDisabled, "maybe"),
		bridge.Eq("@unknown", "x"),
		{Op: bridge.FilterNot},
		{Op: 99},
	} {
		if checkFilter(bad, 0) == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCandidates(t *testing.T) {
	lookup := func(attr, norm string) []string { return []string{attr + "=" + norm} }
	for _, tc := range []struct {
		f    string
		want []string
		ok   bool
	}{
		{"(uid=JDoe)", []string{"uid=jdoe"}, true},
		{"(&(objectClass=person)(mail=A@B.c))", []string{"mail=a@b.c"}, true},
		{"(|(uid=a)(cn=b))", []string{"cn=b", "uid=a"}, true},
		{"(|(uid=a)(title=b))", nil, false},
		{"(title=x)", nil, false},
		{"(uid=a*)", nil, false},
	} {
		f, err := parseLDAPFilter(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := candidates(f, lookup)
		if ok != tc.ok || len(got) != len(tc.want) {
			t.Errorf("%s: %v %v", tc.f, got, ok)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v", tc.f, got)
			}
		}
	}
}

// FuzzFilterEval: any filter string either fails to parse or evaluates
// without panicking, and what the index proposes never misses a match.
func FuzzFilterEval(f *testing.F) {
	for _, s := range []string{"(uid=jdoe)", "(&(cn=j*)(!(mail=*)))", "(|(uid=a)(uid=jdoe))", `(description=*\2a*)`,
		"(createTimestamp>=2024Z)", "(cn~=x)", "(uid:dn:2.5.13.2:=x)", "(&)", "(|)"} {
		f.Add(s)
	}
	r := testRecord()
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := parseLDAPFilter(s)
		if err != nil {
			return
		}
		res := evalFilter(flt, r)
		ids, ok := candidates(flt, func(attr, norm string) []string {
			if attr == "uid" && norm == "jdoe" || attr == "cn" && (norm == "john doe" || norm == "johnny") ||
				attr == "sn" && norm == "doe" || attr == "mail" && norm == "jdoe@example.com" {
				return []string{r.ID}
			}
			return nil
		})
		if res == triTrue && ok {
			found := false
			for _, id := range ids {
				found = found || id == r.ID
			}
			if !found {
				t.Fatalf("%q matches but the index lookup %v misses it", s, ids)
			}
		}
	})
}
