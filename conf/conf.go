// Package conf owns dirbridge's configuration: the TOML types, strict
// decoding (an unknown key is an error), environment overrides
// (DIRBRIDGE_<SECTION>_<KEY>), secrets read from files or the environment,
// defaults applied to a copy, and validation that reports every problem at
// once.
package conf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/internal/tomlfile"
)

// DefaultPoolSize is ldap.pool_size when it is not set. A connection is
// dialled only when every open one is busy (and closed again once unused
// for a while, ldapside's poolIdle); a pool smaller than the identity
// provider's concurrency makes requests wait in the gateway, where the
// directory would have applied them back to back: at 32 concurrent PUTs, 8
// connections gave 0.60× the throughput of raw LDAP at 32 connections and
// 32 gave 0.81× (docs/performance.md).
const DefaultPoolSize = 32

// Config is the whole configuration file.
type Config struct {
	SCIM    SCIM    `toml:"scim"`
	LDAP    LDAP    `toml:"ldap"`
	Mapping Mapping `toml:"mapping"`
	Users   Users   `toml:"users"`
	Log     Log     `toml:"log"`
	State   State   `toml:"state"`
	Metrics Metrics `toml:"metrics"`

	// dir is the directory of the config file; relative paths in the file
	// are relative to it.
	dir string
	// src locates problems: the file's lines and the variables that set
	// keys (nil for a Config built in code).
	src *source
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
	// ShutdownTimeout bounds how long SIGTERM waits for requests in flight
	// before cutting them (default 15s).
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// Metrics is the [metrics] section. With Listen set, /metrics, /healthz
// and /readyz are served there, without TLS or credentials, and the SCIM
// port no longer serves /metrics.
type Metrics struct {
	Listen string `toml:"listen"`
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
	// BasicLabel and HeaderLabel name the client in access and audit lines
	// when it authenticated with Basic or the header (defaults: the
	// basic_user, and "header"); a label, never the secret.
	BasicLabel  string `toml:"basic_label"`
	HeaderLabel string `toml:"header_label"`
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
	// Entitlements names the optional entitlements table: the SCIM 2.0
	// resource types (roles, entitlements) whose values are groups
	// (mapping.LoadEntitlements).
	Entitlements string `toml:"entitlements"`
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
	// EntryCache is how many users the gateway remembers for one-round-trip
	// PUT and PATCH on OpenLDAP (bridge.DefaultEntryCache unless set; 0
	// turns it off). About 1.2 KB each, plus the collector's share.
	EntryCache *int `toml:"entry_cache"`
	// DNIndex is how many users' DNs the gateway remembers for blind
	// one-round-trip PATCH on OpenLDAP (bridge.DefaultDNIndex
	// unless set; 0 turns it off). About 50 bytes each.
	DNIndex *int `toml:"dn_index"`
}

// DNIndexSize reports users.dn_index with its default.
func (u Users) DNIndexSize() int {
	if u.DNIndex == nil {
		return bridge.DefaultDNIndex
	}
	return *u.DNIndex
}

// EntryCacheSize reports users.entry_cache with its default.
func (u Users) EntryCacheSize() int {
	if u.EntryCache == nil {
		return bridge.DefaultEntryCache
	}
	return *u.EntryCache
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

// EnvNotKeys are the DIRBRIDGE_ variables that are not configuration keys
// and are therefore not reported as typos: the embedded default's
// credentials, the profiling endpoint, and (by prefix, ending in _) the
// test and bench harness's switches.
var EnvNotKeys = []string{
	"DIRBRIDGE_DEV_TOKEN", "DIRBRIDGE_DEV_LDAP_PASSWORD", "DIRBRIDGE_PPROF_LISTEN",
	"DIRBRIDGE_TEST_", "DIRBRIDGE_TESTENV_",
}

// Env is an environment: variable names to values. Load takes a nil Env
// to mean the process environment.
type Env map[string]string

// ProcessEnv returns the process environment.
func ProcessEnv() Env {
	env := Env{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// Problem is one thing wrong with a configuration, located where an
// operator can find it: the file and line the key is written on, or the
// environment variable that set it.
type Problem struct {
	File string // "" when the problem is not in a file
	Line int    // 0 when the key is not written in the file
	Key  string // "ldap.bind_dn", "ldap.urls (DIRBRIDGE_LDAP_URLS)", or a variable's name
	Msg  string // what is wrong — what to do
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// LoadError lists every problem found in a configuration, one a line.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// source is where a configuration came from, for locating its problems.
type source struct {
	file    string
	pos     *tomlfile.Positions
	fromEnv map[string]string // key → the variable that set it
	bad     map[string]bool   // keys whose value was of the wrong type
}

// problem locates a problem about key: at its line when the file has it,
// at its variable when the environment set it.
func (s *source) problem(key, msg string) Problem {
	if s == nil {
		return Problem{Key: key, Msg: msg}
	}
	p := Problem{File: s.file, Key: key, Msg: msg}
	if name, ok := s.fromEnv[key]; ok {
		p.Key = key + " (" + name + ")"
	} else if s.pos != nil && s.pos.Has(key) {
		p.Line = s.pos.Line(key)
	}
	return p
}

func loadError(op string, problems []Problem) error {
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := problems[i], problems[j]
		if (a.Line == 0) != (b.Line == 0) {
			return a.Line != 0 // located ones first, in file order
		}
		return a.Line < b.Line
	})
	return bridge.E(op, bridge.KindInvalidValue, "the configuration is not valid", &LoadError{Problems: problems})
}

// Load reads the file at path, applies environment overrides from env (nil:
// the process environment), reads secret files, applies defaults to the
// result and validates it. Every problem is reported in one *LoadError (in
// a *bridge.Error), each at the file and line or the variable it is in.
func Load(path string, env Env) (*Config, error) {
	const op = "conf.Load"
	c, problems := load(path, env)
	if c == nil {
		return nil, loadError(op, problems)
	}
	out, more := c.resolve()
	problems = append(problems, more...)
	if len(problems) > 0 {
		return nil, loadError(op, problems)
	}
	return out, nil
}

// LoadAll is Load for the preflight: every problem, and the configuration
// as far as it could be built (nil only when the file cannot be read or
// parsed), so that `dirbridge check` can go on and test the directory. The
// configuration is not valid when problems is not empty: only check uses it.
func LoadAll(path string, env Env) (*Config, []Problem) {
	c, problems := load(path, env)
	if c == nil {
		return nil, problems
	}
	out, more := c.resolve()
	return out, append(problems, more...)
}

// load reads and parses the file at path; the config is nil when nothing
// more can be checked.
func load(path string, env Env) (*Config, []Problem) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []Problem{{File: path, Msg: fmt.Sprintf("cannot read the configuration: %v — pass the path of a dirbridge configuration file to --config", unwrapPath(err))}}
	}
	c, problems := parse(path, data, env)
	if c != nil {
		c.dir = filepath.Dir(path)
	}
	return c, problems
}

// LoadTables reads the file at path for what its mapping tables need (the
// base DN, the table paths, the substitutions), without secrets and without
// validating the rest: `dirbridge map` works on a config whose secrets live
// elsewhere.
func LoadTables(path string, env Env) (*Config, error) {
	const op = "conf.LoadTables"
	c, problems := load(path, env)
	if c == nil || len(problems) > 0 {
		return nil, loadError(op, problems)
	}
	out := *c
	for _, p := range []*string{&out.Mapping.Users, &out.Mapping.Groups, &out.Mapping.Entitlements} {
		if *p != "" {
			*p = out.path(*p)
		}
	}
	if out.Mapping.Users == "" {
		return nil, loadError(op, []Problem{c.src.problem("mapping.users", "the users mapping table is required — name it in [mapping] users = \"FILE\"")})
	}
	return &out, nil
}

// Parse decodes TOML strictly and applies environment overrides. It does not
// read secret files, apply defaults or validate: Resolve does.
func Parse(data []byte, env Env) (*Config, error) {
	const op = "conf.Parse"
	c, problems := parse("", data, env)
	if len(problems) > 0 {
		return nil, loadError(op, problems)
	}
	return c, nil
}

// parse decodes data key by key, so that every wrong value and unknown key
// is reported with its line, and what is right is kept for validation; it
// then applies env. The config is nil when data is not TOML, or not a
// configuration.
func parse(file string, data []byte, env Env) (*Config, []Problem) {
	if p := tomlfile.SyntaxError(data); p != nil {
		return nil, []Problem{{File: file, Line: p.Line, Msg: p.Msg + " — this is not valid TOML"}}
	}
	var generic map[string]any
	if _, err := toml.Decode(string(data), &generic); err != nil {
		return nil, []Problem{{File: file, Msg: err.Error()}}
	}
	if _, ok := generic["attribute"]; ok || generic["resource"] != nil {
		name := file
		if name == "" {
			name = "the file"
		}
		return nil, []Problem{{Msg: fmt.Sprintf("%s is a mapping table, not a configuration; pass the config that names it in [mapping]", name)}}
	}
	src := &source{file: file, pos: tomlfile.Scan(data), fromEnv: map[string]string{}, bad: map[string]bool{}}
	var problems []Problem
	checked := tomlfile.Check(data, &Config{})
	for _, p := range checked {
		problems = append(problems, Problem{File: file, Line: p.Line, Key: p.Key, Msg: p.Msg})
		src.bad[p.Key] = true
	}
	if len(checked) > 0 {
		// Decode what is right, for validation to look at.
		if right, err := tomlfile.Without(data, checked); err == nil {
			data = right
		}
	}
	var c Config
	if _, err := toml.Decode(string(data), &c); err != nil {
		problems = append(problems, Problem{File: file, Msg: err.Error()})
	}
	c.src = src
	if env == nil {
		env = ProcessEnv()
	}
	problems = append(problems, applyEnv(reflect.ValueOf(&c).Elem(), EnvPrefix, "", env, src)...)
	problems = append(problems, UnknownEnv(env)...)
	if d, ok := env["STATE_DIRECTORY"]; ok && d != "" && c.State.Dir == "" {
		c.State.Dir = strings.SplitN(d, ":", 2)[0] // systemd's StateDirectory=; several are ":"-separated
	}
	return &c, problems
}

// envNames lists the variable of every configuration key, and its key.
func envNames() map[string]string {
	names := map[string]string{}
	var walk func(t reflect.Type, prefix, key string)
	walk = func(t reflect.Type, prefix, key string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			k := f.Tag.Get("toml")
			if k == "" || !f.IsExported() {
				continue
			}
			name := prefix + "_" + strings.ToUpper(k)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
				walk(f.Type, name, key+k+".")
				continue
			}
			names[name] = key + k
		}
	}
	walk(reflect.TypeOf(Config{}), EnvPrefix, "")
	return names
}

