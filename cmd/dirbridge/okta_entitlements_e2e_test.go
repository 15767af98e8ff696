package main

// A replay of Okta Identity Governance's entitlement discovery and
// assignment (testdata/okta-entitlements.json) against the built binary on
// the shipped entitlement tables, on OpenLDAP, the embedded directory and
// Samba AD; every membership is checked with ldapsearch, which shares no
// code with dirbridge.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/testenv"
	"github.com/go-ldap/ldap/v3"
)

type entStep struct {
	Step              string              `json:"step"`
	Method            string              `json:"method"`
	Path              string              `json:"path"`
	Body              any                 `json:"body"`
	Status            int                 `json:"status"`
	CaptureValues     string              `json:"capture_values"`
	CaptureUser       bool                `json:"capture_user"`
	WantResourceTypes map[string]string   `json:"want_resource_types"`
	WantValues        []string            `json:"want_values"`
	WantUserValues    map[string][]string `json:"want_user_values"`
	WantDisplayName   string              `json:"want_display_name"`
	WantErrorNames    string              `json:"want_error_names"`
	Members           map[string]bool     `json:"members"`
}

type entRecording struct {
	Headers map[string]string `json:"headers"`
	Steps   []entStep         `json:"steps"`
}

// entBackend is a running gateway on the shipped entitlement table and the
// independent view of its directory.
type entBackend struct {
	gw *gateway
	// search runs ldapsearch as the directory's admin.
	search func(t *testing.T, base, filter string, attrs ...string) []ldapEntry
	// userDN finds the user's DN by userName, as ldapsearch sees it.
	userDN func(t *testing.T, userName string) string
	// roles is the container of the value groups (ou=App Roles).
	roles string
}

// appRoleLDIF is the layout the shipped tables read: three roles directly
// under the App Roles container and two licenses one level below, as an
// operator would create them.
func appRoleLDIF(base string, ad bool) string {
	var b strings.Builder
	ou := func(rdn string) {
		fmt.Fprintf(&b, "dn: %s,%s\nobjectClass: organizationalUnit\nou: %s\n\n", rdn, base, strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(rdn, "OU="), "ou="), ",", 2)[0])
	}
	group := func(cn, parent string) {
		fmt.Fprintf(&b, "dn: cn=%s,%s,%s\ncn: %s\ndescription: %s (replay)\n", cn, parent, base, cn, cn)
		if ad {
			fmt.Fprintf(&b, "objectClass: group\nsAMAccountName: %s\n\n", strings.ReplaceAll(cn, " ", ""))
		} else {
			fmt.Fprintf(&b, "objectClass: groupOfNames\nmember: cn=nobody,%s\n\n", base)
		}
	}
	apps, lic := "ou=App Roles", "ou=Licenses,ou=App Roles"
	if ad {
		apps, lic = "OU=App Roles", "OU=Licenses,OU=App Roles"
	}
	ou(apps)
	ou(lic)
	for _, r := range []string{"App Administrator", "App Editor", "App Viewer"} {
		group(r, apps)
	}
	for _, l := range []string{"Standard License", "Professional License"} {
		group(l, lic)
	}
	return b.String()
}

func ldapAddLDIF(t *testing.T, url, who, password, ldif string, env ...string) {
	t.Helper()
	cmd := exec.Command("ldapadd", "-c", "-x", "-H", url, "-D", who, "-w", password)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(out), "Already exists") {
		t.Fatalf("ldapadd: %v: %s", err, out)
	}
}

func startEntitlements(t *testing.T, backend string) *entBackend {
	t.Helper()
	switch backend {
	case "openldap", "openldap-no-memberof":
		var opts testenv.OpenLDAPOptions
		if backend == "openldap-no-memberof" {
			// A user's values then come from searches of the value groups'
			// member attribute, not from memberOf on the user.
			opts.Overlays = []string{"sssvlv"}
		}
		s, _ := startWithOpenLDAPSeeded(t, opts, false, func(url, admin, pw, base string) {
			ldapAddLDIF(t, url, admin, pw, appRoleLDIF(base, false))
		})
		return &entBackend{gw: s.gw, search: s.search, roles: "ou=App Roles," + s.BaseDN,
			userDN: func(t *testing.T, u string) string {
				return oneDN(t, s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(u)+")", "dn"))
			}}
	case "embedded":
		// The embedded default seeds the same layout at its first start.
		s := startEmbedded(t)
		return &entBackend{gw: s.gw, search: s.search, roles: "ou=App Roles," + s.BaseDN,
			userDN: func(t *testing.T, u string) string {
				return oneDN(t, s.search(t, s.PeopleDN, "(uid="+ldap.EscapeFilter(u)+")", "dn"))
			}}
	default:
		sa := testenvSharedAD(t)
		ldapAddLDIF(t, sa.URL, sa.AdminUPN, sa.AdminPassword, appRoleLDIF(sa.BaseDN, true))
		s := startWithAD(t, "DIRBRIDGE_MAPPING_ENTITLEMENTS=ad-entitlements.toml")
		return &entBackend{gw: s.gw, search: s.search, roles: "OU=App Roles," + s.BaseDN,
			userDN: func(t *testing.T, u string) string { return oneDN(t, s.search(t, s.BaseDN, userNameFilter(u), "dn")) }}
	}
}

