// Package conf owns dirbridge's configuration: the TOML types, strict
// decoding (an unknown key is an error), environment overrides
// (DIRBRIDGE_<SECTION>_<KEY>), secrets read from files or the environment,
// defaults applied to a copy, and validation that reports every problem at
// once.
package conf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration file.
type Config struct {
	SCIM    SCIM    `toml:"scim"`
	LDAP    LDAP    `toml:"ldap"`
	Mapping Mapping `toml:"mapping"`
	Users   Users   `toml:"users"`
	Log     Log     `toml:"log"`
	State   State   `toml:"state"`

	// dir is the directory of the config file; relative paths in the file
	// are relative to it.
	dir string
}

// SCIM is the [scim] section: where and how the SCIM server listens.
type SCIM struct {
	Listen         string `toml:"listen"`
	TLSCertFile    string `toml:"tls_cert_file"`
	TLSKeyFile     string `toml:"tls_key_file"`
	AllowPlainHTTP bool   `toml:"allow_plain_http"`
	MaxBodyBytes   int64  `toml:"max_body_bytes"`
	// BulkMaxOperations and BulkMaxPayloadBytes bound a SCIM 2.0 /Bulk
	// request: its operations and its body (defaults 1000 and 4 MiB).
	BulkMaxOperations   int   `toml:"bulk_max_operations"`
	BulkMaxPayloadBytes int64 `toml:"bulk_max_payload_bytes"`
	// PasswordSync: passwords clients send are written to the directory
	// (default true). Off, they are ignored, and Okta's agent is not
	// offered password pushes.
	PasswordSync *bool    `toml:"password_sync"`
	Auth         SCIMAuth `toml:"auth"`
	// PublicURL is the URL clients reach dirbridge at, through a proxy or
	// by another name ("https://scim.corp.example/dirbridge"); every URL
	// written in answers starts with it and the version base ("/v2").
	PublicURL string `toml:"public_url"`
	// TrustedProxies are the IPs and CIDR prefixes of proxies whose
	// Forwarded, X-Forwarded-Proto/-Host and Host headers are believed.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// PasswordSyncOn reports scim.password_sync, true unless set to false.
func (s SCIM) PasswordSyncOn() bool { return s.PasswordSync == nil || *s.PasswordSync }

// SCIMAuth is [scim.auth]: what a client must present. Basic and a header
// may both be set; either then authenticates.
type SCIMAuth struct {
	None              bool   `toml:"none"`
	BasicUser         string `toml:"basic_user"`
	BasicPassword     string `toml:"basic_password" secret:"true"`
	BasicPasswordFile string `toml:"basic_password_file"`
	HeaderName        string `toml:"header_name"`
	HeaderValue       string `toml:"header_value" secret:"true"`
	HeaderValueFile   string `toml:"header_value_file"`
}

// LDAP is the [ldap] section: the directory dirbridge writes to.
type LDAP struct {
	URLs             []string `toml:"urls"`
	Dialect          string   `toml:"dialect"`
	BindDN           string   `toml:"bind_dn"`
	BindPassword     string   `toml:"bind_password" secret:"true"`
	BindPasswordFile string   `toml:"bind_password_file"`
	BaseDN           string   `toml:"base_dn"`
	CAFile           string   `toml:"ca_file"`
	StartTLS         bool     `toml:"start_tls"`
	// PasswordStateAttr (dialect "ad"): where the fingerprint of the last
	// password dirbridge set is kept; "none" turns the detection off.
	PasswordStateAttr  string   `toml:"password_state_attribute"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	PoolSize           int      `toml:"pool_size"`
	DialTimeout        Duration `toml:"dial_timeout"`
	OpTimeout          Duration `toml:"op_timeout"`
	// FailbackDelay: how long the first server of urls must have answered
	// (and, on OpenLDAP, caught up) before the gateway goes back to it.
	FailbackDelay Duration `toml:"failback_delay"`
}

// Mapping is the [mapping] section: the mapping tables, one file per
// resource type.
type Mapping struct {
	Users  string `toml:"users"`
	Groups string `toml:"groups"`
	// Vars are the ${name} substitutions of the tables, e.g. okta_app, the
	// app name in Okta's custom extension URN urn:okta:<app>:1.0:user:custom.
	Vars map[string]string `toml:"vars"`
}

// Users is the [users] section: lifecycle rules for accounts.
type Users struct {
	HardDelete      bool   `toml:"hard_delete"`
	LeaversDN       string `toml:"leavers_dn"`
	DefaultPageSize int    `toml:"default_page_size"`
	MaxPageSize     int    `toml:"max_page_size"`
	// StripGroups says which groups a deleted user leaves: "all" (every
	// group below the base DN that names it, the default), "managed" (the
	// groups table's), or "none".
	StripGroups string `toml:"strip_groups"`
	// StripGroupsOnDisable makes active: false leave them too.
	StripGroupsOnDisable bool `toml:"strip_groups_on_disable"`
}

// State is the [state] section: what the gateway keeps on disk.
type State struct {
	// Dir holds the journal of multi-step writes in flight (journal.db),
	// which must survive a restart: one directory per gateway. Default:
	// $STATE_DIRECTORY (what systemd's StateDirectory= sets), else "var"
	// next to the config file.
	Dir string `toml:"dir"`
	// RecoveryInterval is how often writes cut short are retried while
	// some are pending (default 5s).
	RecoveryInterval Duration `toml:"recovery_interval"`
}

// Log is the [log] section.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"` // text or json
}

// Duration is a time.Duration written as "5s" in TOML and the environment.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// EnvPrefix starts the name of every environment override.
const EnvPrefix = "DIRBRIDGE"

// Load reads the file at path, applies environment overrides from env (nil:
// the process environment), reads secret files, applies defaults to the
// result and validates it. All problems are reported in one error.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf.Load: %w", err)
	}
	c, err := Parse(data, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	out, err := c.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// LoadTables reads the file at path for what its mapping tables need (the
// base DN, the table paths, the substitutions), without secrets and without
// validating the rest: `dirbridge map` works on a config whose secrets live
// elsewhere.
func LoadTables(path string, env func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("conf.LoadTables: %w", err)
	}
	c, err := Parse(data, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	out := *c
	for _, p := range []*string{&out.Mapping.Users, &out.Mapping.Groups} {
		if *p != "" {
			*p = out.path(*p)
		}
	}
	if out.Mapping.Users == "" {
		return nil, fmt.Errorf("%s: mapping.users: the users mapping table is required", path)
	}
	return &out, nil
}

// Parse decodes TOML strictly and applies environment overrides. It does not
// read secret files, apply defaults or validate: Resolve does.
func Parse(data []byte, env func(string) (string, bool)) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, k := range md.Undecoded() {
		problems = append(problems, fmt.Errorf("unknown key %q", k.String()))
	}
	if env == nil {
		env = os.LookupEnv
	}
	problems = append(problems, applyEnv(reflect.ValueOf(&c).Elem(), EnvPrefix, env)...)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if d, ok := env("STATE_DIRECTORY"); ok && d != "" && c.State.Dir == "" {
		c.State.Dir = strings.SplitN(d, ":", 2)[0] // systemd's StateDirectory=; several are ":"-separated
	}
	return &c, nil
}

