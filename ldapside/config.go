package ldapside

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/bridge"
)

// Config says how to reach and use one directory. The zero values of
// PoolSize, DialTimeout and OpTimeout mean the defaults below; Open applies
// them to a copy, never to the caller's value.
type Config struct {
	// URLs are tried in order when a connection is dialed: the first that
	// answers is used, so list the preferred server first. ldap:// or ldaps://.
	URLs []string
	// BindDN and BindPassword are the service account every pooled
	// connection binds as.
	BindDN       string
	BindPassword string
	// BaseDN bounds every lookup by id and every container that
	// EnsureContainer creates.
	BaseDN string
	// CAFile is a PEM bundle of the CAs that sign the directory's
	// certificate; empty means the system pool.
	CAFile string
	// StartTLS upgrades ldap:// connections before binding. It is an error
	// together with an ldaps:// URL.
	StartTLS bool
	// InsecureSkipVerify turns certificate verification off. For
	// experiments only: it is logged as a warning at Open.
	InsecureSkipVerify bool
	// Dialect is the directory server family: "openldap" ("" means it) or
	// "ad" (Active Directory, Samba AD DC).
	Dialect string
	// PasswordStateAttr (dialect "ad") is the attribute of a user entry in
	// which dirbridge keeps a keyed fingerprint of the last password it set,
	// to tell an unchanged password from a new one (unicodePwd cannot be
	// read). "" means DefaultADPasswordStateAttr; "none" turns the
	// detection off, and then every password a client sends is set again.
	PasswordStateAttr string
	// Lifecycle is how accounts are disabled: the users table's
	// [lifecycle] (mapping.(*Table).LifecycleFor). Disable "" means the
	// dialect's own: ppolicy's pwdAccountLockedTime on OpenLDAP, the
	// userAccountControl bit on AD. Disable "attribute" (OpenLDAP dialect)
	// writes Attribute = DisabledValue to disable and EnabledValue (""
	// removes the attribute) to enable.
	Lifecycle bridge.Lifecycle
	// Groups, when set, makes the LDAP side fill a user's groups attribute
	// (Groups.Attr, memberOf) by searching the groups for the user's DN
	// instead of reading it from the entry: for directories without the
	// memberof overlay. See groupsof.go.
	Groups *GroupsLookup
	// PoolSize is the number of bound connections kept at most (default 32,
	// as conf.DefaultPoolSize), dialled as concurrent requests need them
	// and closed again once unused (poolIdle).
	PoolSize int
	// DialTimeout bounds dialing, TLS and the service bind (default 10s).
	DialTimeout time.Duration
	// OpTimeout bounds each LDAP operation (default 30s); the request's
	// context can end it sooner.
	OpTimeout time.Duration
	// Journal, when set, records a rename or move and the modify after it
	// (two operations: LDAP has none that does both) before the first, so
	// that one cut short is settled later (journal.go). Open registers its
	// recovery handler.
	Journal bridge.Journal
	// FailbackDelay is how long a more preferred server (earlier in URLs)
	// must have answered, and on OpenLDAP have held every change the
	// active server holds, before connections go back to it (default
	// 10s). See failover.go.
	FailbackDelay time.Duration
}

const (
	defaultPoolSize    = 32
	defaultDialTimeout = 10 * time.Second
	defaultOpTimeout   = 30 * time.Second
	// defaultFailbackDelay leaves a restarted server time to settle (and
	// AD, which says nothing comparable about its replication state,
	// time to replicate) before it takes the load back.
	defaultFailbackDelay = 10 * time.Second
)

// String describes the configuration for logs; it never shows the password.
func (c Config) String() string {
	return fmt.Sprintf("ldap urls=%v bind_dn=%q base_dn=%q dialect=%q start_tls=%t pool_size=%d", c.URLs, c.BindDN, c.BaseDN, c.Dialect, c.StartTLS, c.PoolSize)
}

// withDefaults returns a copy of c with defaults applied.
func (c Config) withDefaults() Config {
	c.URLs = append([]string(nil), c.URLs...)
	if c.Dialect == "" {
		c.Dialect = "openldap"
	}
	if c.PasswordStateAttr == "" && strings.EqualFold(c.Dialect, "ad") {
		c.PasswordStateAttr = DefaultADPasswordStateAttr
	}
	if c.PoolSize == 0 {
		c.PoolSize = defaultPoolSize
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = defaultDialTimeout
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = defaultOpTimeout
	}
	if c.FailbackDelay == 0 {
		c.FailbackDelay = defaultFailbackDelay
	}
	return c
}