func oneDN(t *testing.T, es []ldapEntry) string {
	t.Helper()
	if len(es) != 1 {
		t.Fatalf("ldapsearch found %d users, want 1", len(es))
	}
	return es[0].DN
}

// holds reports whether the value group named cn lists dn in member.
func (b *entBackend) holds(t *testing.T, cn, dn string) bool {
	t.Helper()
	es := b.search(t, b.roles, "(cn="+ldap.EscapeFilter(cn)+")", "member")
	if len(es) != 1 {
		t.Fatalf("ldapsearch cn=%s under %s: %d entries", cn, b.roles, len(es))
	}
	for _, m := range es[0].Attrs["member"] {
		if strings.EqualFold(m, dn) {
			return true
		}
	}
	return false
}

var entVarRE = regexp.MustCompile(`\{\{([^}]+)\}\}`)

// TestOktaEntitlementsReplay replays the recorded sequence on each
// directory and checks each step's memberships with ldapsearch.
func TestOktaEntitlementsReplay(t *testing.T) {
	raw, err := os.ReadFile("testdata/okta-entitlements.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec entRecording
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"openldap", "openldap-no-memberof", "embedded", "ad"} {
		t.Run(backend, func(t *testing.T) {
			b := startEntitlements(t, backend)
			vars := map[string]string{"userName": "ent" + randHex(4) + "@example.test"}
			subst := func(s string) string {
				return entVarRE.ReplaceAllStringFunc(s, func(m string) string {
					k := m[2 : len(m)-2]
					v, ok := vars[k]
					if !ok {
						t.Fatalf("the recording names %s before a step captured it", m)
					}
					if strings.Contains(k, ":") && strings.HasPrefix(s, "/") {
						return url.PathEscape(v)
					}
					return v
				})
			}
			for _, st := range rec.Steps {
				path := subst(st.Path)
				var body any
				if st.Body != nil {
					j, _ := json.Marshal(st.Body)
					body = subst(string(j))
				}
				var hdr []string
				for k, v := range rec.Headers {
					if body == nil && k == "Content-Type" {
						continue
					}
					hdr = append(hdr, k, v)
				}
				r := b.gw.do(st.Method, path, body, hdr...)
				if st.Status >= 400 {
					checkSafeError(t, r, st.Status)
				} else {
					r.must(t, st.Status, st.Step)
				}
				checkEntStep(t, st, r, vars)
				if len(st.Members) > 0 {
					dn := b.userDN(t, vars["userName"])
					for cn, want := range st.Members {
						if got := b.holds(t, cn, dn); got != want {
							t.Fatalf("%s: ldapsearch says %s holds %q: %v, want %v", st.Step, dn, cn, got, want)
						}
					}
				}
			}
			// Each assignment and revocation has its audit line, naming
			// the value group it changed.
			// A write that also removes or restores the placeholder member
			// is a member_update.
			adds, removes := []string{"member_add", "member_update"}, []string{"member_remove", "member_update"}
			for _, w := range []struct {
				ops []string
				cn  string
			}{{adds, "App Viewer"}, {adds, "App Administrator"}, {removes, "App Viewer"}, {removes, "App Administrator"}, {adds, "Standard License"}} {
				if !auditNames(b.gw.output.String(), w.ops, "cn="+w.cn+",") {
					t.Errorf("no audit line %v naming the group %s:\n%s", w.ops, w.cn, b.gw.output)
				}
			}
		})
	}
}