// UnknownEnv reports DIRBRIDGE_ variables that name no key (EnvNotKeys
// aside): a misspelt override is otherwise silently ignored, and the
// file's value used.
func UnknownEnv(env Env) []Problem {
	known := envNames()
	var candidates []string
	for n := range known {
		candidates = append(candidates, n)
	}
	for _, n := range EnvNotKeys {
		if !strings.HasSuffix(n, "_") {
			candidates = append(candidates, n)
		}
	}
	sort.Strings(candidates)
	var names []string
	for name := range env {
		names = append(names, name)
	}
	sort.Strings(names)
	var problems []Problem
next:
	for _, name := range names {
		if !strings.HasPrefix(name, EnvPrefix+"_") {
			continue
		}
		if _, ok := known[name]; ok {
			continue
		}
		for _, a := range EnvNotKeys {
			if name == a || (strings.HasSuffix(a, "_") && strings.HasPrefix(name, a)) {
				continue next
			}
		}
		msg := "names no configuration key (nor another variable dirbridge reads)"
		if s := tomlfile.Nearest(name, candidates); s != "" {
			msg += fmt.Sprintf(" — did you mean %s?", s)
		} else {
			msg += " — the variables are DIRBRIDGE_<SECTION>_<KEY> for the keys of the configuration reference; unset it"
		}
		problems = append(problems, Problem{Key: name, Msg: msg})
	}
	return problems
}

