package conf

import (
	"path/filepath"
	"strings"
	"testing"
)

// The entitlements table is optional, its path relative to the config like
// the other tables', and a missing file is a problem naming the key.
func TestMappingEntitlements(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	c, err := Load(writeFile(t, dir, "c.toml", minimal), envMap(nil))
	if err != nil || c.Mapping.Entitlements != "" {
		t.Fatalf("without the key: %v %q", err, c.Mapping.Entitlements)
	}
	withKey := strings.Replace(minimal, "users = \"users.toml\"", "users = \"users.toml\"\nentitlements = \"ent.toml\"", 1)
	_, err = Load(writeFile(t, dir, "c.toml", withKey), envMap(nil))
	if err == nil || !strings.Contains(err.Error(), "mapping.entitlements") || !strings.Contains(err.Error(), "ent.toml") {
		t.Fatalf("a missing entitlements table is not reported: %v", err)
	}
	writeFile(t, dir, "ent.toml", "")
	c, err = Load(writeFile(t, dir, "c.toml", withKey), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mapping.Entitlements != filepath.Join(dir, "ent.toml") {
		t.Fatalf("path not relative to the config: %q", c.Mapping.Entitlements)
	}
	tc, err := LoadTables(filepath.Join(dir, "c.toml"), envMap(nil))
	if err != nil || tc.Mapping.Entitlements != filepath.Join(dir, "ent.toml") {
		t.Fatalf("LoadTables: %v %q", err, tc.Mapping.Entitlements)
	}
}

// DIRBRIDGE_MAPPING_ENTITLEMENTS names the table like the key does
// (relative to the config file), and wins over the key.
func TestMappingEntitlementsEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	writeFile(t, dir, "env.toml", "")
	withKey := strings.Replace(minimal, "users = \"users.toml\"", "users = \"users.toml\"\nentitlements = \"missing.toml\"", 1)
	c, err := Load(writeFile(t, dir, "c.toml", withKey), envMap(map[string]string{"DIRBRIDGE_MAPPING_ENTITLEMENTS": "env.toml"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mapping.Entitlements != filepath.Join(dir, "env.toml") {
		t.Fatalf("the override is not used: %q", c.Mapping.Entitlements)
	}
}