func checkEntStep(t *testing.T, st entStep, r response, vars map[string]string) {
	t.Helper()
	for name, endpoint := range st.WantResourceTypes {
		found := false
		for _, x := range asList(r.get("Resources")) {
			m := x.(map[string]any)
			if m["id"] == name && m["name"] == name && m["endpoint"] == endpoint {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no resource type %s at %s: %s", st.Step, name, endpoint, r.Raw)
		}
	}
	if st.CaptureValues != "" {
		var names []string
		for _, x := range asList(r.get("Resources")) {
			m := x.(map[string]any)
			id, _ := m["id"].(string)
			dn, _ := m["displayName"].(string)
			if id == "" || dn == "" {
				t.Fatalf("%s: a value without id or displayName: %s", st.Step, r.Raw)
			}
			vars[st.CaptureValues+":"+dn] = id
			names = append(names, dn)
		}
		sort.Strings(names)
		if strings.Join(names, "|") != strings.Join(st.WantValues, "|") {
			t.Fatalf("%s: values %q, want %q", st.Step, names, st.WantValues)
		}
		if r.get("totalResults") != float64(len(st.WantValues)) || r.get("startIndex") != float64(1) {
			t.Fatalf("%s: totalResults/startIndex not the integers %d/1: %s", st.Step, len(st.WantValues), r.Raw)
		}
	}
	if st.CaptureUser {
		if vars["user"] = r.str("id"); vars["user"] == "" {
			t.Fatalf("%s: no id: %s", st.Step, r.Raw)
		}
	}
	for attr, want := range st.WantUserValues {
		var got []string
		for _, x := range asList(r.get(attr)) {
			m := x.(map[string]any)
			got = append(got, fmt.Sprint(m["display"]))
		}
		sort.Strings(got)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s: %s %q, want %q: %s", st.Step, attr, got, want, r.Raw)
		}
	}
	if st.WantDisplayName != "" && r.str("displayName") != st.WantDisplayName {
		t.Fatalf("%s: displayName %q, want %q (a refused request changed the user)", st.Step, r.str("displayName"), st.WantDisplayName)
	}
	if st.WantErrorNames != "" && !strings.Contains(r.str("detail"), st.WantErrorNames) {
		t.Fatalf("%s: the error does not name %q: %s", st.Step, st.WantErrorNames, r.Raw)
	}
}

// startWithOpenLDAPSeeded is startWithOpenLDAP with seed run against the
// fresh slapd before the gateway starts (serve checks the tables'
// containers at start), on the shipped entitlement table.
// With cuttable, the gateway reaches slapd through a FaultProxy (returned),
// ldapsearch directly.
func startWithOpenLDAPSeeded(t *testing.T, opts testenv.OpenLDAPOptions, cuttable bool, seed func(url, admin, password, base string), extraEnv ...string) (*ldapSetup, *testenv.FaultProxy) {
	t.Helper()
	o, err := testenv.StartOpenLDAP(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	seed(o.URL, o.AdminDN, o.AdminPassword, o.BaseDN)
	url := o.URL
	var p *testenv.FaultProxy
	if cuttable {
		if p, err = testenv.StartFaultProxy(t, strings.TrimPrefix(o.URL, "ldap://")); err != nil {
			t.Fatal(err)
		}
		url = p.URL()
	}
	token := "Bearer " + randHex(16)
	gw := startGateway(t, append([]string{
		"DIRBRIDGE_SCIM_LISTEN=127.0.0.1:0",
		"DIRBRIDGE_SCIM_AUTH_HEADER_NAME=Authorization",
		"DIRBRIDGE_SCIM_AUTH_HEADER_VALUE=" + token,
		"DIRBRIDGE_LDAP_URLS=" + url,
		"DIRBRIDGE_LDAP_BIND_DN=" + o.AdminDN,
		"DIRBRIDGE_LDAP_BIND_PASSWORD=" + o.AdminPassword,
		"DIRBRIDGE_LDAP_BASE_DN=" + o.BaseDN,
		"DIRBRIDGE_MAPPING_ENTITLEMENTS=openldap-entitlements.toml",
	}, extraEnv...), "serve", "--config", "../../conf/examples/openldap.toml")
	gw.auth = token
	return &ldapSetup{gw: gw, URL: o.URL, BaseDN: o.BaseDN, AdminDN: o.AdminDN, AdminPassword: o.AdminPassword,
		PeopleDN: o.PeopleDN, GroupsDN: o.GroupsDN}, p
}

// auditNames reports whether the log has a successful directory-write line
// of one of ops whose dn starts with rdn (case-insensitively: AD answers with its
// own case).
func auditNames(log string, ops []string, rdn string) bool {
	for _, line := range strings.Split(log, "\n") {
		l := strings.ToLower(line)
		if !strings.Contains(l, "directory write:") || !strings.Contains(l, "dn=\""+strings.ToLower(rdn)) {
			continue
		}
		for _, op := range ops {
			if strings.Contains(l, " op="+op+" ") {
				return true
			}
		}
	}
	return false
}

func testenvSharedAD(t *testing.T) *testenv.SambaAD { return testenv.SharedSambaAD(t) }