// applyEnv sets every field for which DIRBRIDGE_<PATH> is set. Paths are the
// TOML keys upper-cased and joined by underscores; lists are comma-separated.
func applyEnv(v reflect.Value, prefix string, env func(string) (string, bool)) []error {
	var problems []error
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := f.Tag.Get("toml")
		if key == "" || !f.IsExported() {
			continue
		}
		name := prefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
			problems = append(problems, applyEnv(fv, name, env)...)
			continue
		}
		s, ok := env(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", name, err))
		}
	}
	return problems
}

func setFromString(fv reflect.Value, s string) error {
	switch fv.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(Duration{d}))
		return nil
	}
	switch fv.Kind() {
	case reflect.Pointer:
		// An optional value (a default that is not the zero value).
		v := reflect.New(fv.Type().Elem())
		if err := setFromString(v.Elem(), s); err != nil {
			return err
		}
		fv.Set(v)
	case reflect.String:
		fv.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		fv.SetInt(n)
	case reflect.Slice:
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		fv.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

// Resolve returns a copy of c with secret files read, relative paths made
// absolute, defaults applied, and every problem reported together.
func (c *Config) Resolve() (*Config, error) {
	out := *c
	out.LDAP.URLs = append([]string(nil), c.LDAP.URLs...)
	var problems []error
	readSecret := func(name string, value *string, file string) {
		if file == "" {
			return
		}
		if *value != "" {
			problems = append(problems, fmt.Errorf("%s and %s_file are both set; keep one", name, name))
			return
		}
		b, err := os.ReadFile(out.path(file))
		if err != nil {
			problems = append(problems, fmt.Errorf("%s_file: %w", name, err))
			return
		}
		*value = strings.TrimRight(string(b), "\r\n")
	}
	readSecret("scim.auth.basic_password", &out.SCIM.Auth.BasicPassword, out.SCIM.Auth.BasicPasswordFile)
	readSecret("scim.auth.header_value", &out.SCIM.Auth.HeaderValue, out.SCIM.Auth.HeaderValueFile)
	readSecret("ldap.bind_password", &out.LDAP.BindPassword, out.LDAP.BindPasswordFile)

	out.applyDefaults()
	if out.State.Dir == "" {
		out.State.Dir = "var"
	}
	if out.State.RecoveryInterval.Duration <= 0 {
		out.State.RecoveryInterval.Duration = 5 * time.Second
	}
	for _, p := range []*string{&out.State.Dir, &out.Mapping.Users, &out.Mapping.Groups, &out.LDAP.CAFile, &out.SCIM.TLSCertFile, &out.SCIM.TLSKeyFile} {
		if *p != "" {
			*p = out.path(*p)
		}
	}
	problems = append(problems, out.validate()...)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &out, nil
}

func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *Config) applyDefaults() {
	if c.SCIM.Listen == "" {
		c.SCIM.Listen = "127.0.0.1:8080"
	}
	if c.SCIM.MaxBodyBytes == 0 {
		c.SCIM.MaxBodyBytes = 1 << 20
	}
	if c.SCIM.BulkMaxOperations == 0 {
		c.SCIM.BulkMaxOperations = 1000
	}
	if c.SCIM.BulkMaxPayloadBytes == 0 {
		c.SCIM.BulkMaxPayloadBytes = 4 << 20
	}
	c.SCIM.PublicURL = strings.TrimRight(strings.TrimSpace(c.SCIM.PublicURL), "/")
	if c.LDAP.Dialect == "" {
		c.LDAP.Dialect = "openldap"
	}
	if c.LDAP.PoolSize == 0 {
		c.LDAP.PoolSize = 8
	}
	if c.LDAP.DialTimeout.Duration == 0 {
		c.LDAP.DialTimeout.Duration = 5 * time.Second
	}
	if c.LDAP.OpTimeout.Duration == 0 {
		c.LDAP.OpTimeout.Duration = 30 * time.Second
	}
	if c.Users.LeaversDN == "" && !c.Users.HardDelete && c.LDAP.BaseDN != "" {
		c.Users.LeaversDN = "ou=leavers," + c.LDAP.BaseDN
	}
	if c.Users.StripGroups == "" {
		c.Users.StripGroups = "all"
	}
	if c.Users.DefaultPageSize == 0 {
		c.Users.DefaultPageSize = 100
	}
	if c.Users.MaxPageSize == 0 {
		c.Users.MaxPageSize = 1000
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
}

func (c *Config) validate() []error {
	var p []error
	add := func(format string, args ...any) { p = append(p, fmt.Errorf(format, args...)) }

	if host, _, err := net.SplitHostPort(c.SCIM.Listen); err != nil {
		add("scim.listen %q: want host:port", c.SCIM.Listen)
	} else if c.SCIM.TLSCertFile == "" && !c.SCIM.AllowPlainHTTP && !IsLoopback(host) {
		add("scim.listen %q is not a loopback address: set scim.tls_cert_file and scim.tls_key_file, or allow_plain_http = true", c.SCIM.Listen)
	}
	if (c.SCIM.TLSCertFile == "") != (c.SCIM.TLSKeyFile == "") {
		add("scim.tls_cert_file and scim.tls_key_file go together")
	}
	a := c.SCIM.Auth
	basic := a.BasicUser != "" || a.BasicPassword != ""
	header := a.HeaderName != "" || a.HeaderValue != ""
	switch {
	case a.None && (basic || header):
		add("scim.auth.none = true cannot be combined with basic or header credentials")
	case !a.None && !basic && !header:
		add("scim.auth: configure basic_user/basic_password, header_name/header_value, or none = true explicitly")
	}
	if basic && (a.BasicUser == "" || a.BasicPassword == "") {
		add("scim.auth: basic_user and basic_password (or basic_password_file) go together")
	}
	if header && (a.HeaderName == "" || a.HeaderValue == "") {
		add("scim.auth: header_name and header_value (or header_value_file) go together")
	}
	if c.SCIM.MaxBodyBytes < 1024 {
		add("scim.max_body_bytes must be at least 1024")
	}
	// The upper bounds are scimside's MaxBulkOperations and
	// MaxBulkPayloadBytes (conf does not import the SCIM server).
	if n := c.SCIM.BulkMaxOperations; n < 1 || n > 10000 {
		add("scim.bulk_max_operations %d: want 1 to 10000", n)
	}
	if n := c.SCIM.BulkMaxPayloadBytes; n < 1024 || n > 64<<20 {
		add("scim.bulk_max_payload_bytes %d: want 1024 to %d", n, 64<<20)
	}
	if s := c.SCIM.PublicURL; s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
			add("scim.public_url %q: want an absolute http:// or https:// URL with a host and no user, query or fragment", s)
		}
	}
	for _, tp := range c.SCIM.TrustedProxies {
		if pr, err := netip.ParsePrefix(tp); err == nil && pr.Addr().Zone() == "" {
			continue
		}
		if a, err := netip.ParseAddr(tp); err != nil || a.Zone() != "" {
			add("scim.trusted_proxies: %q is not an IP address or CIDR prefix", tp)
		}
	}

	if len(c.LDAP.URLs) == 0 {
		add("ldap.urls: at least one ldap:// or ldaps:// URL is required")
	}
	for _, u := range c.LDAP.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "ldap" && pu.Scheme != "ldaps") || pu.Host == "" {
			add("ldap.urls: %q is not an ldap:// or ldaps:// URL", u)
		}
	}
	switch c.LDAP.Dialect {
	case "openldap", "ad":
	default:
		add("ldap.dialect %q: want \"openldap\" or \"ad\"", c.LDAP.Dialect)
	}
	if c.LDAP.BindDN == "" {
		add("ldap.bind_dn is required")
	}
	if c.LDAP.BindDN != "" && c.LDAP.BindPassword == "" {
		add("ldap.bind_password (or bind_password_file, or DIRBRIDGE_LDAP_BIND_PASSWORD) is required")
	}
	if c.LDAP.BaseDN == "" {
		add("ldap.base_dn is required")
	}
	if c.LDAP.FailbackDelay.Duration < 0 {
		add("ldap.failback_delay must not be negative")
	}
	if c.LDAP.PoolSize < 1 || c.LDAP.PoolSize > 256 {
		add("ldap.pool_size must be between 1 and 256")
	}
	if c.LDAP.CAFile != "" {
		if _, err := os.Stat(c.LDAP.CAFile); err != nil {
			add("ldap.ca_file: %v", err)
		}
	}
	if c.Mapping.Users == "" {
		add("mapping.users: the users mapping table is required")
	} else if _, err := os.Stat(c.Mapping.Users); err != nil {
		add("mapping.users: %v", err)
	}
	if c.Mapping.Groups != "" {
		if _, err := os.Stat(c.Mapping.Groups); err != nil {
			add("mapping.groups: %v", err)
		}
	}
	switch c.Users.StripGroups {
	case "all", "none":
	case "managed":
		if c.Mapping.Groups == "" {
			add("users.strip_groups = \"managed\" needs mapping.groups (the groups it manages); use \"all\" or \"none\" without a groups table")
		}
	default:
		add("users.strip_groups %q: want \"all\", \"managed\" or \"none\"", c.Users.StripGroups)
	}
	if c.Users.StripGroupsOnDisable && c.Users.StripGroups == "none" {
		add("users.strip_groups_on_disable = true with users.strip_groups = \"none\": there are no groups to leave")
	}
	if c.Users.MaxPageSize < 1 || c.Users.DefaultPageSize < 1 || c.Users.DefaultPageSize > c.Users.MaxPageSize {
		add("users: default_page_size and max_page_size must be positive, default not above max")
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		add("log.format %q: want text or json", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "trace", "debug", "info", "warn", "error":
	default:
		add("log.level %q: want trace, debug, info, warn or error", c.Log.Level)
	}
	return p
}

// IsLoopback reports whether host (a name or address, without port) is a
// loopback address.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