// applyEnv sets every field for which DIRBRIDGE_<PATH> is set. Paths are the
// TOML keys upper-cased and joined by underscores; lists are comma-separated.
func applyEnv(v reflect.Value, prefix, keyPrefix string, env Env, src *source) []Problem {
	var problems []Problem
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
			problems = append(problems, applyEnv(fv, name, keyPrefix+key+".", env, src)...)
			continue
		}
		s, ok := env[name]
		if !ok {
			continue
		}
		if err := setFromString(fv, s); err != nil {
			problems = append(problems, Problem{Key: name, Msg: fmt.Sprintf("%q: %v", s, err)})
			continue
		}
		src.fromEnv[keyPrefix+key] = name
	}
	return problems
}

func setFromString(fv reflect.Value, s string) error {
	switch fv.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration like 5s or 1m30s")
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
		return fmt.Errorf("cannot be set from the environment — set it in the file")
	}
	return nil
}

// unwrapPath drops the operation and path of a file error, which the
// problem already names.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Resolve returns a copy of c with secret files read, relative paths made
// absolute, defaults applied, and every problem reported together.
func (c *Config) Resolve() (*Config, error) {
	const op = "conf.(*Config).Resolve"
	out, problems := c.resolve()
	if len(problems) > 0 {
		return nil, loadError(op, problems)
	}
	return out, nil
}

