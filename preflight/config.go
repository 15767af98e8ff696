package preflight

import (
	"errors"
	"fmt"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/mapping"
)

// Tables are the compiled mapping tables of a configuration.
type Tables struct {
	Users  *mapping.Table
	Groups *mapping.Table // nil without a groups table
	// Entitlements is the entitlements table (SCIM 2.0 roles and
	// entitlements); nil without one.
	Entitlements *mapping.Entitlements
	// Lifecycle is how the users table disables accounts on the
	// configured dialect, its defaults filled in.
	Lifecycle bridge.Lifecycle
}

// Config compiles the tables of cfg and checks what spans the
// configuration and the tables (serve refused these at start before the
// preflight existed; now check finds them too). Every problem of every
// table is a finding with its file:line.
func Config(cfg *conf.Config, opts mapping.Options) (Tables, Report) {
	var r Report
	var t Tables
	located := func(key string, err error) {
		var le *mapping.LoadError
		if errors.As(err, &le) {
			for _, p := range le.Problems {
				where := le.File
				if p.Line > 0 {
					where = fmt.Sprintf("%s:%d", le.File, p.Line)
				}
				r.fatal(SectionConfig, where, "%s", p.Msg)
			}
			return
		}
		r.fatal(SectionConfig, key, "%v", err)
	}
	load := func(key, path string) *mapping.Table {
		tb, err := mapping.Load(path, opts)
		if err != nil {
			located(key, err)
			return nil
		}
		return tb
	}
	t.Users = load("mapping.users", cfg.Mapping.Users)
	if cfg.Mapping.Groups != "" {
		t.Groups = load("mapping.groups", cfg.Mapping.Groups)
	}
	if cfg.Mapping.Entitlements != "" {
		ents, err := mapping.LoadEntitlements(cfg.Mapping.Entitlements, opts)
		if err != nil {
			located("mapping.entitlements", err)
		} else {
			t.Entitlements = ents
			for _, et := range ents.Types {
				if et.Nested && cfg.LDAP.Dialect != "ad" {
					// As for the users table's groups: only AD evaluates
					// LDAP_MATCHING_RULE_IN_CHAIN; elsewhere every read of
					// a user's values would fail, so it is refused at start.
					r.fatal(SectionConfig, where(ents.File, et.Line), "type %s: nested = true (values held through nested groups) needs ldap.dialect = \"ad\"; remove nested or use AD", et.Name)
				}
			}
		}
	}
	if t.Users != nil {
		if lc, err := t.Users.LifecycleFor(cfg.LDAP.Dialect); err != nil {
			located("mapping.users", err)
		} else {
			t.Lifecycle = lc
		}
		if t.Users.GroupsAttr() != "" && t.Users.GroupsFrom() == mapping.GroupsFromSearch && cfg.Mapping.Groups == "" {
			r.fatal(SectionConfig, cfg.Mapping.Users, `groups_from = "search" needs a groups table (mapping.groups): it names the container and member attribute to search`)
		}
		if t.Users.NestedGroups() && cfg.LDAP.Dialect != "ad" {
			// Only AD evaluates LDAP_MATCHING_RULE_IN_CHAIN; elsewhere the
			// groups would silently read as none.
			r.fatal(SectionConfig, cfg.Mapping.Users, `nested = true (a user's groups through nested groups) needs ldap.dialect = "ad"; remove nested or use AD`)
		}
		if err := cfg.CheckLeavers(t.Users.Container()); err != nil {
			var ce *conf.LoadError
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					where := p.Key
					if p.File != "" && p.Line > 0 {
						where = fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Key)
					}
					r.fatal(SectionConfig, where, "%s", p.Msg)
				}
			} else {
				r.fatal(SectionConfig, "users.leavers_dn", "%v", err)
			}
		}
		if t.Groups != nil && bridge.IsUnder(t.Groups.Container(), t.Users.Container()) {
			r.warn(SectionConfig, cfg.Mapping.Groups, "the groups container %q lies inside the users container %q: user searches also walk the groups", t.Groups.Container(), t.Users.Container())
		}
	}
	if len(r.Findings) == 0 {
		files := cfg.Mapping.Users
		if cfg.Mapping.Groups != "" {
			files += ", " + cfg.Mapping.Groups
		}
		if cfg.Mapping.Entitlements != "" {
			files += ", " + cfg.Mapping.Entitlements
		}
		r.ok(SectionConfig, "", "configuration and tables (%s) are valid", files)
	}
	return t, r
}

// Warnings are the configuration's warnings (conf's insecure settings and
// readable secret files) as findings.
func Warnings(ws []string) Report {
	var r Report
	for _, w := range ws {
		r.warn(SectionConfig, "", "%s", w)
	}
	return r
}

// Fatal is a report of one fatal finding.
func Fatal(section, where, msg string) Report {
	var r Report
	r.fatal(section, where, "%s", msg)
	return r
}
