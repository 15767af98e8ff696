package mapping

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestMappedFrom(t *testing.T) {
	tb := loadExample(t)
	// The row's line is that of its [[attribute]] header, found in the
	// example itself so that editing the example does not break the test.
	data, err := os.ReadFile("../conf/examples/openldap-users.toml")
	if err != nil {
		t.Fatal(err)
	}
	lines, header := strings.Split(string(data), "\n"), 0
	for i, l := range lines {
		if strings.TrimSpace(l) == "[[attribute]]" {
			header = i + 1
		}
		if strings.TrimSpace(l) == `ldap = "telephoneNumber"` {
			break
		}
	}
	scim, where, ok := tb.MappedFrom("TELEPHONENUMBER")
	if !ok || scim != `phoneNumbers[type eq "work"].value` || !strings.HasSuffix(where, fmt.Sprintf("openldap-users.toml:%d", header)) {
		t.Errorf("telephoneNumber: %q %q %v", scim, where, ok)
	}
	if _, _, ok := tb.MappedFrom("noSuchAttr"); ok {
		t.Errorf("an unmapped attribute is mapped")
	}
}