func (c *Config) resolve() (*Config, []Problem) {
	out := *c
	out.LDAP.URLs = append([]string(nil), c.LDAP.URLs...)
	var problems []Problem
	readSecret := func(name string, value *string, file *string) {
		if *file == "" {
			return
		}
		*file = out.path(*file)
		if *value != "" {
			problems = append(problems, c.src.problem(name+"_file", fmt.Sprintf("%s and %s_file are both set — keep one of them", name, name)))
			return
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			problems = append(problems, c.src.problem(name+"_file", fmt.Sprintf("cannot read %s: %v — give a file this user may read", *file, unwrapPath(err))))
			return
		}
		*value = strings.TrimRight(string(b), "\r\n")
		if *value == "" {
			problems = append(problems, c.src.problem(name+"_file", fmt.Sprintf("%s is empty — write the secret in it", *file)))
		}
	}
	readSecret("scim.auth.basic_password", &out.SCIM.Auth.BasicPassword, &out.SCIM.Auth.BasicPasswordFile)
	readSecret("scim.auth.header_value", &out.SCIM.Auth.HeaderValue, &out.SCIM.Auth.HeaderValueFile)
	readSecret("ldap.bind_password", &out.LDAP.BindPassword, &out.LDAP.BindPasswordFile)

	out.applyDefaults()
	if out.State.Dir == "" {
		out.State.Dir = "var"
	}
	if out.State.RecoveryInterval.Duration <= 0 {
		out.State.RecoveryInterval.Duration = 5 * time.Second
	}
	for _, p := range []*string{&out.State.Dir, &out.Mapping.Users, &out.Mapping.Groups, &out.Mapping.Entitlements, &out.LDAP.CAFile, &out.SCIM.TLSCertFile, &out.SCIM.TLSKeyFile} {
		if *p != "" {
			*p = out.path(*p)
		}
	}
	for _, v := range out.validate() {
		if c.src != nil && c.src.bad[v.key] {
			continue // its wrong value is reported already, where it is written
		}
		problems = append(problems, c.src.problem(v.key, v.msg))
	}
	// out is returned with its problems: `dirbridge check` goes on with
	// what is usable. Load and Resolve refuse it.
	return &out, problems
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
	if c.SCIM.ShutdownTimeout.Duration == 0 {
		c.SCIM.ShutdownTimeout.Duration = 15 * time.Second
	}
	if c.SCIM.Auth.BasicLabel == "" {
		c.SCIM.Auth.BasicLabel = c.SCIM.Auth.BasicUser
	}
	if c.SCIM.Auth.HeaderLabel == "" {
		c.SCIM.Auth.HeaderLabel = "header"
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
		c.LDAP.PoolSize = DefaultPoolSize
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

// keyProblem is a validation problem before it is located.
type keyProblem struct{ key, msg string }

func (c *Config) validate() []keyProblem {
	var p []keyProblem
	add := func(key, format string, args ...any) { p = append(p, keyProblem{key, fmt.Sprintf(format, args...)}) }

	if c.SCIM.ShutdownTimeout.Duration < 0 {
		add("scim.shutdown_timeout", "%s is negative — e.g. \"15s\"", c.SCIM.ShutdownTimeout.Duration)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			add("metrics.listen", "%q is not host:port — e.g. \"127.0.0.1:9090\"", c.Metrics.Listen)
		}
	}
	if host, _, err := net.SplitHostPort(c.SCIM.Listen); err != nil {
		add("scim.listen", "%q is not host:port — e.g. \"127.0.0.1:8080\" or \"0.0.0.0:8443\"", c.SCIM.Listen)
	} else if c.SCIM.TLSCertFile == "" && !c.SCIM.AllowPlainHTTP && !IsLoopback(host) {
		add("scim.listen", "%q is not a loopback address — set scim.tls_cert_file and scim.tls_key_file, or allow_plain_http = true behind a TLS proxy", c.SCIM.Listen)
	}
	switch {
	case c.SCIM.TLSCertFile != "" && c.SCIM.TLSKeyFile == "":
		add("scim.tls_cert_file", "set without scim.tls_key_file — give both, or neither")
	case c.SCIM.TLSCertFile == "" && c.SCIM.TLSKeyFile != "":
		add("scim.tls_key_file", "set without scim.tls_cert_file — give both, or neither")
	case c.SCIM.TLSCertFile != "":
		for _, kp := range checkKeyPair(c.SCIM.TLSCertFile, c.SCIM.TLSKeyFile) {
			add(kp.key, "%s", kp.msg)
		}
	}
	a := c.SCIM.Auth
	basic := a.BasicUser != "" || a.BasicPassword != ""
	header := a.HeaderName != "" || a.HeaderValue != ""
	switch {
	case a.None && (basic || header):
		add("scim.auth.none", "true cannot be combined with basic or header credentials — remove one or the other")
	case !a.None && !basic && !header:
		add("scim.auth", "no authentication is configured — set basic_user and basic_password, header_name and header_value, or none = true explicitly")
	}
	if basic && a.BasicUser == "" {
		add("scim.auth.basic_user", "missing while basic_password is set — give both")
	}
	if basic && a.BasicPassword == "" {
		add("scim.auth.basic_password", "missing while basic_user is set — set basic_password_file or DIRBRIDGE_SCIM_AUTH_BASIC_PASSWORD")
	}
	if header && a.HeaderName == "" {
		add("scim.auth.header_name", "missing while header_value is set — e.g. header_name = \"Authorization\"")
	}
	if header && a.HeaderValue == "" {
		add("scim.auth.header_value", "missing while header_name is set — set header_value_file or DIRBRIDGE_SCIM_AUTH_HEADER_VALUE")
	}
	if c.SCIM.MaxBodyBytes < 1024 {
		add("scim.max_body_bytes", "%d is below 1024 — leave it out for the default (1 MiB)", c.SCIM.MaxBodyBytes)
	}
	// The upper bounds are scimside's MaxBulkOperations and
	// MaxBulkPayloadBytes (conf does not import the SCIM server).
	if n := c.SCIM.BulkMaxOperations; n < 1 || n > 10000 {
		add("scim.bulk_max_operations", "%d — want 1 to 10000", n)
	}
	if n := c.SCIM.BulkMaxPayloadBytes; n < 1024 || n > 64<<20 {
		add("scim.bulk_max_payload_bytes", "%d — want 1024 to %d", n, 64<<20)
	}
	if s := c.SCIM.PublicURL; s != "" {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
			add("scim.public_url", "%q — want an absolute http:// or https:// URL with a host and no user, query or fragment", s)
		}
	}
	for _, tp := range c.SCIM.TrustedProxies {
		if pr, err := netip.ParsePrefix(tp); err == nil && pr.Addr().Zone() == "" {
			continue
		}
		if a, err := netip.ParseAddr(tp); err != nil || a.Zone() != "" {
			add("scim.trusted_proxies", "%q is not an IP address or CIDR prefix — e.g. \"10.0.0.5\" or \"192.0.2.0/24\"", tp)
		}
	}

	if len(c.LDAP.URLs) == 0 {
		add("ldap.urls", "at least one URL is required — e.g. urls = [\"ldaps://dc1.corp.example:636\"]")
	}
	for _, u := range c.LDAP.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "ldap" && pu.Scheme != "ldaps") || pu.Host == "" {
			add("ldap.urls", "%q is not an ldap:// or ldaps:// URL — e.g. \"ldaps://dc1.corp.example:636\"", u)
		}
	}
	switch c.LDAP.Dialect {
	case "openldap", "ad":
	default:
		add("ldap.dialect", "%q — want \"openldap\" or \"ad\"", c.LDAP.Dialect)
	}
	if c.LDAP.BindDN == "" {
		add("ldap.bind_dn", "is required — the DN of the service account dirbridge binds as")
	} else if !strings.ContainsAny(c.LDAP.BindDN, "=@\\") {
		// AD also binds by UPN (svc@CORP.EXAMPLE) and by CORP\svc.
		add("ldap.bind_dn", "%q is not a DN — e.g. \"cn=dirbridge,ou=services,dc=example,dc=com\" (with dialect \"ad\" also svc@CORP.EXAMPLE or CORP\\svc)", c.LDAP.BindDN)
	}
	if c.LDAP.BindDN != "" && c.LDAP.BindPassword == "" && c.LDAP.BindPasswordFile == "" {
		add("ldap.bind_password", "is required — set bind_password_file, or DIRBRIDGE_LDAP_BIND_PASSWORD")
	}
	if c.LDAP.BaseDN == "" {
		add("ldap.base_dn", "is required — e.g. \"dc=example,dc=com\"")
	} else if !strings.Contains(c.LDAP.BaseDN, "=") {
		add("ldap.base_dn", "%q is not a DN — e.g. \"dc=example,dc=com\"", c.LDAP.BaseDN)
	}
	if c.LDAP.FailbackDelay.Duration < 0 {
		add("ldap.failback_delay", "must not be negative")
	}
	if c.LDAP.PoolSize < 1 || c.LDAP.PoolSize > 256 {
		add("ldap.pool_size", "%d — want 1 to 256", c.LDAP.PoolSize)
	}
	if c.LDAP.CAFile != "" {
		if msg := checkCAFile(c.LDAP.CAFile); msg != "" {
			add("ldap.ca_file", "%s", msg)
		}
	}
	if c.Mapping.Users == "" {
		add("mapping.users", "the users mapping table is required — e.g. users = \"openldap-users.toml\" (the shipped tables are in conf/examples)")
	} else if _, err := os.Stat(c.Mapping.Users); err != nil {
		add("mapping.users", "cannot read %s: %v — give the path of the users mapping table, relative to the configuration file", c.Mapping.Users, unwrapPath(err))
	}
	if c.Mapping.Groups != "" {
		if _, err := os.Stat(c.Mapping.Groups); err != nil {
			add("mapping.groups", "cannot read %s: %v — give the path of the groups mapping table, or leave the key out", c.Mapping.Groups, unwrapPath(err))
		}
	}
	if c.Mapping.Entitlements != "" {
		if _, err := os.Stat(c.Mapping.Entitlements); err != nil {
			add("mapping.entitlements", "cannot read %s: %v — give the path of the entitlements table, or leave the key out", c.Mapping.Entitlements, unwrapPath(err))
		}
	}
	if c.Users.LeaversDN != "" && !strings.Contains(c.Users.LeaversDN, "=") {
		add("users.leavers_dn", "%q is not a DN — e.g. \"ou=leavers,%s\"", c.Users.LeaversDN, c.LDAP.BaseDN)
	} else if c.Users.LeaversDN != "" && c.LDAP.BaseDN != "" && bridge.NormalizeDN(c.Users.LeaversDN) == bridge.NormalizeDN(c.LDAP.BaseDN) {
		add("users.leavers_dn", "is the base DN itself, which holds the users container — give a container of its own, e.g. \"ou=leavers,%s\"", c.LDAP.BaseDN)
	}
	switch c.Users.StripGroups {
	case "all", "none":
	case "managed":
		if c.Mapping.Groups == "" {
			add("users.strip_groups", "\"managed\" needs mapping.groups (the groups it manages) — use \"all\" or \"none\" without a groups table")
		}
	default:
		add("users.strip_groups", "%q — want \"all\", \"managed\" or \"none\"", c.Users.StripGroups)
	}
	if c.Users.StripGroupsOnDisable && c.Users.StripGroups == "none" {
		add("users.strip_groups_on_disable", "true with users.strip_groups = \"none\": there are no groups to leave — remove one of them")
	}
	if n := c.Users.EntryCacheSize(); n < 0 || n > 1_000_000 {
		add("users.entry_cache", "%d — want 0 (off) to 1000000 users (default %d; about 1.2 KB each)", n, bridge.DefaultEntryCache)
	}
	if n := c.Users.DNIndexSize(); n < 0 || n > 10_000_000 {
		add("users.dn_index", "%d — want 0 (off) to 10000000 users (default %d; about 50 bytes each)", n, bridge.DefaultDNIndex)
	}
	if c.Users.MaxPageSize < 1 {
		add("users.max_page_size", "%d — want a positive number (default 1000)", c.Users.MaxPageSize)
	}
	if c.Users.DefaultPageSize < 1 || c.Users.DefaultPageSize > max(c.Users.MaxPageSize, 1) {
		add("users.default_page_size", "%d — want a positive number, not above users.max_page_size (%d)", c.Users.DefaultPageSize, c.Users.MaxPageSize)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		add("log.format", "%q — want text or json", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "trace", "debug", "info", "warn", "error":
	default:
		add("log.level", "%q — want trace, debug, info, warn or error", c.Log.Level)
	}
	return p
}