// validate reports every problem of c at once.
func (c Config) validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("urls: at least one URL is required"))
	}
	for i, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("urls[%d]: not a URL", i))
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			errs = append(errs, fmt.Errorf("urls[%d]: scheme must be ldap or ldaps, not %q", i, u.Scheme))
		case u.Hostname() == "":
			errs = append(errs, fmt.Errorf("urls[%d]: no host", i))
		case u.Scheme == "ldaps" && c.StartTLS:
			errs = append(errs, fmt.Errorf("urls[%d]: start_tls cannot be used with ldaps://", i))
		}
	}
	if c.BindDN == "" {
		errs = append(errs, errors.New("bind_dn: required"))
	} else if _, err := parseDN(c.BindDN); err != nil && !(strings.EqualFold(c.Dialect, "ad") && isADLogonName(c.BindDN)) {
		errs = append(errs, errors.New("bind_dn: not a valid DN"))
	}
	if c.BindPassword == "" {
		errs = append(errs, errors.New("bind_password: required (an empty password would be an unauthenticated bind)"))
	}
	if strings.TrimSpace(c.BaseDN) == "" {
		errs = append(errs, errors.New("base_dn: required"))
	} else if _, err := parseDN(c.BaseDN); err != nil {
		errs = append(errs, errors.New("base_dn: not a valid DN"))
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("ca_file: %v", err))
		}
	}
	if _, ok := dialects[strings.ToLower(c.Dialect)]; !ok {
		errs = append(errs, fmt.Errorf("dialect: %q is not one of %s", c.Dialect, dialectNames()))
	}
	if c.PasswordStateAttr != "" && !strings.EqualFold(c.PasswordStateAttr, "none") && !bridge.ValidAttrDescription(c.PasswordStateAttr) {
		errs = append(errs, fmt.Errorf("password_state_attr: %q is not an attribute name", c.PasswordStateAttr))
	}
	errs = append(errs, c.validateLifecycle()...)
	if c.Groups != nil {
		errs = append(errs, c.Groups.validate()...)
	}
	if c.PoolSize < 1 || c.PoolSize > 1024 {
		errs = append(errs, fmt.Errorf("pool_size: %d is not in 1..1024", c.PoolSize))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, errors.New("dial_timeout: negative"))
	}
	if c.OpTimeout < 0 {
		errs = append(errs, errors.New("op_timeout: negative"))
	}
	if c.FailbackDelay < 0 {
		errs = append(errs, errors.New("failback_delay: negative"))
	}
	return errors.Join(errs...)
}

// isADLogonName reports whether s is a name AD also accepts in a simple
// bind: a user principal name (svc-dirbridge@corp.example) or a down-level
// logon name (CORP\svc-dirbridge).
func isADLogonName(s string) bool {
	if strings.ContainsAny(s, "=,") || strings.TrimSpace(s) != s {
		return false
	}
	if user, realm, ok := strings.Cut(s, "@"); ok {
		return user != "" && realm != "" && !strings.Contains(realm, "@")
	}
	dom, user, ok := strings.Cut(s, `\`)
	return ok && dom != "" && user != ""
}

// validateLifecycle checks that the dialect can carry out the lifecycle.
func (c Config) validateLifecycle() []error {
	lc := c.Lifecycle
	ad := strings.EqualFold(c.Dialect, "ad")
	switch lc.Disable {
	case "":
		return nil
	case bridge.LifecyclePPolicy:
		if ad {
			return []error{errors.New(`lifecycle: disable = "ppolicy" does not apply to Active Directory (it disables by userAccountControl)`)}
		}
		if lc.Attribute != "" && !strings.EqualFold(lc.Attribute, attrLockedTime) {
			return []error{fmt.Errorf("lifecycle: ppolicy keeps the lock in %s, not %q", attrLockedTime, lc.Attribute)}
		}
	case bridge.LifecycleAD:
		if !ad {
			return []error{errors.New(`lifecycle: disable = "ad" needs dialect "ad"`)}
		}
	case bridge.LifecycleAttribute:
		var errs []error
		if ad {
			errs = append(errs, errors.New(`lifecycle: disable = "attribute" does not apply to Active Directory (it disables by userAccountControl)`))
		}
		if !bridge.ValidAttrDescription(lc.Attribute) {
			errs = append(errs, fmt.Errorf("lifecycle: attribute %q is not an attribute name", lc.Attribute))
		}
		if lc.DisabledValue == "" {
			errs = append(errs, errors.New("lifecycle: disabled_value is required"))
		} else if strings.EqualFold(lc.DisabledValue, lc.EnabledValue) {
			errs = append(errs, errors.New("lifecycle: enabled_value must differ from disabled_value"))
		}
		return errs
	default:
		return []error{fmt.Errorf("lifecycle: disable %q is not ppolicy, attribute or ad", lc.Disable)}
	}
	return nil
}
