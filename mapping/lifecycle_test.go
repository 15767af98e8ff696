package mapping

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

func TestLifecycleSection(t *testing.T) {
	head := head + "[[attribute]]\nscim = \"userName\"\nldap = \"uid\"\nrequired = true\n"
	groupsRow := "[[attribute]]\nscim = \"groups\"\nldap = \"memberOf\"\nowner = \"directory\"\nreference = \"Group\"\nmulti = true\n"
	tests := []struct {
		name, src, dialect string
		want               Lifecycle
		wantErr            string // at Parse or at LifecycleFor
	}{
		{name: "default openldap", src: head, dialect: "openldap",
			want: Lifecycle{Disable: "ppolicy", Attribute: "pwdAccountLockedTime", DisabledValue: "000001010000Z"}},
		{name: "default ad", src: head, dialect: "ad", want: Lifecycle{Disable: "ad", Attribute: "userAccountControl"}},
		{name: "389 ds", src: head + "[lifecycle]\ndisable = \"attribute\"\nattribute = \"nsAccountLock\"\ndisabled_value = \"TRUE\"\n", dialect: "openldap",
			want: Lifecycle{Disable: "attribute", Attribute: "nsAccountLock", DisabledValue: "TRUE"}},
		{name: "enabled value", src: head + "[lifecycle]\ndisable = \"attribute\"\nattribute = \"nsAccountLock\"\ndisabled_value = \"TRUE\"\nenabled_value = \"FALSE\"\n", dialect: "",
			want: Lifecycle{Disable: "attribute", Attribute: "nsAccountLock", DisabledValue: "TRUE", EnabledValue: "FALSE"}},
		{name: "no attribute", src: head + "[lifecycle]\ndisable = \"attribute\"\ndisabled_value = \"TRUE\"\n", wantErr: `needs attribute`},
		{name: "no value", src: head + "[lifecycle]\ndisable = \"attribute\"\nattribute = \"nsAccountLock\"\n", wantErr: `needs disabled_value`},
		{name: "same values", src: head + "[lifecycle]\ndisable = \"attribute\"\nattribute = \"x\"\ndisabled_value = \"TRUE\"\nenabled_value = \"true\"\n", wantErr: "must differ"},
		{name: "unknown", src: head + "[lifecycle]\ndisable = \"delete\"\n", wantErr: `disable "delete": must be`},
		{name: "unknown key", src: head + "[lifecycle]\ndisable = \"ppolicy\"\nlock = \"x\"\n", wantErr: `unknown key "lifecycle.lock"`},
		{name: "ppolicy with attribute", src: head + "[lifecycle]\ndisable = \"ppolicy\"\nattribute = \"x\"\n", wantErr: `are for disable = "attribute"`},
		{name: "ppolicy on ad", src: head + "\n[lifecycle]\ndisable = \"ppolicy\"\n", dialect: "ad", wantErr: "t.toml:"},
		{name: "ad on openldap", src: head + "[lifecycle]\ndisable = \"ad\"\n", dialect: "openldap", wantErr: `needs ldap.dialect = "ad"`},
		{name: "groups_from", src: "groups_from = \"sideways\"\n" + head, wantErr: `groups_from "sideways"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := Parse("t.toml", []byte(tc.src), withStandard(Options{}))
			if err == nil {
				var lc Lifecycle
				lc, err = tb.LifecycleFor(tc.dialect)
				if err == nil && tc.wantErr == "" && lc != tc.want {
					t.Errorf("LifecycleFor(%q) = %+v, want %+v", tc.dialect, lc, tc.want)
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
	// The line of the choice is named when the dialect cannot carry it out.
	src := head + "\n[lifecycle]\ndisable = \"ppolicy\"\n"
	tb, err := Parse("t.toml", []byte(src), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Count(src[:strings.Index(src, "disable =")], "\n") + 1
	if _, err := tb.LifecycleFor("ad"); err == nil || !strings.Contains(err.Error(), "t.toml:"+strconv.Itoa(line)+":") || bridge.KindOf(err) != bridge.KindInvalidValue {
		t.Errorf("LifecycleFor(ad) = %v, want t.toml:%d", err, line)
	}
	// groups: the row that reads them, and where they come from.
	tb, err = Parse("t.toml", []byte("groups_from = \"search\"\n"+head+groupsRow), withStandard(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if tb.GroupsAttr() != "memberOf" || tb.GroupsFrom() != GroupsFromSearch {
		t.Errorf("GroupsAttr, GroupsFrom = %q, %q", tb.GroupsAttr(), tb.GroupsFrom())
	}
	if tb, err = Parse("t.toml", []byte(head), withStandard(Options{})); err != nil || tb.GroupsAttr() != "" || tb.GroupsFrom() != GroupsFromAuto {
		t.Errorf("without a groups row: %q, %q, %v", tb.GroupsAttr(), tb.GroupsFrom(), err)
	}
}
