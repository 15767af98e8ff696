package mapping

import (
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// TestEntryValuesAsValues: the index Resource reads entries through answers
// every lookup as bridge.(*Entry).Values does, for names in any case, for
// names the table does not read, and for the entries it leaves to Values
// (two spellings of one attribute, a name that is not ASCII).
func TestEntryValuesAsValues(t *testing.T) {
	tb := loadExample(t)
	names := append(tb.DirectoryAttrs(), "entryUUID", "notInTheTable", bridge.VirtualNestedGroups)
	entries := []*bridge.Entry{
		{Attrs: map[string][]string{"objectClass": {"top", "inetOrgPerson"}, "uid": {"jdoe"}, "givenName": {"J"}, "mail": {"j@x"}}},
		{Attrs: map[string][]string{"OBJECTCLASS": {"person"}, "GivenName": {"Upper"}, "sN": {"Mixed"}, "entryuuid": {"u-1"}}},
		{Attrs: map[string][]string{"mail": {"a@x"}, "MAIL": {"b@x"}}},             // two spellings: left to Values
		{Attrs: map[string][]string{"ſn": {"long s"}, "givenName": {"Non-ASCII"}}}, // EqualFold("ſn", "sn")
		{Attrs: map[string][]string{}},
		nil,
	}
	for i, e := range entries {
		ev := tb.entryValues(e)
		for _, n := range names {
			for _, spelling := range []string{n, strings.ToUpper(n), strings.ToLower(n)} {
				want := e.Values(spelling)
				if i == 2 && strings.EqualFold(spelling, "mail") {
					// Values picks either spelling (map order); the
					// index must pick one of them too.
					if got := ev.get(spelling); !slices.Equal(got, want) && !slices.Equal(got, e.Attrs["mail"]) && !slices.Equal(got, e.Attrs["MAIL"]) {
						t.Errorf("entry %d, %s: %v", i, spelling, got)
					}
					continue
				}
				if got := ev.get(spelling); !slices.Equal(got, want) {
					t.Errorf("entry %d, %s: %v, Values says %v", i, spelling, got, want)
				}
			}
		}
		if i == 2 {
			continue
		}
		for _, r := range tb.rows {
			if got, want := ev.of(r), e.Values(r.ldap); !slices.Equal(got, want) {
				t.Errorf("entry %d, row %s (%s): %v, Values says %v", i, rowName(fileRow{SCIM: r.scim}), r.ldap, got, want)
			}
		}
	}
	if ev := tb.entryValues(entries[0]); ev.idx == nil {
		t.Error("a plain entry was not indexed")
	}
}
