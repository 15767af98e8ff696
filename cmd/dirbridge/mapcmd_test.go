package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMapCommandShowsLDIF: `dirbridge map` needs only the tables, escapes
// the DN, and names what it cannot resolve without a directory.
func TestMapCommandShowsLDIF(t *testing.T) {
	cmd := exec.Command(binPath, "map", "--config", "../../conf/examples/openldap.toml")
	cmd.Stdin = strings.NewReader(`{"userName":"Smith, John","name":{"givenName":"John","familyName":"Smith"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"},"password":"secret-pw"}`)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{`dn: uid=Smith\, John,ou=people,dc=example,dc=com`, "sn: Smith", "cn: John Smith", `# manager: the DN of User "m-1"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "secret-pw") {
		t.Error("the password is shown")
	}
	// A userName alone is a whole user (sn and cn are derived from it);
	// without a userName nothing names the entry.
	cmd = exec.Command(binPath, "map", "--config", "../../conf/examples/openldap.toml")
	cmd.Stdin = strings.NewReader(`{"name":{"familyName":"x"}}`)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "required") || !strings.Contains(string(out), "userName") {
		t.Fatalf("a resource missing a required value: %v: %s", err, out)
	}
}
