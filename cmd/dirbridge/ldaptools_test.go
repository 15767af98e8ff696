package main

import (
	"encoding/base64"
	"os/exec"
	"strings"
	"testing"
)

// The OpenLDAP command-line clients are the independent witnesses of what
// dirbridge wrote: they share no code with it.

// ldapWhoami binds as dn with password over url and reports whether the bind
// succeeded.
func ldapWhoami(t *testing.T, url, dn, password string) bool {
	t.Helper()
	out, err := exec.Command("ldapwhoami", "-x", "-H", url, "-D", dn, "-w", password).CombinedOutput()
	if err != nil {
		if !strings.Contains(string(out), "Invalid credentials") && !strings.Contains(string(out), "(49)") {
			t.Logf("ldapwhoami %s: %v: %s", dn, err, out)
		}
		return false
	}
	return true
}

// ldapEntry is one entry of ldapsearch's LDIF output.
type ldapEntry struct {
	DN    string
	Attrs map[string][]string // attribute names lower-cased
}

func (e ldapEntry) first(attr string) string {
	if v := e.Attrs[strings.ToLower(attr)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ldapSearch runs ldapsearch as the admin and parses its LDIF.
func ldapSearch(t *testing.T, url, bindDN, password, base, filter string, attrs ...string) []ldapEntry {
	t.Helper()
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", url, "-D", bindDN, "-w", password, "-b", base, filter}, attrs...)
	out, err := exec.Command("ldapsearch", args...).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "No such object") {
		t.Fatalf("ldapsearch %s %s: %v: %s", base, filter, err, out)
	}
	var entries []ldapEntry
	var cur *ldapEntry
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			cur = nil
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if strings.HasPrefix(value, ": ") {
			b, err := base64.StdEncoding.DecodeString(value[2:])
			if err != nil {
				t.Fatalf("bad base64 in %q", line)
			}
			value = string(b)
		} else {
			value = strings.TrimPrefix(value, " ")
		}
		if strings.EqualFold(name, "dn") {
			entries = append(entries, ldapEntry{DN: value, Attrs: map[string][]string{}})
			cur = &entries[len(entries)-1]
			continue
		}
		if cur != nil {
			k := strings.ToLower(name)
			cur.Attrs[k] = append(cur.Attrs[k], value)
		}
	}
	return entries
}