// CheckLeavers reports, located like every other problem, a
// users.leavers_dn that lies inside the users table's container: leavers
// would stay visible to SCIM. The container is the table's, which conf
// does not compile.
func (c *Config) CheckLeavers(usersContainer string) error {
	const op = "conf.(*Config).CheckLeavers"
	if c.Users.LeaversDN == "" || usersContainer == "" || !bridge.IsUnder(c.Users.LeaversDN, usersContainer) {
		return nil
	}
	return loadError(op, []Problem{c.src.problem("users.leavers_dn",
		fmt.Sprintf("%q lies inside the users container %q, so leavers would stay visible to SCIM — put it beside the container, e.g. \"ou=leavers,%s\"",
			c.Users.LeaversDN, usersContainer, c.LDAP.BaseDN))})
}

// Warnings lists what is allowed but unsafe in a resolved configuration,
// each located like a problem and saying what to do: secret files others
// may read, certificate checks turned off, passwords or credentials over
// plain connections, a SCIM endpoint without authentication.
func (c *Config) Warnings() []string {
	var w []string
	add := func(key, format string, args ...any) {
		w = append(w, c.src.problem(key, fmt.Sprintf(format, args...)).String())
	}
	for _, f := range []struct{ key, file string }{
		{"scim.auth.basic_password_file", c.SCIM.Auth.BasicPasswordFile},
		{"scim.auth.header_value_file", c.SCIM.Auth.HeaderValueFile},
		{"ldap.bind_password_file", c.LDAP.BindPasswordFile},
	} {
		if f.file == "" {
			continue
		}
		if mode, open := othersMayRead(c.path(f.file)); open {
			add(f.key, "%s is readable by group or others (mode %04o) — chmod 600 it, owned by the user dirbridge runs as", c.path(f.file), mode)
		}
	}
	if c.LDAP.InsecureSkipVerify {
		add("ldap.insecure_skip_verify", "true: the directory's certificate is not verified, so anyone on the path can pose as it and read the service password and every synced password — set ldap.ca_file to the directory's CA and remove insecure_skip_verify")
	}
	if !c.LDAP.StartTLS {
		for _, u := range c.LDAP.URLs {
			pu, err := url.Parse(u)
			if err != nil || pu.Scheme != "ldap" || IsLoopback(pu.Hostname()) {
				continue
			}
			what := "the service account's password crosses the network in clear"
			if c.SCIM.PasswordSyncOn() {
				what = "the service account's password and every password SCIM syncs cross the network in clear"
			}
			add("ldap.urls", "%s is plain LDAP without start_tls: %s — use ldaps:// or set ldap.start_tls = true", u, what)
		}
	}
	if c.SCIM.Auth.None {
		add("scim.auth.none", "true: any client that reaches %s can create, change and delete accounts — configure basic or header credentials unless a proxy in front authenticates", c.SCIM.Listen)
	}
	if host, _, err := net.SplitHostPort(c.SCIM.Listen); err == nil && c.SCIM.AllowPlainHTTP && c.SCIM.TLSCertFile == "" && !IsLoopback(host) {
		add("scim.allow_plain_http", "true on %s, not a loopback address: SCIM credentials and passwords cross the network in clear — set scim.tls_cert_file and scim.tls_key_file, or keep a TLS proxy on the same host", c.SCIM.Listen)
	}
	if c.Users.HardDelete && c.src != nil && (c.src.pos.Has("users.leavers_dn") || c.src.fromEnv["users.leavers_dn"] != "") {
		add("users.leavers_dn", "is set with users.hard_delete = true, which deletes accounts instead of moving them — remove one of them")
	}
	return w
}

