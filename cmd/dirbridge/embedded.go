package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/dirbridge/dirbridge/bridge"
	"github.com/dirbridge/dirbridge/conf"
	"github.com/dirbridge/dirbridge/conf/examples"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/scimside"
	"github.com/dirbridge/dirbridge/testenv/embedded"
)

type embeddedFlags struct {
	scimListen, ldapListen, dataDir string
}

// The embedded default's mapping tables are the shipped OpenLDAP ones, so
// that what a newcomer tries is what production runs. The users table is
// the one with Okta's custom extension: the bare base URL serves SCIM 1.1 to
// Okta's on-premises agent, which sends custom attributes there.
const (
	embeddedUsersTable  = "openldap-okta-users.toml"
	embeddedGroupsTable = "openldap-groups.toml"
	// The roles and licenses seedAppRoles creates.
	embeddedEntitlementsTable = "openldap-entitlements.toml"
)

// serveEmbedded runs the gateway on the embedded directory and serves that
// directory over LDAP. Everything listens on loopback only: the credentials
// are printed on the terminal and the data folder is a lab's.
func serveEmbedded(ctx context.Context, f embeddedFlags, stdout, stderr io.Writer) error {
	var problems []error
	for _, l := range []struct{ flag, addr string }{{"--scim-listen", f.scimListen}, {"--ldap-listen", f.ldapListen}} {
		host, _, err := net.SplitHostPort(l.addr)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s %q: want host:port", l.flag, l.addr))
		} else if !conf.IsLoopback(host) {
			problems = append(problems, fmt.Errorf("%s %q: the embedded default listens on loopback only (127.0.0.1 or ::1); to serve other hosts, run with --config against a real directory", l.flag, l.addr))
		}
	}
	// A misspelt variable is refused as with --config, though most keys
	// mean nothing to the embedded default.
	for _, p := range conf.UnknownEnv(conf.ProcessEnv()) {
		problems = append(problems, errors.New(p.String()))
	}
	// The [users] keys about groups are honoured from the environment, as
	// with --config, and checked as strictly.
	stripGroups := envOr("DIRBRIDGE_USERS_STRIP_GROUPS", "all")
	if stripGroups != "all" && stripGroups != "managed" && stripGroups != "none" {
		problems = append(problems, fmt.Errorf("DIRBRIDGE_USERS_STRIP_GROUPS %q: want \"all\", \"managed\" or \"none\"", stripGroups))
	}
	stripOnDisable := false
	if v, ok := os.LookupEnv("DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE %q: want true or false", v))
		}
		stripOnDisable = b
	}
	if stripOnDisable && stripGroups == "none" {
		problems = append(problems, errors.New("DIRBRIDGE_USERS_STRIP_GROUPS_ON_DISABLE=true with DIRBRIDGE_USERS_STRIP_GROUPS=none: there are no groups to leave"))
	}
	if len(problems) > 0 {
		return usageError{errors.Join(problems...)}
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	logger := newLogger(envOr("DIRBRIDGE_LOG_LEVEL", "info"), envOr("DIRBRIDGE_LOG_FORMAT", "text"), stderr)

	token, err := devSecret("DIRBRIDGE_DEV_TOKEN", filepath.Join(f.dataDir, "scim-token"))
	if err != nil {
		return err
	}
	adminPassword, err := devSecret("DIRBRIDGE_DEV_LDAP_PASSWORD", filepath.Join(f.dataDir, "ldap-admin-password"))
	if err != nil {
		return err
	}
	dir, err := embedded.OpenEmbedded(embedded.EmbeddedOptions{DataDir: f.dataDir, AdminPassword: adminPassword, Logger: logger.Named("embedded")})
	if err != nil {
		return err
	}
	defer dir.Close()

	ldapSrv, err := embedded.NewLDAPServer(dir, embedded.LDAPServerOptions{Logger: logger})
	if err != nil {
		return err
	}
	if err := ldapSrv.Start(f.ldapListen); err != nil {
		return fmt.Errorf("ldap listen %s: %w", f.ldapListen, err)
	}
	logger.Info("embedded directory served over LDAP", "ldap_addr", ldapSrv.Addr().String())
	defer ldapSrv.Stop()

	if err := seedAppRoles(ctx, dir, dir.Suffix(), logger); err != nil {
		return err
	}

	users, err := embeddedTable(embeddedUsersTable, dir.Suffix())
	if err != nil {
		return err
	}
	groups, err := embeddedTable(embeddedGroupsTable, dir.Suffix())
	if err != nil {
		return err
	}
	ents, err := embeddedEntitlements(dir.Suffix())
	if err != nil {
		return err
	}
	scimCfg := scimside.Config{
		Listen: f.scimListen,
		Auth:   scimside.AuthConfig{HeaderName: "Authorization", HeaderValue: "Bearer " + token},
	}
	jr, err := openJournal(f.dataDir, 0, logger)
	if err != nil {
		return err
	}
	defer jr.Close()
	svcCfg := bridge.ServiceConfig{Lifecycle: true, LeaversDN: "ou=leavers," + dir.Suffix(),
		Memberships: memberships(stripGroups, stripOnDisable, groups), Journal: jr, EntryCache: bridge.DefaultEntryCache,
		DNIndex: bridge.DefaultDNIndex}
	// The sample user is one the data folder does not hold yet, so that the
	// banner's commands work on every start, not only the first.
	sample, err := sampleUserName(ctx, dir, dir.Suffix())
	if err != nil {
		return err
	}
	banner := func(scimAddr string) {
		printBanner(stdout, bannerInfo{scimAddr: scimAddr, ldapAddr: ldapSrv.Addr().String(), token: token, adminDN: dir.AdminDN(),
			adminPassword: adminPassword, people: users.Container(), dataDir: f.dataDir, user: sample})
	}
	return runGateway(ctx, logger, dir, users, groups, ents, svcCfg, scimCfg, nil, "", banner)
}

