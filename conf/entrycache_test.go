package conf

import (
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bridge"
)

// users.entry_cache: the default when unset, 0 turns the cache off (a
// value the plain-int default logic would have swallowed), the environment
// overrides it, and a negative size is a problem naming the key.
func TestUsersEntryCache(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "token", "Bearer s3cret\n")
	writeFile(t, dir, "ldap.pass", "pw")
	writeFile(t, dir, "users.toml", "")
	load := func(extra string, env map[string]string) (*Config, error) {
		t.Helper()
		return Load(writeFile(t, dir, "c.toml", minimal+extra), envMap(env))
	}
	c, err := load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users.EntryCacheSize(); got != bridge.DefaultEntryCache {
		t.Fatalf("unset: %d, want the default %d", got, bridge.DefaultEntryCache)
	}
	c, err = load("[users]\nentry_cache = 0\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users.EntryCacheSize(); got != 0 {
		t.Fatalf("entry_cache = 0: %d, want 0 (off)", got)
	}
	c, err = load("[users]\nentry_cache = 0\n", map[string]string{"DIRBRIDGE_USERS_ENTRY_CACHE": "20000"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users.EntryCacheSize(); got != 20000 {
		t.Fatalf("environment: %d, want 20000", got)
	}
	_, err = load("[users]\nentry_cache = -1\n", nil)
	if err == nil || !strings.Contains(err.Error(), "users.entry_cache") {
		t.Fatalf("a negative size is not reported: %v", err)
	}
}
