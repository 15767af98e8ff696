package conf

import "testing"

// scim.password_sync is on unless said otherwise, in the file or the
// environment; mapping.vars reach the tables.
func TestPasswordSyncAndMappingVars(t *testing.T) {
	c, err := Parse([]byte(minimal), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.SCIM.PasswordSyncOn() {
		t.Error("password sync is off by default")
	}
	c, err = Parse([]byte(minimal), envMap(map[string]string{"DIRBRIDGE_SCIM_PASSWORD_SYNC": "false"}))
	if err != nil || c.SCIM.PasswordSyncOn() {
		t.Fatalf("DIRBRIDGE_SCIM_PASSWORD_SYNC=false: %v %+v", err, c)
	}
	if _, err := Parse([]byte(minimal), envMap(map[string]string{"DIRBRIDGE_SCIM_PASSWORD_SYNC": "maybe"})); err == nil {
		t.Error("a non-boolean password_sync was accepted")
	}
	withVars := "[scim]\npassword_sync = false\n" + minimal[len("\n[scim]\n"):] + "[mapping.vars]\nokta_app = \"hr_app\"\n"
	c, err = Parse([]byte(withVars), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.PasswordSyncOn() || c.Mapping.Vars["okta_app"] != "hr_app" {
		t.Fatalf("password_sync and mapping.vars from the file: %+v %+v", c.SCIM, c.Mapping)
	}
}
