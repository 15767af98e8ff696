package conf

import (
	"strings"
	"testing"
)

// TestBulkLimits: the /Bulk limits have defaults, can be set in the file or
// the environment, and out-of-range values are refused with the key named.
func TestBulkLimits(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	load := func(scim string, env map[string]string) (*Config, error) {
		p := writeFile(t, dir, "c.toml", strings.Replace(minimal, "[scim]\n", "[scim]\n"+scim+"\n", 1))
		return Load(p, envMap(env))
	}
	c, err := load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.BulkMaxOperations != 1000 || c.SCIM.BulkMaxPayloadBytes != 4<<20 {
		t.Errorf("defaults: %d %d", c.SCIM.BulkMaxOperations, c.SCIM.BulkMaxPayloadBytes)
	}
	c, err = load("bulk_max_operations = 50\nbulk_max_payload_bytes = 2048", map[string]string{"DIRBRIDGE_SCIM_BULK_MAX_OPERATIONS": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SCIM.BulkMaxOperations != 7 || c.SCIM.BulkMaxPayloadBytes != 2048 {
		t.Errorf("file and environment: %d %d", c.SCIM.BulkMaxOperations, c.SCIM.BulkMaxPayloadBytes)
	}
	for _, bad := range []string{
		"bulk_max_operations = -1", "bulk_max_operations = 10001",
		"bulk_max_payload_bytes = 1023", "bulk_max_payload_bytes = 67108865",
	} {
		_, err := load(bad, nil)
		key, _, _ := strings.Cut(bad, " ")
		if err == nil || !strings.Contains(err.Error(), "scim."+key) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if _, err := load("bulk_max_operation = 5", nil); err == nil || !strings.Contains(err.Error(), "bulk_max_operation") {
		t.Errorf("misspelt key: %v", err)
	}
}
