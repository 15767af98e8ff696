package mapping

import (
	"strings"
	"testing"
)

func TestMappedFrom(t *testing.T) {
	tb := loadExample(t)
	scim, where, ok := tb.MappedFrom("TELEPHONENUMBER")
	if !ok || scim != `phoneNumbers[type eq "work"].value` || !strings.HasSuffix(where, "openldap-users.toml:116") {
		t.Errorf("telephoneNumber: %q %q %v", scim, where, ok)
	}
	if _, _, ok := tb.MappedFrom("noSuchAttr"); ok {
		t.Errorf("an unmapped attribute is mapped")
	}
}