// The sample entitlement values the embedded default starts with, in the
// layout conf/examples/openldap-entitlements.toml reads: roles directly
// under ou=App Roles, licenses one level below. Seeded so that /v2/Roles
// lists something on the first `make run`.
var appRoleSeeds = []struct{ rdn, description string }{
	{"ou=App Roles", ""},
	{"cn=App Administrator,ou=App Roles", "Manages the application's settings and users"},
	{"cn=App Editor,ou=App Roles", "Creates and edits content"},
	{"cn=App Viewer,ou=App Roles", "Reads content"},
	{"ou=Licenses,ou=App Roles", ""},
	{"cn=Standard License,ou=Licenses,ou=App Roles", "The standard edition"},
	{"cn=Professional License,ou=Licenses,ou=App Roles", "The professional edition"},
}

// seedAppRoles creates the sample roles and licenses at the first start:
// when ou=App Roles is missing. Once it exists nothing is added again, so a
// role the operator deleted stays deleted.
func seedAppRoles(ctx context.Context, dir bridge.Directory, suffix string, logger hclog.Logger) error {
	_, err := dir.GetByDN(ctx, appRoleSeeds[0].rdn+","+suffix, []string{"ou"})
	if err == nil {
		return nil
	}
	if bridge.KindOf(err) != bridge.KindNotFound {
		return fmt.Errorf("the embedded directory: %w", err)
	}
	for _, s := range appRoleSeeds {
		attr, value, _ := strings.Cut(strings.SplitN(s.rdn, ",", 2)[0], "=")
		attrs := map[string][]string{attr: {value}}
		if attr == "ou" {
			attrs["objectClass"] = []string{"top", "organizationalUnit"}
		} else {
			// groupOfNames needs a member: the placeholder the table hides.
			attrs["objectClass"] = []string{"top", "groupOfNames"}
			attrs["member"] = []string{"cn=nobody," + suffix}
			attrs["description"] = []string{s.description}
		}
		if _, err := dir.Add(ctx, bridge.AddRequest{DN: s.rdn + "," + suffix, Attrs: attrs}); err != nil {
			return fmt.Errorf("seeding %s: %w", s.rdn, err)
		}
	}
	logger.Info("seeded the sample entitlements", "container", appRoleSeeds[0].rdn+","+suffix, "values", len(appRoleSeeds)-2)
	return nil
}

func embeddedTable(name, baseDN string) (*mapping.Table, error) {
	data, err := fs.ReadFile(examples.FS, name)
	if err != nil {
		return nil, err
	}
	return mapping.Parse(name, data, mapping.Options{BaseDN: baseDN, Standard: scimside.StandardSchemas()})
}

func embeddedEntitlements(baseDN string) (*mapping.Entitlements, error) {
	data, err := fs.ReadFile(examples.FS, embeddedEntitlementsTable)
	if err != nil {
		return nil, err
	}
	return mapping.ParseEntitlements(embeddedEntitlementsTable, data, mapping.Options{BaseDN: baseDN, Standard: scimside.StandardSchemas()})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// devSecret returns the value of the environment variable env, or the secret
// kept in file, or a new random one that it keeps in file (mode 0600) for the
// next start.
func devSecret(env, file string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	if b, err := os.ReadFile(file); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

// sampleUserName returns jdoe, or jdoe2, jdoe3… : the first name no entry
// below base has as its uid or in its mail.
func sampleUserName(ctx context.Context, dir bridge.Directory, base string) (string, error) {
	for i := 1; ; i++ {
		name := "jdoe"
		if i > 1 {
			name += strconv.Itoa(i)
		}
		res, err := dir.Search(ctx, bridge.SearchRequest{Base: base, Scope: bridge.ScopeSub,
			Filter: bridge.Or(bridge.Eq("uid", name), bridge.Eq("mail", name+"@example.com"))})
		if err != nil {
			return "", fmt.Errorf("the embedded directory: %w", err)
		}
		if res.Total == 0 {
			return name, nil
		}
	}
}

type bannerInfo struct {
	scimAddr, ldapAddr, token, adminDN, adminPassword, people, dataDir, user string
}

func printBanner(w io.Writer, b bannerInfo) {
	ldapURL := "ldap://" + b.ldapAddr
	fmt.Fprintf(w, `
dirbridge is running on its embedded directory (data in %[1]s).

  SCIM 2.0   http://%[2]s/v2      Authorization: Bearer %[3]s
  SCIM 1.1   http://%[2]s/v1      (and at the bare URL, as Okta's on-premises agent calls it)
  LDAP       %[4]s    admin %[5]s  password %[6]s

Create a user with a password:

  curl -s -X POST http://%[2]s/v2/Users \
    -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/scim+json' \
    -d '{"userName":"%[8]s","name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"value":"%[8]s@example.com","type":"work"}],"password":"Chang3-me-now"}'

Bind as that user, and look at the entry as the admin:

  ldapwhoami -x -H %[4]s -D 'uid=%[8]s,%[7]s' -w 'Chang3-me-now'
  ldapsearch -x -H %[4]s -D '%[5]s' -w '%[6]s' -b '%[7]s' '(uid=%[8]s)' '*' '+'

`, b.dataDir, b.scimAddr, b.token, ldapURL, b.adminDN, b.adminPassword, b.people, b.user)
}