// checkCAFile says what is wrong with a CA file: unreadable, not PEM, or a
// certificate that does not parse; "" when it yields certificates.
func checkCAFile(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("cannot read %s: %v — give the directory's CA certificate in PEM", file, unwrapPath(err))
	}
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Sprintf("%s: a certificate does not parse (%v) — give the directory's CA certificate in PEM", file, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Sprintf("%s holds no PEM certificate — give the directory's CA certificate in PEM (-----BEGIN CERTIFICATE-----; convert DER with openssl x509 -inform der)", file)
	}
	return ""
}

// checkKeyPair says what is wrong with the SCIM server's certificate and
// key, each at its key.
func checkKeyPair(certFile, keyFile string) []keyProblem {
	var p []keyProblem
	cert, err := os.ReadFile(certFile)
	if err != nil {
		p = append(p, keyProblem{"scim.tls_cert_file", fmt.Sprintf("cannot read %s: %v — give the server certificate (PEM)", certFile, unwrapPath(err))})
	} else if msg := checkCAFile(certFile); msg != "" {
		p = append(p, keyProblem{"scim.tls_cert_file", strings.ReplaceAll(msg, "the directory's CA certificate", "the server certificate (and its chain)")})
	}
	key, err := os.ReadFile(keyFile)
	if err != nil {
		p = append(p, keyProblem{"scim.tls_key_file", fmt.Sprintf("cannot read %s: %v — give the server certificate's private key (PEM)", keyFile, unwrapPath(err))})
	} else if block, _ := pem.Decode(key); block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		p = append(p, keyProblem{"scim.tls_key_file", fmt.Sprintf("%s holds no PEM private key — give the server certificate's private key (-----BEGIN PRIVATE KEY-----)", keyFile)})
	}
	if len(p) > 0 {
		return p
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		p = append(p, keyProblem{"scim.tls_key_file", fmt.Sprintf("%s and %s do not load as a pair (%v) — give the key that belongs to the certificate", keyFile, certFile, err)})
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
